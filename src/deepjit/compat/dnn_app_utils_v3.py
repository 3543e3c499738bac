"""Drop-in replacement for the course's week-4 helper file ``dnn_app_utils_v3`` plus the
application notebook's ``two_layer_model`` and ``L_layer_model`` (2021+ behaviour)::

    from deepjit.compat.dnn_app_utils_v3 import *    # instead of: from dnn_app_utils_v3 import *

Same names, argument order, defaults, return structures and random draws (numpy's
global legacy generator, seeded as the course seeds it), and the same printed lines.

- ``two_layer_model`` / ``L_layer_model`` start from the course's initial parameters and
  train on a compiled deepjit engine (:class:`deepjit.Model`), which picks its fastest
  exact formulation.  The engine is ``$DEEPJIT_ENGINE`` ("cpu" by default; "numpy" or
  "cuda"), or the keyword-only ``engine=`` argument.  Training that produces NaN or inf
  raises :class:`deepjit.TrainingDiverged` instead of carrying on with NaN.
- The step functions (``linear_forward`` ... ``L_model_backward``) return the course's
  caches and gradient dicts, its numbers to the bit, computed without copying their
  inputs (any memory layout): BLAS for the products, numpy's ufuncs in place for the
  sigmoid, one fused Numba pass for the rest (:mod:`._kernels`).
  ``L_model_backward`` computes ``dA0`` when it is first read.
"""
import functools

import numpy as np

from . import _common
from ..activations import RELU, SIGMOID

__all__ = ["sigmoid", "relu", "relu_backward", "sigmoid_backward", "load_data",
           "initialize_parameters", "initialize_parameters_deep", "linear_forward",
           "linear_activation_forward", "L_model_forward", "compute_cost",
           "linear_backward", "linear_activation_backward", "L_model_backward",
           "update_parameters", "predict", "print_mislabeled_images", "two_layer_model",
           "L_layer_model", "plot_costs"]

COST_EVERY = 100
ACTIVATIONS = {"sigmoid": SIGMOID, "relu": RELU}


# -- activations ---------------------------------------------------------------------------

def sigmoid(Z):
    """``A = 1 / (1 + exp(-Z))``; returns ``(A, cache)`` with ``cache = Z``."""
    return _common.sigmoid(Z, _sigmoid), Z


def relu(Z):
    """``A = max(0, Z)``; returns ``(A, cache)`` with ``cache = Z`` (numpy's one pass is
    all a kernel could do; in a layer, relu is fused with the bias)."""
    return np.maximum(0, Z), Z


def relu_backward(dA, cache):
    """``dZ = dA`` except where ``Z <= 0`` (0 there); ``cache = Z``."""
    return _common.relu_gradient(dA, cache, _relu_gradient)


def sigmoid_backward(dA, cache):
    """``dZ = dA * s * (1 - s)`` with ``s = sigmoid(Z)``; ``cache = Z``."""
    return _common.sigmoid_gradient(dA, cache, _sigmoid_gradient)


def _sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def _relu_gradient(dA, Z):
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def _sigmoid_gradient(dA, Z):
    s = _sigmoid(Z)
    return dA * s * (1 - s)


# -- data and initialisation ---------------------------------------------------------------

def load_data(path=None):
    """``(train_x_orig, train_y, test_x_orig, test_y, classes)`` from
    ``datasets/train_catvnoncat.h5`` and ``datasets/test_catvnoncat.h5`` (relative to
    the working directory), or from ``path`` (a directory or either file).  y : (1, m)."""
    return _common.load_cat_files(path)


def initialize_parameters(n_x, n_h, n_y):
    """Seeds the global generator with 1; ``W = randn * 0.01``, ``b = 0``."""
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def initialize_parameters_deep(layer_dims):
    """Seeds the global generator with 1; ``W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1})``."""
    np.random.seed(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = (np.random.randn(layer_dims[l], layer_dims[l - 1])
                                    / np.sqrt(layer_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


# -- forward -------------------------------------------------------------------------------

def linear_forward(A, W, b):
    """``Z = W A + b``; returns ``(Z, (A, W, b))``."""
    return _common.linear(A, W, b), (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    """``A = g(W A_prev + b)`` with g "sigmoid" or "relu"; returns
    ``(A, ((A_prev, W, b), Z))``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected 'sigmoid' or 'relu', got {activation!r}")
    layer = _common.dense(A_prev, W, b, ACTIVATIONS[activation])
    if layer is None:
        Z, _ = linear_forward(A_prev, W, b)
        A, _ = sigmoid(Z) if activation == "sigmoid" else relu(Z)
    else:
        Z, A = layer
    return A, ((A_prev, W, b), Z)


def L_model_forward(X, parameters):
    """[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID; returns ``(AL, caches)``, caches a
    list of the L layers' caches."""
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)],
                                             parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)],
                                          parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    """Mean binary cross-entropy as a 0-d array (the course's expression: its numbers to
    the bit, at its speed)."""
    m = Y.shape[1]
    cost = (1. / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T))
    return np.squeeze(cost)


# -- backward ------------------------------------------------------------------------------

def linear_backward(dZ, cache):
    """Returns ``(dA_prev, dW, db)`` for ``cache = (A_prev, W, b)``."""
    A_prev, W, b = cache
    return _common.linear_gradients(dZ, A_prev, W)


