"""The "cpu" engine: Numba kernels and the compiled training loop.

Kernels (arrays in, arrays out, written in place):

- ``dense_forward(W, b, A_prev, code, slope, out)``: ``out = g(W A_prev + b)``, the
  matrix product (BLAS) followed by one fused pass for bias and activation.
- ``activation_backward(dA, A, code, slope)``: ``dA <- dA * g'(A)`` in place, so the
  derivative is fused into forming ``dZ``.
- ``dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev)``: one layer's
  gradients; ``dA_prev`` only when asked (never for the input X during training).
- ``train_steps(...)``: whole iterations (forward, cost when asked, backward, update)
  on flat parameter and gradient buffers, so no Python runs between iterations.

Parameters live in one flat buffer ``theta`` (W1, b1, W2, b2, ... each C-ordered);
``w_off[l]`` / ``b_off[l]`` give where layer l's arrays start.
"""
import math

import numba
import numpy as np
from numba import njit, prange
from threadpoolctl import threadpool_limits

from ..activations import LEAKY_RELU, LINEAR, RELU, SIGMOID, SOFTMAX, TANH
from . import vecmath

# numpy's error model: a division by zero gives inf/NaN instead of raising, which also
# lets LLVM vectorise loops that divide (the divergence checks catch non-finite values).
kernel = njit(cache=True, error_model="numpy")


@kernel
def bias_activation(Z, b, code, slope):
    """In place: ``Z <- g(Z + b)`` for a hidden code (LINEAR only adds the bias).  One
    loop per code, so each inner loop is branch-free and vectorises."""
    n, m = Z.shape
    for i in range(n):
        bi, row = b[i, 0], Z[i]
        if code == RELU:
            for j in range(m):
                z = row[j] + bi
                row[j] = 0.0 if z <= 0 else z      # NaN passes, as in np.maximum(0, Z)
        elif code == LEAKY_RELU:
            for j in range(m):
                z = row[j] + bi
                row[j] = slope * z if z <= 0 else z
        elif code == SIGMOID:
            for j in range(m):
                row[j] = vecmath.sigmoid(row[j] + bi)
        elif code == TANH:
            for j in range(m):
                row[j] = vecmath.tanh(row[j] + bi)
        else:
            for j in range(m):
                row[j] = row[j] + bi


@kernel
def copy(src, dst):
    """``dst[:, :] = src`` (casting to dst's dtype) as a loop: numba's slice assignment
    checks shapes with an error message whose string formatting costs seconds of
    compilation on a cold start."""
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            dst[i, j] = src[i, j]


@kernel
def _column_max(Z, j):
    """The largest entry of column ``j`` (the shift that keeps exp from overflowing)."""
    zmax = Z[0, j]
    for i in range(1, Z.shape[0]):
        zmax = max(zmax, Z[i, j])
    return zmax


@kernel
def output_activation(Z, code, A):
    """``A = g(Z)`` for an output code; softmax works column by column."""
    n, m = Z.shape
    if code == SOFTMAX:
        for j in range(m):
            zmax = _column_max(Z, j)
            total = 0.0
            for i in range(n):
                A[i, j] = vecmath.exp(Z[i, j] - zmax)
                total += A[i, j]
            for i in range(n):
                A[i, j] = A[i, j] / total
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                A[i, j] = vecmath.sigmoid(Z[i, j])
    else:
        copy(Z, A)


@kernel
def dense_forward(W, b, A_prev, code, slope, out):
    """``out = g(W A_prev + b)`` for a hidden code.  ``W : (n_l, n_{l-1})``,
    ``b : (n_l, 1)``, ``A_prev : (n_{l-1}, m)``, ``out : (n_l, m)``, all C-contiguous."""
    np.dot(W, A_prev, out)
    bias_activation(out, b, code, slope)
    return out


