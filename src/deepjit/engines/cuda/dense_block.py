"""Small networks in one thread block: the "dense" formulation's kernel when the network
and data are so small that a launch per layer and step would cost more than the
arithmetic (``BLOCK_MAX_WORK`` in ``settings.py``).  ``block_kernel`` runs whole
iterations with only ``cuda.syncthreads()`` between stages, so a chunk of iterations is
one launch.

Flat buffers as on the cpu: ``theta``/``grad`` in ``engines/layout.py``'s order (layer
l's W at ``w_off[l]``, row-major, its b at ``b_off[l]``) and the activations ``acts``
(layer l's (n_l, m) at ``a_off[l]``); ``deltas`` is two (widest, m) buffers used in
turn for dZ_l and dZ_{l-1}.  Sums are accumulated in float64 whatever the dtype.  The
device functions ``dense_layer`` and ``delta_back`` serve ``examples.py`` too.
"""
import functools

import numpy as np
from numba import cuda, float64

from ..layout import Layout
from . import settings
from .compiler import bounded_jit
from .device import DeviceTrainer
from .layers import block_sum, column_loss, hidden, hidden_derivative, output_column


@cuda.jit(device=True)
def dense_layer(theta, w, b, n, n_prev, acts, a_prev, out, m, j0, width, code, slope,
                is_hidden):
    """``acts[out:] = W A_prev`` (+ b and the hidden activation if ``is_hidden``) on the
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
        if is_hidden:
            acts[at] = hidden(acts[at] + theta[b + i], code, slope)


@cuda.jit(device=True)
def dot(a, a0, b, b0, n):
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
def row_sum(a, a0, n):
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
def layer_gradients(dZ, n, n_prev, acts, a_prev, grad, w, b, m):
    """``dW = 1/m dZ A_prev^T`` and ``db = 1/m sum_j dZ`` into ``grad``, flat."""
    inv_m = 1.0 / m
    for k in range(cuda.threadIdx.x, n * n_prev + n, cuda.blockDim.x):
        if k < n * n_prev:
            i = k // n_prev
            grad[w + k] = inv_m * dot(dZ, i * m, acts, a_prev + (k - i * n_prev) * m, m)
        else:
            grad[b + k - n * n_prev] = inv_m * row_sum(dZ, (k - n * n_prev) * m, m)


@cuda.jit(device=True)
def delta_back(theta, w, n, n_prev, dZ, d0, acts, a_prev, dZ_prev, p0, m, j0, width,
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
        dZ_prev[at] = hidden_derivative(dZ_prev[at], acts[a_prev + q * m + j], code, slope)


@cuda.jit(device=True)
def block_mean_loss(ZL, Y, code, partial):
    """The mean loss over the columns (as the cpu's ``layers.cost``), summed over the block in
    ``partial`` (``block_sum``)."""
    total = 0.0
    for j in range(cuda.threadIdx.x, ZL.shape[1], cuda.blockDim.x):
        total += column_loss(ZL, Y, code, j)
    return block_sum(partial, total) / ZL.shape[1]


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
                dense_layer(theta, w_off[l], b_off[l], dims[l], dims[l - 1], acts,
                            a_off[l - 1], a_off[l] if l < L else z_off, m, 0, m,
                            codes[l - 1], slope, l < L)
                cuda.syncthreads()
            for j in range(t, m, threads):
                output_column(ZL, bL, codes[L - 1], AL, j)
            cuda.syncthreads()
            if step == 0:
                costs[0] = block_mean_loss(ZL, Y, codes[L - 1], partial)
            if want_last_cost and step == n_steps - 1:
                costs[1] = block_mean_loss(ZL, Y, codes[L - 1], partial)
            # backward: dZ_L = A_L - Y, then layer by layer down to dZ_1
            dZ = deltas[0]
            for k in range(t, n_out * m, threads):
                i = k // m
                dZ[k] = AL[i, k - i * m] - Y[i, k - i * m]
            cuda.syncthreads()
            for l in range(L, 1, -1):
                dZ_prev = deltas[(L - l + 1) % 2]
                layer_gradients(dZ, dims[l], dims[l - 1], acts, a_off[l - 1], grad,
                                w_off[l], b_off[l], m)
                delta_back(theta, w_off[l], dims[l], dims[l - 1], dZ, 0, acts,
                           a_off[l - 1], dZ_prev, 0, m, 0, m, codes[l - 2], slope)
                cuda.syncthreads()
                dZ = dZ_prev
            layer_gradients(dZ, dims[1], dims[0], acts, a_off[0], grad, w_off[1], b_off[1],
                            m)
            cuda.syncthreads()
            for k in range(t, theta.size, threads):
                theta[k] = theta[k] - learning_rate * grad[k]
            cuda.syncthreads()

    return block_steps


class BlockTrainer(DeviceTrainer):
    """Whole iterations of a small network in one block (``block_kernel``),
    so a chunk of iterations is one launch: for networks and data so small that a
    launch per layer and step would cost more than the arithmetic."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        X, m, dtype, dims = np.ascontiguousarray(X), X.shape[1], X.dtype, net.layer_dims
        self.layout = lay = Layout(dims, m)
        theta = lay.pack(parameters, dtype)
        self.lr, self.slope = dtype.type(learning_rate), dtype.type(net.slope)
        a_off = lay.a_off + X.size          # X first, then the activations, then Z_L
        a_off[0] = 0
        acts = np.concatenate([X.ravel(), np.zeros(lay.act_size + dims[-1] * m, dtype)])
        self.theta, self.grad = cuda.to_device(theta), cuda.to_device(np.zeros_like(theta))
        self.Y, self.acts = cuda.to_device(np.ascontiguousarray(Y)), cuda.to_device(acts)
        self.deltas = cuda.device_array((2, max(dims[1:]) * m), dtype)
        self.costs = cuda.device_array(2, np.float64)
        self.offsets = [cuda.to_device(a) for a in (lay.dims, lay.w_off, lay.b_off, a_off)]
        self.codes = cuda.to_device(net.codes)
        n_out, L = dims[-1], net.L           # 2-D views of Z_L, A_L and b_L
        self.output = (self.acts[acts.size - n_out * m:].reshape(n_out, m),
                       self.acts[a_off[L]:a_off[L] + n_out * m].reshape(n_out, m),
                       self.theta[lay.b_off[L]:lay.b_off[L] + n_out].reshape(n_out, 1))

    def steps(self, n_steps, want_last_cost):
        threads = settings.BLOCK_THREADS
        block_kernel(threads)[1, threads](
            self.theta, self.grad, *self.offsets, self.codes, self.slope, self.Y, self.acts,
            *self.output, self.deltas, self.costs, self.lr, n_steps, want_last_cost)


def block_work(layer_dims, m):
    """Multiply-adds per iteration of a network in one block: three products per layer
    (forward, dW, dA_prev)."""
    return 3 * m * sum(n * n_prev for n_prev, n in zip(layer_dims, layer_dims[1:]))


def fits_one_block(layer_dims, m):
    """Whether the plain network runs in one block: ``block_work`` at most
    ``BLOCK_MAX_WORK``."""
    return block_work(layer_dims, m) <= settings.BLOCK_MAX_WORK
