"""The "streamed" formulation on the cpu: for many examples, cache-sized chunks of
examples flow through all layers on every core and the gradients are summed, so no
``(n_l, m)`` activation matrix is ever built.  The same kernel runs the dense
formulation of problems big enough for several blocks (``engines/cpu/blocks.py``)."""
import math

import numpy as np
from numba import njit, prange

from ..formulation import STREAM_CHUNK, block_count
from .blocks import running_on, threads_for
from .layers import PRANGE_ONLY, copy, cost
from .network import CompiledTrainer, backward, descend, forward


@njit(cache=True, error_model="numpy", parallel=PRANGE_ONLY)
def train_steps_streamed(theta, lay, codes, slope, X, Y, learning_rate, n_steps,
                         want_last_cost, chunk, Xc, Yc, acts, ZL, grads, buf1, buf2):
    """As ``train_steps``, streaming the examples in chunks of ``chunk`` columns through
    all layers and summing the gradients, so no (n_l, m) matrix is ever formed.  The
    chunks are dealt out in contiguous runs to ``grads.shape[0]`` blocks, each with its
    own buffers (row g of each 2-D buffer) and gradient sum; the blocks' sums are added
    in block order, so results depend neither on scheduling nor on the thread count."""
    n0, m = X.shape
    n_out, G = Y.shape[0], grads.shape[0]
    n_chunks = (m + chunk - 1) // chunk
    first = last = np.nan
    losses = np.zeros(G)
    for step in range(n_steps):
        want_cost = step == 0 or (want_last_cost and step == n_steps - 1)
        for g in prange(G):
            losses[g] = 0.0
            grads[g, :] = 0.0
            grad = np.empty_like(theta)
            for c in range(g * n_chunks // G, (g + 1) * n_chunks // G):
                j0 = c * chunk
                mc = min(chunk, m - j0)
                Xt = Xc[g, :n0 * mc].reshape((n0, mc))
                Yt = Yc[g, :n_out * mc].reshape((n_out, mc))
                copy(X[:, j0:j0 + mc], Xt)
                copy(Y[:, j0:j0 + mc], Yt)
                ZLt = ZL[g, :n_out * mc].reshape((n_out, mc))
                forward(theta, lay, codes, slope, Xt, acts[g], ZLt)
                if want_cost:
                    losses[g] += cost(ZLt, Yt, codes[-1]) * mc
                backward(theta, lay, codes, slope, Xt, Yt, acts[g], grad, buf1[g], buf2[g],
                         True)
                weight = mc / m
                for k in range(theta.size):
                    grads[g, k] += weight * grad[k]
        for k in prange(theta.size):
            total = grads[0, k]
            for g in range(1, G):
                total += grads[g, k]
            grads[0, k] = total
        loss = 0.0
        for g in range(G):       # a loop: parallel=True would make losses.sum() a parallel
            loss += losses[g]    # reduction, whose order depends on the thread count
        if step == 0:
            first = loss / m
        if want_last_cost and step == n_steps - 1:
            last = loss / m
        descend(theta, grads[0], learning_rate)
    return first, last


class StreamedTrainer(CompiledTrainer):
    """For many examples: chunks of ``chunk`` columns flow through all layers in
    ``blocks`` blocks (by default ``formulation.block_count``: the problem's size decides,
    never the thread count), run on ``num_threads`` threads (all cores by default, at
    most one per block) with BLAS on one thread inside; memory beyond the data is a few
    chunk-sized buffers per block.  The default of 256 columns keeps a block's buffers in
    its L2 cache for networks of a few hundred units (fastest of 64 .. 4096 on the tall
    benchmark, [30, 64, 32, 1])."""

    def __init__(self, parameters, X, Y, net, learning_rate, chunk=STREAM_CHUNK, num_threads=None,
                 blocks=None):
        m = Y.shape[1]
        chunk = int(min(chunk, m))
        n_chunks = math.ceil(m / chunk)
        blocks = min(blocks or block_count(net.layer_dims, m, n_chunks, X.dtype.itemsize),
                     n_chunks)
        super().__init__(parameters, X, Y, net, learning_rate, columns=chunk, copies=blocks)
        self.X, self.chunk = X, chunk
        self.threads = threads_for(blocks, num_threads)
        dtype, n_out = X.dtype, Y.shape[0]
        self.ZL = np.zeros((blocks, n_out * chunk), dtype)
        self.Xc = np.zeros((blocks, X.shape[0] * chunk), dtype)
        self.Yc = np.zeros((blocks, n_out * chunk), dtype)

    def run(self, n_steps, want_last_cost):
        with running_on(self.threads):
            return train_steps_streamed(
                self.theta, self.layout.arrays, self.codes, self.slope, self.X, self.Y,
                self.lr, n_steps, want_last_cost, self.chunk, self.Xc, self.Yc, self.acts,
                self.ZL, self.grad, self.buf1, self.buf2)
