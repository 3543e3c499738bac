"""The "cpu" engine: Numba kernels and the compiled training loop.

Kernels (arrays in, arrays out, written in place):

- ``dense_forward(W, b, A_prev, code, slope, out)``: ``out = g(W A_prev + b)``, the
  matrix product (BLAS) followed by one fused pass for bias and activation.
- ``activation_backward(dA, A, code, slope)``: ``dA <- dA * g'(A)`` in place, so the
  derivative is fused into forming ``dZ``.
- ``dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev)``: one layer's
  gradients; ``dA_prev`` only when asked (never for the input X during training).
- ``train_steps(...)``: whole iterations (forward, cost when asked, backward, update)
  on flat parameter and gradient buffers, so no Python runs between iterations.

Parameters live in one flat buffer ``theta`` (W1, b1, W2, b2, ... each C-ordered);
``w_off[l]`` / ``b_off[l]`` give where layer l's arrays start.
"""
import math

import numpy as np
from numba import njit

from ..activations import LEAKY_RELU, LINEAR, RELU, SIGMOID, SOFTMAX, TANH


@njit(cache=True)
def bias_activation(Z, b, code, slope):
    """In place: ``Z <- g(Z + b)`` for a hidden code (LINEAR only adds the bias)."""
    n, m = Z.shape
    for i in range(n):
        bi = b[i, 0]
        for j in range(m):
            z = Z[i, j] + bi
            if code == RELU:
                z = z if z > 0 else 0.0 * z
            elif code == LEAKY_RELU:
                z = z if z > 0 else slope * z
            elif code == SIGMOID:
                z = 1.0 / (1.0 + math.exp(-z))
            elif code == TANH:
                z = math.tanh(z)
            Z[i, j] = z


@njit(cache=True)
def output_activation(Z, code, A):
    """``A = g(Z)`` for an output code; softmax works column by column."""
    n, m = Z.shape
    if code == SOFTMAX:
        for j in range(m):
            zmax = Z[0, j]
            for i in range(1, n):
                zmax = max(zmax, Z[i, j])
            total = 0.0
            for i in range(n):
                A[i, j] = math.exp(Z[i, j] - zmax)
                total += A[i, j]
            for i in range(n):
                A[i, j] = A[i, j] / total
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                A[i, j] = 1.0 / (1.0 + math.exp(-Z[i, j]))
    else:
        A[:, :] = Z


@njit(cache=True)
def dense_forward(W, b, A_prev, code, slope, out):
    """``out = g(W A_prev + b)`` for a hidden code.  ``W : (n_l, n_{l-1})``,
    ``b : (n_l, 1)``, ``A_prev : (n_{l-1}, m)``, ``out : (n_l, m)``, all C-contiguous."""
    np.dot(W, A_prev, out)
    bias_activation(out, b, code, slope)
    return out


@njit(cache=True)
def activation_backward(dA, A, code, slope):
    """In place: ``dA <- dA * g'(Z)`` with ``g'`` from ``A = g(Z)``; dA becomes dZ."""
    n, m = dA.shape
    for i in range(n):
        for j in range(m):
            a = A[i, j]
            if code == RELU:
                dA[i, j] = dA[i, j] if a > 0 else 0.0 * dA[i, j]
            elif code == LEAKY_RELU:
                dA[i, j] = dA[i, j] if a > 0 else slope * dA[i, j]
            elif code == SIGMOID:
                dA[i, j] = dA[i, j] * (a * (1.0 - a))
            elif code == TANH:
                dA[i, j] = dA[i, j] * (1.0 - a * a)
    return dA


