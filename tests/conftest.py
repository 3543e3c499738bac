"""Shared fixtures and small helpers for the core tests.

Helpers used by several test files (random data, random networks, the plain-numpy
gradient-descent oracle, a scale-relative comparison) live here as plain functions;
the test files import them with ``from conftest import ...`` (pytest puts tests/ on
sys.path).
"""
import os
from pathlib import Path

import numpy as np
import pytest

from deepjit.engines import reference
from deepjit.network import Network

# tests/ is in the repository root; the shared data sits beside the repository, unless
# $DEEPJIT_DATA names its folder (as for the benchmarks, e.g. on a GPU machine).
CAT_DIR = (Path(os.environ["DEEPJIT_DATA"]) if os.environ.get("DEEPJIT_DATA") else
           Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat")

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUTS = ["sigmoid", "softmax", "linear"]


def require_cat_data():
    """The real cat data directory; skips the test when absent, fails it when CI=true."""
    if not (CAT_DIR / "train_catvnoncat.h5").is_file():
        message = f"cat data not found at {CAT_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the data must be present)")
        pytest.skip(message)
    return CAT_DIR


@pytest.fixture
def cat_dir():
    return require_cat_data()


@pytest.fixture
def global_random_state():
    """Restores numpy's global random state after a test that seeds it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def assert_rel(actual, expected, rtol=1e-12):
    """``|actual - expected| <= rtol * max|expected|`` elementwise (scale-relative: sums
    of products lose relative accuracy only on entries that cancel)."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.max(np.abs(expected))), np.finfo(np.float64).tiny)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def assert_params_rel(actual, expected, rtol=1e-12):
    assert sorted(actual) == sorted(expected)
    for key in expected:
        assert actual[key].shape == expected[key].shape, key
        assert_rel(actual[key], expected[key], rtol)


def make_targets(rng, output, n_out, m):
    """Targets of shape (n_out, m): 0/1 (sigmoid), one-hot columns (softmax), reals."""
    if output == "sigmoid":
        return (rng.random((n_out, m)) < 0.5).astype(np.float64)
    if output == "softmax":
        return np.eye(n_out)[:, rng.integers(0, n_out, m)]
    return rng.standard_normal((n_out, m))


def random_parameters(rng, dims, scale=1.0):
    """Random ``{"W1", "b1", ...}`` with ``W ~ N(0, 1/n_prev) * scale`` and nonzero b."""
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * scale \
            / np.sqrt(dims[l - 1])
        params[f"b{l}"] = 0.5 * rng.standard_normal((dims[l], 1))
    return params


def random_problem(seed, dims, hidden="tanh", output="sigmoid", m=7, slope=0.01):
    """``(net, parameters, X, Y)`` for a small random network and data set."""
    rng = np.random.default_rng(seed)
    net = Network.build(dims, hidden, output, slope)
    X = rng.standard_normal((dims[0], m))
    Y = make_targets(rng, output, dims[-1], m)
    return net, random_parameters(rng, dims), X, Y


def numpy_descent(parameters, X, Y, net, learning_rate, num_iterations):
    """The oracle: plain-numpy gradient descent; returns ``(parameters, costs)`` with
    the cost of every iteration (computed before its update)."""
    params = {k: v.copy() for k, v in parameters.items()}
    costs = []
    for _ in range(num_iterations):
        As, ZL = reference.forward(params, X, net)
        costs.append(reference.cost(ZL, Y, net.output))
        reference.update(params, reference.backward(params, As, Y, net), learning_rate)
    return params, costs


COURSE2_DATA = CAT_DIR.parent / "course2" / "data.mat"


@pytest.fixture
def football():
    """The second course's data.mat; skips when absent, fails when CI=true."""
    if not COURSE2_DATA.is_file():
        message = f"course-2 data not found at {COURSE2_DATA}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the data must be present)")
        pytest.skip(message)
    return COURSE2_DATA
