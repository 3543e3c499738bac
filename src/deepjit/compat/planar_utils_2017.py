"""The 2017-18 release's week-3 notebook (planar data) with ``planar_utils``::

    from deepjit.compat.planar_utils_2017 import *

Those of :mod:`.planar_utils` except ``initialize_parameters``, which seeds the global
generator with 2 itself, so ``nn_model`` (which seeds 3, then calls it) starts from
seed 2's draws.
"""
import numpy as np

from . import planar_utils as _current
from .planar_utils import (backward_propagation, compute_cost, forward_propagation,
                           layer_sizes, load_extra_datasets, load_planar_dataset,
                           plot_decision_boundary, predict, sigmoid, update_parameters)

__all__ = ["plot_decision_boundary", "sigmoid", "load_planar_dataset",
           "load_extra_datasets", "layer_sizes", "initialize_parameters",
           "forward_propagation", "compute_cost", "backward_propagation",
           "update_parameters", "nn_model", "predict"]


def initialize_parameters(n_x, n_h, n_y):
    """Seeds the global generator with 2; ``W = randn * 0.01``, b zeros."""
    np.random.seed(2)
    return _current.initialize_parameters(n_x, n_h, n_y)


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False, *, engine=None):
    """As :func:`.planar_utils.nn_model`, initialised by this release's
    ``initialize_parameters``."""
    return _current._nn_model(X, Y, n_h, num_iterations, print_cost, engine,
                              initialize_parameters)