@njit(cache=True)
def dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev):
    """``dW = 1/m dZ A_prev^T``, ``db = 1/m sum_j dZ``, ``dA_prev = W^T dZ`` (if asked)."""
    n, m = dZ.shape
    inv_m = 1.0 / m
    np.dot(dZ, A_prev.T, dW)
    for i in range(n):
        total = 0.0
        for j in range(m):
            total += dZ[i, j]
        db[i, 0] = inv_m * total
        for k in range(dW.shape[1]):
            dW[i, k] = inv_m * dW[i, k]
    if need_dA_prev:
        np.dot(W.T, dZ, dA_prev)


@njit(cache=True)
def cost(ZL, Y, code):
    """Mean loss from the output pre-activations (see ``reference.cost``)."""
    n, m = ZL.shape
    total = 0.0
    if code == SOFTMAX:
        for j in range(m):
            zmax = ZL[0, j]
            for i in range(1, n):
                zmax = max(zmax, ZL[i, j])
            s = 0.0
            for i in range(n):
                s += math.exp(ZL[i, j] - zmax)
            lse = zmax + math.log(s)
            for i in range(n):
                total += Y[i, j] * (lse - ZL[i, j])
    else:
        for i in range(n):
            for j in range(m):
                z, y = ZL[i, j], Y[i, j]
                if code == SIGMOID:
                    total += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))
                else:
                    total += 0.5 * (z - y) * (z - y)
    return total / m


@njit(cache=True)
def _layer(buf, off, rows, cols):
    return buf[off:off + rows * cols].reshape((rows, cols))


@njit(cache=True)
def forward(theta, w_off, b_off, dims, codes, slope, X, acts, a_off, ZL):
    """Fills the hidden activations (in ``acts``), ``ZL`` and ``A_L`` (last slot)."""
    L = dims.size - 1
    m = X.shape[1]
    A_prev = X
    for l in range(1, L + 1):
        W = _layer(theta, w_off[l], dims[l], dims[l - 1])
        b = _layer(theta, b_off[l], dims[l], 1)
        A = _layer(acts, a_off[l], dims[l], m)
        if l < L:
            dense_forward(W, b, A_prev, codes[l - 1], slope, A)
        else:
            np.dot(W, A_prev, ZL)
            bias_activation(ZL, b, LINEAR, slope)
            output_activation(ZL, codes[L - 1], A)
        A_prev = A
    return A_prev


@njit(cache=True)
def backward(theta, w_off, b_off, dims, codes, slope, X, Y, acts, a_off, grad, buf1, buf2):
    """Fills ``grad`` (same layout as theta).  ``buf1``/``buf2`` hold dZ / dA_prev."""
    L = dims.size - 1
    m = X.shape[1]
    dZ = _layer(buf1, 0, dims[L], m)
    AL = _layer(acts, a_off[L], dims[L], m)
    for i in range(dims[L]):
        for j in range(m):
            dZ[i, j] = AL[i, j] - Y[i, j]
    spare = buf2
    for l in range(L, 0, -1):
        A_prev = X if l == 1 else _layer(acts, a_off[l - 1], dims[l - 1], m)
        W = _layer(theta, w_off[l], dims[l], dims[l - 1])
        dW = _layer(grad, w_off[l], dims[l], dims[l - 1])
        db = _layer(grad, b_off[l], dims[l], 1)
        dA_prev = _layer(spare, 0, dims[l - 1], m) if l > 1 else dZ
        dense_backward(dZ, A_prev, W, dW, db, dA_prev, l > 1)
        if l > 1:
            activation_backward(dA_prev, A_prev, codes[l - 2], slope)
            spare = buf1 if spare is buf2 else buf2
            dZ = dA_prev


@njit(cache=True)
def train_steps(theta, w_off, b_off, dims, codes, slope, X, Y, learning_rate, n_steps,
                want_last_cost, acts, a_off, ZL, grad, buf1, buf2):
    """``n_steps`` iterations of full-batch gradient descent on ``theta`` in place.
    Returns the cost of the first step and, if asked, of the last step (NaN otherwise)."""
    first = last = np.nan
    for step in range(n_steps):
        forward(theta, w_off, b_off, dims, codes, slope, X, acts, a_off, ZL)
        if step == 0:
            first = cost(ZL, Y, codes[-1])
        if want_last_cost and step == n_steps - 1:
            last = cost(ZL, Y, codes[-1])
        backward(theta, w_off, b_off, dims, codes, slope, X, Y, acts, a_off, grad, buf1, buf2)
        for k in range(theta.size):
            theta[k] = theta[k] - learning_rate * grad[k]
    return first, last


