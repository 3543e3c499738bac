"""Initialisation reproduces the course's draws exactly (legacy global generator order)."""
import numpy as np
import pytest

from deepjit import Model
from deepjit.initializers import initialize

pytestmark = pytest.mark.usefixtures("global_random_state")


def course_initialize_parameters_deep(layer_dims):
    """The week-4 application's initialize_parameters_deep, written out as the oracle."""
    np.random.seed(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) \
            / np.sqrt(layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def course_initialize_parameters(n_x, n_h, n_y):
    """The week-3/4 two-layer initialize_parameters (randn * 0.01), seeded by the caller."""
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def assert_exactly(actual, expected):
    assert list(actual) == list(expected)
    for key in expected:
        assert actual[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(actual[key], expected[key], strict=True)


def test_scaled_is_the_course_deep_initialisation():
    dims = [12288, 20, 7, 5, 1]
    expected = course_initialize_parameters_deep(dims)
    assert_exactly(Model(dims, init="scaled", seed=1).parameters, expected)


def test_small_is_randn_times_0_01():
    np.random.seed(2)
    expected = course_initialize_parameters(2, 4, 1)
    assert_exactly(Model([2, 4, 1], "tanh", init="small", seed=2).parameters, expected)


def test_seeded_draws_leave_the_global_state_alone():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    Model([5, 3, 1], init="he", seed=11)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_seed_none_draws_from_the_global_state():
    np.random.seed(3)
    expected = course_initialize_parameters(2, 4, 1)
    after_course = np.random.randn()
    np.random.seed(3)
    got = Model([2, 4, 1], "tanh", init="small", seed=None).parameters
    assert_exactly(got, expected)
    assert np.random.randn() == after_course        # the same numbers were consumed


def test_seed_none_differs_between_calls():
    first = Model([3, 2, 1], init="small", seed=None).parameters["W1"]
    second = Model([3, 2, 1], init="small", seed=None).parameters["W1"]
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("init,factor", [
    ("he", lambda n_prev, n: np.sqrt(2.0 / n_prev)),
    ("xavier", lambda n_prev, n: np.sqrt(2.0 / (n_prev + n))),
])
def test_he_and_xavier(init, factor):
    dims = [6, 4, 3, 1]
    rng = np.random.RandomState(5)
    got = initialize(dims, init, seed=5)
    for l in range(1, len(dims)):
        expected = rng.randn(dims[l], dims[l - 1]) * factor(dims[l - 1], dims[l])
        np.testing.assert_allclose(got[f"W{l}"], expected, rtol=1e-15)
        np.testing.assert_array_equal(got[f"b{l}"], np.zeros((dims[l], 1)))


def test_zeros_for_logistic_regression():
    params = Model([5, 1], init="zeros").parameters
    np.testing.assert_array_equal(params["W1"], np.zeros((1, 5)))
    np.testing.assert_array_equal(params["b1"], np.zeros((1, 1)))


def test_zeros_with_hidden_layers_is_refused():
    with pytest.raises(ValueError, match="init.*symmetry"):
        Model([5, 3, 1], init="zeros")


def test_float32_parameters_are_the_rounded_float64_ones():
    p64 = Model([7, 5, 2], init="scaled", seed=4).parameters
    p32 = Model([7, 5, 2], init="scaled", seed=4, dtype="float32").parameters
    for key in p64:
        assert p32[key].dtype == np.float32
        np.testing.assert_array_equal(p32[key], p64[key].astype(np.float32))


def test_shapes_and_zero_biases():
    params = Model([4, 3, 2, 1], init="he", seed=0).parameters
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (3, 4), "b1": (3, 1), "W2": (2, 3), "b2": (2, 1), "W3": (1, 2), "b3": (1, 1)}
    for l in (1, 2, 3):
        assert not params[f"b{l}"].any()


@pytest.mark.parametrize("init", ["glorot", "Scaled", None, ""])
def test_unknown_init(init):
    with pytest.raises(ValueError, match="init"):
        Model([3, 2, 1], init=init)


@pytest.mark.parametrize("seed", [-1, 1.5, "1", 2**40, [1, -2]])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        Model([3, 2, 1], seed=seed)
