"""Data: the course's planar "flower", the cat vs non-cat images, the extra 2-D sets, the
circles and moons of the second course, and data files (``.h5`` course images, ``.npz``,
``.csv``) in the course's orientation.

Data files are checked before they are read: an archive by its listing and each array's
header, an image file by its datasets' shapes and types, and every array's size against
the machine's memory; anything wrong is a ValueError naming the file.
"""
import csv
import math
import os
from collections import namedtuple

import numpy as np

from .model_io import NpzReader
from .validation import check_memory

CatData = namedtuple("CatData", "train_x_orig train_y test_x_orig test_y classes")
CAT_FILES = {"train": "train_catvnoncat.h5", "test": "test_catvnoncat.h5"}
DataFile = namedtuple("DataFile", "X Y images")   # X (n_x, m), Y (n, m) or None, Images
Images = namedtuple("Images", "classes shape")    # what a .h5 file adds: names, (h, w, c)
NUMBER_KINDS = "biuf"                               # bool, integers, floats


def draw_flower(rng, m=400):
    """The flower drawn with ``rng.randn`` exactly as the course does; X (2, m) float64,
    Y (1, m) uint8.  For each class j: ``t = linspace(3.12 j, 3.12 (j+1)) + 0.2 randn``,
    then ``r = 4 sin(4t) + 0.2 randn``, points ``(r sin t, r cos t)``."""
    N = m // 2
    X = np.zeros((m, 2))
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rng.randn(N) * 0.2
        r = 4 * np.sin(4 * t) + rng.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def draw_circles(rng, n_samples, noise=None, factor=0.8):
    """scikit-learn's ``make_circles(n_samples, noise=noise, factor=factor)`` drawing
    from ``rng`` (a ``RandomState`` or ``np.random``), bit for bit without scikit-learn:
    ``(X (n, 2) float64, y (n,) intp)``, outer circle label 0, inner 1."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([np.append(np.cos(t_out), np.cos(t_in) * factor),
                   np.append(np.sin(t_out), np.sin(t_in) * factor)]).T
    return _shuffle_and_noise(rng, X, n_out, n_in, noise)


def draw_moons(rng, n_samples, noise=None):
    """scikit-learn's ``make_moons(n_samples, noise=noise)`` drawing from ``rng``, bit
    for bit without scikit-learn: ``(X (n, 2) float64, y (n,) intp)``."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    return _shuffle_and_noise(rng, X, n_out, n_in, noise)


def _shuffle_and_noise(rng, X, n_out, n_in, noise):
    """scikit-learn's ending: labels, one shuffle of the rows, then Gaussian noise."""
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_out + n_in)
    rng.shuffle(order)
    X, y = X[order], y[order]
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def load_planar_dataset(seed=1):
    """The course's two-class flower: ``X (2, 400)``, ``Y (1, 400)`` (uint8).  Draws
    from ``np.random.RandomState(seed)``, the same numbers as the course's
    ``np.random.seed(1)`` without touching the global state."""
    return draw_flower(np.random.RandomState(seed))


def load_extra_datasets(n_samples=200):
    """The course's extra 2-D sets (needs scikit-learn): noisy circles, noisy moons,
    blobs, gaussian quantiles, and no structure, each ``(X (n, 2), y (n,))``."""
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise ImportError("load_extra_datasets needs scikit-learn: "
                          "pip install 'deepjit[sklearn]'") from None
    N = n_samples
    noisy_circles = skd.make_circles(n_samples=N, factor=.5, noise=.3)
    noisy_moons = skd.make_moons(n_samples=N, noise=.2)
    blobs = skd.make_blobs(n_samples=N, random_state=5, n_features=2, centers=6)
    gaussian_quantiles = skd.make_gaussian_quantiles(mean=None, cov=0.5, n_samples=N,
                                                     n_features=2, n_classes=2, shuffle=True,
                                                     random_state=None)
    no_structure = np.random.rand(N, 2), np.random.rand(N, 2)
    return noisy_circles, noisy_moons, blobs, gaussian_quantiles, no_structure


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading the cat data needs h5py: pip install 'deepjit[course]'") \
            from None
    return h5py


def load_h5_images(path, part=None):
    """One course .h5 file: ``(x_orig (m, 64, 64, 3) uint8, y (1, m), classes)``.  The
    dataset names are found by their prefixes (``*_set_x``, ``*_set_y``); both must be
    numeric datasets with one entry per example.  ``part(m)``, a slice of ``range(m)``,
    reads only those examples."""
    x, y, classes, _ = _read_h5(path, part, course_only=True)
    return x, y, classes


