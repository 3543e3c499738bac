"""The course's step functions in deepjit.compat (dnn_app_utils_v3 and step_by_step):
compared with a plain-numpy transcription of the course's formulas (the oracle, below),
checked by central finite differences, and checked for the course's structures."""
import numpy as np
import pytest

from conftest import assert_rel
from deepjit.compat import dnn_app_utils_v3, step_by_step

MODULES = [dnn_app_utils_v3, step_by_step]
SHAPES = [([5, 3, 1], 1), ([5, 3, 1], 13), ([7, 4, 3, 1], 9), ([2, 1], 4)]


# -- the oracle: the course's formulas in plain numpy -------------------------------------

def o_sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def o_relu_backward(dA, Z):
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def o_sigmoid_backward(dA, Z):
    s = 1 / (1 + np.exp(-Z))
    return dA * s * (1 - s)


def o_linear_backward(dZ, A_prev, W):
    m = A_prev.shape[1]
    return np.dot(W.T, dZ), 1. / m * np.dot(dZ, A_prev.T), 1. / m * np.sum(dZ, axis=1,
                                                                           keepdims=True)


def o_forward(X, parameters):
    """Returns ``(AL, [(A_prev, Z) per layer])``."""
    L, A, layers = len(parameters) // 2, X, []
    for l in range(1, L + 1):
        Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
        layers.append((A, Z))
        A = o_sigmoid(Z) if l == L else np.maximum(0, Z)
    return A, layers


def o_cost(AL, Y):
    m = Y.shape[1]
    return np.squeeze((1. / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T)))


def o_backward(AL, Y, layers, parameters):
    L, grads = len(layers), {}
    dA = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    for l in range(L, 0, -1):
        A_prev, Z = layers[l - 1]
        dZ = o_sigmoid_backward(dA, Z) if l == L else o_relu_backward(dA, Z)
        dA, grads[f"dW{l}"], grads[f"db{l}"] = o_linear_backward(dZ, A_prev,
                                                                 parameters[f"W{l}"])
        grads[f"dA{l - 1}"] = dA
    return grads


def problem(dims, m, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
        params[f"b{l}"] = 0.3 * rng.standard_normal((dims[l], 1))
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return params, X, Y


# -- against the oracle -------------------------------------------------------------------

@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (20, 33)])
def test_activations_and_their_backward_match_the_course(module, shape):
    rng = np.random.default_rng(shape[0])
    Z, dA = 3 * rng.standard_normal(shape), rng.standard_normal(shape)
    A, cache = module.sigmoid(Z)
    assert cache is Z
    assert_rel(A, o_sigmoid(Z))
    A, cache = module.relu(Z)
    assert cache is Z
    np.testing.assert_array_equal(A, np.maximum(0, Z))
    np.testing.assert_array_equal(module.relu_backward(dA, Z), o_relu_backward(dA, Z))
    assert_rel(module.sigmoid_backward(dA, Z), o_sigmoid_backward(dA, Z))


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("dims, m", SHAPES)
def test_forward_matches_the_course_with_its_caches(module, dims, m):
    params, X, Y = problem(dims, m)
    AL, caches = module.L_model_forward(X, params)
    expected_AL, layers = o_forward(X, params)
    assert_rel(AL, expected_AL)
    assert isinstance(caches, list) and len(caches) == len(dims) - 1
    assert caches[0][0][0] is X
    for l, ((linear_cache, Z), (A_prev, expected_Z)) in enumerate(zip(caches, layers), 1):
        assert len(linear_cache) == 3
        assert linear_cache[1] is params[f"W{l}"] and linear_cache[2] is params[f"b{l}"]
        assert_rel(linear_cache[0], A_prev)
        assert_rel(Z, expected_Z)
    cost = module.compute_cost(AL, Y)
    assert isinstance(cost, np.ndarray) and cost.shape == ()
    assert_rel(cost, o_cost(expected_AL, Y))


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("dims, m", SHAPES)
def test_backward_matches_the_course(module, dims, m):
    params, X, Y = problem(dims, m, seed=1)
    AL, caches = module.L_model_forward(X, params)
    grads = module.L_model_backward(AL, Y, tuple(caches))   # a tuple works too
    expected_AL, layers = o_forward(X, params)
    expected = o_backward(expected_AL, Y, layers, params)
    L = len(dims) - 1
    assert list(grads) == [k for l in range(L, 0, -1) for k in (f"dA{l - 1}", f"dW{l}", f"db{l}")]
    for key in expected:
        assert grads[key].shape == expected[key].shape, key
        assert_rel(grads[key], expected[key])


