"""One layer's forward and backward kernels, the Numba ones beside the numpy oracle.

Shapes are "n_l x n_prev x m": the cat network's first layer (wide inputs, few
examples) and the tall synthetic network's second layer (narrow, 100,000 examples).
The "cpu" kernels write into preallocated outputs; the "numpy" ones
(deepjit.engines.reference) allocate, as the course's code does.
setup calls each kernel once with the timed arguments, so compilation is never timed.
"""
import numpy as np
from deepjit.activations import RELU
from deepjit.engines import reference

try:                    # the per-layer kernels since the engines/cpu/ package
    from deepjit.engines.cpu import layers as cpu
except ImportError:     # commits before it: engines/cpu.py
    from deepjit.engines import cpu

from . import common

SHAPES = ["20x12288x209", "32x64x100000"]
SLOPE = 0.01


class _Layer:
    params = [SHAPES, common.DTYPES, common.ENGINES]
    param_names = ["shape", "dtype", "engine"]

    def setup(self, shape, dtype, engine):
        self.W, self.b, self.A_prev, self.dZ = common.layer(shape, dtype)
        self.out = np.empty_like(self.dZ)
        self.dW, self.db = np.empty_like(self.W), np.empty_like(self.b)
        self.dA_prev = np.empty_like(self.A_prev)
        self.engine, self.code, self.slope = engine, RELU, np.dtype(dtype).type(SLOPE)
        self.run()     # compile (cpu) with these exact dtypes and layouts

    def forward(self):
        if self.engine == "cpu":
            cpu.dense_forward(self.W, self.b, self.A_prev, self.code, self.slope, self.out)
        else:
            reference.dense_forward(self.W, self.b, self.A_prev, "relu", SLOPE)

    def backward(self):
        if self.engine == "cpu":
            cpu.dense_backward(self.dZ, self.A_prev, self.W, self.dW, self.db, self.dA_prev,
                               True)
        else:
            reference.dense_backward(self.dZ, self.A_prev, self.W, True)


class DenseForward(_Layer):
    """``A = relu(W A_prev + b)``."""
    run = _Layer.forward

    def time_dense_forward(self, shape, dtype, engine):
        self.forward()


class DenseBackward(_Layer):
    """``dW``, ``db`` and ``dA_prev`` from ``dZ``."""
    run = _Layer.backward

    def time_dense_backward(self, shape, dtype, engine):
        self.backward()
