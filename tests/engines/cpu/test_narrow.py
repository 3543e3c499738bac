"""The narrow-net kernels (engines/cpu/narrow.py) against their numpy oracle: the
gradient with L2 and dropout, whole runs of full-batch steps and of mini-batch epochs
with each optimizer, and the oracle against finite differences."""
import numpy as np
import pytest

from deepjit import optim
from deepjit.engines.cpu import narrow

NO_MASK = np.empty((0, 0))
SHAPES = [((2, 20, 3, 1), 211), ((2, 10, 5, 1), 300), ((3, 7, 2, 1), 13),
          ((1, 1, 1, 1), 1), ((5, 9, 6, 2), 33), ((4, 4, 5, 1), 64)]


def problem(dims, m, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in (1, 2, 3):
        parameters["W" + str(l)] = rng.standard_normal((dims[l], dims[l - 1])) * scale
        parameters["b" + str(l)] = rng.standard_normal((dims[l], 1)) * 0.1
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((dims[3], m)) < 0.5).astype(np.float64)
    return parameters, X, Y, rng


def masks_for(dims, m, rng, keep_prob):
    return (rng.random((dims[1], m)) < keep_prob, rng.random((dims[2], m)) < keep_prob)


def assert_close(got, want, rtol):
    for key in want:
        scale = max(np.abs(want[key]).max(), 1e-300)
        assert np.abs(got[key] - want[key]).max() <= rtol * scale, key


def kernel_gradient(parameters, X, Y, lambd=0.0, masks=None, keep_prob=1.0, start=0,
                    count=None):
    theta, dims = narrow.pack(parameters)
    count = X.shape[1] - start if count is None else count
    D1, D2 = (NO_MASK, NO_MASK) if masks is None else (
        narrow.pad_columns(mask, count) for mask in masks)
    grad = np.empty_like(theta)
    narrow.gradient(theta, dims, narrow.pad_columns(X, start + count), Y, start, count,
                    lambd, D1, D2, keep_prob, narrow.workspace(dims, count), grad)
    return {"d" + key: value for key, value in narrow.unpack(grad, dims).items()}


@pytest.mark.parametrize("dims, m", SHAPES)
@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.8)])
def test_gradient_matches_the_oracle(dims, m, lambd, keep_prob):
    parameters, X, Y, rng = problem(dims, m)
    masks = masks_for(dims, m, rng, keep_prob) if keep_prob < 1 else None
    assert_close(kernel_gradient(parameters, X, Y, lambd, masks, keep_prob),
                 narrow.reference_gradient(parameters, X, Y, lambd, masks, keep_prob), 1e-12)


def test_gradient_of_a_column_range_is_that_of_the_columns():
    parameters, X, Y, _ = problem((3, 7, 2, 1), 50)
    got = kernel_gradient(parameters, X, Y, start=17, count=21)
    assert_close(got, narrow.reference_gradient(parameters, X[:, 17:38], Y[:, 17:38]), 1e-12)


def cost(parameters, X, Y, lambd, masks, keep_prob):
    """The mean cross-entropy plus ``lambd / (2 m) sum ||W||^2`` at fixed masks."""
    A = X
    for l in (1, 2):
        A = np.maximum(0, parameters["W" + str(l)] @ A + parameters["b" + str(l)])
        A = A if masks is None else A * masks[l - 1] / keep_prob
    a3 = 1 / (1 + np.exp(-(parameters["W3"] @ A + parameters["b3"])))
    m = X.shape[1]
    penalty = sum(np.sum(parameters["W" + str(l)] ** 2) for l in (1, 2, 3))
    return -np.sum(Y * np.log(a3) + (1 - Y) * np.log(1 - a3)) / m + lambd / (2 * m) * penalty


@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.7)])
def test_gradient_matches_finite_differences(lambd, keep_prob):
    dims, m = (3, 5, 4, 1), 17
    parameters, X, Y, rng = problem(dims, m, seed=3)
    masks = masks_for(dims, m, rng, keep_prob) if keep_prob < 1 else None
    theta, packed = narrow.pack(parameters)
    grad = narrow.pack({k[1:]: v for k, v in
                        kernel_gradient(parameters, X, Y, lambd, masks, keep_prob).items()})[0]
    h, numeric = 1e-6, np.empty_like(theta)
    for p in range(theta.size):
        values = []
        for sign in (1, -1):
            shifted = theta.copy()
            shifted[p] += sign * h
            values.append(cost(narrow.unpack(shifted, packed), X, Y, lambd, masks, keep_prob))
        numeric[p] = (values[0] - values[1]) / (2 * h)
    assert np.linalg.norm(grad - numeric) / np.linalg.norm(grad + numeric) < 1e-7


