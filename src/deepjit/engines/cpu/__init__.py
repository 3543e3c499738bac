"""The "cpu" engine: Numba kernels and compiled training loops.

- ``layers.py``: per-layer kernels (dense forward, activation backward, dense backward,
  output activation, cost), with ``vecmath.py``'s exp / tanh / sigmoid;
- ``network.py``: the whole-network pass on flat buffers, ``predict_proba`` and the
  trainers' shared state;
- ``blocks.py``: how work is shared between threads without changing a result;
- ``dense.py``, ``examples.py``, ``streamed.py``: one formulation each, its compiled
  training loop beside its trainer (the cuda engine's twins have the same paths).

``make_trainer`` is the engine contract's (``engines/__init__.py``).
"""
import math

from ..formulation import choose, cpu_blocks
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
    cheapest for ``num_iterations``, ``engines/formulation.py``).  A dense problem big
    enough for several blocks (``formulation.cpu_blocks``) runs as blocks of whole
    columns in the streamed kernel; blocks run on ``num_threads`` threads (all cores by
    default, one per block at most), BLAS on one inside (``blocks.py``)."""
    m = X.shape[1]
    if formulation == "auto":
        formulation = choose(net.layer_dims, m, num_iterations)
    if formulation == "dense":
        blocks = cpu_blocks(net.layer_dims, m, "dense", X.dtype.itemsize)
        if blocks > 1:
            return StreamedTrainer(parameters, X, Y, net, learning_rate,
                                   chunk=math.ceil(m / blocks), num_threads=num_threads,
                                   blocks=blocks)
    if formulation == "streamed":
        return StreamedTrainer(parameters, X, Y, net, learning_rate, num_threads=num_threads)
    return TRAINERS[formulation](parameters, X, Y, net, learning_rate)
