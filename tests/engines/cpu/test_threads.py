"""The thread count never changes a result: the cpu engine splits its work into blocks
decided by the problem's size, keeps each block's partial sums apart and adds them in a
fixed order, with BLAS on one thread inside the blocks; so ``num_threads`` 1, 2 and 3 give
the same float64 bits in every formulation."""
import numpy as np
import pytest

from conftest import FORMULATION_NETS, formulation_problem
from deepjit import Model
from deepjit.engines.cpu.streamed import StreamedTrainer
from deepjit.engines.formulation import MAX_BLOCKS, block_count

# (layer_dims, m, formulation): odd sizes (a last partial block or chunk); the second
# dense case and the streamed one are several blocks, the others one block (one thread).
CASES = [([64, 100, 10], 1797, "dense"),
         ([300, 200, 100, 1], 3001, "dense"),
         ([30, 64, 32, 1], 50001, "streamed"),
         ([1500, 40, 7, 1], 601, "examples"),
         ([900, 64, 3], 777, "examples")]


def _problem(dims, m):
    rng = np.random.default_rng(m)
    X = rng.standard_normal((dims[0], m))
    if dims[-1] == 1:
        return X, (X[:3].sum(axis=0, keepdims=True) > 0).astype(np.float64)
    return X, np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]


def _fit(dims, X, Y, formulation, threads):
    output = "sigmoid" if dims[-1] == 1 else "softmax"
    model = Model(dims, "relu", output=output, seed=3, formulation=formulation,
                  num_threads=threads)
    model.fit(X, Y, learning_rate=0.05, num_iterations=12)
    return model


@pytest.mark.parametrize("dims, m, formulation", CASES)
def test_parameters_and_costs_are_bitwise_equal_for_any_thread_count(dims, m, formulation):
    X, Y = _problem(dims, m)
    one = _fit(dims, X, Y, formulation, 1)
    for threads in (2, 3, None):
        other = _fit(dims, X, Y, formulation, threads)
        for name, value in one.parameters.items():
            assert np.array_equal(value, other.parameters[name]), (name, threads)
        assert one.costs_ == other.costs_
        np.testing.assert_array_equal(one.predict_proba(X), other.predict_proba(X))


@pytest.mark.parametrize("sizes, hidden, output", FORMULATION_NETS)
@pytest.mark.parametrize("m, chunk, blocks", [(1001, 64, 5), (97, 10, 3), (130, 13, 16),
                                              (9, 3, 4)])
def test_streamed_blocks_give_the_same_bits_on_any_thread_count(sizes, hidden, output, m,
                                                                chunk, blocks):
    """Small odd problems cut by hand into several blocks of chunks (a last partial chunk,
    blocks of unequal runs, more blocks asked than chunks): the kernel that runs both the
    streamed and the blocked dense formulation."""
    net, params, X, Y = formulation_problem(7, m, sizes, hidden, output, seed=m)
    runs = []
    for threads in (1, 2, 3):
        trainer = StreamedTrainer(params, X, Y, net, 0.05, chunk=chunk, num_threads=threads,
                                  blocks=blocks)
        runs.append((trainer.run(4, True), trainer.run(3, True), trainer.parameters()))
    for costs_a, costs_b, params_n in runs[1:]:
        assert (costs_a, costs_b) == runs[0][:2]
        for name, value in runs[0][2].items():
            assert np.array_equal(value, params_n[name]), name


def test_blocks_depend_on_the_problem_not_the_machine():
    """Small problems are one block (one thread, BLAS included); large ones several,
    at most MAX_BLOCKS, and never more than the partial sums' memory allows."""
    assert block_count([64, 100, 10], 1797, 10 ** 6, 8) == 1
    assert block_count([30, 64, 32, 1], 10 ** 6, 3907, 8) == MAX_BLOCKS
    assert block_count([30, 64, 32, 1], 10 ** 6, 5, 8) == 5
    assert block_count([10 ** 4, 10 ** 4, 1], 10 ** 6, 3907, 8) == 1   # 1.6 GB per sum
