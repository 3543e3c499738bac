"""Drop-ins for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

``from deepjit.sklearn import DeepJITClassifier as MLPClassifier`` (and
``DeepJITRegressor as MLPRegressor``): every constructor argument of scikit-learn's
classes (1.5 and later) with the same name, meaning and default, the same fitted
attributes and methods, and the same results: a ``random_state`` draws the same initial
weights (Glorot uniform, in scikit-learn's order), the same shuffles and the same
validation split, and the updates follow scikit-learn's rules, so ``coefs_`` and
``loss_curve_`` agree with scikit-learn's to rounding.  The work runs in deepjit's
engines (:mod:`deepjit.sklearn_rules` is the seam and its numpy oracle).

deepjit's extras, all off by default: ``dropout`` (a drop probability for every hidden
layer, inverted dropout, training only), ``activation="leaky_relu"``, ``class_weight``
(the classifier), ``dtype``, ``engine`` and ``num_threads``.

Needs scikit-learn: ``pip install 'deepjit[sklearn]'``.
"""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from sklearn.base import (BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context,
                          is_classifier)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (_check_partial_fit_first_call, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import sklearn_rules as rules
from .blas import THREADED_WORK, blas_limit

try:                                          # scikit-learn >= 1.6
    from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
except ImportError:                           # pragma: no cover
    def _get_additional_lbfgs_options_dict(key, value):
        return {key: value}

__all__ = ["DeepJITClassifier", "DeepJITRegressor"]

_STOCHASTIC_SOLVERS = ("sgd", "adam")
ENGINES = ("cpu", "numpy")

# scikit-learn's BaseMultilayerPerceptron._parameter_constraints, then deepjit's extras
_PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"identity", "logistic", "tanh", "relu", "leaky_relu"})],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    # deepjit's extras
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "dtype": [None, StrOptions({"float32", "float64"})],
    "engine": [StrOptions(set(ENGINES))],
    "num_threads": [None, Interval(Integral, 1, None, closed="left")],
}


