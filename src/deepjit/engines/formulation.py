"""The choice of formulation ("dense", "examples", "streamed") for both compiled engines.

The first layer decides whether example space pays, by a flop count; what is left
depends on the device, which passes its limits to :func:`choose`.
"""
import math

FORMULATIONS = ("auto", "dense", "examples", "streamed")
STREAM_MIN_EXAMPLES = 16384   # cpu: from here on, streaming beats full activation matrices
# The cpu engine's split of an iteration into blocks (engines/cpu/blocks.py):
MAX_BLOCKS = 16                  # enough to keep 16 cores busy, few partial sums to add
BLOCK_FLOPS = 250e6   # the least work per iteration worth a block: ~10 ms on a core, so a
#                       barrier that waits for a busy core costs a small part of it
PARTIAL_SUMS_BYTES = 256 * 2 ** 20   # the most memory for the blocks' gradient sums
STREAM_CHUNK = 256           # columns per streamed chunk (see engines/cpu/streamed.py)
DENSE_MIN_COLUMNS = 64       # a dense block's BLAS products stay efficient from here on


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


def block_count(layer_dims, m, n_pieces, itemsize):
    """The cpu engine's blocks for an iteration over ``m`` examples that can be cut into
    at most ``n_pieces``: one per ``BLOCK_FLOPS`` of work, at most ``MAX_BLOCKS``, and no
    more than the partial gradient sums' memory allows.  Sizes only, never threads: the
    blocks' sums are added in block order, so the thread count cannot change a result."""
    weights = sum(n * k + n for k, n in zip(layer_dims[:-1], layer_dims[1:]))
    by_work = int(6.0 * weights * m // BLOCK_FLOPS)
    by_memory = PARTIAL_SUMS_BYTES // (2 * weights * itemsize)
    return max(1, min(n_pieces, MAX_BLOCKS, by_work, by_memory))


def cpu_blocks(layer_dims, m, formulation, itemsize):
    """``block_count`` for the cpu engine's "dense" or "streamed" formulation (chunks of
    ``STREAM_CHUNK`` columns, dense blocks of at least ``DENSE_MIN_COLUMNS``)."""
    width = STREAM_CHUNK if formulation == "streamed" else DENSE_MIN_COLUMNS
    return block_count(layer_dims, m, math.ceil(m / width), itemsize)
