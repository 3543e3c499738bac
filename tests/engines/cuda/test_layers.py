"""engines/cuda/layers.py: each per-layer kernel (launched through device.py) against the
cpu's layers.py / numpy, float64; and every kernel compiled for sm_90.

Runs under the CUDA simulator (no GPU needed) unless DEEPJIT_TEST_GPU=1.  The launch
settings are patched tiny so that these small odd sizes span several blocks, several
grid-stride passes and partial matmul tiles.
"""
import cuda_setup
import numpy as np
import pytest
from conftest import assert_rel

from deepjit.activations import HIDDEN_CODES, OUTPUT_CODES, SOFTMAX
from deepjit.engines import cuda as engine
from deepjit.engines.cpu import layers as cpu
from deepjit.engines.cuda import compiler, device, settings

cuda_setup.check_simulator(engine)

SLOPE = 0.03


@pytest.fixture(autouse=True)
def tiny_launches(monkeypatch):
    monkeypatch.setattr(settings, "THREADS_PER_BLOCK", 4)
    monkeypatch.setattr(settings, "MAX_BLOCKS", 3)
    monkeypatch.setattr(settings, "TILE", 3)


def on_device(*arrays):
    return [engine.cuda.to_device(np.ascontiguousarray(a)) for a in arrays]


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("M, K, N", [(5, 7, 8), (1, 4, 1)])
def test_product_matches_numpy(trans_a, trans_b, M, K, N):
    rng = np.random.default_rng(M * K * N + 2 * trans_a + trans_b)
    A = rng.standard_normal((K, M) if trans_a else (M, K))
    B = rng.standard_normal((N, K) if trans_b else (K, N))
    dA, dB, dC = on_device(A, B, np.full((M, N), np.nan))
    device.product(dA, dB, dC, trans_a, trans_b, alpha=0.25)
    expected = 0.25 * (A.T if trans_a else A) @ (B.T if trans_b else B)
    assert_rel(dC.copy_to_host(), expected)


@pytest.mark.skipif(compiler.SIMULATOR or device.cupy_module() is None,
                    reason="cuBLAS path: needs a real GPU and CuPy")
def test_products_and_sums_through_cublas_match_numpy(monkeypatch):
    monkeypatch.setattr(settings, "CUBLAS_MIN_WORK", 0)
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((6, 5)), rng.standard_normal((7, 5))
    dA, dB, dC = on_device(A, B, np.empty((6, 7)))
    device.product(dA, dB, dC, trans_b=True, alpha=0.5)
    assert_rel(dC.copy_to_host(), 0.5 * A @ B.T)
    d_out, = on_device(np.empty(6))
    device.row_sums(dA, 0.25, d_out)
    assert_rel(d_out.copy_to_host(), 0.25 * A.sum(axis=1))


@pytest.mark.parametrize("name", sorted(HIDDEN_CODES))
@pytest.mark.parametrize("n, m", [(5, 7), (1, 1)])
def test_bias_activation_matches_cpu(name, n, m):
    rng = np.random.default_rng(n + m)
    Z, b = 2 * rng.standard_normal((n, m)), rng.standard_normal((n, 1))
    dZ, db = on_device(Z, b)
    device.bias_activation(dZ, db, HIDDEN_CODES[name], SLOPE)
    expected = Z.copy()
    cpu.bias_activation(expected, b, HIDDEN_CODES[name], SLOPE)
    assert_rel(dZ.copy_to_host(), expected)


@pytest.mark.parametrize("name", sorted(OUTPUT_CODES))
@pytest.mark.parametrize("n, m", [(3, 9), (2, 1)])
def test_output_activation_and_delta_match_cpu(name, n, m):
    rng = np.random.default_rng(10 * n + m)
    Z, b, Y = 3 * rng.standard_normal((n, m)), rng.standard_normal((n, 1)), rng.random((n, m))
    code = OUTPUT_CODES[name]
    expected_Z = Z + b
    expected_A = np.empty_like(Z)
    cpu.output_activation(expected_Z, code, expected_A)
    dZ1, dZ2, db, dY, dA, dD = on_device(Z, Z, b, Y, np.empty_like(Z), np.empty_like(Z))
    device.output_activation(dZ1, db, code, dA)
    device.output_delta(dZ2, db, dY, code, dD)
    assert_rel(dZ1.copy_to_host(), expected_Z)
    assert_rel(dZ2.copy_to_host(), expected_Z)
    assert_rel(dA.copy_to_host(), expected_A)
    assert_rel(dD.copy_to_host(), expected_A - Y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(HIDDEN_CODES))
