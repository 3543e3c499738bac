"""The "numpy" engine: the course's equations in plain vectorised numpy.

Readable and slow on purpose: it is the oracle every compiled kernel is tested
against.  Notation follows the course: ``A_prev : (n_{l-1}, m)``, ``W : (n_l, n_{l-1})``,
``b : (n_l, 1)``, ``Z = W A_prev + b``, ``A = g(Z)``; ``dZ = dA * g'(Z)``,
``dW = 1/m dZ A_prev^T``, ``db = 1/m sum(dZ)``, ``dA_prev = W^T dZ``.
"""
import numpy as np

from ..activations import ACTIVATIONS, DERIVATIVES


def dense_forward(W, b, A_prev, activation, slope=0.01):
    """``A = g(W A_prev + b)``; returns ``(Z, A)``."""
    Z = np.dot(W, A_prev) + b
    return Z, ACTIVATIONS[activation](Z, slope)


def activation_backward(dA, A, activation, slope=0.01):
    """``dZ = dA * g'(Z)``, with ``g'`` written in terms of ``A = g(Z)``."""
    return dA * DERIVATIVES[activation](A, slope)


def dense_backward(dZ, A_prev, W, need_dA_prev=True):
    """Returns ``(dA_prev, dW, db)``; ``dA_prev`` is None when not needed."""
    m = A_prev.shape[1]
    dW = 1. / m * np.dot(dZ, A_prev.T)
    db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ) if need_dA_prev else None
    return dA_prev, dW, db


def cost(ZL, Y, output):
    """Mean loss computed from the output pre-activations ``ZL``, so it stays finite
    when the output saturates: binary cross-entropy ``log(1 + e^z) - y z`` (sigmoid),
    categorical cross-entropy ``logsumexp(z) - sum_k y_k z_k`` (softmax, one-hot Y),
    and half the squared error (linear)."""
    m = ZL.shape[1]
    if output == "sigmoid":
        losses = np.logaddexp(0, ZL) - Y * ZL
    elif output == "softmax":
        zmax = ZL.max(axis=0, keepdims=True)
        lse = zmax + np.log(np.exp(ZL - zmax).sum(axis=0, keepdims=True))
        losses = Y * (lse - ZL)
    else:
        losses = 0.5 * (ZL - Y) ** 2
    return float(np.sum(losses) / m)


def forward(parameters, X, net):
    """Returns ``(As, ZL)`` with ``As = [A0 = X, A1, ..., AL]``."""
    As, Z = [X], None
    for l, activation in enumerate(net.activations, start=1):
        Z, A = dense_forward(parameters[f"W{l}"], parameters[f"b{l}"], As[-1], activation,
                             net.slope)
        As.append(A)
    return As, Z


def backward(parameters, As, Y, net):
    """Gradients ``{"dW1", "db1", ...}``.  Every output pairs with its canonical loss,
    so ``dZ_L = A_L - Y``; the gradient with respect to X is never formed."""
    grads, dZ = {}, As[-1] - Y
    for l in range(net.L, 0, -1):
        dA_prev, grads[f"dW{l}"], grads[f"db{l}"] = dense_backward(
            dZ, As[l - 1], parameters[f"W{l}"], need_dA_prev=l > 1)
        if l > 1:
            dZ = activation_backward(dA_prev, As[l - 1], net.activations[l - 2], net.slope)
    return grads


def update(parameters, grads, learning_rate):
    for key in parameters:
        parameters[key] = parameters[key] - learning_rate * grads["d" + key]


def predict_proba(parameters, X, net):
    return forward(parameters, X, net)[0][-1]


def make_trainer(parameters, X, Y, net, learning_rate, *, formulation="auto",
                 num_iterations=1, num_threads=None):
    """The engine contract's trainer (``engines/__init__.py``); one formulation only, so
    ``formulation``, ``num_iterations`` and ``num_threads`` change nothing."""
    return Trainer(parameters, X, Y, net, learning_rate)


class Trainer:
    """Full-batch gradient descent, one Python loop iteration per step."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        self.params = {k: v.copy() for k, v in parameters.items()}
        self.X, self.Y, self.net, self.lr = X, Y, net, learning_rate

    def run(self, n_steps, want_last_cost):
        first = last = np.nan
        for step in range(n_steps):
            As, ZL = forward(self.params, self.X, self.net)
            if step == 0:
                first = cost(ZL, self.Y, self.net.output)
            if want_last_cost and step == n_steps - 1:
                last = cost(ZL, self.Y, self.net.output)
            update(self.params, backward(self.params, As, self.Y, self.net), self.lr)
        return first, last

    def parameters(self):
        return {k: v.copy() for k, v in self.params.items()}

    def is_finite(self):
        return all(np.all(np.isfinite(v)) for v in self.params.values())

    def snapshot(self):
        return self.parameters()

    def restore(self, snapshot):
        self.params = {k: v.copy() for k, v in snapshot.items()}
