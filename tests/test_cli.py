"""The command line: train / predict on .h5, .npz and .csv files, plots, and clean
one-line errors (exit status non-zero, no traceback) in a real subprocess."""
import csv
import os
import re
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import CAT_DIR, require_cat_data, subprocess_env

from deepjit import Model
from deepjit.cli import main
from deepjit.engines import cpu

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*args, cwd=None):
    """``python -m deepjit ARGS`` in a subprocess; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "deepjit", *map(str, args)], cwd=cwd,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300)


def assert_png(path):
    data = Path(path).read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def two_blobs(m=60, seed=0):
    """X (2, m) in two separable clusters, Y (1, m) 0/1."""
    rng = np.random.RandomState(seed)
    Y = (np.arange(m) % 2).reshape(1, -1)
    X = rng.randn(2, m) * 0.5 + np.where(Y == 1, 1.5, -1.5)
    return X, Y


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


# -- train and predict ------------------------------------------------------------------------
def test_train_npz_writes_model_cost_and_boundary_then_predicts(tmp_path, capsys):
    X, Y = two_blobs()
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    status = main(["train", "--data", str(tmp_path / "d.npz"), "--layers", "4",
                   "--learning-rate", "0.5", "--iterations", "300",
                   "--out", str(tmp_path / "m.npz"), "--plot", str(tmp_path / "cost.png")])
    out, err = capsys.readouterr()
    assert status == 0
    assert "Train accuracy: 100.00 %" in out
    assert f"decision boundary to {tmp_path / 'cost_boundary.png'}" in out
    assert "training" in err and "300/300" in err          # the tqdm progress bar
    assert_png(tmp_path / "cost.png")
    assert_png(tmp_path / "cost_boundary.png")
    model = Model.load(tmp_path / "m.npz")
    assert model.layer_dims == [2, 4, 1] and len(model.costs_) == 3

    status = main(["predict", "--model", str(tmp_path / "m.npz"), "--data",
                   str(tmp_path / "d.npz"), "--out", str(tmp_path / "p.csv")])
    assert status == 0 and "Accuracy: 100.00 %" in capsys.readouterr().out
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["prediction"]) for r in rows] == model.predict(X)[0].tolist()
    np.testing.assert_allclose([float(r["probability"]) for r in rows],
                               model.predict_proba(X)[0], rtol=1e-15)


def test_train_with_a_formulation_and_threads_as_asked(tmp_path, capsys, monkeypatch):
    X, Y = two_blobs()
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    argv = ["train", "--data", str(tmp_path / "d.npz"), "--layers", "3",
            "--iterations", "50", "--out", str(tmp_path / "m.npz")]
    asked, trainer = [], cpu.make_trainer
    monkeypatch.setattr(cpu, "make_trainer", lambda *a, **k: asked.append(
        (k["formulation"], k["num_threads"])) or trainer(*a, **k))
    weights = []
    for options in (["--formulation", "streamed", "--threads", "1"], ["--formulation", "dense"]):
        assert main(argv + options) == 0
        weights.append(Model.load(tmp_path / "m.npz").parameters["W1"])
    assert asked == [("streamed", 1), ("dense", None)]
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-12)
    with pytest.raises(SystemExit):
        main(argv + ["--formulation", "sparse"])
    assert "invalid choice: 'sparse'" in capsys.readouterr().err


def test_train_softmax_from_csv_and_predict_without_labels(tmp_path, capsys):
    rng = np.random.RandomState(1)
    labels = np.arange(90) % 3
    features = rng.randn(90, 4) * 0.3 + labels[:, None]
    write_csv(tmp_path / "train.csv", ["f1", "f2", "f3", "f4", "class"],
              np.column_stack([features, labels]))
    write_csv(tmp_path / "new.csv", ["f1", "f2", "f3", "f4"], features[:5])
    assert main(["train", "--data", str(tmp_path / "train.csv"), "--label-column", "class",
                 "--output", "softmax", "--layers", "8", "--learning-rate", "0.3",
                 "--iterations", "300", "--out", str(tmp_path / "m.npz")]) == 0
    assert "Train accuracy: 100.00 %" in capsys.readouterr().out
    assert main(["predict", "--model", str(tmp_path / "m.npz"), "--data",
                 str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv")]) == 0
    assert "Accuracy" not in capsys.readouterr().out
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["prediction", "p0", "p1", "p2"]
    assert [int(r["prediction"]) for r in rows] == labels[:5].tolist()


def test_logistic_regression_with_no_hidden_layer(tmp_path, capsys):
    X, Y = two_blobs(m=20)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--layers", "none",
                 "--iterations", "10", "--out", str(tmp_path / "m")]) == 0
    assert Model.load(tmp_path / "m.npz").layer_dims == [2, 1]


def test_the_real_cat_data_end_to_end(tmp_path):
    require_cat_data()
    result = run_cli("train", "--data", CAT_DIR / "train_catvnoncat.h5", "--iterations", 20,
                     "--out", tmp_path / "cat.npz", "--plot", tmp_path / "cost.png")
    assert result.returncode == 0, result.stderr
    assert "Training layers [12288, 20, 7, 5, 1]" in result.stdout
    assert "boundary" not in result.stdout                  # 12288 inputs: no 2-D plot
    assert_png(tmp_path / "cost.png")
    # the course's first recorded cost of the 4-layer cat model
    np.testing.assert_allclose(Model.load(tmp_path / "cat.npz").costs_[0], 0.771749,
                               atol=1e-6)
    result = run_cli("predict", "--model", tmp_path / "cat.npz", "--data",
                     CAT_DIR / "test_catvnoncat.h5", "--out", tmp_path / "p.csv",
                     "--mislabeled", tmp_path / "wrong.png")
    assert result.returncode == 0, result.stderr
    assert "Predicted 50 examples" in result.stdout and "Accuracy: " in result.stdout
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 51
    assert "mislabeled images to" in result.stdout
    assert_png(tmp_path / "wrong.png")


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_stops_training_and_still_saves_the_model(tmp_path):
    rng = np.random.RandomState(0)
    np.savez(tmp_path / "d.npz", X=rng.randn(50, 400), Y=rng.randint(0, 2, (1, 400)))
    process = subprocess.Popen(
        [sys.executable, "-m", "deepjit", "train", "--data", "d.npz", "--iterations",
         "100000000", "--learning-rate", "0.001"], cwd=tmp_path, text=True,
        env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    progress = threading.Event()
    stderr = []

    def watch():                   # the bar shows iterations done: fit is running
        while chunk := process.stderr.read(1):
            stderr.append(chunk)
            if re.search(r"\| *[1-9]\d*/100000000", "".join(stderr[-60:])):
                progress.set()
    threading.Thread(target=watch, daemon=True).start()
    assert progress.wait(120), "".join(stderr)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    out = process.stdout.read()
    assert process.returncode == 0, "".join(stderr)
    assert "Interrupted: stopped after" in out and "Saved the model to model.npz" in out
    assert Model.load(tmp_path / "model.npz").layer_dims == [50, 20, 7, 5, 1]


# -- errors: one line on stderr, a non-zero status, no traceback ------------------------------
def bad_files(tmp_path):
    """Model files that must be refused, and a usable data file."""
    X, Y = two_blobs(m=10)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    np.savez(tmp_path / "pickled.npz", W1=np.array([{"a": 1}], dtype=object))
    meta = ('{"format": "deepjit-model-1", "layer_dims": [2, 3, 1], "output": "sigmoid", '
            '"hidden_activation": ["relu"], "leaky_slope": 0.01, "dtype": "float64"}')
    np.savez(tmp_path / "layout.npz", W1=np.ones((3, 2)), b1=np.zeros((3, 1)),
             __meta__=np.array(meta))
    np.savez(tmp_path / "nometa.npz", W1=np.ones((1, 2)), b1=np.zeros((1, 1)))
    (tmp_path / "text.npz").write_text("W1,b1\n1,2\n")
    Model([2, 3, 1]).save(tmp_path / "good.npz")


ERROR_CASES = [
    (["train", "--data", "missing.npz"], "no such data file"),
    (["train", "--data", "d.txt"], "unknown data format"),
    (["train", "--data", "d.npz", "--layers", "20,x"], "--layers"),
    (["train", "--data", "d.npz", "--iterations", "0"], "--iterations"),
    (["train", "--data", "d.npz", "--activation", "cubic"], "invalid choice"),
    (["train"], "required: --data"),
    (["fly"], "invalid choice"),
    (["predict", "--model", "missing.npz", "--data", "d.npz"], "no such model file"),
    (["predict", "--model", "pickled.npz", "--data", "d.npz"], "pickled Python objects"),
    (["predict", "--model", "layout.npz", "--data", "d.npz"], "wrong layout"),
    (["predict", "--model", "nometa.npz", "--data", "d.npz"], "not a deepjit model file"),
    (["predict", "--model", "text.npz", "--data", "d.npz"], "not a .npz archive"),
    (["predict", "--model", "good.npz", "--data", "d.npz", "--mislabeled", "w.png"],
     "needs labelled image data"),
    (["predict", "--model", "good.npz", "--data", "d.csv"], "no such data file"),
]


def test_errors_print_one_line_and_exit_non_zero(tmp_path):
    bad_files(tmp_path)
    (tmp_path / "d.txt").write_text("1 2 3\n")
    for args, message in ERROR_CASES:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert message in result.stderr, (args, result.stderr)


@pytest.mark.parametrize("name, reason", [("pickled.npz", "pickled Python objects"),
                                          ("layout.npz", "wrong layout")])
def test_refused_model_files_raise_value_error_saying_why(tmp_path, name, reason):
    bad_files(tmp_path)
    with pytest.raises(ValueError, match=reason):
        Model.load(tmp_path / name)


def test_help_everywhere():
    for command in ([], ["train"], ["predict"], ["demo"]):
        result = run_cli(*command, "--help")
        assert result.returncode == 0 and "usage: deepjit" in result.stdout
    assert "one example per column" in run_cli("train", "--help").stdout


def test_demo_still_runs(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "planar flower" in out and "Cost after iteration 9999" in out
    assert "Train accuracy: 9" in out


# -- hostile input: one line and status 2, checked before any work ---------------------------
def hostile_data(tmp_path):
    """{name: path} of data files the CLI must refuse in one line."""
    from test_datasets import hostile_npz, write_h5
    paths = {name: path for name, (path, _) in hostile_npz(tmp_path).items()}
    (tmp_path / "long.csv").write_text("a,label\n1," + "9" * 131_073 + "\n")
    paths["long field csv"] = tmp_path / "long.csv"
    write_h5(tmp_path / "group.h5", "group", np.array([0, 1]))
    paths["h5 group"] = tmp_path / "group.h5"
    write_h5(tmp_path / "strings.h5", np.array([b"ab", b"cd"]), np.array([0, 1]))
    paths["h5 strings"] = tmp_path / "strings.h5"
    return paths


def assert_one_line_error(capsys, argv, message=""):
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("deepjit: error: "), err
    assert "Traceback" not in err and re.search(message, err), (argv, err)
    return err


def test_hostile_data_files_are_one_line_errors(tmp_path, capsys):
    for name, path in hostile_data(tmp_path).items():
        assert_one_line_error(capsys, ["train", "--data", str(path), "--out",
                                       str(tmp_path / "m.npz")], re.escape(str(path)))
        assert not (tmp_path / "m.npz").exists(), name


@pytest.fixture
def small_machine(monkeypatch):
    """A machine of 16 GiB, whatever this one has: the refusals do not depend on it."""
    from deepjit import validation
    monkeypatch.setattr(validation, "memory_limit", lambda: 16 * 2 ** 30)


def test_what_would_not_fit_in_memory_is_refused_naming_the_setting(tmp_path, capsys,
                                                                    small_machine):
    X, Y = two_blobs(m=10)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    np.savez(tmp_path / "labels.npz", X=X, Y=np.where(Y == 1, 1e12, 0))
    many = np.random.RandomState(0).randn(2, 100_000)
    np.savez(tmp_path / "many.npz", X=many, Y=(many[:1] > 0).astype(float))
    train = ["train", "--iterations", "5", "--out", str(tmp_path / "m.npz"), "--data"]
    assert_one_line_error(capsys, train + [str(tmp_path / "d.npz"), "--layers", "1000000000"],
                          "--layers 1000000000 .*GiB")
    assert_one_line_error(capsys, train + [str(tmp_path / "labels.npz"), "--output", "softmax"],
                          "n_L = 1000000000001 from the labels.*GiB")
    assert_one_line_error(capsys, train + [str(tmp_path / "many.npz"), "--formulation",
                                           "examples"], "formulation: .*'examples'.*GiB")
    assert not (tmp_path / "m.npz").exists()


def test_every_error_is_one_line_but_ctrl_c_is_not_swallowed(tmp_path, capsys, monkeypatch):
    X, Y = two_blobs(m=10)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    argv = ["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "m.npz")]
    for error in (MemoryError(), KeyError("Unable to open object"), zipfile.BadZipFile("x"),
                  TypeError("odd"), RecursionError()):
        def fail(*args, error=error, **kwargs):
            raise error
        monkeypatch.setattr(Model, "fit", fail)
        err = assert_one_line_error(capsys, argv)
        assert type(error).__name__ in err or "out of memory" in err
    monkeypatch.setattr(Model, "fit", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(argv) == 130


def test_an_output_folder_that_does_not_exist_is_refused_before_training(tmp_path, capsys,
                                                                         monkeypatch):
    X, Y = two_blobs(m=10)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    monkeypatch.setattr(Model, "fit", lambda *a, **k: pytest.fail("trained first"))
    for option in ("--out", "--plot"):
        assert_one_line_error(capsys, ["train", "--data", str(tmp_path / "d.npz"), option,
                                       str(tmp_path / "missing" / "f")], f"{option} .*missing")
    Model([2, 1]).save(tmp_path / "m.npz")
    for option in ("--out", "--mislabeled"):
        assert_one_line_error(capsys, ["predict", "--model", str(tmp_path / "m.npz"), "--data",
                                       str(tmp_path / "d.npz"), option, str(tmp_path)],
                              "cannot write")


def test_choices_come_from_the_registries():
    from deepjit.activations import HIDDEN_CODES, OUTPUT_CODES
    from deepjit.engines import ENGINES, FORMULATIONS
    from deepjit.initializers import INITIALIZERS
    from deepjit.optim import OPTIMIZERS, SCHEDULES
    from deepjit.validation import DTYPES
    from deepjit.cli import build_parser
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = {a.dest: a.choices for a in train._actions if a.choices}
    assert choices == {"activation": list(HIDDEN_CODES), "output": list(OUTPUT_CODES),
                       "init": INITIALIZERS, "dtype": list(DTYPES), "engine": list(ENGINES),
                       "formulation": list(FORMULATIONS), "optimizer": list(OPTIMIZERS),
                       "schedule": list(SCHEDULES)}


def test_a_hostile_file_in_a_real_process_prints_no_traceback(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    os.replace(tmp_path / "a.npy", tmp_path / "a.npz")
    result = run_cli("train", "--data", tmp_path / "a.npz", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
