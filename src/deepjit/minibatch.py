"""Mini-batch training: the options of ``Model.fit`` beyond full-batch gradient descent,
checked before any work, and the engine-independent driver over epochs.

An *iteration* is one update and an *epoch* one pass over the examples.  The engine's
``MiniBatchTrainer`` runs updates in compiled calls of at most one epoch; between calls
this driver (in Python) records the epoch's cost, evaluates the validation data, applies
early stopping, honours Ctrl-C and catches divergence, as :mod:`.training` does for full
batches.  The examples of epoch ``e`` come in the order
``np.random.default_rng([seed, e]).permutation(m)``, so a fit resumed from a saved model
draws the same shuffles as an uninterrupted one.
"""
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .engines.reference_minibatch import batches_per_epoch
from .optim import check_optimizer, check_schedule, learning_rate_at
from .training import CHUNK_SECONDS, DEFAULT_ITERATIONS, InterruptFlag, TrainingDiverged
from .validation import as_matrix, check_labels, check_same_m, positive_int


@dataclass(frozen=True)
class TrainingPlan:
    """Validated options of a mini-batch fit."""
    batch_size: int
    learning_rate: float
    optimizer: object
    schedule: object
    l2: float
    keep_probs: tuple      # one per hidden layer
    seed: int
    shuffle: bool = True


@dataclass(frozen=True)
class EarlyStopping:
    patience: int = 10
    min_delta: float = 0.0


@dataclass
class OptimizerState:
    """What a resumed fit needs: the update count, the optimizer's buffers (``{"v":
    {"W1": ...}, ...}``) and what they belong to."""
    optimizer: str
    batch_size: int
    m: int
    seed: int
    step: int = 0
    buffers: dict = field(default_factory=dict)

    @classmethod
    def fresh(cls, plan, parameters, m):
        buffers = {name: {k: np.zeros_like(v) for k, v in parameters.items()}
                   for name in plan.optimizer.state_names}
        return cls(type(plan.optimizer).__name__, plan.batch_size, m, plan.seed, 0, buffers)

    def continues(self, plan, m):
        return (self.optimizer, self.batch_size, self.m, self.seed) == (
            type(plan.optimizer).__name__, plan.batch_size, m, plan.seed)

    def meta(self):
        return {"optimizer": self.optimizer, "batch_size": self.batch_size, "m": self.m,
                "seed": self.seed, "step": self.step}

    def arrays(self):
        return {f"opt.{name}.{k}": v for name, b in self.buffers.items() for k, v in b.items()}


# -- checks ---------------------------------------------------------------------------------
def check_keep_prob(keep_prob, n_hidden):
    """One keep probability for every hidden layer or a list with one per hidden layer,
    each in (0, 1]."""
    values = list(keep_prob) if isinstance(keep_prob, (list, tuple)) else [keep_prob] * max(
        n_hidden, 1)
    if len(values) != max(n_hidden, 1) or not all(
            isinstance(p, numbers.Real) and not isinstance(p, bool) and 0 < p <= 1
            for p in values):
        raise ValueError(f"keep_prob: expected a number in (0, 1] or a list of {n_hidden} "
                         f"such numbers (one per hidden layer), got {keep_prob!r}")
    if n_hidden == 0 and values[0] != 1:
        raise ValueError(f"keep_prob: a network without hidden layers has nothing to drop "
                         f"out; got {keep_prob!r}")
    return tuple(float(p) for p in values)[:n_hidden]


def check_l2(l2):
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or not np.isfinite(l2) \
            or l2 < 0:
        raise ValueError(f"l2: expected a finite number >= 0, got {l2!r}")
    return float(l2)


def check_batch_size(batch_size, m):
    if batch_size is None:
        return m
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or not 1 <= batch_size <= m:
        raise ValueError(f"batch_size: expected an integer from 1 to m = {m} (the training "
                         f"examples), got {batch_size!r}")
    return int(batch_size)


def check_early_stopping(early_stopping, patience, min_delta):
    if not isinstance(early_stopping, bool):
        raise ValueError(f"early_stopping: expected True or False, got {early_stopping!r}")
    patience = positive_int("patience", patience)
    if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) \
            or not np.isfinite(min_delta) or min_delta < 0:
        raise ValueError(f"min_delta: expected a finite number >= 0, got {min_delta!r}")
    return EarlyStopping(patience, float(min_delta)) if early_stopping else None


