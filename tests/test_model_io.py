"""Model files: exact round trip, refusal of pickles and wrong layouts, atomic writes."""
import json
import os

import numpy as np
import pytest

from deepjit import Model, model_io

rng = np.random.default_rng(7)
X = rng.standard_normal((4, 12))
LABELS = rng.integers(0, 3, (1, 12))


@pytest.fixture
def trained():
    """A float32 softmax model with mixed hidden activations and a custom slope."""
    model = Model([4, 5, 3, 3], ["leaky_relu", "tanh"], "softmax", init="he", seed=2,
                  dtype="float32", leaky_slope=0.2)
    return model.fit(X, LABELS, learning_rate=0.1, num_iterations=30, record_every=10)


def test_round_trip(tmp_path, trained):
    path = trained.save(tmp_path / "model.npz")
    assert path == str(tmp_path / "model.npz")
    loaded = Model.load(path)
    assert loaded.layer_dims == [4, 5, 3, 3]
    assert loaded.net.hidden == ("leaky_relu", "tanh") and loaded.net.output == "softmax"
    assert loaded.net.slope == 0.2 and loaded.dtype == np.float32
    assert loaded.costs_ == pytest.approx(trained.costs_, rel=0) and len(loaded.costs_) == 3
    for key, value in trained.parameters.items():
        assert loaded.parameters[key].dtype == np.float32
        np.testing.assert_array_equal(loaded.parameters[key], value, strict=True)
    np.testing.assert_array_equal(loaded.predict_proba(X), trained.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))


def test_metadata_is_plain_json(tmp_path, trained):
    path = trained.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        assert sorted(data.files) == ["W1", "W2", "W3", "__meta__", "b1", "b2", "b3"]
    assert meta["format"] == model_io.FORMAT
    assert meta["hidden_activation"] == ["leaky_relu", "tanh"]
    assert meta["layer_dims"] == [4, 5, 3, 3] and meta["dtype"] == "float32"
    assert meta["leaky_slope"] == 0.2 and meta["output"] == "softmax"


def test_suffix_is_added_and_engine_chosen(tmp_path):
    model = Model([3, 2, 1], seed=4)
    path = model.save(tmp_path / "plain")
    assert path.endswith("plain.npz") and os.path.isfile(path)
    loaded = Model.load(path, engine="numpy")
    assert loaded.engine == "numpy" and loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded.parameters["W1"], model.parameters["W1"])


def test_saved_file_has_the_usual_permissions(tmp_path):
    path = Model([3, 1]).save(tmp_path / "model.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask     # not mkstemp's 0600


def test_a_pickled_file_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, W1=np.array([object(), 1], dtype=object), b1=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="pickle"):
        Model.load(path)


@pytest.mark.parametrize("arrays,why", [
    (dict(W1=np.ones((2, 3))), "not a deepjit model file"),                       # no meta
    (dict(W1=np.ones((2, 3)), __meta__=np.array("{not json")), "JSON"),
    (dict(W1=np.ones((2, 3)), __meta__=np.array(json.dumps({"format": "other"}))), "format"),
])
def test_files_that_are_not_models(tmp_path, arrays, why):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=why):
        Model.load(path)


def rewrite(path, **changes):
    """The model file at ``path`` with some arrays replaced (None removes one)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)


@pytest.mark.parametrize("changes,why", [
    (dict(W2=None), "wrong layout"),                                   # missing array
    (dict(W9=np.ones((1, 1))), "wrong layout"),                        # extra array
    (dict(W1=np.ones((3, 5))), "wrong layout.*W1"),                    # transposed W1
    (dict(b2=np.ones(1)), "wrong layout.*b2"),                         # rank-1 bias
    (dict(W1=np.ones((5, 3), dtype=np.int64)), "wrong layout.*W1"),    # not floats
    (dict(W2=np.full((1, 5), np.nan)), "NaN"),
])
def test_wrong_layout_is_refused(tmp_path, changes, why):
    path = Model([3, 5, 1]).save(tmp_path / "model.npz")
    rewrite(path, **changes)
    with pytest.raises(ValueError, match=why):
        Model.load(path)


def test_bad_metadata_values_are_refused(tmp_path):
    path = Model([3, 5, 1]).save(tmp_path / "model.npz")
    with np.load(path) as data:
        meta = json.loads(str(data["__meta__"]))
    meta["hidden_activation"] = ["swish"]
    rewrite(path, __meta__=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match="invalid model metadata.*hidden_activation"):
        Model.load(path)


def test_a_file_that_is_not_a_zip_archive_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    np.save(tmp_path / "pickled.npy", np.array([{"W1": 1}], dtype=object), allow_pickle=True)
    os.replace(tmp_path / "pickled.npy", path)
    with pytest.raises(ValueError, match="refused"):
        Model.load(path)


def test_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(ValueError, match=str(garbage)):
        Model.load(garbage)
    with pytest.raises(FileNotFoundError):
        Model.load(tmp_path / "missing.npz")


def test_saving_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = Model([3, 4, 1], seed=1)
    old.save(path)
    original_bytes = path.read_bytes()

    def crash_mid_write(file, **arrays):
        file.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        Model([3, 4, 1], seed=2).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]         # no temporary file left behind
    assert path.read_bytes() == original_bytes
    np.testing.assert_array_equal(Model.load(path).parameters["W1"], old.parameters["W1"])


def test_interrupted_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(file, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Model([3, 1]).save(tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []
