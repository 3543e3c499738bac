"""The "cuda" engine: the host driver of the ``@cuda.jit`` kernels (``cuda_kernels.py``).

Same interface as ``engines/cpu.py``: ``Trainer(parameters, X, Y, net, learning_rate)``
and ``predict_proba(parameters, X, net)``, plus ``require_gpu()``, which
``engines.get_engine`` calls.  This module is imported only when ``engine="cuda"`` is
asked for, so ``import deepjit`` never imports ``numba.cuda``.

X, Y, the flat parameter buffer ``theta`` (``cpu.Layout``), the gradients and every
activation stay on the device for the whole fit; only the costs of the first and last
iteration of a ``run`` come back (one small copy per call, i.e. per recorded cost).

``Trainer`` picks one of four trainers by formulation (``choose_formulation``):

- ``cuda_examples.ExamplesTrainer``: the first layer in example space, whole
  iterations in one cooperative launch over the GPU (the cat workload);
- ``BlockTrainer``: a small network in one thread block that runs whole iterations
  (``cuda_kernels.block_kernel``);
- ``cuda_streamed.StreamedTrainer``: one fused kernel per iteration for narrow networks
  on many examples;
- ``DenseTrainer``: a host loop over matrix products and elementwise kernels.  Its
  products go to cuBLAS through CuPy (zero copy, via ``__cuda_array_interface__``) when
  CuPy is importable and a real GPU is used; otherwise (the CUDA simulator, or no CuPy)
  to the tiled shared-memory kernel ``cuda_kernels.matmul_kernel``.

The launch settings below are read by the driver at every launch and passed to the
kernels (never read inside a kernel), so a test can patch them, e.g. a tiny
``THREADS_PER_BLOCK`` so that small inputs span several blocks.
"""
import functools
import math

import numpy as np

THREADS_PER_BLOCK = 256     # 1-D kernels; a power of two (the row reductions need it)
MAX_BLOCKS = 4096           # grid-stride loops cover the rest
TILE = 16                   # tiled matmul: TILE x TILE threads, two TILE x TILE tiles
USE_CUBLAS = True           # large products through CuPy's cuBLAS when it is there
CUBLAS_MIN_WORK = 32 ** 3   # ... from this many multiply-adds (M * N * K) on
BLOCK_THREADS = 256         # small networks in one block of this many threads (power of
BLOCK_MAX_WORK = 4_000_000  # two), up to this many multiply-adds per iteration
EXAMPLES_MAX_M = 2048       # the example-space formulation up to this many examples
                            # (its n_1 m^2 grows past the host loop's time between 1000
                            # and 4000 on an H100: benchmarks/GPU_RESULTS.md)

if not hasattr(np, "row_stack"):
    # numba-cuda <= 0.30.4 registers an overload for np.row_stack, which numpy 2.5
    # removed (an AttributeError at import); an alias of np.vstack, as before 2.5.
    np.row_stack = np.vstack

try:
    from numba import cuda, from_dtype

    from . import cuda_kernels as kernels
    _IMPORT_ERROR = None
except ImportError as exc:      # numba-cuda or the CUDA Python bindings missing
    _IMPORT_ERROR = exc

from .cpu import Layout
from .cpu import choose_formulation as cpu_choose_formulation

SIMULATOR = _IMPORT_ERROR is None and kernels.SIMULATOR     # NUMBA_ENABLE_CUDASIM=1


def require_gpu():
    """Raises RuntimeError unless numba-cuda works with a GPU (or the CUDA simulator,
    ``NUMBA_ENABLE_CUDASIM=1``, is on)."""
    if _IMPORT_ERROR is not None:
        raise RuntimeError("engine='cuda' needs numba-cuda (pip install 'deepjit[cuda]'); "
                           f"it could not be imported ({_IMPORT_ERROR})")
    if SIMULATOR:
        return
    try:
        cuda.current_context()
    except Exception as exc:   # CudaSupportError, CudaDriverError, ...
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RuntimeError("engine='cuda' needs an NVIDIA GPU with a working driver; none "
                           f"was found ({reason})") from None


