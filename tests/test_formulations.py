"""The cpu engine's fast formulations equal the numpy engine (the plain equations).

- "examples": the first layer carried in example space through G = X^T X (wide data);
- "streamed": examples in chunks through all layers on threads, gradients summed;
- "dense": the plain equations compiled.
"""
import numpy as np
import pytest

from deepjit import Model
from deepjit.engines import cpu, reference
from deepjit.initializers import initialize
from deepjit.network import Network

ARCHITECTURES = [  # (layer_dims without n_x, hidden, output)
    ([5, 4, 3], "relu", "sigmoid"),
    ([6, 3], "tanh", "softmax"),
    ([4, 2], "leaky_relu", "linear"),
    ([1], None, "sigmoid"),                 # logistic regression: the first layer is the output
    ([3, 2, 3], ["sigmoid", "linear"], "softmax"),
]


def problem(n_x, m, sizes, hidden, output, seed, order="C"):
    rng = np.random.default_rng(seed)
    net = Network.build([n_x] + sizes, hidden or "relu", output)
    X = np.asarray(rng.standard_normal((n_x, m)), order=order)
    n_out = sizes[-1]
    if output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, m)]
    elif output == "sigmoid":
        Y = (rng.random((n_out, m)) > 0.5).astype(float)
    else:
        Y = rng.standard_normal((n_out, m))
    return net, initialize(net.layer_dims, "he", seed), X, Y


def assert_same_training(fast, ref, n_steps=60, rtol=1e-10):
    for chunk in (1, n_steps - 1):          # a one-step call, then a long call
        got, want = fast.run(chunk, True), ref.run(chunk, True)
        np.testing.assert_allclose(got, want, rtol=rtol)
    got, want = fast.parameters(), ref.parameters()
    for key in want:
        scale = np.max(np.abs(want[key])) or 1.0
        assert np.max(np.abs(got[key] - want[key])) / scale < rtol, key


@pytest.mark.parametrize("sizes, hidden, output", ARCHITECTURES)
@pytest.mark.parametrize("m", [1, 7, 23])
def test_examples_formulation_equals_numpy_engine(sizes, hidden, output, m):
    net, params, X, Y = problem(41, m, sizes, hidden, output, seed=m)
    fast = cpu.ExampleSpaceTrainer(params, X, Y, net, 0.05)
    assert_same_training(fast, reference.Trainer(params, X, Y, net, 0.05))


@pytest.mark.parametrize("sizes, hidden, output", ARCHITECTURES)
@pytest.mark.parametrize("m, chunk, threads, order", [(1001, 64, 2, "C"), (97, 10, 1, "F"),
                                                      (5, 64, 2, "C"), (130, 13, 3, "F")])
def test_streamed_formulation_equals_numpy_engine(sizes, hidden, output, m, chunk, threads,
                                                  order):
    net, params, X, Y = problem(7, m, sizes, hidden, output, seed=m, order=order)
    fast = cpu.StreamedTrainer(params, X, Y, net, 0.05, chunk=chunk, num_threads=threads)
    assert_same_training(fast, reference.Trainer(params, X, Y, net, 0.05))


@pytest.mark.parametrize("sizes, hidden, output", ARCHITECTURES)
def test_dense_formulation_equals_numpy_engine(sizes, hidden, output):
    net, params, X, Y = problem(9, 31, sizes, hidden, output, seed=3, order="F")
    fast = cpu.DenseTrainer(params, X, Y, net, 0.05)
    assert_same_training(fast, reference.Trainer(params, X, Y, net, 0.05))


@pytest.mark.parametrize("formulation", ["dense", "examples", "streamed"])
def test_model_formulations_agree_through_fit(formulation):
    _, _, X, Y = problem(50, 20, [4, 1], "relu", "sigmoid", seed=5)
    kwargs = dict(learning_rate=0.05, num_iterations=250, record_every=50)
    want = Model([50, 4, 1], engine="numpy").fit(X, Y, **kwargs)
    got = Model([50, 4, 1], formulation=formulation, num_threads=2).fit(X, Y, **kwargs)
    np.testing.assert_allclose(got.costs_, want.costs_, rtol=1e-10)
    np.testing.assert_allclose(got.final_cost_, want.final_cost_, rtol=1e-10)
    for key, value in want.parameters.items():
        np.testing.assert_allclose(got.parameters[key], value, rtol=1e-9, atol=1e-13)


def test_float32_formulations_stay_close_to_float64():
    _, _, X, Y = problem(50, 20, [4, 1], "tanh", "sigmoid", seed=6)
    kwargs = dict(learning_rate=0.05, num_iterations=200)
    want = Model([50, 4, 1], "tanh", engine="numpy").fit(X, Y, **kwargs).final_cost_
    for formulation in ("dense", "examples", "streamed"):
        got = Model([50, 4, 1], "tanh", dtype="float32", formulation=formulation)
        assert got.fit(X, Y, **kwargs).final_cost_ == pytest.approx(want, rel=1e-4)


def test_auto_picks_the_cheaper_formulation():
    assert cpu.choose_formulation([12288, 20, 7, 5, 1], 209, 2500) == "examples"
    assert cpu.choose_formulation([12288, 20, 7, 5, 1], 209, 1) == "dense"   # G not worth it
    assert cpu.choose_formulation([2, 4, 1], 400, 10000) == "dense"
    assert cpu.choose_formulation([30, 64, 32, 1], 1_000_000, 10) == "streamed"


def test_example_space_snapshot_restore_replays_exactly():
    net, params, X, Y = problem(41, 9, [5, 1], "relu", "sigmoid", seed=8)
    trainer = cpu.ExampleSpaceTrainer(params, X, Y, net, 0.1)
    trainer.run(5, False)
    saved = trainer.snapshot()
    first = trainer.run(7, True)
    after = trainer.parameters()
    trainer.restore(saved)
    assert trainer.run(7, True) == first
    for key, value in trainer.parameters().items():
        np.testing.assert_array_equal(value, after[key])


def test_unknown_formulation_and_thread_count_are_refused():
    with pytest.raises(ValueError, match="formulation"):
        Model([3, 1], formulation="sparse")
    with pytest.raises(ValueError, match="num_threads"):
        Model([3, 1], num_threads=0)
