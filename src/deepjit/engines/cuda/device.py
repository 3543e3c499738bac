"""The host side of the cuda engine's device work: launches of the per-layer kernels
(``layers.py``) with the launch settings of ``settings.py``, matrix products through
cuBLAS (CuPy, zero copy via ``__cuda_array_interface__``) or the tiled kernel,
``resident_blocks`` for cooperative and persistent grids, and ``DeviceTrainer``, what
every cuda trainer shares."""
import contextlib
import functools
import math

import numpy as np
from numba import cuda, from_dtype

from . import compiler, layers, settings


def cupy_module():
    """CuPy when it is importable, wanted (``USE_CUBLAS``) and the GPU is real, else
    None."""
    return None if not settings.USE_CUBLAS or compiler.SIMULATOR else import_cupy()


@functools.lru_cache(maxsize=1)
def import_cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


@functools.lru_cache(maxsize=8)
def cupy_ones(m, dtype):
    return import_cupy().ones(m, dtype)


# -- launches -----------------------------------------------------------------------

def launch_1d(kernel, n_items, *args):
    """``kernel`` over ``n_items`` work items (grid-stride) with THREADS_PER_BLOCK."""
    threads = settings.THREADS_PER_BLOCK
    blocks = max(1, min(-(-n_items // threads), settings.MAX_BLOCKS))
    kernel[blocks, threads](*args)


def launch_2d(kernel, shape, *args):
    """``kernel`` over an ``(n, m)`` matrix: blocks of THREADS_PER_BLOCK along the
    columns (x), one row per block row (y), at most MAX_BLOCKS blocks in all."""
    n, m = shape
    threads, max_blocks = settings.THREADS_PER_BLOCK, settings.MAX_BLOCKS
    rows = max(1, min(n, max_blocks))
    columns = max(1, min(-(-m // threads), max_blocks // rows))
    kernel[(columns, rows), threads](*args)


def resident_blocks(kernel, argument_types, threads):
    """How many blocks of ``threads`` threads the GPU holds at once for ``kernel``
    compiled for ``argument_types`` (all of them can meet at a grid barrier; more would
    wait for a second wave); 1 in the simulator."""
    if compiler.SIMULATOR:
        return 1
    compiled = kernel.compile(tuple(argument_types))
    return max(1, compiled.max_cooperative_grid_blocks(threads))


# significant bits of the products' operands per ``settings.PRECISION``
PRECISION_BITS = {"float32": layers.FLOAT32_BITS, "tf32": 11, "bf16": 8}


def check_precision(dtype):
    """The operand bits of ``settings.PRECISION``; a ValueError unless it is known and,
    when lower than float32's, the model's dtype is float32."""
    precision = settings.PRECISION
    if precision not in PRECISION_BITS:
        raise ValueError(f"precision: expected one of {sorted(PRECISION_BITS)}, got "
                         f"{precision!r}")
    if precision != "float32" and dtype != np.float32:
        raise ValueError(f"precision: {precision!r} products need a float32 model, not "
                         f"{np.dtype(dtype).name}")
    return PRECISION_BITS[precision]


@functools.lru_cache(maxsize=1)
def cupy_tf32():
    """A context manager under which CuPy's float32 products use TF32 tensor cores
    (cuBLAS's compute type ``CUBLAS_COMPUTE_32F_FAST_TF32``), or None where this CuPy
    has no such switch."""
    try:
        from cupy._core import _routines_linalg as linalg
        set_type, get_type = linalg.set_compute_type, linalg.get_compute_type
        tf32 = linalg.COMPUTE_TYPE_TF32
    except (ImportError, AttributeError):
        return None

    @contextlib.contextmanager
    def tensor_cores():
        before = get_type(np.dtype(np.float32))
        set_type(np.dtype(np.float32), tf32)
        try:
            yield
        finally:
            set_type(np.dtype(np.float32), before)
    return tensor_cores


def product(A, B, C, trans_a=False, trans_b=False, alpha=1.0):
    """``C = alpha op(A) op(B)`` with ``op(A) = A.T`` if ``trans_a``; ``C : (M, N)``.
    ``settings.PRECISION`` "tf32" takes cuBLAS's TF32 tensor cores where CuPy offers
    them (else, like "bf16", the tiled kernel with rounded operands)."""
    M, N = C.shape
    K = A.shape[0] if trans_a else A.shape[1]
    bits = check_precision(C.dtype)
    cp = cupy_module()
    tensor_cores = cupy_tf32() if settings.PRECISION == "tf32" and cp is not None else None
    exact = bits == layers.FLOAT32_BITS
    if cp is not None and M * N * K >= settings.CUBLAS_MIN_WORK and (
            exact or tensor_cores is not None):
        a, b, c = cp.asarray(A), cp.asarray(B), cp.asarray(C)
        with tensor_cores() if tensor_cores is not None else contextlib.nullcontext():
            cp.matmul(a.T if trans_a else a, b.T if trans_b else b, out=c)
        if alpha != 1:
            c *= alpha
        return C
    tile = settings.TILE
    matmul = layers.matmul_kernel(tile, from_dtype(C.dtype), bits)
    grid = (-(-N // tile), -(-M // tile))
    matmul[grid, (tile, tile)](A, B, C, trans_a, trans_b, C.dtype.type(alpha))
    return C


def bias_activation(Z, b, code, slope):
    """``Z <- g(Z + b)`` in place for a hidden code."""
    launch_2d(layers.bias_activation, Z.shape, Z, b, code, Z.dtype.type(slope))


def output_activation(Z, b, code, A):
    """``Z <- Z + b``, ``A = g(Z)`` for an output code."""
    launch_1d(layers.output_activation, Z.shape[1], Z, b, code, A)


def output_delta(Z, b, Y, code, dZ):
    """``Z <- Z + b``, ``dZ = g(Z) - Y``: the output layer's dZ for its canonical loss."""
    launch_1d(layers.output_delta, Z.shape[1], Z, b, Y, code, dZ)


def activation_backward(dA, A, code, slope):
    """``dA <- dA * g'(A)`` in place: dA becomes dZ."""
    launch_2d(layers.activation_backward, dA.shape, dA, A, code, dA.dtype.type(slope))


def row_sums(M, scale, out):
    """``out[i] = scale * sum_j M[i, j]``; ``M : (n, m)``, ``out : (n,)``."""
    cp = cupy_module()
    if cp is not None and M.size >= settings.CUBLAS_MIN_WORK and out.dtype == M.dtype:
        total = cp.asarray(out)            # cuBLAS gemv with a vector of ones
        cp.matmul(cp.asarray(M), cupy_ones(M.shape[1], M.dtype), out=total)
        total *= scale
        return
    threads = settings.THREADS_PER_BLOCK
    kernel = layers.row_sums_kernel(threads)
    kernel[max(1, min(M.shape[0], settings.MAX_BLOCKS)), threads](M, scale, out)


def cost_into(ZL, Y, code, losses, out):
    """``out[0]`` = the mean loss (as the cpu's ``layers.cost``); ``losses : (1, m)`` is
    scratch."""
    launch_1d(layers.column_losses, ZL.shape[1], ZL, Y, code, losses)
    row_sums(losses, 1.0 / ZL.shape[1], out)


def update(theta, grad, learning_rate):
    """``theta <- theta - learning_rate * grad`` (flat buffers)."""
    launch_1d(layers.update, theta.size, theta, grad, theta.dtype.type(learning_rate))


# -- what every trainer shares ------------------------------------------------------

class DeviceTrainer:
    """The contract of ``engines.Trainer`` for a trainer whose state lives on the device.
    A subclass sets ``layout``, ``theta`` (device, ``engines/layout.py`` order) and
    ``costs`` (device, float64, 2), and writes ``steps(n_steps, want_last_cost)``, which
    runs the iterations and leaves the first step's cost in ``costs[0]`` and, if asked,
    the last's in ``costs[1]``; ``training_state()`` names the device arrays that training
    changes (theta by default)."""

    def run(self, n_steps, want_last_cost):
        """``n_steps`` iterations; the costs of the first and (if asked) the last step,
        NaN otherwise: one small copy back per call."""
        if n_steps < 1:
            return math.nan, math.nan
        self.steps(n_steps, bool(want_last_cost))
        first, last = self.costs.copy_to_host()
        return first, (last if want_last_cost else math.nan)

    def steps(self, n_steps, want_last_cost):
        raise NotImplementedError

    def training_state(self):
        return (self.theta,)

    def parameters(self):
        return self.layout.unpack(self.theta.copy_to_host())

    def is_finite(self):
        return all(bool(np.isfinite(part.copy_to_host()).all())
                   for part in self.training_state())

    def snapshot(self):
        copies = []
        for part in self.training_state():
            copies.append(cuda.device_array_like(part))
            copies[-1].copy_to_device(part)
        return tuple(copies)

    def restore(self, snapshot):
        for current, saved in zip(self.training_state(), snapshot):
            current.copy_to_device(saved)
