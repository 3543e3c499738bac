"""The cpu engine through its contract (engines/__init__.py): each formulation's trainer
from ``make_trainer`` against the numpy engine's, through run / parameters / snapshot /
restore / is_finite as training.py uses them."""
import numpy as np
import pytest

from conftest import OUTPUTS, assert_params_rel, layer_problem
from deepjit.engines import cpu, reference
from deepjit.engines.cpu.streamed import StreamedTrainer


def _trainer(formulation, params, X, Y, net, lr):
    if formulation == "streamed":   # small chunks and 2 threads: several chunks per thread
        return StreamedTrainer(params, X, Y, net, lr, chunk=3, num_threads=2)
    return cpu.make_trainer(params, X, Y, net, lr, formulation=formulation)


# The formulations are compared in depth in test_dense.py, test_examples.py and
# test_streamed.py; here each goes through
# the Trainer protocol (run / parameters / snapshot / restore) used by training.py.
@pytest.mark.parametrize("formulation", ["dense", "examples", "streamed"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("dims,hidden", [([3, 6, 4, 1], "relu"), ([2, 1], "tanh"),
                                         ([4, 3, 2, 5, 1], "leaky_relu")])
def test_trainer_matches_reference_trainer(formulation, output, dims, hidden):
    if output == "softmax":
        dims = dims[:-1] + [3]
    net, params, X, Y = layer_problem(17 + len(dims), dims, output, [hidden], 11)
    got, expected = _trainer(formulation, params, X, Y, net, 0.3), \
        reference.make_trainer(params, X, Y, net, 0.3)
    for n_steps, want_last in [(1, False), (4, True), (3, False), (1, True)]:
        first, last = got.run(n_steps, want_last)
        first_ref, last_ref = expected.run(n_steps, want_last)
        assert first == pytest.approx(first_ref, rel=1e-12)
        assert np.isnan(last) == np.isnan(last_ref)
        if want_last:
            assert last == pytest.approx(last_ref, rel=1e-12)
    assert_params_rel(got.parameters(), expected.parameters())
    assert got.is_finite()
    snapshot = got.snapshot()
    got.run(2, False)
    got.restore(snapshot)
    assert_params_rel(got.parameters(), expected.parameters())
    got.run(2, False)          # after a restore training goes on from the snapshot
    expected.run(2, False)
    assert_params_rel(got.parameters(), expected.parameters())
