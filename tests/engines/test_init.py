"""engines/__init__.py: the registry and the engine contract, kept by every engine."""
import inspect

import numpy as np
import pytest
from conftest import assert_rel, random_problem

from deepjit.engines import ENGINES, Trainer, check_engine, get_engine

CONTRACT = ["parameters", "X", "Y", "net", "learning_rate", "formulation", "num_iterations",
            "num_threads"]


@pytest.mark.parametrize("name", ["numpy", "cpu"])
def test_every_engine_takes_the_same_options_and_gives_a_trainer(name):
    engine = get_engine(name)
    parameters = inspect.signature(engine.make_trainer).parameters
    assert list(parameters) == CONTRACT
    assert all(parameters[k].kind is inspect.Parameter.KEYWORD_ONLY for k in CONTRACT[5:])
    net, params, X, Y = random_problem(0, [4, 3, 1], m=6)
    trainer = engine.make_trainer(params, X, Y, net, 0.1, formulation="auto",
                                  num_iterations=10, num_threads=1)
    assert isinstance(trainer, Trainer)
    first, last = trainer.run(2, True)
    assert np.isfinite(first) and np.isfinite(last) and last < first
    assert_rel(engine.predict_proba(trainer.parameters(), X, net),
               get_engine("numpy").predict_proba(trainer.parameters(), X, net))


def test_the_cuda_engine_keeps_the_contract_too():
    """Read from the source, so that no GPU (and no numba-cuda) is needed."""
    from deepjit.engines import cuda
    if cuda.IMPORT_ERROR is not None:
        pytest.skip(f"numba-cuda missing: {cuda.IMPORT_ERROR}")
    assert list(inspect.signature(cuda.make_trainer).parameters) == CONTRACT
    assert callable(cuda.predict_proba) and callable(cuda.require_gpu)


def test_unknown_engine_is_a_value_error():
    assert sorted(ENGINES) == ["cpu", "cuda", "numpy"]
    with pytest.raises(ValueError, match="engine: unknown engine 'gpu'"):
        check_engine("gpu")


def test_an_object_without_the_methods_is_not_a_trainer():
    class Partial:
        def run(self, n_steps, want_last_cost):
            return 0.0, 0.0

    assert not isinstance(Partial(), Trainer)
