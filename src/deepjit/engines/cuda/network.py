"""The network on the device: the cuda twin of ``cpu/network.py`` for the host loop of
``dense.py`` and for ``predict_proba``."""
import numpy as np
from numba import cuda

from ..layout import Layout
from .device import bias_activation, output_activation, product


class DeviceNetwork:
    """Device buffers and per-layer views for a network and m examples: ``theta``
    (flat, ``engines/layout.py``), ``W[l] : (n_l, n_{l-1})``, ``b[l] : (n_l, 1)``, the layer
    outputs ``A[l] : (n_l, m)`` (``A[L]`` is the output activation) and ``ZL``."""

    def __init__(self, parameters, net, m, dtype):
        self.layout = lay = Layout(net.layer_dims, m)
        self.net, self.m, self.L = net, m, net.L
        self.codes = [int(c) for c in net.codes]
        self.slope = dtype.type(net.slope)
        self.theta = cuda.to_device(lay.pack(parameters, dtype))
        self.acts = cuda.device_array(lay.act_size, dtype)
        self.ZL = cuda.device_array((net.layer_dims[-1], m), dtype)
        self.W = self.views(self.theta, lay.w_off, net.layer_dims[:-1])
        self.b = self.views(self.theta, lay.b_off, [1] * self.L)
        self.A = self.views(self.acts, lay.a_off, [m] * self.L)

    def views(self, buffer, offsets, widths):
        """``[None, view_1, ..., view_L]``: ``(n_l, widths[l-1])`` views of ``buffer``."""
        dims = self.net.layer_dims
        return [None] + [buffer[offsets[l]:offsets[l] + dims[l] * widths[l - 1]]
                         .reshape(dims[l], widths[l - 1]) for l in range(1, self.L + 1)]

    def forward_hidden(self, X):
        """The hidden layers, and ``ZL = W_L A_{L-1}`` without its bias."""
        A_prev = X
        for l in range(1, self.L):
            product(self.W[l], A_prev, self.A[l])
            bias_activation(self.A[l], self.b[l], self.codes[l - 1], self.slope)
            A_prev = self.A[l]
        product(self.W[self.L], A_prev, self.ZL)



def predict_proba(parameters, X, net):
    """Output activations ``A_L : (n_L, m)`` as a host array."""
    X = np.ascontiguousarray(X)
    device = DeviceNetwork(parameters, net, X.shape[1], X.dtype)
    device.forward_hidden(cuda.to_device(X))
    L = net.L
    output_activation(device.ZL, device.b[L], device.codes[L - 1], device.A[L])
    return device.A[L].copy_to_host()
