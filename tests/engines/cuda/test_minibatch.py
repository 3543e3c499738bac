"""Mini-batch training on engine="cuda" against engine="cpu": every optimizer, L2,
dropout (the same Philox masks), schedules, batch sizes 1, one leaving a partial last
batch and m, the trainer's state methods, validation and resuming.

Runs under the CUDA simulator (no GPU needed) unless DEEPJIT_TEST_GPU=1; the simulator
is slow, so the networks are tiny, the block has 8 threads and the runs are short.
"""
import cuda_setup
import numpy as np
import pytest
from conftest import assert_rel
from test_minibatch import assert_same_state, fit_engines, problem

from deepjit import Model, TrainingDiverged, optim
from deepjit.engines import cuda as engine
from deepjit.engines import philox
from deepjit.engines.cuda import minibatch, settings
from deepjit.minibatch import OptimizerState, epoch_order, make_plan

cuda_setup.check_simulator(engine)

M = 13
DIMS = (5, 7, 6, 3)


@pytest.fixture(autouse=True)
def small_block(monkeypatch):
    monkeypatch.setattr(settings, "MINIBATCH_THREADS", 8)
    monkeypatch.setattr(settings, "MINIBATCH_BLOCKS", 3)    # 3 column ranges (one block)


def fit_both(dims, hidden, output, X, Y, dtype="float64", **options):
    """``(cuda, cpu)`` models of the same fit."""
    return fit_engines(("cuda", "cpu"), dims, hidden, output, X, Y, dtype, **options)


@pytest.mark.parametrize("optimizer,batch_size", [("gd", 1), ("momentum", 4),
                                                  ("rmsprop", M), ("adam", 4), ("adam", 1)])
def test_matches_cpu_with_l2_dropout_and_decay(optimizer, batch_size):
    X, Y = problem(0, DIMS, "softmax", m=M)
    gpu, cpu = fit_both(DIMS, ["tanh", "relu"], "softmax", X, Y, learning_rate=0.05,
                        batch_size=batch_size, num_iterations=20, optimizer=optimizer,
                        l2=0.3, keep_prob=[0.7, 0.85],
                        schedule=optim.InverseTimeDecay(0.5, time_interval=2))
    assert gpu.n_iter_ == cpu.n_iter_ == 20
    assert_same_state(gpu, cpu, rtol=1e-10)
    moved = np.abs(cpu.parameters["W1"] - Model(list(DIMS), init="he", seed=4)
                   .parameters["W1"]).max()
    assert moved > 1e-3


@pytest.mark.parametrize("hidden,output,schedule", [
    ("sigmoid", "sigmoid", "constant"), ("leaky_relu", "linear", "inverse_time"),
    ("relu", "softmax", "constant")])
def test_matches_cpu_for_each_output_and_schedule(hidden, output, schedule):
    X, Y = problem(1, (4, 6, 2), output, m=M)
    gpu, cpu = fit_both((4, 6, 2), hidden, output, X, Y, learning_rate=0.02, batch_size=5,
                        num_epochs=3, optimizer=optim.Adam(0.8, 0.99, 1e-7),
                        schedule=schedule, keep_prob=0.6)
    assert_same_state(gpu, cpu, rtol=1e-10)
    assert len(gpu.history_["cost"]) == 3


def test_no_hidden_layer_and_float32():
    X, Y = problem(2, (4, 1), "sigmoid", m=M)
    gpu, cpu = fit_both((4, 1), [], "sigmoid", X, Y, learning_rate=0.1, batch_size=6,
                        num_epochs=2, optimizer="adam", l2=0.2)
    assert_same_state(gpu, cpu, rtol=1e-10)
    X, Y = problem(3, DIMS, "softmax", m=M)
    gpu, cpu = fit_both(DIMS, "relu", "softmax", X, Y, dtype="float32", learning_rate=0.05,
                        batch_size=4, num_epochs=2, optimizer="adam", keep_prob=0.8)
    assert gpu.parameters["W1"].dtype == np.float32
    assert_same_state(gpu, cpu, rtol=1e-4)


def trainer(X, Y, keep_prob=0.5, seed=9, batch_size=4):
    model = Model(list(DIMS), "relu", "softmax", seed=1, engine="cuda")
    plan = make_plan(model.net, X.shape[1], 0.05, batch_size, "adam", None, 0.0,
                     keep_prob, seed, True)
    state = OptimizerState.fresh(plan, model.parameters, X.shape[1])
    return minibatch.MiniBatchTrainer(model.parameters, state, X, Y, model.net, plan)


