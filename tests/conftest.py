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
from hypothesis import HealthCheck, settings

import cuda_setup  # noqa: F401  (the CUDA tests run in the simulator unless on a GPU)
from deepjit.engines import reference
from deepjit.engines.layout import Layout
from deepjit.initializers import initialize
from deepjit.network import Network

# tests/ is in the repository root; the shared data sits beside the repository, unless
# $DEEPJIT_DATA names its folder (as for the benchmarks, e.g. on a GPU machine).
CAT_DIR = (Path(os.environ["DEEPJIT_DATA"]) if os.environ.get("DEEPJIT_DATA") else
           Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat")

# Hypothesis: DEEPJIT_HYPOTHESIS_EXAMPLES=1000 for a longer hunt; deadline off (Numba
# compiles).  Under CI=true the examples are the same on every run (a hunt is for
# development runs, not for deciding whether a submission lands).
SETTINGS = settings(max_examples=int(os.environ.get("DEEPJIT_HYPOTHESIS_EXAMPLES", 50)),
                    deadline=None, derandomize=os.environ.get("CI") == "true",
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

def subprocess_env():
    """The environment for a child Python that imports the deepjit this process imported
    (a relative PYTHONPATH=src would find another copy once the child's cwd differs)."""
    import deepjit
    source = str(Path(deepjit.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [source] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}


HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
OUTPUTS = ["sigmoid", "softmax", "linear"]
# (layer_dims, m) of whole-network tests: one to five layers, single units, m = 1, odd sizes
NETS = [([1, 1], 1), ([3, 2], 1), ([4, 3, 2], 5), ([5, 4, 3, 3], 9), ([2, 7, 1, 6, 3], 13),
        ([6, 5, 4, 3, 2, 2], 2)]
NET_SLOPE = 0.07      # a leaky slope other than the default, so a hard-coded 0.01 fails


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


def seed_of(part):
    """An integer for a test parameter (a string's code points summed)."""
    return sum(ord(c) for c in part) if isinstance(part, str) else int(part)


def seeded_rng(*key):
    """A generator seeded by the test's parameters (reproducible, different per case)."""
    return np.random.default_rng([seed_of(part) for part in key])


def layer_problem(seed, dims, output, hidden_names, m):
    """``(net, parameters, X, Y)``: hidden layers cycling through ``hidden_names``, the
    leaky slope NET_SLOPE, weights 1.5 times ``random_parameters``'."""
    rng = np.random.default_rng(seed)
    hidden = [hidden_names[i % len(hidden_names)] for i in range(len(dims) - 2)]
    net = Network.build(dims, hidden, output, NET_SLOPE)
    X = rng.standard_normal((dims[0], m))
    return net, random_parameters(rng, dims, scale=1.5), X, \
        make_targets(rng, output, dims[-1], m)


def flat_buffers(net, X):
    """The cpu engine's flat work buffers for ``net`` and ``X``, filled with NaN (so an
    entry a kernel should write and does not shows)."""
    layout = Layout(net.layer_dims, X.shape[1])
    m, widest = X.shape[1], max(net.layer_dims[1:]) * X.shape[1]
    return dict(layout=layout, acts=np.full(layout.act_size, np.nan),
                ZL=np.full((net.layer_dims[-1], m), np.nan),
                grad=np.full(layout.size, np.nan), buf1=np.full(widest, np.nan),
                buf2=np.full(widest, np.nan))


# (layer_dims without n_x, hidden, output) of the formulation tests
FORMULATION_NETS = [
    ([5, 4, 3], "relu", "sigmoid"),
    ([6, 3], "tanh", "softmax"),
    ([4, 2], "leaky_relu", "linear"),
    ([1], None, "sigmoid"),                 # logistic regression: the first layer is the output
    ([3, 2, 3], ["sigmoid", "linear"], "softmax"),
]


def formulation_problem(n_x, m, sizes, hidden, output, seed, order="C"):
    """``(net, parameters, X, Y)`` for ``FORMULATION_NETS``; He initialisation."""
    rng = np.random.default_rng(seed)
    net = Network.build([n_x] + sizes, hidden or "relu", output)
    X = np.asarray(rng.standard_normal((n_x, m)), order=order)
    n_out = sizes[-1]
    if output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, m)]
    elif output == "sigmoid":
        Y = (rng.random((n_out, m)) > 0.5).astype(float)
    else:
        Y = rng.standard_normal((n_out, m))
    return net, initialize(net.layer_dims, "he", seed), X, Y


def assert_same_training(fast, ref, n_steps=60, rtol=1e-10):
    """``fast`` and ``ref`` (trainers) give the same costs and parameters over a
    one-step call, then a long one."""
    for chunk in (1, n_steps - 1):
        got, want = fast.run(chunk, True), ref.run(chunk, True)
        np.testing.assert_allclose(got, want, rtol=rtol)
    got, want = fast.parameters(), ref.parameters()
    for key in want:
        scale = np.max(np.abs(want[key])) or 1.0
        assert np.max(np.abs(got[key] - want[key])) / scale < rtol, key
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