@kernel
def activation_backward(dA, A, code, slope):
    """In place: ``dA <- dA * g'(Z)`` with ``g'`` from ``A = g(Z)``; dA becomes dZ."""
    n, m = dA.shape
    for i in range(n):
        d, a = dA[i], A[i]
        if code == RELU:
            for j in range(m):
                d[j] = d[j] if a[j] > 0 else 0.0
        elif code == LEAKY_RELU:
            for j in range(m):
                d[j] = d[j] if a[j] > 0 else slope * d[j]
        elif code == SIGMOID:
            for j in range(m):
                d[j] = d[j] * (a[j] * (1.0 - a[j]))
        elif code == TANH:
            for j in range(m):
                d[j] = d[j] * (1.0 - a[j] * a[j])
    return dA


@kernel
def dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev):
    """``dW = 1/m dZ A_prev^T``, ``db = 1/m sum_j dZ``, ``dA_prev = W^T dZ`` (if asked)."""
    inv_m = 1.0 / dZ.shape[1]
    np.dot(dZ, A_prev.T, dW)
    for i in range(dW.shape[0]):
        for k in range(dW.shape[1]):
            dW[i, k] = inv_m * dW[i, k]
    bias_gradient(dZ, db)
    if need_dA_prev:
        np.dot(W.T, dZ, dA_prev)


@kernel
def bias_gradient(dZ, db):
    """``db = 1/m sum_j dZ[:, j]``."""
    inv_m = 1.0 / dZ.shape[1]
    for i in range(dZ.shape[0]):
        db[i, 0] = inv_m * row_sum(dZ[i])


@kernel
def row_sum(row):
    """The sum of a 1-D array in eight interleaved partial sums: independent additions
    that the CPU overlaps (a single running sum waits on each addition's latency)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    n8 = row.size - row.size % 8
    for j in range(0, n8, 8):
        s0 += row[j]
        s1 += row[j + 1]
        s2 += row[j + 2]
        s3 += row[j + 3]
        s4 += row[j + 4]
        s5 += row[j + 5]
        s6 += row[j + 6]
        s7 += row[j + 7]
    total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    for j in range(n8, row.size):
        total += row[j]
    return total


@kernel
def cost(ZL, Y, code):
    """Mean loss from the output pre-activations (see ``reference.cost``)."""
    n, m = ZL.shape
    total = 0.0
    if code == SOFTMAX:
        for j in range(m):
            zmax = _column_max(ZL, j)
            s = 0.0
            for i in range(n):
                s += math.exp(ZL[i, j] - zmax)
            lse = zmax + math.log(s)
            for i in range(n):
                total += Y[i, j] * (lse - ZL[i, j])
    else:
        for i in range(n):
            for j in range(m):
                z, y = ZL[i, j], Y[i, j]
                if code == SIGMOID:
                    total += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))
                else:
                    total += 0.5 * (z - y) * (z - y)
    return total / m


# -- whole networks on flat buffers -----------------------------------------------------
# ``lay = (dims, w_off, b_off, a_off)``: int64 arrays from :class:`Layout`.

@kernel
def _layer(buf, off, rows, cols):
    return buf[off:off + rows * cols].reshape((rows, cols))


@kernel
def _output_layer(Z, b, code, A):
    """The output layer from its product ``Z = W A_prev``: adds ``b`` in place (Z becomes
    Z_L) and writes ``A = g(Z_L)``."""
    bias_activation(Z, b, LINEAR, 0.0)
    output_activation(Z, code, A)


@kernel
def forward_from(l_start, A_prev, theta, lay, codes, slope, acts, ZL):
    """Layers ``l_start..L`` from ``A_prev`` (the activations of layer l_start - 1):
    fills their slots in ``acts`` (A_L in the last) and ``ZL``; returns A_L."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, A_prev.shape[1]
    for l in range(l_start, L + 1):
        W = _layer(theta, w_off[l], dims[l], dims[l - 1])
        b = _layer(theta, b_off[l], dims[l], 1)
        A = _layer(acts, a_off[l], dims[l], m)
        if l < L:
            dense_forward(W, b, A_prev, codes[l - 1], slope, A)
        else:
            np.dot(W, A_prev, ZL)
            _output_layer(ZL, b, codes[L - 1], A)
        A_prev = A
    return A_prev


@kernel
def forward(theta, lay, codes, slope, X, acts, ZL):
    return forward_from(1, X, theta, lay, codes, slope, acts, ZL)