def test_dropout_masks_are_the_cpu_masks_bit_for_bit():
    X, Y = problem(4, DIMS, "softmax", m=M)
    t = trainer(X, Y, keep_prob=[0.5, 0.7], batch_size=5)
    order = epoch_order(9, 0, M)
    t.run(order, 0, 3)                 # the last batch (3 examples) of epoch 0, step 2
    masks, bs, mb = t.masks.copy_to_host(), 5, 3
    a_off, _, _ = minibatch.work_offsets(DIMS, bs, (0.5, 0.7, 1.0))
    examples = order[0, 10:13]
    for layer, keep in ((1, 0.5), (2, 0.7)):
        n = DIMS[layer]
        on_device = masks[a_off[layer]:a_off[layer] + n * mb].reshape(n, mb)
        expected = philox.keep_mask_numpy(9, 2, layer, examples, n, keep)
        np.testing.assert_array_equal(on_device.astype(bool), expected)
        assert 0 < on_device.sum() < on_device.size


def test_state_methods_and_order_checks():
    X, Y = problem(5, DIMS, "softmax", m=M)
    t = trainer(X, Y)
    order = epoch_order(9, 0, M)
    before = t.snapshot()
    first = t.run(order, 0, 2)
    assert first.shape == (2,) and np.isfinite(first).all() and t.step == 2
    assert t.is_finite()
    moved = t.parameters()
    t.restore(before)
    assert t.step == 0 and t.run(order, 0, 2, want_costs=False) is None
    for key, value in moved.items():
        np.testing.assert_array_equal(t.parameters()[key], value)
    assert set(t.optimizer_buffers()) == {"v", "s"}
    with pytest.raises(ValueError, match="order"):
        t.run(order, 0, 4)            # reaches epoch 1, not in order
    with pytest.raises(ValueError, match="order"):
        t.run(np.full((1, M), M), 0, 1)


def test_validation_history_and_resume_match_cpu(tmp_path):
    X, Y = problem(6, (4, 6, 3), "softmax", m=20)
    options = dict(learning_rate=0.05, batch_size=6, optimizer="adam", keep_prob=0.8,
                   validation_fraction=0.25)
    gpu, cpu = fit_both((4, 6, 3), "relu", "softmax", X, Y, num_epochs=2, **options)
    assert_rel(gpu.history_["val_cost"], cpu.history_["val_cost"], 1e-10)
    assert gpu.history_["val_accuracy"] == cpu.history_["val_accuracy"]
    resumed = Model.load(gpu.save(tmp_path / "gpu.npz"), engine="cuda")
    resumed.fit(X, Y, num_epochs=1, **options)
    cpu.fit(X, Y, num_epochs=1, **options)
    assert_same_state(resumed, cpu, rtol=1e-10)


# Compiles the mini-batch kernel for a real GPU (sm_90, float64 and float32) without one,
# calling the shared @njit Philox, optimizer and schedule functions on the device.
# Needs the CUDA toolkit's compiler libraries (pip install 'deepjit[cuda]'), else skipped.
COMPILE_FOR_REAL_GPU = """
from deepjit.engines.cuda import minibatch
I, I2 = types.Array(types.int64, 1, "C"), types.Array(types.int64, 2, "C")
V64 = types.float64[::1]
for dtype in (np.float64, np.float32):
    f = from_dtype(np.dtype(dtype))
    V, M = types.Array(f, 1, "C"), types.Array(f, 2, "C")
    n = types.int64
    signature = ((V,) * 4 + (I,) * 7 + (f, M, M, I2, n, n, n, I, V64, V64,
                 types.Array(types.uint64, 1, "C"), V, types.Array(types.uint8, 1, "C"),
                 V, V, V64, n, V64))
    for threads in (256, 1024):
        check_launchable(minibatch.minibatch_kernel(threads), signature, threads)
print("COMPILED")
"""


def test_kernel_compiles_for_a_real_gpu():
    assert cuda_setup.compile_for_a_real_gpu(COMPILE_FOR_REAL_GPU).strip() == "COMPILED"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the simulator's overflows
def test_divergence_keeps_the_last_finite_parameters_as_the_cpu_engine():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 12)) * 100, rng.standard_normal((1, 12)) * 100
    stopped = {}
    for name in ("cuda", "cpu"):
        model = Model([3, 4, 1], "relu", "linear", seed=1, engine=name)
        with pytest.raises(TrainingDiverged) as error:
            model.fit(X, Y, learning_rate=10.0, batch_size=4, num_epochs=20,
                      optimizer="momentum")
        assert all(np.isfinite(v).all() for v in model.parameters.values())
        assert model.n_iter_ == error.value.iterations == model.optimizer_state_.step
        stopped[name] = model
    assert stopped["cuda"].n_iter_ == stopped["cpu"].n_iter_
    for key, value in stopped["cpu"].parameters.items():
        assert_rel(stopped["cuda"].parameters[key], value, 1e-10)
