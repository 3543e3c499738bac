"""Weight initialisation with the course's random draws.

Every scheme draws ``randn(n_l, n_{l-1})`` for W1, then W2, ... from numpy's legacy
generator (the order of ``initialize_parameters_deep``); biases are zeros.  With a seed
the draws come from ``np.random.RandomState(seed)``, which yields exactly the numbers
``np.random.seed(seed); np.random.randn(...)`` gives, without touching the global
state; with ``seed=None`` they come from the global generator, as the week-3 notebook's
unseeded ``initialize_parameters`` does.
"""
import numbers

import numpy as np


def _small(W, n_prev, n_l):
    return W * 0.01


def _scaled(W, n_prev, n_l):
    return W / np.sqrt(n_prev)


def _he(W, n_prev, n_l):
    return W * np.sqrt(2.0 / n_prev)


def _xavier(W, n_prev, n_l):
    return W * np.sqrt(2.0 / (n_prev + n_l))


SCALINGS = {"small": _small, "scaled": _scaled, "he": _he, "xavier": _xavier}
INITIALIZERS = sorted(SCALINGS) + ["zeros"]


def check_init(init, layer_dims):
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise ValueError(f"init: unknown initialisation {init!r}; expected one of {INITIALIZERS}")
    if init == "zeros" and len(layer_dims) > 2:
        raise ValueError("init: 'zeros' is only valid for a network with no hidden layer "
                         "(logistic regression): with hidden layers every unit of a layer "
                         "would stay identical (symmetry is never broken); use 'small', "
                         "'scaled', 'he' or 'xavier'")
    return init


def check_seed(seed):
    """None (the global generator) or an integer in [0, 2**32 - 1], as np.random.seed takes."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) \
            or not 0 <= seed < 2 ** 32:
        raise ValueError(f"seed: expected None or an integer between 0 and 2**32 - 1, "
                         f"got {seed!r}")
    return int(seed)


def initialize(layer_dims, init="scaled", seed=1, dtype=np.float64):
    """Return ``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}`` in ``dtype``."""
    check_init(init, layer_dims)
    seed = check_seed(seed)
    rng = np.random if seed is None else np.random.RandomState(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        n_l, n_prev = layer_dims[l], layer_dims[l - 1]
        if init == "zeros":
            W = np.zeros((n_l, n_prev))
        else:
            W = SCALINGS[init](rng.randn(n_l, n_prev), n_prev, n_l)
        parameters[f"W{l}"] = W.astype(dtype, copy=False)
        parameters[f"b{l}"] = np.zeros((n_l, 1), dtype=dtype)
    return parameters
