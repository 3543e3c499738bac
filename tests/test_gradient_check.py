"""deepjit.gradient_check: a model's compiled gradients against central differences."""
import numpy as np
import pytest

import deepjit
from conftest import make_targets
from deepjit import Model
from deepjit.engines import reference


@pytest.mark.parametrize("engine", ["cpu", "numpy"])
@pytest.mark.parametrize("hidden, output", [("relu", "sigmoid"), ("tanh", "softmax"),
                                            ("leaky_relu", "linear"), ("sigmoid", "sigmoid")])
def test_compiled_gradients_pass_the_check(engine, hidden, output):
    rng = np.random.default_rng(7)
    model = Model([3, 5, 4, 2], hidden, output, init="xavier", seed=2, engine=engine)
    X, Y = rng.standard_normal((3, 11)), make_targets(rng, output, 2, 11)
    before = model.parameters
    assert deepjit.gradient_check(model, X, Y) < 1e-7
    assert all(np.array_equal(before[k], v) for k, v in model.parameters.items())


def test_examples_formulation_passes_the_check():
    rng = np.random.default_rng(8)
    model = Model([20, 3, 1], "relu", seed=1, formulation="examples")
    X, Y = rng.standard_normal((20, 6)), make_targets(rng, "sigmoid", 1, 6)
    assert deepjit.gradient_check(model, X, Y) < 1e-7


def test_the_check_fails_for_a_wrong_gradient(monkeypatch):
    rng = np.random.default_rng(9)
    model = Model([3, 4, 1], "tanh", seed=1)
    X, Y = rng.standard_normal((3, 7)), make_targets(rng, "sigmoid", 1, 7)
    cost = reference.cost
    monkeypatch.setattr(reference, "cost", lambda ZL, Y, output: 1.5 * cost(ZL, Y, output))
    assert deepjit.gradient_check(model, X, Y) > 0.1


def test_bad_arguments():
    model = Model([2, 3, 1])
    X, Y = np.zeros((2, 4)), np.zeros((1, 4))
    with pytest.raises(ValueError, match="model"):
        deepjit.gradient_check("net", X, Y)
    with pytest.raises(ValueError, match="epsilon"):
        deepjit.gradient_check(model, X, Y, epsilon=0)
    with pytest.raises(ValueError, match="X"):
        deepjit.gradient_check(model, np.zeros((3, 4)), Y)
