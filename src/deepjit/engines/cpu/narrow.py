"""Compiled training of narrow 3-layer nets LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID
(the second course's nets: 1 to a few tens of units a layer, a few hundred examples).

At these sizes a BLAS call costs more than its arithmetic and the example-major layout
of the mini-batch engine wastes its vector lanes, so here everything is feature-major
(units x examples, as the course writes it) in plain loops over the examples, which LLVM
vectorises, and a whole run of iterations (or epochs) is one compiled call.

- The parameters are one flat vector ``theta = [W1, b1, W2, b2, W3, b3]`` (row-major);
  ``pack`` and ``unpack`` convert from and to the course's dict.
- ``train_full_batch``: gradient descent on all examples, with the L2 term ``lambd / m W``
  or fixed dropout masks ``D1, D2`` (multiplied in, then divided by ``keep_prob``).
- ``train_epochs``: mini-batch epochs over given example orders with gd, momentum,
  RMSprop or Adam (the course's forms, :mod:`deepjit.optim`'s codes and ``hyper``), a
  learning rate per epoch, and each epoch's summed cross-entropy where asked.
- The backward pass is reg_utils' (``dZ3 = A3 - Y``, ``1/m`` on each product) for all
  three notebooks: a balanced set's ``sum(A3 - Y)`` at ``A3 = 1/2`` is then exactly 0, so
  the zero-initialised net stays at ``A3 = 1/2`` and predicts 0 everywhere, as published
  (init_utils' ``1/m (A3 - Y)`` summed leaves a rounding error that the course's numpy
  exp happens to absorb).
- ``reference_gradient``: the numpy oracle of the kernels' gradient.
"""
import math

import numpy as np
from numba import njit

from ...optim import ADAM, MOMENTUM, RMSPROP
from . import vecmath
from .layers import kernel, row_sum

# reductions over the examples may be reassociated so that they vectorise
reduction = njit(cache=True, error_model="numpy", fastmath={"reassoc"})
KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
# loops run over whole multiples of LANES columns (zero columns past the examples), so
# that no example falls to the scalar remainder of a vectorised (and unrolled) loop
LANES = 32
PAIRWISE_BLOCK = 128   # numpy's PW_BLOCKSIZE
# ``_sum`` adds in numpy's pairwise order up to 128 * 2**PAIRWISE_LEVELS numbers, so that a
# sum numpy finds exact (the zero-initialised net's db) comes out exact here too
PAIRWISE_LEVELS = 8


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