def _cupy():
    """CuPy when it is importable and the GPU is real, else None."""
    return None if not USE_CUBLAS or SIMULATOR else _import_cupy()


@functools.lru_cache(maxsize=1)
def _import_cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


@functools.lru_cache(maxsize=8)
def _ones(m, dtype):
    return _cupy().ones(m, dtype)


# -- launches -----------------------------------------------------------------------

def _launch_1d(kernel, n_items, *args):
    """``kernel`` over ``n_items`` work items (grid-stride) with THREADS_PER_BLOCK."""
    blocks = max(1, min(-(-n_items // THREADS_PER_BLOCK), MAX_BLOCKS))
    kernel[blocks, THREADS_PER_BLOCK](*args)


def _launch_2d(kernel, shape, *args):
    """``kernel`` over an ``(n, m)`` matrix: blocks of THREADS_PER_BLOCK along the
    columns (x), one row per block row (y), at most MAX_BLOCKS blocks in all."""
    n, m = shape
    rows = max(1, min(n, MAX_BLOCKS))
    columns = max(1, min(-(-m // THREADS_PER_BLOCK), MAX_BLOCKS // rows))
    kernel[(columns, rows), THREADS_PER_BLOCK](*args)


def resident_blocks(kernel, argument_types, threads):
    """How many blocks of ``threads`` threads the GPU holds at once for ``kernel``
    compiled for ``argument_types`` (all of them can meet at a grid barrier; more would
    wait for a second wave); 1 in the simulator."""
    if SIMULATOR:
        return 1
    compiled = kernel.compile(tuple(argument_types))
    return max(1, compiled.max_cooperative_grid_blocks(threads))


def product(A, B, C, trans_a=False, trans_b=False, alpha=1.0):
    """``C = alpha op(A) op(B)`` with ``op(A) = A.T`` if ``trans_a``; ``C : (M, N)``."""
    M, N = C.shape
    K = A.shape[0] if trans_a else A.shape[1]
    cp = _cupy()
    if cp is not None and M * N * K >= CUBLAS_MIN_WORK:
        a, b, c = cp.asarray(A), cp.asarray(B), cp.asarray(C)
        cp.matmul(a.T if trans_a else a, b.T if trans_b else b, out=c)
        if alpha != 1:
            c *= alpha
        return C
    matmul = kernels.matmul_kernel(TILE, from_dtype(C.dtype))
    grid = (-(-N // TILE), -(-M // TILE))
    matmul[grid, (TILE, TILE)](A, B, C, trans_a, trans_b, C.dtype.type(alpha))
    return C


def bias_activation(Z, b, code, slope):
    """``Z <- g(Z + b)`` in place for a hidden code."""
    _launch_2d(kernels.bias_activation, Z.shape, Z, b, code, Z.dtype.type(slope))


def output_activation(Z, b, code, A):
    """``Z <- Z + b``, ``A = g(Z)`` for an output code."""
    _launch_1d(kernels.output_activation, Z.shape[1], Z, b, code, A)


def output_delta(Z, b, Y, code, dZ):
    """``Z <- Z + b``, ``dZ = g(Z) - Y``: the output layer's dZ for its canonical loss."""
    _launch_1d(kernels.output_delta, Z.shape[1], Z, b, Y, code, dZ)


def activation_backward(dA, A, code, slope):
    """``dA <- dA * g'(A)`` in place: dA becomes dZ."""
    _launch_2d(kernels.activation_backward, dA.shape, dA, A, code, dA.dtype.type(slope))


def row_sums(M, scale, out):
    """``out[i] = scale * sum_j M[i, j]``; ``M : (n, m)``, ``out : (n,)``."""
    cp = _cupy()
    if cp is not None and M.size >= CUBLAS_MIN_WORK and out.dtype == M.dtype:
        total = cp.asarray(out)            # cuBLAS gemv with a vector of ones
        cp.matmul(cp.asarray(M), _ones(M.shape[1], M.dtype), out=total)
        total *= scale
        return
    kernel = kernels.row_sums_kernel(THREADS_PER_BLOCK)
    kernel[max(1, min(M.shape[0], MAX_BLOCKS)), THREADS_PER_BLOCK](M, scale, out)


def cost_into(ZL, Y, code, losses, out):
    """``out[0]`` = the mean loss (as ``cpu.cost``); ``losses : (1, m)`` is scratch."""
    _launch_1d(kernels.column_losses, ZL.shape[1], ZL, Y, code, losses)
    row_sums(losses, 1.0 / ZL.shape[1], out)


def update(theta, grad, learning_rate):
    """``theta <- theta - learning_rate * grad`` (flat buffers)."""
    _launch_1d(kernels.update, theta.size, theta, grad, theta.dtype.type(learning_rate))


# -- the network on the device ------------------------------------------------------

class _DeviceNetwork:
    """Device buffers and per-layer views for a network and m examples: ``theta``
    (flat, ``cpu.Layout``), ``W[l] : (n_l, n_{l-1})``, ``b[l] : (n_l, 1)``, the layer
    outputs ``A[l] : (n_l, m)`` (``A[L]`` is the output activation) and ``ZL``."""

    def __init__(self, parameters, net, m, dtype):
        self.layout = lay = Layout(net.layer_dims, m)
        self.net, self.m, self.L = net, m, net.L
        self.codes = [int(c) for c in net.codes]
        self.slope = dtype.type(net.slope)
        self.theta = cuda.to_device(lay.pack(parameters, dtype))
        self.acts = cuda.device_array(lay.act_size, dtype)
        self.ZL = cuda.device_array((net.layer_dims[-1], m), dtype)
        self.W = self.views(self.theta, lay.w_off, net.layer_dims[:-1])
        self.b = self.views(self.theta, lay.b_off, [1] * self.L)
        self.A = self.views(self.acts, lay.a_off, [m] * self.L)

    def views(self, buffer, offsets, widths):
        """``[None, view_1, ..., view_L]``: ``(n_l, widths[l-1])`` views of ``buffer``."""
        dims = self.net.layer_dims
        return [None] + [buffer[offsets[l]:offsets[l] + dims[l] * widths[l - 1]]
                         .reshape(dims[l], widths[l - 1]) for l in range(1, self.L + 1)]

    def forward_hidden(self, X):
        """The hidden layers, and ``ZL = W_L A_{L-1}`` without its bias."""
        A_prev = X
        for l in range(1, self.L):
            product(self.W[l], A_prev, self.A[l])
            bias_activation(self.A[l], self.b[l], self.codes[l - 1], self.slope)
            A_prev = self.A[l]
        product(self.W[self.L], A_prev, self.ZL)


def predict_proba(parameters, X, net):
    """Output activations ``A_L : (n_L, m)`` as a host array."""
    X = np.ascontiguousarray(X)
    device = _DeviceNetwork(parameters, net, X.shape[1], X.dtype)
    device.forward_hidden(cuda.to_device(X))
    L = net.L
    output_activation(device.ZL, device.b[L], device.codes[L - 1], device.A[L])
    return device.A[L].copy_to_host()


class _DeviceState:
    """The state methods of a trainer whose training state is the device buffers
    ``_state()``: copies, checks and the host parameters."""

    def is_finite(self):
        return all(bool(np.isfinite(part.copy_to_host()).all()) for part in self._state())

    def snapshot(self):
        copies = []
        for part in self._state():
            copies.append(cuda.device_array_like(part))
            copies[-1].copy_to_device(part)
        return tuple(copies)

    def restore(self, snapshot):
        for current, saved in zip(self._state(), snapshot):
            current.copy_to_device(saved)


class DenseTrainer(_DeviceState):
    """Gradient descent with every array on the device; one host loop over kernels."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        m, dtype = X.shape[1], X.dtype
        self.net = _DeviceNetwork(parameters, net, m, dtype)
        self.lr = dtype.type(learning_rate)
        self.X = cuda.to_device(np.ascontiguousarray(X))
        self.Y = cuda.to_device(np.ascontiguousarray(Y))
        lay = self.net.layout
        self.grad = cuda.device_array(lay.size, dtype)
        self.dW = self.net.views(self.grad, lay.w_off, net.layer_dims[:-1])
        self.db = [None] + [self.grad[lay.b_off[l]:lay.b_off[l] + net.layer_dims[l]]
                            for l in range(1, net.L + 1)]
        self.dZ = self._delta_views(net, m, dtype)
        self.losses = cuda.device_array((1, m), dtype)
        self.costs = cuda.device_array(2, np.float64)

    def _delta_views(self, net, m, dtype):
        """``dZ[l] : (n_l, m)``, alternating between two buffers (layer l's dZ and
        layer l-1's are formed together)."""
        widest = max(net.layer_dims[1:]) * m
        buffers = cuda.device_array(widest, dtype), cuda.device_array(widest, dtype)
        return [None] + [buffers[(net.L - l) % 2][:net.layer_dims[l] * m]
                         .reshape(net.layer_dims[l], m) for l in range(1, net.L + 1)]

    def run(self, n_steps, want_last_cost):
        """``n_steps`` iterations; returns the cost of the first and (if asked) the
        last step, NaN otherwise."""
        net, L = self.net, self.net.L
        for step in range(n_steps):
            net.forward_hidden(self.X)
            output_delta(net.ZL, net.b[L], self.Y, net.codes[L - 1], self.dZ[L])
            if step == 0:
                cost_into(net.ZL, self.Y, net.codes[L - 1], self.losses, self.costs[0:1])
            if want_last_cost and step == n_steps - 1:
                cost_into(net.ZL, self.Y, net.codes[L - 1], self.losses, self.costs[1:2])
            self._backward()
            update(net.theta, self.grad, self.lr)
        first, last = self.costs.copy_to_host()
        return first, (last if want_last_cost else math.nan)

    def _backward(self):
        """Fills ``grad`` from ``dZ[L]``: ``dW = 1/m dZ A_prev^T``, ``db = 1/m sum dZ``,
        ``dZ_prev = W^T dZ * g'(A_prev)``."""
        net, inv_m = self.net, 1.0 / self.net.m
        for l in range(net.L, 0, -1):
            A_prev = self.X if l == 1 else net.A[l - 1]
            product(self.dZ[l], A_prev, self.dW[l], trans_b=True, alpha=inv_m)
            row_sums(self.dZ[l], inv_m, self.db[l])
            if l > 1:
                product(net.W[l], self.dZ[l], self.dZ[l - 1], trans_a=True)
                activation_backward(self.dZ[l - 1], A_prev, net.codes[l - 2], net.slope)

    def parameters(self):
        return self.net.layout.unpack(self.net.theta.copy_to_host())

    def _state(self):
        return (self.net.theta,)


class BlockTrainer(_DeviceState):
    """Whole iterations of a small network in one block (``cuda_kernels.block_kernel``),
    so a chunk of iterations is one launch: for networks and data so small that a
    launch per layer and step would cost more than the arithmetic."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        X, m, dtype, dims = np.ascontiguousarray(X), X.shape[1], X.dtype, net.layer_dims
        self.layout = lay = Layout(dims, m)
        theta = lay.pack(parameters, dtype)
        self.lr, self.slope = dtype.type(learning_rate), dtype.type(net.slope)
        a_off = lay.a_off + X.size          # X first, then the activations, then Z_L
        a_off[0] = 0
        acts = np.concatenate([X.ravel(), np.zeros(lay.act_size + dims[-1] * m, dtype)])
        self.theta, self.grad = cuda.to_device(theta), cuda.to_device(np.zeros_like(theta))
        self.Y, self.acts = cuda.to_device(np.ascontiguousarray(Y)), cuda.to_device(acts)
        self.deltas = cuda.device_array((2, max(dims[1:]) * m), dtype)
        self.costs = cuda.device_array(2, np.float64)
        self.offsets = [cuda.to_device(a) for a in (lay.dims, lay.w_off, lay.b_off, a_off)]
        self.codes = cuda.to_device(net.codes)
        n_out, L = dims[-1], net.L           # 2-D views of Z_L, A_L and b_L
        self.output = (self.acts[acts.size - n_out * m:].reshape(n_out, m),
                       self.acts[a_off[L]:a_off[L] + n_out * m].reshape(n_out, m),
                       self.theta[lay.b_off[L]:lay.b_off[L] + n_out].reshape(n_out, 1))

    def run(self, n_steps, want_last_cost):
        kernel = kernels.block_kernel(BLOCK_THREADS)
        kernel[1, BLOCK_THREADS](self.theta, self.grad, *self.offsets, self.codes,
                                 self.slope, self.Y, self.acts, *self.output, self.deltas,
                                 self.costs, self.lr, n_steps, bool(want_last_cost))
        first, last = self.costs.copy_to_host()
        return first, (last if want_last_cost else math.nan)

    def parameters(self):
        return self.layout.unpack(self.theta.copy_to_host())

    def _state(self):
        return (self.theta,)


def block_work(layer_dims, m):
    """Multiply-adds per iteration of a network in one block: three products per layer
    (forward, dW, dA_prev)."""
    return 3 * m * sum(n * n_prev for n_prev, n in zip(layer_dims, layer_dims[1:]))


def choose_formulation(layer_dims, m, num_iterations, dtype=np.float64):
    """The fastest formulation (measured on an H100 for the three workloads of
    ``benchmarks/gpu_compare.py``): "examples" where the cpu engine would carry the
    first layer in example space and m is at most EXAMPLES_MAX_M; "dense" where the
    plain network fits one block (``block_work`` at most BLOCK_MAX_WORK); "streamed"
    where the network is narrow enough for ``cuda_streamed``; else "dense" (the host
    loop over cuBLAS)."""
    if (cpu_choose_formulation(layer_dims, m, num_iterations) == "examples"
            and m <= EXAMPLES_MAX_M):
        return "examples"
    if block_work(layer_dims, m) <= BLOCK_MAX_WORK:
        return "dense"
    from . import cuda_streamed
    return "streamed" if cuda_streamed.supports(layer_dims, dtype) else "dense"


def dense_trainer(parameters, X, Y, net, learning_rate):
    """The plain formulation: in one block when that fits (``block_work`` at most
    BLOCK_MAX_WORK), else the host loop over cuBLAS and the elementwise kernels."""
    if block_work(net.layer_dims, X.shape[1]) <= BLOCK_MAX_WORK:
        return BlockTrainer(parameters, X, Y, net, learning_rate)
    return DenseTrainer(parameters, X, Y, net, learning_rate)


def streamed_trainer(parameters, X, Y, net, learning_rate):
    """Column tiles streamed through all layers by one fused kernel (``cuda_streamed``)."""
    from . import cuda_streamed
    return cuda_streamed.StreamedTrainer(parameters, X, Y, net, learning_rate)


def examples_trainer(parameters, X, Y, net, learning_rate):
    """The first layer in example space, the iterations on the whole GPU with grid-wide
    barriers (``cuda_examples``)."""
    from . import cuda_examples
    return cuda_examples.ExamplesTrainer(parameters, X, Y, net, learning_rate)


TRAINERS = {"dense": dense_trainer, "examples": examples_trainer,
            "streamed": streamed_trainer}


def Trainer(parameters, X, Y, net, learning_rate, formulation="auto", num_iterations=1):
    """The trainer for ``formulation`` ("dense", "examples", "streamed" or "auto": see
    ``choose_formulation``)."""
    if formulation == "auto":
        formulation = choose_formulation(net.layer_dims, X.shape[1], num_iterations, X.dtype)
    if formulation not in TRAINERS:
        raise ValueError(f"formulation: expected one of {sorted(TRAINERS)} or 'auto', "
                         f"got {formulation!r}")
    return TRAINERS[formulation](parameters, X, Y, net, learning_rate)
