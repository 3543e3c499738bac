"""Problems shared by the tests and the scripts they run in subprocesses."""
import numpy as np


def mpi_problem(m=1001):
    """An odd-sized problem (uneven shards for 2 and 3 ranks): data, Model and fit
    arguments."""
    rng = np.random.default_rng(19)
    X = rng.standard_normal((7, m))
    Y = (X[:1] + 0.3 * rng.standard_normal((1, m)) > 0).astype(np.float64)
    model_args = dict(layer_dims=[7, 9, 5, 1], hidden_activation="tanh", seed=2,
                      num_threads=1)
    fit_args = dict(learning_rate=0.3, num_iterations=120, record_every=10)
    return X, Y, model_args, fit_args


# mpi_problem's network as a regression with this rate reaches inf after 91 iterations
DIVERGING = dict(output="linear", hidden_activation="relu")
DIVERGING_RATE = 50.0
