"""Training: the cpu engine against the numpy engine, float32 against float64, stability
(saturation, divergence), Ctrl-C, chunking, and the course's flower run."""
import os
import signal

import numpy as np
import pytest

import deepjit
from conftest import assert_params_rel, make_targets, numpy_descent, subprocess_env
from deepjit import Model, datasets, training
from deepjit.engines import reference

ARCHITECTURES = [  # (layer_dims, hidden, output, m)
    ([5, 1], "relu", "sigmoid", 9),                     # logistic regression
    ([4, 7, 1], "tanh", "sigmoid", 1),                  # a single example
    ([6, 5, 4, 1], "relu", "sigmoid", 33),
    ([3, 8, 4], "leaky_relu", "softmax", 21),
    ([4, 6, 5, 2], ["sigmoid", "linear"], "linear", 17),
    ([30, 6, 3, 1], "relu", "sigmoid", 12),             # m < n_0: the example-space path
]


def data_for(dims, output, m, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m))
    return X, make_targets(rng, output, dims[-1], m)


@pytest.mark.parametrize("formulation", ["auto", "dense", "examples"])
@pytest.mark.parametrize("dims,hidden,output,m", ARCHITECTURES)
def test_cpu_and_numpy_engines_train_alike(dims, hidden, output, m, formulation):
    """100 iterations side by side: costs and parameters agree to 1e-10 relative."""
    X, Y = data_for(dims, output, m)
    kwargs = dict(hidden_activation=hidden, output=output, init="he", seed=3)
    cpu = Model(dims, engine="cpu", formulation=formulation, **kwargs)
    ref = Model(dims, engine="numpy", **kwargs)
    for model in (cpu, ref):
        model.fit(X, Y, learning_rate=0.05, num_iterations=100, record_every=10)
    assert len(cpu.costs_) == 10
    np.testing.assert_allclose(cpu.costs_, ref.costs_, rtol=1e-10)
    assert cpu.final_cost_ == pytest.approx(ref.final_cost_, rel=1e-10)
    assert cpu.costs_[-1] < cpu.costs_[0]             # it did learn something
    assert_params_rel(cpu.parameters, ref.parameters, rtol=1e-10)


@pytest.mark.parametrize("engine", ["cpu", "numpy"])
@pytest.mark.parametrize("dims,hidden,output,m", ARCHITECTURES[2:])
def test_float32_follows_float64(engine, dims, hidden, output, m):
    """Stated tolerance: after 100 iterations in float32 the recorded costs agree with
    float64 to 1e-4 relative and the parameters to 1e-3 (relative to their largest)."""
    X, Y = data_for(dims, output, m, seed=1)
    runs = {dtype: Model(dims, hidden, output, init="he", seed=5, dtype=dtype, engine=engine)
            .fit(X, Y, learning_rate=0.05, num_iterations=100, record_every=20)
            for dtype in ("float32", "float64")}
    np.testing.assert_allclose(runs["float32"].costs_, runs["float64"].costs_, rtol=1e-4)
    assert runs["float32"].final_cost_ == pytest.approx(runs["float64"].final_cost_, rel=1e-4)
    p32, p64 = runs["float32"].parameters, runs["float64"].parameters
    for key in p64:
        assert p32[key].dtype == np.float32
        np.testing.assert_allclose(p32[key], p64[key], rtol=0,
                                   atol=1e-3 * np.abs(p64[key]).max())


def test_training_does_not_depend_on_chunking(monkeypatch):
    """Chunk lengths follow wall-clock time; the numbers must not."""
    X, Y = data_for([4, 6, 1], "sigmoid", 25)
    results = []
    for seconds in (0.0, 1e9):   # one iteration per call / record_every per call
        monkeypatch.setattr(training, "CHUNK_SECONDS", seconds)
        model = Model([4, 6, 1], "tanh").fit(X, Y, 0.1, num_iterations=57, record_every=20)
        results.append((model.parameters, model.costs_, model.final_cost_))
    (p0, c0, f0), (p1, c1, f1) = results
    assert c0 == c1 and f0 == f1
    for key in p0:
        np.testing.assert_array_equal(p0[key], p1[key])


