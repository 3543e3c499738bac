"""Where the second course's ``model`` functions train: the one seam between the
notebooks' loops and deepjit's engines.

The notebooks' nets (LINEAR->RELU x2->SIGMOID, 1 to 20 units a layer, a few hundred
examples) train on the cpu engine's narrow kernels (:mod:`deepjit.engines.cpu.narrow`:
feature-major plain loops, a whole chunk of iterations or epochs per compiled call):

- ``full_batch``: plain gradient descent (W1A1), or on another engine
  (``engine="numpy"`` or ``"cuda"``) through :meth:`deepjit.Model.fit`;
- ``regularized``: gradient descent with the notebook's L2 term or its fixed dropout
  masks (W1A2);
- ``minibatch``: the course's mini-batch epochs with gd, momentum or Adam (W2A1), given
  the course's example orders (a chunk of epochs at a time) and each epoch's learning
  rate from here.

The full-batch runs stop at each recording iteration, where the caller gets the current
parameters (and computes the course's own cost from them).
"""
import numpy as np

from . import _common
from ..engines.cpu import narrow

NO_MASK = np.empty((0, 0))
# the mini-batch runs draw the example orders of this many entries at a time (512 KB:
# they are written and read back from the cache)
ORDERS_PER_CHUNK = 1 << 16


def epochs_per_chunk(m):
    """How many epochs' example orders of ``m`` examples ``minibatch`` asks for at once."""
    return max(1, ORDERS_PER_CHUNK // max(m, 1))


def full_batch(parameters, X, Y, learning_rate, num_iterations, every, on_record,
               engine=None):
    """``num_iterations`` steps of gradient descent on LINEAR->RELU x2->SIGMOID from
    ``parameters``; ``on_record(i, parameters)`` at i = 0,
    every, 2 every, ... (before iteration i's update).  Returns the final parameters."""
    engine = _common.engine_name(engine)
    if engine == "cpu":
        return regularized(parameters, X, Y, learning_rate, num_iterations, every,
                           on_record)
    model = _common.Model.from_parameters(parameters, hidden_activation="relu",
                                          output="sigmoid", engine=engine)
    for start in range(0, num_iterations, every):
        on_record(start, model.parameters)
        model.fit(X, Y, learning_rate, min(every, num_iterations - start), False,
                  record_every=every)
    return model.parameters


def regularized(parameters, X, Y, learning_rate, num_iterations, every, on_record,
                lambd=0., masks=None, keep_prob=1.):
    """Gradient descent with ``lambd / m * W`` added to each ``dW`` (L2) or with the
    hidden activations multiplied by the fixed ``masks = (D1, D2)`` and divided by
    ``keep_prob`` (dropout, the same masks at every iteration as the notebook's
    re-seeding gives).
    ``on_record(i, parameters)`` as in ``full_batch``."""
    theta, dims, X, Y = _narrow_problem(parameters, X, Y)
    m = X.shape[1]
    X = narrow.pad_columns(X, m)
    D1, D2 = (NO_MASK, NO_MASK) if masks is None else (
        narrow.pad_columns(mask, m) for mask in masks)
    work = narrow.workspace(dims, m)
    for start in range(0, num_iterations, every):
        on_record(start, narrow.unpack(theta, dims))
        narrow.train_full_batch(theta, dims, X, Y, float(learning_rate),
                                min(every, num_iterations - start), float(lambd), D1, D2,
                                float(keep_prob), work)
    return narrow.unpack(theta, dims)


def minibatch(parameters, X, Y, optimizer, mini_batch_size, learning_rates, epoch_orders,
              want_cost):
    """The course's epochs with ``optimizer`` (a :mod:`deepjit.optim` object): epoch i
    visits the examples in the order ``epoch_orders(epochs)[i - epochs.start]``
    (``epochs``: consecutive ranges from 0, in turn) in consecutive batches of
    ``mini_batch_size`` (the last one smaller) at the learning rate
    ``learning_rates[i]``.  Returns the final parameters and each epoch's
    summed cross-entropy where ``want_cost[i]`` (0 elsewhere)."""
    theta, dims, X, Y = _narrow_problem(parameters, X, Y)
    learning_rates = np.asarray(learning_rates, np.float64)
    want_cost = np.asarray(want_cost, np.bool_)
    m, num_epochs = X.shape[1], learning_rates.size
    v, s, t = np.zeros_like(theta), np.zeros_like(theta), 0
    hyper = np.asarray(optimizer.hyper, np.float64)
    costs = np.zeros(num_epochs)
    chunk = epochs_per_chunk(m)
    for first in range(0, num_epochs, chunk):
        epochs = range(first, min(first + chunk, num_epochs))
        orders = np.asarray(epoch_orders(epochs), np.int64).reshape(len(epochs), m)
        t = narrow.train_epochs(theta, dims, X, Y, orders, int(mini_batch_size),
                                learning_rates[first:epochs.stop], want_cost[first:epochs.stop],
                                optimizer.code, hyper, t, v, s, costs[first:epochs.stop])
    return narrow.unpack(theta, dims), costs


def _narrow_problem(parameters, X, Y):
    """``(theta, dims, X, Y)``: the flat float64 parameters and C-ordered float64 data."""
    theta, dims = narrow.pack(parameters)
    X = np.ascontiguousarray(X, np.float64)
    Y = np.ascontiguousarray(np.asarray(Y, np.float64).reshape(dims[3], -1))
    return theta, dims, X, Y
