"""Data loaders: the flower drawn as the course draws it, and the real cat images."""
import csv
import io
import os
import re
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SETTINGS
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


# -- data files: .npz, .csv, .h5 (the command line's --data) --------------------------------
def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_npz_is_read_in_the_course_orientation(tmp_path):
    X, Y = np.arange(14.0).reshape(2, 7), np.arange(7) % 2
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    data = datasets.load_data_file(tmp_path / "d.npz")
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.Y, Y.reshape(1, 7))
    assert data.images is None and datasets.load_npz(tmp_path / "d.npz").X.shape == (2, 7)


def test_csv_rows_are_examples_and_the_label_column_is_removed(tmp_path):
    write_csv(tmp_path / "d.csv", ["a", "y", "b"], [[1, 0, 2], [3, 1, 4], [5, 1, 6]])
    X, Y, _ = datasets.load_data_file(tmp_path / "d.csv")
    np.testing.assert_array_equal(X, [[1, 3, 5], [2, 4, 6]])
    np.testing.assert_array_equal(Y, [[0, 1, 1]])
    X, Y, _ = datasets.load_csv(tmp_path / "d.csv", label_column="a")
    np.testing.assert_array_equal(X, [[0, 1, 1], [2, 4, 6]])
    np.testing.assert_array_equal(Y, [[1, 3, 5]])


@pytest.mark.parametrize("content, message", [
    ("a,label\n1,x\n", "must be a number"),
    ("a,label\n1,0,3\n", "every row must have 2 values"),
    ("a,label\n", "at least one example"),
    ("a,label\n1," + "9" * 131_073 + "\n", "not a readable CSV"),      # csv's field limit
])
def test_bad_csv_is_a_value_error(tmp_path, content, message):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        datasets.load_data_file(tmp_path / "d.csv")


def test_a_csv_that_is_not_text_is_a_value_error(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"a,label\n\xff\xfe,1\n")
    with pytest.raises(ValueError, match="d.csv"):
        datasets.load_csv(tmp_path / "d.csv")


def hostile_npz(tmp_path):
    """{name: (path, expected message)} for .npz files that must be refused."""
    files = {}
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    files["empty"] = "expected an array 'X'"
    np.save(tmp_path / "array.npy", np.ones((2, 3)))
    os.replace(tmp_path / "array.npy", tmp_path / "renamed.npz")
    files["renamed"] = "not a .npz archive"
    np.savez(tmp_path / "whole.npz", X=np.ones((2, 300)), Y=np.ones(300))
    (tmp_path / "truncated.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:3000])
    files["truncated"] = "truncated|not a readable|damaged|header"
    np.savez(tmp_path / "pickled.npz", X=np.array([[{"a": 1}]], dtype=object))
    files["pickled"] = "pickled"
    np.savez(tmp_path / "strings.npz", X=np.array([["a", "b"]]))
    files["strings"] = "real numbers"
    np.savez(tmp_path / "complex.npz", X=np.ones((2, 2), dtype=complex))
    files["complex"] = "real numbers"
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (10 ** 7, 10 ** 7)})
        zf.writestr("X.npy", header.getvalue() + bytes(1000))
    files["bomb"] = "does not match its size|GiB"
    return {name: (tmp_path / f"{name}.npz", message) for name, message in files.items()}


def test_hostile_npz_files_are_value_errors_naming_the_file(tmp_path):
    for name, (path, message) in hostile_npz(tmp_path).items():
        with pytest.raises(ValueError, match=f"{name}.npz.*({message})"):
            datasets.load_data_file(path)


def write_h5(path, x, y, **extra):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        for name, value in (("train_set_x", x), ("train_set_y", y)):
            if isinstance(value, str):
                f.create_group(name)
            else:
                f.create_dataset(name, data=value)


def test_h5_image_sets_must_be_numbers(tmp_path):
    images = np.zeros((3, 2, 2, 3), dtype=np.uint8)
    write_h5(tmp_path / "ok.h5", images, np.array([0, 1, 1]))
    data = datasets.load_data_file(tmp_path / "ok.h5")
    assert data.X.shape == (12, 3) and data.images.shape == (2, 2, 3)
    for name, x, y, why in [("group", "group", np.array([0, 1, 1]), "Group"),
                            ("strings", np.array([b"ab", b"cd", b"ef"]), np.array([0, 1, 1]),
                             "numbers"),
                            ("labels", images, np.array([b"a", b"b", b"c"]), "numbers"),
                            ("count", images, np.array([0, 1]), "m labels")]:
        write_h5(tmp_path / f"{name}.h5", x, y)
        with pytest.raises(ValueError, match=f"{name}.h5.*{why}"):
            datasets.load_data_file(tmp_path / f"{name}.h5")
    (tmp_path / "garbage.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="garbage.h5"):
        datasets.load_data_file(tmp_path / "garbage.h5")


@SETTINGS
@given(st.data())
def test_any_corrupted_npz_is_data_or_a_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("npz") / "d.npz"
    np.savez(path, X=np.arange(12.0).reshape(3, 4), Y=np.array([0, 1, 1, 0]))
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw[:data.draw(st.integers(0, len(raw)))]))
    try:
        X, Y, _ = datasets.load_data_file(path)
    except ValueError:
        return
    assert X.shape == (3, 4)
