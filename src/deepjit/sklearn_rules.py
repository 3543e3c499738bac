"""scikit-learn's multi-layer perceptron rules in plain numpy, on one flat parameter vector.

This is the seam between :mod:`deepjit.sklearn` (the estimators: validation, attributes,
epochs, early stopping, printing) and the engines that run the work:

- :func:`loss_and_gradient` -- the loss and its gradient over a whole data set
  (``solver="lbfgs"``);
- :class:`NumpyEpochs` / :class:`CompiledEpochs` -- passes of mini-batch updates
  (``solver="sgd"`` / ``"adam"``), each returning the sum over batches of ``batch loss *
  batch size`` (scikit-learn's ``accumulated_loss``);
- :class:`SGD`, :class:`Adam` -- the optimizers' state in flat buffers and their update.

Everything follows scikit-learn 1.9's ``sklearn/neural_network`` expression by
expression (``_backprop``, ``_base.LOSS_FUNCTIONS``, ``_stochastic_optimizers``), so the
numbers agree with scikit-learn's to rounding.  The parameters live in one vector
``theta`` in scikit-learn's ``_pack`` order: every ``coefs_[i]`` (fan_in, fan_out)
raveled, then every ``intercepts_[i]``.  deepjit's extras (dropout, leaky ReLU) change
nothing when off.
"""
import time
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, xlogy
from sklearn.utils.extmath import safe_sparse_dot

from .training import CHUNK_SECONDS

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Net:
    """The architecture and loss: ``units = [n_features, *hidden, n_outputs]``;
    ``loss`` is one of "log_loss", "binary_log_loss", "squared_error", "poisson"."""
    units: tuple
    activation: str
    out_activation: str
    loss: str
    alpha: float
    dropout: float = 0.0

    def shapes(self):
        return list(zip(self.units[:-1], self.units[1:]))

    def unpack(self, theta):
        """Views ``(coefs, intercepts)`` into ``theta``."""
        coefs, start = [], 0
        for fan_in, fan_out in self.shapes():
            coefs.append(theta[start:start + fan_in * fan_out].reshape(fan_in, fan_out))
            start += fan_in * fan_out
        intercepts = []
        for _, fan_out in self.shapes():
            intercepts.append(theta[start:start + fan_out])
            start += fan_out
        return coefs, intercepts


def pack(coefs, intercepts):
    """scikit-learn's ``_pack``: one flat vector, coefficients first."""
    return np.hstack([a.ravel() for a in list(coefs) + list(intercepts)])


