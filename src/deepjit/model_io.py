"""Model files: plain ``.npz`` arrays plus JSON metadata, written atomically, checked
before anything is decompressed.

Layout (format ``deepjit-model-2``): one ``NAME.npy`` member per array and
``__meta__.npy``, a 0-d unicode array holding JSON: ``format``, ``layer_dims``,
activations, ``output``, ``leaky_slope``, ``dtype``, ``costs``, and ``arrays``, which
declares every array member as ``{"name", "shape", "dtype"}``.  ``save(path, arrays,
meta)`` writes and declares whatever ``arrays`` holds (``W1, b1, ...`` and, for
example, optimizer state ``opt.m.W1``); ``load`` returns every declared array.
Files of format ``deepjit-model-1`` (no ``arrays`` list: the parameters follow from
``layer_dims`` and ``dtype``) still load.

``load`` reads the zip listing and each member's ``.npy`` header (shape, dtype) and
checks them against the metadata and against the memory the machine has before it
decompresses any data; object arrays are never read (``allow_pickle=False``).

Writing goes to ``.NAME.deepjit-tmp-PID-RANDOM`` beside the target, then a rename.
A writer killed mid-save leaves that file behind; the next ``save`` or ``load`` of the
same target removes it once process PID is gone (or started after the file was last
written, so the number was reused).
"""
import glob
import json
import math
import os
import re
import zipfile

import numpy as np

from .validation import check_memory

FORMAT = "deepjit-model-2"
FORMATS = ("deepjit-model-1", FORMAT)
META = "__meta__"
ARRAY_DTYPES = ("float64", "float32", "int64")     # what a member may hold
MAX_META_BYTES = 64 * 2 ** 20                       # the JSON, as UTF-32 in the .npy
MAX_MEMBERS = 4096
MAX_HEADER_BYTES = 65536                            # numpy's own limit for a .npy header
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,127}\Z")
TEMP_TAG = ".deepjit-tmp-"
OPTIMIZER_PREFIX = "opt."                           # optimizer-state members, e.g. "opt.v.W1"


# -- writing --------------------------------------------------------------------------------
def save(path, arrays, meta):
    """Writes ``arrays`` (name -> array; names like ``W1`` or ``opt.m.W1``) and ``meta``
    (JSON-able) to ``path`` (``.npz`` added when missing; str, bytes or os.PathLike),
    declaring each array in ``meta["arrays"]``.  Atomic: a temporary file beside the
    target is renamed over it.  An existing target keeps its permission bits.  Returns
    the path written (str)."""
    path = _target(path)
    arrays = {name: _member_array(name, value) for name, value in arrays.items()}
    declared = [{"name": k, "shape": list(v.shape), "dtype": v.dtype.name}
                for k, v in arrays.items()]
    members = {**arrays, META: np.array(json.dumps({**meta, "format": FORMAT,
                                                    "arrays": declared}))}
    remove_stale_temporaries(path)
    tmp = f"{_temp_prefix(path)}{os.getpid()}-{os.urandom(4).hex()}"
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **members)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def as_path(path):
    """``path`` (str, bytes or os.PathLike) as a str; anything else is a ValueError."""
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise ValueError(f"path: expected a str, bytes or os.PathLike file path, got "
                         f"{path!r}") from None


def _target(path):
    path = as_path(path)
    return path if path.endswith(".npz") else path + ".npz"


def _member_array(name, value):
    if not isinstance(name, str) or not NAME.match(name) or name == META:
        raise ValueError(f"arrays: member names must match {NAME.pattern} (and not be "
                         f"{META!r}), got {name!r}")
    array = np.asarray(value)
    if array.dtype.name not in ARRAY_DTYPES:
        raise ValueError(f"arrays[{name!r}]: expected one of {list(ARRAY_DTYPES)}, got "
                         f"{array.dtype}")
    return array


