"""Drop-in versions of the week-4 step-by-step notebook's functions (2021+ behaviour)::

    from deepjit.compat.step_by_step import *

They are the helper file's functions (:mod:`deepjit.compat.dnn_app_utils_v3`, computed
with BLAS and fused Numba kernels) except two that the notebook defines its own way:

- ``initialize_parameters_deep(layer_dims)`` seeds the global generator with 3 and
  draws ``W_l = randn(n_l, n_{l-1}) * 0.01``;
- ``update_parameters(params, grads, learning_rate)`` leaves ``params`` untouched and
  returns a new dict.
"""
import copy

import numpy as np

from .dnn_app_utils_v3 import (L_model_backward, L_model_forward, compute_cost,
                               initialize_parameters, linear_activation_backward,
                               linear_activation_forward, linear_backward, linear_forward,
                               relu, relu_backward, sigmoid, sigmoid_backward)

__all__ = ["sigmoid", "relu", "relu_backward", "sigmoid_backward", "initialize_parameters",
           "initialize_parameters_deep", "linear_forward", "linear_activation_forward",
           "L_model_forward", "compute_cost", "linear_backward",
           "linear_activation_backward", "L_model_backward", "update_parameters"]


def initialize_parameters_deep(layer_dims):
    """Seeds the global generator with 3; ``W_l = randn(n_l, n_{l-1}) * 0.01``, b zeros."""
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def update_parameters(params, grads, learning_rate):
    """One gradient step on a copy of ``params``; returns the new dict."""
    parameters = copy.deepcopy(params)
    L = len(parameters) // 2
    for l in range(1, L + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters
