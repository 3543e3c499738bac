"""deepjit.compat._legacy_random: the course's per-epoch draws ``np.random.seed(s);
np.random.permutation(m)``, compiled, against numpy's legacy generator itself."""
import numpy as np
import pytest

from deepjit.compat import _legacy_random, opt_utils_v1a


def numpy_permutation(seed, m):
    state = np.random.get_state()
    np.random.seed(seed)
    order = np.random.permutation(m)
    np.random.set_state(state)
    return order


@pytest.mark.parametrize("m", [0, 1, 2, 3, 64, 300, 1000, 5000])
def test_permutations_are_numpys(m):
    # more seeds than LANES (a second block of lanes); m = 1000 and 5000 draw past the
    # first 624 words (the lane's state is regenerated)
    seeds = np.arange(_legacy_random.LANES + 3) * 7919 + 11
    got = _legacy_random.permutations(seeds, m)
    assert got.shape == (seeds.size, m) and got.dtype == np.int64
    for row, seed in zip(got, seeds):
        np.testing.assert_array_equal(row, numpy_permutation(seed, m))


def test_permutations_at_the_seed_range_ends_and_into_a_buffer():
    seeds = [0, 1, 2**32 - 1]
    buffer = np.full((5, 300), -1, np.int64)
    got = _legacy_random.permutations(seeds, 300, buffer)
    assert np.shares_memory(got, buffer) and got.shape == (3, 300)
    for row, seed in zip(got, seeds):
        np.testing.assert_array_equal(row, numpy_permutation(seed, 300))


def test_permutations_leave_the_global_generator_alone():
    np.random.seed(5)
    _legacy_random.permutations([11, 12], 300)
    after = np.random.rand()
    np.random.seed(5)
    assert np.random.rand() == after


@pytest.mark.parametrize("seeds, m, out, name", [
    ([-1], 3, None, "seeds"), ([2**32], 3, None, "seeds"), ([1], -1, None, "m"),
    ([1, 2], 3, np.empty((1, 3), np.int64), "out"), ([1], 3, np.empty((1, 4), np.int64), "out"),
    ([1], 3, np.empty((1, 3), np.int32), "out")])
def test_permutations_refuse_bad_input(seeds, m, out, name):
    with pytest.raises(ValueError, match=name):
        _legacy_random.permutations(seeds, m, out)


def test_opt_model_leaves_the_global_generator_as_the_course_does():
    X, Y = opt_utils_v1a.load_dataset()
    opt_utils_v1a.model(X, Y, [2, 5, 2, 1], "gd", num_epochs=3, print_cost=False)
    after = np.random.rand()
    np.random.seed(13)             # the third epoch's random_mini_batches
    np.random.permutation(X.shape[1])
    assert np.random.rand() == after