def test_non_finite_and_zero_values_as_on_the_cpu(name, dtype):
    """NaN, +-inf and +-0 through the activations and their derivatives: the same values
    as the cpu kernels (NaN where they give NaN)."""
    values = np.array([[np.nan, np.inf, -np.inf, 0.0, -0.0, 3.0, -2.0]], dtype)
    b = np.zeros((1, 1), dtype)
    dZ, db, dA, dG = on_device(values, b, np.ones_like(values), values)
    device.bias_activation(dZ, db, HIDDEN_CODES[name], SLOPE)
    device.activation_backward(dA, dG, HIDDEN_CODES[name], SLOPE)
    expected = values.copy()
    cpu.bias_activation(expected, b, HIDDEN_CODES[name], dtype(SLOPE))
    expected_d = cpu.activation_backward(np.ones_like(values), values, HIDDEN_CODES[name],
                                         dtype(SLOPE))
    np.testing.assert_array_equal(dZ.copy_to_host(), expected)
    np.testing.assert_array_equal(dA.copy_to_host(), expected_d)


@pytest.mark.parametrize("name", sorted(HIDDEN_CODES))
def test_activation_backward_matches_cpu(name):
    rng = np.random.default_rng(4)
    dA, A = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    if name == "sigmoid":
        A = 1 / (1 + np.exp(-A))
    d_dA, d_A = on_device(dA, A)
    device.activation_backward(d_dA, d_A, HIDDEN_CODES[name], SLOPE)
    expected = cpu.activation_backward(dA.copy(), A, HIDDEN_CODES[name], SLOPE)
    assert_rel(d_dA.copy_to_host(), expected)


@pytest.mark.parametrize("n, m", [(5, 11), (1, 1), (3, 2)])
def test_row_sums_match_numpy(n, m):
    M = np.random.default_rng(n * m).standard_normal((n, m))
    dM, dout = on_device(M, np.full(n, np.nan))
    device.row_sums(dM, 1.0 / m, dout)
    assert_rel(dout.copy_to_host(), M.sum(axis=1) / m)


@pytest.mark.parametrize("name", sorted(OUTPUT_CODES))
@pytest.mark.parametrize("m", [9, 1])
def test_cost_matches_cpu(name, m):
    rng = np.random.default_rng(m)
    n = 3
    ZL = 5 * rng.standard_normal((n, m))     # some saturated outputs
    if OUTPUT_CODES[name] == SOFTMAX:
        Y = np.eye(n)[:, rng.integers(0, n, m)]
    else:
        Y = (rng.random((n, m)) < 0.5).astype(float)
    dZL, dY, losses, out = on_device(ZL, Y, np.empty((1, m)), np.full(1, np.nan))
    device.cost_into(dZL, dY, OUTPUT_CODES[name], losses, out)
    assert_rel(out.copy_to_host()[0], cpu.cost(ZL, Y, OUTPUT_CODES[name]))


def test_update_matches_numpy():
    rng = np.random.default_rng(5)
    theta, grad = rng.standard_normal(13), rng.standard_normal(13)
    d_theta, d_grad = on_device(theta, grad)
    device.update(d_theta, d_grad, 0.7)
    assert_rel(d_theta.copy_to_host(), theta - 0.7 * grad)


# Compiles every kernel for a real GPU (sm_90, float64 and float32) without one: needs
# the CUDA toolkit's compiler libraries (pip install 'deepjit[cuda]'), else skipped.
COMPILE_FOR_REAL_GPU = """
from deepjit.engines.cuda import dense_block, examples
from deepjit.engines.cuda import layers as k
for dtype in (np.float64, np.float32):
    f = from_dtype(np.dtype(dtype))
    M, V = types.Array(f, 2, "C"), types.Array(f, 1, "C")
    code = types.int64
    I, V64, M64 = types.Array(types.int64, 1, "C"), types.float64[::1], types.float64[:, ::1]
    block_signature = ((V, V) + (I,) * 5 + (f, M, V, M, M, M, M, V64, f, types.int64,
                                            types.boolean))
    for kernel, sig in [
            (k.bias_activation, (M, M, code, f)), (k.output_activation, (M, M, code, M)),
            (k.output_delta, (M, M, M, code, M)), (k.activation_backward, (M, M, code, f)),
            (k.column_losses, (M, M, code, M)), (k.update, (V, V, f)),
            (k.row_sums_kernel(256), (M, types.float64, V)),
            (k.row_sums_kernel(256), (M, types.float64, types.float64[::1])),
            (k.matmul_kernel(16, f), (M, M, M, types.boolean, types.boolean, f))]:
        check_launchable(kernel, sig, 256)
    for threads in (256, 1024):
        check_launchable(dense_block.block_kernel(threads), block_signature, threads)
    examples_signature = ((V, V) + (I,) * 6 + (f, M64, V64, M64, M, V, M, M, M,
                          types.int64[:, ::1], V64, V64, f, types.int64, types.int64,
                          types.boolean))
    for threads, rows in [(128, 20), (128, 32), (256, 20), (64, 1)]:
        check_launchable(examples.examples_kernel(threads, rows), examples_signature,
                         threads)
print("COMPILED")
"""


def test_kernels_compile_for_a_real_gpu():
    assert cuda_setup.compile_for_a_real_gpu(COMPILE_FOR_REAL_GPU).strip() == "COMPILED"
