"""The cpu engine's whole-network pass on flat buffers, ``predict_proba``, and the state
that every compiled trainer shares.

Parameters live in one flat buffer ``theta`` (``engines/layout.py``: W1, b1, W2, b2, ...
each C-ordered), gradients in ``grad`` of the same layout, activations in ``acts``;
``lay = (dims, w_off, b_off, a_off)`` are the int64 offset arrays of ``Layout.arrays``.
"""
import numpy as np

from ..layout import Layout
from .blocks import running_on
from .layers import (activation_backward, bias_gradient, dense_backward,
                     dense_forward, inlined, kernel, output_activation, weight_gradient)


@inlined
def layer(buf, off, rows, cols):
    """The ``(rows, cols)`` view of ``buf`` that starts at ``off``."""
    return buf[off:off + rows * cols].reshape((rows, cols))


@kernel
def output_layer(Z, b, code, A):
    """The output layer from its product ``Z = W A_prev``: adds ``b`` in place (Z becomes
    Z_L) and writes ``A = g(Z_L)``.  (The bias is added here rather than by
    ``bias_activation``, whose call with a constant code would be compiled a second time.)"""
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[i, j] = Z[i, j] + b[i, 0]
    output_activation(Z, code, A)


@inlined
def forward_from(l_start, A_prev, theta, lay, codes, slope, acts, ZL):
    """Layers ``l_start..L`` from ``A_prev`` (the activations of layer l_start - 1):
    fills their slots in ``acts`` (A_L in the last) and ``ZL``; returns A_L."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, A_prev.shape[1]
    for l in range(l_start, L + 1):
        W = layer(theta, w_off[l], dims[l], dims[l - 1])
        b = layer(theta, b_off[l], dims[l], 1)
        A = layer(acts, a_off[l], dims[l], m)
        if l < L:
            dense_forward(W, b, A_prev, codes[l - 1], slope, A)
        else:
            np.dot(W, A_prev, ZL)
            output_layer(ZL, b, codes[L - 1], A)
        A_prev = A
    return A_prev


# ``forward_from`` and ``backprop`` are inlined into the training kernels (each one less
# level of compilation); ``forward`` and ``backward`` are the same passes compiled on their
# own, for Python (``predict_proba``, and the tests' checks of each pass).
@kernel
def forward(theta, lay, codes, slope, X, acts, ZL):
    return forward_from(1, X, theta, lay, codes, slope, acts, ZL)


@kernel
def backward(theta, lay, codes, slope, X, Y, acts, grad, buf1, buf2, need_dW1):
    return backprop(theta, lay, codes, slope, X, Y, acts, grad, buf1, buf2, need_dW1)


@inlined
def backprop(theta, lay, codes, slope, X, Y, acts, grad, buf1, buf2, need_dW1):
    """Fills ``grad`` (the layout of theta); ``buf1``/``buf2`` hold dZ / dA_prev in turn.
    With ``need_dW1`` False the product dW1 = dZ1 X^T is skipped (its slot is left
    as it is).  Returns dZ1."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, Y.shape[1]
    dZ = layer(buf1, 0, dims[L], m)
    AL = layer(acts, a_off[L], dims[L], m)
    for i in range(dims[L]):
        for j in range(m):
            dZ[i, j] = AL[i, j] - Y[i, j]
    spare = buf2
    for l in range(L, 1, -1):
        A_prev = layer(acts, a_off[l - 1], dims[l - 1], m)
        W = layer(theta, w_off[l], dims[l], dims[l - 1])
        dA_prev = layer(spare, 0, dims[l - 1], m)
        dense_backward(dZ, A_prev, W, layer(grad, w_off[l], dims[l], dims[l - 1]),
                       layer(grad, b_off[l], dims[l], 1), dA_prev, True)
        activation_backward(dA_prev, A_prev, codes[l - 2], slope)
        spare = buf1 if spare is buf2 else buf2
        dZ = dA_prev
    if need_dW1:
        weight_gradient(dZ, X, layer(grad, w_off[1], dims[1], dims[0]))
    bias_gradient(dZ, layer(grad, b_off[1], dims[1], 1))
    return dZ


@kernel
def descend(theta, grad, learning_rate):
    for k in range(theta.size):
        theta[k] = theta[k] - learning_rate * grad[k]


def predict_proba(parameters, X, net):
    X = np.ascontiguousarray(X)
    layout = Layout(net.layer_dims, X.shape[1])
    theta = layout.pack(parameters, X.dtype)
    acts = np.empty(layout.act_size, X.dtype)
    ZL = np.empty((net.layer_dims[-1], X.shape[1]), X.dtype)
    with running_on(1):                         # the same bits on any machine
        return forward(theta, layout.arrays, net.codes, net.slope, X, acts, ZL).copy()


class CompiledTrainer:
    """What the compiled trainers share: work buffers for ``columns`` examples (all m by
    default; one set per thread, on a leading axis, when ``copies`` is given), and the
    methods of ``engines.Trainer`` but ``run``, written over ``training_state()``: the
    arrays that training changes (here the flat buffer ``theta``)."""

    def __init__(self, parameters, X, Y, net, learning_rate, columns=None, copies=None):
        dtype, columns = X.dtype, columns or Y.shape[1]
        self.Y, self.net = np.ascontiguousarray(Y), net
        self.lr, self.codes = dtype.type(learning_rate), net.codes
        self.slope = dtype.type(net.slope)
        self.layout = Layout(net.layer_dims, columns)
        self.theta = self.layout.pack(parameters, dtype)

        def buffer(*shape):
            return np.zeros(shape if copies is None else (copies,) + shape, dtype)
        widest = max(net.layer_dims[1:]) * columns
        self.grad, self.acts = buffer(self.layout.size), buffer(self.layout.act_size)
        self.ZL = buffer(net.layer_dims[-1], columns)
        self.buf1, self.buf2 = buffer(widest), buffer(widest)

    def training_state(self):
        return (self.theta,)

    def parameters(self):
        return self.layout.unpack(self.theta)

    def is_finite(self):
        return all(bool(np.isfinite(part).all()) for part in self.training_state())

    def snapshot(self):
        return tuple(part.copy() for part in self.training_state())

    def restore(self, snapshot):
        for current, saved in zip(self.training_state(), snapshot):
            current[...] = saved
