"""The "streamed" formulation of the cuda engine: one fused kernel per iteration for
narrow networks on many examples (the "tall" workload, X : (30, 10^6), [30, 64, 32, 1]).

The dense formulation sends every ``(n_l, m)`` activation matrix through global memory
several times per iteration.  Here column tiles of X stream through ALL layers, forward
and backward, inside one block, and only the gradient sums leave it:

- ``streamed_kernel(...)`` (kernel 1, NB blocks): block b takes the column tiles b,
  b + NB, ... of ``tile`` columns.  Per tile: X's columns into shared memory, the
  forward pass (bias and activation fused), ``dZ_L = A_L - Y`` (the canonical loss of the
  output; the loss of each column when asked), then the backward pass, which adds
  ``dZ_l A_{l-1}^T`` and ``sum dZ_l`` to the block's accumulators and forms ``dZ_{l-1}``
  in place of ``A_{l-1}``.  At the end each thread writes its accumulators (sums over
  the block's columns, NOT divided by m) to row b of ``partials : (NB, n_params + 1)``
  (float64; ``engines/layout.py`` order, the sum of the block's losses last).
- ``descend_kernel(...)`` (kernel 2): sums the NB rows in a fixed order in float64,
  scales by 1/m, ``theta <- theta - lr * grad``, and stores the cost when asked.

No atomics: every sum has a fixed order, so results are bitwise reproducible.

Layout of a block (``TilePlan``): threads are a grid of ``row_groups x column_groups``.
Each layer's weights sit in shared memory as ``[W | b]`` (the bias as one more input
column, its row stride made odd against bank conflicts), and each activation tile
``A_l : (n_l + 1, tile)`` ends with a row of ones, so bias and bias gradient are just one
more term of the products.  In a product over the tile a thread computes a register
tile of ``R`` rows (strided by ``row_groups``) by ``columns`` columns (strided by
``column_groups``, so a warp reads consecutive shared addresses): each shared load
feeds ``R`` or ``columns`` multiply-adds.  For ``dW_l`` the thread owns ``R x S``
entries of ``[dW_l | db_l]`` (a strided grid, shaped per layer), kept in registers
across all of the block's tiles (in the model dtype; the blocks' sums are added in
float64).

Every layer's loops have compile-time trip counts: the factory closes over the sizes and
chains one device function per layer and phase, so the compiler unrolls the register
tiles (the accumulators must not spill to local memory; see the compile test).

The inner loops should compile to shared loads and multiply-adds alone (about 1.5
instructions per FMA; ``benchmarks/ptx_mix.py`` prints the mix), which takes three
habits: every shared-memory index is cast to ``uint64`` (numba adds a negative-index
wraparound, a compare and a select, to every load with a signed index, and that hides
the loops' induction from LLVM: 5.1 instructions per FMA on an H100 before); a thread's
strided rows are clamped only where some thread can pass the last row (``_row``), so the
others are one base register plus constant offsets; and the loops over ``k`` and over
the tile's columns are ``while`` loops (numba's ``range`` loops kept a select-based
counter where LLVM unrolled them with a remainder).

The launch settings (``ROW_GROUPS`` ... ``MAX_ACCUMULATORS`` in ``settings.py``) are read
by the host at launch time (never in a kernel), so tests patch them small.
"""
import functools
import math
from dataclasses import dataclass

import numpy as np
from numba import cuda, float64, from_dtype, typeof, types, uint64

from ...activations import SIGMOID, SOFTMAX
from .. import losses
from ..layout import Layout
from . import settings
from .compiler import inlined
from .device import DeviceTrainer, resident_blocks
from .layers import hidden, hidden_derivative


# -- the plan of a block --------------------------------------------------------------

