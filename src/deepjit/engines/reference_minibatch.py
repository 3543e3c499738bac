"""Mini-batch training in plain numpy: the oracle for the compiled engines.

One step (update ``t``, counted from 0 over the model's life) takes the batch
``order[epoch][b * batch : (b + 1) * batch]`` (``epoch = t // batches_per_epoch``,
``b = t % batches_per_epoch``; the last batch of an epoch may be smaller), runs forward
with inverted dropout on the hidden layers (masks from Philox, see :mod:`.philox`),
computes the batch cost (with the L2 term ``lambda / (2 m_b) sum ||W||^2``), backward,
and applies the optimizer (:mod:`.optimizers` gives the formulas).
"""
import numpy as np

from . import philox
from . import optimizers as rules
from .reference import activation_backward, cost, dense_backward, dense_forward, forward


def batches_per_epoch(m, batch_size):
    return -(-m // batch_size)


def batch_of(order, step, first_epoch, m, batch_size):
    """The example indices of update ``step`` (``order[e]`` is epoch
    ``first_epoch + e``'s permutation)."""
    nb = batches_per_epoch(m, batch_size)
    epoch, b = divmod(step, nb)
    return order[epoch - first_epoch, b * batch_size:min(m, (b + 1) * batch_size)]


def l2_cost(parameters, L, l2, m):
    if l2 == 0:
        return 0.0
    return float(l2 / (2 * m) * sum(np.sum(parameters[f"W{l}"] ** 2) for l in range(1, L + 1)))


class MiniBatchTrainer:
    """Parameters as a dict, the optimizer state as ``{"v": {...}, "s": {...}}`` dicts of
    the same shapes, and ``step``, the number of updates made so far.  ``num_threads``
    changes nothing."""

    def __init__(self, parameters, state, X, Y, net, plan, num_threads=None):
        self.params = {k: v.copy() for k, v in parameters.items()}
        self.buffers = {name: {k: v.copy() for k, v in state.buffers[name].items()}
                        for name in plan.optimizer.state_names}
        self.step = state.step
        self.X, self.Y, self.net, self.plan = X, Y, net, plan

    # -- one update ---------------------------------------------------------------------
    def forward(self, Xb, examples, step):
        """``(As, dropped, masks, ZL)``: activations, the dropped activations fed to the
        next layer (As[l] itself without dropout), and the keep masks (None without)."""
        net, plan = self.net, self.plan
        As, inputs, masks, Z = [Xb], [Xb], [None], None
        for l, activation in enumerate(net.activations, start=1):
            Z, A = dense_forward(self.params[f"W{l}"], self.params[f"b{l}"], inputs[-1],
                                 activation, net.slope)
            As.append(A)
            keep = plan.keep_probs[l - 1] if l < net.L else 1.0
            if keep < 1.0:
                mask = philox.keep_mask_numpy(plan.seed, step, l, examples, A.shape[0], keep)
                masks.append(mask)
                inputs.append(np.where(mask, A / keep, 0.0).astype(A.dtype))
            else:
                masks.append(None)
                inputs.append(A)
        return As, inputs, masks, Z

    def gradients(self, As, inputs, masks, Yb):
        """``{"dW1", "db1", ...}`` of the batch's mean loss plus the L2 term."""
        net, grads, dZ = self.net, {}, As[-1] - Yb
        m, l2 = Yb.shape[1], self.plan.l2
        for l in range(net.L, 0, -1):
            W = self.params[f"W{l}"]
            dA_prev, dW, grads[f"db{l}"] = dense_backward(dZ, inputs[l - 1], W, l > 1)
            grads[f"dW{l}"] = dW + (l2 / m) * W if l2 else dW
            if l > 1:
                if masks[l - 1] is not None:
                    keep = self.plan.keep_probs[l - 2]
                    dA_prev = np.where(masks[l - 1], dA_prev / keep, 0.0).astype(dA_prev.dtype)
                dZ = activation_backward(dA_prev, As[l - 1], net.activations[l - 2], net.slope)
        return grads

    def update(self, grads, lr, t):
        """The optimizer's update for update number ``t`` (from 1)."""
        code = self.plan.optimizer.code
        beta1, beta2, eps = self.plan.optimizer.hyper
        c1, c2 = rules.bias_corrections(code, beta1, beta2, t)
        v, s = self.buffers.get("v"), self.buffers.get("s")
        for key, theta in self.params.items():
            g = grads["d" + key]
            if code == rules.GD:
                theta = theta - lr * g
            elif code == rules.MOMENTUM:
                v[key] = beta1 * v[key] + (1.0 - beta1) * g
                theta = theta - lr * v[key]
            elif code == rules.RMSPROP:
                s[key] = beta2 * s[key] + (1.0 - beta2) * (g * g)
                theta = theta - lr * g / (np.sqrt(s[key]) + eps)
            else:
                v[key] = beta1 * v[key] + (1.0 - beta1) * g
                s[key] = beta2 * s[key] + (1.0 - beta2) * (g * g)
                theta = theta - lr * (v[key] * c1) / (np.sqrt(s[key] * c2) + eps)
            self.params[key] = theta

    def run(self, order, first_epoch, n_steps):
        """``n_steps`` updates from ``self.step``; returns each batch's cost."""
        plan, m = self.plan, self.Y.shape[1]
        nb = batches_per_epoch(m, plan.batch_size)
        costs = np.empty(n_steps)
        for k in range(n_steps):
            step = self.step
            examples = batch_of(order, step, first_epoch, m, plan.batch_size)
            Xb, Yb = self.X[:, examples], self.Y[:, examples]
            As, inputs, masks, ZL = self.forward(Xb, examples, step)
            costs[k] = cost(ZL, Yb, self.net.output) + l2_cost(
                self.params, self.net.L, plan.l2, Yb.shape[1])
            grads = self.gradients(As, inputs, masks, Yb)
            lr = rules.scheduled_rate(plan.schedule.code, plan.learning_rate,
                                      *plan.schedule.hyper, step // nb)
            self.update(grads, lr, step + 1)
            self.step += 1
        return costs

    # -- state ----------------------------------------------------------------------------
    def parameters(self):
        return {k: v.copy() for k, v in self.params.items()}

    def optimizer_buffers(self):
        return {name: {k: v.copy() for k, v in b.items()} for name, b in self.buffers.items()}

    def is_finite(self):
        return all(np.all(np.isfinite(v)) for v in self.params.values())

    def snapshot(self):
        return self.parameters(), self.optimizer_buffers(), self.step

    def restore(self, snapshot):
        params, buffers, self.step = snapshot
        self.params = {k: v.copy() for k, v in params.items()}
        self.buffers = {n: {k: v.copy() for k, v in b.items()} for n, b in buffers.items()}

    def evaluate(self, X, Y):
        """``(cost, A_L)`` of the data (no dropout, no L2 term)."""
        As, ZL = forward(self.params, X, self.net)
        return cost(ZL, Y, self.net.output), As[-1]
