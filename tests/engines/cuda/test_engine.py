"""engine="cuda" against engine="cpu": short training runs, predictions, the Trainer's
state methods, and the clear error without a GPU.

Runs under the CUDA simulator (no GPU needed) unless DEEPJIT_TEST_GPU=1; the simulator
is slow, so the networks are tiny and the runs a few iterations long.
"""
import os
import subprocess
import sys

import cuda_setup
import numpy as np
import pytest
from conftest import assert_params_rel, assert_rel, numpy_descent, random_problem
from test_gradients import finite_differences, problem_away_from_kinks

from deepjit import Model, TrainingDiverged, datasets
from deepjit.compat import dnn_app_utils_v3, planar_utils
from deepjit.engines import cuda as engine
from deepjit.engines import reference
from deepjit.engines.cuda import compiler, dense, dense_block, device, examples, settings

cuda_setup.check_simulator(engine)

ARCHITECTURES = [
    ([4, 3, 1], "relu", "sigmoid"),
    ([5, 4, 3, 3], ["tanh", "leaky_relu"], "softmax"),
    ([3, 4, 2], "sigmoid", "linear"),
    ([4, 1], "relu", "sigmoid"),
]


@pytest.fixture(autouse=True)
def small_launches(monkeypatch):
    for name, value in [("THREADS_PER_BLOCK", 8), ("MAX_BLOCKS", 4), ("TILE", 4),
                        ("BLOCK_THREADS", 8), ("EXAMPLES_THREADS", 8),
                        ("EXAMPLES_ROWS_MAX", 3),     # 5 rows of P: groups of 3 and 2
                        ("ROW_GROUPS", 2), ("COLUMN_GROUPS", 2), ("COLUMNS_PER_THREAD", 2),
                        ("BLOCKS", 3), ("REDUCE_ENTRIES", 4), ("REDUCE_STRANDS", 2)]:
        monkeypatch.setattr(settings, name, value)


# the cuda trainers: (Model formulation, BLOCK_MAX_WORK); 0 sends "dense" to the host loop
TRAINERS = {"host loop": ("dense", 0), "dense block": ("dense", None),
            "example space": ("examples", None), "streamed": ("streamed", None)}


@pytest.fixture(params=sorted(TRAINERS))
def formulation(request, monkeypatch):
    name, max_work = TRAINERS[request.param]
    if max_work is not None:
        monkeypatch.setattr(settings, "BLOCK_MAX_WORK", max_work)
    return name


def fitted_pair(dims, hidden, output, dtype="float64", iterations=3, seed=0,
                formulation="dense", m=9):
    net, params, X, Y = random_problem(seed, dims, hidden, output, m=m, slope=0.05)
    models = [Model.from_parameters(params, hidden, output, dtype=dtype, engine=name,
                                    leaky_slope=0.05, formulation=formulation
                                    ).fit(X, Y, 0.3, iterations, record_every=2)
              for name in ("cuda", "cpu")]
    return models, X


@pytest.mark.parametrize("dims, hidden, output", ARCHITECTURES)
def test_training_matches_cpu_engine(dims, hidden, output, formulation):
    (gpu, cpu), X = fitted_pair(dims, hidden, output, formulation=formulation)
    assert len(gpu.costs_) == len(cpu.costs_) == 2
    assert_rel(gpu.costs_, cpu.costs_, rtol=1e-10)
    assert_rel(gpu.final_cost_, cpu.final_cost_, rtol=1e-10)
    assert_params_rel(gpu.parameters, cpu.parameters, rtol=1e-10)
    assert_rel(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-10)


@pytest.mark.parametrize("dims, hidden, output", [
    ([4, 5, 3, 3], ["tanh", "leaky_relu"], "softmax"),
    ([3, 4, 1], "relu", "sigmoid"),
    ([3, 4, 2], "sigmoid", "linear")])
