"""Drop-in replacement for the course's week-2 ``lr_utils`` plus the logistic-regression
notebook's functions (2021+ behaviour)::

    from deepjit.compat.lr_utils import *      # instead of: from lr_utils import load_dataset

``optimize`` (and so ``model``) runs its iterations on a compiled deepjit engine, a
``Model([dim, 1], output="sigmoid")`` started from ``w`` and ``b``; the last iteration is
the course's own numpy step, which gives the returned gradients exactly as the course
computes them (at the parameters before the last update).  The engine is
``$DEEPJIT_ENGINE`` ("cpu" by default; "numpy" or "cuda") or the keyword-only
``engine=`` argument.  Training that produces NaN or inf raises
:class:`deepjit.TrainingDiverged`.
"""
import copy

import numpy as np

from . import _common

__all__ = ["load_dataset", "sigmoid", "initialize_with_zeros", "propagate", "optimize",
           "predict", "model"]

COST_EVERY = 100


def load_dataset(path=None):
    """``(train_set_x_orig, train_set_y, test_set_x_orig, test_set_y, classes)`` from
    ``datasets/train_catvnoncat.h5`` and ``datasets/test_catvnoncat.h5`` (relative to
    the working directory), or from ``path`` (a directory or either file).  y : (1, m)."""
    return _common.load_cat_files(path)


def sigmoid(z):
    return _common.sigmoid(z, lambda z: 1 / (1 + np.exp(-z)))


def initialize_with_zeros(dim):
    """``w : (dim, 1)`` zeros and ``b = 0.0``."""
    return np.zeros((dim, 1)), 0.0


def propagate(w, b, X, Y):
    """Cost and gradients of logistic regression: returns ``({"dw", "db"}, cost)``,
    ``dw : (dim, 1)``, ``db`` and ``cost`` scalars (cost a 0-d array)."""
    m = X.shape[1]
    A = sigmoid(np.dot(w.T, X) + b)
    cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    dw = 1 / m * np.dot(X, (A - Y).T)
    db = 1 / m * np.sum(A - Y)
    return {"dw": dw, "db": db}, np.squeeze(np.array(cost))


def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False, *,
             engine=None):
    """Gradient descent on ``(w, b)`` (copies; the caller's are untouched).  Returns
    ``({"w", "b"}, {"dw", "db"}, costs)``: the gradients of the last iteration and the
    costs (0-d arrays) at iterations 0, 100, ...; prints them (``%f``) when asked."""
    w, b = copy.deepcopy(w), copy.deepcopy(b)
    n = _common.check_iterations(num_iterations)
    costs = []
    if n > 1:
        w, b, costs = _descend_on_engine(w, b, X, Y, n - 1, learning_rate, print_cost, engine)
    if n == 0:
        return {"w": w, "b": b}, {}, costs
    grads, cost = propagate(w, b, X, Y)
    w = w - learning_rate * grads["dw"]
    b = b - learning_rate * grads["db"]
    if (n - 1) % COST_EVERY == 0:
        costs.append(cost)
        if print_cost:
            _print_cost(n - 1, cost)
    return {"w": w, "b": b}, grads, costs


def _descend_on_engine(w, b, X, Y, num_iterations, learning_rate, print_cost, engine):
    """``num_iterations`` steps on the engine; returns ``(w, b, costs)``."""
    parameters = {"W1": np.reshape(w, (1, -1)), "b1": np.full((1, 1), b, dtype=np.float64)}
    fitted = _common.train(parameters, X, Y, [], learning_rate, num_iterations, COST_EVERY,
                           _print_cost if print_cost else None, engine)
    trained = fitted.parameters
    w = trained["W1"].reshape(np.shape(w))
    b = np.float64(trained["b1"][0, 0])
    return w, b, [np.array(cost) for cost in fitted.costs_]


def _print_cost(i, cost):
    print("Cost after iteration %i: %f" % (i, cost))


def predict(w, b, X):
    """Float 0./1. predictions ``(1, m)``, threshold ``> 0.5``."""
    m = X.shape[1]
    w = w.reshape(X.shape[0], 1)
    A = sigmoid(np.dot(w.T, X) + b)
    return (A > 0.5).astype(np.float64).reshape(1, m)


def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5,
          print_cost=False, *, engine=None):
    """Logistic regression from zeros; returns the dict ``{"costs", "Y_prediction_test",
    "Y_prediction_train", "w", "b", "learning_rate", "num_iterations"}`` and, when
    ``print_cost``, prints the costs and the train / test accuracies."""
    return _model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate,
                  print_cost, engine, print_accuracy=print_cost)


def _model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate, print_cost,
           engine, print_accuracy):
    w, b = initialize_with_zeros(X_train.shape[0])
    params, grads, costs = optimize(w, b, X_train, Y_train, num_iterations, learning_rate,
                                    print_cost, engine=engine)
    w, b = params["w"], params["b"]
    Y_prediction_test = predict(w, b, X_test)
    Y_prediction_train = predict(w, b, X_train)
    if print_accuracy:
        print("train accuracy: {} %".format(
            100 - np.mean(np.abs(Y_prediction_train - Y_train)) * 100))
        print("test accuracy: {} %".format(
            100 - np.mean(np.abs(Y_prediction_test - Y_test)) * 100))
    return {"costs": costs, "Y_prediction_test": Y_prediction_test,
            "Y_prediction_train": Y_prediction_train, "w": w, "b": b,
            "learning_rate": learning_rate, "num_iterations": num_iterations}
