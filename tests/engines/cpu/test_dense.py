"""engines/cpu/dense.py: the compiled training loop ``train_steps`` against the numpy
oracle step by step (1e-12), and the dense trainer against the numpy engine."""
import numpy as np
import pytest

from conftest import (FORMULATION_NETS, NETS, OUTPUTS, assert_params_rel, assert_same_training,
                      flat_buffers, formulation_problem, layer_problem, numpy_descent, seed_of)
from deepjit.engines import reference
from deepjit.engines.cpu import dense as cpu
from deepjit.engines.cpu.dense import DenseTrainer


@pytest.mark.parametrize("dims,m", NETS)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", [["tanh"], ["relu"], ["leaky_relu", "sigmoid", "linear"]],
                         ids="-".join)
def test_train_steps(dims, m, output, hidden):
    if output == "softmax" and dims[-1] == 1:
        dims = dims[:-1] + [2]
    net, params, X, Y = layer_problem(11 + seed_of(output) + len(dims) + m, dims, output,
                                      hidden, m)
    bufs, n_steps, lr = flat_buffers(net, X), 7, 0.05
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
    net, params, X, Y = layer_problem(5, [3, 2, 1], "sigmoid", ["relu"], 4)
    bufs = flat_buffers(net, X)
    lay = bufs["layout"]
    theta = lay.pack(params, np.float64)
    first, last = cpu.train_steps(theta, lay.arrays, net.codes, net.slope, X, Y, 0.1, 3,
                                  False, bufs["acts"], bufs["ZL"], bufs["grad"], bufs["buf1"],
                                  bufs["buf2"])
    assert np.isfinite(first) and np.isnan(last)


@pytest.mark.parametrize("sizes, hidden, output", FORMULATION_NETS)
def test_dense_formulation_equals_numpy_engine(sizes, hidden, output):
    net, params, X, Y = formulation_problem(9, 31, sizes, hidden, output, seed=3, order="F")
    fast = DenseTrainer(params, X, Y, net, 0.05)
    assert_same_training(fast, reference.Trainer(params, X, Y, net, 0.05))
