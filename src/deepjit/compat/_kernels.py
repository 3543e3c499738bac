"""Numba kernels of the drop-in step functions: one pass each where the course's numpy
makes several (bias and relu; an activation's derivative; the output layer's gradient;
the cost; a gradient step), with the course's arithmetic in the course's order (no
reassociation, no fused multiply-add), so the results are numpy's to the bit.

They take 2-D arrays of any layout and run their inner loop along the rows, so
:mod:`._common` hands them contiguous arrays as single rows (views).  Exponentials stay
with numpy's vectorised ufuncs (:func:`._common.sigmoid_of`): Numba's scalar ``exp``
is slower, and another ``exp`` would change the last bits.
"""
import math

from numba import njit

from ..activations import RELU

kernel = njit(cache=True, error_model="numpy")


@kernel
def bias_activation(Z, b, A, code):
    """In place ``Z <- Z + b`` (``b : (n, 1)``), then ``A = max(0, Z)`` for RELU, else
    nothing (``A`` may be ``Z``)."""
    for i in range(Z.shape[0]):
        z, a, bi = Z[i], A[i], b[i, 0]
        for j in range(z.size):
            z[j] = z[j] + bi
        if code == RELU:
            for j in range(z.size):
                a[j] = 0.0 if z[j] <= 0 else z[j]      # NaN passes, as in np.maximum(0, Z)


@kernel
def relu_gradient(Z, dA, dZ):
    """``dZ = dA`` where ``Z > 0`` or Z is NaN, else 0 (the course's ``dZ[Z <= 0] = 0``)."""
    for i in range(dA.shape[0]):
        for j in range(dA.shape[1]):
            dZ[i, j] = 0.0 if Z[i, j] <= 0 else dA[i, j]


@kernel
def output_gradient(S, AL, Y, dZ, one):
    """The output layer's ``dZ`` as the course forms it: ``dAL = -(Y/AL - (1-Y)/(1-AL))``
    through ``sigmoid_backward(dAL, ZL)``, ``S = sigmoid(ZL)`` (``dZ`` may be ``S``;
    ``one`` is 1 in the arrays' precision, so float32 stays float32 as in numpy)."""
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            a, y, s = AL[i, j], Y[i, j], S[i, j]
            dZ[i, j] = -(y / a - (one - y) / (one - a)) * s * (one - s)


@kernel
def cross_entropy_sums(AL, Y):
    """``(sum Y log AL, sum (1 - Y) log(1 - AL))``."""
    positive = negative = 0.0
    for i in range(AL.shape[0]):
        for j in range(AL.shape[1]):
            y = Y[i, j]
            positive += y * math.log(AL[i, j])
            negative += (1 - y) * math.log(1 - AL[i, j])
    return positive, negative


@kernel
def descend(P, G, out, learning_rate):
    """``out = P - learning_rate * G``."""
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            out[i, j] = P[i, j] - learning_rate * G[i, j]


@kernel
def tanh_gradient(dA, A, one):
    """In place ``dA <- dA * (1 - A**2)`` (``A = tanh(Z)``; ``one`` as above)."""
    for i in range(dA.shape[0]):
        for j in range(dA.shape[1]):
            dA[i, j] = dA[i, j] * (one - A[i, j] * A[i, j])
