"""The "streamed" formulation on the cpu: for many examples, cache-sized chunks of
examples flow through all layers on every core and the gradients are summed, so no
``(n_l, m)`` activation matrix is ever built.  The same kernel runs the dense
formulation of problems big enough for several blocks (``engines/cpu/blocks.py``)."""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from ..formulation import STREAM_CHUNK, block_count
from .blocks import running_on, threads_for
from .layers import copy, cost
from .network import CompiledTrainer, backprop, descend, forward_from


@njit(cache=True, error_model="numpy", nogil=True)
def block_gradient(theta, lay, codes, slope, X, Y, start, stop, chunk, m_all, want_cost, Xc,
                   Yc, acts, ZL, grad_sum, grad, buf1, buf2):
    """One block's share of a streamed iteration: the chunks ``start <= c < stop`` of
    ``chunk`` columns of X flow through all layers in the block's own buffers (``grad``
    holds one chunk's gradient), and ``grad_sum`` receives the sum of their gradients,
    each weighted by its share of the ``m_all`` examples of the iteration (X's columns,
    or all the blocks read from disk and all the MPI ranks: ``sharded.py``).  Returns the block's loss summed over its examples (0 unless
    ``want_cost``).  Runs without the GIL, so blocks run on Python threads: a parallel
    (``prange``) kernel took most of a cold start's compilation."""
    n0, m = X.shape
    n_out = Y.shape[0]
    loss = 0.0
    for k in range(grad_sum.size):
        grad_sum[k] = 0.0
    for c in range(start, stop):
        j0 = c * chunk
        mc = min(chunk, m - j0)
        Xt = Xc[:n0 * mc].reshape((n0, mc))
        Yt = Yc[:n_out * mc].reshape((n_out, mc))
        copy(X[:, j0:j0 + mc], Xt)
        copy(Y[:, j0:j0 + mc], Yt)
        ZLt = ZL[:n_out * mc].reshape((n_out, mc))
        forward_from(1, Xt, theta, lay, codes, slope, acts, ZLt)
        if want_cost:
            loss += cost(ZLt, Yt, codes[-1]) * mc
        backprop(theta, lay, codes, slope, Xt, Yt, acts, grad, buf1, buf2, True)
        weight = mc / m_all
        for k in range(theta.size):
            grad_sum[k] += weight * grad[k]
    return loss


class BlockSums:
    """What the streamed trainers share (this one and ``sharded.py``'s): per-block chunk
    buffers, set up by ``block_buffers``, and ``block_sums``, which runs the blocks of
    one X on a thread pool."""

    def block_buffers(self, blocks, n0, n_out, chunk, dtype):
        self.chunk = chunk
        self.ZL = np.zeros((blocks, n_out * chunk), dtype)
        self.Xc = np.zeros((blocks, n0 * chunk), dtype)
        self.Yc = np.zeros((blocks, n_out * chunk), dtype)
        self.chunk_grad = np.zeros_like(self.grad)   # a chunk's gradient, in each block

    def block_sums(self, pool, X, Y, blocks, m_all, want_cost):
        """X's chunks cut into ``blocks`` blocks of consecutive chunks, block g's
        gradient sum (weighted by 1 / ``m_all``) in ``self.grad[g]``, the blocks run on
        ``pool``; returns their losses summed in block order (0 unless ``want_cost``)
        and the number of blocks (fewer than ``blocks`` when X has fewer chunks)."""
        n_chunks = math.ceil(X.shape[1] / self.chunk)
        blocks = min(blocks, n_chunks)

        def block(g):
            return block_gradient(self.theta, self.layout.arrays, self.codes, self.slope, X,
                                  Y, g * n_chunks // blocks, (g + 1) * n_chunks // blocks,
                                  self.chunk, m_all, want_cost, self.Xc[g], self.Yc[g],
                                  self.acts[g], self.ZL[g], self.grad[g], self.chunk_grad[g],
                                  self.buf1[g], self.buf2[g])
        loss = 0.0
        for block_loss in pool.map(block, range(blocks)):  # in block order, whatever the threads
            loss += block_loss
        return loss, blocks


class StreamedTrainer(BlockSums, CompiledTrainer):
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
        self.X, self.threads = X, threads_for(blocks, num_threads)
        self.block_buffers(blocks, X.shape[0], Y.shape[0], chunk, X.dtype)

    def run(self, n_steps, want_last_cost):
        """``n_steps`` iterations: each block's gradient sum (``block_gradient``, the
        blocks on ``self.threads`` threads), the sums added in block order, one descent
        step; returns the cost of the first step and, if asked, of the last (else NaN)."""
        m, blocks = self.Y.shape[1], self.grad.shape[0]
        first = last = np.nan
        with running_on(1), ThreadPoolExecutor(self.threads) as pool:
            for step in range(n_steps):
                want_cost = step == 0 or (want_last_cost and step == n_steps - 1)
                loss, _ = self.block_sums(pool, self.X, self.Y, blocks, m, want_cost)
                total = self.grad[0]                 # the blocks' sums, in block order
                for g in range(1, blocks):
                    total += self.grad[g]
                descend(self.theta, total, self.lr)
                if step == 0:
                    first = loss / m
                if want_last_cost and step == n_steps - 1:
                    last = loss / m
        return first, last

