"""The figures: written as real PNGs, drawn on a given Axes, and fed the right points."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from deepjit import Model, datasets, plots  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = Path(path).read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def test_plot_costs_writes_a_png_with_the_iterations_on_x(tmp_path):
    fig = plots.plot_costs([0.7, 0.5, 0.3], learning_rate=0.0075, record_every=100,
                           path=tmp_path / "c.png")
    assert_png(tmp_path / "c.png")
    (line,) = fig.axes[0].lines
    np.testing.assert_array_equal(line.get_xdata(), [0, 100, 200])
    np.testing.assert_array_equal(line.get_ydata(), [0.7, 0.5, 0.3])
    assert fig.axes[0].get_title() == "Learning rate = 0.0075"


def test_plot_costs_draws_on_a_given_axes_and_refuses_nothing_to_draw():
    ax = Figure().add_subplot()
    plots.plot_costs(np.array([[1.0, 0.5]]), ax=ax)
    assert len(ax.lines) == 1
    with pytest.raises(ValueError, match="costs"):
        plots.plot_costs([], ax=ax)


def test_decision_boundary_of_a_trained_model_on_the_flower(tmp_path):
    X, Y = datasets.load_planar_dataset()
    model = Model([2, 4, 1], "tanh", "sigmoid", init="small", seed=3)
    model.fit(X, Y, learning_rate=1.2, num_iterations=200)
    plots.plot_decision_boundary(model, X, Y, path=tmp_path / "b.png")
    assert_png(tmp_path / "b.png")


def test_decision_boundary_feeds_the_course_callable_a_padded_grid():
    X = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 1.0]])
    seen = []

    def predict(points):                       # the course's (k, 2) convention
        seen.append(points)
        return points[:, 0] > 1

    ax = Figure().add_subplot()
    plots.plot_decision_boundary(predict, X, [0, 1, 1], ax=ax)
    (points,) = seen
    assert points.shape[1] == 2
    np.testing.assert_allclose(points.min(axis=0), [-1, -1])
    assert np.all(points.max(axis=0) > [2.99, 3.99])
    np.testing.assert_allclose(np.diff(np.unique(points[:, 0]))[:3], 0.01)   # course step
    assert ax.collections                       # contours and scatter drawn


def test_decision_boundary_grid_is_capped_for_wide_data():
    X = np.array([[0.0, 1000.0], [0.0, 1.0]])
    xx, yy = plots._grid(X, 1.0, None)
    assert xx.shape[1] <= plots.MAX_GRID + 1 and xx.shape[0] <= plots.MAX_GRID + 1


def test_decision_boundary_accepts_a_scikit_learn_estimator():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    X, Y = datasets.load_planar_dataset()
    clf = LogisticRegression().fit(X.T, Y.ravel())
    ax = Figure().add_subplot()
    plots.plot_decision_boundary(clf, X, Y, ax=ax)
    assert ax.collections


@pytest.mark.parametrize("X, Y, message", [(np.ones((3, 4)), np.ones(4), "X"),
                                           (np.ones((2, 4)), np.ones(3), "Y")])
def test_decision_boundary_refuses_bad_shapes(X, Y, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_decision_boundary(lambda p: p[:, 0], X, Y, ax=Figure().add_subplot())


def test_mislabeled_images_grid(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.rand(2 * 2 * 3, 8)
    y = np.array([[0, 1, 0, 1, 0, 1, 0, 1]])
    p = np.array([[0, 0, 1, 1, 0, 0, 1, 1]])         # 4 wrong
    classes = np.array([b"non-cat", b"cat"])
    fig = plots.plot_mislabeled_images(classes, X, y, p, path=tmp_path / "m.png",
                                       image_shape=(2, 2, 3), columns=3)
    assert_png(tmp_path / "m.png")
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "Prediction: non-cat\nClass: cat"
    fig = plots.plot_mislabeled_images(None, X, y, y, path=tmp_path / "none.png",
                                       image_shape=(2, 2, 3))
    assert_png(tmp_path / "none.png")
    with pytest.raises(ValueError, match="image_shape"):
        plots.plot_mislabeled_images(classes, X, y, p, image_shape=(64, 64, 3))
