"""The 2017-18 release's modules (dnn_app_utils_v2, dnn_utils_v2, testCases_v2 and the
notebooks' functions of that release): the expected outputs printed in that release's
step-by-step notebook, and each difference from the current modules."""
import contextlib
import io

import numpy as np
import pytest

from conftest import assert_rel
from deepjit.compat import (dnn_app_utils_v2 as v2, dnn_app_utils_v3 as v3, dnn_utils_v2,
                            lr_utils, lr_utils_2017, planar_utils, planar_utils_2017,
                            step_by_step, step_by_step_2017)
from deepjit.compat.testCases_v2 import (L_model_backward_test_case,
                                         L_model_forward_test_case, compute_cost_test_case,
                                         linear_activation_backward_test_case,
                                         linear_activation_forward_test_case,
                                         linear_backward_test_case, linear_forward_test_case,
                                         update_parameters_test_case)
from test_compat_dnn import assert_same_run, expected_deep, small_problem

pytestmark = pytest.mark.usefixtures("global_random_state")


def close(got, published):
    """To the eight digits the notebook prints."""
    np.testing.assert_allclose(got, published, rtol=0, atol=5e-9)


# -- the step-by-step notebook's printed expected outputs ------------------------------------

def test_forward_test_cases_give_the_published_outputs():
    f = step_by_step_2017
    close(f.linear_forward(*linear_forward_test_case())[0], [[3.26295337, -1.23429987]])
    A_prev, W, b = linear_activation_forward_test_case()
    close(f.linear_activation_forward(A_prev, W, b, "sigmoid")[0], [[0.96890023, 0.11013289]])
    close(f.linear_activation_forward(A_prev, W, b, "relu")[0], [[3.43896131, 0.]])
    AL, caches = f.L_model_forward(*L_model_forward_test_case())
    close(AL, [[0.17007265, 0.2524272]])
    assert len(caches) == 2
    assert f.compute_cost(*compute_cost_test_case()[::-1]) == pytest.approx(0.41493159961539694)


def test_backward_test_cases_give_the_published_outputs():
    f = step_by_step_2017
    dA_prev, dW, db = f.linear_backward(*linear_backward_test_case())
    close(dA_prev, [[0.51822968, -0.19517421], [-0.40506361, 0.15255393],
                    [2.37496825, -0.89445391]])
    close(dW, [[-0.10076895, 1.40685096, 1.64992505]])
    close(db, [[0.50629448]])
    dA, cache = linear_activation_backward_test_case()
    dA_prev, dW, db = f.linear_activation_backward(dA, cache, "sigmoid")
    close(dA_prev, [[0.11017994, 0.01105339], [0.09466817, 0.00949723],
                    [-0.05743092, -0.00576154]])
    close(dW, [[0.10266786, 0.09778551, -0.01968084]])
    close(db, [[-0.05729622]])
    dA_prev, dW, db = f.linear_activation_backward(dA, cache, "relu")
    close(dA_prev, [[0.44090989, 0.], [0.37883606, 0.], [-0.2298228, 0.]])
    close(dW, [[0.44513824, 0.37371418, -0.10478989]])
    close(db, [[-0.20837892]])


def test_L_model_backward_stores_the_input_gradient_as_dA1():
    AL, Y, caches = L_model_backward_test_case()
    grads = step_by_step_2017.L_model_backward(AL, Y, caches)
    assert list(grads) == ["dA2", "dW2", "db2", "dA1", "dW1", "db1"]
    close(grads["dW1"], [[0.41010002, 0.07807203, 0.13798444, 0.10502167], [0., 0., 0., 0.],
                         [0.05283652, 0.01005865, 0.01777766, 0.0135308]])
    close(grads["db1"], [[-0.22007063], [0.], [-0.02835349]])
    close(grads["dA1"], [[0., 0.52257901], [0., -0.3269206], [0., -0.32070404],
                         [0., -0.74079187]])
    current = step_by_step.L_model_backward(AL, Y, caches)
    for l in (1, 2):
        np.testing.assert_array_equal(grads[f"dA{l}"], current[f"dA{l - 1}"])


@pytest.mark.parametrize("module, input_key", [(v3, "dA0"), (v2, "dA1"),
                                               (step_by_step, "dA0"),
                                               (step_by_step_2017, "dA1")])
def test_a_learners_loop_never_computes_the_input_gradient(module, input_key):
    """In every release's module, forward, cost, backward and update (the learner's
    loop) leave the gradient with respect to X uncomputed."""
    X, Y = small_problem()
    params = module.initialize_parameters_deep([X.shape[0], 5, 3, 1])
    for _ in range(2):
        AL, caches = module.L_model_forward(X, params)
        module.compute_cost(AL, Y)
        grads = module.L_model_backward(AL, Y, caches)
        params = module.update_parameters(params, grads, 0.1)
        assert list(grads._pending) == [input_key]


