"""The scikit-learn estimators: scikit-learn's own estimator checks, the transposition
to deepjit's orientation, labels, Pipeline and GridSearchCV."""
import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import make_moons  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from deepjit import Model  # noqa: E402
from deepjit.sklearn import DeepJITClassifier, DeepJITRegressor  # noqa: E402

# The default arguments: some checks train on unscaled blobs (features near +-10), where
# the regressor diverged before it standardised its features.
CHECKED = [DeepJITClassifier(random_state=0), DeepJITRegressor(random_state=0)]


@parametrize_with_checks(CHECKED)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def moons(m=120):
    X, y = make_moons(m, noise=0.15, random_state=0)
    return StandardScaler().fit_transform(X), y


def test_classifier_is_the_deepjit_model_on_transposed_data():
    X, y = moons()
    clf = DeepJITClassifier(hidden_layer_sizes=(5, 3), activation="tanh", max_iter=50,
                            random_state=1).fit(X, y)
    model = Model([2, 5, 3, 1], "tanh", "sigmoid", init="he", seed=1)
    model.fit(X.T, y.reshape(1, -1), learning_rate=0.1, num_iterations=50)
    p = model.predict_proba(X.T)[0]
    np.testing.assert_allclose(clf.predict_proba(X), np.column_stack([1 - p, p]),
                               rtol=1e-13)
    assert clf.loss_curve_ == model.costs_ and clf.n_iter_ == 50


def test_binary_labels_of_any_kind():
    X, y = moons()
    names = np.array(["dog", "cat"])[y]
    clf = DeepJITClassifier(max_iter=300, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["cat", "dog"] and clf.n_features_in_ == 2
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, names) > 0.85


def test_multiclass_uses_softmax():
    rng = np.random.RandomState(0)
    y = np.repeat([10, 20, 30], 30)
    X = StandardScaler().fit_transform(rng.randn(90, 3) * 0.4 + y[:, None] / 10)
    clf = DeepJITClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(X, y)
    assert clf.model_.net.output == "softmax" and clf.model_.layer_dims == [3, 8, 3]
    assert clf.predict_proba(X).shape == (90, 3)
    assert set(clf.predict(X)) <= {10, 20, 30} and clf.score(X, y) > 0.95


def test_regressor_shapes_and_target_scale_invariance():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(50)
    reg = DeepJITRegressor(max_iter=300, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (50,) and reg.score(X, y) > 0.9
    # targets are standardised inside: a scaled, shifted y gives the mapped predictions
    big = DeepJITRegressor(max_iter=300, random_state=0).fit(X, 1000 * y + 5)
    np.testing.assert_allclose(big.predict(X), 1000 * reg.predict(X) + 5, rtol=1e-9)
    Y2 = np.column_stack([y, -y])
    reg2 = DeepJITRegressor(max_iter=300, random_state=0).fit(X, Y2)
    assert reg2.predict(X).shape == (50, 2) and reg2.model_.layer_dims[-1] == 2


def test_bad_hyperparameters_are_value_errors_at_fit():
    X, y = moons(20)
    for params in ({"hidden_layer_sizes": "big"}, {"hidden_layer_sizes": (0,)},
                   {"activation": "cubic"}, {"learning_rate": -1}, {"max_iter": 0},
                   {"init": "magic"}, {"dtype": "float16"}, {"engine": "tpu"}):
        with pytest.raises(ValueError):
            DeepJITClassifier(**params).fit(X, y)


def test_pipeline_and_grid_search():
    X, y = make_moons(150, noise=0.15, random_state=1)
    pipe = make_pipeline(StandardScaler(), DeepJITClassifier(max_iter=300, random_state=0))
    assert pipe.fit(X, y).score(X, y) > 0.85
    search = GridSearchCV(pipe, {"deepjitclassifier__hidden_layer_sizes": [(2,), (10,)],
                                 "deepjitclassifier__learning_rate": [0.01, 0.3]}, cv=3)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["deepjitclassifier__learning_rate"] == 0.3
    assert search.score(X, y) > 0.85


def test_errors_name_the_estimators_arguments():
    X, y = moons(20)
    for params, name in [({"max_iter": 0}, "max_iter"), ({"max_iter": 2.5}, "max_iter"),
                         ({"hidden_layer_sizes": (3, 0)}, "hidden_layer_sizes"),
                         ({"hidden_layer_sizes": (10 ** 400,)}, "hidden_layer_sizes"),
                         ({"activation": "softmax"}, "activation"),
                         ({"activation": ["relu"]}, "activation"),
                         ({"learning_rate": "0.1"}, "learning_rate"),
                         ({"init": "zeros"}, "init"), ({"random_state": -1}, "random_state"),
                         ({"random_state": 2 ** 40}, "random_state")]:
        for cls in (DeepJITClassifier, DeepJITRegressor):
            with pytest.raises(ValueError, match=f"^{name}:"):
                cls(**params).fit(X, y)


@pytest.mark.parametrize("size", [1e300, -1e307])
def test_regressor_targets_near_the_float64_limit(size):
    """Targets near 1e300 are learnt in standardised units and mapped back finitely; a
    prediction beyond float64 is a ValueError, never inf."""
    X, y = moons(60)
    reg = DeepJITRegressor(max_iter=300, random_state=0).fit(X, y * size)
    predicted = reg.predict(X)
    assert np.all(np.isfinite(predicted)) and np.isfinite(reg.y_scale_).all()
    small = DeepJITRegressor(max_iter=300, random_state=0).fit(X, np.sign(size) * y)
    np.testing.assert_allclose(predicted / abs(size), small.predict(X), rtol=1e-9,
                               atol=1e-12)
    with pytest.raises(ValueError, match="float64"):
        reg.predict(X * 1e300)


def test_regressor_learns_unscaled_features_with_the_defaults():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3) * [1e-3, 10, 1e4] + [0, 50, -1e5]
    y = X @ [1e3, 0.1, 1e-4]
    reg = DeepJITRegressor(random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.95
