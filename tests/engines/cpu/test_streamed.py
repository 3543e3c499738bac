"""engines/cpu/streamed.py: examples in chunks through all layers on threads, gradients
summed, equals the numpy engine (the plain equations)."""
import pytest

from conftest import FORMULATION_NETS, assert_same_training, formulation_problem
from deepjit.engines import reference
from deepjit.engines.cpu.streamed import StreamedTrainer


@pytest.mark.parametrize("sizes, hidden, output", FORMULATION_NETS)
@pytest.mark.parametrize("m, chunk, threads, order", [(1001, 64, 2, "C"), (97, 10, 1, "F"),
                                                      (5, 64, 2, "C"), (130, 13, 3, "F")])
def test_streamed_formulation_equals_numpy_engine(sizes, hidden, output, m, chunk, threads,
                                                  order):
    net, params, X, Y = formulation_problem(7, m, sizes, hidden, output, seed=m, order=order)
    fast = StreamedTrainer(params, X, Y, net, 0.05, chunk=chunk, num_threads=threads)
    assert_same_training(fast, reference.Trainer(params, X, Y, net, 0.05))
