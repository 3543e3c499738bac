"""The 2017-18 release's week-4 step-by-step notebook's functions::

    from deepjit.compat.step_by_step_2017 import *

Those of :mod:`.step_by_step` except two the release writes differently:
``L_model_backward`` stores the gradients of the activations as ``dA1`` (with respect
to X) ... ``dAL`` (see :mod:`.dnn_app_utils_v2`), and ``update_parameters`` updates the
dict it is given (new arrays in it) and returns it.
"""
from .dnn_app_utils_v2 import L_model_backward, update_parameters
from .step_by_step import (L_model_forward, compute_cost, initialize_parameters,
                           initialize_parameters_deep, linear_activation_backward,
                           linear_activation_forward, linear_backward, linear_forward, relu,
                           relu_backward, sigmoid, sigmoid_backward)

__all__ = ["sigmoid", "relu", "relu_backward", "sigmoid_backward", "initialize_parameters",
           "initialize_parameters_deep", "linear_forward", "linear_activation_forward",
           "L_model_forward", "compute_cost", "linear_backward",
           "linear_activation_backward", "L_model_backward", "update_parameters"]
