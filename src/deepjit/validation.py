"""Input checks that run before any work: each error names the argument and what was
expected; ``check_memory`` refuses a setting whose arrays would not fit in memory."""
import math
import numbers
import os

import numpy as np

DTYPES = {"float64": np.float64, "float32": np.float32}


def check_choice(name, value, choices):
    """``value`` if it is one of the string ``choices`` (any other type, hashable or not,
    is refused by name)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: unknown {name} {value!r}; expected one of "
                         f"{sorted(choices)}")
    return value


def check_dtype(dtype):
    try:
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    except (TypeError, ValueError, OverflowError, KeyError):
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype: expected 'float64' or 'float32', got {dtype!r}")
    return np.dtype(DTYPES[name])


def as_matrix(name, array, rows=None, dtype=np.float64):
    """A finite, non-empty 2-D float array in ``dtype`` (a copy only when needed)."""
    try:
        array = np.asarray(array)
    except (ValueError, TypeError, OverflowError) as exc:   # ragged nested lists, ...
        raise ValueError(f"{name}: expected a 2-D array of numbers (rows of equal length), "
                         f"could not read it as an array ({_one_line(exc)})") from None
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
        one_hot = np.zeros((n_out, labels.shape[1]), dtype=dtype)
        one_hot[labels[0].astype(np.int64), np.arange(labels.shape[1])] = 1
        return one_hot
    Y = as_matrix("Y", Y, rows=n_out, dtype=dtype)
    if output == "sigmoid" and not np.all((Y == 0) | (Y == 1)):
        raise ValueError("Y: labels for a sigmoid output must be 0 or 1")
    if output == "softmax" and not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=0) == 1)):
        raise ValueError("Y: targets for a softmax output must be one-hot columns (K, m) or "
                         "integer labels (1, m)")
    return Y


def positive_number(name, value):
    """A finite positive real number (int, float, Fraction, numpy scalar) as a float."""
    try:
        number = float(value) if isinstance(value, numbers.Real) \
            and not isinstance(value, (bool, np.bool_)) else math.nan
    except OverflowError:                                  # 10**400, Fraction(10**400)
        number = math.inf
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name}: expected a finite positive number, got {value!r}")
    return number


MAX_INT = 2 ** 63 - 1     # what the compiled kernels count in


def positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or not 0 < value <= MAX_INT:
        raise ValueError(f"{name}: expected a positive integer (at most 2**63 - 1), got "
                         f"{value!r}")
    return int(value)


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


# -- memory -------------------------------------------------------------------------------
GIB = 2.0 ** 30


def memory_limit():
    """Bytes this process may use at most: physical memory, lowered by a cgroup limit
    or ``ulimit -v`` when there is one."""
    limits = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limits.append(int(f.read()))
    except (OSError, ValueError):                          # none, or "max"
        pass
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    return min(limits)


def check_memory(name, nbytes, what, hint=""):
    """Refuses (naming the setting ``name``) work whose arrays, ``nbytes`` in all, would
    not fit in :func:`memory_limit`; ``what`` says what needs them."""
    limit = memory_limit()
    if nbytes > limit:
        raise ValueError(f"{name}: {what} would take about {nbytes / GIB:.3g} GiB of memory, more "
                         f"than the {limit / GIB:.3g} GiB this machine allows{hint}")
    return nbytes


def parameter_bytes(layer_dims, itemsize):
    """Bytes of the parameters W1, b1, ..., plus the float64 draw of the largest W."""
    sizes = [n * k + n for k, n in zip(layer_dims[:-1], layer_dims[1:])]
    return sum(sizes) * itemsize + max(sizes) * 8


def training_bytes(layer_dims, m, formulation, itemsize, blocks=1, chunk=256):
    """About how many bytes fit allocates beyond X and Y for a formulation ("dense",
    "examples", "streamed", or "numpy" for the numpy engine): the flat parameters,
    gradient and snapshots, and the activations each formulation keeps; ``blocks`` is
    the cpu engine's split of the examples (``formulation.block_count``), each block
    with its own buffers and gradient sums."""
    dims = [int(n) for n in layer_dims]
    n0, n1, units, widest = dims[0], dims[1], sum(dims[1:]), max(dims[1:])
    params = sum(n * k + n for k, n in zip(dims[:-1], dims[1:]))
    fixed = 5 * params * itemsize                 # theta, grad, 2 snapshots, the copy out
    if formulation == "numpy":                   # A and Z of every layer, dA, dZ, Y
        return fixed + (2 * units + 2 * widest + dims[-1]) * m * itemsize
    if formulation == "streamed":
        per_block = 2 * params + (units + 2 * widest + 3 * dims[-1] + n0) * chunk
        return fixed + blocks * per_block * itemsize
    dense = (units + 2 * widest + 2 * dims[-1]) * m * itemsize
    if formulation == "examples":               # G (m, m), P, S, work, dZ1, W1 rebuilt
        return fixed + dense + (m * m + 4 * n1 * m + n0 * m + n1 * n0) * 8
    if blocks > 1:                              # blocks' copies of X and Y, gradient sums
        dense += (2 * blocks * params + (n0 + dims[-1]) * m) * itemsize
    return fixed + dense
