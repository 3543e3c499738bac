"""Every Numba kernel of engines/cpu.py against the plain-numpy engine, float64, to 1e-12
(scale-relative), on fresh random shapes including m = 1, n = 1 and odd sizes."""
import numpy as np
import pytest

from conftest import (HIDDEN, OUTPUTS, assert_params_rel, assert_rel, make_targets,
                      numpy_descent, random_parameters)
from deepjit.activations import ACTIVATIONS, HIDDEN_CODES, OUTPUT_CODES
from deepjit.engines import cpu, reference
from deepjit.network import Network

# (n_prev, n, m): single unit, single example, odd sizes.
LAYER_SHAPES = [(1, 1, 1), (3, 1, 5), (1, 4, 1), (2, 3, 1), (7, 5, 13), (17, 9, 31)]
SLOPE = 0.07          # a leaky slope other than the default, so a hard-coded 0.01 fails
NETS = [([1, 1], 1), ([3, 2], 1), ([4, 3, 2], 5), ([5, 4, 3, 3], 9), ([2, 7, 1, 6, 3], 13),
        ([6, 5, 4, 3, 2, 2], 2)]


def _rng(*key):
    """A generator seeded by the test's parameters (reproducible, different per case)."""
    return np.random.default_rng([_num(part) for part in key])


def _num(part):
    return sum(ord(c) for c in part) if isinstance(part, str) else int(part)


@pytest.mark.parametrize("n_prev,n,m", LAYER_SHAPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_bias_activation(activation, n_prev, n, m):
    rng = _rng(1, activation, n, m)
    Z, b = rng.standard_normal((n, m)) * 3, rng.standard_normal((n, 1))
    expected = ACTIVATIONS[activation](Z + b, SLOPE)
    cpu.bias_activation(Z, b, HIDDEN_CODES[activation], SLOPE)
    assert_rel(Z, expected)


@pytest.mark.parametrize("n,m", [(1, 1), (2, 1), (1, 7), (3, 5), (10, 33)])
@pytest.mark.parametrize("output", OUTPUTS)
def test_output_activation(output, n, m):
    if output == "softmax" and n == 1:
        n = 2
    rng = _rng(2, output, n, m)
    Z = rng.standard_normal((n, m)) * 5
    A = np.full_like(Z, np.nan)
    cpu.output_activation(Z, OUTPUT_CODES[output], A)
    assert_rel(A, ACTIVATIONS[output](Z))


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_output_activation_saturates_without_nan(output):
    Z = np.array([[-800.0, 800.0, 0.0], [800.0, -800.0, 1e-3]])
    A = np.empty_like(Z)
    cpu.output_activation(Z, OUTPUT_CODES[output], A)
    assert np.all(np.isfinite(A))
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(A, ACTIVATIONS[output](Z), rtol=1e-12, atol=0)


@pytest.mark.parametrize("n_prev,n,m", LAYER_SHAPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_dense_forward(activation, n_prev, n, m):
    rng = _rng(3, activation, n_prev, n, m)
    W, b = rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1))
    A_prev = rng.standard_normal((n_prev, m))
    out = np.full((n, m), np.nan)
    returned = cpu.dense_forward(W, b, A_prev, HIDDEN_CODES[activation], SLOPE, out)
    Z, A = reference.dense_forward(W, b, A_prev, activation, SLOPE)
    assert_rel(out, A)
    assert returned is out or np.shares_memory(returned, out)


@pytest.mark.parametrize("n,m", [(1, 1), (1, 6), (4, 1), (5, 9), (12, 31)])
@pytest.mark.parametrize("activation", HIDDEN)
def test_activation_backward(activation, n, m):
    rng = _rng(4, activation, n, m)
    A = ACTIVATIONS[activation](rng.standard_normal((n, m)), SLOPE)
    dA = rng.standard_normal((n, m))
    expected = reference.activation_backward(dA, A, activation, SLOPE)
    cpu.activation_backward(dA, A, HIDDEN_CODES[activation], SLOPE)
    assert_rel(dA, expected)


@pytest.mark.parametrize("n_prev,n,m", LAYER_SHAPES)
@pytest.mark.parametrize("need_dA_prev", [True, False])
def test_dense_backward(n_prev, n, m, need_dA_prev):
    rng = _rng(5, n_prev, n, m, need_dA_prev)
    dZ, A_prev = rng.standard_normal((n, m)), rng.standard_normal((n_prev, m))
    W = rng.standard_normal((n, n_prev))
    dW, db = np.full((n, n_prev), np.nan), np.full((n, 1), np.nan)
    dA_prev = np.full((n_prev, m), np.nan)
    cpu.dense_backward(dZ, A_prev, W, dW, db, dA_prev, need_dA_prev)
    dA_expected, dW_expected, db_expected = reference.dense_backward(dZ, A_prev, W, need_dA_prev)
    assert_rel(dW, dW_expected)
    assert_rel(db, db_expected)
    if need_dA_prev:
        assert_rel(dA_prev, dA_expected)
    else:
        assert dA_expected is None and np.all(np.isnan(dA_prev)), "dA_prev was written"


