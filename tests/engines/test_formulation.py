"""engines/formulation.py and the formulations through Model.fit: "auto" picks the
cheaper one, every formulation trains as the numpy engine does, unknown names are
refused."""
import numpy as np
import pytest

from conftest import formulation_problem
from deepjit import Model
from deepjit.engines.formulation import choose


@pytest.mark.parametrize("formulation", ["dense", "examples", "streamed"])
def test_model_formulations_agree_through_fit(formulation):
    _, _, X, Y = formulation_problem(50, 20, [4, 1], "relu", "sigmoid", seed=5)
    kwargs = dict(learning_rate=0.05, num_iterations=250, record_every=50)
    want = Model([50, 4, 1], engine="numpy").fit(X, Y, **kwargs)
    got = Model([50, 4, 1], formulation=formulation, num_threads=2).fit(X, Y, **kwargs)
    np.testing.assert_allclose(got.costs_, want.costs_, rtol=1e-10)
    np.testing.assert_allclose(got.final_cost_, want.final_cost_, rtol=1e-10)
    for key, value in want.parameters.items():
        np.testing.assert_allclose(got.parameters[key], value, rtol=1e-9, atol=1e-13)


def test_float32_formulations_stay_close_to_float64():
    _, _, X, Y = formulation_problem(50, 20, [4, 1], "tanh", "sigmoid", seed=6)
    kwargs = dict(learning_rate=0.05, num_iterations=200)
    want = Model([50, 4, 1], "tanh", engine="numpy").fit(X, Y, **kwargs).final_cost_
    for formulation in ("dense", "examples", "streamed"):
        got = Model([50, 4, 1], "tanh", dtype="float32", formulation=formulation)
        assert got.fit(X, Y, **kwargs).final_cost_ == pytest.approx(want, rel=1e-4)


def test_auto_picks_the_cheaper_formulation():
    assert choose([12288, 20, 7, 5, 1], 209, 2500) == "examples"
    assert choose([12288, 20, 7, 5, 1], 209, 1) == "dense"   # G not worth it
    assert choose([2, 4, 1], 400, 10000) == "dense"
    assert choose([30, 64, 32, 1], 1_000_000, 10) == "streamed"


def test_unknown_formulation_and_thread_count_are_refused():
    with pytest.raises(ValueError, match="formulation"):
        Model([3, 1], formulation="sparse")
    with pytest.raises(ValueError, match="num_threads"):
        Model([3, 1], num_threads=0)