@kernel
def backward(theta, lay, codes, slope, X, Y, acts, grad, buf1, buf2, need_dW1):
    """Fills ``grad`` (the layout of theta); ``buf1``/``buf2`` hold dZ / dA_prev in turn.
    With ``need_dW1`` False the product dW1 = dZ1 X^T is skipped (its slot is left
    as it is).  Returns dZ1."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, Y.shape[1]
    dZ = _layer(buf1, 0, dims[L], m)
    AL = _layer(acts, a_off[L], dims[L], m)
    for i in range(dims[L]):
        for j in range(m):
            dZ[i, j] = AL[i, j] - Y[i, j]
    spare = buf2
    for l in range(L, 1, -1):
        A_prev = _layer(acts, a_off[l - 1], dims[l - 1], m)
        W = _layer(theta, w_off[l], dims[l], dims[l - 1])
        dA_prev = _layer(spare, 0, dims[l - 1], m)
        dense_backward(dZ, A_prev, W, _layer(grad, w_off[l], dims[l], dims[l - 1]),
                       _layer(grad, b_off[l], dims[l], 1), dA_prev, True)
        activation_backward(dA_prev, A_prev, codes[l - 2], slope)
        spare = buf1 if spare is buf2 else buf2
        dZ = dA_prev
    db1 = _layer(grad, b_off[1], dims[1], 1)
    if need_dW1:
        dense_backward(dZ, X, dZ, _layer(grad, w_off[1], dims[1], dims[0]), db1, dZ, False)
    else:
        bias_gradient(dZ, db1)
    return dZ


@kernel
def _descend(theta, grad, learning_rate):
    for k in range(theta.size):
        theta[k] = theta[k] - learning_rate * grad[k]


@kernel
def train_steps(theta, lay, codes, slope, X, Y, learning_rate, n_steps, want_last_cost,
                acts, ZL, grad, buf1, buf2):
    """``n_steps`` iterations of full-batch gradient descent on ``theta`` in place.
    Returns the cost of the first step and, if asked, of the last step (NaN otherwise)."""
    first = last = np.nan
    for step in range(n_steps):
        forward(theta, lay, codes, slope, X, acts, ZL)
        if step == 0:
            first = cost(ZL, Y, codes[-1])
        if want_last_cost and step == n_steps - 1:
            last = cost(ZL, Y, codes[-1])
        backward(theta, lay, codes, slope, X, Y, acts, grad, buf1, buf2, True)
        _descend(theta, grad, learning_rate)
    return first, last


@kernel
def train_steps_examples(theta, lay, codes, slope, P, G, S, Y, learning_rate, n_steps,
                         want_last_cost, acts, ZL, grad, buf1, buf2, dZ1_64, work):
    """As ``train_steps``, with the first layer carried in example space: ``P = W1 X``
    (n_1, m) is kept current through ``P <- P - (lr/m) dZ1 G`` with ``G = X^T X``, and
    ``S`` accumulates ``sum dZ1`` so that ``W1 = W1_0 - (lr/m) S X^T`` (see
    :class:`ExampleSpaceTrainer`).  The W1 slot of theta (first in the layout) is left
    as W1_0."""
    dims, w_off, b_off, a_off = lay
    L, m = dims.size - 1, P.shape[1]
    step_size = np.float64(learning_rate) * (1.0 / m)
    first = last = np.nan
    for step in range(n_steps):
        b1 = _layer(theta, b_off[1], dims[1], 1)
        A1 = _layer(acts, a_off[1], dims[1], m)
        if L == 1:
            copy(P, ZL)
            _output_layer(ZL, b1, codes[0], A1)
        else:
            copy(P, A1)
            bias_activation(A1, b1, codes[0], slope)
            forward_from(2, A1, theta, lay, codes, slope, acts, ZL)
        if step == 0:
            first = cost(ZL, Y, codes[-1])
        if want_last_cost and step == n_steps - 1:
            last = cost(ZL, Y, codes[-1])
        dZ1 = backward(theta, lay, codes, slope, A1, Y, acts, grad, buf1, buf2, False)
        _descend(theta[b_off[1]:], grad[b_off[1]:], learning_rate)   # W1 stays W1_0
        copy(dZ1, dZ1_64)                        # P, G, S are float64 (see the trainer)
        np.dot(dZ1_64, G, work)
        for i in range(dims[1]):
            for j in range(m):
                P[i, j] = P[i, j] - step_size * work[i, j]
                S[i, j] += dZ1_64[i, j]
    return first, last


@njit(cache=True, error_model="numpy", parallel=True)
def train_steps_streamed(theta, lay, codes, slope, X, Y, learning_rate, n_steps,
                         want_last_cost, chunk, Xc, Yc, acts, ZL, grads, buf1, buf2):
    """As ``train_steps``, streaming the examples in chunks of ``chunk`` columns through
    all layers and summing the gradients, so no (n_l, m) matrix is ever formed.  Thread
    t handles chunks t, t + T, ... with its own buffers (row t of each 2-D buffer); the
    per-thread sums are then added in thread order, so results do not depend on
    scheduling."""
    n0, m = X.shape
    n_out, T = Y.shape[0], grads.shape[0]
    n_chunks = (m + chunk - 1) // chunk
    first = last = np.nan
    for step in range(n_steps):
        want_cost = step == 0 or (want_last_cost and step == n_steps - 1)
        losses = np.zeros(T)
        for t in prange(T):
            grads[t, :] = 0.0
            grad = np.empty_like(theta)
            for c in range(t, n_chunks, T):
                j0 = c * chunk
                mc = min(chunk, m - j0)
                Xt = Xc[t, :n0 * mc].reshape((n0, mc))
                Yt = Yc[t, :n_out * mc].reshape((n_out, mc))
                copy(X[:, j0:j0 + mc], Xt)
                copy(Y[:, j0:j0 + mc], Yt)
                ZLt = ZL[t, :n_out * mc].reshape((n_out, mc))
                forward(theta, lay, codes, slope, Xt, acts[t], ZLt)
                if want_cost:
                    losses[t] += cost(ZLt, Yt, codes[-1]) * mc
                backward(theta, lay, codes, slope, Xt, Yt, acts[t], grad, buf1[t], buf2[t],
                         True)
                weight = mc / m
                for k in range(theta.size):
                    grads[t, k] += weight * grad[k]
        for t in range(1, T):
            for k in range(theta.size):
                grads[0, k] += grads[t, k]
        if step == 0:
            first = losses.sum() / m
        if want_last_cost and step == n_steps - 1:
            last = losses.sum() / m
        _descend(theta, grads[0], learning_rate)
    return first, last


# -- host side --------------------------------------------------------------------------

class Layout:
    """Offsets of each layer's W and b in a flat buffer, and of its activations."""

    def __init__(self, dims, m):
        self.dims = np.asarray(dims, dtype=np.int64)
        L = len(dims) - 1
        self.w_off, self.b_off, self.a_off = (np.zeros(L + 1, np.int64) for _ in range(3))
        pos = act = 0
        for l in range(1, L + 1):
            self.w_off[l], pos = pos, pos + dims[l] * dims[l - 1]
            self.b_off[l], pos = pos, pos + dims[l]
            self.a_off[l], act = act, act + dims[l] * m
        self.size, self.act_size = pos, act
        self.arrays = (self.dims, self.w_off, self.b_off, self.a_off)

    def pack(self, parameters, dtype):
        theta = np.empty(self.size, dtype=dtype)
        for l in range(1, self.dims.size):
            W, b = parameters[f"W{l}"], parameters[f"b{l}"]
            theta[self.w_off[l]:self.w_off[l] + W.size] = W.ravel()
            theta[self.b_off[l]:self.b_off[l] + b.size] = b.ravel()
        return theta

    def view(self, theta, l, name):
        """Layer l's ``"W"`` or ``"b"`` inside a flat buffer (a view)."""
        n, k = self.dims[l], self.dims[l - 1]
        if name == "W":
            return theta[self.w_off[l]:self.w_off[l] + n * k].reshape(n, k)
        return theta[self.b_off[l]:self.b_off[l] + n].reshape(n, 1)

    def unpack(self, theta):
        return {f"{name}{l}": self.view(theta, l, name).copy()
                for l in range(1, self.dims.size) for name in ("W", "b")}


