"""engines/cuda/streamed.py (the fused kernel of the "streamed" cuda formulation) against
the cpu's dense trainer, in float64 (and float32 against the cpu in float32).

Runs under the CUDA simulator unless DEEPJIT_TEST_GPU=1.  The launch settings are patched
tiny (blocks of 2 x 2 threads, tiles of 4 columns, 3 blocks, kernel 2 in blocks of 4
entries x 2 strands), so m = 13 gives each block several tiles and a partial last tile,
and m = 1 leaves two blocks without any tile.
"""
import cuda_setup
import numpy as np
import pytest
from conftest import assert_params_rel, assert_rel, random_problem

from deepjit.engines import cuda as engine
from deepjit.engines.cpu.dense import DenseTrainer
from deepjit.engines.cuda import settings, streamed

cuda_setup.check_simulator(engine)

ARCHITECTURES = [
    ([4, 3, 1], "relu", "sigmoid"),
    ([5, 4, 3, 3], ["tanh", "leaky_relu"], "softmax"),
    ([3, 4, 2], "sigmoid", "linear"),
    ([4, 1], "relu", "sigmoid"),            # logistic regression
]
LAUNCH = ("ROW_GROUPS", "COLUMN_GROUPS", "COLUMNS_PER_THREAD", "BLOCKS", "REDUCE_ENTRIES",
          "REDUCE_STRANDS")
DEFAULT_LAUNCH = {name: getattr(settings, name) for name in LAUNCH}


@pytest.fixture(autouse=True)
def tiny_launches(monkeypatch):
    for name, value in zip(LAUNCH, (2, 2, 2, 3, 4, 2)):
        monkeypatch.setattr(settings, name, value)


def trainers(dims, hidden, output, m=13, dtype=np.float64, seed=0):
    """A streamed and a cpu dense trainer on the same random problem."""
    net, params, X, Y = random_problem(seed, dims, hidden, output, m=m, slope=0.05)
    X, Y = X.astype(dtype), Y.astype(dtype)
    return (streamed.StreamedTrainer(params, X, Y, net, 0.3),
            DenseTrainer(params, X, Y, net, 0.3))


def last_gradients(trainer):
    """The gradient of the streamed trainer's last step, from kernel 1's partial sums."""
    return trainer.partials.copy_to_host()[:, :-1].sum(axis=0) / trainer.m


@pytest.mark.parametrize("dims, hidden, output", ARCHITECTURES)
@pytest.mark.parametrize("m", [13, 1])
def test_one_step_matches_the_dense_trainer(dims, hidden, output, m):
    gpu, dense = trainers(dims, hidden, output, m=m)
    first, last = gpu.run(1, True)
    expected = dense.run(1, True)
    assert first == last
    assert_rel(first, expected[0])
    assert_rel(last_gradients(gpu), dense.grad)
    assert_params_rel(gpu.parameters(), dense.parameters())


@pytest.mark.parametrize("dims, hidden, output", ARCHITECTURES)
def test_several_steps_match_the_dense_trainer(dims, hidden, output):
    gpu, dense = trainers(dims, hidden, output, m=22, seed=1)
    assert_rel(gpu.run(3, True), dense.run(3, True), rtol=1e-10)
    first, last = gpu.run(2, False)
    assert np.isnan(last)
    assert_rel(first, dense.run(2, False)[0], rtol=1e-10)
    assert_params_rel(gpu.parameters(), dense.parameters(), rtol=1e-10)


def test_float32_matches_the_cpu_in_float32():
    gpu, dense = trainers([5, 4, 3, 3], ["tanh", "leaky_relu"], "softmax", dtype=np.float32)
    assert_rel(gpu.run(3, True), dense.run(3, True), rtol=1e-5)
    params = gpu.parameters()
    assert params["W1"].dtype == np.float32
    assert_params_rel(params, dense.parameters(), rtol=1e-5)


def test_runs_are_bitwise_reproducible():
    runs = []
    for _ in range(2):
        gpu, _ = trainers([5, 4, 3, 3], ["tanh", "leaky_relu"], "softmax", m=17)
        runs.append((gpu.run(2, True), gpu.parameters()))
    (costs_a, params_a), (costs_b, params_b) = runs
    assert costs_a == costs_b
    for key in params_a:
        assert np.array_equal(params_a[key], params_b[key]), key


def test_state_methods():
    gpu, _ = trainers([3, 2, 1], "tanh", "sigmoid", m=5)
    gpu.run(1, False)
    saved, saved_params = gpu.snapshot(), gpu.parameters()
    gpu.run(2, False)
    assert not np.array_equal(gpu.parameters()["W1"], saved_params["W1"])
    assert gpu.is_finite()
    gpu.restore(saved)
    assert_params_rel(gpu.parameters(), saved_params, rtol=0)
    gpu.theta.copy_to_device(np.full(gpu.theta.shape, np.nan))
    assert not gpu.is_finite()


def test_supports_narrow_networks_only(monkeypatch):
    for name, value in DEFAULT_LAUNCH.items():
        monkeypatch.setattr(settings, name, value)
    for dtype in (np.float32, np.float64):
        assert streamed.supports([30, 64, 32, 1], dtype)
        assert streamed.supports([2, 1], dtype)
        assert not streamed.supports([30, 200, 1], dtype)           # too wide
        assert not streamed.supports([100, 100, 100, 1], dtype)     # weights > shared memory
    plan = streamed.tile_plan((30, 64, 32, 1), np.dtype(np.float32), 8, 8, 6)
    assert plan.shared_bytes <= settings.SHARED_BYTES and plan.columns >= 2


def test_a_network_beyond_shared_memory_is_a_value_error():     # float64 weights > 48 KB
    net, params, X, Y = random_problem(0, [80, 80, 1], "relu", "sigmoid", m=3)
    with pytest.raises(ValueError, match="layer_dims"):
        streamed.StreamedTrainer(params, X, Y, net, 0.1)


# Compiles both kernels for a real GPU (sm_90) without one, for the tall network
# [30, 64, 32, 1] at the default launch settings, and checks that no local memory is
# used (the register tiles and gradient accumulators were promoted to registers).
# Needs the CUDA toolkit's compiler libraries (pip install 'deepjit[cuda]'), else skipped.
COMPILE_FOR_REAL_GPU = """
from deepjit.engines.cuda import settings
from deepjit.engines.cuda import streamed as s
P = types.Array(types.float64, 2, "C")
for dtype in (np.float32, np.float64):
    f = from_dtype(np.dtype(dtype))
    V, M = types.Array(f, 1, "C"), types.Array(f, 2, "C")
    kernel, plan = s.streamed_kernel((30, 64, 32, 1), (3, 3, 1), 0.01, np.dtype(dtype),
                                     settings.ROW_GROUPS, settings.COLUMN_GROUPS,
                                     settings.COLUMNS_PER_THREAD)
    ptx, _, _ = check_launchable(kernel, (V, M, M, P, types.boolean), plan.threads)
    if ".local" in ptx:
        print("LOCAL MEMORY in kernel 1,", np.dtype(dtype))
    descend = s.descend_kernel(settings.REDUCE_ENTRIES, settings.REDUCE_STRANDS)
    cuda.compile_ptx(descend.py_func, (P, V, f, types.float64, types.float64[::1],
                                       types.boolean, types.boolean), cc=(9, 0))
print("COMPILED")
"""


def test_kernels_compile_for_a_real_gpu():
    assert cuda_setup.compile_for_a_real_gpu(COMPILE_FOR_REAL_GPU).strip() == "COMPILED"
