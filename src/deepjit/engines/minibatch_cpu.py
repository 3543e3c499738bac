"""Mini-batch training on the cpu engine: a whole run of updates (an epoch, or several) in
one compiled call.

The examples are copied once per fit into an example-major array ``Xe : (m, n_0)`` (and
``Ye : (m, n_L)``), so gathering a shuffled batch copies contiguous rows.  Inside a batch
everything is example-major too: layer l's activations are ``(batch, n_l)``, ``Z = A_prev
W^T``, and the weight gradient ``dW = dZ^T A_prev / batch``.  Dropout masks come from
Philox (:mod:`.philox`), so they are the numpy oracle's (:mod:`.reference_minibatch`),
and the update is the fused loop of :mod:`.optimizers` over the flat parameters, with the
optimizer state in flat buffers of the same layout.  No array is allocated inside the
compiled call.
"""
import numpy as np
from numba import njit

from ..activations import LEAKY_RELU, LINEAR, RELU, SIGMOID, SOFTMAX, TANH
from . import optimizers as rules
from . import philox, vecmath
from .cpu import Layout, activation_backward, cost, forward

kernel = njit(cache=True, error_model="numpy")


@kernel
def _block(buf, off, rows, cols):
    return buf[off:off + rows * cols].reshape((rows, cols))


@kernel
def _output_rows(Z, code, A):
    """``A = g(Z)`` row by row (one example per row): softmax, sigmoid or linear."""
    for j in range(Z.shape[0]):
        z, a = Z[j], A[j]
        if code == SOFTMAX:
            zmax = z.max()
            total = 0.0
            for i in range(z.size):
                a[i] = vecmath.exp(z[i] - zmax)
                total += a[i]
            for i in range(z.size):
                a[i] = a[i] / total
        elif code == SIGMOID:
            for i in range(z.size):
                a[i] = vecmath.sigmoid(z[i])
        else:
            for i in range(z.size):
                a[i] = z[i]


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
    for j in range(A.shape[0]):
        for i in range(A.shape[1]):
            out[j, i] = A[j, i] / keep_prob if mask[j, i] else 0.0


@kernel
def _gather(src, examples, dst):
    for j in range(examples.size):
        for i in range(dst.shape[1]):
            dst[j, i] = src[examples[j], i]


@kernel
def _weight_gradient(dZ, A_prev, dW, db):
    """``dW = dZ^T A_prev / batch``, ``db = column sums of dZ / batch``."""
    inv_m = 1.0 / dZ.shape[0]
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
def forward_batch(theta, lay, codes, slope, Xb, examples, step, seed, keep_probs,
                  thresholds, acts, drops, masks, ZL, AL):
    """The batch's forward pass with dropout: fills ``acts`` (the activations), ``drops``
    (dropped activations, for layers with ``keep_probs[l - 1] < 1``), ``masks``, ``ZL``
    and ``AL``."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, Xb.shape[0]
    A_prev = Xb
    for l in range(1, L + 1):
        W = _block(theta, w_off[l], dims[l], dims[l - 1])
        b = theta[b_off[l]:b_off[l] + dims[l]]
        if l == L:
            np.dot(A_prev, W.T, ZL)
            _bias_activation_rows(ZL, b, LINEAR, slope)
            _output_rows(ZL, codes[L - 1], AL)
            return
        A = _block(acts, a_off[l], m, dims[l])
        np.dot(A_prev, W.T, A)
        _bias_activation_rows(A, b, codes[l - 1], slope)
        if keep_probs[l - 1] < 1.0:
            mask = _block(masks, a_off[l], m, dims[l])
            philox.fill_keep_mask(mask, seed, step, l, examples, thresholds[l - 1])
            A_prev = _block(drops, a_off[l], m, dims[l])
            _apply_mask(A, mask, keep_probs[l - 1], A_prev)
        else:
            A_prev = A


@kernel
def backward_batch(theta, lay, codes, slope, Xb, Yb, keep_probs, acts, drops, masks, AL,
                   grad, buf1, buf2):
    """The gradients of the batch's mean loss (without the L2 term) into ``grad``."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, Xb.shape[0]
    dZ = _block(buf1, 0, m, dims[L])
    for j in range(m):
        for i in range(dims[L]):
            dZ[j, i] = AL[j, i] - Yb[j, i]
    spare = buf2
    for l in range(L, 0, -1):
        if l == 1:
            A_in = Xb
        elif keep_probs[l - 2] < 1.0:
            A_in = _block(drops, a_off[l - 1], m, dims[l - 1])
        else:
            A_in = _block(acts, a_off[l - 1], m, dims[l - 1])
        _weight_gradient(dZ, A_in, _block(grad, w_off[l], dims[l], dims[l - 1]),
                         grad[b_off[l]:b_off[l] + dims[l]])
        if l > 1:
            dA = _block(spare, 0, m, dims[l - 1])
            np.dot(dZ, _block(theta, w_off[l], dims[l], dims[l - 1]), dA)
            if keep_probs[l - 2] < 1.0:
                _apply_mask(dA, _block(masks, a_off[l - 1], m, dims[l - 1]),
                            keep_probs[l - 2], dA)
            activation_backward(dA, _block(acts, a_off[l - 1], m, dims[l - 1]),
                                codes[l - 2], slope)
            spare = buf1 if spare is buf2 else buf2
            dZ = dA


