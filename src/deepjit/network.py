"""The architecture of a network: sizes, activations per layer, output and slope."""
import math
import numbers
from dataclasses import dataclass

import numpy as np

from .activations import (DEFAULT_LEAKY_SLOPE, HIDDEN_CODES, OUTPUT_CODES,
                          check_output, resolve_hidden)
from .validation import positive_number


@dataclass(frozen=True)
class Network:
    """``layer_dims = (n_0, n_1, ..., n_L)``; ``hidden`` names layers 1..L-1."""
    layer_dims: tuple
    hidden: tuple
    output: str = "sigmoid"
    slope: float = DEFAULT_LEAKY_SLOPE

    @classmethod
    def build(cls, layer_dims, hidden_activation="relu", output="sigmoid",
              leaky_slope=DEFAULT_LEAKY_SLOPE):
        dims = check_layer_dims(layer_dims)
        hidden = resolve_hidden(hidden_activation, len(dims) - 2)
        check_output(output)
        if output == "softmax" and dims[-1] < 2:
            raise ValueError("layer_dims: a softmax output needs at least 2 units in the "
                             f"last layer, got {dims[-1]}")
        return cls(dims, tuple(hidden), output, positive_number("leaky_slope", leaky_slope))

    @property
    def L(self):
        return len(self.layer_dims) - 1

    @property
    def activations(self):
        """Names of the activations of layers 1..L (the last is the output)."""
        return self.hidden + (self.output,)

    @property
    def codes(self):
        """Integer codes of layers 1..L for the compiled engines."""
        return np.array([HIDDEN_CODES[name] for name in self.hidden]
                        + [OUTPUT_CODES[self.output]], dtype=np.int64)


def check_layer_dims(layer_dims):
    """``(n_0, n_1, ..., n_L)`` as ints: at least two sizes, each a positive integer (an
    int, a numpy integer or an integral float such as 3.0)."""
    try:
        sizes = [] if isinstance(layer_dims, (str, bytes)) else list(layer_dims)
    except TypeError:
        sizes = []
    if len(sizes) < 2 or not all(_is_size(n) for n in sizes):
        raise ValueError("layer_dims: expected a list of at least two positive integers "
                         f"[n_x, n_1, ..., n_L], got {layer_dims!r}")
    return tuple(int(n) for n in sizes)


def _is_size(n):
    if not isinstance(n, numbers.Real) or isinstance(n, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(n) and n >= 1 and n == int(n)
    except (OverflowError, ValueError, TypeError):      # 10**400
        return False
