"""The "examples" formulation of the cuda engine, on the whole GPU: the cat workload
(X : (12288, 209), [12288, 20, 7, 5, 1]).

The first layer is carried in example space as on the cpu (``cpu/examples.py``):
``P = W1 X``, ``G = X^T X`` and ``S = sum dZ1`` (float64), ``P <- P - (lr/m) dZ1 G``;
W1 itself stays W1_0 until ``parameters()`` rebuilds it.  The rest of the network is
tiny, so one launch runs a whole chunk of iterations (``examples_kernel``), each in two
phases with a grid-wide barrier after each (a cooperative launch):

1. **columns** -- block b owns the columns ``b c .. b c + c - 1`` and takes them forward
   (from P) and backward (down to dZ1) on its own: every layer's work on a column needs
   only that column.  Also ``S += dZ1`` and, when asked, the loss of each column.
2. **sums** -- everything that sums over the columns, as ``m + n_g`` tasks dealt out to
   the blocks: column j of P (``n_1`` dot products with ``G[:, j]``), and the gradient
   tasks (``gradient_tasks``: a row of some dW_l, or all of some db_l), each followed
   by the update of its entries of theta.  A block sums its dot products in a fixed
   order (``block_dots``), so results are bitwise reproducible.

Arrays: ``theta`` (``engines/layout.py`` order), and one flat ``work`` buffer in the model dtype
holding, in rows of m, the activations A_1 .. A_L (at ``Layout.a_off``), Z_L, the deltas
dZ_1 .. dZ_L (at ``d_off``) and a row of ones (for the bias sums).  The CUDA simulator
runs one block (its grid barrier is a block barrier).  Launch settings:
``EXAMPLES_THREADS`` and ``EXAMPLES_ROWS_MAX`` in ``settings.py``.
"""
import functools

import numpy as np
from numba import cuda, float64, typeof

from .. import example_space
from ..layout import Layout
from . import settings
from .compiler import bounded_jit
from .dense_block import delta_back, dense_layer
from .device import DeviceTrainer, resident_blocks
from .layers import block_sum, column_loss, hidden, output_column


def block_dots(rows, threads):
    """A device function ``(A, a0, n_rows, B, b0, n, partial)``: ``partial[r, 0] =
    sum_q A[a0 + r n + q] B[b0 + q]`` for ``r < n_rows <= rows``, in float64: each thread
    takes every ``threads``-th q for all rows (``rows`` registers), then a tree over the
    threads in ``partial : (rows, threads)``."""

    @cuda.jit(device=True)
    def dots(A, a0, n_rows, B, b0, n, partial):
        t = cuda.threadIdx.x
        acc = cuda.local.array(rows, float64)
        for r in range(rows):
            acc[r] = 0.0
        for q in range(t, n, threads):
            bq = float64(B[b0 + q])
            for r in range(rows):
                if r < n_rows:
                    acc[r] += A[a0 + r * n + q] * bq
        cuda.syncthreads()        # the last results in partial[:, 0] have been read
        for r in range(rows):
            partial[r, t] = acc[r]
        cuda.syncthreads()
        half = threads // 2
        while half > 0:
            if t < half:
                for r in range(rows):
                    partial[r, t] += partial[r, t + half]
            cuda.syncthreads()
            half //= 2

    return dots


