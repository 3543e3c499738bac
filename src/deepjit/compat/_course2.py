"""The helpers shared by the second course's four helper files (``init_utils``,
``reg_utils``, ``gc_utils``, ``opt_utils_v1a``): the fixed 3-layer net
LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID, its costs, prediction, pictures and data.

The step functions keep the course's numpy expressions in the course's order, so their
results match the course's to the last bit; they differ where the course wastes time
(``predict``'s Python loop over the examples).  matplotlib and scipy are imported only
by the functions that draw or read files.
"""
import os

import numpy as np

from . import _common, planar_utils

NET_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return 1 / (1 + np.exp(-x))


def relu(x):
    """``max(0, x)``."""
    return np.maximum(0, x)


# -- the 3-layer net -------------------------------------------------------------------------

def forward_propagation(X, parameters):
    """Returns ``(a3, cache)``, ``cache = (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)``."""
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in NET_KEYS)
    z1 = np.dot(W1, X) + b1
    a1 = relu(z1)
    z2 = np.dot(W2, a1) + b2
    a2 = relu(z2)
    z3 = np.dot(W3, a2) + b3
    a3 = sigmoid(z3)
    return a3, (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)


def backward_scaled_first(X, Y, cache):
    """init_utils' and opt_utils_v1a's backward pass: ``dz3 = 1/m (a3 - Y)`` first, then
    unscaled products; lower-case keys."""
    m = X.shape[1]
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache
    dz3 = 1. / m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims=True)
    return {"dz3": dz3, "dW3": dW3, "db3": db3, "da2": da2, "dz2": dz2, "dW2": dW2,
            "db2": db2, "da1": da1, "dz1": dz1, "dW1": dW1, "db1": db1}


def layer_gradients(dZ, A_prev, W, m, l, gradients, weight_term=None):
    """Layer ``l``'s ``dW = 1/m dZ A_prev^T (+ weight_term)``, ``db = 1/m sum dZ`` into
    ``gradients`` (reg_utils' order of operations); returns ``W^T dZ``."""
    gradients["dZ" + str(l)] = dZ
    dW = 1. / m * np.dot(dZ, A_prev.T)
    gradients["dW" + str(l)] = dW if weight_term is None else dW + weight_term
    gradients["db" + str(l)] = 1. / m * np.sum(dZ, axis=1, keepdims=True)
    return np.dot(W.T, dZ)


def backward_propagation(X, Y, cache, lambd=0., masks=None, keep_prob=1.):
    """reg_utils' backward pass (``dZ3 = A3 - Y``, products scaled by ``1/m``), with the
    notebook's L2 term ``lambd / m * W`` added to each ``dW`` when ``lambd`` is given,
    and its dropout (``dA = dA * D / keep_prob`` before the ReLU mask) when ``masks =
    (D1, D2)`` is.  Upper-case keys ``dZ3, dW3, db3, dA2, ..., db1``."""
    m = X.shape[1]
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    gradients = {}
    dA2 = layer_gradients(A3 - Y, A2, W3, m, 3, gradients, _l2(lambd, m, W3))
    dA1 = layer_gradients(_relu_gradient(dA2, A2, masks, 1, keep_prob, gradients, 2),
                          A1, W2, m, 2, gradients, _l2(lambd, m, W2))
    layer_gradients(_relu_gradient(dA1, A1, masks, 0, keep_prob, gradients, 1),
                    X, W1, m, 1, gradients, _l2(lambd, m, W1))
    order = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")
    return {key: gradients[key] for key in order}


def _l2(lambd, m, W):
    return lambd / m * W if lambd else None


def _relu_gradient(dA, A, masks, index, keep_prob, gradients, l):
    if masks is not None:
        dA = dA * masks[index]
        dA = dA / keep_prob
    gradients["dA" + str(l)] = dA
    return np.multiply(dA, np.int64(A > 0))


