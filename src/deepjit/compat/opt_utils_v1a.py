"""Drop-in replacement for the second course's ``opt_utils_v1a`` plus the Optimization
Methods notebook's functions (week 2, 2021+ release, with section 7's learning-rate
decay)::

    from deepjit.compat.opt_utils_v1a import *  # instead of: from opt_utils_v1a import *

Same names, argument order, defaults, return types, printed lines and random draws
(numpy's global legacy generator).  ``load_dataset`` draws the moons as scikit-learn's
``make_moons`` does, without needing scikit-learn.  ``predict`` returns an int64 0/1
array (the course's ``np.int`` is gone from numpy 1.24 on).  ``model`` shuffles each
epoch as ``random_mini_batches(X, Y, mini_batch_size, seed)`` does, the seed counting
up from 11, as the notebook does (drawn by a compiled copy of numpy's legacy generator;
the global one is then left where the course leaves it), and trains on the cpu
engine's compiled narrow-net kernels (the course's update rules; ``decay`` is called
once per epoch, as the course does, and the lines are printed when the epochs are
done).
"""
import math

import numpy as np

from . import _common, _course2, _course2_train, _legacy_random
from .. import optim
from ._course2 import (backward_scaled_first as backward_propagation, cross_entropy_terms,
                       forward_propagation, load_2D_dataset, plot_decision_boundary,
                       predict, predict_dec, relu, sigmoid)
from ..datasets import draw_moons

__all__ = ["sigmoid", "relu", "load_params_and_grads", "initialize_parameters",
           "compute_cost", "forward_propagation", "backward_propagation", "predict",
           "load_2D_dataset", "plot_decision_boundary", "predict_dec", "load_dataset",
           "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
           "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam",
           "update_lr", "schedule_lr_decay", "model"]

PRINT_EVERY, RECORD_EVERY, FIRST_SEED = 1000, 100, 10


def load_params_and_grads(seed=1):
    """``np.random.seed(seed)``, then ``W1 (2, 3), b1 (2, 1), W2 (3, 3), b2 (3, 1), dW1,
    db1, dW2, db2`` (the same shapes) drawn with randn in that order."""
    np.random.seed(seed)
    shapes = ((2, 3), (2, 1), (3, 3), (3, 1)) * 2
    return tuple(np.random.randn(*shape) for shape in shapes)


def initialize_parameters(layer_dims):
    """``np.random.seed(3)``; He: ``W_l = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})``."""
    return _course2.seeded_weights(layer_dims, lambda W, n_prev: W * np.sqrt(2 / n_prev))


def compute_cost(a3, Y):
    """The **sum** (not the mean) of the cross-entropy over the examples."""
    return np.sum(cross_entropy_terms(a3, Y))


def load_dataset():
    """The moons: ``np.random.seed(3)``, 300 points with noise 0.2; ``train_X (2, 300)``,
    ``train_Y (1, 300)`` (int64); scatters them."""
    np.random.seed(3)
    train_X, train_Y = draw_moons(np.random, 300, noise=.2)
    _course2.scatter(train_X, train_Y, s=40)
    return train_X.T, train_Y.reshape((1, train_Y.shape[0]))


# -- the notebook ----------------------------------------------------------------------------

def update_parameters_with_gd(parameters, grads, learning_rate):
    """``W = W - lr dW``, ``b = b - lr db`` for every layer (into ``parameters``)."""
    return _course2.update_parameters(parameters, grads, learning_rate)


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """``np.random.seed(seed)``, one permutation of the columns, then consecutive batches
    of ``mini_batch_size`` (the last one smaller when it does not divide m).  Returns a
    list of ``(mini_batch_X, mini_batch_Y)``."""
    np.random.seed(seed)
    m = X.shape[1]
    permutation = np.random.permutation(m)
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((1, m))
    num_complete_minibatches = math.floor(m / mini_batch_size)
    starts = range(0, num_complete_minibatches * mini_batch_size, mini_batch_size)
    mini_batches = [(shuffled_X[:, k:k + mini_batch_size], shuffled_Y[:, k:k + mini_batch_size])
                    for k in starts]
    if m % mini_batch_size != 0:
        rest = num_complete_minibatches * mini_batch_size
        mini_batches.append((shuffled_X[:, rest:], shuffled_Y[:, rest:]))
    return mini_batches


def initialize_velocity(parameters):
    """``{"dW1": zeros like W1, "db1": zeros like b1, ...}``."""
    L = len(parameters) // 2
    return {"d" + name + str(l): np.zeros(parameters[name + str(l)].shape)
            for l in range(1, L + 1) for name in ("W", "b")}


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """``v = beta v + (1 - beta) grad``, ``param = param - lr v``; returns
    ``(parameters, v)`` (both updated in place)."""
    for key in _keys(parameters):
        v["d" + key] = beta * v["d" + key] + (1 - beta) * grads["d" + key]
        parameters[key] = parameters[key] - learning_rate * v["d" + key]
    return parameters, v


