"""The loss terms and the softmax shift as ``@njit`` functions: the cpu kernels call
them, and so do the ``@cuda.jit`` kernels (numba-cuda compiles an ``@njit`` function called
from a kernel for the device; the CUDA simulator runs the compiled cpu version of a
scalar function, and ``column_max``, which takes an array, as Python: see
``cuda/compiler.py``).

The losses are computed from the output pre-activations ``z`` so that they stay finite
when the output saturates (see ``reference.cost``): binary cross-entropy
``log(1 + e^z) - y z`` for a sigmoid output, categorical cross-entropy
``logsumexp(z) - sum_k y_k z_k`` for softmax (one-hot y), half the squared error for a
linear one.
"""
import math

from numba import njit

from ..activations import SIGMOID

shared = njit(cache=True, error_model="numpy")


@shared
def logistic_loss(z, y):
    """``log(1 + e^z) - y z`` without overflow."""
    return max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))


@shared
def squared_loss(z, y):
    return 0.5 * (z - y) * (z - y)


@shared
def entry_loss(z, y, code):
    """The loss of one output entry for a sigmoid or linear output ``code``."""
    if code == SIGMOID:
        return logistic_loss(z, y)
    return squared_loss(z, y)


@shared
def column_max(Z, j):
    """The largest entry of column ``j`` of ``Z``: the softmax shift."""
    zmax = Z[0, j]
    for i in range(1, Z.shape[0]):
        zmax = max(zmax, Z[i, j])
    return zmax


@shared
def shifted_exp(z, zmax):
    """``e^(z - zmax)``: the softmax shift (``zmax`` the column's largest entry), which
    keeps exp from overflowing."""
    return math.exp(z - zmax)


@shared
def log_sum_exp(zmax, shifted_sum):
    """``log sum_k e^(z_k)`` from the shift and the sum of ``shifted_exp``."""
    return zmax + math.log(shifted_sum)


@shared
def cross_entropy_term(z, y, lse):
    """One entry of the categorical cross-entropy, ``y (logsumexp(z) - z)``."""
    return y * (lse - z)
