"""``deepjit.warmup()`` (and ``deepjit warmup``): compiles the cpu engine's kernels ahead
of a first fit and stores them in Numba's on-disk cache, so that a later process (a
notebook, a class's first run, a CI job) loads them instead of compiling.

Every kernel takes the network's sizes and activation codes as arrays, so one tiny fit per
dtype and formulation compiles what any fit of that dtype and formulation runs; the
mini-batch fit (Adam, dropout and L2, which the kernels take as run-time values) covers the
mini-batch epochs, and ``predict_proba`` the forward pass called from Python.  With
``course2``, the second course's compat models' kernels (:mod:`deepjit.engines.cpu.narrow`:
full-batch gradient descent, with and without dropout masks, and the mini-batch epochs with
the course's example orders) are compiled too.  The cache lives where Numba puts it
(``__pycache__`` beside the sources, or ``NUMBA_CACHE_DIR``)."""
import time
from functools import partial

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
           report=None, course2=False):
    """Compiles (or loads) the cpu engine's kernels for each of ``dtypes`` ("float64",
    "float32") and ``formulations`` ("dense", "examples", "streamed"), the mini-batch
    epoch when ``minibatch``, and the second course's models' kernels when ``course2``
    (about 17 s from an empty cache).  ``report(name, seconds)`` is called after each
    part.  Returns ``[(name, seconds), ...]``."""
    dtypes = _names("dtypes", dtypes, DTYPES)
    formulations = _names("formulations", formulations, WARM_FORMULATIONS)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 8))
    Y = (X[:1] > 0).astype(np.float64)
    parts = [(f"{dtype} {formulation}", partial(_full_batch_fit, X, Y, dtype, formulation))
             for dtype in dtypes for formulation in formulations]
    if minibatch:
        parts += [(f"{dtype} mini-batch", partial(_minibatch_fit, X, Y, dtype))
                  for dtype in dtypes]
    if course2:
        parts += list(_COURSE2_PARTS)
    timings = []
    for name, run in parts:
        started = time.perf_counter()
        run()
        timings.append((name, time.perf_counter() - started))
        if report is not None:
            report(*timings[-1])
    return timings


def _full_batch_fit(X, Y, dtype, formulation):
    from .model import Model
    model = Model([3, 4, 1], "relu", init="he", seed=0, dtype=dtype, formulation=formulation)
    model.fit(X, Y, learning_rate=0.1, num_iterations=2)
    model.predict_proba(X)


def _minibatch_fit(X, Y, dtype):
    from .model import Model
    model = Model([3, 4, 1], "relu", init="he", seed=0, dtype=dtype)
    model.fit(X, Y, learning_rate=0.01, batch_size=4, num_epochs=1, optimizer="adam",
              l2=1e-4, keep_prob=0.9)


def _course2_problem():
    """The narrow kernels' ``(theta, dims, X, Y)`` for a [2, 3, 2, 1] net and 8 examples
    (any sizes compile the same code), in the types ``compat._course2_train`` passes."""
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(3 * 2 + 3 + 2 * 3 + 2 + 2 + 1)
    X = rng.standard_normal((2, 8))
    return theta, np.array([2, 3, 2, 1], np.int64), X, (X[:1] > 0).astype(np.float64)


def _course2_full_batch(masked):
    """``compat._course2_train.regularized``'s kernels, with dropout masks or without."""
    from .engines.cpu import narrow
    theta, dims, X, Y = _course2_problem()
    no_mask = np.empty((0, 0))
    D1, D2 = (narrow.pad_columns(np.ones((n, 8)), 8) for n in (3, 2)) if masked else (
        no_mask, no_mask)
    narrow.train_full_batch(theta, dims, narrow.pad_columns(X, 8), Y, 0.1, 2, 0.0, D1, D2,
                            0.5 if masked else 1.0, narrow.workspace(dims, 8))


def _course2_minibatch():
    """``compat._course2_train.minibatch``'s kernels and the course's example orders."""
    from . import optim
    from .compat import _legacy_random
    from .engines.cpu import narrow
    theta, dims, X, Y = _course2_problem()
    orders = _legacy_random.permutations(np.arange(2), 8, np.empty((4, 8), np.int64))
    adam = optim.Adam()
    narrow.train_epochs(theta, dims, X, Y, orders, 4, np.full(2, 0.01),
                        np.ones(2, np.bool_), adam.code, np.asarray(adam.hyper, np.float64),
                        0, np.zeros_like(theta), np.zeros_like(theta), np.zeros(2))


_COURSE2_PARTS = (("course2 full-batch", lambda: _course2_full_batch(False)),
                  ("course2 dropout", lambda: _course2_full_batch(True)),
                  ("course2 mini-batch", _course2_minibatch))