def initialize_adam(parameters):
    """``(v, s)``: two dicts of zeros like ``initialize_velocity``."""
    return initialize_velocity(parameters), initialize_velocity(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9,
                                beta2=0.999, epsilon=1e-8):
    """One Adam step with bias correction at step ``t``; returns ``(parameters, v, s,
    v_corrected, s_corrected)``."""
    v_corrected, s_corrected = {}, {}
    for key in _keys(parameters):
        g = "d" + key
        v[g] = beta1 * v[g] + (1 - beta1) * grads[g]
        v_corrected[g] = v[g] / (1 - beta1 ** t)
        s[g] = beta2 * s[g] + (1 - beta2) * np.square(grads[g])
        s_corrected[g] = s[g] / (1 - beta2 ** t)
        parameters[key] = parameters[key] - learning_rate * v_corrected[g] / (
            np.sqrt(s_corrected[g]) + epsilon)
    return parameters, v, s, v_corrected, s_corrected


def _keys(parameters):
    L = len(parameters) // 2
    return [name + str(l) for l in range(1, L + 1) for name in ("W", "b")]


def update_lr(learning_rate0, epoch_num, decay_rate):
    """``learning_rate0 / (1 + decay_rate * epoch_num)``."""
    return learning_rate0 / (1 + decay_rate * epoch_num)


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """``learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))``."""
    return learning_rate0 / (1 + decay_rate * np.floor(epoch_num / time_interval))


OPTIMIZERS = ("gd", "momentum", "adam")


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9,
          beta1=0.9, beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True,
          decay=None, decay_rate=1):
    """The 3-layer net ``layers_dims`` from ``initialize_parameters`` (seed 3, He),
    ``num_epochs`` epochs of mini-batches with ``optimizer`` ("gd", "momentum" or
    "adam"); ``decay(learning_rate0, epoch, decay_rate)`` sets the learning rate after
    each epoch.  Prints ``Cost after epoch i: cost`` (and the learning rate with decay)
    every 1000 epochs when ``print_cost``, records the cost every 100 and plots them.
    Returns the parameters."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected 'gd', 'momentum' or 'adam', got {optimizer!r}")
    if len(layers_dims) != 4:
        raise ValueError(f"layers_dims: expected the 3-layer net's 4 sizes [n_x, n_1, n_2, "
                         f"n_y], got {list(layers_dims)!r}")
    num_epochs = _common.check_iterations(num_epochs)
    m = X.shape[1]
    parameters = initialize_parameters(layers_dims)
    rule = {"gd": lambda: optim.GradientDescent(), "momentum": lambda: optim.Momentum(beta),
            "adam": lambda: optim.Adam(beta1, beta2, epsilon)}[optimizer]()
    # the rate after each epoch (the course sets it there); epoch i trains at the one before
    rates_after = [decay(learning_rate, i, decay_rate) if decay else learning_rate
                   for i in range(num_epochs)]
    recorded = [print_cost and i % RECORD_EVERY == 0 for i in range(num_epochs)]

    orders = np.empty((_course2_train.epochs_per_chunk(m), m), np.int64)

    def epoch_orders(epochs):   # random_mini_batches' draws, compiled
        return _legacy_random.permutations(np.arange(epochs.start, epochs.stop) + FIRST_SEED + 1,
                                           m, orders)

    parameters, cost_totals = _course2_train.minibatch(
        parameters, X, Y, rule, mini_batch_size, ([learning_rate] + rates_after)[:num_epochs],
        epoch_orders, recorded)
    if num_epochs:   # leave the global generator where the course's last epoch leaves it
        np.random.seed(FIRST_SEED + num_epochs)
        np.random.permutation(m)
    costs = []
    for i in np.flatnonzero(recorded):
        _report(i, cost_totals[i] / m, rates_after[i], decay, costs)
    _course2.plot_costs(costs, "epochs (per 100)",
                        "Learning rate = " + str(rates_after[-1] if num_epochs else learning_rate))
    return parameters


def _report(i, cost_avg, rate, decay, costs):
    """The course's lines after epoch ``i`` (every PRINT_EVERY) and its recorded cost."""
    if i % PRINT_EVERY == 0:
        print("Cost after epoch %i: %f" % (i, cost_avg))
        if decay:
            print("learning rate after epoch %i: %f" % (i, rate))
    costs.append(cost_avg)
