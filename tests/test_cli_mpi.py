"""``mpiexec -n 2 deepjit train --data big.h5``: each rank reads its slice of the file and
trains with ``comm=``; rank 0 alone prints and saves; the saved model equals the one
that ``deepjit train`` saves in one process."""
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import assert_params_rel, subprocess_env
from deepjit import Model, datasets
from deepjit.cli import main
from test_distributed import ONE_THREAD, mpiexec

FULL_BATCH = ["--layers", "6,4", "--activation", "tanh", "--learning-rate", "0.5",
              "--iterations", "40", "--record-every", "10"]
MINI_BATCH = ["--layers", "8", "--output", "softmax", "--epochs", "6", "--batch-size", "16",
              "--optimizer", "adam", "--learning-rate", "0.01", "--keep-prob", "0.8",
              "--l2", "0.01", "--validation-fraction", "0.2", "--early-stopping",
              "--patience", "2"]


def big_h5(tmp_path, m=301, classes=2):
    """Examples as rows: X (m, 5) float32 and labels y (m,)."""
    rng = np.random.default_rng(12)
    X = rng.standard_normal((m, 5)).astype(np.float32)
    y = np.argmax(X[:, :classes] + 0.3 * rng.standard_normal((m, classes)), axis=1)
    path = tmp_path / f"big{classes}.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y
    return path


def train_on_ranks(tmp_path, ranks, data, options):
    launcher = mpiexec()
    if launcher is None:
        pytest.skip("mpi4py or mpiexec not installed (the 'mpi' extra)")
    out = tmp_path / f"ranks{ranks}.npz"
    done = subprocess.run([launcher, "-n", str(ranks), sys.executable, "-m", "deepjit",
                           "train", "--data", str(data), *options, "--out", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path,
                          env={**subprocess_env(), **ONE_THREAD})
    assert done.returncode == 0, done.stderr
    return Model.load(out), done.stdout, done.stderr


@pytest.mark.parametrize("classes, options", [(2, FULL_BATCH), (3, MINI_BATCH)])
def test_mpiexec_train_equals_one_process(tmp_path, capsys, classes, options):
    data = big_h5(tmp_path, classes=classes)
    assert main(["train", "--data", str(data), *options, "--out",
                 str(tmp_path / "one.npz")]) == 0
    one_out = capsys.readouterr().out
    expected = Model.load(tmp_path / "one.npz")
    model, out, err = train_on_ranks(tmp_path, 2, data, options)
    assert_params_rel(model.parameters, expected.parameters)
    np.testing.assert_allclose(model.costs_, expected.costs_, rtol=1e-12)
    assert out.count("Saved the model") == 1 and "on 2 MPI ranks" in out
    assert out.count("Training layers") == 1 and "301 examples" in out
    accuracy = [line for line in one_out.splitlines() if line.startswith("Train accuracy")]
    assert accuracy and accuracy[0] in out
    if options is MINI_BATCH:
        assert err.count("val_acc=") >= 1
        state = expected.optimizer_state_
        assert model.optimizer_state_.step == state.step
        assert_params_rel(model.optimizer_state_.arrays(), state.arrays())


def test_mpi_flag_on_one_rank_and_bad_data(tmp_path, capsys):
    pytest.importorskip("mpi4py")
    data = big_h5(tmp_path)
    assert main(["train", "--data", str(data), *FULL_BATCH, "--mpi", "--out",
                 str(tmp_path / "mpi.npz")]) == 0
    assert main(["train", "--data", str(data), *FULL_BATCH, "--out",
                 str(tmp_path / "one.npz")]) == 0
    assert "on 1 MPI ranks" in capsys.readouterr().out
    assert_params_rel(Model.load(tmp_path / "mpi.npz").parameters,
                      Model.load(tmp_path / "one.npz").parameters)
    assert main(["train", "--data", str(data), *FULL_BATCH, "--mpi", "--engine", "numpy"]) == 2
    assert "engine: " in capsys.readouterr().err


def test_a_part_of_an_h5_file(tmp_path):
    data = big_h5(tmp_path)
    whole = datasets.load_data_file(data)
    part = datasets.load_data_file(data, part=lambda m: slice(m - 50, m - 20))
    assert whole.X.shape == (5, 301) and whole.Y.shape == (1, 301)
    np.testing.assert_array_equal(part.X, whole.X[:, 251:281])
    np.testing.assert_array_equal(part.Y, whole.Y[:, 251:281])
    images = np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3)
    with h5py.File(tmp_path / "cats.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = images, np.array([[0, 1, 1, 0]])
    part = datasets.load_data_file(tmp_path / "cats.h5", part=lambda m: slice(1, 3))
    np.testing.assert_array_equal(part.X, datasets.flatten_images(images[1:3]))
    np.testing.assert_array_equal(part.Y, [[1, 1]])
    np.savez(tmp_path / "d.npz", X=whole.X, Y=whole.Y)
    part = datasets.load_data_file(tmp_path / "d.npz", part=lambda m: slice(0, 7))
    np.testing.assert_array_equal(part.X, whole.X[:, :7])
