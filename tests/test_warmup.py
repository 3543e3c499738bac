"""deepjit.warmup() and ``deepjit warmup``: after them, a fit of the same dtype and
formulation compiles nothing (whatever the network), and bad arguments are refused by name."""
import sys

import numpy as np
import pytest
from numba.core import event
from numba.core.dispatcher import Dispatcher

import deepjit
from deepjit import Model
from deepjit.cli import main


class CompileRecorder(event.Listener):
    """The names of the functions Numba compiles (or loads from its cache) while installed."""

    def __init__(self):
        self.names = []

    def on_start(self, ev):
        self.names.append(ev.data["dispatcher"].py_func.__qualname__)

    def on_end(self, ev):
        pass


def compiled_signatures():
    """Every signature of every compiled function of deepjit's loaded modules: a kernel
    loaded from Numba's cache raises no compile event, but adds a signature."""
    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("deepjit"):
            for attribute, value in list(vars(module).items()):
                if isinstance(value, Dispatcher):
                    found[name, attribute] = sorted(map(str, value.signatures))
    return found


def new_signatures(before):
    """The signatures added since ``before`` (modules imported since count from none)."""
    return {key: signatures for key, signatures in compiled_signatures().items()
            if signatures != before.get(key, [])}


@pytest.mark.parametrize("dtype, formulation", [("float32", "examples"),
                                                ("float64", "streamed")])
def test_after_warmup_another_network_compiles_nothing(dtype, formulation):
    timings = deepjit.warmup(dtype, [formulation], minibatch=False)
    assert [name for name, _ in timings] == [f"{dtype} {formulation}"]
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((7, 30)), (rng.random((1, 30)) > 0.5).astype(float)
    recorder, before = CompileRecorder(), compiled_signatures()
    with event.install_listener("numba:compile", recorder):
        model = Model([7, 5, 3, 1], "tanh", init="small", seed=2, dtype=dtype,
                      formulation=formulation)
        model.fit(X, Y, learning_rate=0.1, num_iterations=3)
        model.predict(X)
    assert recorder.names == []
    assert new_signatures(before) == {}


def test_warmup_covers_the_minibatch_epoch_of_other_options():
    deepjit.warmup("float64", "dense", minibatch=True)
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((4, 40)), (rng.random((1, 40)) > 0.5).astype(float)
    recorder, before = CompileRecorder(), compiled_signatures()
    with event.install_listener("numba:compile", recorder):
        Model([4, 6, 1], "relu", seed=1).fit(X, Y, learning_rate=0.01, batch_size=8,
                                             num_epochs=2, optimizer="momentum")
    assert recorder.names == []
    assert new_signatures(before) == {}


def test_warmup_covers_the_second_course_models():
    timings = deepjit.warmup("float64", "dense", minibatch=False, course2=True)
    assert [name for name, _ in timings] == ["float64 dense", "course2 full-batch",
                                             "course2 dropout", "course2 mini-batch"]
    from deepjit import optim
    from deepjit.compat import _course2_train, _legacy_random
    rng = np.random.default_rng(7)
    parameters = {"W1": rng.standard_normal((6, 3)), "b1": np.zeros((6, 1)),
                  "W2": rng.standard_normal((5, 6)), "b2": np.zeros((5, 1)),
                  "W3": rng.standard_normal((1, 5)), "b3": np.zeros((1, 1))}
    X, Y = rng.standard_normal((3, 40)), (rng.random((1, 40)) > 0.5).astype(float)
    masks = ((rng.random((6, 40)) < 0.8).astype(float), (rng.random((5, 40)) < 0.8) * 1.)
    recorder, before = CompileRecorder(), compiled_signatures()
    with event.install_listener("numba:compile", recorder):
        for options in ({}, {"lambd": 0.7}, {"masks": masks, "keep_prob": 0.8}):
            _course2_train.regularized(parameters, X, Y, 0.1, 3, 2, lambda i, p: None,
                                       **options)
        _course2_train.minibatch(parameters, X, Y, optim.Momentum(), 16, [0.1] * 3,
                                 lambda epochs: _legacy_random.permutations(
                                     np.arange(epochs.start, epochs.stop) + 3, 40),
                                 [True] * 3)
    assert recorder.names == []
    assert new_signatures(before) == {}


@pytest.mark.parametrize("kwargs, name", [({"dtypes": "float16"}, "dtypes"),
                                          ({"dtypes": []}, "dtypes"),
                                          ({"formulations": "auto"}, "formulations"),
                                          ({"formulations": [3]}, "formulations")])
def test_bad_arguments_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}: "):
        deepjit.warmup(**kwargs)


def test_cli_warmup_reports_each_part(capsys):
    assert main(["warmup", "--dtype", "float64", "--formulation", "dense",
                 "--no-minibatch"]) == 0
    out = capsys.readouterr().out
    assert "float64 dense" in out and "mini-batch" not in out and out.rstrip().endswith(" s")
    assert "course2" not in out


def test_cli_warmup_refuses_an_unknown_dtype(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["warmup", "--dtype", "float16"])
    assert exit_info.value.code == 2
    assert "--dtype" in capsys.readouterr().err