@dataclass(frozen=True)
class TilePlan:
    """Sizes and shared-memory offsets for ``dims = (n_0, ..., n_L)``.  ``w_offsets[l]``,
    ``w_strides[l]``: layer l's ``[W | b] : (n_l, n_{l-1} + 1)`` in the weights array
    (row stride odd); ``act_offsets[l]``: the tile of ``A_l`` (``n_l + 1`` rows of
    ``stride``, the last all ones; ``A_L`` has ``n_L`` rows and holds ``dZ_L``);
    ``acc_offsets[l]``, ``acc_shapes[l] = (R, S)``, ``acc_groups[l] = (DR, DK)``: layer
    l's gradient accumulators (see ``_gradient_groups``)."""
    dims: tuple
    row_groups: int
    column_groups: int
    columns: int
    w_offsets: tuple
    w_strides: tuple
    act_offsets: tuple
    acc_offsets: tuple
    acc_shapes: tuple
    acc_groups: tuple
    w_size: int
    act_size: int
    n_acc: int
    shared_bytes: int

    @property
    def threads(self):
        return self.row_groups * self.column_groups

    @property
    def tile(self):
        return self.column_groups * self.columns

    @property
    def stride(self):
        """Row stride of the activation tiles: odd, against bank conflicts."""
        return self.tile | 1

    @property
    def L(self):
        return len(self.dims) - 1

    @property
    def n_params(self):
        return sum(self.dims[l] * (self.dims[l - 1] + 1) for l in range(1, self.L + 1))


def _odd(n):
    return n | 1


