"""Mini-batch training over MPI ranks that each hold a contiguous range of the examples.

The batches are those of the one-process run: every rank draws the same example order
from the seed, and for each batch of global example indices it picks out the ones it
holds (``start <= e < start + m_local``), gathers their rows, runs the one-process
engine's forward and backward pass on them (dropout masks keyed by the GLOBAL index, so
they do not depend on which rank holds the example) and writes ``sum of their gradients
/ batch`` and their loss sum into one flat buffer.  One ``Allreduce`` per batch sums the
buffer over the ranks; every rank applies the same optimizer update (momentum, RMSprop,
Adam, L2, schedules) to the same parameters, so all ranks stay equal, and equal to one
process up to the order of the sums.
"""
import numpy as np

from .. import optimizers as rules
from .minibatch import (MiniBatchTrainer, backward_batch, forward_batch, gather_rows, kernel,
                        sum_of_squared_weights, update_range)
from .network import layer


@kernel
def shard_batch_gradient(theta, lay, codes, slope, Xe, Ye, examples, start, step, seed,
                         keep_probs, thresholds, held, rows, Xb, Yb, acts, drops, masks, ZL,
                         AL, wt, buf1, buf2, total, want_cost):
    """``total[:-1]`` = the sum of the gradients of this rank's examples among the batch's
    global indices ``examples``, over the batch size; ``total[-1]`` = their loss sum
    (0 without ``want_cost``).  Rows ``e - start`` of ``Xe``/``Ye`` hold example e;
    ``held`` and ``rows`` are room for a batch of indices."""
    m_local = Xe.shape[0]
    count = 0
    for j in range(examples.size):
        e = examples[j]
        if start <= e < start + m_local:
            held[count], rows[count] = e, e - start
            count += 1
    total[:] = 0.0
    if count == 0:
        return
    n0, nL = Xe.shape[1], Ye.shape[1]
    Xv, Yv = layer(Xb, 0, count, n0), layer(Yb, 0, count, nL)
    gather_rows(Xe, rows[:count], Xv)
    gather_rows(Ye, rows[:count], Yv)
    ZLv, ALv = layer(ZL, 0, count, nL), layer(AL, 0, count, nL)
    loss = forward_batch(theta, lay, codes, slope, Xv, Yv, held[:count], step, seed,
                         keep_probs, thresholds, acts, drops, masks, ZLv, ALv, wt, True,
                         want_cost)
    backward_batch(theta, lay, codes, slope, Xv, Yv, keep_probs, acts, drops, masks, ALv,
                   total[:-1], buf1, buf2, examples.size)
    total[-1] = loss if want_cost else 0.0


@kernel
def shard_update(theta, total, v, s, lay, settings, hyper, step, batch, epoch, want_cost):
    """The batch's cost (the loss summed over all ranks in ``total[-1]``, over the batch,
    plus the L2 term; NaN without ``want_cost``) and the optimizer's update of update
    number ``step + 1`` from the summed gradient ``total[:-1]``, as the one-process
    engine makes them."""
    l2 = hyper[5]
    cost = np.nan
    if want_cost:
        cost = total[-1] / batch
        if l2 != 0.0:
            cost += l2 / (2.0 * batch) * sum_of_squared_weights(theta, lay)
    lr = rules.scheduled_rate(settings[1], hyper[3], hyper[4], settings[2], epoch)
    gradient = total[:-1].reshape((1, theta.size))
    update_range(theta, gradient, 1, v, s, lay, 0, theta.size, settings[0], lr, l2 / batch,
                 hyper, step + 1)
    return cost


class ShardedMiniBatchTrainer(MiniBatchTrainer):
    """The mini-batch trainer of a rank holding global examples ``start ..
    start + m_local - 1`` as rows of ``Xe : (m_local, n_0)``, ``Ye : (m_local, n_L)``,
    of ``m`` in all, talking to the other ranks through ``ranks``
    (:class:`deepjit.distributed.Collectives`).  Parameters, optimizer buffers and the
    update count start as rank 0's."""

    def __init__(self, parameters, state, Xe, Ye, net, plan, m, start, ranks):
        super().__init__(parameters, state, Xe.T, Ye.T, net, plan)
        self.m, self.start, self.ranks = m, int(start), ranks
        for array in (self.theta, self.v, self.s):
            ranks.bcast_array(array)
        self.step = ranks.bcast(self.step)
        self.held = np.empty(plan.batch_size, np.int64)
        self.rows = np.empty(plan.batch_size, np.int64)
        self.total = np.empty(self.layout.size + 1, self.theta.dtype)

    def run(self, order, first_epoch, n_steps, want_costs=True):
        """As :meth:`MiniBatchTrainer.run`, one Allreduce per update; ``order`` holds
        global example indices."""
        bs = self.plan.batch_size
        nb = -(-self.m // bs)
        order = np.ascontiguousarray(order, dtype=np.int64)
        if order.shape[1] != self.m or not first_epoch <= self.step // nb \
                or (self.step + n_steps - 1) // nb - first_epoch >= order.shape[0]:
            raise ValueError("order: does not cover the epochs of these updates")
        costs = np.empty(n_steps)
        for k in range(n_steps):
            epoch, b = divmod(self.step, nb)
            examples = order[epoch - first_epoch, b * bs:min(self.m, (b + 1) * bs)]
            shard_batch_gradient(
                self.theta, self.layout.arrays, self.codes, self.slope, self.Xe, self.Ye,
                examples, self.start, self.step, self.settings[3], self.keep_probs,
                self.thresholds, self.held, self.rows, self.Xb, self.Yb, self.acts,
                self.drops, self.masks, self.ZL, self.AL, self.wt[0], self.buf1[0],
                self.buf2[0], self.total, want_costs)
            self.ranks.allreduce(self.total)
            costs[k] = shard_update(self.theta, self.total, self.v, self.s,
                                    self.layout.arrays, self.settings, self.hyper, self.step,
                                    examples.size, epoch, want_costs)
            self.step += 1
        return costs if want_costs else None

    def fix_masks(self, masks):
        raise ValueError("fix_masks: not available when the examples are sharded over ranks")

    def evaluate(self, X, Y):
        """Rank 0's ``(cost, A_L)`` of the validation data, on every rank (so that all
        agree on early stopping)."""
        return self.ranks.bcast(super().evaluate(X, Y) if self.ranks.rank == 0 else None)