def predict_proba(parameters, X, net):
    X = np.ascontiguousarray(X)
    layout = Layout(net.layer_dims, X.shape[1])
    theta = layout.pack(parameters, X.dtype)
    acts = np.empty(layout.act_size, X.dtype)
    ZL = np.empty((net.layer_dims[-1], X.shape[1]), X.dtype)
    return forward(theta, layout.arrays, net.codes, net.slope, X, acts, ZL).copy()


class _CompiledTrainer:
    """Buffers shared by the compiled trainers; state is the flat buffer ``theta``.
    Work buffers cover ``columns`` examples (all m by default), one set per thread
    (a leading axis) when ``copies`` is given."""

    def __init__(self, parameters, X, Y, net, learning_rate, columns=None, copies=None):
        dtype, columns = X.dtype, columns or Y.shape[1]
        self.Y, self.net = np.ascontiguousarray(Y), net
        self.lr, self.codes, self.slope = dtype.type(learning_rate), net.codes, dtype.type(net.slope)
        self.layout = Layout(net.layer_dims, columns)
        self.theta = self.layout.pack(parameters, dtype)

        def buffer(*shape):
            return np.zeros(shape if copies is None else (copies,) + shape, dtype)
        widest = max(net.layer_dims[1:]) * columns
        self.grad, self.acts = buffer(self.layout.size), buffer(self.layout.act_size)
        self.ZL = buffer(net.layer_dims[-1], columns)
        self.buf1, self.buf2 = buffer(widest), buffer(widest)

    def parameters(self):
        return self.layout.unpack(self.theta)

    def is_finite(self):
        return bool(np.isfinite(self.theta).all())

    def snapshot(self):
        return self.theta.copy()

    def restore(self, snapshot):
        self.theta[:] = snapshot


