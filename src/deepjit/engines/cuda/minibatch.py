"""Mini-batch training on the cuda engine: the twin of ``cpu/minibatch.py``, with the same
``MiniBatchTrainer`` contract (see :mod:`deepjit.minibatch`).

X and Y stay on the device, one example per column; each epoch's example order is
uploaded once.  ``minibatch_kernel`` runs a whole chunk of updates (up to an epoch) in
ONE cooperative launch, two grid-wide barriers per update:

- phase 1, each block on its share of the batch's columns (a column range of the
  ``mb`` columns; every per-batch array has row stride ``mb``, and the last batch of
  an epoch may be smaller): gather ``X[:, order[e, b*bs + j]]`` and Y's columns, the
  forward pass (``dense_block.dense_layer``) with inverted dropout on the hidden layers
  (keep masks from Philox, :mod:`..philox`, keyed by (seed, step, layer, example, unit)
  exactly as on the cpu and in the numpy oracle, so all three draw the same masks bit
  for bit), the output, each column's loss and ``dZ_L = A_L - Y``, and the deltas
  down to ``dZ_1`` (``dropout_delta_back`` masks ``dA`` before ``g'``); block 0 also
  sums ``||W||^2`` for the L2 term;
- phase 2, a thread per entry of theta: its gradient (``1/mb`` times a dot product over
  the batch's columns, in float64) and at once the optimizer's update of that entry by
  the ``@njit`` rule of :mod:`..optimizers` (``update_segment`` on a one-entry
  segment; the schedule and the bias corrections by their ``@njit`` functions: the cpu
  engine's expressions); block 0 sums the columns' losses in a fixed order into the
  batch's cost (plus ``l2 / (2 mb) sum ||W||^2``).

No atomics: every sum has a fixed order, so runs are bitwise reproducible.
"""
import functools

import numpy as np
from numba import cuda, float64, typeof

from ...activations import SOFTMAX
from .. import losses, philox
from .. import optimizers as rules
from ..layout import Layout
from . import settings
from .compiler import bounded_jit, on_device
from .dense_block import dense_layer, dot, row_sum
from .device import cost_into, output_activation, resident_blocks
from .layers import block_sum, hidden, hidden_derivative
from .network import DeviceNetwork

update_segment = on_device(rules.update_segment)
LOW32, SHIFT32 = np.uint64(0xFFFFFFFF), np.uint64(32)


# -- phase 1: a block's columns j0 .. j0 + width - 1 of the batch ------------------------

@cuda.jit(device=True)
def gather(source, order, row, start, mb, j0, width, dest, d0):
    """``dest[d0 + i * mb + j] = source[i, order[row, start + j]]``."""
    for k in range(cuda.threadIdx.x, source.shape[0] * width, cuda.blockDim.x):
        i = k // width
        j = j0 + k - i * width
        dest[d0 + i * mb + j] = source[i, order[row, start + j]]


@cuda.jit(device=True)
def keep_pair(word, masks, at, stride, u, n_units, threshold):
    """Units ``u`` (low half of ``word``) and ``u + 1`` (high half): 1 where kept."""
    if u < n_units:
        masks[at + u * stride] = 1 if (word & LOW32) < threshold else 0
    if u + 1 < n_units:
        masks[at + (u + 1) * stride] = 1 if (word >> SHIFT32) < threshold else 0


@cuda.jit(device=True)
def draw_masks(masks, at, n_units, mb, j0, width, order, row, start, seed, step, layer,
               threshold):
    """``masks[at + u * mb + j]``: the keep decision of unit ``u`` of the batch's example
    ``j`` (``philox.fill_keep_mask``'s bits), one Philox call per eight units."""
    n_blocks = (n_units + philox.UNITS_PER_BLOCK - 1) // philox.UNITS_PER_BLOCK
    for k in range(cuda.threadIdx.x, n_blocks * width, cuda.blockDim.x):
        block = k // width
        j = j0 + k - block * width
        w0, w1, w2, w3 = philox.philox(np.uint64(block), np.uint64(order[row, start + j]),
                                       np.uint64(layer), np.uint64(step), np.uint64(seed),
                                       np.uint64(0))
        u = block * philox.UNITS_PER_BLOCK
        keep_pair(w0, masks, at + j, mb, u, n_units, threshold)
        keep_pair(w1, masks, at + j, mb, u + 2, n_units, threshold)
        keep_pair(w2, masks, at + j, mb, u + 4, n_units, threshold)
        keep_pair(w3, masks, at + j, mb, u + 6, n_units, threshold)


