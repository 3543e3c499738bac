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
- ``block_kernel(threads)``: whole iterations of a small network in one block.

Every kernel uses grid-stride loops, so any launch shape covers any size; the
elementwise kernels on ``(n, m)`` matrices take a 2-D grid (``y`` over rows, ``x`` over
columns), so no thread divides an index.
"""
import functools
import math

from numba import cuda, float64

from ..activations import LEAKY_RELU, RELU, SIGMOID, SOFTMAX, TANH

# numba.cuda is the CUDA simulator (NUMBA_ENABLE_CUDASIM=1 when it was first imported)
SIMULATOR = cuda.is_available.__module__.endswith("simulator_init")


def bounded_jit(threads):
    """``cuda.jit`` for a kernel launched with at most ``threads`` threads per block: the
    compiler keeps to the registers that many threads can share (spilling if it must),
    so the launch cannot fail for lack of them.  (The simulator takes no bounds.)"""
    return cuda.jit if SIMULATOR else cuda.jit(launch_bounds=threads)


@cuda.jit(device=True)
def _hidden(z, code, slope):
    """``g(z)`` for a hidden code (as ``cpu.bias_activation``).  ``slope`` has the
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
def _hidden_derivative(da, a, code, slope):
    """``da * g'(z)`` from ``a = g(z)`` (as ``cpu.activation_backward``; ``one`` as in
    ``_hidden``)."""
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
    for i in range(cuda.blockIdx.y, dA.shape[0], cuda.gridDim.y):
        for j in range(cuda.grid(1), dA.shape[1], cuda.gridsize(1)):
            dA[i, j] = _hidden_derivative(dA[i, j], A[i, j], code, slope)


@cuda.jit(device=True)
def _column_loss(ZL, Y, code, j):
    """The stable loss of column ``j`` from the pre-activations (as ``cpu.cost``, before
    the mean)."""
    n = ZL.shape[0]
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
    return total


@cuda.jit
def column_losses(ZL, Y, code, losses):
    """``losses[0, j]``: the loss of column j."""
    for j in range(cuda.grid(1), ZL.shape[1], cuda.gridsize(1)):
        losses[0, j] = _column_loss(ZL, Y, code, j)


@cuda.jit
def update(theta, grad, learning_rate):
    for k in range(cuda.grid(1), theta.size, cuda.gridsize(1)):
        theta[k] = theta[k] - learning_rate * grad[k]


@cuda.jit(device=True)
def _block_sum(partial, value):
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
            total = _block_sum(partial, total)
            if t == 0:
                out[i] = scale * total

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


# -- small networks in one block ----------------------------------------------------
# Flat buffers as in ``engines/cpu.py``: ``theta``/``grad`` in ``cpu.Layout`` order (layer
# l's W at ``w_off[l]``, row-major, its b at ``b_off[l]``) and the activations ``acts``
# (layer l's (n_l, m) at ``a_off[l]``); ``deltas`` is two (widest, m) buffers used in
# turn for dZ_l and dZ_{l-1}.  Sums are accumulated in float64 whatever the dtype.

@cuda.jit(device=True)
def _dense_layer(theta, w, b, n, n_prev, acts, a_prev, out, m, j0, width, code, slope,
                 hidden):
    """``acts[out:] = W A_prev`` (+ b and the hidden activation if ``hidden``) on the
    columns ``j0 .. j0 + width - 1`` (rows of ``m``), with the block's threads over the
    ``(n, width)`` entries."""
    for k in range(cuda.threadIdx.x, n * width, cuda.blockDim.x):
        i = k // width
        j = j0 + k - i * width
        at = out + i * m + j
        total = 0.0
        for q in range(n_prev):
            total += theta[w + i * n_prev + q] * acts[a_prev + q * m + j]
        acts[at] = total          # rounded to the dtype, then the bias added in it
        if hidden:
            acts[at] = _hidden(acts[at] + theta[b + i], code, slope)


