"""The 2017-18 release's week-2 notebook (logistic regression) with ``lr_utils``::

    from deepjit.compat.lr_utils_2017 import *

Those of :mod:`.lr_utils` except ``model``, which prints the train and test accuracies
whatever ``print_cost`` says (the costs only when it is true).
"""
from . import lr_utils as _current
from .lr_utils import (initialize_with_zeros, load_dataset, optimize, predict, propagate,
                       sigmoid)

__all__ = ["load_dataset", "sigmoid", "initialize_with_zeros", "propagate", "optimize",
           "predict", "model"]


def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5,
          print_cost=False, *, engine=None):
    """As :func:`.lr_utils.model`, always printing the train and test accuracies."""
    return _current._model(X_train, Y_train, X_test, Y_test, num_iterations, learning_rate,
                           print_cost, engine, print_accuracy=True)
