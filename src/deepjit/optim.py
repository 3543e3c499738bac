"""Optimizers and learning-rate schedules for ``Model.fit`` (the Keras way: a name with
the usual defaults, or an object carrying the hyperparameters).

>>> model.fit(X, Y, optimizer="adam", batch_size=64, num_epochs=20)
>>> model.fit(X, Y, optimizer=Adam(beta1=0.9, beta2=0.999, epsilon=1e-8),
...           schedule=InverseTimeDecay(decay_rate=0.3, time_interval=10))

Each object validates its hyperparameters when built (a ValueError names the one that is
wrong).  The formulas are in :mod:`deepjit.engines.optimizers`.
"""
import numbers
from dataclasses import dataclass

import numpy as np

# The codes the compiled engines dispatch on (:mod:`deepjit.engines.optimizers`); kept
# here, free of Numba, so that importing deepjit (or this module) compiles nothing.
GD, MOMENTUM, RMSPROP, ADAM, SKLEARN_SGD, SKLEARN_ADAM = range(6)
CONSTANT, INVERSE_TIME, INVERSE_TIME_INTERVAL = range(3)


def scheduled_rate(schedule, lr0, decay_rate, time_interval, epoch):
    """The learning rate of epoch ``epoch`` (an integer from 0) under a schedule code:
    plain Python here, compiled as it is by :mod:`deepjit.engines.optimizers`."""
    if schedule == INVERSE_TIME:
        return lr0 / (1.0 + decay_rate * epoch)
    if schedule == INVERSE_TIME_INTERVAL:
        return lr0 / (1.0 + decay_rate * (epoch // time_interval))
    return lr0


def _fraction(name, value):
    """A number in [0, 1) (a decay rate for running averages)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not 0 <= value < 1:
        raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
    return float(value)


def _positive(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name}: expected a finite {kind} number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class GradientDescent:
    """Plain (mini-batch) gradient descent: ``theta -= lr * g``."""
    code = GD
    state_names = ()

    @property
    def hyper(self):
        return 0.0, 0.0, 1.0


@dataclass(frozen=True)
class Momentum:
    """``v = beta v + (1 - beta) g``, ``theta -= lr v`` (the course's form)."""
    beta: float = 0.9
    code = MOMENTUM
    state_names = ("v",)

    def __post_init__(self):
        object.__setattr__(self, "beta", _fraction("beta", self.beta))

    @property
    def hyper(self):
        return self.beta, 0.0, 1.0


@dataclass(frozen=True)
class RMSprop:
    """``s = beta s + (1 - beta) g^2``, ``theta -= lr g / (sqrt(s) + epsilon)``."""
    beta: float = 0.9
    epsilon: float = 1e-8
    code = RMSPROP
    state_names = ("s",)

    def __post_init__(self):
        object.__setattr__(self, "beta", _fraction("beta", self.beta))
        object.__setattr__(self, "epsilon", _positive("epsilon", self.epsilon))

    @property
    def hyper(self):
        return 0.0, self.beta, self.epsilon


@dataclass(frozen=True)
class Adam:
    """Momentum and RMSprop together, with bias correction (Kingma and Ba)."""
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    code = ADAM
    state_names = ("v", "s")

    def __post_init__(self):
        object.__setattr__(self, "beta1", _fraction("beta1", self.beta1))
        object.__setattr__(self, "beta2", _fraction("beta2", self.beta2))
        object.__setattr__(self, "epsilon", _positive("epsilon", self.epsilon))

    @property
    def hyper(self):
        return self.beta1, self.beta2, self.epsilon


@dataclass(frozen=True)
class SklearnSGD:
    """scikit-learn's SGD: ``v = momentum v - lr g``, ``theta += v`` (Nesterov: ``theta +=
    momentum v - lr g``); used by :mod:`deepjit.sklearn`."""
    momentum: float = 0.9
    nesterov: bool = True
    code = SKLEARN_SGD
    state_names = ("v",)

    @property
    def hyper(self):
        return self.momentum, 1.0 if self.nesterov else 0.0, 1.0


@dataclass(frozen=True)
class SklearnAdam:
    """scikit-learn's Adam: epsilon added to ``sqrt(s)``, the bias corrections folded
    into the rate; used by :mod:`deepjit.sklearn`."""
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    code = SKLEARN_ADAM
    state_names = ("v", "s")

    @property
    def hyper(self):
        return self.beta1, self.beta2, self.epsilon


OPTIMIZERS = {"gd": GradientDescent, "momentum": Momentum, "rmsprop": RMSprop,
              "adam": Adam}


def check_optimizer(optimizer):
    """An optimizer object from a name or an object (None is plain gradient descent)."""
    if optimizer is None:
        return GradientDescent()
    if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
        return OPTIMIZERS[optimizer]()
    if isinstance(optimizer, tuple(OPTIMIZERS.values())):
        return optimizer
    raise ValueError(f"optimizer: unknown optimizer {optimizer!r}; expected one of "
                     f"{sorted(OPTIMIZERS)} or an object from deepjit.optim")


@dataclass(frozen=True)
class Constant:
    """The same learning rate in every epoch."""
    code = CONSTANT

    @property
    def hyper(self):
        return 0.0, 1


@dataclass(frozen=True)
class InverseTimeDecay:
    """``lr0 / (1 + decay_rate * e)`` in epoch ``e`` (0 first); with ``time_interval``,
    ``e`` is floored to whole intervals: ``lr0 / (1 + decay_rate * floor(e / interval))``
    (the course's ``update_lr`` and ``schedule_lr_decay``)."""
    decay_rate: float = 1.0
    time_interval: int = None

    def __post_init__(self):
        object.__setattr__(self, "decay_rate", _positive("decay_rate", self.decay_rate,
                                                         allow_zero=True))
        interval = self.time_interval
        if interval is not None and (isinstance(interval, bool) or not isinstance(
                interval, numbers.Integral) or interval <= 0):
            raise ValueError(f"time_interval: expected a positive integer or None, got "
                             f"{interval!r}")

    @property
    def code(self):
        return CONSTANT if self.decay_rate == 0 else (
            INVERSE_TIME if self.time_interval is None else INVERSE_TIME_INTERVAL)

    @property
    def hyper(self):
        return self.decay_rate, int(self.time_interval or 1)


SCHEDULES = {"constant": Constant, "inverse_time": InverseTimeDecay,
             "inverse_time_interval": lambda: InverseTimeDecay(1.0, 1000)}


def check_schedule(schedule):
    if schedule is None:
        return Constant()
    if isinstance(schedule, str) and schedule in SCHEDULES:
        return SCHEDULES[schedule]()
    if isinstance(schedule, (Constant, InverseTimeDecay)):
        return schedule
    raise ValueError(f"schedule: unknown schedule {schedule!r}; expected one of "
                     f"{sorted(SCHEDULES)} or an object from deepjit.optim")


def learning_rate_at(schedule, lr0, epoch):
    """The learning rate of epoch ``epoch`` under ``schedule`` (for display)."""
    decay_rate, interval = schedule.hyper
    return scheduled_rate(schedule.code, lr0, decay_rate, interval, epoch)