def test_gradients_match_central_differences(dims, hidden, output, formulation):
    """One step at learning rate 1 moves the parameters by minus the gradient, which
    must match central finite differences of the numpy cost (test_gradients.py)."""
    net, params, X, Y = problem_away_from_kinks(dims, hidden, output)
    model = Model.from_parameters(params, hidden, output, engine="cuda", leaky_slope=0.1,
                                  formulation=formulation)
    model.fit(X, Y, learning_rate=1.0, num_iterations=1)
    expected = finite_differences(params, X, Y, net)
    for key, value in model.parameters.items():
        assert_rel(params[key] - value, expected["d" + key], rtol=1e-6)


@pytest.mark.parametrize("dims, hidden, output", ARCHITECTURES[:2])
def test_gradients_match_the_numpy_oracle(dims, hidden, output):
    net, params, X, Y = random_problem(3, dims, hidden, output, m=9, slope=0.05)
    trainer = dense.DenseTrainer(params, X, Y, net, 0.1)
    first, _ = trainer.run(1, False)
    As, ZL = reference.forward(params, X, net)
    expected = reference.backward(params, As, Y, net)
    gradients = trainer.net.layout.unpack(trainer.grad.copy_to_host())
    assert_params_rel({"d" + k: v for k, v in gradients.items()}, expected)
    assert_rel(first, reference.cost(ZL, Y, output))


@pytest.mark.parametrize("m", [3, 1, 20])
def test_example_space_kernel_matches_cpu_over_many_steps(m):
    """Wide data (m < n_0) as in the cat workload; ROWS_MAX = 3 takes the 5 rows of P
    and of the gradient tasks in groups of 3 and 2; m = 20 with 8 threads makes the
    threads loop over the columns."""
    (gpu, cpu), X = fitted_pair([12, 5, 3, 2], ["relu", "leaky_relu"], "softmax", m=m,
                                iterations=9, formulation="examples")
    assert len(gpu.costs_) == len(cpu.costs_) == 5
    assert_rel(gpu.costs_, cpu.costs_, rtol=1e-10)
    assert_params_rel(gpu.parameters, cpu.parameters, rtol=1e-10)


@pytest.mark.parametrize("n_steps", [1, 3])
def test_example_space_first_steps_match_the_numpy_oracle(n_steps):
    net, params, X, Y = random_problem(4, [10, 4, 3, 1], "tanh", "sigmoid", m=6)
    trainer = examples.ExamplesTrainer(params, X, Y, net, 0.2)
    first, last = trainer.run(n_steps, True)
    expected, costs = numpy_descent(params, X, Y, net, 0.2, n_steps)
    assert_rel([first, last], [costs[0], costs[-1]])
    assert_params_rel(trainer.parameters(), expected)


def test_gradient_tasks_cover_every_trained_parameter_once():
    """Each entry of theta from b1 on (W1 is carried by P) is the output of exactly one
    task, and each task sums rows of the work buffer against one row of it."""
    dims, m = [12, 5, 3, 2], 7
    layout, d_off, ones_off, size = examples.work_offsets(dims, m)
    tasks = examples.gradient_tasks(dims, m, layout, d_off, ones_off)
    outputs = np.concatenate([np.arange(out0, out0 + n) for _, n, _, out0 in tasks])
    assert sorted(outputs) == list(range(layout.b_off[1], layout.size))
    assert len(tasks) == 3 + 2 + 3                 # rows of W2, W3; b1, b2, b3
    assert all(a0 + n * m <= size and b0 + m <= size for a0, n, b0, _ in tasks)
    assert ones_off + m == size and d_off[3] + 2 * m == ones_off


def test_auto_formulation_on_the_gpu(monkeypatch):
    monkeypatch.undo()          # the real launch settings decide what the kernels take
    assert engine.choose_formulation([12288, 20, 7, 5, 1], 209, 2500) == "examples"
    assert engine.choose_formulation([12288, 20, 7, 5, 1], 209, 1) == "dense"
    assert engine.choose_formulation([784, 512, 256, 1], 200_000, 100) == "dense"
    assert engine.choose_formulation([30, 64, 32, 1], 1_000_000, 100) == "streamed"
    assert engine.choose_formulation([2, 4, 1], 400, 100) == "dense"     # one block
    assert engine.choose_formulation([12288, 20, 1], 2000, 2500) == "examples"
    assert engine.choose_formulation([12288, 20, 1], 4000, 2500) == "dense"   # too many m
    assert dense_block.block_work([2, 4, 1], 400) == 3 * 400 * 12


