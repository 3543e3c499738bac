"""Compiled training of narrow 3-layer nets LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID
(the second course's nets: 1 to a few tens of units a layer, a few hundred examples).

At these sizes a BLAS call costs more than its arithmetic and the example-major layout
of the mini-batch engine wastes its vector lanes, so here everything is feature-major
(units x examples, as the course writes it) in plain loops over the examples, which LLVM
vectorises, and a whole run of iterations (or epochs) is one compiled call.  Products go
in blocks of four units by four inputs (each load serves four multiply-adds; units and
inputs left over in blocks of one and two, none padded), over columns padded to whole
vectors.  What limits the speed is the stores (one vector a cycle): each block stores
its outputs once, and the last one stores them with the layer's relu (and dropout mask)
applied, or, backward, the relu's derivative.  The arrays are indexed directly (a row
view costs reference counting) with unsigned column indices (numba's wraparound for
negative indices makes LLVM gather the columns).

- The parameters are one flat vector ``theta = [W1, b1, W2, b2, W3, b3]`` (row-major);
  ``pack`` and ``unpack`` convert from and to the course's dict.
- ``train_full_batch``: gradient descent on all examples, with the L2 term ``lambd / m W``
  or fixed dropout masks ``D1, D2`` (multiplied in, then divided by ``keep_prob``).
- ``train_epochs``: mini-batch epochs over given example orders with gd, momentum,
  RMSprop or Adam (the course's forms, :mod:`deepjit.optim`'s codes and ``hyper``), a
  learning rate per epoch, and each epoch's summed cross-entropy where asked.
- The backward pass is reg_utils' (``dZ3 = A3 - Y``, ``1/m`` on each product) for all
  three notebooks: a balanced set's ``sum(A3 - Y)`` at ``A3 = 1/2`` (halves, exact in
  any order) is then exactly 0, so the zero-initialised net stays at ``A3 = 1/2`` and
  predicts 0 everywhere, as published (init_utils' ``1/m (A3 - Y)`` summed leaves a
  rounding error that the course's numpy exp happens to absorb).
- ``reference_gradient``: the numpy oracle of the kernels' gradient.
"""
import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from ...optim import ADAM
from ..optimizers import update_segment
from . import vecmath
from .layers import kernel

# reductions over the examples may be reassociated so that they vectorise
reduction = njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
product = njit(cache=True, error_model="numpy")
# index arithmetic and views, compiled into their callers
helper = njit(cache=True, error_model="numpy", inline="always")
KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
# loops run over whole multiples of LANES columns (zero columns past the examples), so
# that no example falls to the scalar remainder of a vectorised (and unrolled) loop
LANES = 32


def pack(parameters):
    """``(theta, dims)`` from the dict ``W1, b1, W2, b2, W3, b3`` (float64 copies)."""
    dims = np.array([parameters["W1"].shape[1]] + [parameters["W" + str(l)].shape[0]
                                                    for l in (1, 2, 3)], np.int64)
    theta = np.concatenate([np.asarray(parameters[k], np.float64).ravel() for k in KEYS])
    return theta, dims


def unpack(theta, dims):
    """The course's dict of fresh arrays (``b`` as columns) from ``theta``."""
    parameters, offset = {}, 0
    for l in (1, 2, 3):
        for key, shape in (("W", (dims[l], dims[l - 1])), ("b", (dims[l], 1))):
            size = shape[0] * shape[1]
            parameters[key + str(l)] = theta[offset:offset + size].reshape(shape).copy()
            offset += size
    return parameters


def pad_columns(A, columns):
    """``A`` as C-ordered float64 with zero columns up to ``padded(columns)``."""
    A = np.asarray(A, np.float64)
    out = np.zeros((A.shape[0], padded(columns)))
    out[:, :A.shape[1]] = A
    return out


@helper
def _col(start, j):
    """The column index ``start + j`` as unsigned, so that numba adds no wraparound
    check for negative indices (with it LLVM loads the columns by gathers)."""
    return np.uint64(start + j)


