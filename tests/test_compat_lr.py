"""deepjit.compat.lr_utils: the published week-2 numbers on the real cat data, and the
notebook's functions against a plain-numpy transcription of the course's loop."""
import contextlib
import io

import numpy as np
import pytest

from conftest import CAT_DIR, assert_rel, require_cat_data
from deepjit.compat import lr_utils

PUBLISHED = [0.693147, 0.584508, 0.466949, 0.376007, 0.331463, 0.303273, 0.279880, 0.260042,
             0.242941, 0.228004, 0.214820, 0.203078, 0.192544, 0.183033, 0.174399, 0.166521,
             0.159305, 0.152667, 0.146542, 0.140872]
LEARNING_RATES = {0.01: (99.52153110047847, 68.0), 0.001: (88.99521531100478, 64.0),
                  0.0001: (68.42105263157895, 36.0)}


@pytest.fixture(scope="module")
def cat():
    require_cat_data()
    train_x, train_y, test_x, test_y, classes = lr_utils.load_dataset(CAT_DIR)
    flat = [x.reshape(x.shape[0], -1).T / 255. for x in (train_x, test_x)]
    return flat[0], train_y, flat[1], test_y


def accuracies(d, Y_train, Y_test):
    return tuple(100 - np.mean(np.abs(d[key] - Y)) * 100 for key, Y in
                 (("Y_prediction_train", Y_train), ("Y_prediction_test", Y_test)))


def test_model_reproduces_the_published_run(cat):
    X, Y, X_test, Y_test = cat
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        d = lr_utils.model(X, Y, X_test, Y_test, num_iterations=2000, learning_rate=0.005,
                           print_cost=True)
    assert out.getvalue().splitlines() == (
        [f"Cost after iteration {100 * i}: {c:f}" for i, c in enumerate(PUBLISHED)]
        + ["train accuracy: 99.04306220095694 %", "test accuracy: 70.0 %"])
    assert sorted(d) == sorted(["costs", "Y_prediction_test", "Y_prediction_train", "w", "b",
                                "learning_rate", "num_iterations"])
    assert all(isinstance(c, np.ndarray) and c.shape == () for c in d["costs"])
    assert [round(float(c), 6) for c in d["costs"]] == PUBLISHED
    assert d["w"].shape == (12288, 1) and isinstance(d["b"], float)
    assert d["Y_prediction_test"].shape == (1, 50) and d["Y_prediction_test"].dtype == float


@pytest.mark.parametrize("learning_rate", sorted(LEARNING_RATES))
def test_learning_rate_comparison_reproduces_the_published_accuracies(cat, learning_rate,
                                                                      capsys):
    X, Y, X_test, Y_test = cat
    d = lr_utils.model(X, Y, X_test, Y_test, 1500, learning_rate, False)
    assert capsys.readouterr().out == ""
    assert accuracies(d, Y, Y_test) == LEARNING_RATES[learning_rate]
    assert len(d["costs"]) == 15


# -- the notebook's functions --------------------------------------------------------------

def course_optimize(w, b, X, Y, num_iterations, learning_rate):
    """The notebook's optimize in plain numpy."""
    costs, m = [], X.shape[1]
    for i in range(num_iterations):
        A = 1 / (1 + np.exp(-(np.dot(w.T, X) + b)))
        cost = np.squeeze(np.array(-1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))))
        dw, db = 1 / m * np.dot(X, (A - Y).T), 1 / m * np.sum(A - Y)
        w, b = w - learning_rate * dw, b - learning_rate * db
        if i % 100 == 0:
            costs.append(cost)
    return {"w": w, "b": b}, {"dw": dw, "db": db}, costs


def small_problem(dim=5, m=23, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dim, m))
    Y = (X[:1] + rng.standard_normal((1, m)) > 0).astype(np.int64)
    return 0.1 * rng.standard_normal((dim, 1)), 0.3, X, Y


@pytest.mark.parametrize("num_iterations", [1, 2, 101, 250])
@pytest.mark.parametrize("engine", ["cpu", "numpy"])
def test_optimize_follows_the_course_loop(num_iterations, engine, capsys):
    w, b, X, Y = small_problem()
    w_before = w.copy()
    params, grads, costs = lr_utils.optimize(w, b, X, Y, num_iterations, 0.1, True,
                                             engine=engine)
    want_params, want_grads, want_costs = course_optimize(w, b, X, Y, num_iterations, 0.1)
    np.testing.assert_array_equal(w, w_before)
    assert_rel(params["w"], want_params["w"], rtol=1e-10)
    assert params["b"] == pytest.approx(want_params["b"], rel=1e-10)
    assert isinstance(params["b"], float) and params["w"].shape == (5, 1)
    assert_rel(grads["dw"], want_grads["dw"], rtol=1e-10)
    assert grads["db"] == pytest.approx(want_grads["db"], rel=1e-9)
    assert len(costs) == len(want_costs)
    assert all(isinstance(c, np.ndarray) and c.shape == () for c in costs)
    np.testing.assert_allclose(np.array(costs, dtype=float), want_costs, rtol=1e-10)
    assert capsys.readouterr().out.splitlines() == [
        f"Cost after iteration {100 * i}: {c:f}" for i, c in enumerate(want_costs)]


def test_propagate_gives_the_notebooks_example():
    w, b = np.array([[1.], [2.]]), 2.
    X, Y = np.array([[1., 2., -1.], [3., 4., -3.2]]), np.array([[1, 0, 1]])
    grads, cost = lr_utils.propagate(w, b, X, Y)
    np.testing.assert_allclose(grads["dw"], [[0.99845601], [2.39507239]], rtol=1e-8)
    assert grads["db"] == pytest.approx(0.00145557813678, rel=1e-10)
    assert cost.shape == () and cost == pytest.approx(5.801545319394553, rel=1e-14)


def test_small_helpers():
    w, b = lr_utils.initialize_with_zeros(3)
    assert w.shape == (3, 1) and not w.any() and b == 0.0 and type(b) is float
    assert lr_utils.sigmoid(np.array([0.0]))[0] == 0.5
    p = lr_utils.predict(np.array([[1.], [-1.]]), 0.0, np.array([[2., 0., -1.], [1., 1., 0.]]))
    assert p.dtype == np.float64
    np.testing.assert_array_equal(p, [[1., 0., 0.]])


def test_load_dataset_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        lr_utils.load_dataset(tmp_path / "nowhere")