def linear_activation_backward(dA, cache, activation):
    """Returns ``(dA_prev, dW, db)`` for ``cache = (linear_cache, Z)``."""
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(dA, activation_cache)
    elif activation == "sigmoid":
        dZ = sigmoid_backward(dA, activation_cache)
    else:
        raise ValueError(f"activation: expected 'sigmoid' or 'relu', got {activation!r}")
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches):
    """Gradients ``{"dA{L-1}", "dWL", "dbL", ..., "dA0", "dW1", "db1"}`` from
    ``dAL = -(Y/AL - (1-Y)/(1-AL))``; caches a list or tuple.  ``dA0``, the gradient with
    respect to X, is computed when first read (see :class:`._common.Gradients`)."""
    grads = _common.Gradients()
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dZ = _common.output_gradient(AL, Y, caches[L - 1][1], _output_gradient)
    for l in reversed(range(L)):
        (A_prev, W, b), Z = caches[l]
        if l < L - 1:
            dZ = relu_backward(grads["dA" + str(l + 1)], Z)
        if l == 0 and type(W) is np.ndarray:
            grads.defer("dA0", functools.partial(_common.product, _common.copy(W).T, dZ))
            grads["dW1"], grads["db1"] = _common.weight_gradients(dZ, A_prev)
        else:
            grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = \
                linear_backward(dZ, (A_prev, W, b))
    return grads


def _output_gradient(AL, Y, ZL):
    dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    return sigmoid_backward(dAL, ZL)


def update_parameters(parameters, grads, learning_rate):
    """One gradient step; updates the dict in place (new arrays) and returns it."""
    L = len(parameters) // 2
    for l in range(1, L + 1):
        for name in ("W" + str(l), "b" + str(l)):
            parameters[name] = _common.step(parameters[name], grads["d" + name], learning_rate)
    return parameters


# -- prediction and pictures ---------------------------------------------------------------

def predict(X, y, parameters):
    """Float 0./1. predictions ``p : (1, m)`` (threshold ``> 0.5``); prints
    ``"Accuracy: ..."`` as the course does."""
    m = X.shape[1]
    probas, caches = L_model_forward(X, parameters)
    p = (probas[:1] > 0.5).astype(np.float64)
    print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


def print_mislabeled_images(classes, X, y, p):
    """A grid of the misclassified images (X flattened, one 64x64x3 image per column)."""
    import matplotlib.pyplot as plt
    a = p + y
    mislabeled_indices = np.asarray(np.where(a == 1))
    plt.rcParams["figure.figsize"] = (40.0, 40.0)
    num_images = len(mislabeled_indices[0])
    for i in range(num_images):
        index = mislabeled_indices[1][i]
        plt.subplot(2, num_images, i + 1)
        plt.imshow(X[:, index].reshape(64, 64, 3), interpolation="nearest")
        plt.axis("off")
        plt.title("Prediction: " + classes[int(p[0, index])].decode("utf-8") + " \n Class: "
                  + classes[y[0, index]].decode("utf-8"))


def plot_costs(costs, learning_rate=0.0075, _xlabel="iterations (per hundreds)"):
    """The application notebook's learning curve (one point per 100 iterations)."""
    import matplotlib.pyplot as plt
    plt.plot(np.squeeze(costs))
    plt.ylabel("cost")
    plt.xlabel(_xlabel)
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()


# -- the application notebook's models ----------------------------------------------------

def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, *, engine=None):
    """LINEAR -> RELU -> LINEAR -> SIGMOID from ``initialize_parameters`` (seed 1,
    ``* 0.01``); ``layers_dims = (n_x, n_h, n_y)``.  Returns ``(parameters, costs)``,
    costs (0-d arrays) at iterations 0, 100, ...  Prints as ``_train_deep`` says."""
    (n_x, n_h, n_y) = layers_dims
    return _train_deep(initialize_parameters(n_x, n_h, n_y), X, Y, learning_rate,
                       num_iterations, print_cost, engine)


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, *, engine=None):
    """[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID from ``initialize_parameters_deep``
    (seed 1).  Returns ``(parameters, costs)``, costs (0-d arrays) at iterations 0,
    100, ...  Prints as ``_train_deep`` says."""
    return _train_deep(initialize_parameters_deep(layers_dims), X, Y, learning_rate,
                       num_iterations, print_cost, engine)


def _train_deep(parameters, X, Y, learning_rate, num_iterations, print_cost, engine,
                print_line=None, print_last=True):
    """The notebook's loop on a compiled engine; returns ``(parameters, costs)``.  Prints
    ``print_line(i, cost)`` (by default ``Cost after iteration i: cost``) as the
    notebook's ``if print_cost and i % 100 == 0 or i == num_iterations - 1`` does: every
    100 iterations when ``print_cost``, and the last iteration always (the notebook's
    own test cells show that line with ``print_cost=False``) unless ``print_last`` is
    False."""
    print_line = print_line or _print_cost
    if _common.check_iterations(num_iterations) == 0:
        return parameters, []
    model = _common.train(parameters, X, Y, "relu", learning_rate, num_iterations,
                          COST_EVERY, print_line if print_cost else None, engine)
    last = model.n_iter_ - 1
    if print_last and not model.interrupted_ and not (print_cost and last % COST_EVERY == 0):
        print_line(last, model.final_cost_)
    return model.parameters, [np.array(cost) for cost in model.costs_]


def _print_cost(i, cost):
    print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
