"""Drop-in replacement for the 2017-18 release's week-4 helper file ``dnn_app_utils_v2``
plus that release's application notebook (``two_layer_model``, ``L_layer_model``)::

    from deepjit.compat.dnn_app_utils_v2 import *    # instead of: from dnn_app_utils_v2 import *

The functions are those of :mod:`.dnn_app_utils_v3` except where the release differs:

- ``L_model_backward`` stores each layer's ``dA_prev`` under the layer's own number,
  ``grads["dA" + str(l + 1)]``: ``dA1`` is the gradient with respect to X and ``dAL``
  that with respect to ``A_{L-1}`` (the current release's ``dA0`` ... ``dA{L-1}``);
- ``two_layer_model`` and ``L_layer_model`` return only the parameters; they record
  and print the costs only when ``print_cost`` (``two_layer_model`` with ``{}``,
  ``L_layer_model`` with ``%f``), print no extra line for the last iteration, and plot
  the recorded costs at the end ("iterations (per tens)").
"""
from . import dnn_app_utils_v3 as _v3
from .dnn_app_utils_v3 import (L_model_forward, compute_cost, initialize_parameters,
                               initialize_parameters_deep, linear_activation_backward,
                               linear_activation_forward, linear_backward, linear_forward,
                               load_data, predict, print_mislabeled_images, relu,
                               relu_backward, sigmoid, sigmoid_backward, update_parameters)

__all__ = ["sigmoid", "relu", "relu_backward", "sigmoid_backward", "load_data",
           "initialize_parameters", "initialize_parameters_deep", "linear_forward",
           "linear_activation_forward", "L_model_forward", "compute_cost",
           "linear_backward", "linear_activation_backward", "L_model_backward",
           "update_parameters", "predict", "print_mislabeled_images", "two_layer_model",
           "L_layer_model"]


def L_model_backward(AL, Y, caches):
    """The current ``L_model_backward`` with ``dA{l}`` renamed ``dA{l + 1}`` (``dA1`` is
    the gradient with respect to X, computed when first read)."""
    return _v3.L_model_backward(AL, Y, caches).renamed(
        lambda key: "dA" + str(int(key[2:]) + 1) if key.startswith("dA") else key)


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, *, engine=None):
    """LINEAR -> RELU -> LINEAR -> SIGMOID from ``initialize_parameters`` (seed 1);
    prints ``Cost after iteration i: cost`` every 100 iterations when ``print_cost``,
    plots the costs, returns the parameters."""
    (n_x, n_h, n_y) = layers_dims
    return _train(initialize_parameters(n_x, n_h, n_y), X, Y, learning_rate, num_iterations,
                  print_cost, engine, _v3._print_cost)


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, *, engine=None):
    """[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID from ``initialize_parameters_deep``
    (seed 1); prints ``Cost after iteration i: cost`` (``%f``) every 100 iterations when
    ``print_cost``, plots the costs, returns the parameters."""
    return _train(initialize_parameters_deep(layers_dims), X, Y, learning_rate,
                  num_iterations, print_cost, engine, _print_cost)


def _train(parameters, X, Y, learning_rate, num_iterations, print_cost, engine, print_line):
    parameters, costs = _v3._train_deep(parameters, X, Y, learning_rate, num_iterations,
                                        print_cost, engine, print_line, print_last=False)
    _v3.plot_costs(costs if print_cost else [], learning_rate, "iterations (per tens)")
    return parameters


def _print_cost(i, cost):
    print("Cost after iteration %i: %f" % (i, cost))
