"""The "dense" formulation on the device when the network does not fit one block
(``dense_block.py``): a host loop over matrix products (cuBLAS through CuPy, else the
tiled kernel) and the elementwise kernels of ``layers.py``."""
import numpy as np
from numba import cuda

from .device import (DeviceTrainer, activation_backward, cost_into, output_delta, product,
                     row_sums, update)
from .network import DeviceNetwork


class DenseTrainer(DeviceTrainer):
    """Gradient descent with every array on the device; one host loop over kernels."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        m, dtype = X.shape[1], X.dtype
        self.net = DeviceNetwork(parameters, net, m, dtype)
        self.layout, self.theta = self.net.layout, self.net.theta
        self.lr = dtype.type(learning_rate)
        self.X = cuda.to_device(np.ascontiguousarray(X))
        self.Y = cuda.to_device(np.ascontiguousarray(Y))
        lay = self.net.layout
        self.grad = cuda.device_array(lay.size, dtype)
        self.dW = self.net.views(self.grad, lay.w_off, net.layer_dims[:-1])
        self.db = [None] + [self.grad[lay.b_off[l]:lay.b_off[l] + net.layer_dims[l]]
                            for l in range(1, net.L + 1)]
        self.dZ = self._delta_views(net, m, dtype)
        self.losses = cuda.device_array((1, m), dtype)
        self.costs = cuda.device_array(2, np.float64)

    def _delta_views(self, net, m, dtype):
        """``dZ[l] : (n_l, m)``, alternating between two buffers (layer l's dZ and
        layer l-1's are formed together)."""
        widest = max(net.layer_dims[1:]) * m
        buffers = cuda.device_array(widest, dtype), cuda.device_array(widest, dtype)
        return [None] + [buffers[(net.L - l) % 2][:net.layer_dims[l] * m]
                         .reshape(net.layer_dims[l], m) for l in range(1, net.L + 1)]

    def steps(self, n_steps, want_last_cost):
        net, L = self.net, self.net.L
        for step in range(n_steps):
            net.forward_hidden(self.X)
            output_delta(net.ZL, net.b[L], self.Y, net.codes[L - 1], self.dZ[L])
            if step == 0:
                cost_into(net.ZL, self.Y, net.codes[L - 1], self.losses, self.costs[0:1])
            if want_last_cost and step == n_steps - 1:
                cost_into(net.ZL, self.Y, net.codes[L - 1], self.losses, self.costs[1:2])
            self._backward()
            update(net.theta, self.grad, self.lr)

    def _backward(self):
        """Fills ``grad`` from ``dZ[L]``: ``dW = 1/m dZ A_prev^T``, ``db = 1/m sum dZ``,
        ``dZ_prev = W^T dZ * g'(A_prev)``."""
        net, inv_m = self.net, 1.0 / self.net.m
        for l in range(net.L, 0, -1):
            A_prev = self.X if l == 1 else net.A[l - 1]
            product(self.dZ[l], A_prev, self.dW[l], trans_b=True, alpha=inv_m)
            row_sums(self.dZ[l], inv_m, self.db[l])
            if l > 1:
                product(net.W[l], self.dZ[l], self.dZ[l - 1], trans_a=True)
                activation_backward(self.dZ[l - 1], A_prev, net.codes[l - 2], net.slope)
