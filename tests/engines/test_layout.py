"""engines/layout.py: the flat-buffer layout of the compiled engines."""
import numpy as np
import pytest

from conftest import NETS, random_parameters
from deepjit.engines.layout import Layout


@pytest.mark.parametrize("dims,m", NETS)
def test_layout_pack_unpack_round_trip(dims, m):
    params = random_parameters(np.random.default_rng(m), dims)
    layout = Layout(dims, m)
    theta = layout.pack(params, np.float64)
    assert theta.size == layout.size == sum(p.size for p in params.values())
    assert layout.act_size == sum(dims[1:]) * m
    unpacked = layout.unpack(theta)
    for key in params:
        np.testing.assert_array_equal(unpacked[key], params[key])
