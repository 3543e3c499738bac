"""Drop-in replacement for the second course's ``init_utils`` plus the Initialization
notebook's functions (week 1, 2021+ release)::

    from deepjit.compat.init_utils import *     # instead of: from init_utils import *

Same names, argument order, defaults, return types, printed lines and random draws
(numpy's global legacy generator).  ``load_dataset`` draws the circles as
scikit-learn's ``make_circles`` does, without needing scikit-learn.  ``predict`` returns
an int64 0/1 array (the course's ``np.int`` is gone from numpy 1.24 on).  ``model``
trains on a compiled deepjit engine (``$DEEPJIT_ENGINE`` or the keyword-only
``engine=``: "cpu" by default, "numpy" or "cuda") and prints the course's cost, computed
from the parameters at each printed iteration.
"""
import numpy as np

from . import _common, _course2, _course2_train
from ._course2 import (backward_scaled_first as backward_propagation, forward_propagation,
                       load_cat_dataset, mean_nansum_cost as compute_loss,
                       plot_decision_boundary, predict, predict_dec, relu, sigmoid,
                       update_parameters)
from ..datasets import draw_circles

__all__ = ["sigmoid", "relu", "forward_propagation", "backward_propagation",
           "update_parameters", "compute_loss", "load_cat_dataset", "predict",
           "plot_decision_boundary", "predict_dec", "load_dataset",
           "initialize_parameters_zeros", "initialize_parameters_random",
           "initialize_parameters_he", "model"]

COST_EVERY = 1000


def load_dataset():
    """The circles: ``np.random.seed(1)``, 300 training points, ``np.random.seed(2)``, 100
    test points (noise 0.05).  Returns ``train_X (2, 300)``, ``train_Y (1, 300)``,
    ``test_X (2, 100)``, ``test_Y (1, 100)`` (labels int64) and scatters the training set."""
    np.random.seed(1)
    train_X, train_Y = draw_circles(np.random, 300, noise=.05)
    np.random.seed(2)
    test_X, test_Y = draw_circles(np.random, 100, noise=.05)
    _course2.scatter(train_X, train_Y, s=40)
    return (train_X.T, train_Y.reshape((1, train_Y.shape[0])),
            test_X.T, test_Y.reshape((1, test_Y.shape[0])))


# -- the notebook ----------------------------------------------------------------------------

def initialize_parameters_zeros(layers_dims):
    """All weights and biases zero."""
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters["W" + str(l)] = np.zeros((layers_dims[l], layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_random(layers_dims):
    """``np.random.seed(3)``; ``W_l = randn(n_l, n_{l-1}) * 10``, b zeros."""
    return _course2.seeded_weights(layers_dims, lambda W, n_prev: W * 10)


def initialize_parameters_he(layers_dims):
    """``np.random.seed(3)``; ``W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})``, b zeros."""
    return _course2.seeded_weights(layers_dims, lambda W, n_prev: W * np.sqrt(2 / n_prev))


INITIALIZERS = {"zeros": initialize_parameters_zeros, "random": initialize_parameters_random,
                "he": initialize_parameters_he}


def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True,
          initialization="he", *, engine=None):
    """The 3-layer net ``[n_x, 10, 5, 1]`` from the chosen initialisation ("zeros",
    "random" or "he"), full-batch gradient descent on a compiled engine; prints
    ``Cost after iteration i: cost`` every 1000 iterations when ``print_cost`` and plots
    the costs.  Returns the parameters."""
    if initialization not in INITIALIZERS:
        raise ValueError(f"initialization: expected 'zeros', 'random' or 'he', got "
                         f"{initialization!r}")
    num_iterations = _common.check_iterations(num_iterations)
    layers_dims = [X.shape[0], 10, 5, 1]
    parameters = INITIALIZERS[initialization](layers_dims)
    costs = []

    def record(i, params):
        cost = compute_loss(forward_propagation(X, params)[0], Y)
        if print_cost:
            print("Cost after iteration {}: {}".format(i, cost))
            costs.append(cost)

    if num_iterations:
        parameters = _course2_train.full_batch(parameters, X, Y, learning_rate,
                                               num_iterations, COST_EVERY, record, engine)
    _course2.plot_costs(costs, "iterations (per hundreds)",
                        "Learning rate =" + str(learning_rate))
    return parameters
