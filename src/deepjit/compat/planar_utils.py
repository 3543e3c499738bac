"""Drop-in replacement for the course's week-3 ``planar_utils`` plus the planar
notebook's functions (one tanh hidden layer; 2021+ behaviour)::

    from deepjit.compat.planar_utils import *   # instead of: from planar_utils import ...

Same names, argument order, defaults, return types (``compute_cost`` a Python float,
``predict`` a bool array) and random draws (numpy's global legacy generator).
``nn_model`` starts from the course's initial parameters (seed 3) and trains on a
compiled deepjit engine: ``$DEEPJIT_ENGINE`` ("cpu" by default; "numpy" or "cuda") or
the keyword-only ``engine=`` argument.  Training that produces NaN or inf raises
:class:`deepjit.TrainingDiverged`.
"""
import numpy as np

from . import _common
from .. import datasets
from ..activations import SIGMOID, TANH

__all__ = ["plot_decision_boundary", "sigmoid", "load_planar_dataset",
           "load_extra_datasets", "layer_sizes", "initialize_parameters",
           "forward_propagation", "compute_cost", "backward_propagation",
           "update_parameters", "nn_model", "predict"]

COST_EVERY = 1000


# -- planar_utils.py -------------------------------------------------------------------

def plot_decision_boundary(model, X, y):
    """Filled contours of ``model`` (an (k, 2) array of points -> labels) on a grid of
    step 0.01 padded by 1 around ``X : (2, m)``, with the data scattered over them."""
    import matplotlib.pyplot as plt
    x_min, x_max = X[0, :].min() - 1, X[0, :].max() + 1
    y_min, y_max = X[1, :].min() - 1, X[1, :].max() + 1
    h = 0.01
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Z = model(np.c_[xx.ravel(), yy.ravel()])
    Z = Z.reshape(xx.shape)
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral)
    plt.ylabel("x2")
    plt.xlabel("x1")
    plt.scatter(X[0, :], X[1, :], c=np.ravel(y), cmap=plt.cm.Spectral)


def sigmoid(x):
    return _common.sigmoid(x, lambda x: 1 / (1 + np.exp(-x)))


def load_planar_dataset():
    """The flower, ``X (2, 400)`` float64 and ``Y (1, 400)`` uint8; seeds the global
    generator with 1 and draws from it, as the course does."""
    np.random.seed(1)
    return datasets.draw_flower(np.random)


def load_extra_datasets():
    """Noisy circles, noisy moons, blobs, gaussian quantiles, no structure (200 points
    each; needs scikit-learn)."""
    return datasets.load_extra_datasets()


# -- the planar notebook ---------------------------------------------------------------

def layer_sizes(X, Y):
    """``(n_x, 4, n_y)``."""
    return (X.shape[0], 4, Y.shape[0])


def initialize_parameters(n_x, n_h, n_y):
    """``W = randn * 0.01`` from the global generator (no seeding here), b zeros."""
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def forward_propagation(X, parameters):
    """tanh hidden layer, sigmoid output; returns ``(A2, {"Z1", "A1", "Z2", "A2"})``."""
    Z1, A1 = _layer(X, parameters["W1"], parameters["b1"], TANH, np.tanh)
    Z2, A2 = _layer(A1, parameters["W2"], parameters["b2"], SIGMOID, sigmoid)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def _layer(A_prev, W, b, code, g):
    """``(Z, g(Z))`` for ``Z = W A_prev + b``: the fused kernel, else the course's numpy."""
    layer = _common.dense(A_prev, W, b, code)
    if layer is None:
        Z = np.dot(W, A_prev) + b
        return Z, g(Z)
    return layer


def compute_cost(A2, Y, parameters=None):
    """Mean binary cross-entropy as a Python float (``parameters``, the older
    signature's third argument, is accepted and unused)."""
    m = Y.shape[1]
    sums = _common.cross_entropy(A2, Y)
    if sums is None:
        logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
        return float(np.squeeze(- np.sum(logprobs) / m))
    return float(-(sums[0] + sums[1]) / m)


def backward_propagation(parameters, cache, X, Y):
    """Returns ``{"dW1", "db1", "dW2", "db2"}`` (tanh' = 1 - A1**2)."""
    W2, A1, A2 = parameters["W2"], cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2, db2 = _common.weight_gradients(dZ2, A1)
    dZ1 = _common.tanh_gradient(np.dot(W2.T, dZ2), A1,
                                lambda dA, A1: np.multiply(dA, 1 - np.power(A1, 2)))
    dW1, db1 = _common.weight_gradients(dZ1, X)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate=1.2):
    """One gradient step; returns a new dict (``parameters`` is left untouched)."""
    return {key: _common.step(parameters[key], grads["d" + key], learning_rate)
            for key in ("W1", "b1", "W2", "b2")}


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False, *, engine=None):
    """Seeds the global generator with 3, initialises with ``initialize_parameters`` and
    trains at learning rate 1.2 on a compiled engine; prints the cost every 1000
    iterations (``%f``) when ``print_cost``.  Returns the parameters."""
    return _nn_model(X, Y, n_h, num_iterations, print_cost, engine, initialize_parameters)


def _nn_model(X, Y, n_h, num_iterations, print_cost, engine, initialize):
    np.random.seed(3)
    n_x, _, n_y = layer_sizes(X, Y)
    parameters = initialize(n_x, n_h, n_y)
    if _common.check_iterations(num_iterations) == 0:
        return parameters
    model = _common.train(parameters, X, Y, "tanh", 1.2, num_iterations, COST_EVERY,
                          _print_cost if print_cost else None, engine)
    return model.parameters


def _print_cost(i, cost):
    print("Cost after iteration %i: %f" % (i, cost))


def predict(parameters, X):
    """``A2 > 0.5`` as a bool array (1, m)."""
    A2, cache = forward_propagation(X, parameters)
    return A2 > 0.5
