"""scikit-learn's own estimator checks on the drop-ins, with their default arguments."""
import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from deepjit.sklearn import DeepJITClassifier, DeepJITRegressor  # noqa: E402

# scikit-learn runs this check on its MLPs with solver "lbfgs" / "sgd" only (see
# test_sklearn_compat.py, which does the same); Adam's mini-batches cannot pass it.
STOCHASTIC = {"check_sample_weight_equivalence_on_dense_data":
              "stochastic default solver; checked with lbfgs / sgd in test_sklearn_compat",
              "check_sample_weight_equivalence_on_sparse_data":
              "stochastic default solver; checked with lbfgs / sgd in test_sklearn_compat"}


@parametrize_with_checks([DeepJITClassifier(), DeepJITRegressor()],
                         expected_failed_checks=lambda est: STOCHASTIC)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
