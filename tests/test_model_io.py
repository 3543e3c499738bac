"""Model files: exact round trip, refusal of pickles and wrong layouts, atomic writes."""
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SETTINGS, subprocess_env
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


# -- hostile files: refused by their listing, headers and metadata, before decompressing --
DATA = os.path.join(os.path.dirname(__file__), "data")


def test_a_file_written_by_the_first_format_still_loads():
    """tests/data/model_format1.npz was written by deepjit before the arrays were declared
    in the metadata (format deepjit-model-1)."""
    model = Model.load(os.path.join(DATA, "model_format1.npz"))
    with np.load(os.path.join(DATA, "model_format1_expected.npz")) as expected:
        for key, value in model.parameters.items():
            np.testing.assert_array_equal(value, expected[key], strict=True)
        np.testing.assert_array_equal(model.predict_proba(expected["X"]), expected["proba"])
    assert model.layer_dims == [4, 3, 1] and model.dtype == np.float32
    assert model.costs_ == [0.8186501508112997, 0.6357525832951069]


def test_the_metadata_declares_every_array(tmp_path):
    path = Model([3, 2, 1]).save(tmp_path / "m.npz")
    with np.load(path) as data:
        meta = json.loads(str(data["__meta__"]))
    assert meta["format"] == "deepjit-model-2"
    assert meta["arrays"][:2] == [{"name": "W1", "shape": [2, 3], "dtype": "float64"},
                                  {"name": "b1", "shape": [2, 1], "dtype": "float64"}]


def test_more_declared_arrays_travel_with_the_model(tmp_path):
    """Optimizer state and the like: save(path, arrays, meta) declares and load returns
    them; Model.load takes the parameters."""
    model = Model([3, 2, 1], seed=3)
    meta = {"layer_dims": model.layer_dims, "hidden_activation": ["relu"],
            "output": "sigmoid", "leaky_slope": 0.01, "dtype": "float64", "costs": []}
    extra = {"opt.m.W1": np.full((2, 3), 0.5), "opt.t": np.array(7)}
    path = model_io.save(tmp_path / "m", {**model.parameters, **extra}, meta)
    arrays, loaded_meta = model_io.load(path)
    np.testing.assert_array_equal(arrays["opt.m.W1"], extra["opt.m.W1"], strict=True)
    assert arrays["opt.t"] == 7 and loaded_meta["arrays"][-1]["name"] == "opt.t"
    np.testing.assert_array_equal(Model.load(path).parameters["W2"], model.parameters["W2"])
    with pytest.raises(ValueError, match="member names"):
        model_io.save(tmp_path / "bad", {"../W1": np.ones(1)}, meta)
    with pytest.raises(ValueError, match="arrays.*object"):
        model_io.save(tmp_path / "bad", {"W1": np.array([None])}, meta)


def add_member(path, name, nbytes_declared=None, header_shape=None, dtype="<f8",
               compress=True, payload=None):
    """Appends member ``name`` to the zip at ``path``: a .npy header for ``header_shape``
    followed by that many zero bytes (deflated: a few kB per MB), or ``payload``."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "a", compression=method) as zf:
        with zf.open(name, "w", force_zip64=True) as f:
            if header_shape is not None:
                np.lib.format.write_array_header_1_0(
                    f, {"descr": dtype, "fortran_order": False, "shape": header_shape})
                left = int(np.prod(header_shape)) * np.dtype(dtype).itemsize
                block = bytes(2 ** 22)
                while left > 0:
                    f.write(block[:left])
                    left -= len(block)
            if payload is not None:
                f.write(payload)


def members_without(path, skip):
    """The archive's members but ``skip``: {name: bytes} (small files only)."""
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n != skip}