def test_callback_sees_progress():
    X, Y = data_for([4, 3, 1], "sigmoid", 10)
    seen = []
    Model([4, 3, 1]).fit(X, Y, 0.1, num_iterations=35, record_every=10,
                         callback=lambda done, cost: seen.append((done, cost)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 35 and len(set(done)) == len(done)
    assert {10, 20, 30} <= set(done)                  # chunks end at recording iterations
    assert all(np.isfinite(c) for _, c in seen)


# -- stability ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["cpu", "numpy"])
def test_saturated_sigmoid_output_gives_a_finite_cost(engine):
    X, Y = data_for([3, 4, 1], "sigmoid", 8)
    rng = np.random.default_rng(2)
    params = {"W1": rng.standard_normal((4, 3)) * 1e3, "b1": np.zeros((4, 1)),
              "W2": rng.standard_normal((1, 4)) * 1e3, "b2": np.zeros((1, 1))}
    model = Model.from_parameters(params, "relu", "sigmoid", engine=engine)
    with np.errstate(over="ignore"):
        model.fit(X, Y, learning_rate=1e-9, num_iterations=1)
    _, ZL = reference.forward(params, X, model.net)
    assert np.abs(ZL).max() > 800                     # exp(800) overflows: really saturated
    expected = np.mean(np.logaddexp(0, ZL) - Y * ZL)  # finite, large
    assert np.isfinite(model.costs_[0]) and model.costs_[0] == pytest.approx(expected, rel=1e-12)
    assert expected > 100


def diverging_problem():
    """Linear regression with an absurd learning rate: the cost overflows at iteration
    83 and the parameters at iteration 166 (see ``first_bad_iteration``)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 20))
    Y = rng.standard_normal((1, 20))
    return X, Y, dict(layer_dims=[3, 1], output="linear", init="scaled", seed=1), 50.0


def first_bad_iteration(model, X, Y, learning_rate):
    """The numpy-engine replay: the parameters after the last iteration k whose cost is
    finite and whose update leaves the parameters finite; returns ``(k, parameters)``."""
    params = model.parameters
    for k in range(100000):
        with np.errstate(over="ignore", invalid="ignore"):
            after, costs = numpy_descent(params, X, Y, model.net, learning_rate, 1)
        if not (np.isfinite(costs[0]) and all(np.isfinite(v).all() for v in after.values())):
            return k, params
        params = after
    raise AssertionError("did not diverge")


@pytest.mark.parametrize("engine,formulation", [("cpu", "dense"), ("cpu", "examples"),
                                                ("cpu", "streamed"), ("numpy", "auto")])
def test_divergence_raises_and_keeps_the_last_finite_parameters(engine, formulation):
    X, Y, kwargs, lr = diverging_problem()
    expected_k, expected = first_bad_iteration(Model(**kwargs), X, Y, lr)
    assert expected_k == 83
    model = Model(engine=engine, formulation=formulation, **kwargs)
    with pytest.raises(deepjit.TrainingDiverged, match=f"iteration {expected_k}"):
        with np.errstate(over="ignore", invalid="ignore"):
            model.fit(X, Y, learning_rate=lr, num_iterations=500, record_every=1)
    params = model.parameters
    assert all(np.isfinite(v).all() for v in params.values())
    assert_params_rel(params, expected, rtol=1e-10)
    assert issubclass(deepjit.TrainingDiverged, FloatingPointError)


@pytest.mark.parametrize("chunk_seconds", [0.0, 1e9])
def test_divergence_result_does_not_depend_on_chunking(monkeypatch, chunk_seconds):
    """With long chunks (record_every per compiled call) the cost overflows in the
    middle of a chunk (iteration 83 of the chunk 1..99) while the parameters stay
    finite until iteration 166; the model must still keep the iteration-83 parameters."""
    monkeypatch.setattr(training, "CHUNK_SECONDS", chunk_seconds)
    X, Y, kwargs, lr = diverging_problem()
    expected_k, expected = first_bad_iteration(Model(**kwargs), X, Y, lr)
    model = Model(**kwargs)
    with pytest.raises(deepjit.TrainingDiverged, match=f"iteration {expected_k}"):
        with np.errstate(over="ignore", invalid="ignore"):
            model.fit(X, Y, learning_rate=lr, num_iterations=500, record_every=100)
    assert_params_rel(model.parameters, expected, rtol=1e-10)


# -- Ctrl-C ----------------------------------------------------------------------------
@pytest.mark.parametrize("engine,formulation", [("cpu", "dense"), ("cpu", "examples"),
                                                ("numpy", "auto")])
def test_ctrl_c_stops_early_and_keeps_the_parameters_reached(engine, formulation, capsys):
    X, Y = data_for([4, 5, 1], "sigmoid", 30)

    def interrupt(done, cost):
        if done >= 25:
            os.kill(os.getpid(), signal.SIGINT)

    model = Model([4, 5, 1], "tanh", engine=engine, formulation=formulation)
    model.fit(X, Y, 0.1, num_iterations=1000, record_every=10, callback=interrupt)
    assert model.interrupted_ is True
    assert 25 <= model.n_iter_ < 1000
    assert "Interrupted" in capsys.readouterr().out
    fresh = Model([4, 5, 1], "tanh", engine=engine, formulation=formulation)
    fresh.fit(X, Y, 0.1, model.n_iter_, record_every=10)
    assert fresh.interrupted_ is False
    assert_params_rel(model.parameters, fresh.parameters, rtol=1e-13)
    assert model.costs_ == fresh.costs_
    # the SIGINT handler is restored afterwards
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_fit_outside_the_main_thread():
    """SIGINT handlers can only be set in the main thread: fit must still work."""
    import threading
    X, Y = data_for([4, 3, 1], "sigmoid", 10)
    models = []
    worker = threading.Thread(target=lambda: models.append(Model([4, 3, 1]).fit(X, Y, 0.1, 20)))
    worker.start()
    worker.join()
    assert models and models[0].n_iter_ == 20
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the course's flower -----------------------------------------------------------------
def test_flower_with_four_tanh_units():
    """nn_model(X, Y, n_h=4, num_iterations=10000): published costs (to 6 decimals, exact
    up to iteration 6000) and about 90 % training accuracy (at least 88 %)."""
    X, Y = datasets.load_planar_dataset()
    model = Model([2, 4, 1], "tanh", "sigmoid", init="small", seed=3)
    model.fit(X, Y, learning_rate=1.2, num_iterations=10000, record_every=1000)
    published = [0.693162, 0.258625, 0.239334, 0.230802, 0.225528, 0.221845, 0.219094]
    np.testing.assert_array_equal(np.round(model.costs_[:7], 6), published)
    assert len(model.costs_) == 10
    assert model.score(X, Y) >= 0.88


# -- the course's deep network on the real cat images -------------------------------------
def test_cat_deep_network_first_costs(cat_dir):
    """L_layer_model([12288, 20, 7, 5, 1]), lr 0.0075: the published full-precision cost
    at iteration 0 (to 1e-12) and the cost at iteration 100 (to 6 decimals)."""
    pytest.importorskip("h5py")
    data = datasets.load_catvnoncat(cat_dir)
    X, Y = datasets.flatten_images(data.train_x_orig), data.train_y
    model = Model([12288, 20, 7, 5, 1], "relu", "sigmoid", init="scaled", seed=1)
    model.fit(X, Y, learning_rate=0.0075, num_iterations=101, record_every=100)
    assert model.costs_[0] == pytest.approx(0.7717493284237686, rel=1e-12)
    assert round(model.costs_[1], 6) == 0.672053


REBUILD_SCRIPT = """
import json, sys, time
import numpy as np
from deepjit import Model, training
from deepjit.engines import example_space

training.CHUNK_SECONDS = 0.01
rebuild = example_space.first_layer_weights

def slow_rebuild(*args):
    # W1 = W1_0 - (lr/m) S X^T made slow, so that Ctrl-C lands while it runs
    print("rebuilding", flush=True)
    time.sleep(1.0)
    W1 = rebuild(*args)
    print("rebuilt", flush=True)
    time.sleep(0.3)
    return W1

rng = np.random.default_rng(0)
X, Y = rng.standard_normal((50, 20)), (rng.random((1, 20)) > 0.5).astype(float)
model = Model([50, 6, 1], "tanh", formulation="examples", seed=2)
started = []
def running(done, cost):
    if not started:
        started.append(done)
        print("running", flush=True)
example_space.first_layer_weights = slow_rebuild
try:
    model.fit(X, Y, 0.05, num_iterations=10 ** 7, callback=running)
except KeyboardInterrupt:
    print(json.dumps({"escaped": True, "n_iter": model.n_iter_}), flush=True)
    sys.exit(0)
example_space.first_layer_weights = rebuild
fresh = Model([50, 6, 1], "tanh", formulation="examples", seed=2)
fresh.fit(X, Y, 0.05, num_iterations=model.n_iter_)
gap = max(float(np.max(np.abs(model.parameters[k] - fresh.parameters[k]))
                / np.max(np.abs(fresh.parameters[k]))) for k in fresh.parameters)
print(json.dumps({"escaped": False, "n_iter": model.n_iter_, "gap": gap,
                  "interrupted": model.interrupted_}), flush=True)
"""


def test_more_ctrl_c_while_w1_is_rebuilt_cannot_lose_the_parameters():
    """Ctrl-C every 50 ms from the first chunk until W1 (example space) is rebuilt: fit
    returns with the parameters reached (those of a fresh run of as many iterations)."""
    import json
    import queue
    import subprocess
    import sys
    import threading
    import time
    child = subprocess.Popen([sys.executable, "-c", REBUILD_SCRIPT], env=subprocess_env(),
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in child.stdout],
                     daemon=True).start()
    seen = [lines.get(timeout=120)]
    assert seen == ["running"]
    signals = 0
    while "rebuilt" not in seen and signals < 200:
        child.send_signal(signal.SIGINT)
        signals += 1
        time.sleep(0.05)
        while not lines.empty():
            seen.append(lines.get())
    child.wait(timeout=120)
    while not lines.empty():
        seen.append(lines.get())
    assert child.returncode == 0, child.stderr.read()
    assert "rebuilding" in seen and signals >= 10        # several arrived during the rebuild
    result = json.loads(seen[-1])
    assert result["escaped"] is False and result["interrupted"] is True
    assert 0 < result["n_iter"] < 10 ** 7 and result["gap"] < 1e-12
