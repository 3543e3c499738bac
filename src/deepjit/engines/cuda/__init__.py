"""The "cuda" engine: numba-cuda kernels on an NVIDIA GPU, imported only when
``engine="cuda"`` is asked for, so ``import deepjit`` never imports ``numba.cuda``.

X, Y, the flat parameter buffer ``theta`` (``engines/layout.py``), the gradients and
every activation stay on the device for the whole fit; only the costs of the first and
last iteration of a ``run`` come back.  ``make_trainer`` (the contract of
``engines/__init__.py``) picks a formulation (``choose_formulation``), each the twin of
the cpu module of the same path:

- ``examples.py``: the first layer in example space, whole iterations in one
  cooperative launch over the GPU (the cat workload);
- ``dense_block.py``: a small plain network in one thread block that runs whole
  iterations; ``dense.py`` otherwise: a host loop over cuBLAS products and the
  elementwise kernels of ``layers.py`` (through ``device.py``);
- ``streamed.py``: one fused kernel per iteration for narrow networks on many examples.

``settings.py`` holds every launch setting, ``compiler.py`` what differs in the CUDA
simulator.  numpy 2.5 removed ``np.row_stack``, which numba-cuda <= 0.30.4 still
registers an overload for (an AttributeError when numba.cuda is imported): the alias
is added here, before any module of this package imports numba.cuda, so the order in
which they are imported does not matter.
"""
import numpy as np

__all__ = ["make_trainer", "predict_proba", "require_gpu", "choose_formulation"]

if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack

try:
    import numba.cuda  # noqa: F401  (numba-cuda and the CUDA Python bindings)
    IMPORT_ERROR = None
except ImportError as exc:
    IMPORT_ERROR = exc

if IMPORT_ERROR is None:
    from numba import cuda

    from ..formulation import choose
    from . import settings
    from .compiler import SIMULATOR
    from .dense import DenseTrainer
    from .dense_block import BlockTrainer, fits_one_block
    from .device import check_precision
    from .examples import ExamplesTrainer
    from .network import predict_proba
    from .streamed import StreamedTrainer, supports


def require_gpu():
    """Raises RuntimeError unless numba-cuda works with a GPU (or the CUDA simulator,
    ``NUMBA_ENABLE_CUDASIM=1``, is on)."""
    if IMPORT_ERROR is not None:
        raise RuntimeError("engine='cuda' needs numba-cuda (pip install 'deepjit[cuda]'); "
                           f"it could not be imported ({IMPORT_ERROR})")
    if SIMULATOR:
        return
    try:
        cuda.current_context()
    except Exception as exc:   # CudaSupportError, CudaDriverError, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RuntimeError("engine='cuda' needs an NVIDIA GPU with a working driver; none "
                           f"was found ({reason})") from None


def choose_formulation(layer_dims, m, num_iterations, dtype=np.float64):
    """The fastest formulation (measured on an H100 for the three workloads of
    ``benchmarks/gpu_compare.py``): "examples" where it pays as on the cpu and m is at
    most ``EXAMPLES_MAX_M``; "dense" where the plain network fits one block
    (``dense_block.fits_one_block``); "streamed" where the network is narrow enough
    for ``streamed.py``; else "dense" (the host loop over cuBLAS)."""
    return choose(layer_dims, m, num_iterations, examples_max_m=settings.EXAMPLES_MAX_M,
                  one_block=fits_one_block(layer_dims, m),
                  streams=supports(layer_dims, dtype), stream_min_m=0)


def dense_trainer(parameters, X, Y, net, learning_rate):
    """The plain formulation: in one block when that fits, else the host loop."""
    if fits_one_block(net.layer_dims, X.shape[1]):
        return BlockTrainer(parameters, X, Y, net, learning_rate)
    return DenseTrainer(parameters, X, Y, net, learning_rate)


def make_trainer(parameters, X, Y, net, learning_rate, *, formulation="auto",
                 num_iterations=1, num_threads=None):
    """The trainer for ``formulation`` ("dense", "examples", "streamed" or "auto": see
    ``choose_formulation``); ``num_threads`` is the cpu's and changes nothing here.
    A lower ``settings.PRECISION`` (opt-in) runs the host loop of ``dense.py``, whose
    products it rounds."""
    if settings.PRECISION != "float32":
        check_precision(X.dtype)
        if formulation not in ("auto", "dense"):
            raise ValueError(f"formulation: precision {settings.PRECISION!r} runs the "
                             f"'dense' formulation only, not {formulation!r}")
        return DenseTrainer(parameters, X, Y, net, learning_rate)
    if formulation == "auto":
        formulation = choose_formulation(net.layer_dims, X.shape[1], num_iterations, X.dtype)
    trainers = {"dense": dense_trainer, "examples": ExamplesTrainer,
                "streamed": StreamedTrainer}
    if formulation not in trainers:
        raise ValueError(f"formulation: expected one of {sorted(trainers)} or 'auto', "
                         f"got {formulation!r}")
    return trainers[formulation](parameters, X, Y, net, learning_rate)
