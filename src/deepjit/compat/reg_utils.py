"""Drop-in replacement for the second course's ``reg_utils`` plus the Regularization
notebook's functions (week 1, 2021+ release)::

    from deepjit.compat.reg_utils import *      # instead of: from reg_utils import *

Same names, argument order, defaults, return types, printed lines and random draws
(numpy's global legacy generator).  ``load_2D_dataset()`` reads ``datasets/data.mat``
as the course does, or the file (or folder) given as ``load_2D_dataset(path)``.
``predict`` returns an int64 0/1 array (the course's ``np.int`` is gone from numpy
1.24 on).  ``model`` reproduces the notebook's loop: L2 (``lambd``) or dropout
(``keep_prob``, with the notebook's re-seeding, so the same masks at every iteration).
"""
import numpy as np

from . import _common, _course2, _course2_train
from ._course2 import (backward_propagation as _backward, forward_propagation,
                       load_2D_dataset, load_cat_dataset as load_dataset,
                       mean_nansum_cost as compute_cost, plot_decision_boundary, predict,
                       predict_dec, relu, sigmoid, update_parameters)

__all__ = ["sigmoid", "relu", "load_planar_dataset", "initialize_parameters",
           "forward_propagation", "backward_propagation", "update_parameters", "predict",
           "compute_cost", "load_dataset", "predict_dec", "plot_decision_boundary",
           "load_2D_dataset", "model", "compute_cost_with_regularization",
           "backward_propagation_with_regularization", "forward_propagation_with_dropout",
           "backward_propagation_with_dropout"]

PRINT_EVERY, RECORD_EVERY = 10000, 1000


def load_planar_dataset(randomness, seed):
    """A 50-point two-arm spiral, ``X (2, 50)``, ``Y (1, 50)`` uint8 (not used by the
    notebook); seeds the global generator with ``seed``."""
    np.random.seed(seed)
    m = 50
    N = int(m / 2)
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        if j == 0:
            t = np.linspace(j, 4 * 3.1415 * (j + 1), N)
            r = 0.3 * np.square(t) + np.random.randn(N) * randomness
        if j == 1:
            t = np.linspace(j, 2 * 3.1415 * (j + 1), N)
            r = 0.2 * np.square(t) + np.random.randn(N) * randomness
        X[ix] = np.c_[r * np.cos(t), r * np.sin(t)]
        Y[ix] = j
    return X.T, Y.T


def initialize_parameters(layer_dims):
    """``np.random.seed(3)``; ``W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1})``, b zeros."""
    return _course2.seeded_weights(layer_dims, lambda W, n_prev: W / np.sqrt(n_prev))


def backward_propagation(X, Y, cache):
    """Gradients ``dZ3, dW3, db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1`` of the mean
    cross-entropy (``dZ3 = A3 - Y``, products scaled by 1/m)."""
    return _backward(X, Y, cache)


# -- the notebook ----------------------------------------------------------------------------

def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """``compute_cost`` plus ``lambd / (2 m) (|W1|^2 + |W2|^2 + |W3|^2)``."""
    m = Y.shape[1]
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    cross_entropy_cost = compute_cost(A3, Y)
    L2_regularization_cost = (lambd / (2 * m)) * (np.sum(np.square(W1)) + np.sum(np.square(W2))
                                                  + np.sum(np.square(W3)))
    return cross_entropy_cost + L2_regularization_cost


def backward_propagation_with_regularization(X, Y, cache, lambd):
    """``backward_propagation`` with ``lambd / m * W_l`` added to each ``dW_l``."""
    return _backward(X, Y, cache, lambd)


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    """Seeds the global generator with 1, then drops hidden units with masks
    ``D = rand(shape) < keep_prob`` (layer 1, then layer 2) and scales by 1/keep_prob.
    Returns ``(A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3))``."""
    np.random.seed(1)
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in _course2.NET_KEYS)
    Z1 = np.dot(W1, X) + b1
    A1 = relu(Z1)
    D1 = np.random.rand(A1.shape[0], A1.shape[1]) < keep_prob
    A1 = A1 * D1
    A1 = A1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = relu(Z2)
    D2 = np.random.rand(A2.shape[0], A2.shape[1]) < keep_prob
    A2 = A2 * D2
    A2 = A2 / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = sigmoid(Z3)
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    """``backward_propagation`` with ``dA_l = dA_l * D_l / keep_prob`` before the ReLU
    mask, for the cache of ``forward_propagation_with_dropout``."""
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    return _backward(X, Y, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3),
                     masks=(D1, D2), keep_prob=keep_prob)


def model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0,
          keep_prob=1):
    """The 3-layer net ``[n_x, 20, 3, 1]`` from ``initialize_parameters`` (seed 3),
    full-batch gradient descent with L2 (``lambd``) or dropout (``keep_prob``), not
    both.  Prints ``Cost after iteration i: cost`` every 10000 iterations when
    ``print_cost``, records the cost every 1000 and plots them.  Returns the parameters."""
    num_iterations = _common.check_iterations(num_iterations)
    layers_dims = [X.shape[0], 20, 3, 1]
    parameters = initialize_parameters(layers_dims)
    assert lambd == 0 or keep_prob == 1
    costs = []

    def record(i, params):
        if keep_prob == 1:
            a3, cache = forward_propagation(X, params)
        else:
            a3, cache = forward_propagation_with_dropout(X, params, keep_prob)
        cost = compute_cost(a3, Y) if lambd == 0 else \
            compute_cost_with_regularization(a3, Y, params, lambd)
        if print_cost and i % PRINT_EVERY == 0:
            print("Cost after iteration {}: {}".format(i, cost))
        if print_cost:
            costs.append(cost)

    masks = None
    if keep_prob < 1 and num_iterations:
        a3, cache = forward_propagation_with_dropout(X, parameters, keep_prob)
        masks = (cache[1], cache[6])
    parameters = _course2_train.regularized(parameters, X, Y, learning_rate, num_iterations,
                                            RECORD_EVERY, record, lambd, masks, keep_prob)
    _course2.plot_costs(costs, "iterations (x1,000)", "Learning rate =" + str(learning_rate))
    return parameters
