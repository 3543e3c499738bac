"""Where the second course's ``model`` functions train: the one seam between the
notebooks' loops and deepjit's engines.

- ``full_batch``: plain gradient descent (W1A1) on a compiled engine through
  :meth:`deepjit.Model.fit`, in chunks that end at each recording iteration, where the
  caller gets the current parameters (and computes the course's own cost from them).
- ``regularized``: gradient descent with the notebook's L2 term or its fixed dropout
  masks (W1A2), and ``minibatch``: the course's mini-batch epochs with gd, momentum or
  Adam (W2A1), both on the cpu engine's compiled mini-batch trainer
  (:class:`deepjit.engines.cpu.minibatch.MiniBatchTrainer`), given the course's example
  orders, its dropout masks and each epoch's learning rate from here.
"""
import numpy as np

from . import _common
from ..engines.cpu.minibatch import MiniBatchTrainer
from ..minibatch import OptimizerState, make_plan
from ..network import Network


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
    m = X.shape[1]
    trainer = _trainer(parameters, X, Y, m, "gd", lambd, keep_prob)
    trainer.hyper[3] = learning_rate
    if masks is not None:
        trainer.fix_masks(masks)
    for start in range(0, num_iterations, every):
        on_record(start, trainer.parameters())
        steps = min(every, num_iterations - start)
        trainer.run(np.tile(np.arange(m), (steps, 1)), start, steps, want_costs=False)
    return trainer.parameters()


def minibatch(parameters, X, Y, optimizer, mini_batch_size, num_epochs, epoch_order,
              on_epoch):
    """The course's epochs with ``optimizer`` (a :mod:`deepjit.optim` object): epoch i
    visits the examples in the order ``epoch_order(i)`` in consecutive batches of
    ``mini_batch_size`` (the last one smaller), at the learning rate returned by
    ``on_epoch(i - 1, cost_total)`` (``on_epoch(-1, None)`` gives the first), where
    ``cost_total`` is epoch i's summed cross-entropy.  Returns the final parameters."""
    m = X.shape[1]
    trainer = _trainer(parameters, X, Y, mini_batch_size, optimizer)
    sizes = np.diff(np.r_[0:m:mini_batch_size, m])
    learning_rate = on_epoch(-1, None)
    for i in range(num_epochs):
        trainer.hyper[3] = learning_rate
        costs = trainer.run(np.asarray(epoch_order(i)).reshape(1, m), i, sizes.size)
        learning_rate = on_epoch(i, float(np.dot(costs, sizes)))
    return trainer.parameters()


def _trainer(parameters, X, Y, batch_size, optimizer, lambd=0., keep_prob=1.):
    """The compiled mini-batch trainer of LINEAR->RELU x2->SIGMOID from ``parameters``
    (float64; its learning rate is set per call through ``hyper[3]``)."""
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64).reshape(1, -1)
    dims = [parameters["W1"].shape[1]] + [parameters["W" + str(l)].shape[0]
                                           for l in range(1, len(parameters) // 2 + 1)]
    net = Network.build(dims, "relu", "sigmoid")
    plan = make_plan(net, X.shape[1], 1.0, batch_size, optimizer, None, float(lambd),
                     float(keep_prob), 0, True)
    return MiniBatchTrainer(parameters, OptimizerState.fresh(plan, parameters, X.shape[1]),
                            X, Y, net, plan)
