"""The drop-ins against the installed scikit-learn: the same numbers for every solver and
bookkeeping, the inputs scikit-learn accepts, pickling, and scikit-learn's errors."""
import pickle
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn")
from sklearn.datasets import load_diabetes, load_digits, make_multilabel_classification  # noqa: E402,E501
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from deepjit import sklearn_rules as rules  # noqa: E402
from deepjit.sklearn import DeepJITClassifier, DeepJITRegressor  # noqa: E402

RTOL = 1e-10
ENGINES = ["cpu", "numpy"]


def digits(n=300):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16, y[:n]


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y / 100


def assert_same(ours, theirs, rtol=RTOL):
    """coefs_, intercepts_ and the loss curve (or loss_) agree to rtol of each array's
    scale."""
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * np.abs(b).max())
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=rtol, abs=0) \
            if theirs.best_loss_ is not None else ours.best_loss_ is None
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)


def fit_both(ours_cls, theirs_cls, X, y, engine="cpu", sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = theirs_cls(**params).fit(X, y, sample_weight=sample_weight)
        ours = ours_cls(engine=engine, **params).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


SOLVERS = [dict(solver="adam"), dict(solver="sgd"),
           dict(solver="sgd", nesterovs_momentum=False, learning_rate="invscaling"),
           dict(solver="sgd", momentum=0.0, learning_rate="adaptive", n_iter_no_change=1,
                tol=0.5),
           dict(solver="lbfgs"), dict(solver="adam", batch_size=64, shuffle=False),
           dict(solver="adam", early_stopping=True, validation_fraction=0.2),
           dict(solver="sgd", early_stopping=True, activation="tanh", alpha=0.01),
           dict(solver="adam", activation="logistic", alpha=1.0),
           dict(solver="lbfgs", activation="identity", max_fun=30)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
def test_classifier_equals_scikit_learn(params, engine):
    X, y = digits()
    ours, theirs = fit_both(DeepJITClassifier, MLPClassifier, X, y, engine,
                            hidden_layer_sizes=(15, 7), max_iter=6, random_state=3, **params)
    assert_same(ours, theirs)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("params", [
    dict(solver="adam", n_iter_no_change=2, tol=0.01, learning_rate_init=0.01),
    dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=3, tol=0.05),
    dict(solver="sgd", learning_rate="invscaling", n_iter_no_change=2, tol=0.01)],
    ids=lambda p: "-".join(map(str, p.values())))
def test_stopping_inside_a_run_of_compiled_epochs_equals_scikit_learn(params):
    """The cpu engine runs several epochs per call; a stop (or an adaptive rate's
    change) on no improvement still comes at scikit-learn's epoch."""
    X, y = digits()
    ours, theirs = fit_both(DeepJITClassifier, MLPClassifier, X, y, hidden_layer_sizes=(15,),
                            max_iter=80, random_state=2, **params)
    assert 3 <= theirs.n_iter_ < 80
    assert_same(ours, theirs)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("params", [dict(solver="adam"), dict(solver="sgd"),
                                    dict(solver="lbfgs"), dict(solver="adam", loss="poisson"),
                                    dict(solver="adam", early_stopping=True)],
                         ids=lambda p: "-".join(map(str, p.values())))
def test_regressor_equals_scikit_learn(params, engine):
    X, y = diabetes()
    ours, theirs = fit_both(DeepJITRegressor, MLPRegressor, X, np.abs(y), engine,
                            hidden_layer_sizes=(12,), max_iter=6, random_state=0,
                            learning_rate_init=0.01, **params)
    assert_same(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_multilabel_and_multioutput(engine):
    X, Y = make_multilabel_classification(120, 10, n_classes=4, random_state=0)
    ours, theirs = fit_both(DeepJITClassifier, MLPClassifier, X, Y, engine, max_iter=4,
                            random_state=0)
    assert_same(ours, theirs)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 4
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    ours, theirs = fit_both(DeepJITRegressor, MLPRegressor, X, Y * 2.0 - 1, engine,
                            max_iter=4, random_state=0)
    assert_same(ours, theirs)
    assert ours.predict(X).shape == (120, 4)


@pytest.mark.parametrize("engine", ENGINES)
def test_sample_weight_and_sparse_input(engine):
    X, y = digits(200)
    w = np.random.RandomState(0).uniform(0.1, 3, len(y))
    for solver in ("adam", "lbfgs"):
        ours, theirs = fit_both(DeepJITClassifier, MLPClassifier, X, y, engine,
                                sample_weight=w, max_iter=4, random_state=1, solver=solver)
        assert_same(ours, theirs)
    ours, theirs = fit_both(DeepJITClassifier, MLPClassifier, sp.csr_matrix(X), y, engine,
                            max_iter=4, random_state=1)
    assert_same(ours, theirs)
    np.testing.assert_allclose(ours.predict_proba(sp.csc_matrix(X)),
                               theirs.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_warm_start_and_partial_fit(engine):
    X, y = digits()
    kw = dict(hidden_layer_sizes=(10,), max_iter=3, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = DeepJITClassifier(engine=engine, **kw), MLPClassifier(**kw)
        for _ in range(2):
            ours.fit(X, y), theirs.fit(X, y)
    assert_same(ours, theirs)
    ours, theirs = DeepJITClassifier(engine=engine, random_state=0), MLPClassifier(
        random_state=0)
    for start in (0, 100, 200, 0):
        part = slice(start, start + 100)
        ours.partial_fit(X[part], y[part], classes=np.arange(10))
        theirs.partial_fit(X[part], y[part], classes=np.arange(10))
    ours.partial_fit(X[:37], y[:37]), theirs.partial_fit(X[:37], y[:37])   # odd size
    assert_same(ours, theirs)
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        DeepJITClassifier(solver="lbfgs").partial_fit


def test_float32_keeps_float32_like_scikit_learn():
    X, y = digits()
    ours, theirs = fit_both(DeepJITClassifier, MLPClassifier, X.astype(np.float32), y,
                            max_iter=3, random_state=0)
    assert ours.coefs_[0].dtype == np.float32
    assert_same(ours, theirs, rtol=1e-5)


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = digits(150)
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    ours, theirs = fit_both(DeepJITClassifier, MLPClassifier, frame, pd.Series(y),
                            max_iter=3, random_state=0)
    assert_same(ours, theirs)
    np.testing.assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    with pytest.warns(UserWarning, match="feature names"):
        ours.predict(X)


def test_pickling_with_joblib(tmp_path):
    X, y = digits(150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = DeepJITClassifier(max_iter=3, random_state=0).fit(X, y)
    joblib.dump(clf, tmp_path / "clf.joblib")
    loaded = joblib.load(tmp_path / "clf.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    again = pickle.loads(pickle.dumps(loaded))
    again.partial_fit(X, y), clf.partial_fit(X, y)        # the optimizer state travels too
    np.testing.assert_array_equal(again.coefs_[0], clf.coefs_[0])


def test_verbose_lines_and_convergence_warning(capsys):
    X, y = digits(100)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        DeepJITClassifier(max_iter=2, verbose=True, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(max_iter=2, verbose=True, random_state=0).fit(X, y)
    ours, theirs = capsys.readouterr().out.split("Iteration 1", 2)[1:]
    assert "Iteration 1" + ours == "Iteration 1" + theirs
    assert ours.startswith(", loss = ")


@pytest.mark.parametrize("name, value", [("max_iter", 0), ("hidden_layer_sizes", "big"),
                                         ("solver", "newton"), ("activation", "cubic"),
                                         ("learning_rate", 0.1), ("alpha", -1),
                                         ("batch_size", 0), ("momentum", 2),
                                         ("beta_1", 1.0), ("validation_fraction", 1),
                                         ("n_iter_no_change", 0), ("dropout", 1.0),
                                         ("engine", "tpu"), ("dtype", "float16"),
                                         ("class_weight", "even")])
def test_invalid_arguments_are_scikit_learns_errors(name, value):
    X, y = digits(50)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        DeepJITClassifier(**{name: value}).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        DeepJITRegressor(hidden_layer_sizes=(4, 0)).fit(X, y)


def test_same_arguments_and_defaults_as_scikit_learn():
    for ours, theirs in ((DeepJITClassifier(), MLPClassifier()),
                         (DeepJITRegressor(), MLPRegressor())):
        extras = {"dropout": 0.0, "dtype": None, "engine": "cpu", "num_threads": None}
        if isinstance(ours, DeepJITClassifier):
            extras["class_weight"] = None
        assert ours.get_params() == {**theirs.get_params(), **extras}


def test_extras_dropout_leaky_relu_class_weight():
    X, y = digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for engine in ENGINES:
            clf = DeepJITClassifier(dropout=0.2, activation="leaky_relu", max_iter=30,
                                    random_state=0, engine=engine).fit(X, y)
            assert clf.score(X, y) > 0.9
        balanced = DeepJITClassifier(class_weight="balanced", max_iter=3, random_state=0)
        weights = np.bincount(y)[y]
        manual = DeepJITClassifier(max_iter=3, random_state=0)
        balanced.fit(X, y), manual.fit(X, y, sample_weight=len(y) / (10 * weights))
    np.testing.assert_allclose(balanced.coefs_[0], manual.coefs_[0], rtol=1e-12)


def test_dropout_gradient_at_fixed_masks_by_finite_differences():
    rng = np.random.RandomState(0)
    X, y = rng.randn(7, 3), np.eye(3)[rng.randint(0, 3, 7)]
    net = rules.Net((3, 5, 4, 3), "tanh", "softmax", "log_loss", 0.1, dropout=0.3)
    theta = rng.randn(sum(a * b + b for a, b in net.shapes())) * 0.5

    def at(t):
        return rules.loss_and_gradient(net, t, X, y, None, np.random.default_rng(5))

    grad = at(theta)[1]
    step = 1e-6
    numeric = [(at(theta + step * e)[0] - at(theta - step * e)[0]) / (2 * step)
               for e in np.eye(theta.size)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("solver", ["adam", "lbfgs", "sgd"])
def test_huge_targets_are_an_error_not_a_silent_inf(solver):
    X = np.random.RandomState(0).randn(30, 3)
    with pytest.raises(ValueError, match="non-finite|loss is"):
        DeepJITRegressor(solver=solver, max_iter=5).fit(X, np.full(30, 1e300))


@pytest.mark.parametrize("cls", [DeepJITClassifier, DeepJITRegressor])
def test_numeric_strings_that_fit_takes_predict_takes_too(cls):
    """fit converts numeric strings as scikit-learn's does; predict must not then refuse
    the same X (scikit-learn's own predict does: found by the property tests)."""
    X, y = np.array([["1", "2"], ["3", "4"], ["5", "6"]]), np.array([0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = cls(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(X, y)
    assert np.array_equal(estimator.predict(X), estimator.predict(X.astype(float)))


@pytest.mark.parametrize("n_features, solver, num_threads, expected", [
    (64, "adam", None, 1),            # batch products of 200 x 64 x 100: one thread
    (1024, "sgd", None, None),        # 200 x 1024 x 100 = 2e7 multiply-adds: every core
    (1024, "adam", 1, 1), (64, "adam", 3, 3),   # the user's choice wins
    (64, "lbfgs", None, None)])       # whole-data products: every core, as scikit-learn
def test_blas_threads_only_for_big_batch_products(monkeypatch, n_features, solver,
                                                  num_threads, expected):
    import contextlib

    import deepjit.sklearn as module
    seen = []
    monkeypatch.setattr(module, "blas_limit",
                        lambda threads: seen.append(threads) or contextlib.nullcontext())
    rng = np.random.default_rng(0)
    X, y = rng.random((250, n_features)), rng.integers(0, 2, 250)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        DeepJITClassifier(solver=solver, max_iter=2, num_threads=num_threads,
                          random_state=0).fit(X, y)
    assert seen == [expected]
