"""Model files: plain ``.npz`` arrays plus JSON metadata, written atomically.

Layout: ``W1, b1, ..., WL, bL`` float arrays and ``__meta__``, a 0-d unicode array
holding JSON (``format``, ``layer_dims``, activations, ``output``, ``leaky_slope``,
``dtype``, ``costs``).  Files are read with ``allow_pickle=False``.
"""
import json
import os
import tempfile

import numpy as np

FORMAT = "deepjit-model-1"
OPTIMIZER_PREFIX = "opt."   # optimizer-state members (Model.save), e.g. "opt.v.W1"


def save(path, parameters, meta):
    """Writes to a temporary file in the target directory, then renames it over
    ``path``, so a crash never leaves a half-written model."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    directory = os.path.dirname(os.path.abspath(path))
    arrays = {k: np.asarray(v) for k, v in parameters.items()}
    arrays["__meta__"] = np.array(json.dumps({"format": FORMAT, **meta}))
    fd, tmp = tempfile.mkstemp(prefix=".deepjit-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _new_file_mode():
    """The mode ``open`` would give a new file (``mkstemp`` makes it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def load(path, with_extra=False):
    """Returns ``(parameters, meta)``, and with ``with_extra`` also the optimizer-state
    arrays (members named ``opt.<buffer>.<parameter>``, checked by the caller); a
    ValueError says why a file is refused."""
    path = os.fspath(path)
    if not _is_zip(path):
        raise ValueError(f"{path}: refused, not a .npz archive; deepjit model files are "
                         ".npz files written by Model.save")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:
        raise ValueError(f"{path}: refused, it holds pickled Python objects; deepjit model "
                         f"files hold only plain arrays ({exc})") from None
    except Exception as exc:
        raise ValueError(f"{path}: not a readable .npz model file ({exc})") from None
    meta = _read_meta(path, arrays.pop("__meta__", None))
    extra = {k: arrays.pop(k) for k in list(arrays) if k.startswith(OPTIMIZER_PREFIX)}
    parameters = _check_parameters(path, arrays, meta)
    return (parameters, meta, extra) if with_extra else (parameters, meta)


def _is_zip(path):
    """True for a zip archive (what .npz files are); FileNotFoundError when missing."""
    with open(path, "rb") as f:
        return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")   # entries / empty


def _read_meta(path, raw):
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise ValueError(f"{path}: not a deepjit model file (no '__meta__' JSON entry)")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: the '__meta__' entry is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown model format; expected {FORMAT!r}")
    if not isinstance(meta.get("layer_dims"), list):
        raise ValueError(f"{path}: the metadata has no 'layer_dims' list")
    return meta


def _check_parameters(path, arrays, meta):
    dims = meta["layer_dims"]
    expected = {}
    for l in range(1, len(dims)):
        expected[f"W{l}"], expected[f"b{l}"] = (dims[l], dims[l - 1]), (dims[l], 1)
    if set(arrays) != set(expected):
        raise ValueError(f"{path}: wrong layout: expected arrays {sorted(expected)}, found "
                         f"{sorted(arrays)}")
    for key, shape in expected.items():
        a = arrays[key]
        if a.shape != shape or a.dtype.kind != "f":
            raise ValueError(f"{path}: wrong layout: {key} should be a float array of shape "
                             f"{shape}, found {a.dtype} {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{path}: {key} contains NaN or infinite values")
    return {key: arrays[key] for key in expected}
