"""The "cpu" engine: Numba kernels and compiled training loops.

- ``layers.py``: per-layer kernels (dense forward, activation backward, dense backward,
  output activation, cost), with ``vecmath.py``'s exp / tanh / sigmoid;
- ``network.py``: the whole-network pass on flat buffers, ``predict_proba`` and the
  trainers' shared state;
- ``dense.py``, ``examples.py``, ``streamed.py``: one formulation each, its compiled
  training loop beside its trainer (the cuda engine's twins have the same paths).

``make_trainer`` is the engine contract's (``engines/__init__.py``).
"""
# Numba's np.dot calls the BLAS of scipy.linalg.cython_blas, which Numba loads when a kernel
# is first compiled or loaded from its cache: inside the callers' threadpool_limits, which
# then leave that BLAS unlimited, so a first streamed run's products started BLAS threads
# inside Numba's threads (the tall fit's first run took 6-10 s instead of under 1 s).
# Loaded here, before any fit, it is limited like numpy's.
import scipy.linalg.cython_blas  # noqa: F401

from ..formulation import choose
from .dense import DenseTrainer
from .examples import ExampleSpaceTrainer
from .network import predict_proba
from .streamed import StreamedTrainer

__all__ = ["make_trainer", "predict_proba", "TRAINERS"]

TRAINERS = {"dense": DenseTrainer, "examples": ExampleSpaceTrainer,
            "streamed": StreamedTrainer}


def make_trainer(parameters, X, Y, net, learning_rate, *, formulation="auto",
                 num_iterations=1, num_threads=None):
    """The trainer for ``formulation`` ("dense", "examples", "streamed", or "auto": the
    cheapest for ``num_iterations``, ``engines/formulation.py``); ``num_threads`` for
    the streamed one.  BLAS threads are the caller's to limit (Model.fit does)."""
    if formulation == "auto":
        formulation = choose(net.layer_dims, X.shape[1], num_iterations)
    if formulation == "streamed":
        return StreamedTrainer(parameters, X, Y, net, learning_rate, num_threads=num_threads)
    return TRAINERS[formulation](parameters, X, Y, net, learning_rate)
