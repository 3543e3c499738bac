"""engines/cpu/examples.py: the first layer carried in example space through G = X^T X
(wide data) equals the numpy engine (the plain equations), and replays exactly."""
import numpy as np
import pytest

from conftest import FORMULATION_NETS, assert_same_training, formulation_problem
from deepjit.engines import reference
from deepjit.engines.cpu.examples import ExampleSpaceTrainer


@pytest.mark.parametrize("sizes, hidden, output", FORMULATION_NETS)
@pytest.mark.parametrize("m", [1, 7, 23])
def test_examples_formulation_equals_numpy_engine(sizes, hidden, output, m):
    net, params, X, Y = formulation_problem(41, m, sizes, hidden, output, seed=m)
    fast = ExampleSpaceTrainer(params, X, Y, net, 0.05)
    assert_same_training(fast, reference.Trainer(params, X, Y, net, 0.05))


def test_example_space_snapshot_restore_replays_exactly():
    net, params, X, Y = formulation_problem(41, 9, [5, 1], "relu", "sigmoid", seed=8)
    trainer = ExampleSpaceTrainer(params, X, Y, net, 0.1)
    trainer.run(5, False)
    saved = trainer.snapshot()
    first = trainer.run(7, True)
    after = trainer.parameters()
    trainer.restore(saved)
    assert trainer.run(7, True) == first
    for key, value in trainer.parameters().items():
        np.testing.assert_array_equal(value, after[key])
