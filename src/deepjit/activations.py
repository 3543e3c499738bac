"""Activations in plain numpy, each beside its derivative, and the registries by name.

The derivatives are written in terms of the activation's *output* ``A`` (as in the
course notes: sigmoid' = A(1 - A), tanh' = 1 - A**2), so backprop needs only the
stored activations.  For relu and leaky relu ``A > 0`` exactly when ``Z > 0`` (the
slope is positive), and the derivative at ``Z <= 0`` is 0 (relu) or the slope, as in
the course's ``relu_backward``.

The integer codes are what the compiled engines receive (a Numba kernel cannot take
a Python function); ``engines.cpu`` implements the same formulas for each code.
"""
import numpy as np

LINEAR, SIGMOID, TANH, RELU, LEAKY_RELU, SOFTMAX = range(6)

HIDDEN_CODES = {"linear": LINEAR, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU,
                "leaky_relu": LEAKY_RELU}
OUTPUT_CODES = {"sigmoid": SIGMOID, "softmax": SOFTMAX, "linear": LINEAR}
DEFAULT_LEAKY_SLOPE = 0.01


def sigmoid(Z, slope=None):
    with np.errstate(over="ignore"):    # exp(-Z) = inf for Z < -709 gives exactly 0
        return 1 / (1 + np.exp(-Z))


def sigmoid_derivative(A, slope=None):
    return A * (1 - A)


def tanh(Z, slope=None):
    return np.tanh(Z)


def tanh_derivative(A, slope=None):
    return 1 - A ** 2


def relu(Z, slope=None):
    return np.maximum(0, Z)


def relu_derivative(A, slope=None):
    return (A > 0).astype(A.dtype)


def leaky_relu(Z, slope=DEFAULT_LEAKY_SLOPE):
    return np.where(Z > 0, Z, slope * Z)


def leaky_relu_derivative(A, slope=DEFAULT_LEAKY_SLOPE):
    return np.where(A > 0, 1, slope).astype(A.dtype)


def linear(Z, slope=None):
    return Z


def linear_derivative(A, slope=None):
    return np.ones_like(A)


def softmax(Z, slope=None):
    """Column-wise softmax of ``Z : (K, m)``, shifted by the column maximum."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


ACTIVATIONS = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu,
               "leaky_relu": leaky_relu, "linear": linear, "softmax": softmax}
DERIVATIVES = {"sigmoid": sigmoid_derivative, "tanh": tanh_derivative,
               "relu": relu_derivative, "leaky_relu": leaky_relu_derivative,
               "linear": linear_derivative}


def resolve_hidden(hidden_activation, n_hidden):
    """One name for every hidden layer, or a list with one name per hidden layer."""
    if isinstance(hidden_activation, str):
        names = [hidden_activation] * n_hidden
    elif isinstance(hidden_activation, (list, tuple)):
        names = list(hidden_activation)
    else:
        raise ValueError("hidden_activation: expected an activation name or a list of names, "
                         f"got {hidden_activation!r}")
    if len(names) != n_hidden:
        raise ValueError(f"hidden_activation: expected one name or a list of {n_hidden} "
                         f"names (one per hidden layer), got {len(names)}")
    for name in names:
        if not isinstance(name, str) or name not in HIDDEN_CODES:
            raise ValueError(f"hidden_activation: unknown activation {name!r}; expected one "
                             f"of {sorted(HIDDEN_CODES)}")
    return names


def check_output(output):
    if not isinstance(output, str) or output not in OUTPUT_CODES:
        raise ValueError(f"output: unknown output {output!r}; expected one of "
                         f"{sorted(OUTPUT_CODES)}")
    return output
