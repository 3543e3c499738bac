"""The choice of formulation ("dense", "examples", "streamed") for both compiled engines.

The first layer decides whether example space pays, by a flop count; what is left
depends on the device, which passes its limits to :func:`choose`.
"""
import math

FORMULATIONS = ("auto", "dense", "examples", "streamed")
STREAM_MIN_EXAMPLES = 16384   # cpu: from here on, streaming beats full activation matrices


def check_formulation(formulation):
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation: unknown formulation {formulation!r}; expected one of "
                         f"{list(FORMULATIONS)}")
    return formulation


def examples_pay(layer_dims, m, num_iterations):
    """True when the first layer is cheaper in example space: the dense path spends
    ``4 n_1 n_0 m`` per iteration, the example-space path ``2 n_1 m^2`` after a one-off
    ``2 n_0 m^2 + 4 n_1 n_0 m`` (G, P and rebuilding W1); only for ``m < n_0``."""
    n0, n1 = layer_dims[0], layer_dims[1]
    dense = num_iterations * 4.0 * n1 * n0 * m
    examples = num_iterations * 2.0 * n1 * m * m + 2.0 * n0 * m * m + 4.0 * n1 * n0 * m
    return m < n0 and examples < dense


def choose(layer_dims, m, num_iterations, *, examples_max_m=math.inf, one_block=False,
           streams=True, stream_min_m=STREAM_MIN_EXAMPLES):
    """The cheapest formulation: "examples" where it pays (``examples_pay``) for at most
    ``examples_max_m`` examples; else "dense" where the device runs the whole network in
    one block (``one_block``); else "streamed" where the device streams this network
    (``streams``) and there are at least ``stream_min_m`` examples; else "dense".  The
    defaults are the cpu engine's."""
    if examples_pay(layer_dims, m, num_iterations) and m <= examples_max_m:
        return "examples"
    if one_block:
        return "dense"
    return "streamed" if streams and m >= stream_min_m else "dense"
