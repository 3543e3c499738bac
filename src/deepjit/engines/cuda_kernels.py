"""The ``@cuda.jit`` kernels of the "cuda" engine: GPU twins of ``engines/cpu.py``.

Arrays are C-ordered device arrays, ``Z, A, dA, dZ, Y : (n, m)`` (one example per
column), ``b : (n, 1)``.  Every formula is the one of the cpu kernel of the same name.
Kernels take no launch settings from globals (Numba freezes globals at compile time):
the host driver in ``engines/cuda.py`` chooses the launch shape, and the kernels whose
shared-memory size must be a compile-time constant come from a factory keyed by it.

- ``bias_activation(Z, b, code, slope)``: ``Z <- g(Z + b)`` in place (hidden codes).
- ``output_activation(Z, b, code, A)``: ``Z <- Z + b``, ``A = g(Z)`` (output codes; one
  thread per column, so softmax stays within a thread).
- ``output_delta(Z, b, Y, code, dZ)``: the same, then ``dZ = A - Y`` (training).
- ``activation_backward(dA, A, code, slope)``: ``dA <- dA * g'(A)`` in place.
- ``column_losses(ZL, Y, code, losses)``: the stable loss of each column, ``(1, m)``.
- ``update(theta, grad, learning_rate)``: ``theta <- theta - learning_rate * grad``.
- ``row_sums_kernel(threads)``: ``out[i] = scale * sum_j M[i, j]`` (db, the cost).
- ``matmul_kernel(tile, dtype)``: ``C = alpha op(A) op(B)``, shared-memory tiles.

The 1-D kernels use grid-stride loops, so any launch shape covers any size.
"""
import functools
import math

from numba import cuda, float64

from ..activations import LEAKY_RELU, RELU, SIGMOID, SOFTMAX, TANH


@cuda.jit(device=True)
def _hidden(z, code, slope):
    """``g(z)`` for a hidden code (as ``cpu.bias_activation``)."""
    if code == RELU:
        return z if z > 0 else 0.0 * z
    if code == LEAKY_RELU:
        return z if z > 0 else slope * z
    if code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-z))
    if code == TANH:
        return math.tanh(z)
    return z


@cuda.jit(device=True)
def _hidden_derivative(da, a, code, slope):
    """``da * g'(z)`` from ``a = g(z)`` (as ``cpu.activation_backward``)."""
    if code == RELU:
        return da if a > 0 else 0.0 * da
    if code == LEAKY_RELU:
        return da if a > 0 else slope * da
    if code == SIGMOID:
        return da * (a * (1.0 - a))
    if code == TANH:
        return da * (1.0 - a * a)
    return da


@cuda.jit
def bias_activation(Z, b, code, slope):
    n, m = Z.shape
    for k in range(cuda.grid(1), n * m, cuda.gridsize(1)):
        i, j = k // m, k % m
        Z[i, j] = _hidden(Z[i, j] + b[i, 0], code, slope)


@cuda.jit(device=True)
def _column_max(Z, j):
    """The largest entry of column ``j`` (the shift that keeps exp from overflowing)."""
    zmax = Z[0, j]
    for i in range(1, Z.shape[0]):
        zmax = max(zmax, Z[i, j])
    return zmax


@cuda.jit(device=True)
def _output_column(Z, b, code, A, j):
    """Column ``j``: ``Z[:, j] += b``, ``A[:, j] = g(Z[:, j])`` (as ``cpu.forward``'s
    last layer: bias, then ``cpu.output_activation``)."""
    n = Z.shape[0]
    for i in range(n):
        Z[i, j] = Z[i, j] + b[i, 0]
    if code == SOFTMAX:
        zmax = _column_max(Z, j)
        total = 0.0
        for i in range(n):
            A[i, j] = math.exp(Z[i, j] - zmax)
            total += A[i, j]
        for i in range(n):
            A[i, j] = A[i, j] / total
    elif code == SIGMOID:
        for i in range(n):
            A[i, j] = 1.0 / (1.0 + math.exp(-Z[i, j]))
    else:
        for i in range(n):
            A[i, j] = Z[i, j]


@cuda.jit
def output_activation(Z, b, code, A):
    for j in range(cuda.grid(1), Z.shape[1], cuda.gridsize(1)):
        _output_column(Z, b, code, A, j)


@cuda.jit
def output_delta(Z, b, Y, code, dZ):
    for j in range(cuda.grid(1), Z.shape[1], cuda.gridsize(1)):
        _output_column(Z, b, code, dZ, j)
        for i in range(Z.shape[0]):
            dZ[i, j] = dZ[i, j] - Y[i, j]