def _ceil_div(a, b):
    return -(-a // b)


def _gradient_groups(n_out, n_in, threads):
    """``(DR, DK)``, ``DR * DK = threads``: thread t owns the rows ``t % DR + r DR`` and
    inputs ``t // DR + s DK`` of ``[dW | db] : (n_out, n_in + 1)``, ``R x S`` entries.
    Chosen for the fewest shared loads plus multiply-adds per column, ``R + S + R S / 4``
    (a warp issues four multiply-adds in the time of one shared load)."""
    def cost(DR):
        R, S = _ceil_div(n_out, DR), _ceil_div(n_in + 1, threads // DR)
        return R + S + R * S / 4
    DR = min((d for d in range(1, threads + 1) if threads % d == 0), key=cost)
    return DR, threads // DR


def _tile_plan(dims, itemsize, row_groups, column_groups, columns):
    L, T, stride = len(dims) - 1, row_groups * column_groups, _odd(column_groups * columns)
    w_strides = (0,) + tuple(_odd(dims[l - 1] + 1) for l in range(1, L + 1))
    rows = [dims[l] + 1 for l in range(L)] + [dims[L]]
    acc_groups = ((0, 0),) + tuple(_gradient_groups(dims[l], dims[l - 1], T)
                                   for l in range(1, L + 1))
    acc_shapes = ((0, 0),) + tuple((_ceil_div(dims[l], DR), _ceil_div(dims[l - 1] + 1, DK))
                                   for l, (DR, DK) in enumerate(acc_groups) if l > 0)
    w_offsets = np.cumsum([0] + [dims[l] * w_strides[l] for l in range(1, L + 1)])
    act_offsets = np.cumsum([0] + [r * stride for r in rows])
    acc_offsets = np.cumsum([0] + [r * s for r, s in acc_shapes[1:]])
    w_size, act_size = int(w_offsets[-1]), int(act_offsets[-1])
    shared = (w_size + act_size) * itemsize + T * 8
    return TilePlan(tuple(dims), row_groups, column_groups, columns,
                    (0,) + tuple(int(o) for o in w_offsets[:-1]), w_strides,
                    tuple(int(o) for o in act_offsets[:-1]),
                    (0,) + tuple(int(o) for o in acc_offsets[:-1]), acc_shapes, acc_groups,
                    w_size, act_size, int(acc_offsets[-1]), shared)


@functools.lru_cache(maxsize=None)
def tile_plan(dims, dtype, row_groups, column_groups, columns_per_thread):
    """The plan with the most columns per thread (up to ``columns_per_thread``) whose
    shared memory fits ``SHARED_BYTES``; None if not even one column fits."""
    itemsize = np.dtype(dtype).itemsize
    for columns in range(columns_per_thread, 0, -1):
        plan = _tile_plan(tuple(dims), itemsize, row_groups, column_groups, columns)
        if plan.shared_bytes <= settings.SHARED_BYTES:
            return plan
    return None


def current_plan(layer_dims, dtype):
    """The plan for the current launch settings."""
    return tile_plan(tuple(int(n) for n in layer_dims), np.dtype(dtype), settings.ROW_GROUPS,
                     settings.COLUMN_GROUPS, settings.COLUMNS_PER_THREAD)


def supports(layer_dims, dtype):
    """True when the network is narrow enough for this kernel with the current launch
    settings: every width (input included) at most MAX_WIDTH, the weights and a tile of
    one column per thread within SHARED_BYTES, and at most MAX_ACCUMULATORS gradient
    registers per thread."""
    if max(layer_dims) > settings.MAX_WIDTH:
        return False
    plan = current_plan(layer_dims, dtype)
    return plan is not None and plan.n_acc <= settings.MAX_ACCUMULATORS


# -- the kernels --------------------------------------------------------------------

def _in_order(steps, sync):
    """One device function running ``steps`` (same signature) in order, with a
    ``syncthreads`` between two steps when ``sync``."""
    run = steps[0]
    for step in steps[1:]:
        run = _then(run, step, sync)
    return run


def _then(first, second, sync):
    @inlined
    def both(theta, partials, W, acts, dw, t):
        first(theta, partials, W, acts, dw, t)
        if sync:
            cuda.syncthreads()
        second(theta, partials, W, acts, dw, t)
    return both


@inlined
def _row(first, r, step, n):
    """Row ``first + r step`` of a thread's strided rows, clamped to ``n - 1`` only where
    a thread could pass it (the test folds away where ``r`` is a compile-time constant):
    the clamped row's result is discarded, the clamp keeps its loads inside the array."""
    if (r + 1) * step <= n:
        return first + r * step
    return min(first + r * step, n - 1)


def _stage_step(plan, layout, l, f):
    """Layer l's ``[W | b]`` from theta into shared memory, the ones row of ``A_{l-1}``,
    and zeros in layer l's accumulators."""
    n_out, n_in, T = plan.dims[l], plan.dims[l - 1], plan.threads
    w_sh, ws = plan.w_offsets[l], plan.w_strides[l]
    w_th, b_th = int(layout.w_off[l]), int(layout.b_off[l])
    ones = plan.act_offsets[l - 1] + n_in * plan.stride
    R, S = plan.acc_shapes[l]
    acc, TCP = plan.acc_offsets[l], plan.stride

    @inlined
    def stage(theta, partials, W, acts, dw, t):
        for e in range(t, n_out * (n_in + 1), T):
            i, k = e // (n_in + 1), e % (n_in + 1)
            W[w_sh + i * ws + k] = theta[w_th + i * n_in + k] if k < n_in else theta[b_th + i]
        for col in range(t, TCP, T):
            acts[ones + col] = 1
        for r in range(R):
            for s in range(S):
                dw[acc + r * S + s] = 0
    return stage


def _forward_step(plan, l, code, slope, f):
    """``A_l = g([W | b] A_{l-1})`` on the tile (``Z_L`` itself for the output layer)."""
    n_out, n_in, last = plan.dims[l], plan.dims[l - 1], l == plan.L
    RG, CG, C, TCP = plan.row_groups, plan.column_groups, plan.columns, plan.stride
    R = _ceil_div(n_out, RG)
    w0, ws, a_in, a_out = plan.w_offsets[l], plan.w_strides[l], plan.act_offsets[l - 1], \
        plan.act_offsets[l]

    @inlined
    def forward(theta, partials, W, acts, dw, t):
        cg, rg = t % CG, t // CG
        acc = cuda.local.array((R, C), f)
        a = cuda.local.array(C, f)
        for r in range(R):
            for c in range(C):
                acc[r, c] = 0
        k = 0
        while k <= n_in:
            for c in range(C):
                a[c] = acts[uint64(a_in + k * TCP + cg + c * CG)]
            for r in range(R):
                w = W[uint64(w0 + _row(rg, r, RG, n_out) * ws + k)]
                for c in range(C):
                    acc[r, c] += w * a[c]
            k += 1
        for r in range(R):
            i = rg + r * RG
            if i < n_out:
                for c in range(C):
                    z = acc[r, c]
                    acts[uint64(a_out + i * TCP + cg + c * CG)] = z if last else hidden(
                        z, code, slope)
    return forward


def _gradient_step(plan, l, f):
    """Adds the tile's ``dZ_l [A_{l-1}; 1]^T`` to this thread's entries of
    ``[dW_l | db_l]`` (rows ``dr + r DR``, inputs ``dk + s DK``)."""
    n_out, n_in, TC, TCP = plan.dims[l], plan.dims[l - 1], plan.tile, plan.stride
    (R, S), (DR, DK) = plan.acc_shapes[l], plan.acc_groups[l]
    acc, dz, a0 = plan.acc_offsets[l], plan.act_offsets[l], plan.act_offsets[l - 1]

    @inlined
    def gradient(theta, partials, W, acts, dw, t):
        dr, dk = t % DR, t // DR
        d = cuda.local.array(R, f)
        a = cuda.local.array(S, f)
        c = 0
        while c < TC:
            for r in range(R):
                d[r] = acts[uint64(dz + _row(dr, r, DR, n_out) * TCP + c)]
            for s in range(S):
                a[s] = acts[uint64(a0 + _row(dk, s, DK, n_in + 1) * TCP + c)]
            for r in range(R):
                for s in range(S):
                    dw[acc + r * S + s] += d[r] * a[s]
            c += 1
    return gradient


def _delta_step(plan, l, code, slope, f):
    """``dZ_{l-1} = (W_l^T dZ_l) * g'(A_{l-1})``, written over ``A_{l-1}`` (each thread
    reads only the entries of ``A_{l-1}`` it overwrites)."""
    n_sum, n_out = plan.dims[l], plan.dims[l - 1]
    RG, CG, C, TCP = plan.row_groups, plan.column_groups, plan.columns, plan.stride
    R = _ceil_div(n_out, RG)
    w0, ws, dz, a_prev = plan.w_offsets[l], plan.w_strides[l], plan.act_offsets[l], \
        plan.act_offsets[l - 1]

    @inlined
    def delta(theta, partials, W, acts, dw, t):
        cg, rg = t % CG, t // CG
        acc = cuda.local.array((R, C), f)
        d = cuda.local.array(C, f)
        for r in range(R):
            for c in range(C):
                acc[r, c] = 0
        i = 0
        while i < n_sum:
            for c in range(C):
                d[c] = acts[uint64(dz + i * TCP + cg + c * CG)]
            for r in range(R):
                w = W[uint64(w0 + i * ws + _row(rg, r, RG, n_out))]
                for c in range(C):
                    acc[r, c] += w * d[c]
            i += 1
        for r in range(R):
            k = rg + r * RG
            if k < n_out:
                for c in range(C):
                    at = uint64(a_prev + k * TCP + cg + c * CG)
                    acts[at] = hidden_derivative(acc[r, c], acts[at], code, slope)
    return delta


def _flush_step(plan, layout, l):
    """This thread's entries of ``[dW_l | db_l]`` into the block's row of partials."""
    n_out, n_in = plan.dims[l], plan.dims[l - 1]
    (R, S), (DR, DK) = plan.acc_shapes[l], plan.acc_groups[l]
    acc, w_th, b_th = plan.acc_offsets[l], int(layout.w_off[l]), int(layout.b_off[l])

    @inlined
    def flush(theta, partials, W, acts, dw, t):
        dr, dk = t % DR, t // DR
        for r in range(R):
            for s in range(S):
                i, k = dr + r * DR, dk + s * DK
                if i < n_out and k <= n_in:
                    at = w_th + i * n_in + k if k < n_in else b_th + i
                    partials[cuda.blockIdx.x, at] = dw[acc + r * S + s]
    return flush


def _load_step(plan):
    """The tile of X (columns ``j0 ..``; zeros past m) into ``A_0``."""
    n0, TC, TCP, T = plan.dims[0], plan.tile, plan.stride, plan.threads

    @inlined
    def load(X, acts, j0, m, t):
        for col in range(t, TC, T):
            j = j0 + col
            for k in range(n0):
                acts[uint64(k * TCP + col)] = X[uint64(k), uint64(j)] if j < m else 0
    return load


def _output_step(plan, code):
    """Over ``Z_L``'s tile: ``dZ_L = g(Z_L) - Y`` (zero past m); returns this thread's sum
    of the columns' losses when ``want_cost`` (as ``layers.column_losses``)."""
    n, TC, T, TCP, out = plan.dims[-1], plan.tile, plan.threads, plan.stride, \
        plan.act_offsets[-1]

    @inlined
    def column_max(acts, col):
        """The softmax shift of the tile's column ``col`` (``losses.column_max``)."""
        zmax = acts[out + col]
        for i in range(1, n):
            zmax = max(zmax, acts[out + i * TCP + col])
        return zmax

    @inlined
    def column_loss(acts, Y, j, col):
        total = 0.0
        if code == SOFTMAX:
            zmax = column_max(acts, col)
            s = 0.0
            for i in range(n):
                s += losses.shifted_exp(acts[out + i * TCP + col], zmax)
            lse = losses.log_sum_exp(zmax, s)
            for i in range(n):
                total += losses.cross_entropy_term(acts[out + i * TCP + col], Y[i, j], lse)
        else:
            for i in range(n):
                total += losses.entry_loss(acts[out + i * TCP + col], Y[i, j], code)
        return total

    @inlined
    def output(acts, Y, j0, m, t, want_cost):
        loss = 0.0
        for col in range(t, TC, T):
            j = j0 + col
            if j >= m:
                for i in range(n):
                    acts[out + i * TCP + col] = 0
                continue
            if want_cost:
                loss += column_loss(acts, Y, j, col)
            if code == SOFTMAX:
                zmax = column_max(acts, col)
                total = 0.0
                for i in range(n):
                    e = losses.shifted_exp(acts[out + i * TCP + col], zmax)
                    acts[out + i * TCP + col] = e
                    total += e
                for i in range(n):
                    acts[out + i * TCP + col] = acts[out + i * TCP + col] / total - Y[i, j]
            else:
                for i in range(n):
                    z = acts[out + i * TCP + col]
                    a = 1.0 / (1.0 + math.exp(-z)) if code == SIGMOID else z
                    acts[out + i * TCP + col] = a - Y[i, j]
        return loss

    return output


def _phases(plan, codes, slope, f):
    """The per-layer device functions chained into the kernel's phases: ``stage``
    (weights into shared memory), ``forward``, ``backward`` (``dW_L``, ``dZ_{L-1}``,
    ``dW_{L-1}``, ..., ``dW_1``) and ``flush`` (accumulators into partials)."""
    layout, L = Layout(plan.dims, 1), plan.L
    stage = [_stage_step(plan, layout, l, f) for l in range(1, L + 1)]
    forward = [_forward_step(plan, l, codes[l - 1], slope, f) for l in range(1, L + 1)]
    backward = [_gradient_step(plan, L, f)]
    for l in range(L, 1, -1):
        backward += [_delta_step(plan, l, codes[l - 2], slope, f),
                     _gradient_step(plan, l - 1, f)]
    flush = [_flush_step(plan, layout, l) for l in range(1, L + 1)]
    return (_in_order(stage, False), _in_order(forward, True), _in_order(backward, True),
            _in_order(flush, False))


@functools.lru_cache(maxsize=None)
def streamed_kernel(dims, codes, slope, dtype, row_groups, column_groups,
                    columns_per_thread):
    """``(kernel, plan)``: kernel 1 for ``dims`` (a tuple), ``codes`` (tuple of layers
    1..L), ``slope`` and ``dtype`` (numpy), all compile-time constants.  The kernel is
    ``(theta, X, Y, partials, want_cost)``, launched as ``[NB, plan.threads]``;
    ``partials : (NB, n_params + 1)`` float64 (see the module docstring)."""
    plan = tile_plan(dims, np.dtype(dtype), row_groups, column_groups, columns_per_thread)
    if plan is None:
        raise ValueError(f"layer_dims: {list(dims)} do not fit the streamed kernel")
    f = from_dtype(np.dtype(dtype))
    stage, forward, backward, flush = _phases(plan, codes, np.dtype(dtype).type(slope), f)
    load, output = _load_step(plan), _output_step(plan, codes[-1])
    T, TC, LOSS = plan.threads, plan.tile, plan.n_params
    W_SIZE, ACT_SIZE, N_ACC = plan.w_size, plan.act_size, plan.n_acc

    @cuda.jit
    def streamed(theta, X, Y, partials, want_cost):
        W = cuda.shared.array(W_SIZE, f)
        acts = cuda.shared.array(ACT_SIZE, f)
        losses = cuda.shared.array(T, float64)
        dw = cuda.local.array(N_ACC, f)
        t = cuda.threadIdx.x
        stage(theta, partials, W, acts, dw, t)
        cuda.syncthreads()
        m = X.shape[1]
        loss = 0.0
        for tile in range(cuda.blockIdx.x, (m + TC - 1) // TC, cuda.gridDim.x):
            j0 = tile * TC
            load(X, acts, j0, m, t)
            cuda.syncthreads()
            forward(theta, partials, W, acts, dw, t)
            cuda.syncthreads()
            loss += output(acts, Y, j0, m, t, want_cost)
            cuda.syncthreads()
            backward(theta, partials, W, acts, dw, t)
            cuda.syncthreads()
        flush(theta, partials, W, acts, dw, t)
        losses[t] = loss
        cuda.syncthreads()
        if t == 0:
            total = 0.0
            for s in range(T):
                total += losses[s]
            partials[cuda.blockIdx.x, LOSS] = total

    return streamed, plan


@functools.lru_cache(maxsize=None)
def descend_kernel(entries, strands):
    """Kernel 2, ``(partials, theta, learning_rate, inv_m, costs, first, last)``, launched
    as ``[ceil((n_params + 1) / entries), entries * strands]``: entry e's ``strands``
    threads each sum every strands-th row of ``partials[:, e]`` (four interleaved
    running sums), then the first adds the strands' sums in order; ``grad = inv_m *
    sum``, ``theta <- theta - learning_rate * grad``.  The last entry (the loss) goes to
    ``costs[0]`` if ``first``, ``costs[1]`` if ``last``."""

    @cuda.jit
    def descend(partials, theta, learning_rate, inv_m, costs, first, last):
        sums = cuda.shared.array((strands, entries), float64)
        x, s = cuda.threadIdx.x % entries, cuda.threadIdx.x // entries
        e = cuda.blockIdx.x * entries + x
        rows, width = partials.shape
        total = 0.0
        if e < width:
            s0 = s1 = s2 = s3 = 0.0
            b = s
            while b + 3 * strands < rows:
                s0 += partials[b, e]
                s1 += partials[b + strands, e]
                s2 += partials[b + 2 * strands, e]
                s3 += partials[b + 3 * strands, e]
                b += 4 * strands
            while b < rows:
                s0 += partials[b, e]
                b += strands
            total = (s0 + s1) + (s2 + s3)
        sums[s, x] = total
        cuda.syncthreads()
        if s == 0 and e < width:
            for r in range(1, strands):
                total += sums[r, x]
            value = total * inv_m
            if e < width - 1:
                theta[e] = theta[e] - learning_rate * value
            else:
                if first:
                    costs[0] = value
                if last:
                    costs[1] = value

    return descend


# -- host side ------------------------------------------------------------------------

class StreamedTrainer(DeviceTrainer):
    """Gradient descent with the two kernels above; X, Y and theta stay on the device,
    and a ``run`` copies back only the two costs."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        if current_plan(net.layer_dims, X.dtype) is None:
            raise ValueError(f"layer_dims: {list(net.layer_dims)} is too wide for the streamed "
                             f"formulation (its {X.dtype} weights and a tile of examples must "
                             f"fit in {settings.SHARED_BYTES} bytes of shared memory)")
        self.dims, self.codes = tuple(net.layer_dims), tuple(int(c) for c in net.codes)
        self.m, self.dtype, self.slope = X.shape[1], X.dtype, float(net.slope)
        self.layout = Layout(net.layer_dims, 1)
        self.lr = X.dtype.type(learning_rate)
        self.theta = cuda.to_device(self.layout.pack(parameters, X.dtype))
        self.X = cuda.to_device(np.ascontiguousarray(X))
        self.Y = cuda.to_device(np.ascontiguousarray(Y))
        self.costs = cuda.device_array(2, np.float64)
        self.partials = None       # (NB, n_params + 1), allocated at the first run

    def steps(self, n_steps, want_last_cost):
        """Per iteration, ``streamed_kernel`` and ``descend_kernel``."""
        kernel, plan = streamed_kernel(self.dims, self.codes, self.slope, self.dtype,
                                       settings.ROW_GROUPS, settings.COLUMN_GROUPS,
                                       settings.COLUMNS_PER_THREAD)
        blocks = settings.BLOCKS or resident_blocks(   # each block loops over its tiles
            kernel, (typeof(self.theta), typeof(self.X), typeof(self.Y),
                     types.Array(types.float64, 2, "C"), types.boolean), plan.threads)
        partials = self.partials_for(blocks, plan.n_params + 1)
        entries, strands = settings.REDUCE_ENTRIES, settings.REDUCE_STRANDS
        descend = descend_kernel(entries, strands)
        reduce_grid = _ceil_div(plan.n_params + 1, entries)
        inv_m = 1.0 / self.m
        for step in range(n_steps):
            first, last = step == 0, want_last_cost and step == n_steps - 1
            kernel[blocks, plan.threads](self.theta, self.X, self.Y, partials, first or last)
            descend[reduce_grid, entries * strands](
                partials, self.theta, self.lr, inv_m, self.costs, first, last)

    def partials_for(self, blocks, width):
        """The ``(blocks, width)`` float64 buffer of kernel 1's sums (kept between runs)."""
        if self.partials is None or self.partials.shape != (blocks, width):
            self.partials = cuda.device_array((blocks, width), np.float64)
        return self.partials
