"""Drop-in replacement for the second course's ``gc_utils`` plus the Gradient Checking
notebook's functions (week 1, 2021+ release)::

    from deepjit.compat.gc_utils import *       # instead of: from gc_utils import *

Same names, argument order, defaults, return types and printed lines.  Beyond the
course: the vector helpers and ``gradient_check_n`` work for any layer sizes and any
number of layers (``forward_propagation_n`` is then [LINEAR->RELU] x (L-1) ->
LINEAR->SIGMOID), not only the notebook's [4, 5, 3, 1] net.  ``backward_propagation_n``
is correct; ``backward_propagation_n(..., with_course_bugs=True)`` is the notebook's
version with the two mistakes the learner is asked to find.
"""
import numpy as np

from ._course2 import cross_entropy_terms, relu, sigmoid

__all__ = ["sigmoid", "relu", "dictionary_to_vector", "vector_to_dictionary",
           "gradients_to_vector", "forward_propagation", "backward_propagation",
           "gradient_check", "forward_propagation_n", "backward_propagation_n",
           "gradient_check_n"]

COURSE_LAYER_DIMS = (4, 5, 3, 1)
THRESHOLD = 2e-7


def _layer_count(dictionary, prefix):
    L = 0
    while prefix + str(L + 1) in dictionary:
        L += 1
    if L == 0:
        raise ValueError(f"expected the keys {prefix}1, ... in the dictionary, got "
                         f"{sorted(dictionary)}")
    return L


def _stack(dictionary, names):
    """Each array reshaped to a column (row-major), concatenated, with the names."""
    columns = [np.reshape(dictionary[name], (-1, 1)) for name in names]
    keys = [name for name, column in zip(names, columns) for _ in range(column.shape[0])]
    return np.concatenate(columns, axis=0), keys


def dictionary_to_vector(parameters):
    """``(theta (n, 1), keys)``: W1, b1, W2, b2, ... as one column; ``keys`` names each
    entry's array."""
    L = _layer_count(parameters, "W")
    return _stack(parameters, [name + str(l) for l in range(1, L + 1) for name in ("W", "b")])


def vector_to_dictionary(theta, layer_dims=COURSE_LAYER_DIMS):
    """``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}`` as reshaped views of ``theta``, for
    ``layer_dims = [n_0, n_1, ..., n_L]`` (the notebook's [4, 5, 3, 1] by default)."""
    dims = [int(n) for n in layer_dims]
    size = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims)))
    if np.shape(theta)[0] != size:
        raise ValueError(f"theta: expected {size} entries for layer_dims {dims}, got "
                         f"{np.shape(theta)[0]}")
    parameters, start = {}, 0
    for l in range(1, len(dims)):
        for name, shape in (("W", (dims[l], dims[l - 1])), ("b", (dims[l], 1))):
            stop = start + shape[0] * shape[1]
            parameters[name + str(l)] = theta[start:stop].reshape(shape)
            start = stop
    return parameters


def gradients_to_vector(gradients):
    """``theta (n, 1)``: dW1, db1, dW2, db2, ... as one column."""
    L = _layer_count(gradients, "dW")
    return _stack(gradients, [name + str(l) for l in range(1, L + 1)
                              for name in ("dW", "db")])[0]


# -- the notebook: one dimension -------------------------------------------------------------

def forward_propagation(x, theta):
    """``J = theta * x``."""
    return theta * x


def backward_propagation(x, theta):
    """``dtheta = x``."""
    return x


def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    """Relative difference between ``backward_propagation`` and the central difference
    of ``forward_propagation``; prints the verdict when ``print_msg``."""
    theta_plus = theta + epsilon
    theta_minus = theta - epsilon
    J_plus = forward_propagation(x, theta_plus)
    J_minus = forward_propagation(x, theta_minus)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    grad = backward_propagation(x, theta)
    return _difference(grad, gradapprox, print_msg)


def _difference(grad, gradapprox, print_msg):
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference > THRESHOLD:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = "
                  + str(difference) + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = "
                  + str(difference) + "\033[0m")
    return difference


# -- the notebook: n dimensions --------------------------------------------------------------

def forward_propagation_n(X, Y, parameters):
    """[LINEAR->RELU] x (L-1) -> LINEAR->SIGMOID (the notebook's L = 3); returns
    ``(cost, cache)``, ``cache = (Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``."""
    m = X.shape[1]
    L = _layer_count(parameters, "W")
    cache, A = (), X
    for l in range(1, L + 1):
        W, b = parameters["W" + str(l)], parameters["b" + str(l)]
        Z = np.dot(W, A) + b
        A = relu(Z) if l < L else sigmoid(Z)
        cache += (Z, A, W, b)
    cost = 1. / m * np.sum(cross_entropy_terms(A, Y))
    return cost, cache


def backward_propagation_n(X, Y, cache, *, with_course_bugs=False):
    """Gradients ``dZL, dWL, dbL, dA{L-1}, ..., dZ1, dW1, db1`` of the cost of
    ``forward_propagation_n``.  ``with_course_bugs`` reproduces the notebook's given
    version: ``dW2`` doubled and ``db1`` times 4."""
    m = X.shape[1]
    L = len(cache) // 4
    gradients = {}
    dZ = cache[4 * L - 3] - Y
    for l in range(L, 0, -1):
        A_prev = X if l == 1 else cache[4 * l - 7]
        W = cache[4 * l - 2]
        dW = 1. / m * np.dot(dZ, A_prev.T)
        if with_course_bugs and l == 2:
            dW = dW * 2
        db = (4. if with_course_bugs and l == 1 else 1.) / m * np.sum(dZ, axis=1, keepdims=True)
        gradients.update({"dZ" + str(l): dZ, "dW" + str(l): dW, "db" + str(l): db})
        if l > 1:
            dA = np.dot(W.T, dZ)
            gradients["dA" + str(l - 1)] = dA
            dZ = np.multiply(dA, np.int64(A_prev > 0))
    return gradients


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    """Relative difference between ``gradients`` and central differences of
    ``forward_propagation_n``'s cost, one parameter at a time (a Python float);
    prints the verdict when ``print_msg``."""
    parameters_values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    num_parameters = parameters_values.shape[0]
    layer_dims = _layer_dims(parameters)
    J_plus = np.zeros((num_parameters, 1))
    J_minus = np.zeros((num_parameters, 1))
    gradapprox = np.zeros((num_parameters, 1))
    for i in range(num_parameters):
        theta_plus = np.copy(parameters_values)
        theta_plus[i] = theta_plus[i] + epsilon
        J_plus[i], _ = forward_propagation_n(X, Y, vector_to_dictionary(theta_plus, layer_dims))
        theta_minus = np.copy(parameters_values)
        theta_minus[i] = theta_minus[i] - epsilon
        J_minus[i], _ = forward_propagation_n(X, Y,
                                              vector_to_dictionary(theta_minus, layer_dims))
        gradapprox[i] = (J_plus[i] - J_minus[i]) / (2 * epsilon)
    return float(_difference(grad, gradapprox, print_msg))


def _layer_dims(parameters):
    L = _layer_count(parameters, "W")
    return [np.shape(parameters["W1"])[1]] + [np.shape(parameters["W" + str(l)])[0]
                                              for l in range(1, L + 1)]