def write_members(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize("name", ["junk.npy", "W1.npy"])
def test_a_deflated_bomb_is_refused_before_decompressing(tmp_path, name):
    """200 MB of zeros deflated to about 200 kB: refused from the listing / header alone,
    with at most a few MB allocated."""
    path = Model([12288, 20, 1]).save(tmp_path / "m.npz")
    if name == "W1.npy":
        write_members(path, members_without(path, "W1.npy"))
    add_member(path, name, header_shape=(25_000_000,))
    assert os.path.getsize(path) < 5e6
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*(wrong layout|junk)"):
            Model.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


def meta_of(path):
    with zipfile.ZipFile(path) as zf, zf.open("__meta__.npy") as f:
        return json.loads(str(np.lib.format.read_array(f)))


def with_meta(path, meta_text):
    """The model file at ``path`` with its ``__meta__`` JSON replaced by ``meta_text``."""
    members = members_without(path, "__meta__.npy")
    buffer = io.BytesIO()
    np.save(buffer, np.array(meta_text))
    members["__meta__.npy"] = buffer.getvalue()
    write_members(path, members)


def changed_meta(**changes):
    def change(meta):
        meta.update(changes)
        return json.dumps(meta)
    return change


@pytest.mark.parametrize("make_meta,why", [
    (changed_meta(costs=None), "costs"),
    (changed_meta(costs="abc"), "costs"),
    (changed_meta(costs=[1.0, True]), "costs"),
    (changed_meta(costs=[float("nan")]), "costs"),
    (changed_meta(layer_dims=[3, "5", 1]), "layer_dims"),
    (changed_meta(layer_dims=[3, 10 ** 6, 10 ** 6, 1]), "GiB|wrong layout"),
    (changed_meta(dtype=None), "dtype"),
    (changed_meta(dtype="object"), "dtype"),
    (changed_meta(arrays=[{"name": "W1"}]), "arrays"),
    (changed_meta(arrays="W1"), "arrays"),
    (lambda meta: "[" * 100_000 + "]" * 100_000, "JSON"),
    (lambda meta: '{"a": ' * 100_000 + "1" + "}" * 100_000, "JSON"),
    (lambda meta: json.dumps([meta]), "format"),
    (lambda meta: '"deepjit-model-2"', "format"),
    (lambda meta: "1" * 5000, "JSON"),                        # over int's digit limit
])
def test_bad_metadata_is_refused_naming_the_file(tmp_path, make_meta, why):
    path = Model([3, 5, 1]).save(tmp_path / "model.npz")
    with_meta(path, make_meta(meta_of(path)))
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*({why})"):
        Model.load(path)


def test_a_consistent_bomb_is_refused_by_the_memory_it_would_take(tmp_path, monkeypatch):
    """Listing, headers and metadata all agree on a 200 MB member (deflated to 200 kB):
    on a machine of 100 MB it is refused before a byte is decompressed."""
    from deepjit import validation
    path = Model([3, 5, 1]).save(tmp_path / "model.npz")
    meta = meta_of(path)
    meta["arrays"].append({"name": "opt.m.W1", "shape": [25_000_000], "dtype": "float64"})
    with_meta(path, json.dumps(meta))
    add_member(path, "opt.m.W1.npy", header_shape=(25_000_000,))
    monkeypatch.setattr(validation, "memory_limit", lambda: 100 * 2 ** 20)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="^path: the model file .* 0.186 GiB"):
            Model.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6


@pytest.mark.parametrize("member,data,why", [
    ("W1", b"not an npy", "suffix|NAME.npy"),                     # no .npy suffix
    ("W1.npy/", b"", "NAME.npy"),                                   # a directory entry
    ("extra.npy", None, "wrong layout"),                            # undeclared member
])
def test_odd_members_are_refused(tmp_path, member, data, why):
    path = Model([3, 5, 1]).save(tmp_path / "model.npz")
    members = members_without(path, "")
    members[member] = members["b1.npy"] if data is None else data
    write_members(path, members)
    with pytest.raises(ValueError, match=why):
        Model.load(path)


@pytest.mark.parametrize("descr", ["|O", "<i8", ">f8", "<c16", [("a", "<f8")]])
def test_member_dtypes_other_than_declared_are_refused(tmp_path, descr):
    path = Model([3, 5, 1]).save(tmp_path / "model.npz")
    write_members(path, members_without(path, "b2.npy"))
    itemsize = 8 if descr == "|O" else np.dtype(descr).itemsize
    add_member(path, "b2.npy", compress=False)
    members = members_without(path, "b2.npy")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False,
                                                  "shape": (1, 1)})
    members["b2.npy"] = header.getvalue() + bytes(itemsize)
    write_members(path, members)
    with pytest.raises(ValueError, match="b2"):
        Model.load(path)


def test_a_truncated_or_empty_archive_is_refused(tmp_path):
    path = Model([3, 5, 1]).save(tmp_path / "model.npz")
    data = open(path, "rb").read()
    for cut in (len(data) // 3, len(data) - 10, 22):
        (tmp_path / "cut.npz").write_bytes(data[:cut])
        with pytest.raises(ValueError, match="cut.npz"):
            Model.load(tmp_path / "cut.npz")
    write_members(tmp_path / "empty.npz", {})
    with pytest.raises(ValueError, match="no '__meta__'"):
        Model.load(tmp_path / "empty.npz")


@SETTINGS
@given(st.data())
def test_any_corruption_is_a_value_error_or_the_same_model(tmp_path_factory, data):
    """Random bytes overwritten in a model file: load refuses it with a ValueError or
    (a byte that nothing reads) loads the same parameters."""
    directory = tmp_path_factory.mktemp("corrupt")
    model = Model([3, 4, 2], seed=1)
    path = model.save(directory / "m.npz")
    raw = bytearray(open(path, "rb").read())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    open(path, "wb").write(bytes(raw))
    try:
        loaded = Model.load(path)
    except ValueError:
        return
    for key, value in model.parameters.items():
        np.testing.assert_array_equal(loaded.parameters[key], value)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=10)