@pytest.mark.parametrize("module", MODULES)
def test_linear_steps_match_the_course(module):
    rng = np.random.default_rng(5)
    A, W = rng.standard_normal((6, 11)), rng.standard_normal((4, 6))
    b = rng.standard_normal((4, 1))
    Z, cache = module.linear_forward(A, W, b)
    assert cache[0] is A and cache[1] is W and cache[2] is b
    assert_rel(Z, np.dot(W, A) + b)
    dZ = rng.standard_normal((4, 11))
    for got, want in zip(module.linear_backward(dZ, cache), o_linear_backward(dZ, A, W)):
        assert_rel(got, want)
    for activation, backward in (("relu", o_relu_backward), ("sigmoid", o_sigmoid_backward)):
        A_next, (linear_cache, Z_cache) = module.linear_activation_forward(A, W, b, activation)
        assert_rel(Z_cache, np.dot(W, A) + b)
        dA = rng.standard_normal(Z_cache.shape)
        got = module.linear_activation_backward(dA, (linear_cache, Z_cache), activation)
        want = o_linear_backward(backward(dA, Z_cache), A, W)
        for g, w in zip(got, want):
            assert_rel(g, w)


def test_unusual_inputs_give_the_course_results():
    """Non-contiguous views, float32, mixed dtypes and integer arrays (numpy fallback)."""
    f = dnn_app_utils_v3
    rng = np.random.default_rng(2)
    big = rng.standard_normal((12, 20))
    A, W, b = big[::2, ::3], rng.standard_normal((3, 6)).T.copy().T, rng.standard_normal((3, 1))
    assert_rel(f.linear_forward(A, W, b)[0], np.dot(W, A) + b)
    Z32 = rng.standard_normal((3, 5)).astype(np.float32)
    A32, _ = f.sigmoid(Z32)
    assert A32.dtype == np.float32
    np.testing.assert_allclose(A32, o_sigmoid(Z32), rtol=1e-6)
    mixed = f.linear_forward(A[:, :4], W.astype(np.float32), b)[0]
    assert mixed.dtype == np.float64
    Zi = np.array([[-2, 0, 3]])
    assert f.relu(Zi)[0].dtype == Zi.dtype
    np.testing.assert_array_equal(f.relu(Zi)[0], [[0, 0, 3]])
    np.testing.assert_array_equal(f.relu_backward(np.array([[1., 2., 3.]]), Zi), [[0, 0, 3.]])
    Zb = f.linear_forward(np.ones((2, 3)), np.ones((1, 2)), np.ones(1))[0]   # broadcast b
    np.testing.assert_array_equal(Zb, [[3., 3., 3.]])
    Zn, dAn = np.array([[np.nan, -1., 2.]]), np.array([[np.inf, np.inf, -np.inf]])
    np.testing.assert_array_equal(f.relu(Zn)[0], np.maximum(0, Zn))
    np.testing.assert_array_equal(f.relu_backward(dAn, Zn), o_relu_backward(dAn, Zn))
    np.testing.assert_array_equal(f.relu_backward(dAn[:, 1:], Zn[:, 1:]), [[0., -np.inf]])
    with pytest.raises(ValueError, match="activation"):
        f.linear_activation_forward(A, W, b, "tanh")


# -- finite differences ------------------------------------------------------------------

