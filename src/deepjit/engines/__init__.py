"""Engines: ``numpy`` (``reference.py``, the plain-numpy oracle), ``cpu`` (Numba, the
``cpu/`` package) and ``cuda`` (numba-cuda, the ``cuda/`` package, imported only when
asked for, so a machine without a GPU never fails at import).

The contract every engine module keeps:

- ``make_trainer(parameters, X, Y, net, learning_rate, *, formulation, num_iterations,
  num_threads)`` returns a :class:`Trainer` starting from ``parameters`` for the data
  ``X : (n_0, m)``, ``Y : (n_L, m)`` (validated, of the model's dtype).  ``formulation``
  ("auto" or a name of ``FORMULATIONS``) and ``num_threads`` are hints an engine may
  ignore; ``num_iterations`` is how many iterations the fit will run (what "auto"
  weighs).
- ``predict_proba(parameters, X, net)`` returns the output activations ``(n_L, m)``.

``engines/layout.py``, ``example_space.py``, ``formulation.py`` and ``losses.py`` hold
what the compiled engines share.
"""
import importlib
from typing import Protocol, runtime_checkable

from .formulation import FORMULATIONS, check_formulation

__all__ = ["ENGINES", "FORMULATIONS", "Trainer", "check_engine", "check_formulation",
           "get_engine"]

ENGINES = {"numpy": "reference", "cpu": "cpu", "cuda": "cuda"}


@runtime_checkable
class Trainer(Protocol):
    """Gradient descent in progress, as the driver (``training.gradient_descent``) uses
    it: ``run`` chunks of iterations, check and keep finite states, read the result."""

    def run(self, n_steps: int, want_last_cost: bool) -> tuple:
        """``n_steps`` iterations; ``(cost before the first, cost before the last)``,
        the second NaN unless ``want_last_cost`` (both NaN for ``n_steps < 1``)."""

    def snapshot(self) -> object:
        """An opaque copy of the training state, for ``restore``."""

    def restore(self, snapshot: object) -> None:
        """Back to the state of ``snapshot``."""

    def is_finite(self) -> bool:
        """Whether every number of the training state is finite."""

    def parameters(self) -> dict:
        """``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}``: host numpy copies."""


def check_engine(engine):
    if engine not in ENGINES:
        raise ValueError(f"engine: unknown engine {engine!r}; expected one of {sorted(ENGINES)}")
    return engine


def get_engine(engine):
    """The engine module for a name; the CUDA one raises a clear error without a GPU."""
    module = importlib.import_module(f"{__name__}.{ENGINES[check_engine(engine)]}")
    if hasattr(module, "require_gpu"):
        module.require_gpu()
    return module
