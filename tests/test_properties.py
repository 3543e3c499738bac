"""Property-based tests: whatever shapes, dtypes and NaN / inf placements reach Model,
fit, predict (and the scikit-learn estimators), the only error is the documented
ValueError, and a call that succeeds never returns NaN."""
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from conftest import SETTINGS
import deepjit
from deepjit import Model

DTYPES = [np.float64, np.float32, np.int64, np.int8, np.bool_, np.complex128, object, "U3"]
SPECIALS = [np.nan, np.inf, -np.inf]
OUTPUTS = ["sigmoid", "softmax", "linear"]
HIDDEN = ["relu", "tanh", "sigmoid", "leaky_relu", "linear"]


def shapes(ndim=None):
    """Random array shapes of 0 to 3 dimensions (or ``ndim``), sides 0 to 4."""
    ndims = st.integers(0, 3) if ndim is None else st.just(ndim)
    return ndims.flatmap(lambda n: st.tuples(*[st.integers(0, 4)] * n))


@st.composite
def arrays(draw, shape=None, labels=False):
    """An array of ``shape`` (or a random one), mostly float64 but sometimes another
    dtype, values in [-3, 3] (mostly 0/1 when ``labels``), sometimes NaN or inf."""
    shape = shapes() if shape is None else shape
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    size = int(np.prod(shape))
    element = st.sampled_from([0.0, 1.0]) if labels and draw(st.integers(0, 3)) \
        else st.floats(-3, 3)
    a = np.array(draw(st.lists(element, min_size=size, max_size=size)), dtype=float)
    if size and draw(st.integers(0, 4)) == 0:
        for index in draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3)):
            a[index] = draw(st.sampled_from(SPECIALS))
    dtype = draw(st.sampled_from(DTYPES)) if draw(st.integers(0, 2)) == 0 else np.float64
    if np.dtype(dtype).kind in "iub":
        a = np.nan_to_num(a, posinf=3, neginf=-3)
    return a.reshape(shape).astype(dtype)


def outcome(exc=None):
    """Labels each example for ``--hypothesis-show-statistics``."""
    event("worked" if exc is None else f"ValueError {str(exc)[:40]}")


@st.composite
def problems(draw):
    """A random network and data of matching shapes, contents and dtypes random."""
    dims = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    m = draw(st.integers(1, 6))
    output = draw(st.sampled_from(OUTPUTS))
    label_rows = 1 if output == "softmax" and draw(st.booleans()) else dims[-1]
    return dict(dims=dims, output=output, hidden=draw(st.sampled_from(HIDDEN)),
                dtype=draw(st.sampled_from(["float64", "float32"])),
                engine=draw(st.sampled_from(["cpu", "numpy"])),
                X=draw(arrays((dims[0], m))), Y=draw(arrays((label_rows, m), labels=True)))


def assert_finite_model(model, X):
    assert np.all(np.isfinite(model.costs_)) and np.isfinite(model.final_cost_)
    A = model.predict_proba(X)
    assert A.shape == (model.layer_dims[-1], np.shape(X)[1]) and np.all(np.isfinite(A))


@SETTINGS
@given(problems())
def test_fit_and_predict_either_work_finitely_or_raise_value_error(p):
    try:
        model = Model(p["dims"], p["hidden"], p["output"], init="he", seed=0,
                      dtype=p["dtype"], engine=p["engine"])
        model.fit(p["X"], p["Y"], learning_rate=0.01, num_iterations=3, record_every=2)
    except ValueError as exc:
        outcome(exc)
        return
    outcome()
    assert_finite_model(model, p["X"])
    assert np.isfinite(model.score(p["X"], p["Y"]))


@SETTINGS
@given(st.lists(st.integers(-1, 4) | st.floats(-1, 4) | st.just("3"), max_size=4)
       | st.just([2, 1]), arrays(shape=shapes(2) | shapes()), arrays(labels=True),
       st.sampled_from(OUTPUTS))
def test_any_shapes_at_all_raise_only_value_error(dims, X, Y, output):
    try:
        model = Model(dims, "relu", output, init="scaled", seed=0)
        model.fit(X, Y, learning_rate=0.01, num_iterations=2)
    except ValueError as exc:
        outcome(exc)
        return
    outcome()
    assert_finite_model(model, X)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    model = Model([3, 4, 2], "tanh", "softmax", seed=0)
    return model.fit(rng.randn(3, 8), rng.randint(0, 2, (1, 8)), num_iterations=5)