@cuda.jit(device=True)
def apply_masks(work, a, d, masks, n, mb, j0, width, keep_prob):
    """Inverted dropout: ``work[d + k] = work[a + k] / keep_prob`` where kept, else 0."""
    for k in range(cuda.threadIdx.x, n * width, cuda.blockDim.x):
        i = k // width
        at = i * mb + j0 + k - i * width
        work[d + at] = work[a + at] / keep_prob if masks[a + at] != 0 else 0.0


@cuda.jit(device=True)
def output_and_delta(work, z, a, yb, deltas, d, theta, b, n_out, mb, j0, width, code,
                     slope, column_losses, want_cost):
    """Per column ``j`` (a thread each): ``Z += b``, ``A = g(Z)``, ``dZ = A - Y`` (at
    ``deltas[d:]``); the column's loss (from Z, as ``engines/losses.py`` defines it) into
    ``column_losses[j]`` when ``want_cost``."""
    for j in range(j0 + cuda.threadIdx.x, j0 + width, cuda.blockDim.x):
        total = 0.0
        for i in range(n_out):
            work[z + i * mb + j] = work[z + i * mb + j] + theta[b + i]
        if code == SOFTMAX:
            zmax = work[z + j]
            for i in range(1, n_out):
                zmax = max(zmax, work[z + i * mb + j])
            shifted = 0.0
            for i in range(n_out):
                work[a + i * mb + j] = losses.shifted_exp(work[z + i * mb + j], zmax)
                shifted += work[a + i * mb + j]
            for i in range(n_out):
                work[a + i * mb + j] = work[a + i * mb + j] / shifted
            if want_cost:
                lse = losses.log_sum_exp(zmax, shifted)
                for i in range(n_out):
                    total += losses.cross_entropy_term(work[z + i * mb + j],
                                                       yb[i * mb + j], lse)
        else:       # sigmoid or linear: hidden() computes both
            for i in range(n_out):
                work[a + i * mb + j] = hidden(work[z + i * mb + j], code, slope)
                if want_cost:
                    total += losses.entry_loss(work[z + i * mb + j], yb[i * mb + j], code)
        for i in range(n_out):
            deltas[d + i * mb + j] = work[a + i * mb + j] - yb[i * mb + j]
        column_losses[j] = total


@cuda.jit(device=True)
def dropout_delta_back(theta, w, n, n_prev, deltas, d, p, work, a_prev, masks, keep_prob,
                       mb, j0, width, code, slope):
    """``dZ_prev = (mask / keep_prob * (W^T dZ)) * g'(A_prev)`` (no mask when
    ``keep_prob == 1``): dZ at ``deltas[d:]``, dZ_prev at ``deltas[p:]``."""
    for k in range(cuda.threadIdx.x, n_prev * width, cuda.blockDim.x):
        q = k // width
        at = q * mb + j0 + k - q * width
        total = 0.0
        for i in range(n):
            total += theta[w + i * n_prev + q] * deltas[d + i * mb + at - q * mb]
        deltas[p + at] = total                     # rounded to the dtype, as on the cpu
        if keep_prob < 1.0:
            deltas[p + at] = deltas[p + at] / keep_prob if masks[a_prev + at] != 0 else 0.0
        deltas[p + at] = hidden_derivative(deltas[p + at], work[a_prev + at], code, slope)


@cuda.jit(device=True)
def squared_weights(theta, dims, w_off, partial):
    """``sum ||W_l||^2`` over the layers, summed over the block (float64)."""
    total = 0.0
    for l in range(1, dims.size):
        size = dims[l] * dims[l - 1]
        for k in range(cuda.threadIdx.x, size, cuda.blockDim.x):
            total += theta[w_off[l] + k] * theta[w_off[l] + k]
    return block_sum(partial, total)


