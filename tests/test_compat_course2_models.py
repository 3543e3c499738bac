"""The second course's training runs (``model`` in the Initialization, Regularization and
Optimization notebooks) on deepjit's compiled engines: every published cost, learning
rate and accuracy of REFERENCE.md, on the real data."""
import contextlib
import io
import re
import warnings

import numpy as np
import pytest

from deepjit.compat import init_utils as init
from deepjit.compat import opt_utils_v1a as opt
from deepjit.compat import reg_utils as reg

LINE = re.compile(r"^Cost after (?:iteration|epoch) (\d+): (\S+)$")
RATE = re.compile(r"^learning rate after epoch (\d+): (\S+)$")


@pytest.fixture(autouse=True)
def _restore_random_state(global_random_state):
    yield


def run_printed(function, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # log(0) where the course has it
        result = function(*args, **kwargs)
    return result, out.getvalue().splitlines()


def parsed(lines, pattern):
    return [float(m.group(2)) for m in map(pattern.match, lines) if m]


def accuracies(module, parameters, *sets):
    printed = run_printed(lambda: [module.predict(X, Y, parameters) for X, Y in sets])[1]
    return [float(line.split(": ")[1]) for line in printed]


# -- W1A1 ------------------------------------------------------------------------------------

PUBLISHED_HE = [0.8830537463419761, 0.6879825919728063, 0.6751286264523371, 0.6526117768893805,
                0.6082958970572938, 0.5304944491717495, 0.4138645817071794, 0.3117803464844441,
                0.23696215330322562, 0.1859728720920684, 0.15015556280371808, 0.12325079292273551,
                0.09917746546525937, 0.08457055954024283, 0.07357895962677366]
PUBLISHED_RANDOM = [np.inf, 0.6247924745506072, 0.5980258056061102, 0.5637539062842213,
                    0.5501256393526495, 0.5443826306793814, 0.5373895855049121,
                    0.47157999220550006, 0.39770475516243037, 0.3934560146692851,
                    0.3920227137490125, 0.38913700035966736, 0.3861358766546214,
                    0.38497629552893475, 0.38276694641706693]


@pytest.fixture(scope="module")
def circles():
    state = np.random.get_state()
    data = init.load_dataset()
    np.random.set_state(state)
    return data


def test_he_initialization_run(circles):
    X, Y, X_test, Y_test = circles
    parameters, lines = run_printed(init.model, X, Y, initialization="he")
    costs = parsed(lines, LINE)
    assert [int(LINE.match(l).group(1)) for l in lines] == list(range(0, 15000, 1000))
    assert [round(c, 6) for c in costs] == [round(c, 6) for c in PUBLISHED_HE]
    np.testing.assert_allclose(costs, PUBLISHED_HE, rtol=1e-10)
    assert accuracies(init, parameters, (X, Y), (X_test, Y_test)) == [0.9933333333333333, 0.96]


def test_zeros_initialization_run(circles):
    X, Y, X_test, Y_test = circles
    parameters, lines = run_printed(init.model, X, Y, initialization="zeros")
    np.testing.assert_allclose(parsed(lines, LINE), [0.6931471805599453] * 15, rtol=1e-10)
    assert accuracies(init, parameters, (X, Y), (X_test, Y_test)) == [0.5, 0.5]
    assert not init.predict(X, Y, parameters).any()


def test_large_random_initialization_run(circles):
    X, Y, X_test, Y_test = circles
    parameters, lines = run_printed(init.model, X, Y, initialization="random")
    costs = parsed(lines, LINE)
    assert lines[0] == "Cost after iteration 0: inf"
    # the run starts saturated: its costs follow the maths library's rounding (the sources
    # differ by up to 1e-3); deepjit's compiled sigmoid is one more such library
    np.testing.assert_allclose(costs[1:], PUBLISHED_RANDOM[1:], rtol=1e-2)
    assert accuracies(init, parameters, (X, Y), (X_test, Y_test)) == [0.83, 0.86]


def test_init_model_checks_its_arguments(circles):
    X, Y, _, _ = circles
    with pytest.raises(ValueError, match="initialization"):
        init.model(X, Y, initialization="xavier")
    assert init.model(X, Y, num_iterations=0, print_cost=False)["W1"].shape == (10, 2)


# -- W1A2 ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def football_data():
    from conftest import COURSE2_DATA
    if not COURSE2_DATA.is_file():
        import os
        if os.environ.get("CI") == "true":
            pytest.fail(f"course-2 data not found at {COURSE2_DATA} (CI=true)")
        pytest.skip(f"course-2 data not found at {COURSE2_DATA}")
    return reg.load_2D_dataset(COURSE2_DATA)


@pytest.mark.parametrize("options, published, train, test", [
    ({}, [0.6557412523481002, 0.16329987525724204, 0.13851642423234922], 0.9478672985781991,
     0.915),
    ({"lambd": 0.7}, [0.6974484493131264, 0.2684918873282238, 0.26809163371273004],
     0.9383886255924171, 0.93),
    ({"keep_prob": 0.86, "learning_rate": 0.3},
     [0.6543912405149825, 0.0610169865749056, 0.060582435798513114], 0.9289099526066351, 0.95),
])
def test_regularization_runs(football_data, options, published, train, test):
    X, Y, X_test, Y_test = football_data
    parameters, lines = run_printed(reg.model, X, Y, **options)
    costs = parsed(lines, LINE)
    assert [int(LINE.match(l).group(1)) for l in lines] == [0, 10000, 20000]
    assert [round(c, 6) for c in costs] == [round(c, 6) for c in published]
    np.testing.assert_allclose(costs, published, rtol=1e-10)
    assert accuracies(reg, parameters, (X, Y), (X_test, Y_test)) == [train, test]


def test_dropout_run_leaves_the_generator_as_the_course_does(football_data):
    X, Y, _, _ = football_data
    run_printed(reg.model, X, Y, keep_prob=0.86, num_iterations=3)
    after = np.random.rand()
    np.random.seed(1)
    np.random.rand(20, 211), np.random.rand(3, 211)
    assert np.random.rand() == after


# -- W2A1 ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def moons():
    state = np.random.get_state()
    data = opt.load_dataset()
    np.random.set_state(state)
    return data


@pytest.mark.parametrize("options, costs, rates, accuracy", [
    ({"optimizer": "gd"}, [0.702405, 0.668101, 0.635288, 0.600491, 0.573367], None,
     0.7166666666666667),
    ({"optimizer": "momentum", "beta": 0.9}, [0.702413, 0.668167, 0.635388, 0.600591, 0.573444],
     None, 0.7166666666666667),
    ({"optimizer": "adam"}, [0.702166, 0.167845, 0.141316, 0.138788, 0.136066], None,
     0.9433333333333334),
    ({"optimizer": "gd", "learning_rate": 0.1, "decay": opt.update_lr},
     [0.701091, 0.661884, 0.658620, 0.656765, 0.655486],
     [0.100000, 0.000100, 0.000050, 0.000033, 0.000025], 0.6533333333333333),
    ({"optimizer": "gd", "learning_rate": 0.1, "decay": opt.schedule_lr_decay},
     [0.701091, 0.127161, 0.120304, 0.117033, 0.117512],
     [0.100000, 0.050000, 0.033333, 0.025000, 0.020000], 0.9433333333333334),
    ({"optimizer": "momentum", "learning_rate": 0.1, "decay": opt.schedule_lr_decay},
     [0.702226, 0.128974, 0.125965, 0.123375, 0.123218],
     [0.100000, 0.050000, 0.033333, 0.025000, 0.020000], 0.9533333333333334),
    ({"optimizer": "adam", "learning_rate": 0.01, "decay": opt.schedule_lr_decay},
     [0.699346, 0.130074, 0.129826, 0.129282, 0.128361],
     [0.010000, 0.005000, 0.003333, 0.002500, 0.002000], 0.94),
])
def test_optimization_runs(moons, options, costs, rates, accuracy):
    X, Y = moons
    parameters, lines = run_printed(opt.model, X, Y, [X.shape[0], 5, 2, 1], **options)
    assert parsed(lines, LINE) == costs
    assert [int(LINE.match(l).group(1)) for l in lines if LINE.match(l)] == list(
        range(0, 5000, 1000))
    assert (parsed(lines, RATE) or None) == rates
    assert accuracies(opt, parameters, (X, Y)) == [accuracy]


def test_optimization_model_follows_the_numpy_loop_on_a_short_run(moons):
    """The course's loop written out with the module's own numpy functions."""
    X, Y = moons
    for optimizer in ("gd", "momentum", "adam"):
        got, _ = run_printed(opt.model, X, Y, [2, 5, 2, 1], optimizer, learning_rate=0.05,
                             mini_batch_size=50, num_epochs=7, decay=opt.update_lr,
                             decay_rate=0.5)
        parameters = opt.initialize_parameters([2, 5, 2, 1])
        v, s = opt.initialize_adam(parameters)
        t, lr = 0, 0.05
        for i in range(7):
            for bX, bY in opt.random_mini_batches(X, Y, 50, 11 + i):
                a3, caches = opt.forward_propagation(bX, parameters)
                grads = opt.backward_propagation(bX, bY, caches)
                if optimizer == "gd":
                    parameters = opt.update_parameters_with_gd(parameters, grads, lr)
                elif optimizer == "momentum":
                    parameters, v = opt.update_parameters_with_momentum(parameters, grads, v,
                                                                        0.9, lr)
                else:
                    t += 1
                    parameters = opt.update_parameters_with_adam(parameters, grads, v, s, t,
                                                                 lr)[0]
            lr = opt.update_lr(0.05, i, 0.5)
        for key in parameters:
            np.testing.assert_allclose(got[key], parameters[key], rtol=1e-12, atol=1e-14)


def test_opt_model_refuses_an_unknown_optimizer(moons):
    X, Y = moons
    with pytest.raises(ValueError, match="optimizer"):
        opt.model(X, Y, [2, 5, 2, 1], "rmsprop")