class _DeepJITMLP(BaseEstimator):
    """What the classifier and the regressor share: scikit-learn's
    ``BaseMultilayerPerceptron``, with the work in deepjit's engines."""

    _parameter_constraints = dict(_PARAMETER_CONSTRAINTS)

    def _set_common(self, params):
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # -- the network -----------------------------------------------------------------
    def _net(self):
        return rules.Net(tuple(self._layer_units), self.activation, self.out_activation_,
                         self._loss_name(), float(self.alpha), float(self.dropout))

    def _loss_name(self):
        if self.loss == "log_loss" and self.out_activation_ == "logistic":
            return "binary_log_loss"
        return self.loss

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % sizes)
        return sizes

    def _initialize(self, y, layer_units, dtype):
        """scikit-learn's ``_initialize``: Glorot-uniform draws, layer by layer, each
        layer's coefficients then its intercepts."""
        self.n_iter_, self.t_ = 0, 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            coef, intercept = self._init_coef(fan_in, fan_out, dtype)
            self.coefs_.append(coef)
            self.intercepts_.append(intercept)
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = self.best_validation_score_ = None

    def _init_coef(self, fan_in, fan_out, dtype):
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    # -- fitting ---------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y, sample_weight = self._validate_input(X, y, sample_weight, incremental,
                                                   reset=first_pass)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        self._layer_units = [X.shape[1]] + hidden + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, self._layer_units, X.dtype)
        with blas_limit(self._blas_threads(X.shape[0])):
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, y, sample_weight, incremental)
            else:
                self._fit_lbfgs(X, y, sample_weight)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        if not np.isfinite(self.loss_):       # scikit-learn carries on silently here
            raise ValueError(f"The training loss is {self.loss_}: the targets y or the "
                             "features X are too large for the solver's float type; scale "
                             "them first (StandardScaler, or y / its scale).")
        return self

    def _blas_threads(self, n_samples):
        """``num_threads``; by default all cores for "lbfgs", and for the stochastic
        solvers one, unless a batch-sized product is big enough for BLAS threads to pay
        (``blas.THREADED_WORK`` multiply-adds, as a wide first layer's): small products
        lose more to thread start-up than they gain, many times more on a busy machine.
        (The compiled epochs' two-part batches, ``engines/cpu/minibatch.py``, run on
        ``num_threads`` threads of their own with BLAS on one.)"""
        if self.num_threads is not None or self.solver not in _STOCHASTIC_SOLVERS:
            return self.num_threads
        batch = min(n_samples, 200 if self.batch_size == "auto" else self.batch_size)
        units = self._layer_units
        largest = batch * max(a * b for a, b in zip(units, units[1:]))
        return None if largest >= THREADED_WORK else 1

    def _fit_dtype(self, X):
        """X's float dtype (scikit-learn keeps float32 and float64), or ``dtype``."""
        return X.dtype if self.dtype is None else np.dtype(self.dtype)

    def _fit_lbfgs(self, X, y, sample_weight):
        net = self._net()
        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        result = scipy.optimize.minimize(
            lambda theta: rules.loss_and_gradient(net, theta, X, y, sample_weight),
            rules.pack(self.coefs_, self.intercepts_), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                     **_get_additional_lbfgs_options_dict("iprint", iprint)})
        self.n_iter_ = _lbfgs_iterations(result, self.max_iter)
        self.loss_ = result.fun
        self._set_parameters(net, result.x.astype(X.dtype, copy=False))

    def _set_parameters(self, net, theta):
        coefs, intercepts = net.unpack(theta)
        self.coefs_ = [c.copy() for c in coefs]
        self.intercepts_ = [i.copy() for i in intercepts]

    def _make_optimizer(self, n, dtype):
        if self.solver == "sgd":
            return rules.SGD(n, self.learning_rate_init, self.learning_rate, self.momentum,
                             self.nesterovs_momentum, self.power_t, dtype)
        return rules.Adam(n, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon,
                          dtype)

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        net = self._net()
        theta = rules.pack(self.coefs_, self.intercepts_)
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer(theta.size, theta.dtype)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_train, y_train, sw_train, validation = self._split_validation(X, y, sample_weight)
        n_samples = X_train.shape[0]
        batch_size = self._batch_size(n_samples)
        sample_idx = np.arange(n_samples, dtype=int)
        dropout_seed = self._random_state.randint(2 ** 31) if self.dropout > 0 else None
        engine = self._epochs(net, theta, X_train, y_train, sw_train, batch_size, dropout_seed)
        try:
            self.n_iter_ = 0
            while self.n_iter_ < self.max_iter:
                orders = []
                for _ in range(self._epochs_per_call(incremental, validation, engine)):
                    if self.shuffle:
                        sample_idx = _shuffled(sample_idx, self._random_state)
                    orders.append(sample_idx)
                losses = engine.run_epochs(orders)
                if validation is not None:
                    self._set_parameters(net, engine.parameters())
                if self._end_epochs(losses, n_samples, validation, incremental):
                    break
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        self._set_parameters(net, engine.parameters())
        engine.finish()
        if self.early_stopping:
            self.coefs_, self.intercepts_ = self._best_coefs, self._best_intercepts

    def _epochs_per_call(self, incremental, validation, engine):
        """How many epochs the next engine call may run: as many as no per-epoch decision
        can interrupt (none reads the parameters or changes the learning rate before
        ``n_iter_no_change`` more epochs without improvement, unless ``early_stopping``
        scores each epoch or "invscaling" changes the rate), within the iterations left
        and about ``CHUNK_SECONDS`` of work (so Ctrl-C stays prompt)."""
        if incremental or validation is not None or (
                self.solver == "sgd" and self.learning_rate == "invscaling"):
            return 1
        safe = self.n_iter_no_change + 1 - self._no_improvement_count
        return int(max(1, min(safe, self.max_iter - self.n_iter_, engine.epochs_per_chunk())))

    def _end_epochs(self, losses, n_samples, validation, incremental):
        """scikit-learn's bookkeeping after each epoch of ``losses`` (each epoch's
        accumulated loss); True to stop."""
        for accumulated in losses:
            self.n_iter_ += 1
            self.loss_ = accumulated / n_samples
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            self._update_no_improvement_count(validation)
            self._optimizer.iteration_ends(self.t_)
            if self._no_improvement_count > self.n_iter_no_change:
                if self._optimizer.trigger_stopping(self._no_change_message(), self.verbose):
                    return True
                self._no_improvement_count = 0
            if incremental:
                return True
            if self.n_iter_ == self.max_iter:
                warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                              "optimization hasn't converged yet." % self.max_iter,
                              ConvergenceWarning)
        return False

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _split_validation(self, X, y, sample_weight):
        """scikit-learn's split for ``early_stopping`` (stratified for single-output
        classifiers); returns the training part and ``(X_val, y_val, sw_val)`` or None."""
        if not self.early_stopping:
            return X, y, sample_weight, None
        stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, y_train, y_val = parts[:4]
        sw_train, sw_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        return X_train, y_train, sw_train, (X_val, y_val, sw_val)

    def _update_no_improvement_count(self, validation):
        if validation is not None:
            score = self._score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [i.copy() for i in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _no_change_message(self):
        what = ("Validation score did not improve more than" if self.early_stopping
                else "Training loss did not improve more than")
        return "%s tol=%f for %d consecutive epochs." % (what, self.tol,
                                                          self.n_iter_no_change)

    def _epochs(self, net, theta, X, y, sample_weight, batch_size, dropout_seed):
        """The seam: epochs on the cpu engine where it computes scikit-learn's numbers,
        else (and with ``engine="numpy"``) on the numpy oracle."""
        compiled = self.engine == "cpu" and rules.CompiledEpochs.supports(
            net, X, sample_weight, batch_size, self._optimizer)
        if not compiled:
            return rules.NumpyEpochs(net, theta, self._optimizer, X, y, sample_weight,
                                     batch_size, dropout_seed)
        return rules.CompiledEpochs(net, theta, self._optimizer, X, y, sample_weight,
                                    batch_size, dropout_seed, self.num_threads)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y (as scikit-learn)."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 "%s is not stochastic." % self.solver)
        return True

    # -- prediction ------------------------------------------------------------------
    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            # the dtypes fit takes (scikit-learn's predict leaves out the dtype, so it
            # refuses the numeric strings its fit converted)
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=(np.float64, np.float32))
        net = rules.Net(tuple([X.shape[1]] + [c.shape[1] for c in self.coefs_]),
                        self.activation, self.out_activation_, "", 0.0)
        return rules.predict(net, self.coefs_, self.intercepts_, X)

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def _prepare_sample_weight(self, sample_weight, X, y):
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        return sample_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _shuffled(sample_idx, random_state):
    """``sklearn.utils.shuffle(sample_idx, random_state=random_state)`` without its
    checks (a tenth of a small fit): the same draw, the same order."""
    indices = np.arange(sample_idx.shape[0])
    random_state.shuffle(indices)
    return sample_idx[indices]