def split_validation(X, Y, net, dtype, validation_data, validation_fraction):
    """``(X, Y, (Xv, Yv) or None)``: the given validation data, or the last
    ``validation_fraction`` of the examples (as Keras takes it)."""
    if validation_data is not None and validation_fraction is not None:
        raise ValueError("validation_fraction: give validation_data or validation_fraction, "
                         "not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data: expected a pair (X_val, Y_val)")
        Xv = as_matrix("validation_data X", validation_data[0], rows=net.layer_dims[0],
                       dtype=dtype)
        Yv = check_labels(validation_data[1], net.output, net.layer_dims[-1], dtype)
        check_same_m(Xv, Yv)
        return X, Y, (Xv, Yv)
    if validation_fraction is None:
        return X, Y, None
    m = X.shape[1]
    n_val = int(np.floor(m * validation_fraction)) if isinstance(
        validation_fraction, numbers.Real) and not isinstance(validation_fraction, bool) \
        and 0 < validation_fraction < 1 else 0
    if not 1 <= n_val < m:
        raise ValueError(f"validation_fraction: expected a number in (0, 1) that leaves at "
                         f"least one example on each side of m = {m}, got "
                         f"{validation_fraction!r}")
    return X[:, :m - n_val], Y[:, :m - n_val], (X[:, m - n_val:], Y[:, m - n_val:])