@pytest.mark.parametrize("n,m", [(1, 1), (2, 1), (1, 8), (3, 5), (10, 33)])
@pytest.mark.parametrize("output", OUTPUTS)
def test_cost(output, n, m):
    if output == "softmax" and n == 1:
        n = 2
    rng = _rng(6, output, n, m)
    ZL = rng.standard_normal((n, m)) * 4
    Y = make_targets(rng, output, n, m)
    got = cpu.cost(ZL, Y, OUTPUT_CODES[output])
    assert got == pytest.approx(reference.cost(ZL, Y, output), rel=1e-12, abs=0)


@pytest.mark.parametrize("output", OUTPUTS)
def test_cost_saturated_output_is_finite(output):
    ZL = np.array([[1e4, -1e4, 750.0], [-1e4, 1e4, -750.0]])
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    got, expected = cpu.cost(ZL, Y, OUTPUT_CODES[output]), reference.cost(ZL, Y, output)
    assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-12)
    if output != "linear":   # every example is wrong by a margin of |z|: loss ~ |z| / m
        assert got == pytest.approx((2e4 + 2e4 + 1500.0) / 3, rel=1e-12)


def _net(dims, output, hidden_names):
    hidden = [hidden_names[i % len(hidden_names)] for i in range(len(dims) - 2)]
    return Network.build(dims, hidden, output, SLOPE)


def _buffers(net, X):
    layout = cpu.Layout(net.layer_dims, X.shape[1])
    m, widest = X.shape[1], max(net.layer_dims[1:]) * X.shape[1]
    return dict(layout=layout, acts=np.full(layout.act_size, np.nan),
                ZL=np.full((net.layer_dims[-1], m), np.nan),
                grad=np.full(layout.size, np.nan), buf1=np.full(widest, np.nan),
                buf2=np.full(widest, np.nan))


def _problem(seed, dims, output, hidden_names, m):
    rng = np.random.default_rng(seed)
    net = _net(dims, output, hidden_names)
    X = rng.standard_normal((dims[0], m))
    return net, random_parameters(rng, dims, scale=1.5), X, \
        make_targets(rng, output, dims[-1], m)


def _cpu_forward(net, params, X, bufs):
    lay = bufs["layout"]
    theta = lay.pack(params, np.float64)
    AL = cpu.forward(theta, lay.arrays, net.codes, net.slope, X, bufs["acts"], bufs["ZL"])
    return theta, AL


def _hidden_acts(net, bufs, m):
    lay = bufs["layout"]
    return [bufs["acts"][lay.a_off[l]:lay.a_off[l] + net.layer_dims[l] * m]
            .reshape(net.layer_dims[l], m) for l in range(1, net.L + 1)]


HIDDEN_MIXES = [[h] for h in HIDDEN] + [["relu", "tanh", "linear"], ["leaky_relu", "sigmoid"]]


@pytest.mark.parametrize("dims,m", NETS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN_MIXES, ids="-".join)
def test_forward(dims, m, output, hidden):
    if output == "softmax" and dims[-1] == 1:
        dims = dims[:-1] + [2]
    net, params, X, Y = _problem(_num(output) + len(dims) + m, dims, output, hidden, m)
    bufs = _buffers(net, X)
    _, AL = _cpu_forward(net, params, X, bufs)
    As, ZL = reference.forward(params, X, net)
    assert_rel(bufs["ZL"], ZL)
    for got, expected in zip(_hidden_acts(net, bufs, m), As[1:]):
        assert_rel(got, expected)
    assert_rel(AL, As[-1])


@pytest.mark.parametrize("dims,m", NETS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN_MIXES, ids="-".join)
@pytest.mark.parametrize("need_dW1", [True, False])
def test_backward(dims, m, output, hidden, need_dW1):
    if output == "softmax" and dims[-1] == 1:
        dims = dims[:-1] + [2]
    net, params, X, Y = _problem(7 + _num(output) + len(dims) + m, dims, output, hidden, m)
    bufs = _buffers(net, X)
    theta, _ = _cpu_forward(net, params, X, bufs)
    lay = bufs["layout"]
    dZ1 = cpu.backward(theta, lay.arrays, net.codes, net.slope, X, Y, bufs["acts"],
                       bufs["grad"], bufs["buf1"], bufs["buf2"], need_dW1)
    As, _ = reference.forward(params, X, net)
    expected = reference.backward(params, As, Y, net)
    got = {"d" + k: v for k, v in lay.unpack(bufs["grad"]).items()}
    if not need_dW1:   # the dW1 slot is left as it was; dZ1 is returned instead
        assert np.all(np.isnan(got["dW1"]))
        got["dW1"] = dZ1 @ X.T / m
    assert_params_rel(got, expected)