@pytest.mark.parametrize("dims, m", SHAPES[:3])
@pytest.mark.parametrize("lambd, keep_prob", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.86)])
def test_full_batch_steps_match_gradient_descent_on_the_oracle(dims, m, lambd, keep_prob):
    parameters, X, Y, rng = problem(dims, m)
    masks = masks_for(dims, m, rng, keep_prob) if keep_prob < 1 else None
    theta, packed = narrow.pack(parameters)
    D1, D2 = (NO_MASK, NO_MASK) if masks is None else (narrow.pad_columns(d, m) for d in masks)
    narrow.train_full_batch(theta, packed, narrow.pad_columns(X, m), Y, 0.3, 5, lambd, D1, D2,
                            keep_prob, narrow.workspace(packed, m))
    want = dict(parameters)
    for _ in range(5):
        grads = narrow.reference_gradient(want, X, Y, lambd, masks, keep_prob)
        want = {k: v - 0.3 * grads["d" + k] for k, v in want.items()}
    assert_close(narrow.unpack(theta, packed), want, 1e-10)


def oracle_epochs(parameters, X, Y, orders, batch_size, rates, rule):
    """The course's mini-batch loop on the oracle's gradient; each epoch's summed
    cross-entropy."""
    keys = list(parameters)
    v = {k: np.zeros_like(p) for k, p in parameters.items()}
    s = {k: np.zeros_like(p) for k, p in parameters.items()}
    beta1, beta2, epsilon = rule.hyper
    t, costs = 0, []
    for order, lr in zip(orders, rates):
        total = 0.0
        for start in range(0, X.shape[1], batch_size):
            batch = order[start:start + batch_size]
            bX, bY = X[:, batch], Y[:, batch]
            a3 = 1 / (1 + np.exp(-(parameters["W3"] @ np.maximum(0, parameters["W2"] @ np.maximum(
                0, parameters["W1"] @ bX + parameters["b1"]) + parameters["b2"])
                + parameters["b3"])))
            total += np.sum(-np.log(a3) * bY + -np.log(1 - a3) * (1 - bY))
            grads = narrow.reference_gradient(parameters, bX, bY)
            t += 1
            for k in keys:
                g = grads["d" + k]
                if rule.code == optim.MOMENTUM:
                    v[k] = beta1 * v[k] + (1 - beta1) * g
                    parameters[k] = parameters[k] - lr * v[k]
                elif rule.code == optim.ADAM:
                    v[k] = beta1 * v[k] + (1 - beta1) * g
                    s[k] = beta2 * s[k] + (1 - beta2) * g ** 2
                    parameters[k] = parameters[k] - lr * (v[k] / (1 - beta1 ** t)) / (
                        np.sqrt(s[k] / (1 - beta2 ** t)) + epsilon)
                elif rule.code == optim.RMSPROP:
                    s[k] = beta2 * s[k] + (1 - beta2) * g ** 2
                    parameters[k] = parameters[k] - lr * g / (np.sqrt(s[k]) + epsilon)
                else:
                    parameters[k] = parameters[k] - lr * g
        costs.append(total)
    return parameters, np.array(costs), t


@pytest.mark.parametrize("rule", [optim.GradientDescent(), optim.Momentum(0.8),
                                  optim.RMSprop(0.9), optim.Adam(0.9, 0.99, 1e-8)])
@pytest.mark.parametrize("dims, m, batch_size", [((2, 5, 2, 1), 300, 64),
                                                 ((3, 7, 2, 1), 37, 10), ((2, 3, 4, 2), 9, 9)])
def test_epochs_match_the_course_loop_on_the_oracle(rule, dims, m, batch_size):
    parameters, X, Y, rng = problem(dims, m)
    orders = np.array([rng.permutation(m) for _ in range(4)])
    rates = np.array([0.05, 0.04, 0.03, 0.02])
    want_cost = np.array([True, False, True, True])
    theta, packed = narrow.pack(parameters)
    v, s, costs = np.zeros_like(theta), np.zeros_like(theta), np.zeros(4)
    t = narrow.train_epochs(theta, packed, X, Y, orders, batch_size, rates, want_cost,
                            rule.code, np.array(rule.hyper), 0, v, s, costs)
    want, want_costs, want_t = oracle_epochs(dict(parameters), X, Y, orders, batch_size,
                                             rates, rule)
    assert t == want_t
    assert_close(narrow.unpack(theta, packed), want, 1e-10)
    np.testing.assert_allclose(costs, np.where(want_cost, want_costs, 0), rtol=1e-12)


def test_pack_and_unpack_round_trip_and_padding():
    parameters, X, _, _ = problem((3, 7, 2, 1), 5)
    theta, dims = narrow.pack(parameters)
    assert list(dims) == [3, 7, 2, 1] and theta.size == 3 * 7 + 7 + 7 * 2 + 2 + 2 + 1
    assert_close(narrow.unpack(theta, dims), parameters, 0.0)
    padded = narrow.pad_columns(X, 5)
    assert padded.shape == (3, narrow.LANES) and padded.flags.c_contiguous
    assert (padded[:, :5] == X).all() and not padded[:, 5:].any()
    assert [narrow.padded(n) for n in (0, 1, 32, 33)] == [0, 32, 32, 64]