def make_plan(net, m, learning_rate, batch_size, optimizer, schedule, l2, keep_prob, seed,
              shuffle):
    if not isinstance(shuffle, bool):
        raise ValueError(f"shuffle: expected True or False, got {shuffle!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or seed < 0):
        raise ValueError(f"seed: expected a non-negative integer or None, got {seed!r}")
    return TrainingPlan(check_batch_size(batch_size, m), learning_rate,
                        check_optimizer(optimizer), check_schedule(schedule), check_l2(l2),
                        check_keep_prob(keep_prob, net.L - 1),
                        int(np.random.randint(2 ** 31) if seed is None else seed), shuffle)


def steps_for(num_iterations, num_epochs, m, batch_size):
    """The number of updates: ``num_epochs`` passes, or ``num_iterations``."""
    if num_epochs is None:
        return positive_int("num_iterations", num_iterations)
    if num_iterations is not DEFAULT_ITERATIONS:
        raise ValueError("num_epochs: give num_iterations or num_epochs, not both")
    return positive_int("num_epochs", num_epochs) * batches_per_epoch(m, batch_size)


# -- the driver -----------------------------------------------------------------------------
def epoch_order(seed, epoch, m, shuffle=True):
    """The example order of epoch ``epoch``: ``(1, m)`` int64."""
    order = np.random.default_rng([seed, epoch]).permutation(m) if shuffle else np.arange(m)
    return order.reshape(1, m)


def accuracy(output, AL, Y):
    """The fraction of examples classified right (None for a linear output)."""
    if output == "sigmoid":
        return float(np.mean((AL > 0.5) == (Y == 1)))
    if output == "softmax":
        return float(np.mean(AL.argmax(axis=0) == Y.argmax(axis=0)))
    return None


@dataclass
class MiniBatchLog:
    history: dict = field(default_factory=lambda: {
        "epoch": [], "cost": [], "val_cost": [], "val_accuracy": [], "learning_rate": []})
    iterations: int = 0
    final_cost: float = float("nan")
    interrupted: bool = False
    best_epoch: int = None
    stopped_early: bool = False


class _EpochCost:
    """The mean batch cost of an epoch, weighted by batch size."""

    def __init__(self, m, batch_size):
        self.m, self.batch_size = m, batch_size
        self.total = self.weight = 0.0

    def add(self, first_batch, costs):
        sizes = np.minimum(self.batch_size, self.m - (first_batch + np.arange(costs.size))
                           * self.batch_size)
        self.total += float(np.dot(costs, sizes))
        self.weight += float(sizes.sum())

    def mean(self):
        return self.total / self.weight


class _EarlyStopper:
    """Watches the validation cost (else the training cost) epoch by epoch and keeps a
    snapshot of the best parameters and optimizer state."""

    def __init__(self, stopping, monitor):
        self.stopping, self.monitor = stopping, monitor
        self.best = self.snapshot = self.epoch = None
        self.wait = 0

    def should_stop(self, record, trainer):
        value = record[self.monitor]
        if self.best is None or value < self.best - self.stopping.min_delta:
            self.best, self.snapshot, self.epoch, self.wait = (value, trainer.snapshot(),
                                                               record["epoch"], 0)
            return False
        self.wait += 1
        return self.wait >= self.stopping.patience

    def restore_best(self, trainer):
        """Back to the best parameters; the update count stays (later fits draw new
        shuffles and masks)."""
        if self.snapshot is not None:
            step = trainer.step
            trainer.restore(self.snapshot)
            trainer.step = step
        return self.epoch


def run_epochs(trainer, m, plan, n_steps, validation=None, stopping=None, output="sigmoid",
               on_epoch=None, callback=None, interrupt=None, agree=None):
    """``n_steps`` updates; returns a :class:`MiniBatchLog`.  ``on_epoch(record)`` gets
    each finished epoch's history entry; ``callback(iterations_done, cost)`` runs after
    every compiled call.  Stops early once ``interrupt.raised`` (an
    :class:`~deepjit.training.InterruptFlag` the caller holds until it has kept the
    parameters; one of its own when None).  ``agree(n)`` turns each next call's length
    into the one all MPI ranks use (``distributed.AgreedInterrupt.agree``).  Raises
    :class:`TrainingDiverged` (the trainer keeps the last finite parameters)."""
    if interrupt is None:
        with InterruptFlag() as interrupt:
            return run_epochs(trainer, m, plan, n_steps, validation, stopping, output,
                              on_epoch, callback, interrupt, agree)
    nb, log, per_call = batches_per_epoch(m, plan.batch_size), MiniBatchLog(), None
    epoch_cost = _EpochCost(m, plan.batch_size)
    stopper = stopping and _EarlyStopper(stopping, "val_cost" if validation else "cost")
    while log.iterations < n_steps and not interrupt.raised:
        epoch, b = divmod(trainer.step, nb)
        n = min(nb - b, n_steps - log.iterations, per_call or nb)
        order, snapshot, started = epoch_order(plan.seed, epoch, m, plan.shuffle), \
            trainer.snapshot(), time.perf_counter()
        costs = trainer.run(order, epoch, n)
        if not (np.all(np.isfinite(costs)) and trainer.is_finite()):
            raise _diverged(trainer, snapshot, order, epoch, n, log.iterations)
        per_call = max(1, int(n * CHUNK_SECONDS / max(time.perf_counter() - started, 1e-9)))
        if agree is not None:
            per_call = agree(per_call)
        log.iterations += n
        epoch_cost.add(b, costs)
        log.final_cost = epoch_cost.mean()
        if callback:
            callback(log.iterations, log.final_cost)
        if b + n < nb:
            continue
        record = _record(trainer, plan, epoch, epoch_cost.mean(), validation, output, log)
        epoch_cost = _EpochCost(m, plan.batch_size)
        if on_epoch:
            on_epoch(record)
        if stopper and stopper.should_stop(record, trainer):
            log.stopped_early = True
            break
    log.interrupted = interrupt.raised and log.iterations < n_steps
    if stopper:
        log.best_epoch = stopper.restore_best(trainer)
    return log


def _record(trainer, plan, epoch, cost, validation, output, log):
    history = log.history
    history["epoch"].append(epoch)
    history["cost"].append(cost)
    history["learning_rate"].append(learning_rate_at(plan.schedule, plan.learning_rate, epoch))
    if validation is not None:
        val_cost, AL = trainer.evaluate(*validation)
        history["val_cost"].append(float(val_cost))
        history["val_accuracy"].append(accuracy(output, AL, validation[1]))
    return {key: values[-1] for key, values in history.items() if values}


def _diverged(trainer, snapshot, order, epoch, n_steps, iterations):
    """Replays the failed call one update at a time from ``snapshot``; leaves the trainer
    at the last finite parameters and returns the error."""
    trainer.restore(snapshot)
    for k in range(n_steps):
        before = trainer.snapshot()
        cost = trainer.run(order, epoch, 1)
        if not (np.all(np.isfinite(cost)) and trainer.is_finite()):
            trainer.restore(before)
            break
        iterations += 1
    return TrainingDiverged(iterations, f"training diverged after {iterations} updates: NaN "
                            "or inf appeared in the parameters or the cost; the model keeps the "
                            "last finite parameters. Try a smaller learning_rate or "
                            "standardised inputs.")