@pytest.mark.parametrize("dims,m", NETS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", [["tanh"], ["relu"], ["leaky_relu", "sigmoid", "linear"]],
                         ids="-".join)
def test_train_steps(dims, m, output, hidden):
    if output == "softmax" and dims[-1] == 1:
        dims = dims[:-1] + [2]
    net, params, X, Y = _problem(11 + _num(output) + len(dims) + m, dims, output, hidden, m)
    bufs, n_steps, lr = _buffers(net, X), 7, 0.05
    lay = bufs["layout"]
    theta = lay.pack(params, np.float64)
    first, last = cpu.train_steps(theta, lay.arrays, net.codes, net.slope, X, Y, lr, n_steps,
                                  True, bufs["acts"], bufs["ZL"], bufs["grad"], bufs["buf1"],
                                  bufs["buf2"])
    expected, costs = numpy_descent(params, X, Y, net, lr, n_steps)
    assert_params_rel(lay.unpack(theta), expected)
    assert first == pytest.approx(costs[0], rel=1e-12)
    assert last == pytest.approx(costs[-1], rel=1e-12)


def test_train_steps_without_last_cost_returns_nan():
    net, params, X, Y = _problem(5, [3, 2, 1], "sigmoid", ["relu"], 4)
    bufs = _buffers(net, X)
    lay = bufs["layout"]
    theta = lay.pack(params, np.float64)
    first, last = cpu.train_steps(theta, lay.arrays, net.codes, net.slope, X, Y, 0.1, 3,
                                  False, bufs["acts"], bufs["ZL"], bufs["grad"], bufs["buf1"],
                                  bufs["buf2"])
    assert np.isfinite(first) and np.isnan(last)


@pytest.mark.parametrize("dims,m", NETS)
def test_layout_pack_unpack_round_trip(dims, m):
    params = random_parameters(np.random.default_rng(m), dims)
    layout = cpu.Layout(dims, m)
    theta = layout.pack(params, np.float64)
    assert theta.size == layout.size == sum(p.size for p in params.values())
    assert layout.act_size == sum(dims[1:]) * m
    unpacked = layout.unpack(theta)
    for key in params:
        np.testing.assert_array_equal(unpacked[key], params[key])


@pytest.mark.parametrize("output", OUTPUTS)
def test_predict_proba(output):
    dims = [4, 5, 3, 3 if output == "softmax" else 1]
    net, params, X, _ = _problem(13, dims, output, ["leaky_relu"], 9)
    X = np.asfortranarray(X)          # the engine must cope with a non-C-ordered X
    got = cpu.predict_proba(params, X, net)
    assert_rel(got, reference.predict_proba(params, X, net))


def _trainer(formulation, params, X, Y, net, lr):
    if formulation == "streamed":   # small chunks and 2 threads: several chunks per thread
        return cpu.StreamedTrainer(params, X, Y, net, lr, chunk=3, num_threads=2)
    return cpu.Trainer(params, X, Y, net, lr, formulation=formulation)


# The formulations are compared in depth in test_formulations.py; here each goes through
# the Trainer protocol (run / parameters / snapshot / restore) used by training.py.
@pytest.mark.parametrize("formulation", ["dense", "examples", "streamed"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("dims,hidden", [([3, 6, 4, 1], "relu"), ([2, 1], "tanh"),
                                         ([4, 3, 2, 5, 1], "leaky_relu")])
def test_trainer_matches_reference_trainer(formulation, output, dims, hidden):
    if output == "softmax":
        dims = dims[:-1] + [3]
    net, params, X, Y = _problem(17 + len(dims), dims, output, [hidden], 11)
    got, expected = _trainer(formulation, params, X, Y, net, 0.3), \
        reference.Trainer(params, X, Y, net, 0.3)
    for n_steps, want_last in [(1, False), (4, True), (3, False), (1, True)]:
        first, last = got.run(n_steps, want_last)
        first_ref, last_ref = expected.run(n_steps, want_last)
        assert first == pytest.approx(first_ref, rel=1e-12)
        assert np.isnan(last) == np.isnan(last_ref)
        if want_last:
            assert last == pytest.approx(last_ref, rel=1e-12)
    assert_params_rel(got.parameters(), expected.parameters())
    assert got.is_finite()
    snapshot = got.snapshot()
    got.run(2, False)
    got.restore(snapshot)
    assert_params_rel(got.parameters(), expected.parameters())
    got.run(2, False)          # after a restore training goes on from the snapshot
    expected.run(2, False)
    assert_params_rel(got.parameters(), expected.parameters())
