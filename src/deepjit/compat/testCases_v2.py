"""Drop-in replacement for the 2017-18 release's ``testCases_v2`` of the week-4
step-by-step notebook (small fixed inputs for its test cells)::

    from deepjit.compat.testCases_v2 import *

Each function seeds numpy's global generator and draws its arrays as that file does.
"""
import numpy as np

__all__ = ["linear_forward_test_case", "linear_activation_forward_test_case",
           "L_model_forward_test_case", "compute_cost_test_case", "linear_backward_test_case",
           "linear_activation_backward_test_case", "L_model_backward_test_case",
           "update_parameters_test_case"]


def _draw(seed, *shapes):
    np.random.seed(seed)
    return [np.random.randn(*shape) for shape in shapes]


def linear_forward_test_case():
    """``(A (3, 2), W (1, 3), b (1, 1))``."""
    return tuple(_draw(1, (3, 2), (1, 3), (1, 1)))


def linear_activation_forward_test_case():
    """``(A_prev (3, 2), W (1, 3), b (1, 1))``."""
    return tuple(_draw(2, (3, 2), (1, 3), (1, 1)))


def L_model_forward_test_case():
    """``(X (4, 2), parameters)`` of a [4, 3, 1] network."""
    X, W1, b1, W2, b2 = _draw(1, (4, 2), (3, 4), (3, 1), (1, 3), (1, 1))
    return X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def compute_cost_test_case():
    """``(Y, aL)``."""
    return np.asarray([[1, 1, 1]]), np.array([[.8, .9, 0.4]])


def linear_backward_test_case():
    """``(dZ (1, 2), (A (3, 2), W (1, 3), b (1, 1)))``."""
    dZ, A, W, b = _draw(1, (1, 2), (3, 2), (1, 3), (1, 1))
    return dZ, (A, W, b)


def linear_activation_backward_test_case():
    """``(dA (1, 2), ((A, W, b), Z))``."""
    dA, A, W, b, Z = _draw(2, (1, 2), (3, 2), (1, 3), (1, 1), (1, 2))
    return dA, ((A, W, b), Z)


def L_model_backward_test_case():
    """``(AL (1, 2), Y, caches)`` of a [4, 3, 1] network (AL drawn, not computed)."""
    np.random.seed(3)
    AL = np.random.randn(1, 2)
    Y = np.array([[1, 0]])
    A1, W1, b1, Z1 = (np.random.randn(*shape) for shape in ((4, 2), (3, 4), (3, 1), (3, 2)))
    A2, W2, b2, Z2 = (np.random.randn(*shape) for shape in ((3, 2), (1, 3), (1, 1), (1, 2)))
    return AL, Y, (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))


def update_parameters_test_case():
    """``(parameters, grads)`` of a [4, 3, 1] network."""
    W1, b1, W2, b2 = _draw(2, (3, 4), (3, 1), (1, 3), (1, 1))
    dW1, db1, dW2, db2 = _draw(3, (3, 4), (3, 1), (1, 3), (1, 1))
    return ({"W1": W1, "b1": b1, "W2": W2, "b2": b2},
            {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2})