def test_dense_formulation_runs_in_one_block_only_when_small():
    net, params, X, Y = random_problem(0, [2, 4, 1], m=400)
    trainer = engine.make_trainer(params, X, Y, net, 0.1, formulation="dense")
    assert type(trainer) is dense_block.BlockTrainer
    net, params, X, Y = random_problem(0, [30, 64, 32, 1], m=1000)
    trainer = engine.make_trainer(params, X, Y, net, 0.1, formulation="dense")
    assert type(trainer) is dense.DenseTrainer
    net, params, X, Y = random_problem(0, [3, 1])
    with pytest.raises(ValueError, match="formulation"):
        engine.make_trainer(params, X, Y, net, 0.1, formulation="sparse")


def test_float32_training_matches_cpu_engine(formulation):
    (gpu, cpu), X = fitted_pair([4, 3, 2], "tanh", "softmax", dtype="float32", iterations=2,
                                formulation=formulation)
    assert gpu.parameters["W1"].dtype == np.float32
    assert gpu.predict_proba(X).dtype == np.float32
    assert_params_rel(gpu.parameters, cpu.parameters, rtol=1e-5)
    assert_rel(gpu.final_cost_, cpu.final_cost_, rtol=1e-5)


def test_no_steps_run_nothing_and_give_nan(formulation):
    net, params, X, Y = random_problem(1, [3, 2, 1], "tanh", "sigmoid", m=5)
    trainer = engine.make_trainer(params, X, Y, net, 0.5, formulation=formulation)
    assert all(np.isnan(cost) for cost in trainer.run(0, True))
    assert_params_rel(trainer.parameters(), params, rtol=0)


def test_trainer_state_methods(formulation):
    net, params, X, Y = random_problem(1, [3, 2, 1], "tanh", "sigmoid", m=5)
    trainer = engine.make_trainer(params, X, Y, net, 0.5, formulation=formulation)
    before = trainer.snapshot()
    first, last = trainer.run(1, False)
    assert np.isfinite(first) and np.isnan(last)
    assert not np.allclose(trainer.parameters()["W1"], params["W1"])
    trainer.restore(before)
    assert_params_rel(trainer.parameters(), params, rtol=1e-15)
    assert trainer.is_finite()
    trainer.restore([np.full(part.shape, np.inf) for part in before])
    assert not trainer.is_finite()


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")   # the simulator's numpy
@pytest.mark.parametrize("dims", [[2, 1], [3, 2, 1]])
def test_divergence_stops_where_the_cpu_engine_stops(dims, formulation):
    net, params, X, Y = random_problem(2, dims, "relu", "linear", m=3)
    stopped = []
    for name in ("cuda", "cpu"):     # record_every=1: one-step chunks for both
        model = Model.from_parameters(params, output="linear", engine=name,
                                      formulation=formulation)
        with pytest.raises(TrainingDiverged):
            model.fit(X, Y, learning_rate=1e80, num_iterations=6, record_every=1)
        stopped.append((model.parameters, model.n_iter_))
    assert stopped[0][1] == stopped[1][1] < 6
    assert_params_rel(stopped[0][0], stopped[1][0], rtol=1e-10)


@pytest.mark.usefixtures("global_random_state")
def test_compat_functions_run_on_the_gpu(monkeypatch, capsys):
    """The drop-in modules on engine="cuda", by argument and by $DEEPJIT_ENGINE: the same
    parameters and printed costs as on the cpu engine."""
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((6, 5)), (rng.random((1, 5)) < 0.5).astype(float)
    on_gpu, trainer = [], engine.make_trainer
    monkeypatch.setattr(engine, "make_trainer",
                        lambda *a, **k: on_gpu.append(1) or trainer(*a, **k))
    runs = {}
    for engine_name in ("cuda", "cpu"):
        runs[engine_name] = dnn_app_utils_v3.L_layer_model(
            X, Y, [6, 4, 3, 1], 0.1, num_iterations=4, engine=engine_name)
        runs[engine_name + " printed"] = capsys.readouterr().out
    monkeypatch.setenv("DEEPJIT_ENGINE", "cuda")
    runs["env"] = planar_utils.nn_model(X, Y, 3, num_iterations=3)
    monkeypatch.setenv("DEEPJIT_ENGINE", "cpu")
    runs["env cpu"] = planar_utils.nn_model(X, Y, 3, num_iterations=3)
    assert len(on_gpu) == 2
    assert runs["cuda printed"].startswith("Cost after iteration 3: ")
    assert float(runs["cuda printed"].split()[-1]) == pytest.approx(
        float(runs["cpu printed"].split()[-1]), rel=1e-10)
    assert_params_rel(runs["cuda"][0], runs["cpu"][0], rtol=1e-10)
    assert_rel(runs["cuda"][1], runs["cpu"][1], rtol=1e-10)
    assert_params_rel(runs["env"], runs["env cpu"], rtol=1e-10)


