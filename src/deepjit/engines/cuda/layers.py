"""The per-layer ``@cuda.jit`` kernels of the cuda engine: GPU twins of ``cpu/layers.py``.

Arrays are C-ordered device arrays, ``Z, A, dA, dZ, Y : (n, m)`` (one example per
column), ``b : (n, 1)``.  Every formula is the one of the cpu kernel of the same name,
and the losses are ``engines/losses.py``'s, shared with the cpu.  Kernels take no launch
settings from globals (Numba freezes globals at compile time): the host code in
``device.py`` chooses the launch shape, and the kernels whose shared-memory size must be
a compile-time constant come from a factory keyed by it.

- ``bias_activation(Z, b, code, slope)``: ``Z <- g(Z + b)`` in place (hidden codes).
- ``output_activation(Z, b, code, A)``: ``Z <- Z + b``, ``A = g(Z)`` (output codes; one
  thread per column, so softmax stays within a thread).
- ``output_delta(Z, b, Y, code, dZ)``: the same, then ``dZ = A - Y`` (training).
- ``activation_backward(dA, A, code, slope)``: ``dA <- dA * g'(A)`` in place.
- ``column_losses(ZL, Y, code, out)``: the stable loss of each column, ``(1, m)``.
- ``update(theta, grad, learning_rate)``: ``theta <- theta - learning_rate * grad``.
- ``row_sums_kernel(threads)``: ``out[i] = scale * sum_j M[i, j]`` (db, the cost).
- ``matmul_kernel(tile, dtype, bits)``: ``C = alpha op(A) op(B)``, shared-memory tiles;
  with ``bits < 24`` (float32 only) every operand is first ``rounded`` to ``bits``
  significant bits (11: TF32, 8: bfloat16) and the products summed in float32, the
  semantics of a tensor-core product with float32 accumulation.

The device functions ``hidden``, ``hidden_derivative``, ``output_column``,
``column_loss`` and ``block_sum`` serve the whole-iteration kernels too
(``dense_block.py``, ``examples.py``, ``streamed.py``).

Every kernel uses grid-stride loops, so any launch shape covers any size; the
elementwise kernels on ``(n, m)`` matrices take a 2-D grid (``y`` over rows, ``x`` over
columns), so no thread divides an index.
"""
import functools
import math

from numba import cuda, float32, float64

from ...activations import LEAKY_RELU, RELU, SIGMOID, SOFTMAX, TANH
from .. import losses
from .compiler import on_device

column_max = on_device(losses.column_max)


@cuda.jit(device=True)
def hidden(z, code, slope):
    """``g(z)`` for a hidden code (as the cpu's ``layers.bias_activation``).  ``slope`` has the
    dtype's precision: ``slope ** 0`` is a 1 of that precision, where a float literal
    would make float32 arithmetic float64."""
    one = slope ** 0
    if code == RELU:
        return one - one if z <= 0 else z          # NaN passes, as on the cpu
    if code == LEAKY_RELU:
        return slope * z if z <= 0 else z
    if code == SIGMOID:
        return one / (one + math.exp(-z))
    if code == TANH:
        return math.tanh(z)
    return z


@cuda.jit(device=True)
def hidden_derivative(da, a, code, slope):
    """``da * g'(z)`` from ``a = g(z)`` (as the cpu's ``layers.activation_backward``;
    ``one`` as in ``hidden``)."""
    one = slope ** 0
    if code == RELU:
        return da if a > 0 else one - one
    if code == LEAKY_RELU:
        return da if a > 0 else slope * da
    if code == SIGMOID:
        return da * (a * (one - a))
    if code == TANH:
        return da * (one - a * a)
    return da


@cuda.jit
def bias_activation(Z, b, code, slope):
    for i in range(cuda.blockIdx.y, Z.shape[0], cuda.gridDim.y):
        for j in range(cuda.grid(1), Z.shape[1], cuda.gridsize(1)):
            Z[i, j] = hidden(Z[i, j] + b[i, 0], code, slope)


@cuda.jit(device=True)
def output_column(Z, b, code, A, j):
    """Column ``j``: ``Z[:, j] += b``, ``A[:, j] = g(Z[:, j])`` (as the cpu's
    ``network.output_layer``: bias, then ``layers.output_activation``)."""
    n = Z.shape[0]
    for i in range(n):
        Z[i, j] = Z[i, j] + b[i, 0]
    if code == SOFTMAX:
        zmax = column_max(Z, j)
        total = 0.0
        for i in range(n):
            A[i, j] = losses.shifted_exp(Z[i, j], zmax)
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
        output_column(Z, b, code, A, j)