def seeded_weights(layer_dims, scale):
    """``np.random.seed(3)``; for each layer ``W_l = scale(randn(n_l, n_{l-1}), n_{l-1})``,
    ``b_l`` zeros (the initialisers of init_utils, reg_utils and opt_utils_v1a)."""
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = scale(np.random.randn(layer_dims[l], layer_dims[l - 1]),
                                         layer_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def update_parameters(parameters, grads, learning_rate):
    """``W = W - lr dW``, ``b = b - lr db`` for every layer, stored back into
    ``parameters``, which is returned."""
    L = len(parameters) // 2
    for k in range(L):
        for name in ("W", "b"):
            key = name + str(k + 1)
            parameters[key] = parameters[key] - learning_rate * grads["d" + key]
    return parameters


def cross_entropy_terms(a3, Y):
    """The course's ``logprobs``: ``-log(a3) Y - log(1 - a3) (1 - Y)`` per example."""
    return np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)


def mean_nansum_cost(a3, Y):
    """``1/m nansum(logprobs)``: init_utils' ``compute_loss`` and reg_utils'
    ``compute_cost`` (inf when a3 saturates, with numpy's RuntimeWarnings)."""
    m = Y.shape[1]
    return 1. / m * np.nansum(cross_entropy_terms(a3, Y))


# -- prediction and pictures -----------------------------------------------------------------

def predict(X, y, parameters):
    """int64 0/1 predictions ``p : (1, m)`` (``a3 > 0.5``); prints ``"Accuracy: "`` as
    the course does (its ``np.int`` array, gone from numpy 1.24 on, was int64)."""
    a3, caches = forward_propagation(X, parameters)
    p = np.zeros((1, X.shape[1]), dtype=np.int64)
    p[0, :] = a3[0, :] > 0.5
    print("Accuracy: " + str(np.mean((p[0, :] == y[0, :]))))
    return p


def predict_dec(parameters, X):
    """``a3 > 0.5`` (bool (1, k)) for ``plot_decision_boundary``."""
    a3, cache = forward_propagation(X, parameters)
    return a3 > 0.5


def plot_decision_boundary(model, X, y):
    """Filled contours of ``model`` on a 0.01 grid padded by 1 around ``X : (2, m)``, the
    points on top (as the first course draws them), then ``plt.show()``."""
    import matplotlib.pyplot as plt
    planar_utils.plot_decision_boundary(model, X, y)
    plt.show()


def plot_costs(costs, xlabel, title):
    """The models' learning curve (skipped without matplotlib)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.plot(costs)
    plt.ylabel("cost")
    plt.xlabel(xlabel)
    plt.title(title)
    plt.show()


def scatter(X, y, **options):
    """The loaders' picture of a training set ``X : (m, 2)`` (skipped without matplotlib:
    the data are what matters)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.scatter(X[:, 0], X[:, 1], c=np.ravel(y), cmap=plt.cm.Spectral, **options)


# -- data ---------------------------------------------------------------------------------

def load_cat_dataset(path=None):
    """``(train_x, train_y, test_x, test_y, classes)`` with the images flattened to
    columns and divided by 255, from ``datasets/*_catvnoncat.h5`` or ``path``."""
    train_x, train_y, test_x, test_y, classes = _common.load_cat_files(path)
    train_x = train_x.reshape(train_x.shape[0], -1).T / 255
    test_x = test_x.reshape(test_x.shape[0], -1).T / 255
    return train_x, train_y, test_x, test_y, classes


def load_2D_dataset(path=None):
    """The "football" set from ``datasets/data.mat`` (relative to the working directory,
    as in the course) or ``path`` (the file or its directory): ``train_X (2, 211)``,
    ``train_Y (1, 211)`` uint8, ``test_X (2, 200)``, ``test_Y (1, 200)``."""
    path = os.path.join("datasets", "data.mat") if path is None else os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "data.mat")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"course data not found: no such file {os.path.abspath(path)}")
    import scipy.io
    data = scipy.io.loadmat(path)
    train_X, train_Y = data["X"].T, data["y"].T
    test_X, test_Y = data["Xval"].T, data["yval"].T
    scatter(train_X.T, train_Y, s=40)
    return train_X, train_Y, test_X, test_Y