def test_update_parameters_test_case_gives_the_published_output_in_place():
    parameters, grads = update_parameters_test_case()
    new = step_by_step_2017.update_parameters(parameters, grads, 0.1)
    assert new is parameters          # the release's updates the dict it is given
    close(new["W1"], [[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                      [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                      [-1.0535704, -0.86128581, 0.68284052, 2.20374577]])
    close(new["b1"], [[-0.04659241], [-1.28888275], [0.53405496]])
    close(new["W2"], [[-0.55569196, 0.0354055, 1.32964895]])
    close(new["b2"], [[-0.84610769]])


def test_step_by_step_initialisers_and_dnn_utils_v2():
    assert step_by_step_2017.initialize_parameters_deep is step_by_step.initialize_parameters_deep
    assert dnn_utils_v2.__all__ == ["sigmoid", "sigmoid_backward", "relu", "relu_backward"]
    Z = np.array([[-1., 2.]])
    np.testing.assert_array_equal(dnn_utils_v2.relu(Z)[0], [[0., 2.]])


# -- dnn_app_utils_v2 and the release's application notebook ---------------------------------

def test_helper_file_L_model_backward_uses_the_release_keys():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 40)), (rng.random((1, 40)) < 0.5) * 1.0
    params = v3.initialize_parameters_deep([5, 4, 3, 1])
    AL, caches = v2.L_model_forward(X, params)
    old, new = v2.L_model_backward(AL, Y, caches), v3.L_model_backward(AL, Y, caches)
    assert list(old._pending) == ["dA1"]      # the input gradient is still deferred
    assert list(old) == ["dA3", "dW3", "db3", "dA2", "dW2", "db2", "dA1", "dW1", "db1"]
    for key in new:
        renamed = "dA" + str(int(key[2:]) + 1) if key.startswith("dA") else key
        np.testing.assert_array_equal(old[renamed], new[key])


def run(function, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = function(*args, **kwargs)
    return result, out.getvalue().splitlines()


@pytest.fixture
def agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    yield plt
    plt.close("all")


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")
def test_release_models_return_the_parameters_print_costs_only_when_asked_and_plot(agg):
    X, Y = small_problem()
    params, lines = run(v2.L_layer_model, X, Y, [6, 5, 3, 1], 0.05, 250, True)
    want_params, want_costs = expected_deep(X, Y, [6, 5, 3, 1], 0.05, 250)
    assert_same_run((params, want_costs), (want_params, want_costs))
    assert lines == [f"Cost after iteration {100 * i}: {float(c):f}"
                     for i, c in enumerate(want_costs)]           # no line for 249
    assert agg.gca().get_xlabel() == "iterations (per tens)"
    assert len(agg.gca().lines[0].get_ydata()) == 3
    params, lines = run(v2.two_layer_model, X, Y, (6, 3, 1), 0.1, 101, True)
    want_params, want_costs = expected_deep(X, Y, (6, 3, 1), 0.1, 101, scale=0.01)
    assert list(params) == ["W1", "b1", "W2", "b2"]
    for key in want_params:
        assert_rel(params[key], want_params[key], rtol=1e-10)
    assert [line.split(": ")[0] for line in lines] == ["Cost after iteration 0",
                                                       "Cost after iteration 100"]
    assert float(lines[1].split(": ")[1]) == pytest.approx(float(want_costs[1]), rel=1e-10)
    params, lines = run(v2.L_layer_model, X, Y, [6, 5, 1], 0.05, 150)
    assert lines == [] and isinstance(params, dict)


# -- weeks 2 and 3 of the release ------------------------------------------------------------

def test_release_lr_model_always_prints_the_accuracies():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((4, 30)), (rng.random((1, 30)) < 0.5).astype(np.int64)
    d, lines = run(lr_utils_2017.model, X, Y, X[:, :10], Y[:, :10], 50, 0.1)
    current, current_lines = run(lr_utils.model, X, Y, X[:, :10], Y[:, :10], 50, 0.1)
    assert current_lines == []
    train = 100 - np.mean(np.abs(d["Y_prediction_train"] - Y)) * 100
    test = 100 - np.mean(np.abs(d["Y_prediction_test"] - Y[:, :10])) * 100
    assert lines == [f"train accuracy: {train} %", f"test accuracy: {test} %"]
    np.testing.assert_array_equal(d["w"], current["w"])


def test_release_planar_initialisation_seeds_2_itself():
    p = planar_utils_2017.initialize_parameters(2, 4, 1)
    rs = np.random.RandomState(2)
    np.testing.assert_array_equal(p["W1"], rs.randn(4, 2) * 0.01)
    np.testing.assert_array_equal(p["W2"], rs.randn(1, 4) * 0.01)
    np.random.seed(7)
    assert not np.array_equal(planar_utils.initialize_parameters(2, 4, 1)["W1"], p["W1"])
    X, Y = planar_utils.load_planar_dataset()
    trained = planar_utils_2017.nn_model(X, Y, 4, 200)
    np.random.seed(2)
    want = planar_utils.initialize_parameters(2, 4, 1)
    for _ in range(200):          # the step functions, checked against numpy elsewhere
        A2, cache = planar_utils.forward_propagation(X, want)
        want = planar_utils.update_parameters(
            want, planar_utils.backward_propagation(want, cache, X, Y))
    for key in want:
        assert_rel(trained[key], want[key], rtol=1e-10)
