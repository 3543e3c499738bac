"""Central finite-difference checks of the backward passes (numpy and cpu engines).

For every hidden activation and every output, the gradient of ``reference.cost`` of
``reference.forward`` with respect to every W and b entry is estimated by
``(J(theta + eps) - J(theta - eps)) / (2 eps)`` with eps = 1e-6 (float64); the
analytic gradients must agree to 1e-6 (scale-relative).  Networks whose hidden
pre-activations come within 1e-3 of a relu / leaky relu kink are redrawn, so the
finite differences never straddle a kink (a perturbation of 1e-6 moves Z by at most
1e-6 * max|A_prev|, far less than 1e-3).
"""
import numpy as np
import pytest

from conftest import HIDDEN, OUTPUTS, assert_rel, make_targets, random_parameters
from deepjit.engines import reference
from deepjit.engines.cpu import network as cpu
from deepjit.engines.layout import Layout
from deepjit.network import Network

EPS, RTOL, KINK_MARGIN = 1e-6, 1e-6, 1e-3
ARCHITECTURES = [[3, 4, 3, 1], [2, 5, 1], [4, 3, 2, 3, 1]]


def total_cost(params, X, Y, net):
    _, ZL = reference.forward(params, X, net)
    return reference.cost(ZL, Y, net.output)


def hidden_preactivations(params, X, net):
    Zs, A = [], X
    for l in range(1, net.L):
        Z = params[f"W{l}"] @ A + params[f"b{l}"]
        Zs.append(Z)
        A = reference.ACTIVATIONS[net.hidden[l - 1]](Z, net.slope)
    return Zs


def problem_away_from_kinks(dims, hidden, output, m=6):
    """The first seed whose hidden pre-activations all stay KINK_MARGIN from zero."""
    if output == "softmax":
        dims = dims[:-1] + [3]
    net = Network.build(dims, hidden, output, leaky_slope=0.1)
    for seed in range(100):
        rng = np.random.default_rng(seed)
        params = random_parameters(rng, dims)
        X = rng.standard_normal((dims[0], m))
        if min(np.abs(Z).min() for Z in hidden_preactivations(params, X, net)) > KINK_MARGIN:
            return net, params, X, make_targets(rng, output, dims[-1], m)
    raise AssertionError("no draw away from the kinks")


def finite_differences(params, X, Y, net):
    grads = {}
    for key, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[key][index] = value[index] + EPS
            plus = total_cost(shifted, X, Y, net)
            shifted[key][index] = value[index] - EPS
            minus = total_cost(shifted, X, Y, net)
            grad[index] = (plus - minus) / (2 * EPS)
        grads["d" + key] = grad
    return grads


def cpu_gradients(params, X, Y, net):
    layout = Layout(net.layer_dims, X.shape[1])
    theta = layout.pack(params, np.float64)
    acts = np.empty(layout.act_size)
    ZL = np.empty(Y.shape)
    widest = max(net.layer_dims[1:]) * X.shape[1]
    grad = np.empty(layout.size)
    cpu.forward(theta, layout.arrays, net.codes, net.slope, X, acts, ZL)
    cpu.backward(theta, layout.arrays, net.codes, net.slope, X, Y, acts, grad,
                 np.empty(widest), np.empty(widest), True)
    return {"d" + k: v for k, v in layout.unpack(grad).items()}


@pytest.mark.parametrize("dims", ARCHITECTURES)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_match_finite_differences(hidden, output, dims):
    net, params, X, Y = problem_away_from_kinks(dims, hidden, output)
    expected = finite_differences(params, X, Y, net)
    As, _ = reference.forward(params, X, net)
    analytic = {"numpy": reference.backward(params, As, Y, net),
                "cpu": cpu_gradients(params, X, Y, net)}
    for engine, grads in analytic.items():
        assert sorted(grads) == sorted(expected), engine
        for key in expected:
            assert np.abs(expected[key]).max() > 0 or key.startswith("db"), (engine, key)
            assert_rel(grads[key], expected[key], rtol=RTOL)


def test_finite_differences_detect_a_wrong_derivative(monkeypatch):
    """The check can fail: a tanh derivative off by 1% is caught."""
    net, params, X, Y = problem_away_from_kinks([3, 4, 1], "tanh", "sigmoid")
    monkeypatch.setitem(reference.DERIVATIVES, "tanh", lambda A, slope: 1.01 * (1 - A ** 2))
    As, _ = reference.forward(params, X, net)
    with pytest.raises(AssertionError):
        assert_rel(reference.backward(params, As, Y, net)["dW1"],
                   finite_differences(params, X, Y, net)["dW1"], rtol=RTOL)


def test_mixed_hidden_activations():
    net, params, X, Y = problem_away_from_kinks([3, 4, 4, 4, 4, 4, 1],
                                                ["relu", "tanh", "leaky_relu", "sigmoid",
                                                 "linear"], "sigmoid")
    expected = finite_differences(params, X, Y, net)
    As, _ = reference.forward(params, X, net)
    for grads in (reference.backward(params, As, Y, net), cpu_gradients(params, X, Y, net)):
        for key in expected:
            assert_rel(grads[key], expected[key], rtol=RTOL)
