"""deepjit.compat.planar_utils: the published week-3 numbers on the flower, the
notebook's functions against a plain-numpy transcription of the course's formulas, and
the course's global random draws."""
import contextlib
import io
import re

import numpy as np
import pytest

from conftest import assert_rel
from deepjit import datasets
from deepjit.compat import planar_utils as pu

PUBLISHED = [0.693162, 0.258625, 0.239334, 0.230802, 0.225528, 0.221845, 0.219094]
SWEEP = {1: 67.5, 2: 67.25, 3: 90.75, 4: 90.5, 5: 91.25}


def accuracy(Y, predictions):
    """The notebook's accuracy in percent."""
    return float(np.mean(predictions == Y) * 100)


@pytest.fixture(scope="module")
def flower():
    state = np.random.get_state()
    X, Y = pu.load_planar_dataset()
    np.random.set_state(state)
    return X, Y


def test_nn_model_reproduces_the_published_costs(flower, global_random_state):
    X, Y = flower
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        parameters = pu.nn_model(X, Y, 4, 10000, True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert all(re.fullmatch(r"Cost after iteration \d+: \d\.\d{6}", line) for line in lines)
    assert lines[:7] == [f"Cost after iteration {1000 * i}: {c:f}"
                         for i, c in enumerate(PUBLISHED)]
    assert list(parameters) == ["W1", "b1", "W2", "b2"]
    assert 89 <= accuracy(Y, pu.predict(parameters, X)) <= 91


def test_hidden_layer_sweep_reproduces_the_published_accuracies(flower, global_random_state):
    X, Y = flower
    got = {n_h: accuracy(Y, pu.predict(pu.nn_model(X, Y, n_h, num_iterations=5000), X))
           for n_h in SWEEP}
    assert got == SWEEP


def course_nn_model(X, Y, n_h, num_iterations):
    """The notebook's nn_model in plain numpy."""
    rs = np.random.RandomState(3)
    W1, b1 = rs.randn(n_h, X.shape[0]) * 0.01, np.zeros((n_h, 1))
    W2, b2 = rs.randn(Y.shape[0], n_h) * 0.01, np.zeros((Y.shape[0], 1))
    m = X.shape[1]
    for _ in range(num_iterations):
        A1 = np.tanh(np.dot(W1, X) + b1)
        A2 = 1 / (1 + np.exp(-(np.dot(W2, A1) + b2)))
        dZ2 = A2 - Y
        dW2, db2 = (1 / m) * np.dot(dZ2, A1.T), (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
        dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))
        dW1, db1 = (1 / m) * np.dot(dZ1, X.T), (1 / m) * np.sum(dZ1, axis=1, keepdims=True)
        W1, b1, W2, b2 = W1 - 1.2 * dW1, b1 - 1.2 * db1, W2 - 1.2 * dW2, b2 - 1.2 * db2
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


@pytest.mark.parametrize("engine", ["cpu", "numpy"])
def test_nn_model_follows_the_course_loop(flower, engine, global_random_state):
    X, Y = flower
    got = pu.nn_model(X, Y, 3, 300, engine=engine)
    want = course_nn_model(X, Y, 3, 300)
    for key in want:
        assert_rel(got[key], want[key], rtol=1e-10)


def test_load_planar_dataset_seeds_the_global_generator(global_random_state):
    X, Y = pu.load_planar_dataset()
    expected_X, expected_Y = datasets.load_planar_dataset()
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(Y, expected_Y)
    assert X.shape == (2, 400) and X.dtype == np.float64
    assert Y.shape == (1, 400) and Y.dtype == np.uint8
    rs = np.random.RandomState(1)
    rs.randn(800)
    assert np.random.randn() == rs.randn()


def test_initialize_parameters_draws_from_the_global_state_unseeded(global_random_state):
    np.random.seed(7)
    p = pu.initialize_parameters(2, 4, 1)
    rs = np.random.RandomState(7)
    np.testing.assert_array_equal(p["W1"], rs.randn(4, 2) * 0.01)
    np.testing.assert_array_equal(p["W2"], rs.randn(1, 4) * 0.01)
    assert list(p) == ["W1", "b1", "W2", "b2"] and p["b1"].shape == (4, 1)


def test_notebook_functions_match_the_course(flower):
    X, Y = flower
    rng = np.random.default_rng(0)
    p = {"W1": rng.standard_normal((4, 2)), "b1": rng.standard_normal((4, 1)),
         "W2": rng.standard_normal((1, 4)), "b2": rng.standard_normal((1, 1))}
    assert pu.layer_sizes(X, Y) == (2, 4, 1)
    A2, cache = pu.forward_propagation(X, p)
    Z1 = np.dot(p["W1"], X) + p["b1"]
    Z2 = np.dot(p["W2"], np.tanh(Z1)) + p["b2"]
    assert list(cache) == ["Z1", "A1", "Z2", "A2"] and cache["A2"] is A2
    assert_rel(cache["Z1"], Z1)
    assert_rel(A2, 1 / (1 + np.exp(-Z2)))
    cost = pu.compute_cost(A2, Y)
    assert type(cost) is float and pu.compute_cost(A2, Y, p) == cost
    assert cost == pytest.approx(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)),
                                 rel=1e-12)
    predictions = pu.predict(p, X)
    assert predictions.dtype == np.bool_ and predictions.shape == (1, 400)
    np.testing.assert_array_equal(predictions, A2 > 0.5)
    grads = pu.backward_propagation(p, cache, X, Y)
    new = pu.update_parameters(p, grads)
    assert new is not p and list(new) == ["W1", "b1", "W2", "b2"]
    for key in p:
        assert_rel(new[key], p[key] - 1.2 * grads["d" + key])


def test_backward_propagation_is_the_gradient_of_the_cost():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 7))
    Y = (rng.random((1, 7)) < 0.5).astype(np.uint8)
    p = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal((3, 1)),
         "W2": rng.standard_normal((1, 3)), "b2": rng.standard_normal((1, 1))}
    grads = pu.backward_propagation(p, pu.forward_propagation(X, p)[1], X, Y)
    eps = 1e-6
    for key, value in p.items():
        for idx in np.ndindex(value.shape):
            saved = value[idx]
            value[idx] = saved + eps
            plus = pu.compute_cost(pu.forward_propagation(X, p)[0], Y)
            value[idx] = saved - eps
            minus = pu.compute_cost(pu.forward_propagation(X, p)[0], Y)
            value[idx] = saved
            assert grads["d" + key][idx] == pytest.approx((plus - minus) / (2 * eps),
                                                          rel=1e-5, abs=1e-9)


def test_plot_decision_boundary_draws_the_grid_and_the_data(flower):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    X, Y = flower
    seen = []

    def model(points):
        seen.append(points.shape)
        return (points[:, 0] > 0).astype(int)

    pu.plot_decision_boundary(model, X, Y)
    width = len(np.arange(X[0].min() - 1, X[0].max() + 1, 0.01))
    height = len(np.arange(X[1].min() - 1, X[1].max() + 1, 0.01))
    assert seen == [(width * height, 2)]
    assert plt.gca().get_xlabel() == "x1" and len(plt.gca().collections) >= 2
    plt.close("all")


def test_extra_datasets(global_random_state):
    pytest.importorskip("sklearn")
    sets = pu.load_extra_datasets()
    assert len(sets) == 5
    assert all(x.shape == (200, 2) and y.shape[0] == 200 for x, y in sets)