def _lbfgs_iterations(result, max_iter):
    """scikit-learn's ``_check_optimize_result``: warns when L-BFGS-B stopped without
    converging; returns the iterations run."""
    if result.status != 0:
        try:
            message = result.message.decode("latin1")
        except AttributeError:
            message = result.message
        warnings.warn("lbfgs failed to converge after %d iteration(s) (status=%d):\n%s.\n\n"
                      "Increase the number of iterations to improve the convergence "
                      "(max_iter=%d).\nYou might also want to scale the data as shown in:\n"
                      "    https://scikit-learn.org/stable/modules/preprocessing.html"
                      % (result.nit, result.status, message, max_iter), ConvergenceWarning,
                      stacklevel=3)
    return min(result.nit, max_iter)


class DeepJITClassifier(ClassifierMixin, _DeepJITMLP):
    """scikit-learn's ``MLPClassifier`` (same arguments, defaults, attributes, methods
    and results; see its documentation), computed by deepjit.

    deepjit's extras: ``dropout`` (0.0: a drop probability for the hidden units during
    training), ``activation="leaky_relu"`` (slope 0.01), ``class_weight`` (None,
    "balanced" or ``{label: weight}``: multiplies ``sample_weight``), ``dtype`` (None:
    X's float type, as scikit-learn; or "float32" / "float64"), ``engine`` ("cpu", or
    "numpy" for the plain-numpy oracle) and ``num_threads`` (None: all cores; "sgd" and
    "adam" run batches with enough work as two parts on two threads with BLAS on one,
    and give BLAS every core only for a batch product of 2^24 multiply-adds or more;
    results never depend on it).
    """

    _parameter_constraints = {
        **_PARAMETER_CONSTRAINTS,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }
    loss = "log_loss"      # not an argument, as in scikit-learn

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, class_weight=None, dtype=None, engine="cpu", num_threads=None):
        self._set_common(locals())

    def _validate_input(self, X, y, sample_weight, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        X = X.astype(self._fit_dtype(X), copy=False)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same "
                                     "classes as in the previous call to fit. Previously "
                                     f"got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. "
                                 f"`self.classes_` has {self.classes_}. 'y' has {classes}.")
        sample_weight = self._prepare_sample_weight(sample_weight, X, y)
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, y)
            sample_weight = weights if sample_weight is None else sample_weight * weights
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y, sample_weight

    def predict(self, X):
        """The predicted classes, ``(n_samples,)`` or ``(n_samples, n_classes)``."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X, y``; ``classes`` (all the labels) on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return np.vstack([1 - y_pred, y_pred]).T if y_pred.ndim == 1 else y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class DeepJITRegressor(RegressorMixin, _DeepJITMLP):
    """scikit-learn's ``MLPRegressor`` (same arguments, defaults, attributes, methods
    and results; see its documentation), computed by deepjit.  Extras as in
    :class:`DeepJITClassifier` except ``class_weight``."""

    _parameter_constraints = {
        **_PARAMETER_CONSTRAINTS,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, dtype=None, engine="cpu", num_threads=None):
        self._set_common(locals())

    def predict(self, X):
        """Predictions ``(n_samples,)`` or ``(n_samples, n_outputs)``."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    def _validate_input(self, X, y, sample_weight, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        X = X.astype(self._fit_dtype(X), copy=False)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y, self._prepare_sample_weight(sample_weight, X, y)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X, y``."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