class Layout:
    """Offsets of each layer's W and b in a flat buffer, and of its activations."""

    def __init__(self, dims, m):
        self.dims = np.asarray(dims, dtype=np.int64)
        L = len(dims) - 1
        self.w_off = np.zeros(L + 1, np.int64)
        self.b_off = np.zeros(L + 1, np.int64)
        self.a_off = np.zeros(L + 1, np.int64)
        pos = act = 0
        for l in range(1, L + 1):
            self.w_off[l], pos = pos, pos + dims[l] * dims[l - 1]
            self.b_off[l], pos = pos, pos + dims[l]
            self.a_off[l], act = act, act + dims[l] * m
        self.size, self.act_size = pos, act

    def pack(self, parameters, dtype):
        theta = np.empty(self.size, dtype=dtype)
        for l in range(1, self.dims.size):
            W, b = parameters[f"W{l}"], parameters[f"b{l}"]
            theta[self.w_off[l]:self.w_off[l] + W.size] = W.ravel()
            theta[self.b_off[l]:self.b_off[l] + b.size] = b.ravel()
        return theta

    def unpack(self, theta):
        params = {}
        for l in range(1, self.dims.size):
            n, k = self.dims[l], self.dims[l - 1]
            params[f"W{l}"] = theta[self.w_off[l]:self.w_off[l] + n * k].reshape(n, k).copy()
            params[f"b{l}"] = theta[self.b_off[l]:self.b_off[l] + n].reshape(n, 1).copy()
        return params


def predict_proba(parameters, X, net):
    X = np.ascontiguousarray(X)
    layout = Layout(net.layer_dims, X.shape[1])
    theta = layout.pack(parameters, X.dtype)
    acts = np.empty(layout.act_size, X.dtype)
    ZL = np.empty((net.layer_dims[-1], X.shape[1]), X.dtype)
    return forward(theta, layout.w_off, layout.b_off, layout.dims, net.codes,
                   net.slope, X, acts, layout.a_off, ZL).copy()


class Trainer:
    """Gradient descent with the compiled loop; state is the flat buffer ``theta``."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        m, dtype = X.shape[1], X.dtype
        self.X, self.Y, self.net = np.ascontiguousarray(X), np.ascontiguousarray(Y), net
        self.lr = dtype.type(learning_rate)
        self.layout = Layout(net.layer_dims, m)
        self.theta = self.layout.pack(parameters, dtype)
        self.grad = np.empty_like(self.theta)
        self.acts = np.empty(self.layout.act_size, dtype)
        self.ZL = np.empty((net.layer_dims[-1], m), dtype)
        widest = max(net.layer_dims[1:]) * m
        self.buf1, self.buf2 = np.empty(widest, dtype), np.empty(widest, dtype)
        self.codes, self.slope = net.codes, dtype.type(net.slope)

    def run(self, n_steps, want_last_cost):
        lay = self.layout
        return train_steps(self.theta, lay.w_off, lay.b_off, lay.dims, self.codes, self.slope,
                           self.X, self.Y, self.lr, n_steps, want_last_cost, self.acts,
                           lay.a_off, self.ZL, self.grad, self.buf1, self.buf2)

    def parameters(self):
        return self.layout.unpack(self.theta)

    def is_finite(self):
        return bool(np.isfinite(self.theta).all())

    def snapshot(self):
        return self.theta.copy()

    def restore(self, snapshot):
        self.theta[:] = snapshot
