"""Update rules and learning-rate schedules as Numba scalar/loop functions, shared by the
compiled engines (and callable from Python).

Codes (see :mod:`deepjit.optim` for the public classes):

- ``GD``: ``theta -= lr * g``
- ``MOMENTUM``: ``v = beta1 v + (1 - beta1) g``; ``theta -= lr * v``
- ``RMSPROP``: ``s = beta2 s + (1 - beta2) g^2``; ``theta -= lr * g / (sqrt(s) + eps)``
- ``ADAM``: both, with bias correction: ``theta -= lr * (v c1) / (sqrt(s c2) + eps)`` with
  ``c1 = 1 / (1 - beta1^t)``, ``c2 = 1 / (1 - beta2^t)`` at update ``t = 1, 2, ...``

scikit-learn's forms (``MLPClassifier`` / ``MLPRegressor``, :mod:`deepjit.sklearn`):

- ``SKLEARN_SGD``: ``v = beta1 v - lr g``; ``theta += v``, or with Nesterov (``beta2 = 1``)
  ``theta += beta1 v - lr g``
- ``SKLEARN_ADAM``: ``theta -= lr c1 v / (sqrt(s) + eps)`` with
  ``c1 = sqrt(1 - beta2^t) / (1 - beta1^t)``: epsilon is added to ``sqrt(s)``, not to the
  bias-corrected ``sqrt(s c2)``

``g = grad + l2 * theta`` (``l2 = lambda / batch`` for weights, 0 for biases).  The numpy
oracle (``reference_minibatch``) writes the same expressions in the same order.

Schedules give the rate of epoch ``e`` (0 for the first): ``CONSTANT`` ``lr0``,
``INVERSE_TIME`` ``lr0 / (1 + decay_rate * e)`` and ``INVERSE_TIME_INTERVAL``
``lr0 / (1 + decay_rate * floor(e / time_interval))``.
"""
import math

from numba import njit

from .. import optim
from ..optim import (ADAM, CONSTANT, GD, INVERSE_TIME, INVERSE_TIME_INTERVAL,  # noqa: F401
                     MOMENTUM, RMSPROP, SKLEARN_ADAM, SKLEARN_SGD)

kernel = njit(cache=True, error_model="numpy")


scheduled_rate = kernel(optim.scheduled_rate)


@kernel
def bias_corrections(code, beta1, beta2, t):
    """``(c1, c2)`` for update ``t``: Adam's ``1 / (1 - beta^t)``, scikit-learn's Adam's
    ``(sqrt(1 - beta2^t) / (1 - beta1^t), 1)``, else ``(1, 1)``."""
    if code == SKLEARN_ADAM:
        return math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t), 1.0
    if code != ADAM:
        return 1.0, 1.0
    return 1.0 / (1.0 - beta1 ** t), 1.0 / (1.0 - beta2 ** t)


@kernel
def update_segment(code, theta, grad, v, s, start, stop, lr, l2, beta1, beta2, eps, c1, c2):
    """The update of ``theta[start:stop]`` in place (``v``, ``s``: the optimizer's flat
    state buffers, unused ones may be empty)."""
    if code == GD:
        for k in range(start, stop):
            theta[k] = theta[k] - lr * (grad[k] + l2 * theta[k])
    elif code == MOMENTUM:
        for k in range(start, stop):
            g = grad[k] + l2 * theta[k]
            v[k] = beta1 * v[k] + (1.0 - beta1) * g
            theta[k] = theta[k] - lr * v[k]
    elif code == RMSPROP:
        for k in range(start, stop):
            g = grad[k] + l2 * theta[k]
            s[k] = beta2 * s[k] + (1.0 - beta2) * (g * g)
            theta[k] = theta[k] - lr * g / (math.sqrt(s[k]) + eps)
    elif code == SKLEARN_SGD:
        for k in range(start, stop):
            g = grad[k] + l2 * theta[k]
            v[k] = beta1 * v[k] - lr * g
            theta[k] = theta[k] + (beta1 * v[k] - lr * g if beta2 == 1.0 else v[k])
    else:
        # Adam's moments in a loop of their own: with theta's update in the same loop,
        # four arrays that might overlap kept LLVM from vectorising it (four times slower)
        for k in range(start, stop):
            g = grad[k] + l2 * theta[k]
            v[k] = beta1 * v[k] + (1.0 - beta1) * g
            s[k] = beta2 * s[k] + (1.0 - beta2) * (g * g)
        if code == SKLEARN_ADAM:
            step = lr * c1
            for k in range(start, stop):
                theta[k] = theta[k] - step * v[k] / (math.sqrt(s[k]) + eps)
        else:
            for k in range(start, stop):
                theta[k] = theta[k] - lr * (v[k] * c1) / (math.sqrt(s[k] * c2) + eps)
