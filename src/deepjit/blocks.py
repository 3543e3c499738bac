"""Data read in blocks of examples: arrays on disk (``numpy.memmap``, h5py datasets,
zarr arrays: anything with ``shape``, ``dtype`` and slicing) and data laid out one
example per row, so that ``fit`` and ``predict`` never hold more than a block of X.

``layout="columns"`` is the course's ``X : (n_x, m)``, ``Y : (n_L, m)``;
``layout="rows"`` is the usual file layout ``X : (m, n_x)``, ``Y : (m, n_L)`` or
``(m,)``.  Each block comes out as contiguous ``(n_x, b)`` and ``(n_L, b)`` arrays of
the model's dtype, or for rows the transposed view of the block read (Fortran-ordered:
the compiled gradient copies each chunk of 256 examples into its own buffer anyway), so
there is never a transposed copy of X.  X's values are checked (finite numbers) in one
pass before training, not on every later read; the targets on every read (they are
n_L values per example, against X's n_x).
"""
import concurrent.futures

import numpy as np

from .validation import as_matrix, check_labels

LAYOUTS = ("columns", "rows")
BLOCK_BYTES = 16 * 2**20      # X bytes per block read from disk (two are in flight)


def on_disk(array):
    """Whether ``array`` is read in blocks rather than loaded: a memmap, or an array-like
    that is not a numpy array (an h5py or zarr dataset)."""
    return isinstance(array, np.memmap) or (
        not isinstance(array, np.ndarray) and all(
            hasattr(array, a) for a in ("shape", "dtype", "__getitem__")))


def needs_blocks(X, Y=None, layout="columns"):
    return layout == "rows" or on_disk(X) or (Y is not None and on_disk(Y))


def _shape2(name, array):
    shape = tuple(int(n) for n in np.shape(array))
    if len(shape) != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {shape}")
    return shape


class Blocks:
    """X (and Y, when given) as blocks of ``block`` examples: ``read(j0, j1)`` returns
    the checked ``(Xb, Yb)`` of examples j0..j1-1, ``__iter__`` all blocks in order, the
    next one read on a second thread (into the other of two buffers, so memory stays
    bounded) while the caller works on the current one; a block is valid until the
    next one is asked for."""

    def __init__(self, X, Y, net, dtype, layout="columns", block=None):
        self.X, self.Y, self.net, self.dtype, self.rows = X, Y, net, dtype, layout == "rows"
        n_x = net.layer_dims[0]
        shape = _shape2("X", X)
        self.m = shape[0] if self.rows else shape[1]
        dtype_x = np.dtype(X.dtype) if hasattr(X, "dtype") else np.asarray(X).dtype
        if not (np.issubdtype(dtype_x, np.number) or dtype_x == np.bool_) \
                or np.issubdtype(dtype_x, np.complexfloating) or self.m == 0:
            raise ValueError(f"X: expected a non-empty array of real numbers, got dtype "
                             f"{dtype_x} and shape {shape}")
        if (shape[1] if self.rows else shape[0]) != n_x:
            where = "columns (one per feature, examples as rows)" if self.rows else \
                "rows (one per feature, examples as columns)"
            raise ValueError(f"X: expected {n_x} {where} for layout={layout!r}, got shape "
                             f"{shape}")
        if Y is not None:
            m_y = int(np.shape(Y)[0] if self.rows else _shape2("Y", Y)[1])
            if m_y != self.m:
                raise ValueError(f"Y: expected {self.m} examples (one per example of X, "
                                 f"layout={layout!r}), got shape {np.shape(Y)}")
        whole = not (self.rows or on_disk(X) or (Y is not None and on_disk(Y)))
        self.block = self.m if whole else min(self.m, int(block or max(
            256, BLOCK_BYTES // (n_x * np.dtype(dtype).itemsize) // 256 * 256)))
        self.checked = False
        self._whole = self.read(0, self.m) if whole else None
        self.checked = whole

    @property
    def in_memory(self):
        """Whether all examples are one block already in memory (nothing read later)."""
        return self._whole is not None

    def ranges(self):
        return [(j, min(j + self.block, self.m)) for j in range(0, self.m, self.block)]

    def read(self, j0, j1, buffer=None):
        """Examples j0..j1-1, X read into ``buffer`` (flat, of the model's dtype) if given."""
        where = np.s_[j0:j1] if self.rows else np.s_[:, j0:j1]
        if buffer is None:
            raw = np.asarray(self.X[where])
        else:
            n_x, b = self.net.layer_dims[0], j1 - j0
            raw = buffer[:n_x * b].reshape((b, n_x) if self.rows else (n_x, b))
            if hasattr(self.X, "read_direct"):          # h5py: straight into the buffer
                self.X.read_direct(raw, source_sel=where)
            else:
                raw[...] = self.X[where]
        Xb = raw.T if self.rows else raw
        if self.checked:
            Xb = Xb.astype(self.dtype, copy=False)
        else:
            Xb = as_matrix("X", Xb, rows=self.net.layer_dims[0], dtype=self.dtype)
        if not (Xb.flags.c_contiguous or Xb.flags.f_contiguous):
            Xb = np.ascontiguousarray(Xb)
        if self.Y is None:
            return Xb, None
        Yb = np.asarray(self.Y[j0:j1] if self.rows else self.Y[:, j0:j1])
        if self.rows:
            Yb = Yb.reshape(1, -1) if Yb.ndim == 1 else Yb.T
        Yb = check_labels(Yb, self.net.output, self.net.layer_dims[-1], self.dtype)
        return Xb, np.ascontiguousarray(Yb)

    def __iter__(self):
        if self.in_memory:
            yield self._whole
            return
        ranges = self.ranges()
        buffers = [np.empty(self.net.layer_dims[0] * self.block, self.dtype) for _ in "ab"]
        with concurrent.futures.ThreadPoolExecutor(1) as reader:
            coming = reader.submit(self.read, *ranges[0], buffers[0])
            for k in range(len(ranges)):
                current = coming.result()
                if k + 1 < len(ranges):
                    coming = reader.submit(self.read, *ranges[k + 1], buffers[(k + 1) % 2])
                yield current

    def check(self):
        """Reads every block once, so that bad values are a ValueError before training
        (the in-memory whole block is checked when it is made)."""
        if not self.in_memory:
            for _ in self:
                pass
            self.checked = True


def predict_proba(parameters, X, net, dtype, engine, layout="columns"):
    """The output activations ``(n_L, m)`` of X read block by block."""
    blocks = Blocks(X, None, net, dtype, layout)
    out = np.empty((net.layer_dims[-1], blocks.m), dtype)
    for (j0, j1), (Xb, _) in zip(blocks.ranges(), blocks):
        out[:, j0:j1] = engine.predict_proba(parameters, Xb, net)
    return out
