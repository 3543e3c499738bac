"""Pieces shared by the drop-in modules: the engine choice, the course's training loop on
a compiled engine, the step-function kernels, and the cat-data loader.

The step functions give the course's numbers to the bit and never copy their inputs:
matrix products go to BLAS as the course's do (numpy passes any layout to it; a big
result goes into a recycled array, see :class:`_Recycler`), exponentials and divisions
to numpy's own ufuncs in place, and the rest is one pass of a kernel of
:mod:`._kernels`, which reads any layout and keeps the course's order of operations.
The kernels take 2-D ndarrays of one float dtype (float32 or float64; labels may be
integers); only shapes and dtypes are checked, never the values.  Anything else
(scalars, integer-only arrays, mixed dtypes, shapes the course's broadcasting would
accept) runs the course's numpy formula, so the result and the errors are numpy's.
"""
import math
import os
import sys
import threading

import numpy as np

from .. import Model
from ..activations import LINEAR, RELU, SIGMOID, TANH
from ..datasets import load_catvnoncat
from ..engines import ENGINES
from ..validation import as_matrix
from . import _kernels

ENGINE_VARIABLE = "DEEPJIT_ENGINE"
FLOAT32, FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)
# Elements below which the course's numpy expression beats a kernel call (about a
# microsecond of checks and dispatch): a kernel fusing several numpy passes, and one
# replacing a single pass (relu's gradient, a gradient step).
SMALL, SMALL_ONE_PASS = 64, 1024
# Elements from which a result array is taken from the recycled ones (about 0.5 MB in
# float64: fresh memory that big comes from the system and costs a page fault per 4 kB,
# more than the pass that fills it), and how many are kept, in how many bytes at most.
BIG_RESULT, RECYCLED, RECYCLED_BYTES = 1 << 16, 8, 64 << 20


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

    Runs as :meth:`deepjit.Model.fit` does, so the engine's fastest exact formulation is
    used, but on any real-valued ``Y`` (the course's functions train on it) where
    ``fit`` wants 0/1 labels.  ``on_record(i, cost)`` is called at iterations 0,
    record_every, ... as they are reached.  Returns the fitted :class:`deepjit.Model` (``costs_`` holds the
    recorded costs, ``final_cost_`` the last iteration's)."""
    model = Model.from_parameters(parameters, hidden_activation=hidden, output="sigmoid",
                                  engine=engine_name(engine))

    def on_cost(i, cost):   # also called for the last iteration: keep the recorded ones
        if i % record_every == 0:
            on_record(i, cost)

    targets = as_matrix("Y", Y, rows=model.net.layer_dims[-1], dtype=model.dtype)
    model._fit_targets(model._check_X(X), targets, learning_rate, num_iterations,
                       on_cost if on_record else False, record_every, None)
    return model


def check_iterations(num_iterations):
    """The course's loop runs ``range(num_iterations)``: 0 means no training."""
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, (int, np.integer)) \
            or num_iterations < 0:
        raise ValueError("num_iterations: expected a non-negative integer, got "
                         f"{num_iterations!r}")
    return int(num_iterations)


# -- step-function kernels ---------------------------------------------------------------

def _same_float(*arrays):
    """Whether every array is a 2-D, non-empty ndarray of one dtype, float32 or float64:
    checks of O(1) each, never the values (the kernels take any layout)."""
    dtype = getattr(arrays[0], "dtype", None)
    if dtype is not FLOAT64 and dtype is not FLOAT32:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype is not dtype or a.ndim != 2 or not a.size:
            return False
    return True


def _views(*arrays):
    """The arrays as an elementwise kernel should see them, without copies: transposed
    when the first one is Fortran-ordered, so that the kernel's inner loop (along rows)
    runs along memory."""
    if arrays[0].flags.c_contiguous or not arrays[0].flags.f_contiguous:
        return arrays
    return [a.T for a in arrays]


class _Recycler:
    """Big result arrays (weights, their gradients) handed out again once nobody holds
    them any more.

    A training loop makes the same few big arrays on every iteration (``dW1``, the new
    ``W1``) and drops the previous ones; fresh memory of that size is mapped anew by the
    system each time (a page fault per 4 kB, as costly as the arithmetic).  Every big
    array handed out is kept here; one is handed out again only when the reference from
    this list is its last (any other holder, a view of it included, keeps it alive and
    untouched), so a caller never sees an array change under it."""

    def __init__(self, keep=RECYCLED):
        self._arrays, self._keep, self._lock = [], keep, threading.Lock()
        held = [np.empty(0)]
        # What sys.getrefcount says of an array this list alone holds (2 on CPython
        # 3.11-3.13), measured rather than assumed; without the GIL, counts can lag:
        # then nothing is recycled.
        self._alone = sys.getrefcount(held[0]) if getattr(sys, "_is_gil_enabled",
                                                          lambda: True)() else None

    def empty(self, shape, dtype, fortran=False):
        """An uninitialised array, C-ordered (or Fortran-ordered), recycled when one of
        this shape, dtype and order is free."""
        if math.prod(shape) < BIG_RESULT or self._alone is None:
            return np.empty(shape, dtype, order="F" if fortran else "C")
        with self._lock:
            arrays = self._arrays
            for i in range(len(arrays)):
                if sys.getrefcount(arrays[i]) == self._alone and arrays[i].shape == shape \
                        and arrays[i].dtype is dtype \
                        and _fortran_only(arrays[i]) is fortran:
                    return arrays[i]
            array = np.empty(shape, dtype, order="F" if fortran else "C")
            arrays.append(array)
            while len(arrays) > self._keep or sum(a.nbytes for a in arrays) > RECYCLED_BYTES:
                del arrays[0]
            return array

    def like(self, array):
        """An uninitialised array of ``array``'s shape, dtype and order (C unless
        ``array`` is Fortran-ordered only)."""
        return self.empty(array.shape, array.dtype, _fortran_only(array))


def _fortran_only(array):
    return array.flags.f_contiguous and not array.flags.c_contiguous


_recycled = _Recycler()


def _small(array, limit=SMALL):
    return array.size < limit


def dense(A_prev, W, b, code):
    """``(Z, A)`` with ``Z = W A_prev + b`` and ``A = g(Z)`` for an activation code: the
    product by BLAS (any layout of A_prev, no copy), then the bias with relu in one pass,
    or the bias then numpy's own sigmoid or tanh in place (:func:`sigmoid_of`).
    None when the kernels do not take these arrays (the caller runs the course's numpy)."""
    if not (_same_float(A_prev, W, b) and W.shape[1] == A_prev.shape[0]
            and b.shape == (W.shape[0], 1)):
        return None
    Z = np.dot(W, A_prev)
    if code == RELU:
        A = np.empty_like(Z)
        _kernels.bias_activation(Z, b, A, RELU)
        return Z, A
    _kernels.bias_activation(Z, b, Z, LINEAR)
    if code == SIGMOID:
        return Z, sigmoid_of(Z)
    return Z, (np.tanh(Z) if code == TANH else Z)


def linear(A, W, b):
    """``Z = W A + b``."""
    layer = dense(A, W, b, LINEAR)
    return np.dot(W, A) + b if layer is None else layer[0]


def sigmoid_of(Z):
    """``1 / (1 + exp(-Z))`` for a float ndarray ``Z`` by numpy's own ufuncs (vectorised
    exp; the course's numbers to the bit) in place: one array where the course makes
    four."""
    S = np.negative(Z)
    np.exp(S, S)
    np.add(S, 1, S)
    return np.divide(1, S, S)


def sigmoid(Z, formula):
    """The course's sigmoid ``1 / (1 + exp(-Z))``; ``formula`` (the course's numpy
    expression) for what is not a float ndarray (scalars, integers, ...)."""
    if type(Z) is np.ndarray and Z.dtype.kind == "f" and Z.ndim:
        return sigmoid_of(Z)
    return formula(Z)


def relu_gradient(dA, Z, formula):
    """The course's ``relu_backward``: ``dA`` where ``Z > 0`` (or NaN), else 0."""
    if not (_same_float(dA, Z) and dA.shape == Z.shape) \
            or _small(Z, SMALL_ONE_PASS):
        return formula(dA, Z)
    dZ = np.empty_like(Z)
    _kernels.relu_gradient(*_views(Z, dA, dZ))
    return dZ


def sigmoid_gradient(dA, Z, formula):
    """The course's ``sigmoid_backward``: ``dA * s * (1 - s)``, ``s = sigmoid(Z)``, by
    numpy's ufuncs with two arrays where the course makes five."""
    if not (_same_float(dA, Z) and dA.shape == Z.shape) or _small(Z):
        return formula(dA, Z)
    S = sigmoid_of(Z)
    dZ = np.multiply(dA, S)
    np.subtract(1, S, S)
    return np.multiply(dZ, S, dZ)


def output_gradient(AL, Y, ZL, formula):
    """The output layer's ``dZ`` from ``dAL = -(Y/AL - (1-Y)/(1-AL))`` and
    ``sigmoid_backward(dAL, ZL)``: the sigmoid by numpy's ufuncs, the rest in one pass."""
    if not (_same_float(AL, ZL) and _numeric(Y) and AL.shape == Y.shape == ZL.shape
            and (AL.dtype is FLOAT64 or Y.dtype is FLOAT32)):    # numpy's result dtype
        return formula(AL, Y, ZL)
    S = sigmoid_of(ZL)
    _kernels.output_gradient(*_views(S, AL, Y, S), S.dtype.type(1))
    return S


def tanh_gradient(dA, A1, formula):
    """``dA * (1 - A1**2)``, written into ``dA`` (a product the caller made)."""
    if not (_same_float(dA, A1) and dA.shape == A1.shape):
        return formula(dA, A1)
    _kernels.tanh_gradient(*_views(dA, A1), dA.dtype.type(1))
    return dA


def weight_gradients(dZ, A_prev):
    """``(dW, db) = (1/m dZ A_prev^T, 1/m sum_j dZ)`` (dW by BLAS, any layout, scaled in
    place)."""
    m = A_prev.shape[1]
    if not (_same_float(dZ, A_prev) and dZ.shape[1] == m):
        return 1. / m * np.dot(dZ, A_prev.T), 1. / m * np.sum(dZ, axis=1, keepdims=True)
    dW = product(dZ, A_prev.T)
    dW *= 1. / m
    db = np.add.reduce(dZ, axis=1, keepdims=True)    # np.sum's own reduction
    db *= 1. / m
    return dW, db


def product(a, b):
    """``np.dot(a, b)``, a big result (of two float arrays of one dtype) in a recycled
    array."""
    shape = (a.shape[0], b.shape[1])
    if shape[0] * shape[1] < BIG_RESULT or not _same_float(a, b):
        return np.dot(a, b)
    return np.dot(a, b, out=_recycled.empty(shape, a.dtype))


def copy(array):
    """A copy in the same order (from the recycled arrays when big)."""
    out = _recycled.like(array)
    np.copyto(out, array)
    return out


def linear_gradients(dZ, A_prev, W):
    """``(dA_prev, dW, db)``: ``dA_prev = W^T dZ``, ``dW = 1/m dZ A_prev^T``,
    ``db = 1/m sum_j dZ``."""
    dW, db = weight_gradients(dZ, A_prev)     # in the course's order: its temporaries
    return product(W.T, dZ), dW, db             # then reuse freed memory as numpy's do


def cross_entropy(AL, Y):
    """``(sum Y log AL, sum (1 - Y) log(1 - AL))`` from one pass, or None when the kernel
    does not take these arrays."""
    if not (_same_float(AL) and _numeric(Y) and AL.shape == Y.shape):
        return None
    return _kernels.cross_entropy_sums(AL, Y)


def step(P, G, learning_rate):
    """``P - learning_rate * G`` in one pass (a new array; the rate in ``P``'s precision,
    as numpy takes a Python number)."""
    if not (_same_float(P, G) and P.shape == G.shape and _weak(learning_rate, P.dtype)) \
            or _small(P, SMALL_ONE_PASS):
        return P - learning_rate * G
    out = _recycled.like(P)
    _kernels.descend(*_views(P, G, out), P.dtype.type(learning_rate))
    return out


def _numeric(Y):
    """A 2-D ndarray of integers or floats (the course's ``1 - Y`` fails on booleans)."""
    return type(Y) is np.ndarray and Y.dtype.kind in "iuf" and Y.ndim == 2


def _weak(x, dtype):
    """Whether ``x`` is a Python int or float (numpy computes in the array's precision
    with it), or a numpy scalar of ``dtype``."""
    return type(x) in (int, float) or isinstance(x, np.generic) and x.dtype is dtype


class Gradients(dict):
    """The course's gradient dict, where some values are computed on first read.

    ``L_model_backward`` defers the gradient with respect to X (``dA0``): the course's
    training loop never reads it, and on image data it costs as much as the forward
    pass.  Reading it in any way (``[]``, ``get``, ``values``, ``items``, iterating,
    unpacking into another dict, ``repr``, comparing, copying, pickling) computes it
    first, so the dict behaves as one filled at once."""

    def __init__(self):
        super().__init__()
        self._pending = {}

    def defer(self, key, compute):
        """``self[key]`` becomes ``compute()`` when first read (the key is in place now)."""
        dict.__setitem__(self, key, None)
        self._pending[key] = compute

    def settle(self):
        """Computes every deferred value."""
        while self._pending:
            key, compute = self._pending.popitem()
            dict.__setitem__(self, key, compute())
        return self

    def renamed(self, name):
        """A copy with each key ``k`` renamed ``name(k)``, deferred values still deferred."""
        copy = Gradients()
        for key in dict.keys(self):
            if key in self._pending:
                copy.defer(name(key), self._pending[key])
            else:
                dict.__setitem__(copy, name(key), dict.__getitem__(self, key))
        return copy

    def __getitem__(self, key):
        if self._pending and key in self._pending:
            dict.__setitem__(self, key, self._pending.pop(key)())
        return dict.__getitem__(self, key)

    def __setitem__(self, key, value):
        self._pending.pop(key, None)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        self._pending.pop(key, None)
        dict.__delitem__(self, key)

    def __reduce__(self):   # copies and pickles: the values computed, as a plain rebuild
        return _gradients, (dict(self.settle()),)


def _gradients(values):
    grads = Gradients()
    dict.update(grads, values)
    return grads


def _settling(method):
    def settled(self, *args, **kwargs):
        self.settle()
        for other in args:
            if isinstance(other, Gradients):
                other.settle()
        return method(self, *args, **kwargs)
    settled.__name__ = method.__name__
    return settled


for _name in ("get", "values", "items", "copy", "pop", "popitem", "setdefault", "update",
              "__iter__", "__reversed__", "__repr__", "__eq__",
              "__ne__", "__or__", "__ror__", "__ior__"):
    setattr(Gradients, _name, _settling(getattr(dict, _name)))


# -- data --------------------------------------------------------------------------------

def load_cat_files(path=None):
    """``(train_x_orig, train_y, test_x_orig, test_y, classes)`` read from ``path`` (a
    directory or either file), by default ``datasets/`` in the working directory as
    the course does; y arrays are (1, m)."""
    path = "datasets" if path is None else os.fspath(path)
    if not os.path.exists(path):   # a missing directory: name the file looked for in it
        path = os.path.join(path, "train_catvnoncat.h5")
    return tuple(load_catvnoncat(path))
