"""Input checks that run before any work: each error names the argument and what was
expected."""
import numbers

import numpy as np

DTYPES = {"float64": np.float64, "float32": np.float32}


def check_dtype(dtype):
    try:
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype: expected 'float64' or 'float32', got {dtype!r}")
    return np.dtype(DTYPES[name])


def as_matrix(name, array, rows=None, dtype=np.float64):
    """A finite, non-empty 2-D float array in ``dtype`` (a copy only when needed)."""
    array = np.asarray(array)
    if array.ndim != 2:
        hint = (" (a rank-1 array: reshape it to (1, m) or (n, 1); the course notes warn "
                "against rank-1 arrays)" if array.ndim == 1 else "")
        raise ValueError(f"{name}: expected a 2-D array of shape (n, m), got {array.ndim} "
                         f"dimension(s) with shape {array.shape}{hint}")
    if array.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) \
            or np.iscomplexobj(array):
        raise ValueError(f"{name}: expected real numbers, got dtype {array.dtype}")
    if rows is not None and array.shape[0] != rows:
        raise ValueError(f"{name}: expected {rows} rows (one per feature or output unit, "
                         f"examples as columns), got shape {array.shape}")
    array = array.astype(dtype, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return array


def check_same_m(X, Y):
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"Y: expected {X.shape[1]} columns (one per example of X), "
                         f"got shape {Y.shape}")


def check_labels(Y, output, n_out, dtype):
    """Targets as a float (n_out, m) array: 0/1 for sigmoid, one-hot for softmax (integer
    labels (1, m) in 0..K-1 are expanded), any real values for linear."""
    Y = np.asarray(Y)
    if output == "softmax" and Y.ndim == 2 and Y.shape[0] == 1 and n_out > 1:
        labels = as_matrix("Y", Y, rows=1)
        if np.any((labels != np.round(labels)) | (labels < 0) | (labels > n_out - 1)):
            raise ValueError(f"Y: integer class labels for a softmax output must lie in "
                             f"0..{n_out - 1}")
        return np.eye(n_out, dtype=dtype)[:, labels[0].astype(np.int64)]
    Y = as_matrix("Y", Y, rows=n_out, dtype=dtype)
    if output == "sigmoid" and not np.all((Y == 0) | (Y == 1)):
        raise ValueError("Y: labels for a sigmoid output must be 0 or 1")
    if output == "softmax" and not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=0) == 1)):
        raise ValueError("Y: targets for a softmax output must be one-hot columns (K, m) or "
                         "integer labels (1, m)")
    return Y


def positive_number(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite positive number, got {value!r}")
    return float(value)


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)