class DenseTrainer(_CompiledTrainer):
    """The plain formulation, compiled: full (n_l, m) activation matrices."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        super().__init__(parameters, X, Y, net, learning_rate)
        self.X = np.ascontiguousarray(X)

    def run(self, n_steps, want_last_cost):
        return train_steps(self.theta, self.layout.arrays, self.codes, self.slope, self.X,
                           self.Y, self.lr, n_steps, want_last_cost, self.acts, self.ZL,
                           self.grad, self.buf1, self.buf2)


def example_space_start(W1_0, X):
    """``(G, P) = (X^T X, W1_0 X)`` in float64: where the example-space formulation starts
    (also used by the cuda engine's)."""
    X64 = X.astype(np.float64, copy=False)
    return (np.ascontiguousarray(X64.T @ X64),
            np.ascontiguousarray(W1_0.astype(np.float64) @ X64))


def example_space_W1(W1_0, learning_rate, S, X):
    """``W1 = W1_0 - (lr/m) S X^T``, in W1_0's dtype: the first layer's weights from the
    example-space state."""
    W1 = W1_0 - float(learning_rate) * (1.0 / S.shape[1]) * (S @ X.T)
    return W1.astype(W1_0.dtype, copy=False)


class ExampleSpaceTrainer(_CompiledTrainer):
    """Exact when ``X`` never changes: ``W1 = W1_0 - (lr/m) S X^T`` with
    ``S = sum over iterations of dZ1``, so the first layer needs only ``P = W1 X`` and
    ``G = X^T X`` (m, m) per iteration: ``2 n_1 m^2`` flops instead of ``4 n_1 n_0 m``.
    Chosen when ``m < n_0`` (wide data such as images).  ``G``, ``P`` and ``S`` are
    float64 whatever the model's dtype: they accumulate over every iteration, and in
    float32 that drift moved the cat run's costs by 1 % within 500 iterations."""

    def __init__(self, parameters, X, Y, net, learning_rate):
        super().__init__(parameters, X, Y, net, learning_rate)
        self.X = X
        self.W1_0 = self.layout.view(self.theta, 1, "W").copy()
        self.G, self.P = example_space_start(self.W1_0, X)
        self.S = np.zeros_like(self.P)
        self.work, self.dZ1 = np.empty_like(self.P), np.empty_like(self.P)

    def run(self, n_steps, want_last_cost):
        return train_steps_examples(self.theta, self.layout.arrays, self.codes, self.slope,
                                    self.P, self.G, self.S, self.Y, self.lr, n_steps,
                                    want_last_cost, self.acts, self.ZL, self.grad, self.buf1,
                                    self.buf2, self.dZ1, self.work)

    def parameters(self):
        params = self.layout.unpack(self.theta)
        params["W1"] = example_space_W1(self.W1_0, self.lr, self.S, self.X)
        return params

    def _state(self):
        """What training changes: every parameter but W1 (theta's first slot), P, S."""
        return self.theta[self.layout.b_off[1]:], self.P, self.S

    def is_finite(self):
        return all(bool(np.isfinite(part).all()) for part in self._state())

    def snapshot(self):
        return tuple(part.copy() for part in self._state())

    def restore(self, snapshot):
        for current, saved in zip(self._state(), snapshot):
            current[...] = saved


class StreamedTrainer(_CompiledTrainer):
    """For many examples: chunks of ``chunk`` columns flow through all layers on
    ``num_threads`` threads (BLAS kept to one thread inside), and the gradients are
    summed; memory beyond the data is a few chunk-sized buffers per thread.  The default
    of 256 columns keeps a thread's buffers in its L2 cache for networks of a few
    hundred units (fastest of 64 .. 4096 on the tall benchmark, [30, 64, 32, 1])."""

    def __init__(self, parameters, X, Y, net, learning_rate, chunk=256, num_threads=None):
        threads = min(num_threads or numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
        chunk = int(min(chunk, -(-Y.shape[1] // threads)))
        super().__init__(parameters, X, Y, net, learning_rate, columns=chunk, copies=threads)
        self.X, self.chunk = X, chunk
        dtype, n_out = X.dtype, Y.shape[0]
        self.ZL = np.zeros((threads, n_out * chunk), dtype)
        self.Xc = np.zeros((threads, X.shape[0] * chunk), dtype)
        self.Yc = np.zeros((threads, n_out * chunk), dtype)

    def run(self, n_steps, want_last_cost):
        with threadpool_limits(1, user_api="blas"):
            return train_steps_streamed(
                self.theta, self.layout.arrays, self.codes, self.slope, self.X, self.Y,
                self.lr, n_steps, want_last_cost, self.chunk, self.Xc, self.Yc, self.acts,
                self.ZL, self.grad, self.buf1, self.buf2)


STREAM_MIN_EXAMPLES = 16384   # from here on, streaming beats full activation matrices


def choose_formulation(layer_dims, m, num_iterations):
    """The cheapest formulation.  By a flop count for the first layer: the dense path
    spends ``4 n_1 n_0 m`` per iteration, the example-space path ``2 n_1 m^2`` after a
    one-off ``2 n_0 m^2 + 4 n_1 n_0 m`` (G, P and rebuilding W1).  Otherwise many
    examples are streamed in chunks (threads, cache-sized buffers), few go dense."""
    n0, n1 = layer_dims[0], layer_dims[1]
    dense = num_iterations * 4.0 * n1 * n0 * m
    examples = num_iterations * 2.0 * n1 * m * m + 2.0 * n0 * m * m + 4.0 * n1 * n0 * m
    if m < n0 and examples < dense:
        return "examples"
    return "streamed" if m >= STREAM_MIN_EXAMPLES else "dense"


TRAINERS = {"dense": DenseTrainer, "examples": ExampleSpaceTrainer,
            "streamed": StreamedTrainer}


def Trainer(parameters, X, Y, net, learning_rate, formulation="auto", num_iterations=1,
            num_threads=None):
    """The trainer for ``formulation`` ("dense", "examples", "streamed", or "auto": the
    cheapest).  BLAS threads are the caller's to limit (Model.fit does)."""
    if formulation == "auto":
        formulation = choose_formulation(net.layer_dims, X.shape[1], num_iterations)
    if formulation == "streamed":
        return StreamedTrainer(parameters, X, Y, net, learning_rate, num_threads=num_threads)
    return TRAINERS[formulation](parameters, X, Y, net, learning_rate)