def _mode_for(path):
    """The target's permission bits when it exists, else what ``open`` would give a new
    file under the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _temp_prefix(path):
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}{TEMP_TAG}")


def remove_stale_temporaries(path):
    """Removes temporary files that killed writers left beside ``path``; returns their
    paths.  A temporary is stale when its writer (the PID in its name) is gone, or is a
    newer process that reused the number."""
    prefix = _temp_prefix(_target(path))
    removed = []
    for tmp in glob.glob(glob.escape(prefix) + "*"):
        match = re.match(r"(\d+)-[0-9a-f]+\Z", tmp[len(prefix):])
        if match and _writer_is_gone(int(match.group(1)), tmp):
            try:
                os.remove(tmp)
                removed.append(tmp)
            except FileNotFoundError:               # another process removed it first
                pass
    return removed


def _writer_is_gone(pid, tmp):
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):              # alive, someone else's
        pass
    started = _process_start_time(pid)
    try:
        return started is not None and os.stat(tmp).st_mtime < started
    except FileNotFoundError:
        return False


def _process_start_time(pid):
    """Unix time at which process ``pid`` started (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


# -- reading --------------------------------------------------------------------------------
def load(path):
    """Returns ``(arrays, meta)``: every declared array (at least ``W1, b1, ...`` as
    ``layer_dims`` and ``dtype`` say) and the metadata.  A ValueError names the file and
    what is wrong; a missing file raises FileNotFoundError."""
    path = as_path(path)
    remove_stale_temporaries(path)
    with NpzReader(path) as npz:
        for name in npz.members:                    # headers only: no object arrays
            npz.header(name)
        meta = _read_meta(npz)
        declared = _declarations(path, meta)
        _check_listing(npz, declared)
        shapes_dtypes = {d["name"]: (tuple(d["shape"]), np.dtype(d["dtype"])) for d in declared}
        check_memory("path", sum(math.prod(s) * t.itemsize for s, t in shapes_dtypes.values()),
                     f"the model file {path}")
        for name, (shape, dtype) in shapes_dtypes.items():
            npz.check_header(name, shape, dtype)
        arrays = {name: npz.read(name, shape, dtype)
                  for name, (shape, dtype) in shapes_dtypes.items()}
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: {name} contains NaN or infinite values")
    return arrays, meta


def parameter_names(layer_dims):
    return [f"{kind}{l}" for l in range(1, len(layer_dims)) for kind in ("W", "b")]


class NpzReader:
    """An ``.npz`` archive read member by member: the listing, then each ``.npy`` header
    (shape, dtype) without touching the data, then the data of exactly that size.
    Every problem is a ValueError naming the file."""

    def __init__(self, path):
        self.path = os.fsdecode(os.fspath(path))
        with open(self.path, "rb") as f:            # FileNotFoundError when missing
            magic = f.read(4)
        if magic not in (b"PK\x03\x04", b"PK\x05\x06"):      # entries / empty archive
            self.fail("not a .npz archive (a zip file of .npy arrays)")
        try:
            self.zip = zipfile.ZipFile(self.path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            self.fail(f"not a readable .npz archive ({exc})")
        if len(infos) > MAX_MEMBERS:
            self.close()
            self.fail(f"{len(infos)} members, more than {MAX_MEMBERS}")
        self.members = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.filename[:-4] in self.members:
                self.close()
                self.fail(f"member {info.filename!r} is not a unique NAME.npy array")
            self.members[info.filename[:-4]] = info

    def fail(self, why):
        raise ValueError(f"{self.path}: refused, {why}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if hasattr(self, "zip"):
            self.zip.close()

    def header(self, name):
        """``(shape, dtype)`` from member ``name``'s .npy header; refuses object,
        structured and Fortran-ordered arrays and a size that disagrees with the zip
        listing."""
        if name not in self.members:
            self.fail(f"no array {name!r}")
        with self._open(name) as f:
            shape, dtype, _ = self._read_header(name, f)
        return shape, dtype

    def check_header(self, name, shape, dtype):
        found = self.header(name)
        if found != (shape, dtype):
            self.fail(f"wrong layout: {name} should be {dtype} of shape {shape}, the file "
                      f"holds {found[1]} of shape {found[0]}")

    def read(self, name, shape=None, dtype=None):
        """Member ``name`` as an array (its header checked against ``shape`` and
        ``dtype`` when given)."""
        with self._open(name) as f:
            found_shape, found_dtype, fortran = self._read_header(name, f)
            if shape is not None and (found_shape, found_dtype) != (shape, dtype):
                self.fail(f"wrong layout: {name} should be {dtype} of shape {shape}")
            nbytes = math.prod(found_shape) * found_dtype.itemsize
            try:
                data = f.read(nbytes)
                f.read()                            # to the end: zipfile checks the CRC
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                self.fail(f"member {name!r} is damaged ({exc})")
        if len(data) != nbytes:
            self.fail(f"member {name!r} is truncated")
        return np.frombuffer(data, found_dtype).reshape(
            found_shape, order="F" if fortran else "C").copy()

    def _open(self, name):
        try:
            return self.zip.open(self.members[name])
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            self.fail(f"member {name!r} cannot be read ({exc})")

    def _read_header(self, name, f):
        fmt = np.lib.format
        try:
            version = fmt.read_magic(f)
            read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
            if version not in read:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = read[version](f, max_header_size=MAX_HEADER_BYTES)
        except (ValueError, SyntaxError, TypeError, OverflowError, EOFError, OSError,
                zipfile.BadZipFile) as exc:
            self.fail(f"member {name!r} has no valid .npy header ({_one_line(exc)})")
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
                or dtype.kind not in "biufcU":
            self.fail(f"member {name!r} holds {dtype} values; only plain numbers are read "
                      "(no pickled Python objects)")
        if f.tell() + math.prod(shape) * dtype.itemsize != self.members[name].file_size:
            self.fail(f"member {name!r} declares shape {shape} of {dtype}, which does not "
                      "match its size in the archive")
        return shape, dtype, fortran


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_meta(npz):
    if META not in npz.members:
        npz.fail(f"not a deepjit model file (no {META!r} JSON entry)")
    if npz.members[META].file_size > MAX_META_BYTES:
        npz.fail(f"the {META!r} entry is larger than {MAX_META_BYTES} bytes")
    raw = npz.read(META)
    if raw.dtype.kind != "U" or raw.ndim != 0:
        npz.fail(f"not a deepjit model file (no {META!r} JSON entry)")
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError) as exc:     # JSONDecodeError, huge ints, nesting
        npz.fail(f"the {META!r} entry is not valid JSON ({_one_line(exc)[:200]})")
    if not isinstance(meta, dict) or meta.get("format") not in FORMATS:
        npz.fail(f"unknown model format; expected one of {list(FORMATS)}")
    _check_meta_values(npz, meta)
    return meta


def _is_int(value, low=0):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_meta_values(npz, meta):
    dims, costs = meta.get("layer_dims"), meta.get("costs", [])
    if not (isinstance(dims, list) and len(dims) >= 2 and all(_is_int(n, 1) for n in dims)):
        npz.fail(f"the metadata's 'layer_dims' must be a list of positive integers, got "
                 f"{str(dims)[:100]}")
    if meta.get("dtype") not in ("float64", "float32"):
        npz.fail(f"the metadata's 'dtype' must be 'float64' or 'float32', got "
                 f"{str(meta.get('dtype'))[:100]}")
    if not (isinstance(costs, list) and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
            for c in costs)):
        npz.fail(f"the metadata's 'costs' must be a list of finite numbers, got "
                 f"{str(costs)[:100]}")


def _declarations(path, meta):
    """The array members the metadata declares (format 2), or the parameters that
    ``layer_dims`` and ``dtype`` imply (format 1); the parameters must be among them
    with the shapes and dtype the metadata gives."""
    dims, dtype = meta["layer_dims"], meta["dtype"]
    expected = {}
    for l in range(1, len(dims)):
        expected[f"W{l}"], expected[f"b{l}"] = [dims[l], dims[l - 1]], [dims[l], 1]
    if meta["format"] == "deepjit-model-1":
        return [{"name": k, "shape": s, "dtype": dtype} for k, s in expected.items()]
    declared = meta.get("arrays")
    if not (isinstance(declared, list) and all(_is_declaration(d) for d in declared)):
        raise ValueError(f"{path}: refused, the metadata's 'arrays' must list "
                         "{'name', 'shape', 'dtype'} for every array member")
    names = [d["name"] for d in declared]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: refused, the metadata declares an array twice")
    by_name = {d["name"]: d for d in declared}
    for name, shape in expected.items():
        d = by_name.get(name)
        if d is None or d["shape"] != shape or d["dtype"] != dtype:
            raise ValueError(f"{path}: wrong layout: {name} should be a {dtype} array of "
                             f"shape {tuple(shape)} (layer_dims {dims}), the metadata "
                             f"declares {d}")
    return declared


def _is_declaration(d):
    return (isinstance(d, dict) and set(d) == {"name", "shape", "dtype"}
            and isinstance(d["name"], str) and bool(NAME.match(d["name"]))
            and d["name"] != META and d["dtype"] in ARRAY_DTYPES
            and isinstance(d["shape"], list) and len(d["shape"]) <= 8
            and all(_is_int(n) for n in d["shape"]))


def _check_listing(npz, declared):
    names = {d["name"] for d in declared} | {META}
    if set(npz.members) != names:
        npz.fail(f"wrong layout: the archive holds {sorted(npz.members)[:20]}, the "
                 f"metadata declares {sorted(names)[:20]}")
