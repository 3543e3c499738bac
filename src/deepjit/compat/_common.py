"""Pieces shared by the drop-in modules: the engine choice, the course's training loop on
a compiled engine, the step-function kernels, and the cat-data loader.

Kernels come from :mod:`deepjit.engines.cpu`; they need 2-D C-contiguous arrays of one
float dtype (float32 or float64).  Inputs are converted with ``np.ascontiguousarray``
to their common dtype; anything else (integer-only arrays, other dtypes or shapes the
course's broadcasting would accept) falls back to the course's numpy formula, so the
result and the errors are numpy's.
"""
import os

import numpy as np

from .. import Model
from ..activations import LINEAR
from ..datasets import load_catvnoncat
from ..engines import ENGINES
from ..engines.cpu import layers as kernels

ENGINE_VARIABLE = "DEEPJIT_ENGINE"
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# -- engine choice and training ----------------------------------------------------------

def engine_name(engine=None):
    """``engine`` if given, else ``$DEEPJIT_ENGINE``, else "cpu" (read at every call)."""
    source = "engine"
    if engine is None:
        engine, source = os.environ.get(ENGINE_VARIABLE, "cpu"), ENGINE_VARIABLE
    if engine not in ENGINES:
        raise ValueError(f"{source}: unknown engine {engine!r}; expected one of "
                         f"{sorted(ENGINES)}")
    return engine


def train(parameters, X, Y, hidden, learning_rate, num_iterations, record_every,
          on_record=None, engine=None):
    """Gradient descent from the course's initial ``parameters`` on a compiled engine.

    Runs through :meth:`deepjit.Model.fit`, so the engine's fastest exact formulation is
    used.  ``on_record(i, cost)`` is called at iterations 0, record_every, ... as they
    are reached.  Returns the fitted :class:`deepjit.Model` (``costs_`` holds the
    recorded costs, ``final_cost_`` the last iteration's)."""
    model = Model.from_parameters(parameters, hidden_activation=hidden, output="sigmoid",
                                  engine=engine_name(engine))

    def on_cost(i, cost):   # also called for the last iteration: keep the recorded ones
        if i % record_every == 0:
            on_record(i, cost)

    model.fit(X, Y, learning_rate, num_iterations, on_cost if on_record else False,
              record_every)
    return model


def check_iterations(num_iterations):
    """The course's loop runs ``range(num_iterations)``: 0 means no training."""
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, (int, np.integer)) \
            or num_iterations < 0:
        raise ValueError("num_iterations: expected a non-negative integer, got "
                         f"{num_iterations!r}")
    return int(num_iterations)


# -- step-function kernels ---------------------------------------------------------------

def _float_dtype(*arrays):
    """The common dtype if the kernels handle it, else None."""
    dtype = np.result_type(*arrays)
    return dtype if dtype in FLOATS and all(np.ndim(a) == 2 and np.size(a) for a in arrays) \
        else None


def _c(array, dtype):
    return np.ascontiguousarray(array, dtype=dtype)


def linear(A, W, b):
    """``Z = W A + b`` with ``dense_forward`` (linear code).  ``A : (n_{l-1}, m)``,
    ``W : (n_l, n_{l-1})``, ``b : (n_l, 1)``; returns ``Z : (n_l, m)``."""
    A, W, b = np.asarray(A), np.asarray(W), np.asarray(b)
    dtype = _float_dtype(A, W, b)
    if dtype is None or W.shape[1] != A.shape[0] or b.shape != (W.shape[0], 1):
        return np.dot(W, A) + b
    Z = np.empty((W.shape[0], A.shape[1]), dtype)
    return kernels.dense_forward(_c(W, dtype), _c(b, dtype), _c(A, dtype), LINEAR,
                                 dtype.type(0), Z)


def activate(Z, code, formula):
    """``A = g(Z)`` with ``bias_activation`` (zero bias) for a hidden code; ``formula``
    (the course's numpy expression) for inputs the kernel does not take."""
    Z = np.asarray(Z)
    dtype = _float_dtype(Z)
    if dtype is None:
        return formula(Z)
    A = np.array(Z, dtype=dtype, order="C", copy=True)
    kernels.bias_activation(A, np.zeros((A.shape[0], 1), dtype), code, dtype.type(0))
    return A


def activation_gradient(dA, A, code, formula):
    """``dZ = dA * g'(Z)`` with ``activation_backward``, ``g'`` read from ``A = g(Z)``
    (for relu, ``Z`` itself does: ``Z > 0`` exactly when ``A > 0``)."""
    dA, A = np.asarray(dA), np.asarray(A)
    dtype = _float_dtype(dA, A)
    if dtype is None or dA.shape != A.shape:
        return formula(dA, A)
    dZ = np.array(dA, dtype=dtype, order="C", copy=True)
    return kernels.activation_backward(dZ, _c(A, dtype), code, dtype.type(0))


def linear_gradients(dZ, A_prev, W):
    """``(dA_prev, dW, db)`` with ``dense_backward``: ``dW = 1/m dZ A_prev^T``,
    ``db = 1/m sum_j dZ``, ``dA_prev = W^T dZ``."""
    dZ, A_prev, W = np.asarray(dZ), np.asarray(A_prev), np.asarray(W)
    dtype = _float_dtype(dZ, A_prev, W)
    if dtype is None or dZ.shape != (W.shape[0], A_prev.shape[1]) \
            or W.shape[1] != A_prev.shape[0]:
        m = A_prev.shape[1]
        return (np.dot(W.T, dZ), 1. / m * np.dot(dZ, A_prev.T),
                1. / m * np.sum(dZ, axis=1, keepdims=True))
    dW, db = np.empty(W.shape, dtype), np.empty((W.shape[0], 1), dtype)
    dA_prev = np.empty(A_prev.shape, dtype)
    kernels.dense_backward(_c(dZ, dtype), _c(A_prev, dtype), _c(W, dtype), dW, db, dA_prev,
                           True)
    return dA_prev, dW, db


# -- data --------------------------------------------------------------------------------

def load_cat_files(path=None):
    """``(train_x_orig, train_y, test_x_orig, test_y, classes)`` read from ``path`` (a
    directory or either file), by default ``datasets/`` in the working directory as
    the course does; y arrays are (1, m)."""
    path = "datasets" if path is None else os.fspath(path)
    if not os.path.exists(path):   # a missing directory: name the file looked for in it
        path = os.path.join(path, "train_catvnoncat.h5")
    return tuple(load_catvnoncat(path))
