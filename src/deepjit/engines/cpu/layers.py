"""The cpu engine's per-layer kernels (arrays in, arrays out, written in place):

- ``dense_forward(W, b, A_prev, code, slope, out)``: ``out = g(W A_prev + b)``, the
  matrix product (BLAS) followed by one fused pass for bias and activation.
- ``activation_backward(dA, A, code, slope)``: ``dA <- dA * g'(A)`` in place, so the
  derivative is fused into forming ``dZ``.
- ``dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev)``: one layer's
  gradients; ``dA_prev`` only when asked (never for the input X during training).
- ``output_activation(Z, code, A)`` and ``cost(ZL, Y, code)``: the output layer.

Each has the formula of ``engines/reference.py``'s function of the same name.
"""
import numpy as np
from numba import njit

from ...activations import LEAKY_RELU, RELU, SIGMOID, SOFTMAX, TANH
from .. import losses
from . import vecmath

# numpy's error model: a division by zero gives inf/NaN instead of raising, which also
# lets LLVM vectorise loops that divide (the divergence checks catch non-finite values).
kernel = njit(cache=True, error_model="numpy")
# Small helpers inlined into their callers at Numba's IR level: a function compiled on its
# own costs a fixed share of a cold start (its own LLVM module, optimised and turned into
# machine code again in every caller), and one called with a constant argument is compiled
# once more for each constant (Numba types it as a literal).
inlined = njit(cache=True, error_model="numpy", inline="always")


@kernel
def bias_activation(Z, b, code, slope):
    """In place: ``Z <- g(Z + b)`` for a hidden code (LINEAR only adds the bias).  One
    loop per code, so each inner loop is branch-free and vectorises."""
    n, m = Z.shape
    for i in range(n):
        bi, row = b[i, 0], Z[i]
        if code == RELU:
            for j in range(m):
                z = row[j] + bi
                row[j] = 0.0 if z <= 0 else z      # NaN passes, as in np.maximum(0, Z)
        elif code == LEAKY_RELU:
            for j in range(m):
                z = row[j] + bi
                row[j] = slope * z if z <= 0 else z
        elif code == SIGMOID:
            for j in range(m):
                row[j] = vecmath.sigmoid(row[j] + bi)
        elif code == TANH:
            for j in range(m):
                row[j] = vecmath.tanh(row[j] + bi)
        else:
            for j in range(m):
                row[j] = row[j] + bi


@kernel
def copy(src, dst):
    """``dst[:, :] = src`` (casting to dst's dtype) as a loop: numba's slice assignment
    checks shapes with an error message whose string formatting costs seconds of
    compilation on a cold start."""
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            dst[i, j] = src[i, j]


@kernel
def output_activation(Z, code, A):
    """``A = g(Z)`` for an output code; softmax works column by column."""
    n, m = Z.shape
    if code == SOFTMAX:
        for j in range(m):
            zmax = losses.column_max(Z, j)
            total = 0.0
            for i in range(n):
                A[i, j] = vecmath.exp(Z[i, j] - zmax)
                total += A[i, j]
            for i in range(n):
                A[i, j] = A[i, j] / total
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                A[i, j] = vecmath.sigmoid(Z[i, j])
    else:
        copy(Z, A)


@kernel
def dense_forward(W, b, A_prev, code, slope, out):
    """``out = g(W A_prev + b)`` for a hidden code.  ``W : (n_l, n_{l-1})``,
    ``b : (n_l, 1)``, ``A_prev : (n_{l-1}, m)``, ``out : (n_l, m)``, all C-contiguous."""
    np.dot(W, A_prev, out)
    bias_activation(out, b, code, slope)
    return out


@kernel
def activation_backward(dA, A, code, slope):
    """In place: ``dA <- dA * g'(Z)`` with ``g'`` from ``A = g(Z)``; dA becomes dZ."""
    n, m = dA.shape
    for i in range(n):
        d, a = dA[i], A[i]
        if code == RELU:
            for j in range(m):
                d[j] = d[j] if a[j] > 0 else 0.0
        elif code == LEAKY_RELU:
            for j in range(m):
                d[j] = d[j] if a[j] > 0 else slope * d[j]
        elif code == SIGMOID:
            for j in range(m):
                d[j] = d[j] * (a[j] * (1.0 - a[j]))
        elif code == TANH:
            for j in range(m):
                d[j] = d[j] * (1.0 - a[j] * a[j])
    return dA


@kernel
def dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev):
    """``dW = 1/m dZ A_prev^T``, ``db = 1/m sum_j dZ``, ``dA_prev = W^T dZ`` (if asked)."""
    weight_gradient(dZ, A_prev, dW)
    bias_gradient(dZ, db)
    if need_dA_prev:
        np.dot(W.T, dZ, dA_prev)


@kernel
def weight_gradient(dZ, A_prev, dW):
    """``dW = 1/m dZ A_prev^T``."""
    inv_m = 1.0 / dZ.shape[1]
    np.dot(dZ, A_prev.T, dW)
    for i in range(dW.shape[0]):
        for k in range(dW.shape[1]):
            dW[i, k] = inv_m * dW[i, k]


@kernel
def bias_gradient(dZ, db):
    """``db = 1/m sum_j dZ[:, j]``."""
    inv_m = 1.0 / dZ.shape[1]
    for i in range(dZ.shape[0]):
        db[i, 0] = inv_m * row_sum(dZ[i])


@kernel
def row_sum(row):
    """The sum of a 1-D array in eight interleaved partial sums: independent additions
    that the CPU overlaps (a single running sum waits on each addition's latency)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    n8 = row.size - row.size % 8
    for j in range(0, n8, 8):
        s0 += row[j]
        s1 += row[j + 1]
        s2 += row[j + 2]
        s3 += row[j + 3]
        s4 += row[j + 4]
        s5 += row[j + 5]
        s6 += row[j + 6]
        s7 += row[j + 7]
    total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    for j in range(n8, row.size):
        total += row[j]
    return total


@kernel
def cost(ZL, Y, code):
    """Mean loss from the output pre-activations (see ``reference.cost``)."""
    n, m = ZL.shape
    total = 0.0
    if code == SOFTMAX:
        for j in range(m):
            zmax = losses.column_max(ZL, j)
            s = 0.0
            for i in range(n):
                s += losses.shifted_exp(ZL[i, j], zmax)
            lse = losses.log_sum_exp(zmax, s)
            for i in range(n):
                total += losses.cross_entropy_term(ZL[i, j], Y[i, j], lse)
    else:
        for i in range(n):
            for j in range(m):
                total += losses.entry_loss(ZL[i, j], Y[i, j], code)
    return total / m
