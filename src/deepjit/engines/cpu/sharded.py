"""Full-batch gradient descent over examples that are not all in this process's memory
at once: blocks read from disk, or shards held by several MPI processes.

Each iteration ``add_gradient`` (the streamed formulation's chunks through all layers,
without the update) adds every block's gradient sum to one flat buffer, whose last
slot holds the loss sum; one ``Allreduce`` of that buffer sums it over the processes;
every process applies the same update.  The gradient is the mean over all m examples,
so the result equals one process holding all the data, up to rounding.
"""
import numba
import numpy as np
from numba import njit, prange
from threadpoolctl import threadpool_limits

from ...validation import training_bytes
from .layers import copy, cost
from .network import CompiledTrainer, backward, descend, forward


@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def add_gradient(theta, lay, codes, slope, X, Y, weight, want_cost, chunk, Xc, Yc, acts,
                 ZL, grads, buf1, buf2, total):
    """Adds ``weight`` times the sum over the columns of X of each example's gradient
    to ``total`` (the layout of theta); returns the sum of their losses (0.0 unless
    ``want_cost``).  Thread t takes chunks t, t + T, ... of ``chunk`` columns with its
    own buffers (row t of each 2-D buffer); the per-thread sums are added in thread
    order."""
    n0, m = X.shape
    n_out, T = Y.shape[0], grads.shape[0]
    n_chunks = (m + chunk - 1) // chunk
    losses = np.zeros(T)
    for t in prange(T):
        grads[t, :] = 0.0
        grad = np.empty_like(theta)
        for c in range(t, n_chunks, T):
            j0 = c * chunk
            mc = min(chunk, m - j0)
            Xt = Xc[t, :n0 * mc].reshape((n0, mc))
            Yt = Yc[t, :n_out * mc].reshape((n_out, mc))
            copy(X[:, j0:j0 + mc], Xt)
            copy(Y[:, j0:j0 + mc], Yt)
            ZLt = ZL[t, :n_out * mc].reshape((n_out, mc))
            forward(theta, lay, codes, slope, Xt, acts[t], ZLt)
            if want_cost:
                losses[t] += cost(ZLt, Yt, codes[-1]) * mc
            backward(theta, lay, codes, slope, Xt, Yt, acts[t], grad, buf1[t], buf2[t], True)
            for k in range(theta.size):
                grads[t, k] += mc * grad[k]
    for t in range(T):
        for k in range(theta.size):
            total[k] += weight * grads[t, k]
    return losses.sum()


def _threads_and_chunk(blocks, chunk, num_threads):
    threads = min(num_threads or numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    return threads, int(min(chunk, -(-blocks.block // threads)))


def working_bytes(blocks, net, chunk=256, num_threads=None):
    """About the bytes a :class:`ShardedTrainer` over ``blocks`` allocates: the
    parameters, each thread's chunk buffers and gradient sum, and the two buffers that
    blocks are read into from disk."""
    threads, chunk = _threads_and_chunk(blocks, chunk, num_threads)
    itemsize = np.dtype(blocks.dtype).itemsize
    reading = 0 if blocks.in_memory else 2 * net.layer_dims[0] * blocks.block * itemsize
    return reading + training_bytes(net.layer_dims, blocks.m, "streamed", itemsize, threads,
                                    chunk)


class ShardedTrainer(CompiledTrainer):
    """The engine contract's Trainer over ``blocks`` (a :class:`deepjit.blocks.Blocks`
    of this process's examples), summing over the processes with ``allreduce(buffer)``
    (in place; None for one process); ``m`` is the number of examples of all processes.
    Memory beyond the blocks: the parameters and a few chunk buffers per thread."""

    def __init__(self, parameters, blocks, net, learning_rate, m, allreduce=None,
                 chunk=256, num_threads=None):
        threads, self.chunk = _threads_and_chunk(blocks, chunk, num_threads)
        dtype, n_out = np.dtype(blocks.dtype), net.layer_dims[-1]
        no_columns = np.empty((n_out, 0), dtype)   # the data lives in blocks
        super().__init__(parameters, no_columns, no_columns, net, learning_rate,
                         columns=self.chunk, copies=threads)
        self.blocks, self.m, self.allreduce = blocks, m, allreduce
        self.ZL = np.zeros((threads, n_out * self.chunk), dtype)
        self.Xc = np.zeros((threads, net.layer_dims[0] * self.chunk), dtype)
        self.Yc = np.zeros((threads, n_out * self.chunk), dtype)
        self.total = np.zeros(self.theta.size + 1, dtype)     # the gradient, then the loss

    def gradient(self, want_cost):
        """The mean gradient over all m examples (a view of ``total``) and the cost (NaN
        unless ``want_cost``)."""
        total, weight = self.total, self.theta.dtype.type(1.0 / self.m)
        total[:] = 0.0
        for Xb, Yb in self.blocks:
            total[-1] += add_gradient(
                self.theta, self.layout.arrays, self.codes, self.slope, Xb, Yb, weight,
                want_cost, self.chunk, self.Xc, self.Yc, self.acts, self.ZL, self.grad,
                self.buf1, self.buf2, total)
        if self.allreduce is not None:
            self.allreduce(total)
        return total[:-1], (total[-1] / self.m if want_cost else np.nan)

    def run(self, n_steps, want_last_cost):
        first = last = np.nan
        with threadpool_limits(1, user_api="blas"):
            for step in range(n_steps):
                want_last = want_last_cost and step == n_steps - 1
                grad, cost_now = self.gradient(step == 0 or want_last)
                if step == 0:
                    first = cost_now
                if want_last:
                    last = cost_now
                descend(self.theta, grad, self.lr)
        return first, last
