"""The engine-independent gradient-descent driver.

An engine's ``Trainer`` runs whole iterations; this driver calls it in chunks that end
at every recording iteration (0, record_every, 2*record_every, ...) and, for large
problems, more often, so that printing, progress callbacks, Ctrl-C and divergence
checks happen between compiled calls and never inside one.
"""
import signal
import threading
import time
from dataclasses import dataclass, field

import numpy as np

CHUNK_SECONDS = 0.25   # aim for compiled calls of about this long between checks


class _DefaultCount(int):
    """``fit``'s default number of iterations, told apart from the same number given
    (``num_epochs`` replaces only the default)."""


DEFAULT_ITERATIONS = _DefaultCount(2500)


class TrainingDiverged(FloatingPointError):
    """Raised when training produced NaN or inf; the model keeps the last finite
    parameters, reached after ``iterations`` iterations."""

    def __init__(self, iterations, message):
        super().__init__(message)
        self.iterations = iterations


@dataclass
class FitLog:
    costs: list = field(default_factory=list)   # cost at iterations 0, every, 2*every, ...
    final_cost: float = float("nan")             # cost at the last iteration run
    iterations: int = 0                          # iterations completed
    interrupted: bool = False                    # stopped early by Ctrl-C


class InterruptFlag:
    """Turns SIGINT into a flag (main thread only): inside ``with InterruptFlag()``
    Ctrl-C never raises, so training stops between chunks and the work after the loop
    (rebuilding the parameters, handing them to the model) cannot be cut short by a
    second Ctrl-C.  The previous handler is back on exit."""

    def __init__(self):
        self.raised = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.raised = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _find_last_finite(trainer, start, snapshot, n_steps):
    """Replays a failed chunk step by step from ``snapshot``; leaves the trainer at the
    last finite parameters and returns how many iterations they have completed."""
    trainer.restore(snapshot)
    for k in range(n_steps):
        before = trainer.snapshot()
        first, _ = trainer.run(1, False)
        if not (np.isfinite(first) and trainer.is_finite()):
            trainer.restore(before)
            return start + k
    return start + n_steps


def _diverged(trainer, previous, end):
    """Winds the trainer back to its last finite iteration (replaying from the chunk
    before the failure, ``previous = (start, snapshot)``) and returns the error."""
    start, saved = previous
    done = _find_last_finite(trainer, start, saved, end - start)
    return TrainingDiverged(done, f"training diverged at iteration {done}: NaN or inf "
                            "appeared in the parameters or the cost; the model keeps the last "
                            f"finite parameters (after {done} iterations). Try a smaller "
                            "learning_rate or standardised inputs.")


def gradient_descent(trainer, num_iterations, record_every=100, on_cost=None,
                     callback=None, interrupt=None, agree=None):
    """Runs ``num_iterations`` iterations.  ``on_cost(i, cost)`` is called for every
    recorded iteration and for the last one; ``callback(iterations_done, cost)`` after
    every chunk.  Stops early once ``interrupt.raised`` (an :class:`InterruptFlag` that
    the caller holds over its own follow-up work; by default one held over the loop
    alone).  ``agree(n)`` turns each next chunk length into the one that all processes
    use (``distributed.AgreedInterrupt.agree``).  Returns a :class:`FitLog`; raises :class:`TrainingDiverged`."""
    if interrupt is None:
        with InterruptFlag() as interrupt:
            return gradient_descent(trainer, num_iterations, record_every, on_cost,
                                    callback, interrupt, agree)
    log, it, per_call = FitLog(), 0, 1
    # A chunk reports only its first cost, so a cost that overflows mid-chunk while the
    # parameters stay finite shows at the next chunk's start: the replay then starts
    # from the previous chunk, and the result does not depend on chunk lengths.
    previous = (0, trainer.snapshot())
    while it < num_iterations and not interrupt.raised:
        to_record = record_every - it % record_every
        n = min(per_call, to_record, num_iterations - it)
        last = it + n == num_iterations
        snapshot, started = trainer.snapshot(), time.perf_counter()
        first, final = trainer.run(n, last)
        elapsed = time.perf_counter() - started
        if not (np.isfinite(first) and trainer.is_finite()
                and (not last or np.isfinite(final))):
            raise _diverged(trainer, previous, it + n)
        previous = (it, snapshot)
        if it % record_every == 0:
            log.costs.append(float(first))
            if on_cost:
                on_cost(it, float(first))
        it += n
        if last:
            log.final_cost = float(final)
            if on_cost and (it - 1) % record_every:
                on_cost(it - 1, float(final))
        if callback:
            callback(it, log.costs[-1])
        per_call = max(1, min(record_every, int(n * CHUNK_SECONDS / max(elapsed, 1e-9))))
        if agree is not None:
            per_call = agree(per_call)
    log.iterations, log.interrupted = it, interrupt.raised and it < num_iterations
    return log
