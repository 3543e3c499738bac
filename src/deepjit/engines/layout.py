"""Where each layer's arrays sit in the flat buffers of the compiled engines (cpu and
cuda alike): ``theta`` holds W1, b1, W2, b2, ... each C-ordered, the gradients use the
same layout, and the activations of layers 1..L for ``m`` examples follow each other
in one more buffer."""
import numpy as np


class Layout:
    """Offsets of each layer's W and b in a flat buffer, and of its activations:
    ``w_off[l]``, ``b_off[l]``, ``a_off[l]`` (int64, index 0 unused); ``arrays`` is
    ``(dims, w_off, b_off, a_off)`` as the compiled kernels take them."""

    def __init__(self, dims, m):
        self.dims = np.asarray(dims, dtype=np.int64)
        L = len(dims) - 1
        self.w_off, self.b_off, self.a_off = (np.zeros(L + 1, np.int64) for _ in range(3))
        pos = act = 0
        for l in range(1, L + 1):
            self.w_off[l], pos = pos, pos + dims[l] * dims[l - 1]
            self.b_off[l], pos = pos, pos + dims[l]
            self.a_off[l], act = act, act + dims[l] * m
        self.size, self.act_size = pos, act
        self.arrays = (self.dims, self.w_off, self.b_off, self.a_off)

    def pack(self, parameters, dtype):
        theta = np.empty(self.size, dtype=dtype)
        for l in range(1, self.dims.size):
            W, b = parameters[f"W{l}"], parameters[f"b{l}"]
            theta[self.w_off[l]:self.w_off[l] + W.size] = W.ravel()
            theta[self.b_off[l]:self.b_off[l] + b.size] = b.ravel()
        return theta

    def view(self, theta, l, name):
        """Layer l's ``"W"`` or ``"b"`` inside a flat buffer (a view)."""
        n, k = self.dims[l], self.dims[l - 1]
        if name == "W":
            return theta[self.w_off[l]:self.w_off[l] + n * k].reshape(n, k)
        return theta[self.b_off[l]:self.b_off[l] + n].reshape(n, 1)

    def unpack(self, theta):
        return {f"{name}{l}": self.view(theta, l, name).copy()
                for l in range(1, self.dims.size) for name in ("W", "b")}