@functools.lru_cache(maxsize=None)
def examples_kernel(threads, rows):
    """The kernel ``(theta, grad, dims, w_off, b_off, a_off, d_off, codes, slope, P, GT,
    S, Y, work, ZL, AL, bL, tasks, losses, costs, learning_rate, columns, n_steps,
    want_last_cost)``: ``n_steps`` iterations (module docstring).  ``GT``: ``G^T``
    flat (row j is column j of G); ``ZL, AL, bL``: 2-D views of Z_L, A_L (in ``work``) and
    b_L (in ``theta``); ``tasks : (n_g, 4)`` (``gradient_tasks``); ``losses : (m,)``
    scratch; ``columns``: the columns per block.  ``costs[0]`` gets the first step's
    cost, ``costs[1]`` the last's if asked."""
    dots = block_dots(rows, threads)

    @bounded_jit(threads)
    def examples_steps(theta, grad, dims, w_off, b_off, a_off, d_off, codes, slope, P, GT,
                       S, Y, work, ZL, AL, bL, tasks, losses, costs, learning_rate, columns,
                       n_steps, want_last_cost):
        partial = cuda.shared.array((rows, threads), float64)
        grid = cuda.cg.this_grid()
        t, block = cuda.threadIdx.x, cuda.blockIdx.x
        L, m = dims.size - 1, Y.shape[1]
        n1, n_out = dims[1], dims[L]
        j0 = min(block * columns, m)
        width = min(columns, m - j0)
        z_off = a_off[L] + n_out * m
        step_size = float64(learning_rate) * (1.0 / m)
        for step in range(n_steps):
            want_cost = step == 0 or (want_last_cost and step == n_steps - 1)
            # phase 1: this block's columns, forward from P and back to dZ1
            for k in range(t, n1 * width, threads):
                i = k // width
                j = j0 + k - i * width
                at = (z_off if L == 1 else a_off[1]) + i * m + j
                work[at] = P[i, j]                 # rounded to the dtype, as on the cpu
                if L > 1:
                    work[at] = hidden(work[at] + theta[b_off[1] + i], codes[0], slope)
            cuda.syncthreads()
            for l in range(2, L + 1):
                dense_layer(theta, w_off[l], b_off[l], dims[l], dims[l - 1], work,
                            a_off[l - 1], a_off[l] if l < L else z_off, m, j0, width,
                            codes[l - 1], slope, l < L)
                cuda.syncthreads()
            for j in range(j0 + t, j0 + width, threads):
                output_column(ZL, bL, codes[L - 1], AL, j)
                if want_cost:
                    losses[j] = column_loss(ZL, Y, codes[L - 1], j)
                for i in range(n_out):
                    work[d_off[L] + i * m + j] = AL[i, j] - Y[i, j]
            cuda.syncthreads()
            for l in range(L, 1, -1):
                delta_back(theta, w_off[l], dims[l], dims[l - 1], work, d_off[l], work,
                           a_off[l - 1], work, d_off[l - 1], m, j0, width, codes[l - 2],
                           slope)
                cuda.syncthreads()
            for k in range(t, n1 * width, threads):
                i = k // width
                j = j0 + k - i * width
                S[i, j] += work[d_off[1] + i * m + j]
            grid.sync()
            # phase 2: the sums over the columns, and the updates
            if want_cost and block == 0:
                total = 0.0
                for j in range(t, m, threads):
                    total += losses[j]
                cost = block_sum(partial[0], total) / m
                if step == 0:
                    costs[0] = cost
                if want_last_cost and step == n_steps - 1:
                    costs[1] = cost
            for task in range(block, m + tasks.shape[0], cuda.gridDim.x):
                if task < m:                       # column j of P
                    for r0 in range(0, n1, rows):
                        count = min(rows, n1 - r0)
                        dots(work, d_off[1] + r0 * m, count, GT, task * m, m, partial)
                        if t < count:
                            P[r0 + t, task] -= step_size * partial[t, 0]
                    continue
                a0, n_rows, b0, out0 = (tasks[task - m, 0], tasks[task - m, 1],
                                        tasks[task - m, 2], tasks[task - m, 3])
                for r0 in range(0, n_rows, rows):
                    count = min(rows, n_rows - r0)
                    dots(work, a0 + r0 * m, count, work, b0, m, partial)
                    if t < count:
                        k = out0 + r0 + t
                        grad[k] = (1.0 / m) * partial[t, 0]
                        theta[k] = theta[k] - learning_rate * grad[k]
            if step < n_steps - 1:
                grid.sync()

    return examples_steps


def work_offsets(dims, m):
    """``(layout, d_off, ones_off, size)`` of the ``work`` buffer: activations at
    ``layout.a_off``, Z_L after them, the deltas at ``d_off``, then a row of ones."""
    layout = Layout(dims, m)
    d_off = layout.a_off + layout.act_size + dims[-1] * m
    ones_off = 2 * layout.act_size + dims[-1] * m
    return layout, d_off, ones_off, ones_off + m


