"""Mini-batch training: the compiled cpu engine against the numpy oracle (same shuffles,
same Philox dropout masks) for every optimizer, schedule, L2 and dropout, at batch sizes
1, one leaving a partial last batch, and m; gradients by finite differences; resuming
from a saved model; early stopping; reproducibility; refused options."""
import numpy as np
import pytest

from conftest import assert_rel, make_targets
from deepjit import Model, TrainingDiverged, optim
from deepjit.engines import reference
from deepjit.engines.reference_minibatch import MiniBatchTrainer, l2_cost
from deepjit.minibatch import OptimizerState, make_plan

M = 23
OPTIMIZERS = ["gd", "momentum", "rmsprop", "adam"]
BATCHES = [1, 5, M]          # 5: four batches of 5 and a last one of 3


def problem(seed=0, dims=(6, 9, 7, 3), output="softmax", m=M):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((dims[0], m)), make_targets(rng, output, dims[-1], m)


def fit_engines(engines, dims, hidden, output, X, Y, dtype="float64", **options):
    """The same fit (He initialisation, seed 4) on each of ``engines``, in that order."""
    return [Model(list(dims), hidden, output, init="he", seed=4, engine=engine,
                  dtype=dtype).fit(X, Y, **options) for engine in engines]


def fit_both(dims, hidden, output, X, Y, **options):
    """``(cpu, numpy)`` models of the same fit."""
    return fit_engines(("cpu", "numpy"), dims, hidden, output, X, Y, **options)


def assert_same_state(cpu, oracle, rtol=1e-12):
    for key, value in oracle.parameters.items():
        assert_rel(cpu.parameters[key], value, rtol)
    for name, buffers in oracle.optimizer_state_.buffers.items():
        for key, value in buffers.items():
            assert_rel(cpu.optimizer_state_.buffers[name][key], value, rtol)
    assert cpu.optimizer_state_.step == oracle.optimizer_state_.step
    assert_rel(cpu.history_["cost"], oracle.history_["cost"], rtol)


@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_cpu_matches_oracle_with_l2_dropout_and_decay(optimizer, batch_size):
    X, Y = problem()
    cpu, oracle = fit_both((6, 9, 7, 3), ["tanh", "relu"], "softmax", X, Y,
                           learning_rate=0.05, batch_size=batch_size, num_iterations=55,
                           optimizer=optimizer, l2=0.3, keep_prob=[0.7, 0.85],
                           schedule=optim.InverseTimeDecay(0.5, time_interval=2))
    assert cpu.n_iter_ == oracle.n_iter_ == 55
    assert_same_state(cpu, oracle)
    moved = np.abs(cpu.parameters["W1"] - Model([6, 9, 7, 3], init="he", seed=4)
                   .parameters["W1"]).max()
    assert moved > 1e-3


@pytest.mark.parametrize("hidden,output", [("sigmoid", "sigmoid"), ("leaky_relu", "linear"),
                                           ("relu", "softmax")])
@pytest.mark.parametrize("schedule", ["constant", "inverse_time"])
def test_cpu_matches_oracle_for_each_output_and_schedule(hidden, output, schedule):
    X, Y = problem(1, (5, 8, 2), output)
    cpu, oracle = fit_both((5, 8, 2), hidden, output, X, Y, learning_rate=0.02, batch_size=4,
                           num_epochs=10, optimizer=optim.Adam(0.8, 0.99, 1e-7),
                           schedule=schedule, keep_prob=0.6)
    assert_same_state(cpu, oracle)
    assert len(cpu.history_["cost"]) == 10


def oracle_trainer(dims, hidden, output, X, Y, l2, keep_prob, seed=2):
    model = Model(list(dims), hidden, output, init="he", seed=seed)
    plan = make_plan(model.net, X.shape[1], 0.1, None, "gd", None, l2, keep_prob, 9, True)
    state = OptimizerState.fresh(plan, model.parameters, X.shape[1])
    return MiniBatchTrainer(model.parameters, state, X, Y, model.net, plan)


def batch_cost(trainer, examples, step):
    As, inputs, masks, ZL = trainer.forward(trainer.X, examples, step)
    return reference.cost(ZL, trainer.Y, trainer.net.output) + l2_cost(
        trainer.params, trainer.net.L, trainer.plan.l2, trainer.Y.shape[1])


