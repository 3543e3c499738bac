"""Fixed-seed data and small helpers shared by the asv benchmarks.

Every builder returns the same arrays on every call (fixed seeds, or the real cat
images), so results are comparable from commit to commit.  Arrays are C-contiguous
and already of the benchmark's dtype, so the timed call never converts or copies.

The cat images are read from ``$DEEPJIT_DATA`` if set, else from
``../shared/data/catvnoncat`` seen from the repository root (never from the repo).
A benchmark whose setup needs missing data raises ``NotImplementedError``, which is
asv's way of skipping it.
"""
import os
from pathlib import Path

import numpy as np
from deepjit import Model
from deepjit.datasets import flatten_images, load_catvnoncat, load_planar_dataset

DTYPES = ["float64", "float32"]
ENGINES = ["cpu", "numpy"]


def cat_data_dir():
    """The directory holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``."""
    if os.environ.get("DEEPJIT_DATA"):
        return Path(os.environ["DEEPJIT_DATA"])
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat"


def _as(dtype, *arrays):
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)


def cat(dtype="float64"):
    """The course's cat images: ``(X_train (12288, 209), Y_train (1, 209),
    X_test (12288, 50), Y_test (1, 50))``; skips the benchmark when absent."""
    try:
        data = load_catvnoncat(cat_data_dir())
    except (FileNotFoundError, ImportError) as exc:
        raise NotImplementedError(f"cat data unavailable: {exc}") from None
    X, X_test = flatten_images(data.train_x_orig), flatten_images(data.test_x_orig)
    return _as(dtype, X, data.train_y, X_test, data.test_y)


def flower(dtype="float64"):
    """The course's planar flower, ``X (2, 400)``, ``Y (1, 400)`` (seed 1)."""
    return _as(dtype, *load_planar_dataset(seed=1))


def tall(dtype="float64", n_x=30, m=100_000):
    """A tall synthetic set: ``X (30, 100000)`` standard normal, ``Y (1, m)`` = whether
    a fixed random hyperplane leaves the point on its positive side (seed 0)."""
    rng = np.random.RandomState(0)
    X = rng.randn(n_x, m)
    Y = (rng.randn(1, n_x) @ X > 0).astype(np.int64)
    return _as(dtype, X, Y)


# name: (data builder, layer_dims, hidden activation, learning rate)
WORKLOADS = {
    "cat": (cat, [12288, 20, 7, 5, 1], "relu", 0.0075),
    "flower": (flower, [2, 4, 1], "tanh", 1.2),
    "tall": (tall, [30, 64, 32, 1], "relu", 0.05),
}


def workload(name, dtype, engine):
    """``(model, X, Y)`` for a workload: an untrained ``Model`` (seed 1) and its
    training data in ``dtype``."""
    build, dims, hidden, _ = WORKLOADS[name]
    X, Y = build(dtype)[:2]
    model = Model(dims, hidden_activation=hidden, output="sigmoid", seed=1, dtype=dtype,
                  engine=engine)
    return model, X, Y


def trainer(name, dtype, engine, num_iterations):
    """An engine's trainer for a workload (the one ``Model.fit`` builds for
    ``num_iterations``); ``NotImplementedError`` (asv: skipped) when the engine cannot run
    here, such as engine="cuda" without a GPU."""
    from deepjit.engines import get_engine
    model, X, Y = workload(name, dtype, engine)
    try:
        module = get_engine(engine)
    except RuntimeError as exc:
        raise NotImplementedError(str(exc)) from None
    # make_trainer is the engine contract since the engines/ packages; Trainer before
    make = getattr(module, "make_trainer", None) or module.Trainer
    return make(model.parameters, X, Y, model.net, learning_rate(name),
                num_iterations=num_iterations)


def learning_rate(name):
    return WORKLOADS[name][3]


def layer(shape, dtype, seed=0):
    """One layer's arrays for ``shape = "n_l x n_prev x m"``: ``W (n_l, n_prev)``,
    ``b (n_l, 1)``, ``A_prev (n_prev, m)``, ``dZ (n_l, m)``, all C-contiguous."""
    n, n_prev, m = (int(k) for k in shape.split("x"))
    rng = np.random.RandomState(seed)
    W = rng.randn(n, n_prev) / np.sqrt(n_prev)
    b = rng.randn(n, 1) * 0.1
    A_prev = rng.rand(n_prev, m)
    dZ = rng.randn(n, m) / m
    return _as(dtype, W, b, A_prev, dZ)