@kernel
def _sum_of_squared_weights(theta, lay):
    dims, w_off, _, _ = lay
    total = 0.0
    for l in range(1, dims.size):
        for k in range(w_off[l], w_off[l] + dims[l] * dims[l - 1]):
            total += theta[k] * theta[k]
    return total


@kernel
def _update(theta, grad, v, s, lay, opt_code, lr, l2_per_example, hyper, t):
    """The optimizer's update of every W (with the L2 term) and b."""
    dims, w_off, b_off, _ = lay
    beta1, beta2, eps = hyper[0], hyper[1], hyper[2]
    c1, c2 = rules.bias_corrections(opt_code, beta1, beta2, t)
    for l in range(1, dims.size):
        rules.update_segment(opt_code, theta, grad, v, s, w_off[l],
                             w_off[l] + dims[l] * dims[l - 1], lr, l2_per_example,
                             beta1, beta2, eps, c1, c2)
        rules.update_segment(opt_code, theta, grad, v, s, b_off[l], b_off[l] + dims[l],
                             lr, 0.0, beta1, beta2, eps, c1, c2)


@kernel
def train_minibatch_steps(theta, v, s, lay, codes, slope, Xe, Ye, order, first_epoch,
                          step0, batch_size, settings, hyper, keep_probs, thresholds,
                          Xb, Yb, acts, drops, masks, ZL, AL, grad, buf1, buf2, costs):
    """``costs.size`` updates, numbered from ``step0``; writes each batch's cost (with the
    L2 term) into ``costs``.  ``settings = (optimizer, schedule, time_interval, seed)``,
    ``hyper = (beta1, beta2, epsilon, lr0, decay_rate, l2)``; ``order[e]`` is the example
    order of epoch ``first_epoch + e``."""
    opt_code, sched_code, interval, seed = settings[0], settings[1], settings[2], settings[3]
    lr0, decay_rate, l2 = hyper[3], hyper[4], hyper[5]
    m = Xe.shape[0]
    nb = (m + batch_size - 1) // batch_size
    for k in range(costs.size):
        step = step0 + k
        epoch, b = step // nb, step % nb
        examples = order[epoch - first_epoch, b * batch_size:min(m, (b + 1) * batch_size)]
        mb, n0, nL = examples.size, Xe.shape[1], Ye.shape[1]
        Xv, Yv = _block(Xb, 0, mb, n0), _block(Yb, 0, mb, nL)
        ZLv, ALv = _block(ZL, 0, mb, nL), _block(AL, 0, mb, nL)
        _gather(Xe, examples, Xv)
        _gather(Ye, examples, Yv)
        forward_batch(theta, lay, codes, slope, Xv, examples, step, seed, keep_probs,
                      thresholds, acts, drops, masks, ZLv, ALv)
        costs[k] = cost(ZLv.T, Yv.T, codes[-1])
        if l2 != 0.0:
            costs[k] += l2 / (2.0 * mb) * _sum_of_squared_weights(theta, lay)
        backward_batch(theta, lay, codes, slope, Xv, Yv, keep_probs, acts, drops, masks,
                       ALv, grad, buf1, buf2)
        lr = rules.scheduled_rate(sched_code, lr0, decay_rate, interval, epoch)
        _update(theta, grad, v, s, lay, opt_code, lr, l2 / mb, hyper, step + 1)


class MiniBatchTrainer:
    """The flat parameters ``theta`` and optimizer buffers ``v``, ``s`` (same layout), the
    update counter ``step``, and the work buffers for one batch."""

    def __init__(self, parameters, state, X, Y, net, plan):
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
        self.settings = np.array([plan.optimizer.code, plan.schedule.code, interval,
                                  plan.seed], dtype=np.int64)
        self.hyper = np.array([beta1, beta2, eps, plan.learning_rate, decay_rate, plan.l2])
        self.keep_probs = np.array(plan.keep_probs + (1.0,))
        self.thresholds = np.array([philox.keep_threshold(p) for p in self.keep_probs],
                                   dtype=np.uint64)
        widest = max(dims[1:]) * bs
        self.Xb, self.Yb = np.empty(bs * dims[0], dtype), np.empty(bs * dims[-1], dtype)
        self.acts, self.drops = (np.zeros(self.layout.act_size, dtype) for _ in range(2))
        self.masks = np.zeros(self.layout.act_size, np.uint8)
        self.ZL, self.AL = (np.empty(bs * dims[-1], dtype) for _ in range(2))
        self.grad = np.zeros(self.layout.size, dtype)
        self.buf1, self.buf2 = np.empty(widest, dtype), np.empty(widest, dtype)

    def run(self, order, first_epoch, n_steps):
        """``n_steps`` updates from ``self.step``; returns each batch's cost."""
        costs = np.empty(n_steps)
        train_minibatch_steps(
            self.theta, self.v, self.s, self.layout.arrays, self.codes, self.slope, self.Xe,
            self.Ye, order, first_epoch, self.step, self.plan.batch_size, self.settings,
            self.hyper, self.keep_probs, self.thresholds, self.Xb, self.Yb, self.acts,
            self.drops, self.masks, self.ZL, self.AL, self.grad, self.buf1, self.buf2, costs)
        self.step += n_steps
        return costs

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
