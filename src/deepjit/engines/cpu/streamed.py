"""The "streamed" formulation on the cpu: for many examples, cache-sized chunks of
examples flow through all layers on every core and the gradients are summed, so no
``(n_l, m)`` activation matrix is ever built."""
import numba
import numpy as np
from numba import njit, prange
from threadpoolctl import threadpool_limits

from .layers import PRANGE_ONLY, copy, cost
from .network import CompiledTrainer, backward, descend, forward


@njit(cache=True, error_model="numpy", parallel=PRANGE_ONLY)
def train_steps_streamed(theta, lay, codes, slope, X, Y, learning_rate, n_steps,
                         want_last_cost, chunk, Xc, Yc, acts, ZL, grads, buf1, buf2):
    """As ``train_steps``, streaming the examples in chunks of ``chunk`` columns through
    all layers and summing the gradients, so no (n_l, m) matrix is ever formed.  Thread
    t handles chunks t, t + T, ... with its own buffers (row t of each 2-D buffer); the
    per-thread sums are then added in thread order, so results do not depend on
    scheduling."""
    n0, m = X.shape
    n_out, T = Y.shape[0], grads.shape[0]
    n_chunks = (m + chunk - 1) // chunk
    first = last = np.nan
    for step in range(n_steps):
        want_cost = step == 0 or (want_last_cost and step == n_steps - 1)
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
                backward(theta, lay, codes, slope, Xt, Yt, acts[t], grad, buf1[t], buf2[t],
                         True)
                weight = mc / m
                for k in range(theta.size):
                    grads[t, k] += weight * grad[k]
        for t in range(1, T):
            for k in range(theta.size):
                grads[0, k] += grads[t, k]
        if step == 0:
            first = losses.sum() / m
        if want_last_cost and step == n_steps - 1:
            last = losses.sum() / m
        descend(theta, grads[0], learning_rate)
    return first, last


class StreamedTrainer(CompiledTrainer):
    """For many examples: chunks of ``chunk`` columns flow through all layers on
    ``num_threads`` threads (BLAS kept to one thread inside), and the gradients are
    summed; memory beyond the data is a few chunk-sized buffers per thread.  The default
    of 256 columns keeps a thread's buffers in its L2 cache for networks of a few
    hundred units (fastest of 64 .. 4096 on the tall benchmark, [30, 64, 32, 1])."""

    def __init__(self, parameters, X, Y, net, learning_rate, chunk=256, num_threads=None):
        threads = min(num_threads or numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
        chunk = int(min(chunk, -(-Y.shape[1] // threads)))
        super().__init__(parameters, X, Y, net, learning_rate, columns=chunk, copies=threads)
        self.X, self.chunk = X, chunk
        dtype, n_out = X.dtype, Y.shape[0]
        self.ZL = np.zeros((threads, n_out * chunk), dtype)
        self.Xc = np.zeros((threads, X.shape[0] * chunk), dtype)
        self.Yc = np.zeros((threads, n_out * chunk), dtype)

    def run(self, n_steps, want_last_cost):
        with threadpool_limits(1, user_api="blas"):
            return train_steps_streamed(
                self.theta, self.layout.arrays, self.codes, self.slope, self.X, self.Y,
                self.lr, n_steps, want_last_cost, self.chunk, self.Xc, self.Yc, self.acts,
                self.ZL, self.grad, self.buf1, self.buf2)