@pytest.mark.parametrize("l2,keep_prob", [(0.7, 1.0), (0.0, [0.6, 0.8]), (0.4, [0.5, 0.9])])
def test_gradients_with_l2_and_fixed_dropout_masks_match_finite_differences(l2, keep_prob):
    X, Y = problem(3, (4, 6, 5, 2), "softmax", m=11)
    trainer = oracle_trainer((4, 6, 5, 2), "tanh", "softmax", X, Y, l2, keep_prob)
    examples, step = np.arange(11), 3      # the masks are fixed by (seed, step, examples)
    As, inputs, masks, _ = trainer.forward(X, examples, step)
    grads = trainer.gradients(As, inputs, masks, Y)
    eps = 1e-6
    for key, theta in trainer.params.items():
        numeric = np.zeros_like(theta)
        for index in np.ndindex(theta.shape):
            saved = theta[index]
            theta[index] = saved + eps
            plus = batch_cost(trainer, examples, step)
            theta[index] = saved - eps
            minus = batch_cost(trainer, examples, step)
            theta[index] = saved
            numeric[index] = (plus - minus) / (2 * eps)
        assert_rel(grads["d" + key], numeric, 1e-6)


@pytest.mark.parametrize("engine", ["cpu", "numpy"])
def test_resumed_fit_equals_uninterrupted_fit(tmp_path, engine):
    X, Y = problem(5)
    options = dict(learning_rate=0.01, batch_size=5, optimizer="adam", keep_prob=0.8, l2=0.1,
                   schedule="inverse_time")
    whole = Model([6, 9, 7, 3], "relu", "softmax", seed=2, engine=engine)
    whole.fit(X, Y, num_epochs=8, **options)
    half = Model([6, 9, 7, 3], "relu", "softmax", seed=2, engine=engine)
    half.fit(X, Y, num_epochs=4, **options)
    resumed = Model.load(half.save(tmp_path / "half.npz"), engine=engine)
    resumed.fit(X, Y, num_epochs=4, **options)
    for key, value in whole.parameters.items():
        np.testing.assert_array_equal(resumed.parameters[key], value)
    np.testing.assert_array_equal(resumed.optimizer_state_.buffers["s"]["W2"],
                                  whole.optimizer_state_.buffers["s"]["W2"])


def test_early_stopping_restores_the_best_parameters():
    rng = np.random.default_rng(0)
    X, Xv = rng.standard_normal((10, 40)), rng.standard_normal((10, 40))
    Y, Yv = (rng.random((1, 40)) < 0.5) * 1.0, (rng.random((1, 40)) < 0.5) * 1.0   # noise
    model = Model([10, 50, 1], "relu", "sigmoid", seed=1)
    model.fit(X, Y, learning_rate=0.01, batch_size=8, num_epochs=300, optimizer="adam",
              validation_data=(Xv, Yv), early_stopping=True, patience=5)
    val_costs = model.history_["val_cost"]
    assert len(val_costs) < 300                          # it stopped
    best = int(np.argmin(val_costs))
    assert model.best_epoch_ == model.history_["epoch"][best]
    assert len(val_costs) == best + 1 + 5
    ZL = reference.forward(model.parameters, Xv, model.net)[1]
    assert reference.cost(ZL, Yv, "sigmoid") == pytest.approx(val_costs[best], rel=1e-12)


def test_history_records_validation_accuracy_and_fraction():
    X, Y = problem(6, (6, 9, 3), "softmax", m=50)
    model = Model([6, 9, 3], "relu", "softmax", seed=1)
    model.fit(X, Y, learning_rate=0.05, batch_size=10, num_epochs=3, optimizer="momentum",
              validation_fraction=0.2)
    h = model.history_
    assert h["epoch"] == [0, 1, 2] and len(h["val_cost"]) == len(h["val_accuracy"]) == 3
    assert model.score(X[:, 40:], Y[:, 40:]) == h["val_accuracy"][-1]
    assert model.n_iter_ == 3 * 4                        # 40 training examples, batches of 10


