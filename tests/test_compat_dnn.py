"""deepjit.compat.dnn_app_utils_v3's models: the published week-4 numbers on the real
cat data, and the course's loop (a plain-numpy transcription below) on small problems."""
import contextlib
import io
import re

import numpy as np
import pytest

from conftest import CAT_DIR, require_cat_data
from deepjit.compat import dnn_app_utils_v3 as dnn

PUBLISHED_L = [0.771749, 0.672053, 0.648263, 0.611507, 0.567047, 0.540138, 0.527930, 0.465477,
               0.369126, 0.391747, 0.315187, 0.272700, 0.237419, 0.199601, 0.189263, 0.161189,
               0.148214, 0.137775, 0.129740, 0.121225, 0.113821, 0.107839, 0.102855, 0.100897,
               0.092878]
PUBLISHED_TWO = {0: 0.6930497356599888, 1000: 0.3394281538366412, 2000: 0.07439078704319081,
                 2400: 0.04855478562877016, 2499: 0.04421498215868956}
LINE = re.compile(r"^Cost after iteration (\d+): (\S+)$")


def cat_data():
    require_cat_data()
    train_x, train_y, test_x, test_y, classes = dnn.load_data(CAT_DIR)
    flat = [x.reshape(x.shape[0], -1).T / 255. for x in (train_x, test_x)]
    return flat[0], train_y, flat[1], test_y


def run_printed(function, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = function(*args)
    return result, out.getvalue().splitlines()


def printed_costs(lines):
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    return {int(p.group(1)): float(p.group(2)) for p in parsed}


@pytest.fixture(scope="module")
def cat():
    return cat_data()


@pytest.fixture(scope="module")
def deep_run(cat):
    X, Y, X_test, Y_test = cat
    (params, costs), lines = run_printed(dnn.L_layer_model, X, Y, [12288, 20, 7, 5, 1],
                                         0.0075, 2500, True)
    return params, costs, lines


@pytest.fixture(scope="module")
def two_layer_run(cat):
    X, Y, X_test, Y_test = cat
    (params, costs), lines = run_printed(dnn.two_layer_model, X, Y, (12288, 7, 1), 0.0075,
                                         2500, True)
    return params, costs, lines


# -- published numbers ---------------------------------------------------------------------

def test_L_layer_model_reproduces_the_published_costs(deep_run):
    params, costs, lines = deep_run
    printed = printed_costs(lines)
    assert list(printed) == list(range(0, 2500, 100)) + [2499]
    assert [round(printed[i], 6) for i in range(0, 2500, 100)] == PUBLISHED_L
    assert printed[0] == pytest.approx(0.7717493284237686, rel=1e-10, abs=0)
    assert printed[2499] == pytest.approx(0.08843994344170202, rel=1e-10, abs=0)
    assert len(costs) == 25
    assert all(isinstance(c, np.ndarray) and c.shape == () for c in costs)
    assert [round(float(c), 6) for c in costs] == PUBLISHED_L
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (20, 12288), "b1": (20, 1), "W2": (7, 20), "b2": (7, 1), "W3": (5, 7),
        "b3": (5, 1), "W4": (1, 5), "b4": (1, 1)}


def test_L_layer_model_reproduces_the_published_accuracies(deep_run, cat, capsys):
    X, Y, X_test, Y_test = cat
    p = dnn.predict(X, Y, deep_run[0])
    p_test = dnn.predict(X_test, Y_test, deep_run[0])
    assert capsys.readouterr().out.splitlines() == ["Accuracy: 0.9856459330143539",
                                                    "Accuracy: 0.8"]
    assert p.shape == (1, 209) and p.dtype == np.float64 and p_test.shape == (1, 50)


def test_two_layer_model_reproduces_the_published_numbers(two_layer_run, cat, capsys):
    params, costs, lines = two_layer_run
    printed = printed_costs(lines)
    assert list(printed) == list(range(0, 2500, 100)) + [2499]
    for i, value in PUBLISHED_TWO.items():
        assert printed[i] == pytest.approx(value, rel=1e-10, abs=0), i
    assert [float(c) for c in costs] == [printed[i] for i in range(0, 2500, 100)]
    X, Y, X_test, Y_test = cat
    dnn.predict(X, Y, params)
    dnn.predict(X_test, Y_test, params)
    assert capsys.readouterr().out.splitlines() == ["Accuracy: 0.9999999999999998",
                                                    "Accuracy: 0.72"]


def test_load_data_reads_the_course_files(cat, monkeypatch, tmp_path):
    train_x, train_y, test_x, test_y, classes = dnn.load_data(CAT_DIR / "test_catvnoncat.h5")
    assert train_x.shape == (209, 64, 64, 3) and train_x.dtype == np.uint8
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50) and test_x.shape[0] == 50
    assert list(classes) == [b"non-cat", b"cat"]
    assert list(train_x.reshape(209, -1).T[:5, 0]) == [17, 31, 56, 22, 33]
    (tmp_path / "datasets").symlink_to(CAT_DIR)
    monkeypatch.chdir(tmp_path)
    np.testing.assert_array_equal(dnn.load_data()[1], train_y)   # datasets/ by default


def test_load_data_names_the_missing_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "datasets"))):
        dnn.load_data()


