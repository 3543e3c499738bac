"""The "examples" formulation on the cpu: the first layer carried in example space
(``engines/example_space.py``), for wide data such as images (m < n_0)."""
import numpy as np

from .. import example_space
from .blocks import running_on
from .layers import bias_activation, copy, cost, kernel
from .network import CompiledTrainer, backprop, descend, forward_from, layer, output_layer


@kernel
def train_steps_examples(theta, lay, codes, slope, P, G, S, Y, learning_rate, n_steps,
                         want_last_cost, acts, ZL, grad, buf1, buf2, dZ1_64, work):
    """As ``train_steps``, with the first layer carried in example space: ``P = W1 X``
    (n_1, m) is kept current through ``P <- P - (lr/m) dZ1 G`` with ``G = X^T X``, and
    ``S`` accumulates ``sum dZ1`` so that ``W1 = W1_0 - (lr/m) S X^T`` (see
    :class:`ExampleSpaceTrainer`).  The W1 slot of theta (first in the layout) is left
    as W1_0."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, P.shape[1]
    step_size = np.float64(learning_rate) * (1.0 / m)
    first = last = np.nan
    for step in range(n_steps):
        b1 = layer(theta, b_off[1], dims[1], 1)
        A1 = layer(acts, a_off[1], dims[1], m)
        if L == 1:
            copy(P, ZL)
            output_layer(ZL, b1, codes[0], A1)
        else:
            copy(P, A1)
            bias_activation(A1, b1, codes[0], slope)
            forward_from(2, A1, theta, lay, codes, slope, acts, ZL)
        if step == 0:
            first = cost(ZL, Y, codes[-1])
        if want_last_cost and step == n_steps - 1:
            last = cost(ZL, Y, codes[-1])
        dZ1 = backprop(theta, lay, codes, slope, A1, Y, acts, grad, buf1, buf2, False)
        descend(theta[b_off[1]:], grad[b_off[1]:], learning_rate)   # W1 stays W1_0
        copy(dZ1, dZ1_64)                        # P, G, S are float64 (see the trainer)
        np.dot(dZ1_64, G, work)
        for i in range(dims[1]):
            for j in range(m):
                P[i, j] = P[i, j] - step_size * work[i, j]
                S[i, j] += dZ1_64[i, j]
    return first, last


class ExampleSpaceTrainer(CompiledTrainer):
    """``train_steps_examples`` on ``P``, ``G`` and ``S`` (float64 whatever the model's
    dtype, see ``engines/example_space.py``); W1 is rebuilt by ``parameters()``.  One
    thread, BLAS included, so that no thread count changes its bits."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        super().__init__(parameters, X, Y, net, learning_rate)
        self.X = X
        self.W1_0 = self.layout.view(self.theta, 1, "W").copy()
        with running_on(1):
            self.G, self.P = example_space.start(self.W1_0, X)
        self.S = np.zeros_like(self.P)
        self.work, self.dZ1 = np.empty_like(self.P), np.empty_like(self.P)

    def run(self, n_steps, want_last_cost):
        with running_on(1):
            return train_steps_examples(
                self.theta, self.layout.arrays, self.codes, self.slope, self.P, self.G,
                self.S, self.Y, self.lr, n_steps, want_last_cost, self.acts, self.ZL,
                self.grad, self.buf1, self.buf2, self.dZ1, self.work)

    def parameters(self):
        params = self.layout.unpack(self.theta)
        with running_on(1):
            params["W1"] = example_space.first_layer_weights(self.W1_0, self.lr, self.S,
                                                             self.X)
        return params

    def training_state(self):
        """Every parameter but W1 (theta's first slot, carried by P and S), P and S."""
        return self.theta[self.layout.b_off[1]:], self.P, self.S
