"""The per-layer kernels of engines/cpu/layers.py against the plain-numpy engine, float64,
to 1e-12 (scale-relative), on fresh random shapes including m = 1, n = 1 and odd sizes."""
import numpy as np
import pytest

from conftest import HIDDEN, OUTPUTS, assert_rel, make_targets, seeded_rng
from deepjit.activations import ACTIVATIONS, HIDDEN_CODES, OUTPUT_CODES
from deepjit.engines import reference
from deepjit.engines.cpu import layers as cpu

# (n_prev, n, m): single unit, single example, odd sizes.
LAYER_SHAPES = [(1, 1, 1), (3, 1, 5), (1, 4, 1), (2, 3, 1), (7, 5, 13), (17, 9, 31)]
SLOPE = 0.07          # a leaky slope other than the default, so a hard-coded 0.01 fails


@pytest.mark.parametrize("n_prev,n,m", LAYER_SHAPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_bias_activation(activation, n_prev, n, m):
    rng = seeded_rng(1, activation, n, m)
    Z, b = rng.standard_normal((n, m)) * 3, rng.standard_normal((n, 1))
    expected = ACTIVATIONS[activation](Z + b, SLOPE)
    cpu.bias_activation(Z, b, HIDDEN_CODES[activation], SLOPE)
    assert_rel(Z, expected)


@pytest.mark.parametrize("n,m", [(1, 1), (2, 1), (1, 7), (3, 5), (10, 33)])
@pytest.mark.parametrize("output", OUTPUTS)
def test_output_activation(output, n, m):
    if output == "softmax" and n == 1:
        n = 2
    rng = seeded_rng(2, output, n, m)
    Z = rng.standard_normal((n, m)) * 5
    A = np.full_like(Z, np.nan)
    cpu.output_activation(Z, OUTPUT_CODES[output], A)
    assert_rel(A, ACTIVATIONS[output](Z))


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_output_activation_saturates_without_nan(output):
    Z = np.array([[-800.0, 800.0, 0.0], [800.0, -800.0, 1e-3]])
    A = np.empty_like(Z)
    cpu.output_activation(Z, OUTPUT_CODES[output], A)
    assert np.all(np.isfinite(A))
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(A, ACTIVATIONS[output](Z), rtol=1e-12, atol=0)


@pytest.mark.parametrize("n_prev,n,m", LAYER_SHAPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_dense_forward(activation, n_prev, n, m):
    rng = seeded_rng(3, activation, n_prev, n, m)
    W, b = rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1))
    A_prev = rng.standard_normal((n_prev, m))
    out = np.full((n, m), np.nan)
    returned = cpu.dense_forward(W, b, A_prev, HIDDEN_CODES[activation], SLOPE, out)
    Z, A = reference.dense_forward(W, b, A_prev, activation, SLOPE)
    assert_rel(out, A)
    assert returned is out or np.shares_memory(returned, out)


@pytest.mark.parametrize("n,m", [(1, 1), (1, 6), (4, 1), (5, 9), (12, 31)])
@pytest.mark.parametrize("activation", HIDDEN)
def test_activation_backward(activation, n, m):
    rng = seeded_rng(4, activation, n, m)
    A = ACTIVATIONS[activation](rng.standard_normal((n, m)), SLOPE)
    dA = rng.standard_normal((n, m))
    expected = reference.activation_backward(dA, A, activation, SLOPE)
    cpu.activation_backward(dA, A, HIDDEN_CODES[activation], SLOPE)
    assert_rel(dA, expected)


@pytest.mark.parametrize("n_prev,n,m", LAYER_SHAPES)
@pytest.mark.parametrize("need_dA_prev", [True, False])
def test_dense_backward(n_prev, n, m, need_dA_prev):
    rng = seeded_rng(5, n_prev, n, m, need_dA_prev)
    dZ, A_prev = rng.standard_normal((n, m)), rng.standard_normal((n_prev, m))
    W = rng.standard_normal((n, n_prev))
    dW, db = np.full((n, n_prev), np.nan), np.full((n, 1), np.nan)
    dA_prev = np.full((n_prev, m), np.nan)
    cpu.dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev)
    dA_expected, dW_expected, db_expected = reference.dense_backward(dZ, A_prev, W, need_dA_prev)
    assert_rel(dW, dW_expected)
    assert_rel(db, db_expected)
    if need_dA_prev:
        assert_rel(dA_prev, dA_expected)
    else:
        assert dA_expected is None and np.all(np.isnan(dA_prev)), "dA_prev was written"


@pytest.mark.parametrize("n,m", [(1, 1), (2, 1), (1, 8), (3, 5), (10, 33)])
@pytest.mark.parametrize("output", OUTPUTS)
def test_cost(output, n, m):
    if output == "softmax" and n == 1:
        n = 2
    rng = seeded_rng(6, output, n, m)
    ZL = rng.standard_normal((n, m)) * 4
    Y = make_targets(rng, output, n, m)
    got = cpu.cost(ZL, Y, OUTPUT_CODES[output])
    assert got == pytest.approx(reference.cost(ZL, Y, output), rel=1e-12, abs=0)


@pytest.mark.parametrize("output", OUTPUTS)
def test_cost_saturated_output_is_finite(output):
    ZL = np.array([[1e4, -1e4, 750.0], [-1e4, 1e4, -750.0]])
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    got, expected = cpu.cost(ZL, Y, OUTPUT_CODES[output]), reference.cost(ZL, Y, output)
    assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-12)
    if output != "linear":   # every example is wrong by a margin of |z|: loss ~ |z| / m
        assert got == pytest.approx((2e4 + 2e4 + 1500.0) / 3, rel=1e-12)
