"""Mini-batch training on the cpu engine: a whole run of updates (an epoch, or several) in
one compiled call.

The examples are copied once per fit into an example-major array ``Xe : (m, n_0)`` (and
``Ye : (m, n_L)``), so gathering a shuffled batch copies contiguous rows.  Inside a batch
everything is example-major too: layer l's activations are ``(batch, n_l)``, ``Z = A_prev
W^T``, and the weight gradient ``dW = dZ^T A_prev / batch``.  Dropout masks come from
Philox (:mod:`..philox`), so they are the numpy oracle's (:mod:`..reference_minibatch`),
and the update is the fused loop of :mod:`..optimizers` over the flat parameters, with the
optimizer state in flat buffers of the same layout.  No array is allocated inside the
compiled call.
"""
import math
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from numba import njit

from ...activations import LEAKY_RELU, LINEAR, RELU, SIGMOID, SOFTMAX, TANH
from ...blas import THREADED_WORK, blas_limit
from .. import optimizers as rules
from .. import philox
from ..layout import Layout
from . import spin, vecmath
from .blocks import threads_for
from .layers import cost
from .network import forward, layer
from .prefetch import prefetch

kernel = njit(cache=True, error_model="numpy")
threaded = njit(cache=True, error_model="numpy", nogil=True)

MAX_PARTS = 2
RETRY_CALLS = 16        # calls between two tries of the thread count not in use
# Multiply-adds of a batch's forward pass (examples x sum of n_l n_{l-1}) from which its
# two halves pay for running on two threads: on the 2-core development machine (quiet,
# 2026-12-02; us per Adam update, one part on one thread / two parts on two) [40, 100, 10]
# batches of 16 (8e4) 24.8 / 26.6, 32 (1.6e5) 36.0 / 30.4, 64 (3.2e5) 52.6 / 37.8, 200
# 112 / 70; [64, 100, 10] batches of 32 (2.4e5) 39 / 42, 64 (4.7e5) 59 / 53.
SPLIT_WORK = 1 << 18


