"""The opt-in lower precision of the cuda engine's host loop (``settings.PRECISION``):
operands rounded to TF32 (11 significant bits) or bfloat16 (8), float32 sums.  Runs
under the CUDA simulator unless DEEPJIT_TEST_GPU=1."""
import cuda_setup
import numpy as np
import pytest
from conftest import random_problem

from deepjit import Model
from deepjit.engines import cuda as engine
from deepjit.engines.cuda import device, layers, settings

cuda_setup.check_simulator(engine)
cuda = engine.cuda


def rounded_numpy(x, bits):
    """The oracle: float32 ``x`` rounded to nearest, ties to even, on the bits."""
    drop = np.uint32(24 - bits)
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    odd = (u >> np.uint64(drop)) & np.uint64(1)
    u = (u + (np.uint64(1) << np.uint64(drop - 1)) - np.uint64(1) + odd) \
        & ~((np.uint64(1) << np.uint64(drop)) - np.uint64(1))
    return u.astype(np.uint32).view(np.float32)


@cuda.jit
def round_all(x, bits, out):
    for k in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        out[k] = layers.rounded(x[k], bits)


@pytest.fixture(autouse=True)
def small_launches(monkeypatch):
    for name, value in [("THREADS_PER_BLOCK", 8), ("MAX_BLOCKS", 4), ("TILE", 4)]:
        monkeypatch.setattr(settings, name, value)


@pytest.mark.parametrize("bits", [11, 8])
def test_rounding_matches_the_bitwise_oracle(bits):
    rng = np.random.default_rng(bits)
    x = (rng.standard_normal(200) * 10.0 ** rng.integers(-8, 8, 200)).astype(np.float32)
    grid = np.float32(2.0 ** (1 - bits))           # ties: halfway between neighbours
    ties = ((np.arange(1, 9) + np.float32(0.5)) * grid).astype(np.float32)
    x = np.concatenate([x, ties, -ties, [0.0, 1.0, -3.0, 1.0 - 2.0 ** -24]]).astype(np.float32)
    out = np.empty_like(x)
    round_all[4, 8](x, bits, out)
    np.testing.assert_array_equal(out, rounded_numpy(x, bits))
    assert not np.array_equal(out, x)
    mantissa = np.frexp(out)[0] * 2.0 ** bits     # integral: at most `bits` bits
    np.testing.assert_array_equal(mantissa, np.round(mantissa))


@pytest.mark.parametrize("precision,bits", [("tf32", 11), ("bf16", 8)])
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_products_round_their_operands(monkeypatch, precision, bits, trans_a, trans_b):
    monkeypatch.setattr(settings, "PRECISION", precision)
    rng = np.random.default_rng(1)
    M, K, N = 5, 7, 6
    A = rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
    C = np.empty((M, N), np.float32)
    dC = cuda.to_device(C)
    device.product(cuda.to_device(A), cuda.to_device(B), dC, trans_a, trans_b, alpha=0.5)
    a, b = rounded_numpy(A, bits).astype(float), rounded_numpy(B, bits).astype(float)
    expected = 0.5 * (a.T if trans_a else a) @ (b.T if trans_b else b)
    full = 0.5 * (A.T if trans_a else A).astype(float) @ (B.T if trans_b else B)
    got = dC.copy_to_host()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    assert np.abs(got - full).max() > 1e-2 * 2.0 ** -bits * np.abs(full).max()


def test_training_in_lower_precision_stays_close_to_float32(monkeypatch):
    net, params, X, Y = random_problem(0, [4, 6, 1], "relu", "sigmoid", m=9, slope=0.05)
    costs = {}
    for precision in ("float32", "bf16"):
        monkeypatch.setattr(settings, "PRECISION", precision)
        model = Model.from_parameters(params, "relu", "sigmoid", dtype="float32",
                                      engine="cuda").fit(X, Y, 0.3, 3, record_every=1)
        costs[precision] = np.array(model.costs_)
    np.testing.assert_allclose(costs["bf16"], costs["float32"], rtol=3e-2)
    assert not np.array_equal(costs["bf16"], costs["float32"])


def test_lower_precision_is_refused_where_it_cannot_run(monkeypatch):
    net, params, X, Y = random_problem(0, [4, 3, 1], "relu", "sigmoid", m=5, slope=0.05)
    monkeypatch.setattr(settings, "PRECISION", "tf32")
    with pytest.raises(ValueError, match="precision.*float32 model"):
        Model.from_parameters(params, "relu", "sigmoid", engine="cuda").fit(X, Y, 0.1, 1)
    with pytest.raises(ValueError, match="formulation.*precision"):
        Model.from_parameters(params, "relu", "sigmoid", dtype="float32", engine="cuda",
                              formulation="streamed").fit(X, Y, 0.1, 1)
    monkeypatch.setattr(settings, "PRECISION", "fp8")
    with pytest.raises(ValueError, match="precision: expected"):
        Model.from_parameters(params, "relu", "sigmoid", dtype="float32", engine="cuda"
                              ).fit(X, Y, 0.1, 1)


# Compiles the rounding tiled product for a real GPU (sm_90) without one; needs the CUDA
# toolkit's compiler libraries (pip install 'deepjit[cuda]'), else skipped.
COMPILE_FOR_REAL_GPU = """
from deepjit.engines.cuda import layers
M = types.Array(types.float32, 2, "C")
for bits in (11, 8):
    check_launchable(layers.matmul_kernel(16, types.float32, bits),
                     (M, M, M, types.boolean, types.boolean, types.float32), 256)
print("COMPILED")
"""


def test_rounding_product_compiles_for_a_real_gpu():
    assert cuda_setup.compile_for_a_real_gpu(COMPILE_FOR_REAL_GPU).strip() == "COMPILED"
