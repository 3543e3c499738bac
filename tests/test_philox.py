"""Philox4x64-10: the compiled and numpy versions against numpy's own ``np.random.Philox``
(whose next four raw words are ``philox(counter + 1, key)``), and the dropout masks drawn
from it."""
import numpy as np
import pytest

from deepjit.engines import philox

U64 = np.iinfo(np.uint64).max


def numpy_reference(counter, key):
    """numpy's Philox output for ``counter`` (it increments before drawing)."""
    previous = counter.copy()
    previous[0] -= np.uint64(1)        # wraps at 0, as numpy's carry does the other way
    if counter[0] == 0:
        pytest.skip("a counter with a zero first word needs a borrow")
    return np.random.Philox(key=key, counter=previous).random_raw(4)


@pytest.mark.parametrize("seed", range(20))
def test_both_versions_match_numpy_philox(seed):
    rng = np.random.default_rng(seed)
    counter = rng.integers(1, U64, size=4, dtype=np.uint64, endpoint=True)
    key = rng.integers(0, U64, size=2, dtype=np.uint64, endpoint=True)
    if seed == 0:                                   # extremes of the ranges too
        counter, key = np.array([U64] * 4, np.uint64), np.array([U64, 0], np.uint64)
    expected = numpy_reference(counter, key)
    np.testing.assert_array_equal(philox.philox_numpy(counter, key), expected)
    np.testing.assert_array_equal(np.array(philox.philox(*counter, *key), np.uint64), expected)


def test_numpy_version_broadcasts_over_counters():
    key = np.array([7, 11], np.uint64)
    counters = np.arange(1, 6, dtype=np.uint64)
    words = philox.philox_numpy((counters, np.uint64(2), np.uint64(3), np.uint64(4)), key)
    for k, c in enumerate(counters):
        expected = numpy_reference(np.array([c, 2, 3, 4], np.uint64), key)
        np.testing.assert_array_equal(words[:, k], expected)


@pytest.mark.parametrize("n_units", [1, 7, 8, 9, 33])
@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.93])
def test_compiled_masks_equal_numpy_masks(n_units, keep_prob):
    examples = np.array([0, 5, 3, 1000, 2 ** 40])
    mask = np.zeros((examples.size, n_units), np.uint8)
    philox.fill_keep_mask(mask, 12345, 17, 2, examples, philox.keep_threshold(keep_prob))
    expected = philox.keep_mask_numpy(12345, 17, 2, examples, n_units, keep_prob)
    np.testing.assert_array_equal(mask.T.astype(bool), expected)


def test_masks_keep_the_right_fraction_and_differ_by_counter():
    examples = np.arange(2000)
    a = philox.keep_mask_numpy(1, 0, 1, examples, 50, 0.3)
    assert abs(a.mean() - 0.3) < 0.01
    for other in (philox.keep_mask_numpy(2, 0, 1, examples, 50, 0.3),    # seed
                  philox.keep_mask_numpy(1, 1, 1, examples, 50, 0.3),    # step
                  philox.keep_mask_numpy(1, 0, 2, examples, 50, 0.3)):   # layer
        assert 0.3 < np.mean(a != other) < 0.5


def test_keep_prob_one_keeps_everything():
    assert philox.keep_mask_numpy(3, 4, 1, np.arange(100), 20, 1.0).all()
    assert philox.keep_threshold(1.0) == 2 ** 32
