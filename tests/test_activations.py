"""The numpy activations, their derivatives (from the output A) and the registries."""
import numpy as np
import pytest

from conftest import HIDDEN, OUTPUTS
from deepjit import activations as act
from deepjit.network import Network, check_layer_dims

Z = np.array([[-3.0, -0.5, -1e-3, 1e-3, 0.7, 4.0]])


@pytest.mark.parametrize("name,expected", [
    ("sigmoid", 1 / (1 + np.exp(-Z))),
    ("tanh", np.tanh(Z)),
    ("relu", np.where(Z > 0, Z, 0.0)),
    ("leaky_relu", np.where(Z > 0, Z, 0.2 * Z)),
    ("linear", Z),
])
def test_activation_values(name, expected):
    np.testing.assert_allclose(act.ACTIVATIONS[name](Z, 0.2), expected, rtol=1e-15)


def test_course_values():
    """Hand values: sigmoid(0) = 0.5, tanh'(0) = 1, relu(-2) = 0, leaky_relu(-2) = -0.02."""
    assert act.sigmoid(np.array(0.0)) == 0.5
    assert act.tanh_derivative(act.tanh(np.array(0.0))) == 1.0
    assert act.relu(np.array(-2.0)) == 0.0
    assert act.leaky_relu(np.array(-2.0)) == pytest.approx(-0.02)
    assert act.DEFAULT_LEAKY_SLOPE == 0.01


@pytest.mark.parametrize("name", HIDDEN)
def test_derivative_from_output_matches_finite_differences(name):
    h, slope = 1e-6, 0.2
    g = act.ACTIVATIONS[name]
    numeric = (g(Z + h, slope) - g(Z - h, slope)) / (2 * h)
    analytic = act.DERIVATIVES[name](g(Z, slope), slope)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)
    assert analytic.dtype == Z.dtype and analytic.shape == Z.shape


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_derivative_at_zero_is_the_left_one(name):
    """As the course's relu_backward: the gradient at Z <= 0 is 0 (relu) or the slope."""
    A = act.ACTIVATIONS[name](np.array([0.0, -0.0]), 0.3)
    expected = 0.0 if name == "relu" else 0.3
    np.testing.assert_array_equal(act.DERIVATIVES[name](A, 0.3), [expected, expected])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", HIDDEN)
def test_dtype_is_kept(name, dtype):
    Z32 = Z.astype(dtype)
    A = act.ACTIVATIONS[name](Z32, 0.01)
    assert A.dtype == dtype
    assert act.DERIVATIVES[name](A, 0.01).dtype == dtype


def test_softmax_columns_and_stability():
    rng = np.random.default_rng(0)
    Zs = rng.standard_normal((4, 9)) * 3
    A = act.softmax(Zs)
    np.testing.assert_allclose(A.sum(axis=0), 1.0, rtol=1e-15)
    np.testing.assert_allclose(A, np.exp(Zs) / np.exp(Zs).sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(act.softmax(Zs + 1000.0), A, rtol=1e-13)   # no overflow
    assert np.all(np.isfinite(act.softmax(np.array([[1e4, -1e4], [-1e4, 1e4]]))))


def test_sigmoid_saturates_to_exact_limits():
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(act.sigmoid(np.array([-1000.0, 1000.0])), [0.0, 1.0])


def test_registries_are_consistent():
    assert set(act.HIDDEN_CODES) == set(HIDDEN) == set(act.DERIVATIVES)
    assert set(act.OUTPUT_CODES) == set(OUTPUTS)
    assert set(act.ACTIVATIONS) == set(HIDDEN) | set(OUTPUTS)
    codes = {act.LINEAR, act.SIGMOID, act.TANH, act.RELU, act.LEAKY_RELU, act.SOFTMAX}
    assert len(codes) == 6
    for table in (act.HIDDEN_CODES, act.OUTPUT_CODES):
        for name, code in table.items():
            assert code == getattr(act, name.upper())


def test_resolve_hidden():
    assert act.resolve_hidden("tanh", 3) == ["tanh"] * 3
    assert act.resolve_hidden(("relu", "linear"), 2) == ["relu", "linear"]
    assert act.resolve_hidden("relu", 0) == []


@pytest.mark.parametrize("bad,n", [("swish", 2), (["relu"], 2), (["relu", "softmax"], 2),
                                   (None, 1), (3, 1), ([["relu"]], 1), ("ReLU", 1)])
def test_resolve_hidden_rejects(bad, n):
    with pytest.raises(ValueError, match="hidden_activation"):
        act.resolve_hidden(bad, n)


@pytest.mark.parametrize("bad", ["relu", "tanh", "Sigmoid", None, ["sigmoid"], 1])
def test_check_output_rejects(bad):
    with pytest.raises(ValueError, match="output"):
        act.check_output(bad)


def test_network_spec():
    net = Network.build([3, 5, 4, 2], ["relu", "tanh"], "softmax", leaky_slope=0.2)
    assert net.layer_dims == (3, 5, 4, 2) and net.L == 3 and net.slope == 0.2
    assert net.activations == ("relu", "tanh", "softmax")
    np.testing.assert_array_equal(net.codes, [act.RELU, act.TANH, act.SOFTMAX])
    assert net.codes.dtype == np.int64


@pytest.mark.parametrize("dims", [[2, 3], (4, 1), np.array([5, 2, 1]), [np.int64(3), 2.0]])
def test_check_layer_dims_accepts(dims):
    assert check_layer_dims(dims) == tuple(int(n) for n in dims)


@pytest.mark.parametrize("slope", [0, -0.1, np.nan, np.inf, "abc", None, [0.1]])
def test_leaky_slope_rejected(slope):
    with pytest.raises(ValueError, match="leaky_slope"):
        Network.build([2, 3, 1], "leaky_relu", "sigmoid", slope)