@SETTINGS
@given(key=st.sampled_from(["layer_dims", "hidden_activation", "output", "leaky_slope",
                            "dtype", "costs", "arrays", "format"]), value=JSON)
def test_any_metadata_value_is_a_value_error_or_a_model(tmp_path_factory, key, value):
    path = Model([3, 4, 2], seed=1).save(tmp_path_factory.mktemp("meta") / "m.npz")
    meta = meta_of(path)
    meta[key] = value
    with_meta(path, json.dumps(meta))
    try:
        loaded = Model.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)
        return
    loaded.save(path)                                    # what loads can be saved again
    Model.load(path)


# -- files: killed writers, permissions, path types ---------------------------------------
def temporaries(directory):
    return sorted(n for n in os.listdir(directory) if model_io.TEMP_TAG in n)


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_save_removes_what_killed_writers_left(tmp_path):
    path = tmp_path / "model.npz"
    prefix = f".model.npz{model_io.TEMP_TAG}"
    dead = tmp_path / f"{prefix}{dead_pid()}-0a1b2c3d"
    alive = tmp_path / f"{prefix}{os.getppid()}-0a1b2c3d"          # a live writer's
    reused = tmp_path / f"{prefix}1-0a1b2c3d"                      # pid 1 started later
    other = tmp_path / f".other.npz{model_io.TEMP_TAG}{dead_pid()}-0a1b2c3d"
    for file in (dead, alive, reused, other):
        file.write_bytes(b"PK half")
    os.utime(reused, (0, 0))
    Model([3, 1]).save(path)
    assert temporaries(tmp_path) == sorted([alive.name, other.name])
    Model.load(tmp_path / "other.npz") if (tmp_path / "other.npz").exists() else None
    with pytest.raises(FileNotFoundError):
        Model.load(tmp_path / "other.npz")                 # load cleans up too
    assert temporaries(tmp_path) == [alive.name]


KILLED_WRITER = """
import sys, time
import numpy as np
from deepjit import Model
model = Model([2000, 1000, 1])
if sys.argv[2] == "stuck":                  # killed for sure between writing and renaming
    write = np.savez
    np.savez = lambda *a, **k: (write(*a, **k), print("written", flush=True), time.sleep(60))
print("ready", flush=True)
while True:
    model.save(sys.argv[1])
"""


def test_writers_killed_mid_save_leave_nothing_behind_after_the_next_save(tmp_path):
    """A writer stuck after writing its temporary, then writers saving a 16 MB model in a
    loop, are SIGKILLed; the next save leaves only the model."""
    path = tmp_path / "model.npz"
    left = set()
    for delay in ("stuck", 0.05, 0.15, 0.3, 0.45):
        writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), str(delay)],
                                  env=subprocess_env(), stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline() == "ready\n"
        if delay == "stuck":
            assert writer.stdout.readline() == "written\n"
        else:
            time.sleep(delay)
        writer.kill()
        writer.wait()
        writer.stdout.close()
        left.update(temporaries(tmp_path))
    assert left                                         # the stuck writer's at least
    Model([3, 1]).save(path)
    assert os.listdir(tmp_path) == ["model.npz"]
    assert Model.load(path).layer_dims == [3, 1]


def test_saving_over_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "secret.npz"
    Model([3, 1]).save(path)
    os.chmod(path, 0o600)
    Model([3, 1], seed=2).save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("kind", [str, os.fsencode, pathlib.Path,
                                  lambda p: type("P", (), {"__fspath__": lambda s: p})()])
def test_paths_of_every_kind(tmp_path, kind):
    target = str(tmp_path / "m.npz")
    written = Model([3, 2, 1], seed=5).save(kind(target))
    assert written == target
    assert Model.load(kind(target)).layer_dims == [3, 2, 1]


def test_what_is_not_a_path_is_refused_by_name(tmp_path):
    for path in (3, None, ["m.npz"]):
        with pytest.raises(ValueError, match="^path:"):
            Model([3, 1]).save(path)
        with pytest.raises(ValueError, match="^path:"):
            Model.load(path)
    Model([3, 1]).save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="^engine:"):
        Model.load(tmp_path / "m.npz", engine=["cpu"])
