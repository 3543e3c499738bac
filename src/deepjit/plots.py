"""The course's figures: the cost curve, a 2-D decision boundary, mislabeled images.

Each function draws on ``ax`` when given; otherwise, with ``path``, on a new figure
that it saves (PNG, or any format matplotlib knows from the suffix) and returns; with
neither, on pyplot's current axes, as the course's notebooks do.  matplotlib is imported
only when a function runs (``pip install 'deepjit[course]'``); without a display it
uses the Agg backend.
"""
import os
import sys

import numpy as np

MAX_GRID = 500   # decision-boundary grid points per axis, at most


def plot_costs(costs, learning_rate=None, record_every=100, path=None, ax=None):
    """The cost recorded every ``record_every`` iterations (``Model.costs_``), against
    the iteration number.  Returns the figure."""
    costs = np.ravel(np.asarray(costs, dtype=float))
    if costs.size == 0:
        raise ValueError("costs: expected at least one recorded cost, got none")
    fig, ax = _figure_and_axes(path, ax)
    ax.plot(np.arange(costs.size) * record_every, costs)
    ax.set_xlabel("iterations")
    ax.set_ylabel("cost")
    if learning_rate is not None:
        ax.set_title(f"Learning rate = {learning_rate}")
    return _finish(fig, path)


def plot_history(history, path=None, ax=None):
    """The per-epoch training cost and, when recorded, the validation cost
    (``Model.history_`` of a mini-batch fit), against the epoch.  Returns the figure."""
    if not history or not history.get("cost"):
        raise ValueError("history: expected a mini-batch fit's history_ with at least one "
                         "epoch")
    fig, ax = _figure_and_axes(path, ax)
    ax.plot(history["epoch"], history["cost"], label="training (batch mean)")
    if history.get("val_cost"):
        ax.plot(history["epoch"], history["val_cost"], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost")
    ax.legend()
    return _finish(fig, path)


def plot_decision_boundary(model, X, Y, path=None, ax=None, step=None, padding=1.0):
    """Filled contours of the predicted label over the plane, with the data on top.

    model : a ``deepjit.Model`` (fed ``(2, k)`` grid points), or a callable mapping a
        ``(k, 2)`` array of points to ``k`` labels as in the course
        (``lambda x: predict(parameters, x.T)``), or a scikit-learn estimator.
    X : (2, m) points;  Y : (1, m) or (m,) labels (the colours).
    step : grid spacing; by default the course's 0.01, coarsened so that no axis has
        more than ``MAX_GRID`` points.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != 2:
        raise ValueError(f"X: expected 2-D points of shape (2, m), got shape {X.shape}")
    colours = np.ravel(Y)
    if colours.size != X.shape[1]:
        raise ValueError(f"Y: expected {X.shape[1]} labels (one per column of X), got "
                         f"{colours.size}")
    predict = _grid_predictor(model)
    xx, yy = _grid(X, padding, step)
    Z = np.asarray(predict(np.c_[xx.ravel(), yy.ravel()]), dtype=float).reshape(xx.shape)
    fig, ax = _figure_and_axes(path, ax)
    from matplotlib import colormaps
    cmap = colormaps["Spectral"]
    ax.contourf(xx, yy, Z, cmap=cmap)
    ax.scatter(X[0], X[1], c=colours, cmap=cmap, s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return _finish(fig, path)


def plot_mislabeled_images(classes, X, y, p, path=None, image_shape=(64, 64, 3),
                           columns=5):
    """A grid of the images whose prediction ``p`` differs from the label ``y``.

    classes : class names (bytes or str) indexed by label, or None;  X : (n_x, m)
    flattened images in [0, 1] (``flatten_images``);  y, p : (1, m) 0/1 labels and
    predictions.  Returns the figure (with a note when nothing is mislabeled)."""
    X = np.asarray(X)
    y, p = np.ravel(y).astype(np.int64), np.ravel(p).astype(np.int64)
    if X.ndim != 2 or X.shape[0] != int(np.prod(image_shape)):
        raise ValueError(f"X: expected flattened images of shape ({np.prod(image_shape)}, m) "
                         f"for image_shape {image_shape}, got shape {X.shape}")
    if y.size != X.shape[1] or p.size != X.shape[1]:
        raise ValueError(f"y, p: expected {X.shape[1]} labels each, got {y.size} and {p.size}")
    wrong = np.flatnonzero(y != p)
    rows = max(1, -(-wrong.size // columns))
    fig = _new_figure((2.4 * columns, 2.8 * rows), with_pyplot=path is None)
    if wrong.size == 0:
        fig.text(0.5, 0.5, "no mislabeled images", ha="center", va="center")
    for i, index in enumerate(wrong):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(X[:, index].reshape(image_shape), interpolation="nearest")
        ax.axis("off")
        ax.set_title(f"Prediction: {_name(classes, p[index])}\nClass: "
                     f"{_name(classes, y[index])}", fontsize=9)
    return _finish(fig, path)


# -- helpers ----------------------------------------------------------------------------
def _grid_predictor(model):
    """A function from ``(k, 2)`` points to ``k`` labels."""
    from .model import Model
    if isinstance(model, Model):
        return lambda points: model.predict(points.T)
    if callable(model):
        return model
    if hasattr(model, "predict"):
        return model.predict
    raise ValueError("model: expected a deepjit Model, a callable or an object with "
                     f"predict, got {type(model).__name__}")


def _grid(X, padding, step):
    x_min, x_max = X[0].min() - padding, X[0].max() + padding
    y_min, y_max = X[1].min() - padding, X[1].max() + padding
    if step is None:
        step = max(0.01, (x_max - x_min) / MAX_GRID, (y_max - y_min) / MAX_GRID)
    return np.meshgrid(np.arange(x_min, x_max, step), np.arange(y_min, y_max, step))


def _name(classes, label):
    if classes is None:
        return str(label)
    name = classes[label]
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def _pyplot_module():
    """pyplot, with the Agg backend chosen first when there is no display."""
    import matplotlib
    headless = (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
                and not os.environ.get("WAYLAND_DISPLAY"))
    if headless and "matplotlib.pyplot" not in sys.modules \
            and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _new_figure(figsize=(6.4, 4.8), with_pyplot=False):
    """A figure outside pyplot (no window, freed when dropped), or pyplot's own to
    show."""
    if with_pyplot:
        return _pyplot_module().figure(figsize=figsize)
    from matplotlib.figure import Figure
    return Figure(figsize=figsize)


def _figure_and_axes(path, ax):
    if ax is not None:
        return ax.figure, ax
    if path is not None:
        fig = _new_figure()
        return fig, fig.add_subplot()
    ax = _pyplot_module().gca()
    return ax.figure, ax


def _finish(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=100, bbox_inches="tight")
    return fig