@helper
def _origin():
    """Column 0 as an int64 variable: a literal 0 passed to a compiled function compiles
    another copy of it, and of all it calls, for that constant (seconds of cold start)."""
    return np.int64(0)


@helper
def padded(columns):
    """``columns`` rounded up to a multiple of LANES."""
    return -(-columns // LANES) * LANES


@helper
def _views(theta, dims):
    n0, n1, n2, n3 = dims[0], dims[1], dims[2], dims[3]
    o1 = n1 * n0 + n1
    o2 = o1 + n2 * n1 + n2
    return (theta[:n1 * n0].reshape((n1, n0)), theta[n1 * n0:o1],
            theta[o1:o1 + n2 * n1].reshape((n2, n1)), theta[o1 + n2 * n1:o2],
            theta[o2:o2 + n3 * n2].reshape((n3, n2)), theta[o2 + n3 * n2:])


@reduction
def _dots4x4(P, p, p_start, Q, q, q_start, width):
    """The 16 sums ``P[p + r, p_start + j] Q[q + c, q_start + j]`` over j < width
    (r, c = 0 .. 3, in that order): each load serves four products."""
    t00 = t01 = t02 = t03 = t10 = t11 = t12 = t13 = 0.0
    t20 = t21 = t22 = t23 = t30 = t31 = t32 = t33 = 0.0
    for j in range(width):
        x0, x1 = Q[q, _col(q_start, j)], Q[q + 1, _col(q_start, j)]
        x2, x3 = Q[q + 2, _col(q_start, j)], Q[q + 3, _col(q_start, j)]
        y0, y1 = P[p, _col(p_start, j)], P[p + 1, _col(p_start, j)]
        y2, y3 = P[p + 2, _col(p_start, j)], P[p + 3, _col(p_start, j)]
        t00 += y0 * x0
        t01 += y0 * x1
        t02 += y0 * x2
        t03 += y0 * x3
        t10 += y1 * x0
        t11 += y1 * x1
        t12 += y1 * x2
        t13 += y1 * x3
        t20 += y2 * x0
        t21 += y2 * x1
        t22 += y2 * x2
        t23 += y2 * x3
        t30 += y3 * x0
        t31 += y3 * x1
        t32 += y3 * x2
        t33 += y3 * x3
    return (t00, t01, t02, t03, t10, t11, t12, t13, t20, t21, t22, t23, t30, t31, t32, t33)


@reduction
def _dots4x1(P, p, p_start, Q, q, q_start, width):
    """The 4 sums ``P[p + r, p_start + j] Q[q, q_start + j]`` over j < width."""
    t0 = t1 = t2 = t3 = 0.0
    for j in range(width):
        x = Q[q, _col(q_start, j)]
        t0 += P[p, _col(p_start, j)] * x
        t1 += P[p + 1, _col(p_start, j)] * x
        t2 += P[p + 2, _col(p_start, j)] * x
        t3 += P[p + 3, _col(p_start, j)] * x
    return t0, t1, t2, t3


@reduction
def _dot(P, p, p_start, Q, q, q_start, width):
    """``sum_j P[p, p_start + j] Q[q, q_start + j]`` over j < width."""
    total = 0.0
    for j in range(width):
        total += P[p, _col(p_start, j)] * Q[q, _col(q_start, j)]
    return total


@reduction
def _row_sum(A, i, width):
    """``A[i, :width].sum()`` (in any order)."""
    total = 0.0
    for j in range(width):
        total += A[i, j]
    return total


@kernel
def _linear(W, A_prev, start, width, out, ending):
    """``out[:, :width] = W A_prev[:, start:start + width]`` (bias not added), each
    input added in order, then ``ending`` applied (see ``_end``): blocks of four outputs
    by four inputs (each load serves four multiply-adds), the inputs left over two then
    one at a time; the outputs left over one at a time.  Each block stores its outputs
    once and the last one stores them ended: at these sizes the stores, not the
    multiply-adds, take the time."""
    n_out, n_in = W.shape
    whole_in = n_in - n_in % 4
    pair = whole_in + 2 if n_in % 4 >= 2 else whole_in
    i, plain = _origin(), _plain(ending)
    while i + 4 <= n_out:
        for k in range(0, whole_in, 4):
            if k + 4 < n_in:
                _block4x4(W, i, k, A_prev, start, width, out, k == 0, plain)
            else:
                _block4x4(W, i, k, A_prev, start, width, out, k == 0, ending)
        if pair > whole_in and pair < n_in:
            _block4x2(W, i, whole_in, A_prev, start, width, out, whole_in == 0, plain)
        elif pair > whole_in:
            _block4x2(W, i, whole_in, A_prev, start, width, out, whole_in == 0, ending)
        if pair < n_in:
            _block4x1(W, i, pair, A_prev, start, width, out, pair == 0, ending)
        i += 4
    for i in range(i, n_out):
        for k in range(0, whole_in, 4):
            if k + 4 < n_in:
                _block1x4(W, i, k, A_prev, start, width, out, k == 0, plain)
            else:
                _block1x4(W, i, k, A_prev, start, width, out, k == 0, ending)
        if pair > whole_in and pair < n_in:
            _block1x2(W, i, whole_in, A_prev, start, width, out, whole_in == 0, plain)
        elif pair > whole_in:
            _block1x2(W, i, whole_in, A_prev, start, width, out, whole_in == 0, ending)
        if pair < n_in:
            _block1x1(W, i, pair, A_prev, start, width, out, pair == 0, ending)


# what a product's blocks apply as they store (``_end``'s ``ending[4]``): a run-time code,
# not a type, so that each block compiles once for all three (and once more with masks)
PLAIN, RELU, DERIVATIVE = 0, 1, 2


def _end(value, bias, row, j, ending, derivative):
    """What a product's block stores at ``out[row, j]`` (compiled through
    ``_end_overload``); ``ending = (b, A, D, scale, code)``, ``bias = b[row]``: PLAIN the
    value; RELU the hidden layer's ``relu(value + bias)`` (NaN passes, as in
    np.maximum(0, Z)); DERIVATIVE (``derivative``, a constant: the blocks' loops are
    compiled once with it and once without) the backward pass's dZ of a hidden layer, the
    value where ``A[row, j] > 0``, else 0.  Unless ``D`` is None (the type chooses), RELU
    and DERIVATIVE multiply by ``D[row, j] * scale`` (dropout: ``scale = 1 / keep_prob``,
    within a last bit of the course's ``A * D / keep_prob``; a division per element would
    cost as much as the rest of the run)."""
    raise NotImplementedError("compiled only")


@overload(_end)
def _end_overload(value, bias, row, j, ending, derivative):
    if isinstance(ending.types[2], types.NoneType):
        return lambda value, bias, row, j, ending, derivative: _unmasked(
            value, bias, row, j, ending, derivative)

    def end(value, bias, row, j, ending, derivative):
        kept = _unmasked(value, bias, row, j, ending, derivative)
        factor = ending[2][row, j] * ending[3]    # loaded either way (see _stand_in)
        return kept if ending[4] == PLAIN else kept * factor
    return end


def _stand_in(D, out):
    """``out`` where ``D`` is an array, else None: the output layer's ``D`` in ``_end``,
    whose values are loaded and not used (a load under the code would keep the loop from
    vectorising)."""
    raise NotImplementedError("compiled only")


@overload(_stand_in)
def _stand_in_overload(D, out):
    if isinstance(D, types.NoneType):
        return lambda D, out: None
    return lambda D, out: out


@helper
def _unmasked(value, bias, row, j, ending, derivative):
    if derivative:
        return value if ending[1][row, j] > 0 else 0.0
    relu = ending[4] == RELU
    z = value + bias if relu else value
    return 0.0 if relu and z <= 0 else z


@helper
def _ending(b, A, D, scale, code):
    """``_end``'s tuple."""
    return b, A, D, scale, np.int64(code)


@helper
def _plain(ending):
    """``ending`` with the code PLAIN and no masks (a product's blocks before its last:
    the unmasked blocks' code, which loads no masks)."""
    return ending[0], ending[1], None, ending[3], np.int64(PLAIN)


@helper
def _base(out, i, j, first):
    """What a block adds to: 0 where it is the product's first, else ``out[i, j]``
    (loaded either way: a load under the condition would keep the loop from
    vectorising)."""
    old = out[i, j]
    return 0.0 if first else old


@product
def _block4x4(W, i, k, S, start, width, out, first, ending):
    """``out[i + r, j] (+)= sum_c W[i + r, k + c] S[k + c, start + j]`` (r, c < 4), added
    left to right, then ended (``_end``); ``first``: written, not added to."""
    if ending[4] == DERIVATIVE:
        _loop4x4(W, i, k, S, start, width, out, first, ending, True)
    else:
        _loop4x4(W, i, k, S, start, width, out, first, ending, False)


@helper
def _loop4x4(W, i, k, S, start, width, out, first, ending, derivative):
    w00, w01, w02, w03 = W[i, k], W[i, k + 1], W[i, k + 2], W[i, k + 3]
    w10, w11, w12, w13 = W[i + 1, k], W[i + 1, k + 1], W[i + 1, k + 2], W[i + 1, k + 3]
    w20, w21, w22, w23 = W[i + 2, k], W[i + 2, k + 1], W[i + 2, k + 2], W[i + 2, k + 3]
    w30, w31, w32, w33 = W[i + 3, k], W[i + 3, k + 1], W[i + 3, k + 2], W[i + 3, k + 3]
    b = ending[0]
    c0, c1, c2, c3 = b[i], b[i + 1], b[i + 2], b[i + 3]
    for j in range(width):
        x0, x1 = S[k, _col(start, j)], S[k + 1, _col(start, j)]
        x2, x3 = S[k + 2, _col(start, j)], S[k + 3, _col(start, j)]
        v0 = (((_base(out, i, j, first) + w00 * x0) + w01 * x1) + w02 * x2) + w03 * x3
        v1 = (((_base(out, i + 1, j, first) + w10 * x0) + w11 * x1) + w12 * x2) + w13 * x3
        v2 = (((_base(out, i + 2, j, first) + w20 * x0) + w21 * x1) + w22 * x2) + w23 * x3
        v3 = (((_base(out, i + 3, j, first) + w30 * x0) + w31 * x1) + w32 * x2) + w33 * x3
        out[i, j] = _end(v0, c0, i, j, ending, derivative)
        out[i + 1, j] = _end(v1, c1, i + 1, j, ending, derivative)
        out[i + 2, j] = _end(v2, c2, i + 2, j, ending, derivative)
        out[i + 3, j] = _end(v3, c3, i + 3, j, ending, derivative)


@product
def _block4x2(W, i, k, S, start, width, out, first, ending):
    """``out[i + r, j] (+)= W[i + r, k] S[k, start + j] + W[i + r, k + 1] S[k + 1,
    start + j]`` (r < 4), added left to right."""
    if ending[4] == DERIVATIVE:
        _loop4x2(W, i, k, S, start, width, out, first, ending, True)
    else:
        _loop4x2(W, i, k, S, start, width, out, first, ending, False)


@helper
def _loop4x2(W, i, k, S, start, width, out, first, ending, derivative):
    w00, w01, w10, w11 = W[i, k], W[i, k + 1], W[i + 1, k], W[i + 1, k + 1]
    w20, w21, w30, w31 = W[i + 2, k], W[i + 2, k + 1], W[i + 3, k], W[i + 3, k + 1]
    b = ending[0]
    c0, c1, c2, c3 = b[i], b[i + 1], b[i + 2], b[i + 3]
    for j in range(width):
        x0, x1 = S[k, _col(start, j)], S[k + 1, _col(start, j)]
        v0 = (_base(out, i, j, first) + w00 * x0) + w01 * x1
        v1 = (_base(out, i + 1, j, first) + w10 * x0) + w11 * x1
        v2 = (_base(out, i + 2, j, first) + w20 * x0) + w21 * x1
        v3 = (_base(out, i + 3, j, first) + w30 * x0) + w31 * x1
        out[i, j] = _end(v0, c0, i, j, ending, derivative)
        out[i + 1, j] = _end(v1, c1, i + 1, j, ending, derivative)
        out[i + 2, j] = _end(v2, c2, i + 2, j, ending, derivative)
        out[i + 3, j] = _end(v3, c3, i + 3, j, ending, derivative)


@product
def _block4x1(W, i, k, S, start, width, out, first, ending):
    """``out[i + r, j] (+)= W[i + r, k] S[k, start + j]`` (r < 4)."""
    if ending[4] == DERIVATIVE:
        _loop4x1(W, i, k, S, start, width, out, first, ending, True)
    else:
        _loop4x1(W, i, k, S, start, width, out, first, ending, False)


@helper
def _loop4x1(W, i, k, S, start, width, out, first, ending, derivative):
    w0, w1, w2, w3 = W[i, k], W[i + 1, k], W[i + 2, k], W[i + 3, k]
    b = ending[0]
    c0, c1, c2, c3 = b[i], b[i + 1], b[i + 2], b[i + 3]
    for j in range(width):
        x = S[k, _col(start, j)]
        out[i, j] = _end(_base(out, i, j, first) + w0 * x, c0, i, j, ending, derivative)
        out[i + 1, j] = _end(_base(out, i + 1, j, first) + w1 * x, c1, i + 1, j, ending,
                             derivative)
        out[i + 2, j] = _end(_base(out, i + 2, j, first) + w2 * x, c2, i + 2, j, ending,
                             derivative)
        out[i + 3, j] = _end(_base(out, i + 3, j, first) + w3 * x, c3, i + 3, j, ending,
                             derivative)


@product
def _block1x4(W, i, k, S, start, width, out, first, ending):
    """``out[i, j] (+)= sum_c W[i, k + c] S[k + c, start + j]`` (c < 4), left to right."""
    if ending[4] == DERIVATIVE:
        _loop1x4(W, i, k, S, start, width, out, first, ending, True)
    else:
        _loop1x4(W, i, k, S, start, width, out, first, ending, False)


@helper
def _loop1x4(W, i, k, S, start, width, out, first, ending, derivative):
    w0, w1, w2, w3 = W[i, k], W[i, k + 1], W[i, k + 2], W[i, k + 3]
    c0 = ending[0][i]
    for j in range(width):
        x0, x1 = S[k, _col(start, j)], S[k + 1, _col(start, j)]
        x2, x3 = S[k + 2, _col(start, j)], S[k + 3, _col(start, j)]
        v = (((_base(out, i, j, first) + w0 * x0) + w1 * x1) + w2 * x2) + w3 * x3
        out[i, j] = _end(v, c0, i, j, ending, derivative)


@product
def _block1x2(W, i, k, S, start, width, out, first, ending):
    """``out[i, j] (+)= W[i, k] S[k, start + j] + W[i, k + 1] S[k + 1, start + j]``."""
    if ending[4] == DERIVATIVE:
        _loop1x2(W, i, k, S, start, width, out, first, ending, True)
    else:
        _loop1x2(W, i, k, S, start, width, out, first, ending, False)


@helper
def _loop1x2(W, i, k, S, start, width, out, first, ending, derivative):
    w0, w1 = W[i, k], W[i, k + 1]
    c0 = ending[0][i]
    for j in range(width):
        x0, x1 = S[k, _col(start, j)], S[k + 1, _col(start, j)]
        v = (_base(out, i, j, first) + w0 * x0) + w1 * x1
        out[i, j] = _end(v, c0, i, j, ending, derivative)


@product
def _block1x1(W, i, k, S, start, width, out, first, ending):
    """``out[i, j] (+)= W[i, k] S[k, start + j]``."""
    if ending[4] == DERIVATIVE:
        _loop1x1(W, i, k, S, start, width, out, first, ending, True)
    else:
        _loop1x1(W, i, k, S, start, width, out, first, ending, False)


@helper
def _loop1x1(W, i, k, S, start, width, out, first, ending, derivative):
    w, c0 = W[i, k], ending[0][i]
    for j in range(width):
        v = _base(out, i, j, first) + w * S[k, _col(start, j)]
        out[i, j] = _end(v, c0, i, j, ending, derivative)


@kernel
def _layer_gradient(dZ, A_prev, start, count, W, scale, l2, dW, db):
    """``dW = scale dZ A_prev[:, start:start + count]^T + l2 W``, ``db = scale sum dZ``
    (the sums run on to ``padded(count)``, where dZ is 0): blocks of four by four, four
    by one, one by four and one by one."""
    n_out, n_in, width, origin = dZ.shape[0], A_prev.shape[0], padded(count), _origin()
    whole_in = n_in - n_in % 4
    i = _origin()
    while i + 4 <= n_out:
        for k in range(0, whole_in, 4):
            sums = _dots4x4(dZ, i, origin, A_prev, k, start, width)
            for r in range(4):
                for c in range(4):
                    dW[i + r, k + c] = scale * sums[4 * r + c]
        for k in range(whole_in, n_in):
            sums4 = _dots4x1(dZ, i, origin, A_prev, k, start, width)
            for r in range(4):
                dW[i + r, k] = scale * sums4[r]
        i += 4
    for i in range(i, n_out):
        for k in range(0, whole_in, 4):
            sums4 = _dots4x1(A_prev, k, start, dZ, i, origin, width)
            for c in range(4):
                dW[i, k + c] = scale * sums4[c]
        for k in range(whole_in, n_in):
            dW[i, k] = scale * _dot(dZ, i, origin, A_prev, k, start, width)
    if l2 != 0.0:
        for i in range(n_out):
            for k in range(n_in):
                dW[i, k] += l2 * W[i, k]
    for i in range(n_out):
        db[i] = scale * _row_sum(dZ, i, width)


@kernel
def _output(A3, b3, Y, start, count, dZ3):
    """In place ``A3 <- sigmoid(A3 + b3)``; ``dZ3 = A3 - Y[:, start:start + count]``, 0
    in the padding columns."""
    width = padded(count)
    for i in range(A3.shape[0]):
        bi = b3[i]
        for j in range(width):
            A3[i, j] = vecmath.sigmoid(A3[i, j] + bi)
        for j in range(count):
            dZ3[i, j] = A3[i, j] - Y[i, _col(start, j)]
        for j in range(count, width):
            dZ3[i, j] = 0.0


def gradient(theta, dims, X, Y, start, count, lambd, D1, D2, keep_prob, work, grad):
    """The gradient of the examples ``start .. start + count - 1`` into ``grad`` (like
    ``theta``); ``work = (A1, A2, A3, dA1, dA2, dZ3)`` from ``workspace`` (A3 holds the
    output afterwards).  ``X`` has zeros in the columns from ``start + count`` up to
    ``start + padded(count)``, which are computed too (their dZ is 0).  Masks ``D1, D2``
    (0/1 floats, ``padded(count)`` columns; both or neither) apply when they have rows."""
    _gradient_of(theta, dims, X, Y, start, count, lambd, *_masks(D1, D2), keep_prob, work,
                 grad)


def _masks(D1, D2):
    """``(D1, D2)``, or ``(None, None)`` where they have no rows: the kernels are then
    compiled without the masks' loads (only for the runs that use them)."""
    return (D1, D2) if D1.shape[0] else (None, None)


@kernel
def _gradient_of(theta, dims, X, Y, start, count, lambd, D1, D2, keep_prob, work, grad):
    _gradient(_net_views(theta, dims), _views(grad, dims), X, Y, start, count, lambd, D1,
              D2, keep_prob, work)


@helper
def _net_views(theta, dims):
    """``(W1, b1, W2, b2, W3, b3, W2T, W3T)``: views of ``theta``, made once per run (a
    view costs a call and reference counting), and arrays for W2 and W3 transposed
    (C-ordered, so that the backward products run the forward ones' compiled code;
    ``_gradient`` fills them)."""
    W1, b1, W2, b2, W3, b3 = _views(theta, dims)
    return W1, b1, W2, b2, W3, b3, np.empty((W2.shape[1], W2.shape[0])), np.empty(
        (W3.shape[1], W3.shape[0]))


@helper
def _gradient(net, gradients, X, Y, start, count, lambd, D1, D2, keep_prob, work):
    """``gradient`` on the views ``_net_views(theta)`` and ``_views(grad)``; no masks
    where ``D1`` and ``D2`` are None (compiled separately)."""
    W1, b1, W2, b2, W3, b3, W2T, W3T = net
    dW1, db1, dW2, db2, dW3, db3 = gradients
    A1, A2, A3, dA1, dA2, dZ3 = work
    _transpose(W2, W2T)
    _transpose(W3, W3T)
    width, scale, origin = padded(count), 1.0 / keep_prob, _origin()
    _linear(W1, X, start, width, A1, _ending(b1, dA1, D1, scale, RELU))
    _linear(W2, A1, origin, width, A2, _ending(b2, dA2, D2, scale, RELU))
    _linear(W3, A2, origin, width, A3, _ending(b3, dZ3, _stand_in(D2, dZ3), scale, PLAIN))
    _output(A3, b3, Y, start, count, dZ3)
    inv_m, l2 = 1. / count, lambd / count
    _layer_gradient(dZ3, A2, origin, count, W3, inv_m, l2, dW3, db3)
    _linear(W3T, dZ3, origin, width, dA2, _ending(b2, A2, D2, scale, DERIVATIVE))
    _layer_gradient(dA2, A1, origin, count, W2, inv_m, l2, dW2, db2)
    _linear(W2T, dA2, origin, width, dA1, _ending(b1, A1, D1, scale, DERIVATIVE))
    _layer_gradient(dA1, X, start, count, W1, inv_m, l2, dW1, db1)


@helper
def _transpose(W, WT):
    for i in range(W.shape[0]):
        for k in range(W.shape[1]):
            WT[k, i] = W[i, k]


@kernel
def workspace(dims, columns):
    """``gradient``'s work arrays for up to ``columns`` examples at a time."""
    n1, n2, n3 = dims[1], dims[2], dims[3]
    columns = padded(columns)
    return (np.empty((n1, columns)), np.empty((n2, columns)), np.empty((n3, columns)),
            np.empty((n1, columns)), np.empty((n2, columns)), np.empty((n3, columns)))


def train_full_batch(theta, dims, X, Y, learning_rate, steps, lambd, D1, D2, keep_prob,
                     work):
    """``steps`` updates ``theta <- theta - learning_rate * gradient`` on all the examples
    (``Y``'s columns; ``X`` and the masks padded by ``pad_columns``)."""
    _train_full_batch(theta, dims, X, Y, learning_rate, steps, lambd, *_masks(D1, D2),
                      keep_prob, work)


@kernel
def _train_full_batch(theta, dims, X, Y, learning_rate, steps, lambd, D1, D2, keep_prob,
                      work):
    grad = np.empty_like(theta)
    net, gradients, m = _net_views(theta, dims), _views(grad, dims), Y.shape[1]
    for _ in range(steps):
        _gradient(net, gradients, X, Y, _origin(), m, lambd, D1, D2, keep_prob, work)
        for p in range(theta.size):
            theta[p] = theta[p] - learning_rate * grad[p]


@kernel
def _update(theta, grad, code, hyper, learning_rate, t, v, s):
    """One step of the optimizer ``code`` (``t`` counts the steps from 1, for Adam):
    ``optimizers.update_segment``, except Adam in the course's own form, which divides by
    ``1 - beta^t`` where ``update_segment`` multiplies by its reciprocal (the course's
    printed digits depend on it)."""
    beta1, beta2, epsilon = hyper[0], hyper[1], hyper[2]
    if code != ADAM:
        update_segment(code, theta, grad, v, s, 0, theta.size, learning_rate, 0.0, beta1,
                       beta2, epsilon, 1.0, 1.0)
        return
    bias1 = 1 - math.pow(beta1, float(t))
    bias2 = 1 - math.pow(beta2, float(t))
    for p in range(theta.size):
        v[p] = beta1 * v[p] + (1 - beta1) * grad[p]
        s[p] = beta2 * s[p] + (1 - beta2) * (grad[p] * grad[p])
        theta[p] = theta[p] - learning_rate * (v[p] / bias1) / (
            np.sqrt(s[p] / bias2) + epsilon)


@kernel
def _cross_entropy_sum(A3, Y, start, count):
    """The course's ``sum(-log(a) y - log(1 - a) (1 - y))`` over the columns."""
    total = 0.0
    for i in range(A3.shape[0]):
        for j in range(count):
            a, y = A3[i, j], Y[i, _col(start, j)]
            total += -np.log(a) * y + -np.log(1 - a) * (1 - y)
    return total


@kernel
def train_epochs(theta, dims, X, Y, orders, batch_size, learning_rates, want_cost, code,
                 hyper, t, v, s, costs):
    """One epoch per row of ``orders`` (a permutation of the examples): consecutive
    batches of ``batch_size`` in that order (the last one smaller), each followed by one
    optimizer step at the epoch's learning rate.  ``costs[e]`` gets epoch e's summed
    cross-entropy where ``want_cost[e]``.  ``t`` is the steps taken before; returns the
    count after."""
    m = X.shape[1]
    Xs, Ys = np.zeros((X.shape[0], m + LANES)), np.empty((Y.shape[0], m))
    grad, work = np.empty_like(theta), workspace(dims, min(batch_size, m))
    net, gradients = _net_views(theta, dims), _views(grad, dims)
    for e in range(orders.shape[0]):
        for j in range(m):
            for k in range(X.shape[0]):
                Xs[k, j] = X[k, orders[e, j]]
            for k in range(Y.shape[0]):
                Ys[k, j] = Y[k, orders[e, j]]
        cost_total = 0.0
        for start in range(0, m, batch_size):
            count = min(batch_size, m - start)
            _gradient(net, gradients, Xs, Ys, start, count, 0.0, None, None, 1.0, work)
            if want_cost[e]:
                cost_total += _cross_entropy_sum(work[2], Ys, start, count)
            t += 1
            _update(theta, grad, code, hyper, learning_rates[e], t, v, s)
        costs[e] = cost_total
    return t


def reference_gradient(parameters, X, Y, lambd=0.0, masks=None, keep_prob=1.0):
    """The numpy oracle: the gradient dict ``dW1, db1, ...`` of the mean cross-entropy
    plus ``lambd / (2 m) sum ||W||^2``, hidden activations multiplied by ``masks = (D1,
    D2)`` and divided by ``keep_prob`` when given."""
    m = X.shape[1]
    W, b = [parameters["W" + str(l)] for l in (1, 2, 3)], [parameters["b" + str(l)]
                                                             for l in (1, 2, 3)]
    A = [X]
    for l in range(2):
        a = np.maximum(0, W[l] @ A[-1] + b[l])
        A.append(a if masks is None else a * masks[l] / keep_prob)
    dZ = (1 / (1 + np.exp(-(W[2] @ A[2] + b[2]))) - Y) / m
    grads = {}
    for l in (2, 1, 0):
        grads["dW" + str(l + 1)] = dZ @ A[l].T + lambd / m * W[l]
        grads["db" + str(l + 1)] = dZ.sum(axis=1, keepdims=True)
        if l:
            dA = W[l].T @ dZ
            dA = dA if masks is None else dA * masks[l - 1] / keep_prob
            dZ = dA * (A[l] > 0)
    return grads