@cuda.jit(device=True)
def forward_and_back(theta, dims, w_off, b_off, a_off, d_off, g_off, codes, slope, X, Y,
                     order, row, start, step, mb, j0, width, options, keep_probs,
                     thresholds, work, masks, yb, deltas, column_losses, want_costs):
    """Phase 1 on the batch's columns ``j0 .. j0 + width - 1``: gather, forward with
    dropout, output, losses and ``dZ_L``, and the deltas down to ``dZ_1``."""
    L = dims.size - 1
    gather(X, order, row, start, mb, j0, width, work, a_off[0])
    gather(Y, order, row, start, mb, j0, width, yb, 0)
    cuda.syncthreads()
    for l in range(1, L):
        dense_layer(theta, w_off[l], b_off[l], dims[l], dims[l - 1], work,
                    d_off[l - 1], a_off[l], mb, j0, width, codes[l - 1], slope,
                    True)
        if keep_probs[l - 1] < 1.0:
            draw_masks(masks, a_off[l], dims[l], mb, j0, width, order, row, start,
                       options[3], step, l, thresholds[l - 1])
            cuda.syncthreads()
            apply_masks(work, a_off[l], d_off[l], masks, dims[l], mb, j0, width,
                        keep_probs[l - 1])
        cuda.syncthreads()
    dense_layer(theta, w_off[L], b_off[L], dims[L], dims[L - 1], work, d_off[L - 1],
                d_off[L], mb, j0, width, codes[L - 1], slope, False)
    cuda.syncthreads()
    output_and_delta(work, d_off[L], a_off[L], yb, deltas, g_off[L], theta,
                     b_off[L], dims[L], mb, j0, width, codes[L - 1], slope,
                     column_losses, want_costs)
    cuda.syncthreads()
    for l in range(L, 1, -1):
        dropout_delta_back(theta, w_off[l], dims[l], dims[l - 1], deltas, g_off[l],
                           g_off[l - 1], work, a_off[l - 1], masks,
                           keep_probs[l - 2], mb, j0, width, codes[l - 2], slope)
        cuda.syncthreads()


# -- phase 2: a thread per entry of theta ------------------------------------------------

@cuda.jit(device=True)
def gradient_entry(e, dims, w_off, b_off, d_off, g_off, work, deltas, mb):
    """``(gradient of theta[e] for the batch's mean loss, whether it is a weight)``."""
    inv_m = 1.0 / mb
    for l in range(1, dims.size):
        n_prev = dims[l - 1]
        if e < b_off[l]:
            i = (e - w_off[l]) // n_prev
            q = e - w_off[l] - i * n_prev
            return inv_m * dot(deltas, g_off[l] + i * mb, work, d_off[l - 1] + q * mb,
                               mb), True
        if e < b_off[l] + dims[l]:
            return inv_m * row_sum(deltas, g_off[l] + (e - b_off[l]) * mb, mb), False
    return 0.0, False


# -- the kernel -------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def minibatch_kernel(threads):
    """``costs.size`` updates from ``step0``, a cooperative grid of blocks of
    ``threads`` threads (a power of two).

    ``(theta, v, s, grad, dims, w_off, b_off, a_off, d_off, g_off, codes, slope, X, Y,
    order, first_epoch, step0, batch_size, options, hyper, keep_probs, thresholds, work,
    masks, yb, deltas, column_losses, parts, costs)``: ``options = (optimizer, schedule,
    time_interval, seed, want_costs)``, ``hyper = (beta1, beta2, eps, lr0, decay_rate,
    l2)``; in ``work`` the batch's X at ``a_off[0]``, layer l's activations at
    ``a_off[l]`` (A_L at ``a_off[L]``, Z_L at ``d_off[L]``), its dropped activations at
    ``d_off[l]`` (``= a_off[l]`` without dropout; ``d_off[0] = a_off[0]``); ``masks`` is
    laid out as ``work``; dZ_l at ``deltas[g_off[l]:]``; the batch's columns are cut
    into ``parts`` ranges, dealt to the blocks in turn (the CUDA simulator runs one
    block, so more parts than blocks is how its tests split the columns);
    ``costs[k]`` gets update k's batch cost."""

    @bounded_jit(threads)
    def minibatch_steps(theta, v, s, grad, dims, w_off, b_off, a_off, d_off, g_off, codes,
                        slope, X, Y, order, first_epoch, step0, batch_size, options, hyper,
                        keep_probs, thresholds, work, masks, yb, deltas, column_losses,
                        parts, costs):
        partial = cuda.shared.array(threads, float64)
        grid = cuda.cg.this_grid()
        block, n_blocks = cuda.blockIdx.x, cuda.gridDim.x
        m = X.shape[1]
        n_batches = (m + batch_size - 1) // batch_size
        code, want_costs, l2 = options[0], options[4] != 0, hyper[5]
        for k in range(costs.size):
            step = step0 + k
            epoch = step // n_batches
            start = (step - epoch * n_batches) * batch_size
            mb = min(batch_size, m - start)
            row = epoch - first_epoch
            columns = (mb + parts - 1) // parts
            for part in range(block, parts, n_blocks):
                j0 = min(part * columns, mb)
                forward_and_back(theta, dims, w_off, b_off, a_off, d_off, g_off, codes,
                                 slope, X, Y, order, row, start, step, mb, j0,
                                 min(columns, mb - j0), options, keep_probs, thresholds,
                                 work, masks, yb, deltas, column_losses, want_costs)
            squares = 0.0
            if block == 0 and want_costs and l2 != 0.0:
                squares = squared_weights(theta, dims, w_off, partial)
            grid.sync()
            # phase 2: the cost, and every entry's gradient and update
            if block == 0 and want_costs:
                total = 0.0
                for j in range(cuda.threadIdx.x, mb, threads):
                    total += column_losses[j]
                cost = block_sum(partial, total) / mb
                if l2 != 0.0:
                    cost += l2 / (2.0 * mb) * squares
                if cuda.threadIdx.x == 0:
                    costs[k] = cost
            lr = rules.scheduled_rate(options[1], hyper[3], hyper[4], options[2], epoch)
            c1, c2 = rules.bias_corrections(code, hyper[0], hyper[1], step + 1)
            for e in range(cuda.grid(1), theta.size, cuda.gridsize(1)):
                gradient, is_weight = gradient_entry(e, dims, w_off, b_off, d_off, g_off,
                                                     work, deltas, mb)
                grad[e] = gradient
                update_segment(code, theta, grad, v, s, e, e + 1, lr,
                               l2 / mb if is_weight else 0.0, hyper[0], hyper[1], hyper[2],
                               c1, c2)
            grid.sync()

    return minibatch_steps


