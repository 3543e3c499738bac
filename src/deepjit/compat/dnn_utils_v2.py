"""Drop-in replacement for the 2017-18 release's ``dnn_utils_v2`` (the activations the
week-4 step-by-step notebook imports)::

    from deepjit.compat.dnn_utils_v2 import sigmoid, sigmoid_backward, relu, relu_backward
"""
from .dnn_app_utils_v3 import relu, relu_backward, sigmoid, sigmoid_backward

__all__ = ["sigmoid", "sigmoid_backward", "relu", "relu_backward"]