@njit(cache=True)
def padded(columns):
    """``columns`` rounded up to a multiple of LANES."""
    return -(-columns // LANES) * LANES


@kernel
def _views(theta, dims):
    n0, n1, n2, n3 = dims[0], dims[1], dims[2], dims[3]
    o1 = n1 * n0 + n1
    o2 = o1 + n2 * n1 + n2
    return (theta[:n1 * n0].reshape((n1, n0)), theta[n1 * n0:o1],
            theta[o1:o1 + n2 * n1].reshape((n2, n1)), theta[o1 + n2 * n1:o2],
            theta[o2:o2 + n3 * n2].reshape((n3, n2)), theta[o2 + n3 * n2:])


@reduction
def _dots(a, B, k, start, width):
    """``sum_j a[j] B[k + r, start + j]`` for r = 0 .. 3 (rows past B's end repeat its
    last): four products from each load of ``a``."""
    last = B.shape[0] - 1
    b0, b1, b2, b3 = B[k], B[min(k + 1, last)], B[min(k + 2, last)], B[min(k + 3, last)]
    t0 = t1 = t2 = t3 = 0.0
    for j in range(width):
        x = a[j]
        t0 += x * b0[start + j]
        t1 += x * b1[start + j]
        t2 += x * b2[start + j]
        t3 += x * b3[start + j]
    return t0, t1, t2, t3


@kernel
def _block_sum(a, start, count):
    """numpy's pairwise sum of at most 128 numbers (``layers.row_sum``'s order: eight
    interleaved partial sums, the same additions as numpy's up to the sign of zero)."""
    return row_sum(a[start:start + count])


@kernel
def _sequential_blocks(a, start, count):
    total = 0.0
    for first in range(start, start + count, PAIRWISE_BLOCK):
        total += _block_sum(a, first, min(PAIRWISE_BLOCK, start + count - first))
    return total


def _pairwise_level(below):
    """The sum that splits as numpy does (halves, the first a multiple of 8) and sums
    each half with ``below`` (Numba compiles no recursion that it can cache)."""
    @kernel
    def level(a, start, count):
        if count <= PAIRWISE_BLOCK:
            return _block_sum(a, start, count)
        half = count // 2
        half -= half % 8
        return below(a, start, half) + below(a, start + half, count - half)
    return level


_sum = _sequential_blocks
for _ in range(PAIRWISE_LEVELS):
    _sum = _pairwise_level(_sum)


@kernel
def _linear(W, A_prev, start, width, out):
    """``out[:, :width] = W A_prev[:, start:start + width]`` (bias not added).  The inputs
    are added up to four at a time, in order, so each output row is read and stored once
    per four inputs."""
    n_in = W.shape[1]
    for i in range(W.shape[0]):
        row = out[i][:width]
        row[:] = 0.0
        for k in range(0, n_in, 4):
            _accumulate(row, W[i], A_prev, k, min(4, n_in - k), start)


@kernel
def _accumulate(out, w, A, k, take, start):
    """``out += w[k] A[k, start:] + ... + w[k + take - 1] A[k + take - 1, start:]``,
    added left to right, for ``take`` = 1 .. 4 (rows sliced one by one: contiguous)."""
    end = start + out.size
    s0, w0 = A[k][start:end], w[k]
    if take == 1:
        for j in range(out.size):
            out[j] += w0 * s0[j]
        return
    s1, w1 = A[k + 1][start:end], w[k + 1]
    if take == 2:
        for j in range(out.size):
            out[j] = (out[j] + w0 * s0[j]) + w1 * s1[j]
        return
    s2, w2 = A[k + 2][start:end], w[k + 2]
    if take == 3:
        for j in range(out.size):
            out[j] = ((out[j] + w0 * s0[j]) + w1 * s1[j]) + w2 * s2[j]
        return
    s3, w3 = A[k + 3][start:end], w[k + 3]
    for j in range(out.size):
        out[j] = (((out[j] + w0 * s0[j]) + w1 * s1[j]) + w2 * s2[j]) + w3 * s3[j]


@kernel
def _relu(Z, b, count, D, keep_prob):
    """In place ``Z <- relu(Z + b)``, then ``* D / keep_prob`` when ``D`` has rows."""
    for i in range(Z.shape[0]):
        row, bi = Z[i], b[i]
        for j in range(count):
            z = row[j] + bi
            row[j] = 0.0 if z <= 0 else z
        if D.shape[0]:
            mask = D[i]
            for j in range(count):
                row[j] = row[j] * mask[j] / keep_prob


@kernel
def _relu_backward(dA, A, count, D, keep_prob):
    """In place ``dA <- dA (* D / keep_prob) * (A > 0)``: dZ of a hidden layer."""
    for i in range(dA.shape[0]):
        row, a = dA[i], A[i]
        if D.shape[0]:
            mask = D[i]
            for j in range(count):
                row[j] = row[j] * mask[j] / keep_prob
        for j in range(count):
            row[j] = row[j] if a[j] > 0 else 0.0


@kernel
def _layer_gradient(dZ, A_prev, start, count, W, scale, l2, dW, db):
    """``dW = scale dZ A_prev[:, start:start + count]^T + l2 W`` (the products run on to
    ``padded(count)``, where dZ is 0), ``db = scale sum dZ`` in numpy's order (``_sum``:
    the saturated runs follow the course's more closely)."""
    n_in, width = A_prev.shape[0], padded(count)
    for i in range(dZ.shape[0]):
        for k in range(0, n_in, 4):
            products = _dots(dZ[i], A_prev, k, start, width)
            for r in range(min(4, n_in - k)):
                dW[i, k + r] = scale * products[r]
                if l2 != 0.0:
                    dW[i, k + r] += l2 * W[i, k + r]
        db[i] = scale * _sum(dZ[i], 0, count)


@kernel
def gradient(theta, dims, X, Y, start, count, lambd, D1, D2, keep_prob, work, grad):
    """The gradient of the examples ``start .. start + count - 1`` into ``grad`` (like
    ``theta``); ``work = (A1, A2, A3, dA1, dA2, dZ3)`` from ``workspace`` (A3 holds the
    output afterwards).  ``X`` has zeros in the columns from ``start + count`` up to
    ``start + padded(count)``, which are computed too (their dZ is 0).  Masks ``D1, D2``
    (0/1 floats, ``padded(count)`` columns) apply when they have rows."""
    W1, b1, W2, b2, W3, b3 = _views(theta, dims)
    dW1, db1, dW2, db2, dW3, db3 = _views(grad, dims)
    A1, A2, A3, dA1, dA2, dZ3 = work
    width = padded(count)
    _linear(W1, X, start, width, A1)
    _relu(A1, b1, width, D1, keep_prob)
    _linear(W2, A1, 0, width, A2)
    _relu(A2, b2, width, D2, keep_prob)
    _linear(W3, A2, 0, width, A3)
    for i in range(A3.shape[0]):
        a, bi, y, d = A3[i], b3[i], Y[i], dZ3[i]
        for j in range(width):
            a[j] = vecmath.sigmoid(a[j] + bi)
        for j in range(count):
            d[j] = a[j] - y[start + j]
        for j in range(count, width):
            d[j] = 0.0
    inv_m, l2 = 1. / count, lambd / count
    _layer_gradient(dZ3, A2, 0, count, W3, inv_m, l2, dW3, db3)
    _linear(W3.T, dZ3, 0, width, dA2)
    _relu_backward(dA2, A2, width, D2, keep_prob)
    _layer_gradient(dA2, A1, 0, count, W2, inv_m, l2, dW2, db2)
    _linear(W2.T, dA2, 0, width, dA1)
    _relu_backward(dA1, A1, width, D1, keep_prob)
    _layer_gradient(dA1, X, start, count, W1, inv_m, l2, dW1, db1)


@kernel
def workspace(dims, columns):
    """``gradient``'s work arrays for up to ``columns`` examples at a time."""
    n1, n2, n3 = dims[1], dims[2], dims[3]
    columns = padded(columns)
    return (np.empty((n1, columns)), np.empty((n2, columns)), np.empty((n3, columns)),
            np.empty((n1, columns)), np.empty((n2, columns)), np.empty((n3, columns)))


@kernel
def train_full_batch(theta, dims, X, Y, learning_rate, steps, lambd, D1, D2, keep_prob,
                     work):
    """``steps`` updates ``theta <- theta - learning_rate * gradient`` on all the examples
    (``Y``'s columns; ``X`` and the masks padded by ``pad_columns``)."""
    grad = np.empty_like(theta)
    m = Y.shape[1]
    for _ in range(steps):
        gradient(theta, dims, X, Y, 0, m, lambd, D1, D2, keep_prob, work, grad)
        for p in range(theta.size):
            theta[p] = theta[p] - learning_rate * grad[p]


@kernel
def _update(theta, grad, code, hyper, learning_rate, t, v, s):
    """One step of the optimizer ``code`` (``t`` counts the steps from 1, for Adam)."""
    beta1, beta2, epsilon = hyper[0], hyper[1], hyper[2]
    if code == MOMENTUM:
        for p in range(theta.size):
            v[p] = beta1 * v[p] + (1 - beta1) * grad[p]
            theta[p] = theta[p] - learning_rate * v[p]
    elif code == RMSPROP:
        for p in range(theta.size):
            s[p] = beta2 * s[p] + (1 - beta2) * (grad[p] * grad[p])
            theta[p] = theta[p] - learning_rate * grad[p] / (np.sqrt(s[p]) + epsilon)
    elif code == ADAM:
        bias1 = 1 - math.pow(beta1, float(t))
        bias2 = 1 - math.pow(beta2, float(t))
        for p in range(theta.size):
            v[p] = beta1 * v[p] + (1 - beta1) * grad[p]
            s[p] = beta2 * s[p] + (1 - beta2) * (grad[p] * grad[p])
            theta[p] = theta[p] - learning_rate * (v[p] / bias1) / (
                np.sqrt(s[p] / bias2) + epsilon)
    else:
        for p in range(theta.size):
            theta[p] = theta[p] - learning_rate * grad[p]


@kernel
def _cross_entropy_sum(A3, Y, start, count):
    """The course's ``sum(-log(a) y - log(1 - a) (1 - y))`` over the columns."""
    total = 0.0
    for i in range(A3.shape[0]):
        for j in range(count):
            a, y = A3[i, j], Y[i, start + j]
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
    no_mask = np.empty((0, 0))
    for e in range(orders.shape[0]):
        for j in range(m):
            for k in range(X.shape[0]):
                Xs[k, j] = X[k, orders[e, j]]
            for k in range(Y.shape[0]):
                Ys[k, j] = Y[k, orders[e, j]]
        cost_total = 0.0
        for start in range(0, m, batch_size):
            count = min(batch_size, m - start)
            gradient(theta, dims, Xs, Ys, start, count, 0.0, no_mask, no_mask, 1.0, work,
                     grad)
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
