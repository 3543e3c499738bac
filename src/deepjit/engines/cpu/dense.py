"""The "dense" formulation on the cpu: the plain equations, compiled, with full
``(n_l, m)`` activation matrices; the whole training loop runs in ``train_steps``."""
import numpy as np

from .blocks import running_on
from .layers import cost, kernel
from .network import CompiledTrainer, backprop, descend, forward_from


@kernel
def train_steps(theta, lay, codes, slope, X, Y, learning_rate, n_steps, want_last_cost,
                acts, ZL, grad, buf1, buf2):
    """``n_steps`` iterations of full-batch gradient descent on ``theta`` in place.
    Returns the cost of the first step and, if asked, of the last step (NaN otherwise)."""
    first = last = np.nan
    for step in range(n_steps):
        forward_from(1, X, theta, lay, codes, slope, acts, ZL)
        if step == 0:
            first = cost(ZL, Y, codes[-1])
        if want_last_cost and step == n_steps - 1:
            last = cost(ZL, Y, codes[-1])
        backprop(theta, lay, codes, slope, X, Y, acts, grad, buf1, buf2, True)
        descend(theta, grad, learning_rate)
    return first, last


class DenseTrainer(CompiledTrainer):
    """The plain formulation, compiled: full (n_l, m) activation matrices, on one
    thread (BLAS included) so that no thread count changes its bits; problems big enough
    for several blocks run in ``streamed.py``'s kernel instead (``cpu.make_trainer``)."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        super().__init__(parameters, X, Y, net, learning_rate)
        self.X = np.ascontiguousarray(X)

    def run(self, n_steps, want_last_cost):
        with running_on(1):
            return train_steps(self.theta, self.layout.arrays, self.codes, self.slope,
                               self.X, self.Y, self.lr, n_steps, want_last_cost, self.acts,
                               self.ZL, self.grad, self.buf1, self.buf2)