@cuda.jit
def output_delta(Z, b, Y, code, dZ):
    for j in range(cuda.grid(1), Z.shape[1], cuda.gridsize(1)):
        output_column(Z, b, code, dZ, j)
        for i in range(Z.shape[0]):
            dZ[i, j] = dZ[i, j] - Y[i, j]


@cuda.jit
def activation_backward(dA, A, code, slope):
    for i in range(cuda.blockIdx.y, dA.shape[0], cuda.gridDim.y):
        for j in range(cuda.grid(1), dA.shape[1], cuda.gridsize(1)):
            dA[i, j] = hidden_derivative(dA[i, j], A[i, j], code, slope)


@cuda.jit(device=True)
def column_loss(ZL, Y, code, j):
    """The stable loss of column ``j`` from the pre-activations (as the cpu's
    ``layers.cost``, before the mean)."""
    n = ZL.shape[0]
    total = 0.0
    if code == SOFTMAX:
        zmax = column_max(ZL, j)
        s = 0.0
        for i in range(n):
            s += losses.shifted_exp(ZL[i, j], zmax)
        lse = losses.log_sum_exp(zmax, s)
        for i in range(n):
            total += losses.cross_entropy_term(ZL[i, j], Y[i, j], lse)
    else:
        for i in range(n):
            total += losses.entry_loss(ZL[i, j], Y[i, j], code)
    return total


@cuda.jit
def column_losses(ZL, Y, code, out):
    """``out[0, j]``: the loss of column j."""
    for j in range(cuda.grid(1), ZL.shape[1], cuda.gridsize(1)):
        out[0, j] = column_loss(ZL, Y, code, j)


@cuda.jit
def update(theta, grad, learning_rate):
    for k in range(cuda.grid(1), theta.size, cuda.gridsize(1)):
        theta[k] = theta[k] - learning_rate * grad[k]


@cuda.jit(device=True)
def block_sum(partial, value):
    """The sum of every thread's ``value``, returned to all threads of the block: a tree
    in ``partial`` (float64, one slot per thread; the block size a power of two), in a
    fixed order."""
    t = cuda.threadIdx.x
    partial[t] = value
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            partial[t] += partial[t + step]
        cuda.syncthreads()
        step //= 2
    total = partial[0]
    cuda.syncthreads()            # all have read it before partial is written again
    return total


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
            total = block_sum(partial, total)
            if t == 0:
                out[i] = scale * total

    return row_sums


FLOAT32_BITS = 24     # significant bits of a float32 (23 stored, one implicit)


@cuda.jit(device=True)
def rounded(x, bits):
    """float32 ``x`` rounded to nearest (ties to even) with ``bits`` significant bits,
    as a float32: adding ``C = 1.5 * 2^k`` whose float32 spacing is the spacing wanted
    rounds once (float addition rounds to nearest even), subtracting it back is exact.
    Only additions, so no fused multiply-add can change it.  For ``|x| < 2^100``
    (``C`` stays finite), ``bits < 22``."""
    _, e = math.frexp(x)
    c = math.ldexp(float32(1.5), e - bits + FLOAT32_BITS - 1)
    return (x + c) - c


@functools.lru_cache(maxsize=None)
def matmul_kernel(tile, dtype, bits=FLOAT32_BITS):
    """A kernel ``(A, B, C, trans_a, trans_b, alpha)``: ``C = alpha op(A) op(B)``, where
    ``op(A) = A.T`` if ``trans_a`` (``op(A) : (M, K)``, ``op(B) : (K, N)``, ``C : (M,
    N)``).  Blocks of ``tile x tile`` threads, one output element each; each step loads
    a tile of op(A) and of op(B) into shared memory, reading along the contiguous
    axis of memory (so a transposed operand is stored transposed in the tile).
    ``dtype`` is the Numba type of the arrays (and of the accumulator); ``bits <
    FLOAT32_BITS`` rounds every operand first (``rounded``; float32 only)."""
    exact = bits >= FLOAT32_BITS

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
            if not exact:   # each thread rounds the entries it stored
                ra, ca = (tx, ty) if trans_a else (ty, tx)
                rb, cb = (tx, ty) if trans_b else (ty, tx)
                tile_a[ra, ca] = rounded(tile_a[ra, ca], bits)
                tile_b[rb, cb] = rounded(tile_b[rb, cb], bits)
            cuda.syncthreads()
            for kk in range(tile):
                acc += tile_a[ty, kk] * tile_b[kk, tx]
            cuda.syncthreads()
        if row0 + ty < M and col0 + tx < N:
            C[row0 + ty, col0 + tx] = alpha * acc

    return matmul

