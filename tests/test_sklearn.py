"""scikit-learn's own estimator checks on the drop-ins, with their default arguments."""
import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from deepjit.sklearn import DeepJITClassifier, DeepJITRegressor  # noqa: E402

@parametrize_with_checks([DeepJITClassifier(), DeepJITRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