@SETTINGS
@given(X=st.one_of(st.integers(1, 5).flatmap(lambda m: arrays((3, m))), arrays()))
def test_predict_on_anything_is_finite_or_value_error(fitted, X):
    try:
        A = fitted.predict_proba(X)
    except ValueError as exc:
        outcome(exc)
        return
    outcome()
    assert A.shape == (2, X.shape[1]) and np.all(np.isfinite(A))
    np.testing.assert_allclose(A.sum(axis=0), 1)


@SETTINGS
@st.composite
def sklearn_data(draw):
    """Mostly X (n, f) and y (n,) as scikit-learn expects; sometimes any shapes."""
    if draw(st.integers(0, 3)) == 0:
        return draw(arrays()), draw(arrays(labels=True))
    n, f = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    return draw(arrays((n, f))), draw(arrays((n,), labels=True))


@SETTINGS
@given(sklearn_data(), st.sampled_from(["classifier", "regressor"]))
def test_estimators_raise_only_value_error(data, kind):
    X, y = data
    sklearn = pytest.importorskip("deepjit.sklearn")
    cls = sklearn.DeepJITClassifier if kind == "classifier" else sklearn.DeepJITRegressor
    try:
        estimator = cls(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, y)
    except ValueError as exc:
        outcome(exc)
        return
    except TypeError:
        # scikit-learn's own validate_data raises TypeError for a 0-d y, as it does
        # for its own estimators; nothing else may raise it
        assert np.ndim(y) == 0
        return
    outcome()
    if kind == "classifier":
        assert set(estimator.predict(X)) <= set(np.unique(y))
        assert np.all(np.isfinite(estimator.predict_proba(X)))
    else:
        assert np.all(np.isfinite(estimator.predict(X)))


# -- odd argument values: accepted, or a ValueError that names the argument ----------------
ODD = st.sampled_from([
    None, True, False, np.True_, "3", "", b"relu", ["cpu"], {"a": 1}, {3}, (),
    Fraction(1, 3), Fraction(10 ** 400), Decimal("0.1"), 1 + 2j, float("nan"), float("inf"),
    -1, 0, 2, 10 ** 400, 1e300, -1e300, 2 ** 63, np.float32(0.1), np.int64(3), np.uint8(2),
    np.array([1, 2]), np.array(0.5), np.array(["relu"]), object(), print])
CONSTRUCTOR = ["hidden_activation", "output", "init", "seed", "dtype", "engine",
               "leaky_slope", "formulation", "num_threads"]
FIT = ["learning_rate", "num_iterations", "print_cost", "record_every", "callback"]


@SETTINGS
@given(argument=st.sampled_from(CONSTRUCTOR + FIT + ["layer_dims", "layer_dims[1]"]),
       value=ODD)
def test_odd_argument_values_are_accepted_or_refused_by_name(argument, value):
    X = np.random.RandomState(0).randn(3, 5)
    Y = (X[:1] > 0).astype(float)
    constructor = {"layer_dims": [3, 2, 1], "init": "he", "engine": "numpy"}
    fit = {"learning_rate": 0.01, "num_iterations": 2}
    if argument == "layer_dims[1]":
        constructor["layer_dims"] = [3, value, 1]
    elif argument in FIT:
        fit[argument] = value
    else:
        constructor[argument] = value
    name = argument.split("[")[0]
    try:
        model = Model(**constructor)
        if argument != "layer_dims":              # (other sizes, other data)
            with np.errstate(all="ignore"):
                model.fit(X, Y, **fit)
    except ValueError as exc:
        outcome(exc)
        assert str(exc).startswith(f"{name}:"), str(exc)
        return
    except deepjit.TrainingDiverged:
        return
    outcome()


NESTED = st.recursive(st.floats(-3, 3) | st.integers(-3, 3),
                      lambda inner: st.lists(inner, min_size=1, max_size=3), max_leaves=12)


@SETTINGS
@given(X=NESTED)
def test_nested_lists_of_any_shape_are_an_array_or_refused_by_name(X):
    try:
        Model([2, 1], engine="numpy").predict(X)
    except ValueError as exc:
        outcome(exc)
        assert str(exc).startswith("X:"), str(exc)
        return
    outcome()
