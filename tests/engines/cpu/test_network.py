"""The whole-network pass of engines/cpu/network.py (forward, backward, predict_proba)
against the plain-numpy engine, float64, to 1e-12 (scale-relative), on networks of one to
five layers with mixed activations, m = 1 and odd sizes."""
import numpy as np
import pytest

from conftest import (HIDDEN, NETS, OUTPUTS, assert_params_rel, assert_rel, flat_buffers,
                      layer_problem, seed_of)
from deepjit.engines import reference
from deepjit.engines.cpu import network as cpu


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
    net, params, X, Y = layer_problem(seed_of(output) + len(dims) + m, dims, output, hidden,
                                      m)
    bufs = flat_buffers(net, X)
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
    net, params, X, Y = layer_problem(7 + seed_of(output) + len(dims) + m, dims, output,
                                      hidden, m)
    bufs = flat_buffers(net, X)
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


@pytest.mark.parametrize("output", OUTPUTS)
def test_predict_proba(output):
    dims = [4, 5, 3, 3 if output == "softmax" else 1]
    net, params, X, _ = layer_problem(13, dims, output, ["leaky_relu"], 9)
    X = np.asfortranarray(X)          # the engine must cope with a non-C-ordered X
    got = cpu.predict_proba(params, X, net)
    assert_rel(got, reference.predict_proba(params, X, net))