@cuda.jit(device=True)
def _dot(a, a0, b, b0, n):
    """``sum_j a[a0 + j] * b[b0 + j]`` for j < n in float64, in four interleaved partial
    sums: four loads in flight instead of one (a single running sum waits for each)."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = n - n % 4
    for j in range(0, n4, 4):
        s0 += a[a0 + j] * b[b0 + j]
        s1 += a[a0 + j + 1] * b[b0 + j + 1]
        s2 += a[a0 + j + 2] * b[b0 + j + 2]
        s3 += a[a0 + j + 3] * b[b0 + j + 3]
    for j in range(n4, n):
        s0 += a[a0 + j] * b[b0 + j]
    return (s0 + s1) + (s2 + s3)


@cuda.jit(device=True)
def _sum(a, a0, n):
    """``sum_j a[a0 + j]`` for j < n in float64, four interleaved partial sums."""
    s0 = s1 = s2 = s3 = 0.0
    n4 = n - n % 4
    for j in range(0, n4, 4):
        s0 += a[a0 + j]
        s1 += a[a0 + j + 1]
        s2 += a[a0 + j + 2]
        s3 += a[a0 + j + 3]
    for j in range(n4, n):
        s0 += a[a0 + j]
    return (s0 + s1) + (s2 + s3)


@cuda.jit(device=True)
def _layer_gradients(dZ, n, n_prev, acts, a_prev, grad, w, b, m):
    """``dW = 1/m dZ A_prev^T`` and ``db = 1/m sum_j dZ`` into ``grad``, flat."""
    inv_m = 1.0 / m
    for k in range(cuda.threadIdx.x, n * n_prev + n, cuda.blockDim.x):
        if k < n * n_prev:
            i = k // n_prev
            grad[w + k] = inv_m * _dot(dZ, i * m, acts, a_prev + (k - i * n_prev) * m, m)
        else:
            grad[b + k - n * n_prev] = inv_m * _sum(dZ, (k - n * n_prev) * m, m)


@cuda.jit(device=True)
def _delta_back(theta, w, n, n_prev, dZ, d0, acts, a_prev, dZ_prev, p0, m, j0, width,
                code, slope):
    """``dZ_prev = (W^T dZ) * g'(A_prev)`` on the columns ``j0 .. j0 + width - 1`` (flat,
    rows of ``m``: dZ from ``d0``, dZ_prev from ``p0``)."""
    for k in range(cuda.threadIdx.x, n_prev * width, cuda.blockDim.x):
        q = k // width
        j = j0 + k - q * width
        total = 0.0
        for i in range(n):
            total += theta[w + i * n_prev + q] * dZ[d0 + i * m + j]
        at = p0 + q * m + j
        dZ_prev[at] = total
        dZ_prev[at] = _hidden_derivative(dZ_prev[at], acts[a_prev + q * m + j], code, slope)


@cuda.jit(device=True)
def _block_mean_loss(ZL, Y, code, partial):
    """The mean loss over the columns (as ``cpu.cost``), summed over the block in
    ``partial`` (``_block_sum``)."""
    total = 0.0
    for j in range(cuda.threadIdx.x, ZL.shape[1], cuda.blockDim.x):
        total += _column_loss(ZL, Y, code, j)
    return _block_sum(partial, total) / ZL.shape[1]


@functools.lru_cache(maxsize=None)
def block_kernel(threads):
    """Whole iterations of a small network in one block of ``threads`` threads (a power
    of two): a launch runs ``n_steps`` iterations with only ``cuda.syncthreads()``
    between stages, so a chunk of iterations costs one launch instead of a few dozen
    per iteration.

    ``(theta, grad, dims, w_off, b_off, a_off, codes, slope, Y, acts, ZL, AL, bL, deltas,
    costs, learning_rate, n_steps, want_last_cost)``: ``acts`` holds X at 0, the
    activations at ``a_off[l]`` and ends with Z_L; ``ZL``, ``AL`` and ``bL`` are 2-D
    views of Z_L, A_L (in ``acts``) and b_L (in ``theta``); ``deltas : (2, widest * m)``.
    ``costs[0]`` gets the first step's cost, ``costs[1]`` the last's if asked."""

    @bounded_jit(threads)
    def block_steps(theta, grad, dims, w_off, b_off, a_off, codes, slope, Y, acts, ZL, AL,
                    bL, deltas, costs, learning_rate, n_steps, want_last_cost):
        partial = cuda.shared.array(threads, float64)
        t = cuda.threadIdx.x
        L = dims.size - 1
        m, n_out = Y.shape[1], dims[L]
        z_off = acts.size - n_out * m
        for step in range(n_steps):
            for l in range(1, L + 1):
                _dense_layer(theta, w_off[l], b_off[l], dims[l], dims[l - 1], acts,
                             a_off[l - 1], a_off[l] if l < L else z_off, m, 0, m,
                             codes[l - 1], slope, l < L)
                cuda.syncthreads()
            for j in range(t, m, threads):
                _output_column(ZL, bL, codes[L - 1], AL, j)
            cuda.syncthreads()
            if step == 0:
                costs[0] = _block_mean_loss(ZL, Y, codes[L - 1], partial)
            if want_last_cost and step == n_steps - 1:
                costs[1] = _block_mean_loss(ZL, Y, codes[L - 1], partial)
            # backward: dZ_L = A_L - Y, then layer by layer down to dZ_1
            dZ = deltas[0]
            for k in range(t, n_out * m, threads):
                i = k // m
                dZ[k] = AL[i, k - i * m] - Y[i, k - i * m]
            cuda.syncthreads()
            for l in range(L, 1, -1):
                dZ_prev = deltas[(L - l + 1) % 2]
                _layer_gradients(dZ, dims[l], dims[l - 1], acts, a_off[l - 1], grad,
                                 w_off[l], b_off[l], m)
                _delta_back(theta, w_off[l], dims[l], dims[l - 1], dZ, 0, acts,
                            a_off[l - 1], dZ_prev, 0, m, 0, m, codes[l - 2], slope)
                cuda.syncthreads()
                dZ = dZ_prev
            _layer_gradients(dZ, dims[1], dims[0], acts, a_off[0], grad, w_off[1], b_off[1],
                             m)
            cuda.syncthreads()
            for k in range(t, theta.size, threads):
                theta[k] = theta[k] - learning_rate * grad[k]
            cuda.syncthreads()

    return block_steps