def split_rows(dims, batch_size):
    """The fewest examples of a batch that is cut into two parts (more than
    ``batch_size``: none is).  The problem's size decides, never the thread count.  A
    batch product of ``blas.THREADED_WORK`` multiply-adds or more (the cat images' first
    layer) is not cut: each part would transpose and sum a big W of its own (an epoch of
    [12288, 100, 1], batches of 200, took 55 ms as two parts on one thread, 31 on two,
    against 40 as one part and 32 with BLAS on both cores)."""
    products = [a * b for a, b in zip(dims[1:], dims[:-1])]
    if batch_size * max(products) >= THREADED_WORK:
        return batch_size + 1
    return max(2, -(-SPLIT_WORK // sum(products)))


@kernel
def _output_rows(Z, Y, code, A, want_cost=True):
    """``A = g(Z)`` row by row (one example per row) for softmax, sigmoid or linear, and
    the summed loss from ``Z`` as ``reference.cost`` defines it (softmax reuses its
    log-sum-exp: one log per example), or NaN without ``want_cost``."""
    if code == SOFTMAX:
        return _softmax_rows(Z, Y, A)
    if not want_cost:
        _output_activation_rows(Z, code, A)
        return np.nan
    total = 0.0
    for j in range(Z.shape[0]):
        z, a, y = Z[j], A[j], Y[j]
        if code == SIGMOID:
            for i in range(z.size):
                e = vecmath.exp(-abs(z[i]))
                a[i] = 1.0 / (1.0 + e) if z[i] >= 0 else e / (1.0 + e)
                total += max(z[i], 0.0) - z[i] * y[i] + math.log1p(e)
        else:
            for i in range(z.size):
                a[i] = z[i]
                total += 0.5 * (z[i] - y[i]) * (z[i] - y[i])
    return total


@kernel
def _output_activation_rows(Z, code, A):
    """``A = g(Z)`` for the sigmoid or linear output, as :func:`_output_rows` computes it
    (without the loss's ``log1p``: libm's scalar call took a fifth of a tiny network's
    update)."""
    z, a = Z.reshape(Z.size), A.reshape(A.size)
    for i in range(z.size):
        if code == SIGMOID:
            e = vecmath.exp(-abs(z[i]))
            a[i] = 1.0 / (1.0 + e) if z[i] >= 0 else e / (1.0 + e)
        else:
            a[i] = z[i]


@kernel
def _row_max(z, start, stop):
    """The largest of ``z[start:stop]`` (a NaN there makes the row's softmax NaN anyway)."""
    zmax = z[start]
    for i in range(start + 1, stop):
        zmax = z[i] if z[i] > zmax else zmax
    return zmax


@kernel
def _softmax_rows(Z, Y, A):
    """Softmax of each row of ``Z`` into ``A`` and the summed cross-entropy.  The
    exponentials run as one flat loop over the whole block (rows of a few classes are too
    short to vectorise one by one); ``A`` holds the row maxima meanwhile."""
    m, n = Z.shape
    z, a, y = Z.reshape(m * n), A.reshape(m * n), Y.reshape(m * n)
    for j in range(m):
        zmax = _row_max(z, j * n, j * n + n)
        for i in range(j * n, j * n + n):
            a[i] = zmax
    for i in range(m * n):
        a[i] = vecmath.exp(z[i] - a[i])
    total = 0.0
    for j in range(m):
        start, s = j * n, 0.0
        for i in range(start, start + n):
            s += a[i]
        lse = _row_max(z, start, start + n) + math.log(s)
        for i in range(start, start + n):
            total += y[i] * (lse - z[i])
        row = a[start:start + n]    # a loop of its own from 0: the divisions vectorise
        for i in range(n):
            row[i] = row[i] / s
    return total


@kernel
def _bias_activation_rows(Z, b, code, slope):
    """In place: ``Z <- g(Z + b)`` for a hidden code, one example per row (LINEAR only
    adds the bias); one loop per code so that each vectorises."""
    for j in range(Z.shape[0]):
        row = Z[j]
        if code == RELU:
            for i in range(row.size):
                z = row[i] + b[i]
                row[i] = 0.0 if z <= 0 else z
        elif code == LEAKY_RELU:
            for i in range(row.size):
                z = row[i] + b[i]
                row[i] = slope * z if z <= 0 else z
        elif code == SIGMOID:
            for i in range(row.size):
                row[i] = vecmath.sigmoid(row[i] + b[i])
        elif code == TANH:
            for i in range(row.size):
                row[i] = vecmath.tanh(row[i] + b[i])
        else:
            for i in range(row.size):
                row[i] = row[i] + b[i]


@kernel
def _apply_mask(A, mask, keep_prob, out):
    """Inverted dropout: ``out = A / keep_prob`` where kept, 0 elsewhere."""
    a, kept, o = A.reshape(A.size), mask.reshape(mask.size), out.reshape(out.size)
    for i in range(a.size):      # one flat loop: rows of a few units vectorise badly
        o[i] = a[i] / keep_prob if kept[i] != 0 else 0.0


@kernel
def _hidden_backward(dA, A, mask, keep_prob, code, slope):
    """In place: ``dA <- dA * mask / keep_prob`` (when ``keep_prob < 1``) then ``dA <- dA
    * g'(Z)`` from ``A = g(Z)``: ``dA`` becomes the layer's ``dZ``.  Flat loops, one per
    code, so that each vectorises (a loop choosing the code per entry did not)."""
    d, a, kept = dA.reshape(dA.size), A.reshape(A.size), mask.reshape(mask.size)
    if keep_prob < 1.0:
        for i in range(d.size):
            d[i] = d[i] / keep_prob if kept[i] != 0 else 0.0
    if code == RELU:
        for i in range(d.size):
            d[i] = d[i] if a[i] > 0 else 0.0
    elif code == LEAKY_RELU:
        for i in range(d.size):
            d[i] = d[i] if a[i] > 0 else slope * d[i]
    elif code == SIGMOID:
        for i in range(d.size):
            d[i] = d[i] * (a[i] * (1.0 - a[i]))
    elif code == TANH:
        for i in range(d.size):
            d[i] = d[i] * (1.0 - a[i] * a[i])


PREFETCH_ROWS_AHEAD = 8     # a random-row epoch gather took 12 ms without, 4-5 with


@kernel
def gather_rows(src, examples, dst):
    """``dst[j] = src[examples[j]]``, asking for the row ``PREFETCH_ROWS_AHEAD`` ahead
    (every 64-byte line of it) while copying this one."""
    n, width = examples.size, dst.shape[1]
    line = max(1, 64 // src.itemsize)
    for j in range(n):
        if j + PREFETCH_ROWS_AHEAD < n:
            ahead = examples[j + PREFETCH_ROWS_AHEAD]
            for i in range(0, width, line):
                prefetch(src, ahead, i)
        row, out = src[examples[j]], dst[j]     # 1-d views: the copy vectorises
        for i in range(width):
            out[i] = row[i]


@kernel
def _consecutive(examples):
    """Whether ``examples`` is ``k, k + 1, k + 2, ...``."""
    first = examples[0]
    for j in range(examples.size):
        if examples[j] != first + j:
            return False
    return True


@kernel
def _weight_gradient(dZ, A_prev, dW, db, batch):
    """``dW = dZ^T A_prev / batch``, ``db = column sums of dZ / batch`` (``dZ`` holds the
    rows of the batch's examples, or of a part of them)."""
    inv_m = 1.0 / batch
    np.dot(dZ.T, A_prev, dW)
    for i in range(dW.shape[0]):
        for k in range(dW.shape[1]):
            dW[i, k] = inv_m * dW[i, k]
    db[:] = 0.0
    for j in range(dZ.shape[0]):
        for i in range(dZ.shape[1]):
            db[i] += dZ[j, i]
    for i in range(db.size):
        db[i] = inv_m * db[i]


@kernel
def _product_with_transpose(A, W, WT, out):
    """``out = A W^T`` through a C-ordered copy ``WT`` of ``W^T``: numba's ``np.dot`` with
    a transposed second operand ran ten times slower than this copy and a plain product."""
    for i in range(W.shape[0]):
        for k in range(W.shape[1]):
            WT[k, i] = W[i, k]
    np.dot(A, WT, out)


@kernel
def forward_batch(theta, lay, codes, slope, Xb, Yb, examples, step, seed, keep_probs,
                  thresholds, acts, drops, masks, ZL, AL, wt, fill_masks=True,
                  want_cost=True):
    """The batch's forward pass with dropout: fills ``acts`` (the activations), ``drops``
    (dropped activations, for layers with ``keep_probs[l - 1] < 1``), ``masks`` (unless
    ``fill_masks`` is False: then the masks already there are used), ``ZL`` and ``AL``;
    returns the batch's summed loss (NaN without ``want_cost``, except for softmax).
    ``wt``: room for the largest W."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, Xb.shape[0]
    A_prev = Xb
    for l in range(1, L + 1):
        W = layer(theta, w_off[l], dims[l], dims[l - 1])
        WT = layer(wt, 0, dims[l - 1], dims[l])
        b = theta[b_off[l]:b_off[l] + dims[l]]
        if l == L:
            _product_with_transpose(A_prev, W, WT, ZL)
            _bias_activation_rows(ZL, b, LINEAR, slope)
            return _output_rows(ZL, Yb, codes[L - 1], AL, want_cost)
        A = layer(acts, a_off[l], m, dims[l])
        _product_with_transpose(A_prev, W, WT, A)
        _bias_activation_rows(A, b, codes[l - 1], slope)
        if keep_probs[l - 1] < 1.0:
            mask = layer(masks, a_off[l], m, dims[l])
            if fill_masks:
                philox.fill_keep_mask(mask, seed, step, l, examples, thresholds[l - 1])
            A_prev = layer(drops, a_off[l], m, dims[l])
            _apply_mask(A, mask, keep_probs[l - 1], A_prev)
        else:
            A_prev = A
    return 0.0      # not reached: the output layer returns


@kernel
def backward_batch(theta, lay, codes, slope, Xb, Yb, keep_probs, acts, drops, masks, AL,
                   grad, buf1, buf2, batch):
    """The gradients of the loss summed over ``Xb``'s examples, over ``batch`` (the mean
    loss's when ``Xb`` is the whole batch; without the L2 term), into ``grad``."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, Xb.shape[0]
    dZ = layer(buf1, 0, m, dims[L])
    for j in range(m):
        for i in range(dims[L]):
            dZ[j, i] = AL[j, i] - Yb[j, i]
    spare = buf2
    for l in range(L, 0, -1):
        if l == 1:
            A_in = Xb
        elif keep_probs[l - 2] < 1.0:
            A_in = layer(drops, a_off[l - 1], m, dims[l - 1])
        else:
            A_in = layer(acts, a_off[l - 1], m, dims[l - 1])
        _weight_gradient(dZ, A_in, layer(grad, w_off[l], dims[l], dims[l - 1]),
                         grad[b_off[l]:b_off[l] + dims[l]], batch)
        if l > 1:
            dA = layer(spare, 0, m, dims[l - 1])
            np.dot(dZ, layer(theta, w_off[l], dims[l], dims[l - 1]), dA)
            _hidden_backward(dA, layer(acts, a_off[l - 1], m, dims[l - 1]),
                             layer(masks, a_off[l - 1], m, dims[l - 1]), keep_probs[l - 2],
                             codes[l - 2], slope)
            spare = buf1 if spare is buf2 else buf2
            dZ = dA


@kernel
def sum_of_squared_weights(theta, lay):
    dims, w_off, _, _ = lay
    total = 0.0
    for l in range(1, dims.size):
        total += _sum_of_squares(theta[w_off[l]:w_off[l] + dims[l] * dims[l - 1]])
    return total


@kernel
def _sum_of_squares(x):
    """``sum(x * x)`` in eight interleaved partial sums (a single running sum waits on
    each addition in turn: 1 ms of a 36 ms MNIST-1D epoch with L2)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    n8 = x.size - x.size % 8
    for j in range(0, n8, 8):
        s0 += x[j] * x[j]
        s1 += x[j + 1] * x[j + 1]
        s2 += x[j + 2] * x[j + 2]
        s3 += x[j + 3] * x[j + 3]
        s4 += x[j + 4] * x[j + 4]
        s5 += x[j + 5] * x[j + 5]
        s6 += x[j + 6] * x[j + 6]
        s7 += x[j + 7] * x[j + 7]
    total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    for j in range(n8, x.size):
        total += x[j] * x[j]
    return total


@kernel
def _update_slice(opt_code, theta, grad, v, s, start, stop, lr, l2, beta1, beta2, eps, c1,
                  c2):
    """``rules.update_segment`` on the slices ``[start:stop]``, so that its loops start at
    0: LLVM then drops numba's negative-index wraparound and vectorises them (a third of
    the update's time before)."""
    rules.update_segment(opt_code, theta[start:stop], grad[start:stop], v[start:stop],
                         s[start:stop], 0, stop - start, lr, l2, beta1, beta2, eps, c1, c2)


@kernel
def _sum_and_update(opt_code, theta, grads, parts, v, s, start, stop, lo, hi, lr, l2,
                    beta1, beta2, eps, c1, c2):
    """On ``[start:stop]`` within ``[lo:hi)``: ``grads[0] += grads[1]`` (for two parts),
    then the optimizer's update from ``grads[0]``."""
    start, stop = max(start, lo), min(stop, hi)
    if start >= stop:
        return
    total = grads[0, start:stop]
    for p in range(1, parts):
        part = grads[p, start:stop]
        for i in range(total.size):
            total[i] = total[i] + part[i]
    _update_slice(opt_code, theta, grads[0], v, s, start, stop, lr, l2, beta1, beta2, eps, c1,
                  c2)


@kernel
def update_range(theta, grads, parts, v, s, lay, lo, hi, opt_code, lr, l2_per_example,
                 hyper, t):
    """The optimizer's update of the flat parameters ``lo <= k < hi`` (W with the L2
    term, b) from the sum of the parts' gradients ``grads[0] + grads[1]``.  Every entry
    is computed on its own, so ranges updated by different threads give the bits of
    one update of everything."""
    dims, w_off, b_off, _ = lay
    beta1, beta2, eps = hyper[0], hyper[1], hyper[2]
    c1, c2 = rules.bias_corrections(opt_code, beta1, beta2, t)
    for l in range(1, dims.size):
        _sum_and_update(opt_code, theta, grads, parts, v, s, w_off[l],
                        w_off[l] + dims[l] * dims[l - 1], lo, hi, lr, l2_per_example, beta1,
                        beta2, eps, c1, c2)
        _sum_and_update(opt_code, theta, grads, parts, v, s, b_off[l], b_off[l] + dims[l], lo,
                        hi, lr, 0.0, beta1, beta2, eps, c1, c2)


@kernel
def part_gradient(p, parts, theta, lay, part_off, codes, slope, Xe, Ye, examples, step,
                  seed, keep_probs, thresholds, Xb, Yb, acts, drops, masks, ZL, AL, wt, grad,
                  buf1, buf2, fill_masks, want_cost):
    """Part ``p`` of ``parts`` of the batch ``examples`` (its rows ``p * mb // parts`` to
    ``(p + 1) * mb // parts``): gathers them into their rows of ``Xb``/``Yb``, runs the
    forward pass in their rows of ``acts``, ``drops``, ``masks``, ``ZL``, ``AL`` (through
    the offsets ``part_off``, room for ``dims.size`` of them) and the backward pass into
    ``grad`` (summed over the part, over the WHOLE batch's size), in the part's own
    ``wt``, ``buf1``, ``buf2``; returns the part's summed loss."""
    dims, w_off, b_off, a_off = lay
    mb = examples.size
    r0, r1 = p * mb // parts, (p + 1) * mb // parts
    rows, n0, nL = r1 - r0, Xe.shape[1], Ye.shape[1]
    for l in range(dims.size):
        part_off[l] = a_off[l] + r0 * dims[l]
    part_lay = (dims, w_off, b_off, part_off)
    mine = examples[r0:r1]
    if _consecutive(mine):      # rows in order: no copy
        Xv = layer(Xe.reshape(Xe.size), mine[0] * n0, rows, n0)
        Yv = layer(Ye.reshape(Ye.size), mine[0] * nL, rows, nL)
    else:
        Xv, Yv = layer(Xb, r0 * n0, rows, n0), layer(Yb, r0 * nL, rows, nL)
        gather_rows(Xe, mine, Xv)
        gather_rows(Ye, mine, Yv)
    ZLv, ALv = layer(ZL, r0 * nL, rows, nL), layer(AL, r0 * nL, rows, nL)
    loss = forward_batch(theta, part_lay, codes, slope, Xv, Yv, mine, step, seed, keep_probs,
                         thresholds, acts, drops, masks, ZLv, ALv, wt, fill_masks, want_cost)
    backward_batch(theta, part_lay, codes, slope, Xv, Yv, keep_probs, acts, drops, masks, ALv,
                   grad, buf1, buf2, mb)
    return loss


TASKS_PER_STEP = 4     # part 0, part 1 (nothing for a batch of one part), two update halves


@threaded
def minibatch_worker(sync, theta, v, s, lay, codes, slope, Xe, Ye, order,
                     first_epoch, step0, batch_size, settings, hyper, keep_probs, thresholds,
                     Xb, Yb, acts, drops, masks, ZL, AL, wt, grads, buf1, buf2, part_offs,
                     losses, costs):
    """One of the calls (one per thread, any number) that share ``costs.size`` updates,
    numbered from ``step0``.  Each update is ``TASKS_PER_STEP`` tasks, which the calls take in order
    from the counter ``sync[spin.CLAIMED]``: the gradients of the batch's parts
    (:func:`part_gradient`; a batch of at least ``settings[6]`` examples is two parts,
    else one), then the sum and update of the parameters' two halves
    (:func:`update_range`; the second also writes the batch's cost, with the L2 term,
    into ``costs``: NaN unless ``want_costs``).  A task waits (``sync[spin.DONE]``) until
    the tasks of the stage before it are done.  Part p works in its own ``grads[p]``,
    ``wt[p]``, ``buf1[p]``, ``buf2[p]``, ``part_offs[p]``, ``losses[p]`` whichever
    thread takes it, so the bits are the same on any number of threads, and a thread
    that lost its core holds up the others only while it is inside a task.
    ``settings = (optimizer, schedule, time_interval, seed, fill_masks, want_costs,
    min_split)``, ``hyper = (beta1, beta2, epsilon, lr0, decay_rate, l2)``; ``order[e]``
    is the example order of epoch ``first_epoch + e``.  Returns False if released by
    an abort (``spin.ABORT``)."""
    opt_code, sched_code, interval, seed = settings[0], settings[1], settings[2], settings[3]
    fill_masks, want_costs, min_split = settings[4] != 0, settings[5] != 0, settings[6]
    lr0, decay_rate, l2 = hyper[3], hyper[4], hyper[5]
    m, size = Xe.shape[0], theta.size
    nb = (m + batch_size - 1) // batch_size
    halves = (0, size // 2, size)       # the update's two ranges: by the parameters' count
    n_tasks = costs.size * TASKS_PER_STEP
    while True:
        task = spin.atomic_add(sync, spin.CLAIMED, 1)
        if task >= n_tasks:
            return True
        k, slot = task // TASKS_PER_STEP, task % TASKS_PER_STEP
        stage_start = task - slot % 2        # slots 0, 1: the parts; 2, 3: the update
        if not spin.wait_until(sync, spin.DONE, stage_start):
            return False
        step = step0 + k
        epoch, b = step // nb, step % nb
        examples = order[epoch - first_epoch, b * batch_size:min(m, (b + 1) * batch_size)]
        mb = examples.size
        parts = 2 if mb >= min_split else 1
        if slot < 2 and slot < parts:
            losses[slot] = part_gradient(slot, parts, theta, lay, part_offs[slot], codes,
                                         slope, Xe, Ye, examples, step, seed, keep_probs,
                                         thresholds, Xb, Yb, acts, drops, masks, ZL, AL,
                                         wt[slot], grads[slot], buf1[slot], buf2[slot],
                                         fill_masks, want_costs)
            if slot == 0 and l2 != 0.0 and want_costs:    # before theta's update
                losses[2] = l2 / (2.0 * mb) * sum_of_squared_weights(theta, lay)
        elif slot >= 2:
            h = slot - 2
            lr = rules.scheduled_rate(sched_code, lr0, decay_rate, interval, epoch)
            update_range(theta, grads, parts, v, s, lay, halves[h], halves[h + 1], opt_code,
                         lr, l2 / mb, hyper, step + 1)
            if h == 1:
                loss = losses[0]
                for p in range(1, parts):
                    loss += losses[p]
                costs[k] = loss / mb
                if l2 != 0.0 and want_costs:
                    costs[k] += losses[2]
        spin.add_and_wake(sync, spin.DONE)


@cache
def _partner_pool():
    """The one thread that runs the second worker of every trainer in this process.  A
    worker whose partner waits behind another trainer's just takes every task itself
    (and cancels the partner), so trainers on several Python threads never wait for
    each other."""
    return ThreadPoolExecutor(1, thread_name_prefix="deepjit-minibatch")


class MiniBatchTrainer:
    """The flat parameters ``theta`` and optimizer buffers ``v``, ``s`` (same layout), the
    update counter ``step``, and the work buffers for one batch (per part where parts
    keep their own).  Batches of ``min_split`` examples or more run as two parts
    (:func:`split_rows`), on ``num_threads`` threads (all cores by default, at most
    two); the results are the same bits for any ``num_threads``."""

    def __init__(self, parameters, state, X, Y, net, plan, num_threads=None):
        dtype, self.net, self.plan = X.dtype, net, plan
        bs, dims = plan.batch_size, net.layer_dims
        self.layout = Layout(dims, bs)
        self.theta = self.layout.pack(parameters, dtype)
        names = plan.optimizer.state_names
        self.v, self.s = (self.layout.pack(state.buffers[n], dtype) if n in names
                          else np.zeros(0, dtype) for n in ("v", "s"))
        self.step = state.step
        self.Xe, self.Ye = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)
        self.codes, self.slope = net.codes, dtype.type(net.slope)
        beta1, beta2, eps = plan.optimizer.hyper
        decay_rate, interval = plan.schedule.hyper
        self.min_split = split_rows(dims, bs)
        self.settings = np.array([plan.optimizer.code, plan.schedule.code, interval,
                                  plan.seed, 1, 1, self.min_split], dtype=np.int64)
        self.hyper = np.array([beta1, beta2, eps, plan.learning_rate, decay_rate, plan.l2])
        self.keep_probs = np.array(plan.keep_probs + (1.0,))
        self.thresholds = np.array([philox.keep_threshold(p) for p in self.keep_probs],
                                   dtype=np.uint64)
        parts = MAX_PARTS if bs >= self.min_split else 1
        self.threads = threads_for(parts, num_threads)
        widest = max(dims[1:]) * bs
        self.Xb, self.Yb = np.empty(bs * dims[0], dtype), np.empty(bs * dims[-1], dtype)
        self.acts, self.drops = (np.zeros(self.layout.act_size, dtype) for _ in range(2))
        self.masks = np.zeros(self.layout.act_size, np.uint8)
        self.ZL, self.AL = (np.empty(bs * dims[-1], dtype) for _ in range(2))
        self.grads = np.zeros((parts, self.layout.size), dtype)
        self.wt = np.empty((parts, max(a * b for a, b in zip(dims[1:], dims[:-1]))), dtype)
        self.buf1, self.buf2 = (np.empty((parts, widest), dtype) for _ in range(2))
        self.part_offs = np.zeros((parts, len(dims)), np.int64)
        self.losses = np.zeros(MAX_PARTS + 1)     # and the L2 term
        self.sync = spin.new_sync()
        self._calls, self._pace, self._last_threads = 0, {}, None

    def run(self, order, first_epoch, n_steps, want_costs=True):
        """``n_steps`` updates from ``self.step``; returns each batch's cost (None
        without ``want_costs``, which saves the loss's work).  ``order``
        (k, m) int64 must hold the example order of every epoch those updates touch (the
        compiled code does not check bounds)."""
        m, nb = self.Xe.shape[0], -(-self.Xe.shape[0] // self.plan.batch_size)
        last_epoch = (self.step + n_steps - 1) // nb
        if order.shape[1] != m or not first_epoch <= self.step // nb \
                or last_epoch - first_epoch >= order.shape[0]:
            raise ValueError("order: does not cover the epochs of these updates")
        order = np.ascontiguousarray(order, dtype=np.int64)
        if order.size and (order.min() < 0 or order.max() >= m):
            raise ValueError(f"order: example indices must lie in 0..{m - 1}")
        costs = np.empty(n_steps)
        self.settings[5] = want_costs
        args = (self.theta, self.v, self.s, self.layout.arrays, self.codes, self.slope,
                self.Xe, self.Ye, order, first_epoch, self.step, self.plan.batch_size,
                self.settings, self.hyper, self.keep_probs, self.thresholds, self.Xb, self.Yb,
                self.acts, self.drops, self.masks, self.ZL, self.AL, self.wt, self.grads,
                self.buf1, self.buf2, self.part_offs, self.losses, costs)
        self.sync[:] = 0
        threads, started = self._pick_threads(), time.perf_counter()
        with blas_limit(1 if self.threads > 1 else None):   # the parts' threads only
            if threads == 1:
                minibatch_worker(self.sync, *args)
            else:
                self._on_threads(args)
        self._record_pace(threads, (time.perf_counter() - started) / n_steps)
        self.step += n_steps
        return costs if want_costs else None

    def _pick_threads(self):
        """Threads for this call: the bits are the same on one or two, so the faster of
        late (on a busy machine the second thread can lose more, waiting for a partner
        that lost its core, than it gains), the other tried every ``RETRY_CALLS`` calls."""
        self._calls += 1
        if self.threads == 1 or self._calls == 1:      # the first call may compile
            return self.threads
        if len(self._pace) < 2:
            return 1 if 2 in self._pace else 2
        faster = min(self._pace, key=self._pace.get)
        return 3 - faster if self._calls % RETRY_CALLS == 0 else faster

    def _record_pace(self, threads, seconds_per_step):
        """A run of calls on one thread count averages its pace; a retry replaces the
        stale one (the machine's load may have changed since)."""
        if self._calls > 1:
            last = self._pace.get(threads) if threads == self._last_threads else None
            self._pace[threads] = seconds_per_step if last is None \
                else (last + seconds_per_step) / 2
        self._last_threads = threads

    def _on_threads(self, args):
        """Two workers: one here and one on the partner thread; an exception in either releases
        the other (``spin.ABORT``) and is raised here once both have stopped."""
        partner = _partner_pool().submit(self._work, args)
        try:
            self._work(args)
        finally:     # a partner that has not started yet (all tasks done here) never will
            error = None if partner.cancel() else self._join(partner)
        if error is not None:
            raise error

    def _join(self, partner):
        """The partner's exception (or None) once it has stopped; a Ctrl-C meanwhile
        releases it (``spin.ABORT``) and is raised once it has."""
        interrupted = None
        while True:
            try:
                error = partner.exception()
                break
            except BaseException as signal:     # noqa: B036 (raised once the partner stops)
                self.sync[spin.ABORT] = 1
                interrupted = signal
        if interrupted is not None:
            raise interrupted
        return error

    def _work(self, args):
        try:
            minibatch_worker(self.sync, *args)
        except BaseException:
            self.sync[spin.ABORT] = 1
            raise

    def fix_masks(self, masks):
        """Use the keep masks ``masks[l - 1] : (n_l, batch_size)`` of the hidden layers with
        dropout at every update instead of drawing them (batch ``b`` of ``batch_size``
        examples sees the same masks whatever its examples)."""
        dims, bs = self.net.layer_dims, self.plan.batch_size
        for l, mask in enumerate(masks, start=1):
            start = self.layout.a_off[l]
            self.masks[start:start + bs * dims[l]] = np.asarray(mask, bool).T.ravel()
        self.settings[4] = 0

    def parameters(self):
        return self.layout.unpack(self.theta)

    def optimizer_buffers(self):
        return {n: self.layout.unpack(getattr(self, n)) for n in self.plan.optimizer.state_names}

    def is_finite(self):
        return bool(np.isfinite(self.theta).all())

    def snapshot(self):
        return self.theta.copy(), self.v.copy(), self.s.copy(), self.step

    def restore(self, snapshot):
        theta, v, s, self.step = snapshot
        self.theta[:], self.v[:], self.s[:] = theta, v, s

    def evaluate(self, X, Y):
        """``(cost, A_L)`` of course-oriented data (no dropout, no L2 term): the cpu
        engine's full-batch forward pass on the flat parameters."""
        m, dims = X.shape[1], self.net.layer_dims
        layout = Layout(dims, m)
        acts, ZL = np.empty(layout.act_size, X.dtype), np.empty((dims[-1], m), X.dtype)
        AL = forward(self.theta, layout.arrays, self.codes, self.slope,
                     np.ascontiguousarray(X), acts, ZL)
        return float(cost(ZL, Y, self.codes[-1])), AL.copy()