def _h5_names(path, f, course_only):
    """``(X's name, Y's name or None, whether examples are rows of a plain X)``: a file
    with a dataset ``X`` (and ``Y`` or ``y``), else a course file."""
    names = list(f.keys())
    if "X" in names and not course_only:
        return "X", next((n for n in ("Y", "y") if n in names), None), True
    x_name = next((n for n in names if n.endswith("_set_x")), None)
    y_name = next((n for n in names if n.endswith("_set_y")), None)
    if x_name is None or y_name is None:
        raise ValueError(f"{path}: expected datasets '*_set_x' and '*_set_y'"
                         f"{'' if course_only else ' (or X and y)'}, found {names}")
    return x_name, y_name, False


def _read_h5(path, part, course_only=False):
    """``(x (m, ...), y (1, m) or (n, m) or None, classes, plain)`` of an .h5 file
    (:func:`_h5_names`), the examples ``part(m)`` only."""
    path = os.fsdecode(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such data file: {os.path.abspath(path)}")
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            x_name, y_name, plain = _h5_names(path, f, course_only)
            shape = getattr(f[x_name], "shape", ())
            m = shape[0] if shape else 0
            rows = part(m) if part is not None else slice(0, m)
            x = _h5_numbers(path, f, x_name, h5py, rows)
            y = None if y_name is None else _h5_labels(path, f, y_name, h5py, m, rows)
            classes = np.array(f["list_classes"][:]) if "list_classes" in f else None
    except (OSError, KeyError, TypeError, RuntimeError) as exc:   # h5py's own errors
        raise ValueError(f"{path}: not a readable .h5 data file ({exc})") from None
    if x.ndim < 2 or (y is not None and y.shape[1] != x.shape[0]):
        raise ValueError(f"{path}: expected examples (m, ...) and m labels, got shapes "
                         f"{x.shape} and {None if y is None else y.shape}")
    return x, y, classes, plain


def _h5_numbers(path, f, name, h5py, rows=slice(None)):
    """Dataset ``name`` (its examples ``rows``) as an array, after checking that it is a
    numeric dataset (not a group, not strings) that fits in memory."""
    item = f[name]
    if not isinstance(item, h5py.Dataset) or item.dtype.kind not in NUMBER_KINDS:
        kind = type(item).__name__ if not isinstance(item, h5py.Dataset) else item.dtype
        raise ValueError(f"{path}: {name!r} must be a dataset of numbers, found {kind}")
    shape = item.shape
    if shape:
        shape = (len(range(*rows.indices(shape[0]))),) + shape[1:]
    check_memory("data", math.prod(shape) * (item.dtype.itemsize + 16),
                 f"{path} ({name!r} {shape}, flattened to float64)")
    return np.array(item[rows] if item.shape else item[()])


def _h5_labels(path, f, name, h5py, m, rows):
    """The labels of examples ``rows``: ``(m,)`` or ``(m, n)`` stored, read as
    ``(1, k)`` or ``(n, k)``; other shapes (``(1, m)``) read whole as one row, then cut."""
    shape = getattr(f[name], "shape", ())
    if len(shape) in (1, 2) and shape[0] == m:
        y = _h5_numbers(path, f, name, h5py, rows)
        return y.reshape(1, -1) if y.ndim == 1 else y.T
    y = _h5_numbers(path, f, name, h5py, slice(None))
    y = y.reshape((1, y.size))
    return y[:, rows] if y.size == m else y


def load_catvnoncat(path):
    """The cat data from a directory holding ``train_catvnoncat.h5`` and
    ``test_catvnoncat.h5``, or from the path of either file (its sibling is used).
    Returns ``CatData(train_x_orig, train_y, test_x_orig, test_y, classes)`` as the
    course's ``load_data()`` does."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"cat data not found: no such directory or file "
                                f"{os.path.abspath(path)}")
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    files = {k: os.path.join(directory, v) for k, v in CAT_FILES.items()}
    for file in files.values():
        if not os.path.isfile(file):
            raise FileNotFoundError(f"cat data not found: looked for {os.path.abspath(file)}")
    train_x, train_y, classes = load_h5_images(files["train"])
    test_x, test_y, _ = load_h5_images(files["test"])
    return CatData(train_x, train_y, test_x, test_y, classes)


def flatten_images(x_orig):
    """``(m, h, w, c)`` images to ``X (h*w*c, m)`` float64 in [0, 1], as the course
    prepares them (``x.reshape(m, -1).T / 255.``)."""
    return x_orig.reshape(x_orig.shape[0], -1).T / 255.


# -- data files (the command line's --data) ----------------------------------------------
def load_data_file(path, label_column=None, need_labels=True, part=None):
    """A data file as ``DataFile(X (n_x, m), Y (n, m) or None, images)``, by suffix:

    - ``.h5`` / ``.hdf5``: a course image file (``*_set_x``, ``*_set_y``), flattened and
      scaled to [0, 1] as the course does (``images`` gives the class names and shape),
      or examples as rows: ``X (m, n_x)`` and ``y`` or ``Y`` (``(m,)`` or ``(m, n)``);
    - ``.npz``: ``X`` of shape ``(n_x, m)``, one example per COLUMN as in the course, and
      ``Y`` of shape ``(n, m)`` or ``(m,)`` (optional);
    - ``.csv``: a header row, one example per ROW; the label column is ``label_column``
      (default ``label``, else ``y``), the other columns are the features.

    ``need_labels`` refuses a file without labels.  ``part(m)``, a slice of
    ``range(m)``, keeps only those examples: read alone from an .h5 file, cut from the
    others after reading them whole (as each MPI rank of ``deepjit train`` does).
    Problems are ValueErrors naming the file (FileNotFoundError when it is missing)."""
    path = os.fsdecode(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such data file: {path}")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in DATA_READERS:
        raise ValueError(f"{path}: unknown data format {suffix!r}; expected one of "
                         f"{sorted(DATA_READERS)}")
    read = DATA_READERS[suffix]
    if read is load_h5:
        data = load_h5(path, part)
    else:
        data = read(path, label_column) if read is load_csv else read(path)
        if part is not None:
            rows = part(data.X.shape[1])
            data = data._replace(X=data.X[:, rows],
                                 Y=None if data.Y is None else data.Y[:, rows])
    if need_labels and data.Y is None:
        raise ValueError(f"{path}: no labels found (training needs them)")
    return data


def load_h5(path, part=None):
    """A course image file as ``DataFile(X (h*w*c, m) in [0, 1], Y (1, m), Images)``, or
    a file of examples as rows, ``X (m, n_x)`` and ``y`` or ``Y`` ``(m,)`` or ``(m, n)``
    (optional), as ``DataFile(X (n_x, m), Y (n, m) or None, None)``; ``part(m)`` (a
    slice) reads only those examples from disk."""
    x, y, classes, plain = _read_h5(path, part)
    if plain:
        return DataFile(x.T.astype(np.float64), y, None)
    return DataFile(flatten_images(x), y, Images(classes, x.shape[1:]))


def load_npz(path):
    """``DataFile(X, Y or None, None)`` from an ``.npz`` holding ``X (n_x, m)`` and
    optionally ``Y (n, m)`` or ``(m,)``; arrays of numbers only, never pickles, each
    checked by its header before it is read."""
    path = os.fsdecode(os.fspath(path))
    with NpzReader(path) as npz:
        if "X" not in npz.members:
            npz.fail(f"expected an array 'X' of shape (n_x, m), found {sorted(npz.members)}")
        arrays = {name: _npz_numbers(npz, name) for name in ("X", "Y") if name in npz.members}
    X, Y = arrays["X"], arrays.get("Y")
    if X.ndim != 2:
        raise ValueError(f"{path}: X must be 2-D (n_x, m), got shape {X.shape}")
    if Y is not None:
        Y = Y.reshape(1, -1) if Y.ndim == 1 else Y
        if Y.ndim != 2 or Y.shape[1] != X.shape[1]:
            raise ValueError(f"{path}: Y must be (n, m) or (m,) with m = {X.shape[1]} (the "
                             f"columns of X, one example per column), got shape {Y.shape}")
    return DataFile(X, Y, None)


def _npz_numbers(npz, name):
    shape, dtype = npz.header(name)
    if dtype.kind not in NUMBER_KINDS:
        npz.fail(f"{name} must hold real numbers, found {dtype}")
    check_memory("data", math.prod(shape) * max(dtype.itemsize, 8) * 2,
                 f"{npz.path} ({name} {shape} {dtype}, as float64)")
    return npz.read(name, shape, dtype)


def load_csv(path, label_column=None):
    """``DataFile(X (n_x, m), Y (1, m) or None, None)`` from a CSV file with a header row
    and one example per row; ``label_column`` (default ``label``, else ``y``) holds the
    labels, the other columns the features."""
    path = os.fsdecode(os.fspath(path))
    check_memory("data", os.path.getsize(path) * 10, f"{path} (read as a table)")
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (csv.Error, UnicodeDecodeError) as exc:           # a 131,072+ character field
        raise ValueError(f"{path}: not a readable CSV file ({exc})") from None
    if len(rows) < 2:
        raise ValueError(f"{path}: expected a header row and at least one example row")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    label = _label_column(path, header, label_column)
    try:
        values = np.array([[float(v) for v in row] for row in body if row])
    except ValueError as exc:
        raise ValueError(f"{path}: every value must be a number ({exc})") from None
    if values.ndim != 2 or values.shape[1] != len(header):
        raise ValueError(f"{path}: every row must have {len(header)} values, as the header")
    features = [i for i, name in enumerate(header) if name != label]
    Y = values[:, header.index(label)].reshape(1, -1) if label in header else None
    return DataFile(values[:, features].T, Y, None)


def _label_column(path, header, label_column):
    if label_column is not None:
        if label_column not in header:
            raise ValueError(f"{path}: no column {label_column!r}; columns are {header}")
        return label_column
    return next((name for name in ("label", "y") if name in header), None)


DATA_READERS = {".h5": load_h5, ".hdf5": load_h5, ".npz": load_npz, ".csv": load_csv}
