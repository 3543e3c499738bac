"""``gradient_check(model, X, Y)``: a model's compiled gradients against central
differences, as the course's ``gradient_check_n`` does.

The compiled gradient is taken from one step of the model's own trainer (its engine and
formulation) at learning rate 1 on a copy: ``g = theta_before - theta_after``.  The
central differences ``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` use the numpy
engine's cost (float64), one parameter at a time, so the check costs two forward passes
per parameter: meant for small networks, as in the course.
"""
import numpy as np

from .engines import reference
from .model import Model
from .validation import as_matrix, check_labels, check_same_m


def gradient_check(model, X, Y, epsilon=1e-7):
    """The relative difference ``|g - g_approx| / (|g| + |g_approx|)`` (a float) between
    ``model``'s compiled gradient of its mean loss at ``(X, Y)`` and central differences
    with step ``epsilon``; below about 1e-7 in float64 when the gradient is right.  The
    model is left unchanged."""
    if not isinstance(model, Model):
        raise ValueError(f"model: expected a deepjit.Model, got {type(model).__name__}")
    if not (isinstance(epsilon, (int, float)) and 0 < epsilon < 1):
        raise ValueError(f"epsilon: expected a number in (0, 1), got {epsilon!r}")
    X, Y = _checked(model, X, Y)
    before = model.parameters
    step = Model.from_parameters(before, list(model.net.hidden), model.net.output,
                                 model.dtype.name, model.engine, model.net.slope,
                                 formulation=model.formulation, num_threads=model.num_threads)
    after = step.fit(X, Y, learning_rate=1.0, num_iterations=1).parameters
    keys = list(before)
    grad = np.concatenate([(before[k] - after[k]).astype(np.float64).ravel() for k in keys])
    theta = np.concatenate([before[k].astype(np.float64).ravel() for k in keys])
    approx = np.empty_like(theta)
    for i in range(theta.size):
        approx[i] = (_cost(model, theta, i, epsilon, keys, before, X, Y)
                     - _cost(model, theta, i, -epsilon, keys, before, X, Y)) / (2 * epsilon)
    return float(np.linalg.norm(grad - approx)
                 / (np.linalg.norm(grad) + np.linalg.norm(approx)))


def _checked(model, X, Y):
    X = as_matrix("X", X, rows=model.layer_dims[0], dtype=np.float64)
    Y = check_labels(Y, model.net.output, model.layer_dims[-1], np.dtype(np.float64))
    check_same_m(X, Y)
    return X, Y


def _cost(model, theta, i, shift, keys, shapes, X, Y):
    shifted = theta.copy()
    shifted[i] += shift
    parameters, start = {}, 0
    for key in keys:
        size = shapes[key].size
        parameters[key] = shifted[start:start + size].reshape(shapes[key].shape)
        start += size
    As, ZL = reference.forward(parameters, X, model.net)
    return reference.cost(ZL, Y, model.net.output)