# -- activations (in place, as scikit-learn's ACTIVATIONS / DERIVATIVES) -----------------
def activate(name, Z):
    if name == "relu":
        np.maximum(Z, 0, out=Z)
    elif name == "leaky_relu":
        np.multiply(Z, np.where(Z > 0, 1.0, LEAKY_SLOPE).astype(Z.dtype), out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "logistic":
        expit(Z, out=Z)
    elif name == "exp":
        np.exp(Z, out=Z)
    elif name == "softmax":
        tmp = Z - Z.max(axis=1)[:, np.newaxis]
        np.exp(tmp, out=Z)
        Z /= Z.sum(axis=1)[:, np.newaxis]
    return Z


def derive(name, A, delta):
    """``delta *= f'(z)`` from the activation ``A = f(z)``."""
    if name == "relu":
        delta[A == 0] = 0
    elif name == "leaky_relu":
        delta[A <= 0] *= LEAKY_SLOPE
    elif name == "tanh":
        delta *= 1 - A ** 2
    elif name == "logistic":
        delta *= A
        delta *= 1 - A


def forward(net, coefs, intercepts, X, dropout_rng=None):
    """Activations of every layer (``[X, A_1, ..., A_L]``), the inputs each next layer
    saw and the dropout scales (``mask / keep`` per hidden layer, else None)."""
    activations, inputs, scales = [X], [X], [None]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        A = safe_sparse_dot(inputs[-1], W)
        A += b
        last = i == len(coefs) - 1
        activate(net.out_activation if last else net.activation, A)
        scale = None if last or dropout_rng is None else _dropout_scale(A, net.dropout,
                                                                        dropout_rng)
        activations.append(A)
        inputs.append(A if scale is None else A * scale)
        scales.append(scale)
    return activations, inputs, scales


def _dropout_scale(A, rate, rng):
    """Inverted dropout: ``mask / keep`` with ``mask`` 1 with probability ``keep``."""
    keep = 1.0 - rate
    return (rng.random(A.shape) < keep).astype(A.dtype) / keep


def predict(net, coefs, intercepts, X):
    """The output activations ``(n_samples, n_outputs)`` (no dropout)."""
    return forward(net, coefs, intercepts, X)[0][-1]


# -- losses (scikit-learn's LOSS_FUNCTIONS) ----------------------------------------------
def data_loss(loss, y, y_prob, sample_weight=None):
    if loss == "squared_error":
        return 0.5 * np.average((y - y_prob) ** 2, weights=sample_weight, axis=0).mean()
    if loss == "poisson":
        return np.average(xlogy(y, y / y_prob) - y + y_prob, weights=sample_weight,
                          axis=0).sum()
    eps = np.finfo(y_prob.dtype).eps
    y_prob = np.clip(y_prob, eps, 1 - eps)
    if loss == "binary_log_loss":
        return -np.average(xlogy(y, y_prob) + xlogy(1 - y, 1 - y_prob),
                           weights=sample_weight, axis=0).sum()
    if y_prob.shape[1] == 1:
        y_prob = np.append(1 - y_prob, y_prob, axis=1)
    if y.shape[1] == 1:
        y = np.append(1 - y, y, axis=1)
    return -np.average(xlogy(y, y_prob), weights=sample_weight, axis=0).sum()


def loss_and_gradient(net, theta, X, y, sample_weight=None, dropout_rng=None):
    """scikit-learn's ``_backprop``: the regularised loss and its gradient (flat, in
    ``theta``'s order) over the examples ``X, y`` (``y`` 2-D)."""
    coefs, intercepts = net.unpack(theta)
    activations, inputs, scales = forward(net, coefs, intercepts, X, dropout_rng)
    loss = data_loss(net.loss, y, activations[-1], sample_weight)
    values = sum(np.dot(W.ravel(), W.ravel()) for W in coefs)
    sw_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
    loss += (0.5 * net.alpha) * values / sw_sum

    grad = np.empty_like(theta)
    g_coefs, g_intercepts = net.unpack(grad)
    delta = activations[-1] - y
    if sample_weight is not None:
        delta *= sample_weight.reshape(-1, 1)
    for i in range(len(coefs) - 1, -1, -1):
        g_coefs[i][...] = safe_sparse_dot(inputs[i].T, delta)
        g_coefs[i] += net.alpha * coefs[i]
        g_coefs[i] /= sw_sum
        g_intercepts[i][...] = np.sum(delta, axis=0) / sw_sum
        if i:
            delta = safe_sparse_dot(delta, coefs[i].T)
            if scales[i] is not None:
                delta *= scales[i]
            derive(net.activation, activations[i], delta)
    return loss, grad


# -- optimizers (scikit-learn's _stochastic_optimizers, on flat buffers) -----------------
class SGD:
    """``velocity = momentum * velocity - lr * grad``; Nesterov applies it once more."""

    def __init__(self, n, learning_rate_init, lr_schedule, momentum, nesterov, power_t,
                 dtype):
        self.learning_rate_init, self.learning_rate = learning_rate_init, float(
            learning_rate_init)
        self.lr_schedule, self.momentum, self.nesterov = lr_schedule, momentum, nesterov
        self.power_t = power_t
        self.velocity, self.t = np.zeros(n, dtype), 0

    def compiled(self):
        from .optim import SklearnSGD
        return SklearnSGD(self.momentum, self.nesterov)

    def buffers(self):
        return {"v": self.velocity}

    def update(self, theta, grad):
        self.t += 1
        self.velocity[...] = self.momentum * self.velocity - self.learning_rate * grad
        if self.nesterov:
            theta += self.momentum * self.velocity - self.learning_rate * grad
        else:
            theta += self.velocity

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = (float(self.learning_rate_init)
                                  / (time_step + 1) ** self.power_t)

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            return _stop(msg, verbose)
        if self.learning_rate <= 1e-6:
            return _stop(msg + " Learning rate too small.", verbose)
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class Adam:
    """``lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``;
    ``theta -= lr_t * m / (sqrt(v) + epsilon)``."""

    def __init__(self, n, learning_rate_init, beta_1, beta_2, epsilon, dtype):
        self.learning_rate_init, self.learning_rate = learning_rate_init, float(
            learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon, self.t = beta_1, beta_2, epsilon, 0
        self.m, self.v = np.zeros(n, dtype), np.zeros(n, dtype)

    def compiled(self):
        from .optim import SklearnAdam
        return SklearnAdam(self.beta_1, self.beta_2, self.epsilon)

    def buffers(self):
        return {"v": self.m, "s": self.v}

    def update(self, theta, grad):
        self.t += 1
        self.m[...] = self.beta_1 * self.m + (1 - self.beta_1) * grad
        self.v[...] = self.beta_2 * self.v + (1 - self.beta_2) * (grad ** 2)
        self.learning_rate = (self.learning_rate_init * np.sqrt(1 - self.beta_2 ** self.t)
                              / (1 - self.beta_1 ** self.t))
        theta += -self.learning_rate * self.m / (np.sqrt(self.v) + self.epsilon)

    def iteration_ends(self, time_step):
        pass

    def trigger_stopping(self, msg, verbose):
        return _stop(msg, verbose)


def _stop(msg, verbose):
    if verbose:
        print(msg + " Stopping.")
    return True


# -- the epochs: the seam's two engines ----------------------------------------------------
class NumpyEpochs:
    """Epochs of mini-batch updates in plain numpy (the oracle): ``run(order)`` makes one
    pass over the examples ``order`` (batches of ``batch_size``, the last one smaller),
    updating ``theta`` and ``optimizer`` in place, and returns scikit-learn's
    ``accumulated_loss``: the sum of each batch's loss (computed in its forward pass,
    before its update) times the batch's size."""

    def __init__(self, net, theta, optimizer, X, y, sample_weight, batch_size, dropout_seed):
        self.net, self.theta, self.optimizer = net, theta, optimizer
        self.X, self.y, self.sample_weight, self.batch_size = X, y, sample_weight, batch_size
        self.rng = None if dropout_seed is None else np.random.default_rng(dropout_seed)

    def run_epochs(self, orders):
        """One epoch per example order in ``orders``; their accumulated losses."""
        return [self.run(order) for order in orders]

    @staticmethod
    def epochs_per_chunk():
        return 1

    def run(self, order):
        accumulated = 0.0
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            sw = None if self.sample_weight is None else self.sample_weight[idx]
            loss, grad = loss_and_gradient(self.net, self.theta, self.X[idx], self.y[idx], sw,
                                           self.rng)
            accumulated += loss * len(idx)
            self.optimizer.update(self.theta, grad)
        return accumulated

    def parameters(self):
        return self.theta

    def finish(self):
        """Nothing to hand back: the optimizer was updated in place."""


class CompiledEpochs:
    """The same epochs on the cpu engine's compiled mini-batch trainer
    (:mod:`deepjit.engines.cpu.minibatch`, one compiled call for the epochs of each
    ``run_epochs``) with the
    optimizers in scikit-learn's form.  The trainer keeps its own layout (W as (n_l,
    n_{l-1}), each layer's W then b); ``_perm`` maps scikit-learn's order to it.  The
    batch losses are the engine's (from the output pre-activations: equal to
    scikit-learn's clipped ones to rounding while no probability is within 2.2e-16 of
    0 or 1)."""

    def __init__(self, net, theta, optimizer, X, y, sample_weight, batch_size, dropout_seed,
                 num_threads=None):
        from .engines.cpu.minibatch import MiniBatchTrainer
        from .engines.layout import Layout
        from .minibatch import OptimizerState, TrainingPlan
        from .network import Network
        from .optim import Constant
        self.net, self.theta, self.optimizer, self.batch_size = net, theta, optimizer, batch_size
        dims = list(net.units)
        layout = Layout(dims, batch_size)
        coefs, intercepts = net.unpack(np.arange(theta.size))
        self._perm = layout.pack({key: a for l, (W, b) in enumerate(zip(coefs, intercepts), 1)
                                  for key, a in ((f"W{l}", W.T), (f"b{l}", b))}, np.int64)
        output = {"identity": "linear", "logistic": "sigmoid"}.get(net.out_activation,
                                                                  net.out_activation)
        hidden = {"identity": "linear", "logistic": "sigmoid"}.get(net.activation,
                                                                   net.activation)
        network = Network.build(dims, hidden, output, LEAKY_SLOPE)
        plan = TrainingPlan(batch_size, optimizer.learning_rate, optimizer.compiled(),
                            Constant(), net.alpha, (1.0 - net.dropout,) * (len(dims) - 2),
                            0 if dropout_seed is None else int(dropout_seed))
        zeros = layout.unpack(np.zeros(layout.size, theta.dtype))
        state = OptimizerState("", batch_size, X.shape[0], plan.seed, optimizer.t,
                               {name: zeros for name in plan.optimizer.state_names})
        self.trainer = MiniBatchTrainer(zeros, state, np.asarray(X).T,
                                        np.asarray(y, theta.dtype).T, network, plan,
                                        num_threads)
        self.trainer.theta[:] = theta[self._perm]
        for name, buffer in optimizer.buffers().items():
            getattr(self.trainer, name)[:] = buffer[self._perm]
        n = X.shape[0]
        self._sizes = np.diff(np.r_[np.arange(0, n, batch_size), n]).astype(np.float64)
        self._epoch_seconds = np.inf       # one epoch in the first call

    @staticmethod
    def supports(net, X, sample_weight, batch_size, optimizer):
        """What the compiled trainer runs with scikit-learn's numbers (the rest stays on
        numpy): dense X, no sample weights, the log and squared losses (one output for
        the latter: the engine sums squared errors over the outputs where scikit-learn
        averages them), and whole epochs in its update numbering."""
        n_batches = -(-X.shape[0] // batch_size)
        return (isinstance(X, np.ndarray) and sample_weight is None
                and net.out_activation in ("softmax", "logistic", "identity")
                and (net.out_activation != "identity" or net.units[-1] == 1)
                and optimizer.t % n_batches == 0)

    def run_epochs(self, orders):
        """The epochs of ``orders`` in one compiled call; their accumulated losses."""
        trainer, nb = self.trainer, self._sizes.size
        trainer.hyper[3] = self.optimizer.learning_rate
        started = time.perf_counter()
        costs = trainer.run(np.array(orders, dtype=np.int64), trainer.step // nb,
                            len(orders) * nb)
        self._epoch_seconds = (time.perf_counter() - started) / len(orders)
        self.optimizer.t = trainer.step
        return [float(epoch @ self._sizes) for epoch in costs.reshape(len(orders), nb)]

    def epochs_per_chunk(self):
        """About ``CHUNK_SECONDS`` of epochs at the pace of the last call."""
        return max(1, int(CHUNK_SECONDS / max(self._epoch_seconds, 1e-9)))

    def parameters(self):
        self.theta[self._perm] = self.trainer.theta
        return self.theta

    def finish(self):
        """Hands the optimizer's buffers back in scikit-learn's order."""
        self.parameters()
        for name, buffer in self.optimizer.buffers().items():
            buffer[self._perm] = getattr(self.trainer, name)
