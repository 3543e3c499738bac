"""Where the second course's ``model`` functions train: the one seam between the
notebooks' loops and deepjit's engines.

- ``full_batch``: plain gradient descent (W1A1) on a compiled engine through
  :meth:`deepjit.Model.fit`, in chunks that end at each recording iteration, where the
  caller gets the current parameters (and computes the course's own cost from them).
- ``regularized``: gradient descent with the notebook's L2 term or its fixed dropout
  masks (W1A2), and ``minibatch``: the course's mini-batch epochs with gd, momentum or
  Adam (W2A1).  Both run the course's loop in plain numpy for now (see the module
  README section in the compat package docstring); their callers do not depend on how.
"""
import numpy as np

from . import _common
from ._course2 import (backward_propagation, backward_scaled_first, cross_entropy_terms,
                       forward_propagation)


def full_batch(parameters, X, Y, learning_rate, num_iterations, every, on_record,
               engine=None):
    """``num_iterations`` steps of gradient descent on LINEAR->RELU x2->SIGMOID from
    ``parameters``; ``on_record(i, parameters)`` at i = 0, every, 2 every, ... (before
    iteration i's update).  Returns the final parameters."""
    model = _common.Model.from_parameters(parameters, hidden_activation="relu",
                                          output="sigmoid",
                                          engine=_common.engine_name(engine))
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
    re-seeding gives).  ``on_record(i, parameters)`` as in ``full_batch``."""
    for i in range(num_iterations):
        if i % every == 0:
            on_record(i, parameters)
        a3, cache = _forward(X, parameters, masks, keep_prob)
        grads = backward_propagation(X, Y, cache, lambd, masks, keep_prob)
        parameters = _descend(parameters, grads, learning_rate)
    return parameters


def _forward(X, parameters, masks, keep_prob):
    if masks is None:
        return forward_propagation(X, parameters)
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    A1 = np.maximum(0, np.dot(W1, X) + b1) * masks[0] / keep_prob
    A2 = np.maximum(0, np.dot(W2, A1) + b2) * masks[1] / keep_prob
    a3 = 1 / (1 + np.exp(-(np.dot(W3, A2) + b3)))
    return a3, (None, A1, W1, b1, None, A2, W2, b2, None, a3, W3, b3)


def _descend(parameters, grads, learning_rate):
    return {key: value - learning_rate * grads["d" + key] for key, value in parameters.items()}


def minibatch(parameters, X, Y, epoch_batches, num_epochs, step, on_epoch):
    """The course's epochs: ``epoch_batches(i)`` gives epoch i's mini-batches (the
    course's ``random_mini_batches`` with its seed), ``step(parameters, grads,
    learning_rate)`` applies one update (gd, momentum or Adam, with their state) and
    returns the parameters, and ``on_epoch(i, cost_total)`` receives the summed
    cross-entropy of the epoch and returns the next epoch's learning rate.  ``step``
    and the cost follow opt_utils_v1a (the cost summed, ``dz3`` scaled by 1/batch)."""
    learning_rate = on_epoch(-1, None)
    for i in range(num_epochs):
        cost_total = 0
        for batch_X, batch_Y in epoch_batches(i):
            a3, caches = forward_propagation(batch_X, parameters)
            cost_total += np.sum(cross_entropy_terms(a3, batch_Y))
            grads = backward_scaled_first(batch_X, batch_Y, caches)
            parameters = step(parameters, grads, learning_rate)
        learning_rate = on_epoch(i, cost_total)
    return parameters
