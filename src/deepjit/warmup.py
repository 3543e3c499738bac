"""``deepjit.warmup()`` (and ``deepjit warmup``): compiles the cpu engine's kernels ahead
of a first fit and stores them in Numba's on-disk cache, so that a later process (a
notebook, a class's first run, a CI job) loads them instead of compiling.

Every kernel takes the network's sizes and activation codes as arrays, so one tiny fit per
dtype and formulation compiles what any fit of that dtype and formulation runs; the
mini-batch fit (Adam, dropout and L2, which the kernels take as run-time values) covers the
mini-batch epochs, and ``predict_proba`` the forward pass called from Python.  The cache
lives where Numba puts it (``__pycache__`` beside the sources, or ``NUMBA_CACHE_DIR``)."""
import time

import numpy as np

from .engines.formulation import FORMULATIONS
from .validation import DTYPES, check_choice

WARM_FORMULATIONS = tuple(f for f in FORMULATIONS if f != "auto")


def _names(name, values, choices):
    """``values`` (a name or a sequence of names) as a tuple of checked names."""
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values:
        raise ValueError(f"{name}: expected at least one of {sorted(choices)}")
    return tuple(check_choice(name, value, choices) for value in values)


def warmup(dtypes=tuple(DTYPES), formulations=WARM_FORMULATIONS, minibatch=True,
           report=None):
    """Compiles (or loads) the cpu engine's kernels for each of ``dtypes`` ("float64",
    "float32") and ``formulations`` ("dense", "examples", "streamed"), and the mini-batch
    epoch when ``minibatch``.  ``report(name, seconds)`` is called after each part.
    Returns ``[(name, seconds), ...]``."""
    dtypes = _names("dtypes", dtypes, DTYPES)
    formulations = _names("formulations", formulations, WARM_FORMULATIONS)
    from .model import Model
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 8))
    Y = (X[:1] > 0).astype(np.float64)
    parts = [(f"{dtype} {formulation}", dtype, {"formulation": formulation})
             for dtype in dtypes for formulation in formulations]
    if minibatch:
        parts += [(f"{dtype} mini-batch", dtype, None) for dtype in dtypes]
    timings = []
    for name, dtype, options in parts:
        started = time.perf_counter()
        if options is None:
            model = Model([3, 4, 1], "relu", init="he", seed=0, dtype=dtype)
            model.fit(X, Y, learning_rate=0.01, batch_size=4, num_epochs=1,
                      optimizer="adam", l2=1e-4, keep_prob=0.9)
        else:
            model = Model([3, 4, 1], "relu", init="he", seed=0, dtype=dtype, **options)
            model.fit(X, Y, learning_rate=0.1, num_iterations=2)
            model.predict_proba(X)
        timings.append((name, time.perf_counter() - started))
        if report is not None:
            report(*timings[-1])
    return timings