# -- the host side ----------------------------------------------------------------------

def delta_offsets(dims, batch_size):
    """``(g_off, size)``: layer l's dZ_l at ``g_off[l]`` of the deltas buffer."""
    g_off = np.zeros(len(dims), np.int64)
    g_off[1:] = np.cumsum([0] + [n * batch_size for n in dims[1:-1]])
    return g_off, sum(dims[1:]) * batch_size


def work_offsets(dims, batch_size, keep_probs):
    """``(a_off, d_off, size)`` of the work buffer for batches of ``batch_size``: X,
    the hidden activations and A_L, their dropped copies (only where ``keep_probs[l-1]
    < 1``), Z_L."""
    L = len(dims) - 1
    a_off, d_off = np.zeros(L + 1, np.int64), np.zeros(L + 1, np.int64)
    at = dims[0] * batch_size
    for l in range(1, L + 1):
        a_off[l], at = at, at + dims[l] * batch_size
    for l in range(1, L + 1):
        if l == L or keep_probs[l - 1] < 1.0:
            d_off[l], at = at, at + dims[l] * batch_size
        else:
            d_off[l] = a_off[l]
    return a_off, d_off, at


class MiniBatchTrainer:
    """The device's flat parameters ``theta`` and optimizer buffers ``v``, ``s`` (same
    layout), the update counter ``step``, X, Y, the current epoch order and the work
    buffers of one batch.  ``num_threads`` (the cpu's) changes nothing."""

    def __init__(self, parameters, state, X, Y, net, plan, num_threads=None):
        dtype, self.net, self.plan = X.dtype, net, plan
        bs, dims = plan.batch_size, net.layer_dims
        self.layout = Layout(dims, bs)
        self.theta = cuda.to_device(self.layout.pack(parameters, dtype))
        names = plan.optimizer.state_names
        self.v, self.s = (cuda.to_device(self.layout.pack(state.buffers[n], dtype)
                                         if n in names else np.zeros(self.layout.size, dtype))
                          for n in ("v", "s"))
        self.grad = cuda.device_array(self.layout.size, dtype)
        self.step, self.m = state.step, X.shape[1]
        self.X = cuda.to_device(np.ascontiguousarray(X))
        self.Y = cuda.to_device(np.ascontiguousarray(Y))
        self.slope = dtype.type(net.slope)
        keep_probs = plan.keep_probs + (1.0,)
        a_off, d_off, size = work_offsets(dims, bs, keep_probs)
        g_off, delta_size = delta_offsets(dims, bs)
        self.offsets = [cuda.to_device(a) for a in (self.layout.dims, self.layout.w_off,
                                                    self.layout.b_off, a_off, d_off, g_off)]
        self.codes = cuda.to_device(net.codes)
        beta1, beta2, eps = plan.optimizer.hyper
        decay_rate, interval = plan.schedule.hyper
        self.options = np.array([plan.optimizer.code, plan.schedule.code, interval,
                                 plan.seed, 1], dtype=np.int64)
        self.hyper = cuda.to_device(np.array([beta1, beta2, eps, plan.learning_rate,
                                              decay_rate, plan.l2]))
        self.keep_probs = cuda.to_device(np.array(keep_probs))
        self.thresholds = cuda.to_device(np.array([philox.keep_threshold(p)
                                                   for p in keep_probs], dtype=np.uint64))
        self.work = cuda.to_device(np.zeros(size, dtype))
        self.masks = cuda.to_device(np.zeros(size, np.uint8))
        self.yb = cuda.device_array(dims[-1] * bs, dtype)
        self.deltas = cuda.device_array(delta_size, dtype)
        self.column_losses = cuda.device_array(bs, np.float64)
        self.order, self.order_on_device = None, None
        self.grids = {}             # threads per block: blocks (at the first run)

    def _upload(self, order):
        """The order on the device, uploaded only when it changed (once per epoch)."""
        if self.order is None or self.order.shape != order.shape or \
                not np.array_equal(self.order, order):
            self.order = order.copy()
            self.order_on_device = cuda.to_device(self.order)
        return self.order_on_device

    def run(self, order, first_epoch, n_steps, want_costs=True):
        """``n_steps`` updates from ``self.step`` in one launch; each batch's cost (None
        without ``want_costs``).  ``order (k, m)`` int64 holds the example order of
        epochs ``first_epoch ..`` (every epoch those updates touch)."""
        order = np.ascontiguousarray(order, dtype=np.int64)
        nb = -(-self.m // self.plan.batch_size)
        last_epoch = (self.step + n_steps - 1) // nb
        if order.ndim != 2 or order.shape[1] != self.m or \
                not first_epoch <= self.step // nb or last_epoch - first_epoch >= order.shape[0]:
            raise ValueError("order: does not cover the epochs of these updates")
        if order.size and (order.min() < 0 or order.max() >= self.m):
            raise ValueError(f"order: example indices must lie in 0..{self.m - 1}")
        if n_steps < 1:
            return np.empty(0) if want_costs else None
        self.options[4] = want_costs
        threads, parts = settings.MINIBATCH_THREADS, self.parts()
        arguments = self.arguments(self._upload(order), first_epoch, parts, n_steps)
        minibatch_kernel(threads)[self.blocks(threads, parts, arguments), threads](
            *arguments)
        self.step += n_steps
        return arguments[-1].copy_to_host() if want_costs else None

    def arguments(self, order, first_epoch, parts, n_steps):
        return (self.theta, self.v, self.s, self.grad, *self.offsets, self.codes, self.slope,
                self.X, self.Y, order, first_epoch, self.step, self.plan.batch_size,
                cuda.to_device(self.options), self.hyper, self.keep_probs, self.thresholds,
                self.work, self.masks, self.yb, self.deltas, self.column_losses, parts,
                cuda.device_array(n_steps, np.float64))

    def parts(self):
        """The blocks wanted, one column range of a batch each: ``MINIBATCH_BLOCKS``, or
        enough for a thread per entry of theta or eight columns per block."""
        threads = settings.MINIBATCH_THREADS
        return settings.MINIBATCH_BLOCKS or max(-(-self.layout.size // threads),
                                                -(-self.plan.batch_size // 8))

    def blocks(self, threads, parts, arguments):
        """The grid: ``parts`` blocks, at most as many as the GPU holds at once (they meet
        at grid barriers; 1 in the simulator)."""
        if threads not in self.grids:
            signature = [typeof(a) for a in arguments]
            self.grids[threads] = resident_blocks(minibatch_kernel(threads), signature,
                                                  threads)
        return min(parts, self.grids[threads])

    def parameters(self):
        return self.layout.unpack(self.theta.copy_to_host())

    def optimizer_buffers(self):
        return {n: self.layout.unpack(getattr(self, n).copy_to_host())
                for n in self.plan.optimizer.state_names}

    def is_finite(self):
        return bool(np.isfinite(self.theta.copy_to_host()).all())

    def snapshot(self):
        return (self.theta.copy_to_host(), self.v.copy_to_host(), self.s.copy_to_host(),
                self.step)

    def restore(self, snapshot):
        theta, v, s, self.step = snapshot
        self.theta.copy_to_device(theta)
        self.v.copy_to_device(v)
        self.s.copy_to_device(s)

    def evaluate(self, X, Y):
        """``(cost, A_L)`` of course-oriented data (no dropout, no L2 term), on the
        device."""
        m, net = X.shape[1], self.net
        device = DeviceNetwork(self.parameters(), net, m, X.dtype)
        device.forward_hidden(cuda.to_device(np.ascontiguousarray(X)))
        L, code = net.L, device.codes[net.L - 1]
        output_activation(device.ZL, device.b[L], code, device.A[L])
        cost = cuda.device_array(1, np.float64)
        cost_into(device.ZL, cuda.to_device(np.ascontiguousarray(Y)), code,
                  cuda.device_array((1, m), X.dtype), cost)
        return float(cost.copy_to_host()[0]), device.A[L].copy_to_host()
