"""Philox4x64-10, the counter-based generator behind numpy's ``np.random.Philox``, written
once for Numba (``philox``) and once in plain numpy (``philox_numpy``), and the dropout
keep-decisions drawn from it.

A counter-based generator maps ``(counter, key)`` to random bits with no state, so a
dropout mask can be drawn for any (step, layer, example, unit) in any order, on any
thread, and come out the same in the numpy oracle and the compiled engines.  Both
versions are tested against numpy's own ``Philox`` (which returns
``philox(counter + 1, key)`` as its next four raw 64-bit words).

Dropout: the key is ``(seed, 0)`` and the counter ``(unit_block, example, layer, step)``;
one call gives four 64-bit words, i.e. eight 32-bit numbers, for the eight units
``8 * unit_block .. 8 * unit_block + 7``: unit ``u`` uses the low half of word
``(u % 8) // 2`` when ``u`` is even and the high half when odd.  A unit is kept when its
32-bit number is below ``keep_threshold(keep_prob) = floor(keep_prob * 2**32)``
(``keep_prob = 1`` keeps every unit), an integer comparison that both versions make alike.
"""
import numpy as np
from numba import njit

M0, M1 = np.uint64(0xD2E7470EE14C6C93), np.uint64(0xCA5A826395121157)
W0, W1 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBB67AE8584CAA73B)
ROUNDS = 10
UNITS_PER_BLOCK = 8
_LOW32, _SHIFT32 = np.uint64(0xFFFFFFFF), np.uint64(32)


def keep_threshold(keep_prob):
    """The 32-bit threshold below which a unit is kept (``2**32`` keeps all)."""
    return np.uint64(min(int(np.floor(float(keep_prob) * 2.0 ** 32)), 2 ** 32))


# -- compiled ---------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _mulhilo(a, b):
    """The high and low 64-bit halves of the 128-bit product ``a * b`` (uint64)."""
    a_lo, a_hi = a & _LOW32, a >> _SHIFT32
    b_lo, b_hi = b & _LOW32, b >> _SHIFT32
    lo_lo, hi_lo = a_lo * b_lo, a_hi * b_lo
    lo_hi, hi_hi = a_lo * b_hi, a_hi * b_hi
    cross = (lo_lo >> _SHIFT32) + (hi_lo & _LOW32) + lo_hi
    hi = hi_hi + (hi_lo >> _SHIFT32) + (cross >> _SHIFT32)
    return hi, a * b


@njit(cache=True)
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x64-10 of the counter ``(c0, c1, c2, c3)`` under the key ``(k0, k1)``
    (all uint64); returns four uint64 words."""
    for r in range(ROUNDS):
        if r > 0:
            k0, k1 = k0 + W0, k1 + W1
        hi0, lo0 = _mulhilo(M0, c0)
        hi1, lo1 = _mulhilo(M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


@njit(cache=True)
def fill_keep_mask(mask, seed, step, layer, examples, threshold):
    """``mask[j, u] = 1`` when unit ``u`` of the example with index ``examples[j]`` is kept
    at ``(step, layer)``, else 0.  ``mask : (batch, units)`` uint8."""
    n_units = mask.shape[1]
    key, zero = np.uint64(seed), np.uint64(0)
    s, lay = np.uint64(step), np.uint64(layer)
    for j in range(mask.shape[0]):
        e = np.uint64(examples[j])
        for block in range((n_units + UNITS_PER_BLOCK - 1) // UNITS_PER_BLOCK):
            words = philox(np.uint64(block), e, lay, s, key, zero)
            base = block * UNITS_PER_BLOCK
            for w in range(4):
                for half in range(2):
                    u = base + 2 * w + half
                    if u < n_units:
                        bits = (words[w] >> _SHIFT32) if half else (words[w] & _LOW32)
                        mask[j, u] = 1 if bits < threshold else 0


# -- numpy twin -------------------------------------------------------------------------
def _mulhilo_numpy(a, b):
    a_lo, a_hi = a & _LOW32, a >> _SHIFT32
    b_lo, b_hi = b & _LOW32, b >> _SHIFT32
    lo_lo, hi_lo = a_lo * b_lo, a_hi * b_lo
    lo_hi, hi_hi = a_lo * b_hi, a_hi * b_hi
    cross = (lo_lo >> _SHIFT32) + (hi_lo & _LOW32) + lo_hi
    return hi_hi + (hi_lo >> _SHIFT32) + (cross >> _SHIFT32), a * b


def philox_numpy(counter, key):
    """Philox4x64-10 on arrays: ``counter`` is ``(4, ...)`` and ``key`` ``(2, ...)``,
    uint64 (broadcast); returns the ``(4, ...)`` output words."""
    c = [np.asarray(x, dtype=np.uint64) for x in counter]
    k0, k1 = (np.asarray(x, dtype=np.uint64) for x in key)
    with np.errstate(over="ignore"):
        for r in range(ROUNDS):
            if r > 0:
                k0, k1 = k0 + W0, k1 + W1
            hi0, lo0 = _mulhilo_numpy(M0, c[0])
            hi1, lo1 = _mulhilo_numpy(M1, c[2])
            c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
    return np.stack(np.broadcast_arrays(*c))


def keep_mask_numpy(seed, step, layer, examples, n_units, keep_prob):
    """The keep decisions as a ``(n_units, batch)`` boolean array (unit-major, as the
    oracle's activations): the same bits as :func:`fill_keep_mask`."""
    examples = np.asarray(examples, dtype=np.uint64)
    n_blocks = -(-n_units // UNITS_PER_BLOCK)
    blocks = np.arange(n_blocks, dtype=np.uint64)[:, None]
    words = philox_numpy((blocks, examples[None, :], np.uint64(layer), np.uint64(step)),
                         (np.uint64(seed), np.uint64(0)))           # (4, blocks, batch)
    halves = np.stack([words & _LOW32, words >> _SHIFT32], axis=1)  # (4, 2, blocks, batch)
    bits = halves.transpose(2, 0, 1, 3).reshape(n_blocks * UNITS_PER_BLOCK, -1)
    return bits[:n_units] < keep_threshold(keep_prob)