@pytest.mark.skipif(not cuda_setup.ON_GPU, reason="a full cat run: real GPU only "
                    "(DEEPJIT_TEST_GPU=1)")
@pytest.mark.parametrize("formulation", ["examples", "dense"])
def test_full_cat_run_matches_cpu_engine_to_1e_10(formulation, cat_dir, monkeypatch):
    """The course's L_layer_model run (2500 iterations, float64) on the GPU and on the
    cpu engine: costs, final parameters and predictions agree to 1e-10 relative."""
    monkeypatch.undo()          # the GPU's own launch settings, not the tiny ones
    pytest.importorskip("h5py")
    data = datasets.load_catvnoncat(cat_dir)
    X, Y = datasets.flatten_images(data.train_x_orig), data.train_y
    models = [Model([12288, 20, 7, 5, 1], "relu", "sigmoid", init="scaled", seed=1,
                    engine=name, formulation=formulation).fit(X, Y, 0.0075, 2500)
              for name in ("cuda", "cpu")]
    gpu, cpu = models
    assert_rel(gpu.costs_, cpu.costs_, rtol=1e-10)
    assert_rel(gpu.final_cost_, 0.08843994344170207, rtol=1e-10)
    assert_params_rel(gpu.parameters, cpu.parameters, rtol=1e-10)
    assert_rel(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-10)


def run_without_simulator(code):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_gpu_a_clear_error_and_no_cuda_import_before():
    out = run_without_simulator(
        "import sys, numpy as np\n"
        "from deepjit import Model\n"
        "model = Model([2, 1], engine='cuda')\n"
        "print(any(k == 'numba.cuda' or k.startswith('numba.cuda.') for k in sys.modules))\n"
        "try:\n"
        "    model.fit(np.zeros((2, 3)), np.zeros((1, 3)), num_iterations=1)\n"
        "    print('GPU')\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n")
    imported_early, message = out.splitlines()[:2]
    assert imported_early == "False"
    if message == "GPU":
        pytest.skip("a GPU is present")
    assert message.startswith("engine='cuda' needs an NVIDIA GPU with a working driver; "
                              "none was found (")


def test_without_numba_cuda_a_clear_error():
    out = run_without_simulator(
        "import sys\n"
        "sys.modules['numba.cuda'] = None\n"
        "from deepjit.engines import get_engine\n"
        "try:\n"
        "    get_engine('cuda')\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n")
    assert out.startswith("engine='cuda' needs numba-cuda (pip install 'deepjit[cuda]')")


def test_resident_blocks_asks_the_compiled_kernel(monkeypatch):
    """The GPU path of ``resident_blocks`` (the simulator answers 1) with a stand-in
    kernel: compiled for the given types, at least one block."""
    class Compiled:
        def max_cooperative_grid_blocks(self, threads):
            return 1024 // threads

    class Kernel:
        def compile(self, signature):
            assert signature == ("float32[::1]", "bool")
            return Compiled()

    assert device.resident_blocks(Kernel(), ["float32[::1]", "bool"], 64) == 1
    monkeypatch.setattr(compiler, "SIMULATOR", False)
    assert device.resident_blocks(Kernel(), ["float32[::1]", "bool"], 64) == 16
    assert device.resident_blocks(Kernel(), ["float32[::1]", "bool"], 2048) == 1