def test_same_seed_gives_identical_parameters_whatever_num_threads():
    X, Y = problem(7, (6, 40, 30, 3), "softmax", m=301)
    results = []
    for threads in (1, 2):
        model = Model([6, 40, 30, 3], "relu", "softmax", seed=1, num_threads=threads)
        model.fit(X, Y, learning_rate=0.01, batch_size=64, num_epochs=3, optimizer="adam",
                  keep_prob=0.7, seed=11)
        results.append(model.parameters)
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key])


def test_float32_costs_within_1e_4_of_float64_over_20_epochs():
    X, Y = problem(8, (6, 16, 3), "softmax", m=200)
    costs = {}
    for dtype in ("float64", "float32"):
        model = Model([6, 16, 3], "tanh", "softmax", seed=1, dtype=dtype)
        model.fit(X, Y, learning_rate=0.003, batch_size=32, num_epochs=20, optimizer="adam",
                  keep_prob=0.9, l2=0.01)
        costs[dtype] = np.array(model.history_["cost"])
    np.testing.assert_allclose(costs["float32"], costs["float64"], rtol=0, atol=1e-4)


def test_dropout_is_for_training_only():
    X, Y = problem(9, (6, 9, 3), "softmax")
    model = Model([6, 9, 3], "relu", "softmax", seed=1)
    model.fit(X, Y, batch_size=5, num_epochs=2, keep_prob=0.5)
    A = reference.forward(model.parameters, X, model.net)[0][-1]
    assert_rel(model.predict_proba(X), A)


def test_no_new_option_takes_the_full_batch_path():
    X, Y = problem(10, (6, 5, 1), "sigmoid")
    plain = Model([6, 5, 1], seed=1).fit(X, Y, learning_rate=0.1, num_iterations=30)
    defaults = Model([6, 5, 1], seed=1).fit(X, Y, learning_rate=0.1, num_iterations=30,
                                            l2=0.0, keep_prob=1.0, batch_size=None)
    assert defaults.history_ is None and defaults.optimizer_state_ is None
    for key, value in plain.parameters.items():
        np.testing.assert_array_equal(defaults.parameters[key], value)


BAD = [({"batch_size": 0}, "batch_size"), ({"batch_size": M + 1}, "batch_size"),
       ({"batch_size": 2.5}, "batch_size"), ({"keep_prob": 0.0}, "keep_prob"),
       ({"keep_prob": 1.5}, "keep_prob"), ({"keep_prob": [0.5]}, "keep_prob"),
       ({"l2": -0.1}, "l2"), ({"optimizer": "sgd2"}, "optimizer"),
       ({"schedule": "cosine"}, "schedule"), ({"num_epochs": 0}, "num_epochs"),
       ({"num_epochs": 2, "num_iterations": 5}, "num_epochs"),
       ({"validation_fraction": 1.0}, "validation_fraction"),
       ({"early_stopping": True, "patience": 0}, "patience"),
       ({"early_stopping": True, "min_delta": -1}, "min_delta"),
       ({"optimizer": "adam", "seed": -1}, "seed")]


@pytest.mark.parametrize("options,name", BAD)
def test_bad_options_are_refused_by_name_before_any_work(options, name):
    X, Y = problem()
    model = Model([6, 9, 7, 3], "relu", "softmax", seed=1)
    before = model.parameters
    calls = []
    with pytest.raises(ValueError, match=name):
        model.fit(X, Y, callback=lambda *a: calls.append(a), **options)
    assert not calls and model.history_ is None
    for key, value in before.items():
        np.testing.assert_array_equal(model.parameters[key], value)


@pytest.mark.parametrize("make,name", [(lambda: optim.Adam(beta1=1.0), "beta1"),
                                       (lambda: optim.Adam(beta2=-0.1), "beta2"),
                                       (lambda: optim.Adam(epsilon=0), "epsilon"),
                                       (lambda: optim.Momentum(beta=1), "beta"),
                                       (lambda: optim.RMSprop(beta=1.2), "beta"),
                                       (lambda: optim.InverseTimeDecay(-1), "decay_rate"),
                                       (lambda: optim.InverseTimeDecay(1, 0), "time_interval")])