def gradient_tasks(dims, m, layout, d_off, ones_off):
    """``(n_g, 4)`` int64 rows ``(a0, n_rows, b0, out0)``: the entries ``out0 + r`` of
    theta (``r < n_rows``) are ``1/m sum_q work[a0 + r m + q] work[b0 + q]``.  One task
    per row i of W_l, l >= 2 (``A_{l-1}`` against row i of dZ_l), and one per b_l (dZ_l
    against the ones)."""
    tasks = []
    for l in range(1, len(dims)):
        if l > 1:
            tasks += [(layout.a_off[l - 1], dims[l - 1], d_off[l] + i * m,
                       layout.w_off[l] + i * dims[l - 1]) for i in range(dims[l])]
        tasks.append((d_off[l], dims[l], ones_off, layout.b_off[l]))
    return np.array(tasks, dtype=np.int64)


class ExamplesTrainer(DeviceTrainer):
    """The example-space formulation with ``examples_kernel``: X never leaves the host
    after G and P are formed; a ``run`` is one launch and copies back the two costs."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        X, (m, dtype, dims) = np.ascontiguousarray(X), (X.shape[1], X.dtype, net.layer_dims)
        layout, d_off, ones_off, size = work_offsets(dims, m)
        self.layout, self.X, self.m = layout, X, m
        theta = layout.pack(parameters, dtype)
        self.W1_0 = layout.view(theta, 1, "W").copy()
        G, P = example_space.start(self.W1_0, X)
        self.lr, self.slope = dtype.type(learning_rate), dtype.type(net.slope)
        self.rows = min(settings.EXAMPLES_ROWS_MAX, max(dims[1:]))
        work = np.zeros(size, dtype)
        work[ones_off:] = 1
        tasks = gradient_tasks(dims, m, layout, d_off, ones_off)
        self.theta, self.grad = cuda.to_device(theta), cuda.to_device(np.zeros_like(theta))
        self.P, self.S = cuda.to_device(P), cuda.to_device(np.zeros_like(P))
        self.GT = cuda.to_device(np.ascontiguousarray(G.T).ravel())
        self.work, self.Y = cuda.to_device(work), cuda.to_device(np.ascontiguousarray(Y))
        self.offsets = [cuda.to_device(a) for a in (layout.dims, layout.w_off,
                                                    layout.b_off, layout.a_off, d_off)]
        self.codes, self.tasks = cuda.to_device(net.codes), cuda.to_device(tasks)
        self.losses, self.costs = cuda.device_array(m, np.float64), cuda.device_array(2)
        n_out, L, z_off = dims[-1], net.L, layout.act_size
        self.output = (self.work[z_off:z_off + n_out * m].reshape(n_out, m),
                       self.work[layout.a_off[L]:layout.a_off[L] + n_out * m]
                       .reshape(n_out, m),
                       self.theta[layout.b_off[L]:layout.b_off[L] + n_out].reshape(n_out, 1))
        self.grids = {}             # threads per block: blocks (at the first run)

    def steps(self, n_steps, want_last_cost):
        """One launch of ``examples_kernel``."""
        threads = settings.EXAMPLES_THREADS
        kernel = examples_kernel(threads, self.rows)
        if threads not in self.grids:   # a block per task (m + n_g), all resident at once
            signature = [typeof(a) for a in self.arguments(0, n_steps, want_last_cost)]
            self.grids[threads] = min(self.m + self.tasks.shape[0],
                                      resident_blocks(kernel, signature, threads))
        blocks = self.grids[threads]
        kernel[blocks, threads](*self.arguments(-(-self.m // blocks), n_steps,
                                                want_last_cost))

    def arguments(self, columns, n_steps, want_last_cost):
        return (self.theta, self.grad, *self.offsets, self.codes, self.slope, self.P,
                self.GT, self.S, self.Y, self.work, *self.output, self.tasks, self.losses,
                self.costs, self.lr, columns, n_steps, want_last_cost)

    def parameters(self):
        params = self.layout.unpack(self.theta.copy_to_host())
        params["W1"] = example_space.first_layer_weights(self.W1_0, self.lr,
                                                         self.S.copy_to_host(), self.X)
        return params

    def training_state(self):
        """What training changes: theta from b1 on (W1, its first slot, is carried by P
        and S), P and S."""
        return self.theta[self.layout.b_off[1]:], self.P, self.S
