"""The algebra of the "examples" formulation, shared by the cpu and cuda engines.

While X never changes, gradient descent keeps ``W1 = W1_0 - (lr/m) S X^T`` with
``S = sum over iterations of dZ1``, so the first layer needs only ``P = W1 X`` (kept
current through ``P <- P - (lr/m) dZ1 G``) and ``G = X^T X`` (m, m): ``2 n_1 m^2`` flops
per iteration instead of ``4 n_1 n_0 m``.  ``G``, ``P`` and ``S`` are float64 whatever the
model's dtype: they accumulate over every iteration, and in float32 that drift moved the
cat run's costs by 1 % within 500 iterations.
"""
import numpy as np


def start(W1_0, X):
    """``(G, P) = (X^T X, W1_0 X)`` in float64: where the formulation starts."""
    X64 = X.astype(np.float64, copy=False)
    return (np.ascontiguousarray(X64.T @ X64),
            np.ascontiguousarray(W1_0.astype(np.float64) @ X64))


def first_layer_weights(W1_0, learning_rate, S, X):
    """``W1 = W1_0 - (lr/m) S X^T``, in W1_0's dtype: the first layer's weights from the
    example-space state."""
    W1 = W1_0 - float(learning_rate) * (1.0 / S.shape[1]) * (S @ X.T)
    return W1.astype(W1_0.dtype, copy=False)