def test_bad_hyperparameters_are_refused_by_name(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize("engine", ["cpu", "numpy"])
def test_divergence_keeps_the_last_finite_parameters(engine):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 40)) * 100, rng.standard_normal((1, 40)) * 100
    model = Model([3, 8, 1], "relu", "linear", seed=1, engine=engine)
    with pytest.raises(TrainingDiverged) as error:
        model.fit(X, Y, learning_rate=10.0, batch_size=4, num_epochs=50, optimizer="momentum")
    assert all(np.isfinite(v).all() for v in model.parameters.values())
    assert model.n_iter_ == error.value.iterations == model.optimizer_state_.step


def test_logistic_regression_matches_oracle_and_refuses_dropout():
    X, Y = problem(11, (5, 1), "sigmoid")
    cpu, oracle = fit_both((5, 1), "relu", "sigmoid", X, Y, learning_rate=0.1, batch_size=6,
                           num_epochs=15, optimizer="rmsprop", l2=0.2)
    assert_same_state(cpu, oracle)
    with pytest.raises(ValueError, match="keep_prob"):
        Model([5, 1], init="zeros").fit(X, Y, keep_prob=0.5)


@pytest.mark.parametrize("schedule,expected", [
    ("constant", lambda e: 0.1),
    (optim.InverseTimeDecay(0.5), lambda e: 0.1 / (1 + 0.5 * e)),
    (optim.InverseTimeDecay(0.5, time_interval=2), lambda e: 0.1 / (1 + 0.5 * (e // 2)))])
def test_schedules_follow_the_course_formulas(schedule, expected):
    X, Y = problem(12, (6, 4, 3), "softmax")
    model = Model([6, 4, 3], "relu", "softmax", seed=1)
    model.fit(X, Y, learning_rate=0.1, batch_size=10, num_epochs=6, schedule=schedule)
    assert model.history_["learning_rate"] == pytest.approx([expected(e) for e in range(6)],
                                                            rel=1e-15)


@pytest.fixture
def split_batches(monkeypatch):
    """The cpu engine cuts every batch of two examples or more into two parts (by
    default only batches with enough work to pay for a second thread)."""
    from deepjit.engines.cpu import minibatch as cpu_minibatch
    monkeypatch.setattr(cpu_minibatch, "SPLIT_WORK", 1)


@pytest.mark.parametrize("batch_size", BATCHES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_batches_cut_in_two_parts_match_the_oracle(split_batches, optimizer, batch_size):
    test_cpu_matches_oracle_with_l2_dropout_and_decay(optimizer, batch_size)


def _fits_on_one_and_two_threads(dims, X, Y, dtype, **options):
    fits = []
    for threads in (1, 2):
        model = Model(list(dims), "relu", "softmax", seed=1, dtype=dtype, num_threads=threads)
        fits.append(model.fit(X, Y, seed=11, **options))
    return fits


def _assert_same_bits(one, two):
    for key, value in one.parameters.items():
        np.testing.assert_array_equal(two.parameters[key], value)
    for name, buffers in one.optimizer_state_.buffers.items():
        for key, value in buffers.items():
            np.testing.assert_array_equal(two.optimizer_state_.buffers[name][key], value)
    assert one.history_["cost"] == two.history_["cost"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_two_part_batches_give_the_same_bits_on_one_or_two_threads(split_batches, dtype,
                                                                   optimizer):
    """Batches of 1 (one part), 64 (a last batch of 45) and m, dropout, L2, a schedule."""
    X, Y = problem(7, (6, 40, 30, 3), "softmax", m=301)
    for batch_size in (1, 64, 301):
        one, two = _fits_on_one_and_two_threads(
            (6, 40, 30, 3), X, Y, dtype, learning_rate=0.01, batch_size=batch_size,
            num_epochs=2, optimizer=optimizer, keep_prob=[0.7, 0.9], l2=0.05,
            schedule="inverse_time")
        _assert_same_bits(one, two)


def test_batches_with_enough_work_run_on_two_threads_with_the_same_bits():
    """The default cut: [40, 100, 10] batches of 200 are two parts, batches of 8 one."""
    from deepjit.engines.cpu.minibatch import MiniBatchTrainer, split_rows
    assert 8 < split_rows([40, 100, 10], 200) < 200
    assert split_rows([12288, 100, 1], 200) > 200         # big products: BLAS's threads
    X, Y = problem(8, (40, 100, 10), "softmax", m=437)
    one, two = _fits_on_one_and_two_threads((40, 100, 10), X, Y, "float64",
                                            learning_rate=0.01, batch_size=200, num_epochs=3,
                                            optimizer="adam", keep_prob=0.8, l2=0.01)
    _assert_same_bits(one, two)
    model = Model([40, 100, 10], "relu", "softmax")
    plan = make_plan(model.net, 437, 0.01, 200, "adam", None, 0.0, 1.0, 0, True)
    state = OptimizerState.fresh(plan, model.parameters, 437)
    assert MiniBatchTrainer(model.parameters, state, X, Y, model.net, plan, 2).threads == 2
    plan = make_plan(model.net, 437, 0.01, 8, "adam", None, 0.0, 1.0, 0, True)
    assert MiniBatchTrainer(model.parameters, state, X, Y, model.net, plan, 2).threads == 1


def test_an_error_in_one_worker_releases_the_other(monkeypatch):
    """The worker that raises sets the abort flag, so the one waiting for its work
    returns, and the error reaches the caller."""
    from deepjit.engines.cpu import minibatch as cpu_minibatch
    from deepjit.engines.cpu import spin
    calls = []

    def worker(sync, *args):
        calls.append(sync)
        if len(calls) == 1:
            return spin.wait_until(sync, spin.DONE, 1)     # forever, unless released
        raise RuntimeError("worker failed")
    monkeypatch.setattr(cpu_minibatch, "SPLIT_WORK", 1)
    monkeypatch.setattr(cpu_minibatch, "minibatch_worker", worker)
    X, Y = problem(9, (6, 9, 3), "softmax", m=40)
    model = Model([6, 9, 3], "relu", "softmax", seed=1, num_threads=2)
    with pytest.raises(RuntimeError, match="worker failed"):
        model.fit(X, Y, batch_size=20, num_epochs=1)
    assert len(calls) == 2 and calls[0] is calls[1]


def test_each_call_runs_on_the_faster_thread_count_and_retries_the_other():
    from deepjit.engines.cpu.minibatch import RETRY_CALLS, MiniBatchTrainer
    X, Y = problem(8, (40, 100, 10), "softmax", m=437)
    model = Model([40, 100, 10], "relu", "softmax")
    plan = make_plan(model.net, 437, 0.01, 200, "adam", None, 0.0, 1.0, 0, True)
    state = OptimizerState.fresh(plan, model.parameters, 437)
    trainer = MiniBatchTrainer(model.parameters, state, X, Y, model.net, plan, 2)
    assert [trainer._pick_threads() for _ in range(3)] == [2, 2, 2]   # nothing measured
    trainer._record_pace(2, 3.0)
    assert trainer._pick_threads() == 1                              # the other, once
    trainer._record_pace(1, 1.0)
    picks = [trainer._pick_threads() for _ in range(2 * RETRY_CALLS)]
    assert picks.count(2) == 2 and picks.count(1) == 2 * RETRY_CALLS - 2
    trainer._record_pace(1, 3.0)                # a run on one thread averages its pace
    assert trainer._pace[1] == 2.0
    trainer._record_pace(2, 0.5)                # a retry replaces the stale pace
    assert trainer._pace[2] == 0.5


def test_fits_on_several_python_threads_share_the_partner_thread(split_batches):
    """Every trainer's second worker runs on one shared thread: fits started at once
    on four Python threads finish with the bits of one fit alone."""
    from concurrent.futures import ThreadPoolExecutor
    X, Y = problem(10, (6, 40, 30, 3), "softmax", m=301)

    def fit(_):
        model = Model([6, 40, 30, 3], "relu", "softmax", seed=1, num_threads=2)
        return model.fit(X, Y, learning_rate=0.01, batch_size=64, num_epochs=3,
                         optimizer="adam", keep_prob=0.8, seed=3)
    alone = fit(None)
    with ThreadPoolExecutor(4) as pool:
        for other in pool.map(fit, range(4)):
            _assert_same_bits(alone, other)
