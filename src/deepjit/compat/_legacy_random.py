"""numpy's legacy generator, compiled, for the draws the course repeats every epoch:
``np.random.seed(s); np.random.permutation(m)`` (``random_mini_batches``) costs about
5 us in Python, as much as an epoch's training.

``permutations(seeds, m)`` gives, row by row, exactly what those two calls give: the
legacy seeding of the Mersenne Twister (MT19937 ``init_genrand`` with a 32-bit seed),
then numpy's Fisher-Yates shuffle of ``arange(m)`` (``_shuffle_raw``: for i = m-1 .. 1,
swap i with ``random_interval(i)``, a masked 32-bit draw retried while above i).  It
does not touch numpy's global generator.  Seeding runs LANES seeds side by side, so
that the sequential recurrence vectorises across seeds.

Numba's own ``np.random.seed(s); np.random.permutation(m)`` inside compiled code gives the
same rows, but seeds one generator at a time: 4.9 us an epoch of 300 examples against 1.2
here (2026-12-02), which decides whether the Optimization runs are 20x the course's loop.
"""
import numpy as np
from numba import njit

N, M = 624, 397                 # MT19937's state length and shift
MATRIX_A, UPPER, LOWER = 0x9908B0DF, 0x80000000, 0x7FFFFFFF
LANES = 256

kernel = njit(cache=True, error_model="numpy")
inlined = njit(cache=True, error_model="numpy", inline="always")


def permutations(seeds, m, out=None):
    """``(len(seeds), m)`` int64: row e is ``np.random.seed(seeds[e]);
    np.random.permutation(m)``.  Seeds are integers in [0, 2**32), ``m`` below 2**32;
    ``out``: an int64 array of at least that many rows to write into (its first rows
    are returned)."""
    seeds = np.asarray(seeds, np.int64).ravel()
    if seeds.size and (seeds.min() < 0 or seeds.max() > 0xFFFFFFFF):
        raise ValueError("seeds: expected integers in [0, 2**32)")
    if not 0 <= m < 1 << 32:
        raise ValueError(f"m: expected 0 <= m < 2**32, got {m}")
    if out is None:
        out = np.empty((seeds.size, m), np.int64)
    elif not (out.dtype == np.int64 and out.ndim == 2 and out.shape[0] >= seeds.size
              and out.shape[1] == m and out.flags.c_contiguous):
        raise ValueError(f"out: expected a C-ordered int64 array of at least {seeds.size} "
                         f"rows of {m}, got {out.dtype} {out.shape}")
    out = out[:seeds.size]
    _permutations(seeds.astype(np.uint32), out)
    return out


@kernel
def _permutations(seeds, out):
    keys, words = np.empty((N, LANES), np.uint32), np.empty((N, LANES), np.uint32)
    for first in range(0, seeds.size, LANES):
        lanes = min(LANES, seeds.size - first)
        _seed_lanes(seeds[first:first + lanes], keys)
        _twist(keys)
        _temper(keys, words)
        for lane in range(lanes):
            _shuffled_range(keys, words, lane, out[first + lane])


@kernel
def _seed_lanes(seeds, keys):
    """``keys[:, lane]``: MT19937 ``init_genrand(seeds[lane])`` for each lane (the
    others are filled with seed 0)."""
    lanes = keys.shape[1]     # (not the constant: LLVM would unroll, not vectorise)
    for lane in range(lanes):
        keys[0, lane] = seeds[lane] if lane < seeds.size else 0
    for p in range(1, N):
        for lane in range(lanes):
            previous = keys[p - 1, lane]
            keys[p, lane] = np.uint32(1812433253) * (previous ^ (previous >> np.uint32(30))) \
                + np.uint32(p)


@kernel
def _twist(keys):
    """MT19937's regeneration of the 624 state words of every lane, in place (word i
    from words i, i + 1 and i + M mod N, those below i already regenerated)."""
    for i in range(N):
        after, ahead = _neighbours(i)
        _twist_row(keys[i], keys[after], keys[ahead])


@inlined
def _neighbours(i):
    """The words that regenerate word i with it: ``i + 1`` and ``i + M`` (mod N)."""
    return i + 1 if i + 1 < N else 0, i + M if i + M < N else i + M - N


@kernel
def _twist_row(word, after, ahead):
    for lane in range(word.size):
        word[lane] = _twisted(word[lane], after[lane], ahead[lane])


@inlined
def _twisted(word, after, ahead):
    y = (word & np.uint32(UPPER)) | (after & np.uint32(LOWER))
    return ahead ^ (y >> np.uint32(1)) ^ ((np.uint32(0) - (y & np.uint32(1)))
                                         & np.uint32(MATRIX_A))


@kernel
def _temper(keys, words):
    """``words``: the generator's outputs (the tempered state words), every lane."""
    for p in range(N):
        for lane in range(keys.shape[1]):
            words[p, lane] = _tempered(keys[p, lane])


@inlined
def _tempered(y):
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    return y ^ (y >> np.uint32(18))


@kernel
def _shuffled_range(keys, words, lane, out):
    """``out = arange(out.size)`` shuffled as numpy's legacy ``shuffle`` does, drawing
    the lane's ``words`` (from its state ``keys[:, lane]``, regenerated when used up):
    for i = m-1 .. 1, draws ``word & mask`` (mask: i's bits smeared right) until one is
    at most i, then swaps i with it.  Written without a branch on the draw (a rejected
    one swaps i with itself and keeps i): the accept/reject branch, taken at random,
    cost more than the rest."""
    m = out.size
    for j in range(m):
        out[j] = j
    i, mask, position = m - 1, np.int64(1), 0
    while mask < i:
        mask = 2 * mask + 1
    while i > 0:
        if position == N:
            _regenerate_lane(keys, words, lane)
            position = 0
        value = np.int64(words[position, lane]) & mask
        position += 1
        accepted = value <= i
        j = value if accepted else i
        out[i], out[j] = out[j], out[i]
        i -= 1 if accepted else 0
        mask = mask >> 1 if i <= mask >> 1 else mask


@kernel
def _regenerate_lane(keys, words, lane):
    """The lane's next 624 outputs (``_twist`` and ``_temper`` for it alone)."""
    for i in range(N):
        after, ahead = _neighbours(i)
        keys[i, lane] = _twisted(keys[i, lane], keys[after, lane], keys[ahead, lane])
    for p in range(N):
        words[p, lane] = _tempered(keys[p, lane])
