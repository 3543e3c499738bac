"""The vectorisable exp / tanh / sigmoid against numpy over their whole range."""
import numpy as np
import pytest
from numba import njit

from deepjit.engines.cpu import vecmath


def elementwise(f):
    @njit(error_model="numpy")
    def apply(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return lambda x: (apply(x, out := np.empty_like(x)), out)[1]


def sample(rng):
    return np.concatenate([
        rng.uniform(-760, 720, 20000), rng.uniform(-40, 40, 20000), rng.uniform(-1, 1, 20000),
        rng.uniform(-1e-6, 1e-6, 1000), np.logspace(-320, 2, 500), -np.logspace(-320, 2, 500),
        [0.0, -0.0, 0.625, -0.625, np.nextafter(0.625, 0), 709.78, 709.79, -745.1, -745.2,
         -708.39, -708.4, 1e-300, np.inf, -np.inf]])


@pytest.mark.parametrize("name, reference", [
    ("exp", np.exp), ("tanh", np.tanh), ("sigmoid", lambda x: 1 / (1 + np.exp(-x)))])
def test_matches_numpy_to_a_few_ulp(name, reference):
    x = sample(np.random.default_rng(11))
    with np.errstate(over="ignore"):
        want = reference(x)
    got = elementwise(getattr(vecmath, name))(x)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    normal = np.isfinite(want) & (np.abs(want) >= np.finfo(float).tiny)
    rel = np.abs(got[normal] - want[normal]) / np.abs(want[normal])
    assert rel.max() < 1e-15
    assert np.all(np.abs(got[~normal & np.isfinite(want)] - want[~normal & np.isfinite(want)])
                  <= 1e-308)


def test_tanh_is_odd_and_exact_at_zero():
    x = np.random.default_rng(2).uniform(0, 30, 1000)
    tanh = elementwise(vecmath.tanh)
    np.testing.assert_array_equal(tanh(-x), -tanh(x))
    assert tanh(np.array([0.0]))[0] == 0.0