# -- the course's loop on small problems ---------------------------------------------------

def course_loop(X, Y, parameters, learning_rate, num_iterations):
    """The notebook's L_layer_model loop in plain numpy; returns (parameters, costs)."""
    params, costs, L = dict(parameters), [], len(parameters) // 2
    for i in range(num_iterations):
        A, layers = X, []
        for l in range(1, L + 1):
            Z = np.dot(params[f"W{l}"], A) + params[f"b{l}"]
            layers.append((A, Z))
            A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(0, Z)
        m = Y.shape[1]
        cost = np.squeeze((1. / m) * (-np.dot(Y, np.log(A).T) - np.dot(1 - Y, np.log(1 - A).T)))
        dA = - (np.divide(Y, A) - np.divide(1 - Y, 1 - A))
        for l in range(L, 0, -1):
            A_prev, Z = layers[l - 1]
            if l == L:
                s = 1 / (1 + np.exp(-Z))
                dZ = dA * s * (1 - s)
            else:
                dZ = np.array(dA, copy=True)
                dZ[Z <= 0] = 0
            dW = 1. / m * np.dot(dZ, A_prev.T)
            db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
            dA = np.dot(params[f"W{l}"].T, dZ)
            params[f"W{l}"] = params[f"W{l}"] - learning_rate * dW
            params[f"b{l}"] = params[f"b{l}"] - learning_rate * db
        if i % 100 == 0:
            costs.append(cost)
    return params, costs


def small_problem(n_x=6, m=17, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m))
    return X, (X[:1] + 0.5 * rng.standard_normal((1, m)) > 0).astype(np.int64)


def expected_deep(X, Y, dims, lr, n, seed=1, scale=None):
    rs = np.random.RandomState(seed)
    params = {}
    for l in range(1, len(dims)):
        W = rs.randn(dims[l], dims[l - 1])
        params[f"W{l}"] = W * scale if scale else W / np.sqrt(dims[l - 1])
        params[f"b{l}"] = np.zeros((dims[l], 1))
    return course_loop(X, Y, params, lr, n)


def assert_same_run(got, want):
    (params, costs), (want_params, want_costs) = got, want
    assert list(params) == list(want_params)
    for key in want_params:
        np.testing.assert_allclose(params[key], want_params[key], rtol=1e-10, atol=1e-13)
    assert len(costs) == len(want_costs)
    np.testing.assert_allclose(np.array(costs, dtype=float), want_costs, rtol=1e-10)


@pytest.mark.parametrize("engine", ["cpu", "numpy"])
def test_L_layer_model_follows_the_course_loop(engine, monkeypatch, global_random_state):
    monkeypatch.setenv("DEEPJIT_ENGINE", engine)
    X, Y = small_problem()
    got, lines = run_printed(dnn.L_layer_model, X, Y, [6, 5, 3, 1], 0.05, 250, True)
    assert_same_run(got, expected_deep(X, Y, [6, 5, 3, 1], 0.05, 250))
    assert list(printed_costs(lines)) == [0, 100, 200, 249]
    assert np.random.randn() != np.random.RandomState(1).randn()   # the global state moved


def test_two_layer_model_follows_the_course_loop(global_random_state):
    X, Y = small_problem(n_x=4, m=1)
    got, lines = run_printed(dnn.two_layer_model, X, Y, (4, 3, 1), 0.1, 101, False)
    want = expected_deep(X, Y, (4, 3, 1), 0.1, 101, scale=0.01)
    assert_same_run(got, want)
    # the notebook's `if print_cost and i % 100 == 0 or i == num_iterations - 1`
    assert list(printed_costs(lines)) == [100]
    assert printed_costs(lines)[100] == pytest.approx(float(want[1][-1]), rel=1e-10)


@pytest.mark.parametrize("num_iterations, print_cost, printed", [
    (1, False, [0]), (2, False, [1]), (200, True, [0, 100, 199]), (201, True, [0, 100, 200]),
    (0, False, [])])
def test_printed_iterations_follow_the_notebook(num_iterations, print_cost, printed,
                                                global_random_state):
    X, Y = small_problem(m=5)
    _, lines = run_printed(dnn.L_layer_model, X, Y, [6, 2, 1], 0.1, num_iterations,
                           print_cost)
    assert list(printed_costs(lines)) == printed


def test_engine_keyword_and_variable(monkeypatch, global_random_state):
    X, Y = small_problem(m=9)
    cpu = dnn.L_layer_model(X, Y, [6, 2, 1], 0.1, 120, engine="cpu")
    numpy = dnn.L_layer_model(X, Y, [6, 2, 1], 0.1, 120, engine="numpy")
    assert_same_run(cpu, numpy)
    monkeypatch.setenv("DEEPJIT_ENGINE", "gpu")
    with pytest.raises(ValueError, match="DEEPJIT_ENGINE"):
        dnn.L_layer_model(X, Y, [6, 2, 1], 0.1, 10)


def test_zero_iterations_return_the_initial_parameters(global_random_state):
    X, Y = small_problem()
    params, costs = dnn.L_layer_model(X, Y, [6, 2, 1], 0.1, 0)
    assert costs == []
    np.testing.assert_array_equal(params["W1"], np.random.RandomState(1).randn(2, 6) / np.sqrt(6))
