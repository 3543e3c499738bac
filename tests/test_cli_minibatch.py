"""``deepjit train`` with mini-batch options: epochs on the bar with the validation
accuracy, the history plot, the optimizer state in the saved model, refused values."""
import numpy as np
import pytest

from deepjit import Model
from deepjit.cli import main
from deepjit.plots import plot_history


def blobs(tmp_path, m=200):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, m))
    Y = (X[0] + X[1] > 0).astype(int).reshape(1, -1)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    return str(tmp_path / "d.npz")


def test_train_adam_with_validation_dropout_and_plot(tmp_path, capsys):
    status = main(["train", "--data", blobs(tmp_path), "--layers", "8", "--epochs", "12",
                   "--batch-size", "16", "--optimizer", "adam", "--learning-rate", "0.01",
                   "--validation-fraction", "0.25", "--keep-prob", "0.9", "--l2", "0.001",
                   "--schedule", "inverse_time", "--decay-rate", "0.1",
                   "--out", str(tmp_path / "m.npz"), "--plot", str(tmp_path / "c.png")])
    out, err = capsys.readouterr()
    assert status == 0
    assert "12/12" in err and "epoch" in err and "val_acc=" in err
    assert "Trained 120 iterations" in out            # 150 training examples, batches of 16
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = Model.load(tmp_path / "m.npz")
    assert model.optimizer_state_.step == 120
    assert set(model.optimizer_state_.buffers) == {"v", "s"}


@pytest.mark.parametrize("option,value", [("--batch-size", "0"), ("--keep-prob", "1.5"),
                                          ("--l2", "-1"), ("--optimizer", "sgd9"),
                                          ("--validation-fraction", "1")])
def test_bad_values_exit_with_status_2(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", blobs(tmp_path), option, value])
    assert exit_.value.code == 2 and option in capsys.readouterr().err


def test_batch_size_above_m_is_refused_by_name(tmp_path, capsys):
    assert main(["train", "--data", blobs(tmp_path), "--batch-size", "1000"]) == 2
    assert "batch_size" in capsys.readouterr().err


def test_plot_history_needs_a_history():
    with pytest.raises(ValueError, match="history"):
        plot_history({"cost": []})