def central_difference(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + eps
        plus = float(f())
        x[idx] = saved - eps
        minus = float(f())
        x[idx] = saved
        g[idx] = (plus - minus) / (2 * eps)
    return g


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("dtype, labels", [(np.float64, np.int64), (np.float32, np.float32),
                                           (np.float32, np.float64)])
def test_a_learners_loop_gives_the_course_numbers_to_the_bit(layout, dtype, labels):
    """Forward, cost, backward (dA0 too) and update are the course's numpy results bit
    for bit (dtypes included), iteration after iteration, on sizes where every kernel
    runs and the big arrays are recycled (W1 has more than _common.BIG_RESULT
    elements)."""
    params, X, Y = problem([300, 240, 7, 1], 150, seed=6)
    params = {k: v.astype(dtype) for k, v in params.items()}
    X, Y = X.astype(dtype), Y.astype(labels)
    X = {"C": X, "F": np.asfortranarray(X), "strided": np.repeat(X, 2, axis=1)[:, ::2]}[layout]
    ours, rate = {k: v.copy() for k, v in params.items()}, 0.1
    for _ in range(3):
        want_AL, layers = o_forward(X, params)
        want = o_backward(want_AL, Y, layers, params)
        AL, caches = dnn_app_utils_v3.L_model_forward(X, ours)
        assert_bit_identical(AL, want_AL)
        assert_bit_identical(dnn_app_utils_v3.compute_cost(AL, Y), o_cost(want_AL, Y))
        grads = dnn_app_utils_v3.L_model_backward(AL, Y, caches)
        for key in want:
            assert_bit_identical(grads[key], want[key])
        ours = dnn_app_utils_v3.update_parameters(ours, grads, rate)
        params = {k: params[k] - rate * want["d" + k] for k in params}
        for key in params:
            assert_bit_identical(ours[key], params[key])


def assert_bit_identical(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("dims, m", [([4, 3, 1], 1), ([5, 4, 3, 1], 8), ([3, 1], 5)])
def test_L_model_backward_is_the_gradient_of_compute_cost(dims, m):
    f = dnn_app_utils_v3
    params, X, Y = problem(dims, m, seed=3)

    def cost():
        return f.compute_cost(f.L_model_forward(X, params)[0], Y)

    AL, caches = f.L_model_forward(X, params)
    grads = f.L_model_backward(AL, Y, caches)
    for key, value in params.items():
        np.testing.assert_allclose(grads["d" + key], central_difference(cost, value),
                                   rtol=1e-5, atol=1e-8, err_msg=key)
    # dA0 is m times the gradient of the mean cost with respect to X
    np.testing.assert_allclose(grads["dA0"] / m, central_difference(cost, X), rtol=1e-5,
                               atol=1e-8)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_layer_backward_is_the_gradient_of_its_forward(activation):
    """For J = 1/m sum(dA * g(W A + b)): dW, db are its gradients and dA_prev / m."""
    f = dnn_app_utils_v3
    rng = np.random.default_rng(4)
    A, W, b = rng.standard_normal((4, 6)), rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    dA = rng.standard_normal((3, 6))

    def J():
        return np.sum(dA * f.linear_activation_forward(A, W, b, activation)[0]) / 6

    cache = f.linear_activation_forward(A, W, b, activation)[1]
    dA_prev, dW, db = f.linear_activation_backward(dA, cache, activation)
    np.testing.assert_allclose(dW, central_difference(J, W), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(db, central_difference(J, b), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dA_prev / 6, central_difference(J, A), rtol=1e-6, atol=1e-9)


# -- initialisation and updates ----------------------------------------------------------

def test_initializers_draw_from_the_seeded_global_generator(global_random_state):
    rs = np.random.RandomState(1)
    p = dnn_app_utils_v3.initialize_parameters(3, 2, 1)
    np.testing.assert_array_equal(p["W1"], rs.randn(2, 3) * 0.01)
    np.testing.assert_array_equal(p["W2"], rs.randn(1, 2) * 0.01)
    assert list(p) == ["W1", "b1", "W2", "b2"] and not p["b1"].any() and p["b2"].shape == (1, 1)
    assert np.random.randn() == rs.randn()          # the global state moved on as the course's
    rs = np.random.RandomState(1)
    p = dnn_app_utils_v3.initialize_parameters_deep([5, 4, 3])
    np.testing.assert_array_equal(p["W1"], rs.randn(4, 5) / np.sqrt(5))
    np.testing.assert_array_equal(p["W2"], rs.randn(3, 4) / np.sqrt(4))
    rs = np.random.RandomState(3)
    p = step_by_step.initialize_parameters_deep([5, 4, 3])
    np.testing.assert_array_equal(p["W1"], rs.randn(4, 5) * 0.01)
    np.testing.assert_array_equal(p["W2"], rs.randn(3, 4) * 0.01)
    assert list(p) == ["W1", "b1", "W2", "b2"] and p["b2"].shape == (3, 1)


def test_update_parameters_in_place_for_the_helper_file_and_a_copy_for_the_notebook():
    params, _, _ = problem([3, 2, 1], 1)
    grads = {"d" + k: np.ones_like(v) for k, v in params.items()}
    original = {k: v.copy() for k, v in params.items()}
    new = step_by_step.update_parameters(params, grads, 0.5)
    assert new is not params
    for k in params:
        np.testing.assert_array_equal(params[k], original[k])
        np.testing.assert_array_equal(new[k], original[k] - 0.5)
    same = dnn_app_utils_v3.update_parameters(params, grads, 0.5)
    assert same is params
    for k in params:
        np.testing.assert_array_equal(params[k], original[k] - 0.5)


def test_predict_prints_the_accuracy_and_returns_floats(capsys):
    params, X, Y = problem([4, 3, 1], 10, seed=7)
    p = dnn_app_utils_v3.predict(X, Y, params)
    AL = o_forward(X, params)[0]
    assert p.shape == (1, 10) and p.dtype == np.float64
    np.testing.assert_array_equal(p, (AL > 0.5).astype(float))
    assert capsys.readouterr().out == f"Accuracy: {np.sum((p == Y) / 10)}\n"


def test_pictures_draw_with_matplotlib():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rng = np.random.default_rng(0)
    X = rng.random((64 * 64 * 3, 4))
    y, p = np.array([[1, 0, 1, 0]]), np.array([[1., 1., 0., 0.]])
    plt.close("all")                 # as the course, it draws into the current figure
    dnn_app_utils_v3.print_mislabeled_images(np.array([b"non-cat", b"cat"]), X, y, p)
    assert len(plt.gcf().axes) == 2
    plt.close("all")
    dnn_app_utils_v3.plot_costs([np.array(0.7), np.array(0.5)], 0.01)
    assert plt.gca().get_title() == "Learning rate =0.01"
    plt.close("all")


def test_star_import_gives_the_course_names_only():
    namespace = {}
    exec("from deepjit.compat.dnn_app_utils_v3 import *", namespace)
    assert {"L_layer_model", "two_layer_model", "L_model_backward", "load_data",
            "predict", "print_mislabeled_images"} <= set(namespace)
    assert "np" not in namespace and "_common" not in namespace
