"""Data: the course's planar "flower", the cat vs non-cat images, the extra 2-D sets, and
the circles and moons of the second course."""
import os
from collections import namedtuple

import numpy as np

CatData = namedtuple("CatData", "train_x_orig train_y test_x_orig test_y classes")
CAT_FILES = {"train": "train_catvnoncat.h5", "test": "test_catvnoncat.h5"}


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


def load_h5_images(path):
    """One course .h5 file: ``(x_orig (m, 64, 64, 3) uint8, y (1, m), classes)``.  The
    dataset names are found by their prefixes (``*_set_x``, ``*_set_y``)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such data file: {os.path.abspath(path)}")
    with _h5py().File(path, "r") as f:
        names = list(f.keys())
        x_name = next((n for n in names if n.endswith("_set_x")), None)
        y_name = next((n for n in names if n.endswith("_set_y")), None)
        if x_name is None or y_name is None:
            raise ValueError(f"{path}: expected datasets '*_set_x' and '*_set_y', found {names}")
        x, y = np.array(f[x_name][:]), np.array(f[y_name][:])
        classes = np.array(f["list_classes"][:]) if "list_classes" in f else None
    return x, y.reshape((1, y.shape[0])), classes


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
