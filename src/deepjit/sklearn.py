"""scikit-learn estimators: ``DeepJITClassifier`` and ``DeepJITRegressor``.

They take scikit-learn's orientation, ``X : (n_samples, n_features)`` and ``y :
(n_samples,)`` (or ``(n_samples, n_outputs)`` for the regressor), and transpose to
deepjit's ``(n_x, m)`` inside.  Each wraps a :class:`deepjit.Model` (``model_``)
trained by full-batch gradient descent.

Defaults differ from the course's cat network on purpose: ``learning_rate=0.1`` and
``init="he"`` suit the standardised features scikit-learn users feed (``StandardScaler``
in a ``Pipeline``); the course's ``0.0075`` is tuned for a deep net on raw pixels and
barely moves a small net in a few hundred iterations.  The regressor standardises its
features and targets inside, so one learning rate suits data of any scale (targets up to
float64's range); the classifier does not (gradient descent on features of very
different scales is slow or diverges: ``deepjit.TrainingDiverged``), so put a
``StandardScaler`` first.  Errors name the estimator's own arguments (``max_iter``,
``hidden_layer_sizes``, ``activation``, ``random_state``).

Needs scikit-learn: ``pip install 'deepjit[sklearn]'``.
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .activations import HIDDEN_CODES
from .initializers import INITIALIZERS
from .model import Model
from .validation import check_choice, positive_int, positive_number

__all__ = ["DeepJITClassifier", "DeepJITRegressor"]


class _DeepJITBase(BaseEstimator):
    """Shared hyperparameters, fitting and forward pass."""

    def __init__(self, hidden_layer_sizes=(20,), activation="relu", learning_rate=0.1,
                 max_iter=2500, init="he", random_state=None, dtype="float64",
                 engine="cpu"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.init = init
        self.random_state = random_state
        self.dtype = dtype
        self.engine = engine

    def _fit_model(self, X, Y, output):
        """Trains a new ``Model`` on ``X : (n_samples, n_features)`` and the targets
        ``Y`` already in deepjit's orientation ``(n_out, n_samples)``."""
        n_out = Y.shape[0] if output != "softmax" else len(self.classes_)
        layer_dims = [X.shape[1], *_hidden_sizes(self.hidden_layer_sizes), n_out]
        check_choice("activation", self.activation, HIDDEN_CODES)
        check_choice("init", self.init, INITIALIZERS)
        learning_rate = positive_number("learning_rate", self.learning_rate)
        max_iter = positive_int("max_iter", self.max_iter)
        self.model_ = Model(layer_dims, self.activation, output, init=self.init,
                            seed=_seed(self.random_state), dtype=self.dtype,
                            engine=self.engine)
        self.model_.fit(X.T, Y, learning_rate=learning_rate, num_iterations=max_iter)
        self.loss_curve_ = list(self.model_.costs_)
        self.n_iter_ = self.model_.n_iter_
        return self

    def _forward(self, X):
        """Output activations in scikit-learn's orientation ``(n_samples, n_out)``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.model_.predict_proba(X.T).T


class DeepJITClassifier(ClassifierMixin, _DeepJITBase):
    """A fully connected network classifier: a sigmoid output unit for two classes,
    softmax for more; any label values (kept in ``classes_``).

    hidden_layer_sizes : tuple of ints, the sizes ``n_1, ..., n_{L-1}`` (``()`` gives
        logistic regression).
    activation : hidden activation, "relu", "tanh", "sigmoid", "leaky_relu" or "linear".
    learning_rate, max_iter : full-batch gradient-descent step and iterations.
    init : "he", "scaled", "xavier" or "small" (see ``deepjit.Model``).
    random_state : int (the course's seeded draws), RandomState or None.
    dtype : "float64" or "float32";  engine : "cpu", "numpy" or "cuda".

    Fitted: ``classes_``, ``n_features_in_``, ``model_`` (a ``deepjit.Model``),
    ``loss_curve_`` (cost every 100 iterations), ``n_iter_``.
    """

    def fit(self, X, y):
        """``X : (n_samples, n_features)``, ``y : (n_samples,)``."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y: a classifier needs at least 2 classes, got 1 class "
                             f"({self.classes_[0]!r})")
        binary = len(self.classes_) == 2
        Y = y_index.reshape(1, -1)
        return self._fit_model(X, Y, "sigmoid" if binary else "softmax")

    def predict_proba(self, X):
        """Class probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        A = self._forward(X)
        return np.hstack([1 - A, A]) if A.shape[1] == 1 else A

    def predict(self, X):
        """Labels ``(n_samples,)`` taken from ``classes_``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class DeepJITRegressor(RegressorMixin, _DeepJITBase):
    """A fully connected network regressor: linear output, half mean squared error.
    ``y`` may be ``(n_samples,)`` or ``(n_samples, n_outputs)``; ``predict`` returns the
    same shape.  The network learns from the standardised features ``(X - x_mean_) /
    x_scale_`` and targets ``(y - y_mean_) / y_scale_`` (so one learning rate suits data
    of any scale; ``loss_curve_`` is in those units) and ``predict`` maps back; a
    prediction beyond float64's range is a ValueError, never inf.  Hyperparameters and
    other fitted attributes as in :class:`DeepJITClassifier` (no ``classes_``)."""

    def fit(self, X, y):
        """``X : (n_samples, n_features)``, ``y : (n_samples,)`` or
        ``(n_samples, n_outputs)``."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True,
                             y_numeric=True)
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")  # strings
        self._y_1d = y.ndim == 1
        Y = y.reshape(1, -1) if self._y_1d else y.T
        self.x_mean_, self.x_scale_, X_std = _standardise("X", X.T)
        self.y_mean_, self.y_scale_, Y_std = _standardise("y", Y)
        return self._fit_model(X_std.T.astype(X.dtype, copy=False), Y_std, "linear")

    def _forward(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        with np.errstate(over="ignore", invalid="ignore"):
            X_std = (X / self.x_scale_.T - self.x_mean_.T / self.x_scale_.T).astype(X.dtype)
        if not np.all(np.isfinite(X_std)):
            raise ValueError("X: features too far outside the training range to "
                             "standardise in float64")
        return self.model_.predict_proba(X_std.T).T

    def predict(self, X):
        """Predictions ``(n_samples,)`` or ``(n_samples, n_outputs)`` as ``y`` was."""
        with np.errstate(over="ignore", invalid="ignore"):
            A = self._forward(X) * self.y_scale_.T + self.y_mean_.T
        if not np.all(np.isfinite(A)):
            raise ValueError("X: the predictions lie beyond float64's range (the network "
                             "extrapolates far outside the training targets)")
        return A[:, 0] if self._y_1d else A

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _standardise(name, A):
    """``(mean, scale, (A - mean) / scale)`` per row of ``A (k, n)``, computed in units
    of each row's largest magnitude so that values near 1e308 neither overflow nor give
    an infinite scale."""
    unit = np.max(np.abs(A), axis=1, keepdims=True)
    unit = np.where(unit > 0, unit, 1.0)
    A_unit = A / unit
    mean, spread = A_unit.mean(axis=1, keepdims=True), A_unit.std(axis=1, keepdims=True)
    spread = np.where(spread > 0, spread, 1.0)
    scale = np.where(spread * unit > 0, spread * unit, 1.0)
    return mean * unit, scale, (A_unit - mean) / spread


def _hidden_sizes(sizes):
    """``hidden_layer_sizes`` as a list of positive ints (a single int is one hidden
    layer)."""
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = list(sizes) if not isinstance(sizes, (str, bytes)) else None
        return [positive_int("hidden_layer_sizes", n) for n in sizes]
    except (TypeError, ValueError):
        raise ValueError("hidden_layer_sizes: expected a tuple of positive integers, got "
                         f"{sizes!r}") from None


def _seed(random_state):
    """An int seed (the course's seeded draws) or None (the global ``np.random``)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2 ** 32:
            raise ValueError("random_state: expected None, an integer between 0 and "
                             f"2**32 - 1 or a RandomState, got {random_state!r}")
        return int(random_state)
    if random_state is None:
        return None
    try:
        return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    except ValueError:
        raise ValueError("random_state: expected None, an integer between 0 and 2**32 - 1 "
                         f"or a RandomState, got {random_state!r}") from None