@cuda.jit
def activation_backward(dA, A, code, slope):
    n, m = dA.shape
    for k in range(cuda.grid(1), n * m, cuda.gridsize(1)):
        i, j = k // m, k % m
        dA[i, j] = _hidden_derivative(dA[i, j], A[i, j], code, slope)


@cuda.jit
def column_losses(ZL, Y, code, losses):
    """``losses[0, j]``: the loss of column j from the pre-activations (as ``cpu.cost``,
    before the mean)."""
    n = ZL.shape[0]
    for j in range(cuda.grid(1), ZL.shape[1], cuda.gridsize(1)):
        total = 0.0
        if code == SOFTMAX:
            zmax = _column_max(ZL, j)
            s = 0.0
            for i in range(n):
                s += math.exp(ZL[i, j] - zmax)
            lse = zmax + math.log(s)
            for i in range(n):
                total += Y[i, j] * (lse - ZL[i, j])
        else:
            for i in range(n):
                z, y = ZL[i, j], Y[i, j]
                if code == SIGMOID:
                    total += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))
                else:
                    total += 0.5 * (z - y) * (z - y)
        losses[0, j] = total


@cuda.jit
def update(theta, grad, learning_rate):
    for k in range(cuda.grid(1), theta.size, cuda.gridsize(1)):
        theta[k] = theta[k] - learning_rate * grad[k]


@functools.lru_cache(maxsize=None)
def row_sums_kernel(threads):
    """A kernel ``(M, scale, out)``: ``out[i] = scale * sum_j M[i, j]``, one block of
    ``threads`` (a power of two) per row, a tree reduction in shared memory (float64)."""

    @cuda.jit
    def row_sums(M, scale, out):
        partial = cuda.shared.array(threads, dtype=float64)
        t = cuda.threadIdx.x
        for i in range(cuda.blockIdx.x, M.shape[0], cuda.gridDim.x):
            total = 0.0
            for j in range(t, M.shape[1], threads):
                total += M[i, j]
            partial[t] = total
            cuda.syncthreads()
            step = threads // 2
            while step > 0:
                if t < step:
                    partial[t] += partial[t + step]
                cuda.syncthreads()
                step //= 2
            if t == 0:
                out[i] = scale * partial[0]
            cuda.syncthreads()

    return row_sums


@functools.lru_cache(maxsize=None)
def matmul_kernel(tile, dtype):
    """A kernel ``(A, B, C, trans_a, trans_b, alpha)``: ``C = alpha op(A) op(B)``, where
    ``op(A) = A.T`` if ``trans_a`` (``op(A) : (M, K)``, ``op(B) : (K, N)``, ``C : (M,
    N)``).  Blocks of ``tile x tile`` threads, one output element each; each step loads
    a tile of op(A) and of op(B) into shared memory, reading along the contiguous
    axis of memory (so a transposed operand is stored transposed in the tile).
    ``dtype`` is the Numba type of the arrays (and of the accumulator)."""

    @cuda.jit
    def matmul(A, B, C, trans_a, trans_b, alpha):
        tile_a = cuda.shared.array((tile, tile), dtype=dtype)   # op(A)[row0 + r, k0 + c]
        tile_b = cuda.shared.array((tile, tile), dtype=dtype)   # op(B)[k0 + r, col0 + c]
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * tile, cuda.blockIdx.x * tile
        M, N = C.shape
        K = A.shape[0] if trans_a else A.shape[1]
        zero = acc = dtype(0)
        for k0 in range(0, K, tile):
            if trans_a:      # A[k0 + ty, row0 + tx] is op(A)[row0 + tx, k0 + ty]
                inside = row0 + tx < M and k0 + ty < K
                tile_a[tx, ty] = A[k0 + ty, row0 + tx] if inside else zero
            else:
                inside = row0 + ty < M and k0 + tx < K
                tile_a[ty, tx] = A[row0 + ty, k0 + tx] if inside else zero
            if trans_b:      # B[col0 + ty, k0 + tx] is op(B)[k0 + tx, col0 + ty]
                inside = col0 + ty < N and k0 + tx < K
                tile_b[tx, ty] = B[col0 + ty, k0 + tx] if inside else zero
            else:
                inside = k0 + ty < K and col0 + tx < N
                tile_b[ty, tx] = B[k0 + ty, col0 + tx] if inside else zero
            cuda.syncthreads()
            for kk in range(tile):
                acc += tile_a[ty, kk] * tile_b[kk, tx]
            cuda.syncthreads()
        if row0 + ty < M and col0 + tx < N:
            C[row0 + ty, col0 + tx] = alpha * acc

    return matmul
