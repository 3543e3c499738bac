"""Data loaders: the flower drawn as the course draws it, and the real cat images."""
import re

import numpy as np
import pytest

from deepjit import datasets


def course_load_planar_dataset():
    """The course's planar_utils.load_planar_dataset, written out as the oracle."""
    np.random.seed(1)
    m = 400
    N = int(m / 2)
    D = 2
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    a = 4
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def test_planar_dataset_is_the_course_drawing(global_random_state):
    X_expected, Y_expected = course_load_planar_dataset()
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    X, Y = datasets.load_planar_dataset()
    np.testing.assert_array_equal(np.random.get_state()[1], state)   # global state untouched
    assert X.shape == (2, 400) and X.dtype == np.float64
    assert Y.shape == (1, 400) and Y.dtype == np.uint8
    np.testing.assert_array_equal(X, X_expected)
    np.testing.assert_array_equal(Y, Y_expected)
    assert Y.sum() == 200


def test_planar_dataset_seed_and_draw_flower():
    X2, _ = datasets.load_planar_dataset(seed=2)
    assert not np.array_equal(X2, datasets.load_planar_dataset()[0])
    X, Y = datasets.draw_flower(np.random.RandomState(2), m=40)
    assert X.shape == (2, 40) and Y.shape == (1, 40) and Y.sum() == 20
    np.testing.assert_array_equal(X, datasets.draw_flower(np.random.RandomState(2), m=40)[0])


def test_extra_datasets():
    pytest.importorskip("sklearn")
    sets = datasets.load_extra_datasets()
    assert len(sets) == 5
    for X, y in sets:
        assert X.shape == (200, 2) and len(y) == 200


def check_cat(data):
    assert data.train_x_orig.shape == (209, 64, 64, 3) and data.train_x_orig.dtype == np.uint8
    assert data.test_x_orig.shape == (50, 64, 64, 3)
    assert data.train_y.shape == (1, 209) and data.test_y.shape == (1, 50)
    assert data.train_y.sum() == 72 and (data.train_y == 0).sum() == 137
    assert data.test_y.sum() == 33 and (data.test_y == 0).sum() == 17
    assert [bytes(c) for c in data.classes] == [b"non-cat", b"cat"]
    flat = data.train_x_orig.reshape(209, -1).T
    np.testing.assert_array_equal(flat[:5, 0], [17, 31, 56, 22, 33])


def test_cat_from_directory(cat_dir):
    pytest.importorskip("h5py")
    check_cat(datasets.load_catvnoncat(cat_dir))
    check_cat(datasets.load_catvnoncat(str(cat_dir)))


@pytest.mark.parametrize("name", ["train_catvnoncat.h5", "test_catvnoncat.h5"])
def test_cat_from_a_file_path(cat_dir, name):
    pytest.importorskip("h5py")
    check_cat(datasets.load_catvnoncat(cat_dir / name))


def test_flatten_images(cat_dir):
    pytest.importorskip("h5py")
    data = datasets.load_catvnoncat(cat_dir)
    X = datasets.flatten_images(data.train_x_orig)
    assert X.shape == (12288, 209) and X.dtype == np.float64
    np.testing.assert_array_equal(X, data.train_x_orig.reshape(209, -1).T / 255.)
    np.testing.assert_allclose(X[:5, 0] * 255, [17, 31, 56, 22, 33], rtol=1e-15)
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_load_h5_images(cat_dir):
    pytest.importorskip("h5py")
    x, y, classes = datasets.load_h5_images(cat_dir / "test_catvnoncat.h5")
    assert x.shape == (50, 64, 64, 3) and y.shape == (1, 50) and len(classes) == 2


def test_missing_directory_names_the_path(tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        datasets.load_catvnoncat(missing)


def test_directory_without_the_files(tmp_path):
    (tmp_path / "train_catvnoncat.h5").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "test_catvnoncat.h5"))):
        datasets.load_catvnoncat(tmp_path)


def test_missing_h5_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "x.h5"))):
        datasets.load_h5_images(tmp_path / "x.h5")


def test_h5_without_the_expected_datasets(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="_set_x"):
        datasets.load_h5_images(path)
