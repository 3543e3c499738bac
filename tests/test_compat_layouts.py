"""Every deepjit.compat step function on inputs in any memory layout (C- and
Fortran-ordered, non-contiguous, reversed), against the plain-numpy oracles of the course's
formulas, at sizes on both sides of the kernels' small-array limits; the deferred dA0;
and real-valued labels, which the course's training functions accept."""
import copy
import pickle

import numpy as np
import pytest

from conftest import assert_rel
from deepjit.compat import _common, dnn_app_utils_v3 as dnn, lr_utils, planar_utils as pu
from test_compat_dnn import assert_same_run, expected_deep
from test_compat_lr import course_optimize
from test_compat_planar import course_nn_model
from test_compat_steps import (o_backward, o_cost, o_forward, o_linear_backward,
                               o_relu_backward, o_sigmoid, o_sigmoid_backward, problem)


def wide(a):
    out = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)
    out[:, ::2] = a
    return out[:, ::2]


def reversed_view(a):
    return np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]


LAYOUTS = {"C": np.ascontiguousarray, "F": np.asfortranarray, "strided": wide,
           "reversed": reversed_view}
SIZES = [(3, 7), (5, 300)]     # below and above the kernels' small-array limits


def laid(layout, *arrays):
    out = [LAYOUTS[layout](a) for a in arrays]
    for a, b in zip(arrays, out):
        np.testing.assert_array_equal(a, b)
    return out


# -- week 4 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SIZES)
def test_activations_in_any_layout(layout, shape):
    rng = np.random.default_rng(1)
    Z, dA = 3 * rng.standard_normal(shape), rng.standard_normal(shape)
    Z[0, :2] = [0.0, np.nan]      # the course's gradient keeps dA where Z is NaN
    Zl, dAl = laid(layout, Z, dA)
    assert_rel(dnn.sigmoid(Zl)[0][1:], o_sigmoid(Z)[1:])
    np.testing.assert_array_equal(dnn.relu(Zl)[0], np.maximum(0, Z))
    np.testing.assert_array_equal(dnn.relu_backward(dAl, Zl), o_relu_backward(dA, Z))
    assert_rel(dnn.sigmoid_backward(dAl, Zl)[1:], o_sigmoid_backward(dA, Z)[1:])
    for mixed in ((dAl, Z), (dA, Zl)):      # the two in different layouts
        np.testing.assert_array_equal(dnn.relu_backward(*mixed), o_relu_backward(dA, Z))
        assert_rel(dnn.sigmoid_backward(*mixed)[1:], o_sigmoid_backward(dA, Z)[1:])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("m", [4, 300])
def test_layer_steps_in_any_layout(layout, m):
    rng = np.random.default_rng(2)
    A, W, b = rng.standard_normal((6, m)), rng.standard_normal((4, 6)), rng.standard_normal((4, 1))
    dZ = rng.standard_normal((4, m))
    Al, Wl, bl, dZl = laid(layout, A, W, b, dZ)
    Z, cache = dnn.linear_forward(Al, Wl, bl)
    assert cache[0] is Al and cache[1] is Wl and cache[2] is bl
    assert_rel(Z, np.dot(W, A) + b)
    for got, want in zip(dnn.linear_backward(dZl, cache), o_linear_backward(dZ, A, W)):
        assert_rel(got, want)
    for activation, g, backward in (("relu", lambda Z: np.maximum(0, Z), o_relu_backward),
                                    ("sigmoid", o_sigmoid, o_sigmoid_backward)):
        A_next, (linear_cache, Z_cache) = dnn.linear_activation_forward(Al, Wl, bl, activation)
        assert_rel(Z_cache, np.dot(W, A) + b)
        assert_rel(A_next, g(np.dot(W, A) + b))
        got = dnn.linear_activation_backward(dZl, (linear_cache, LAYOUTS[layout](Z_cache)),
                                             activation)
        for g_, w_ in zip(got, o_linear_backward(backward(dZ, Z_cache), A, W)):
            assert_rel(g_, w_)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dims, m", [([5, 3, 1], 9), ([40, 30, 7, 1], 300), ([8, 1], 200)])
def test_whole_passes_and_update_in_any_layout(layout, dims, m):
    params, X, Y = problem(dims, m)
    laid_params = {k: LAYOUTS[layout](v) for k, v in params.items()}
    Xl, Yl = laid(layout, X, Y)
    AL, caches = dnn.L_model_forward(Xl, laid_params)
    want_AL, layers = o_forward(X, params)
    assert_rel(AL, want_AL)
    assert_rel(dnn.compute_cost(AL, Yl), o_cost(want_AL, Y))
    grads = dnn.L_model_backward(AL, Yl, caches)
    want = o_backward(want_AL, Y, layers, params)
    for key in want:
        assert_rel(grads[key], want[key])
    laid_grads = {k: LAYOUTS[layout](v) for k, v in want.items()}
    new = dnn.update_parameters(dict(laid_params), laid_grads, 0.3)
    for key in params:
        assert_rel(new[key], params[key] - 0.3 * want["d" + key])


@pytest.mark.parametrize("dims", [[6, 4, 1], [4096, 20, 1]])   # the second: a big W1
def test_dA0_is_computed_on_first_read_from_the_weights_of_the_backward_pass(dims):
    params, X, Y = problem(dims, 50, seed=3)
    AL, caches = dnn.L_model_forward(X, params)
    grads = dnn.L_model_backward(AL, Y, caches)
    assert "dA0" in grads and grads._pending
    want_AL, layers = o_forward(X, params)
    want = o_backward(want_AL, Y, layers, params)
    params["W1"] -= 0.5              # a learner's in-place update before reading dA0
    assert_rel(grads["dA0"], want["dA0"])
    assert not grads._pending


@pytest.mark.parametrize("read", [dict, lambda g: {**g}, copy.deepcopy, copy.copy,
                                  lambda g: pickle.loads(pickle.dumps(g)),
                                  lambda g: dict(g.items()), lambda g: dict(zip(g, g.values())),
                                  lambda g: {k: g.get(k) for k in list(g.keys())}])
def test_every_way_of_reading_the_gradients_sees_dA0(read):
    params, X, Y = problem([6, 4, 1], 5, seed=4)
    AL, caches = dnn.L_model_forward(X, params)
    values = read(dnn.L_model_backward(AL, Y, caches))
    want_AL, layers = o_forward(X, params)
    want = o_backward(want_AL, Y, layers, params)
    assert list(values) == ["dA1", "dW2", "db2", "dA0", "dW1", "db1"]
    for key in want:
        assert_rel(values[key], want[key])


def test_big_results_are_handed_out_again_only_once_nobody_holds_them():
    recycler, dtype = _common._Recycler(keep=4), np.dtype(np.float64)
    shape = (300, 300)                                  # above _common.BIG_RESULT
    first = recycler.empty(shape, dtype)
    first[...] = 1
    address = first.ctypes.data
    second = recycler.empty(shape, dtype)
    assert not np.shares_memory(first, second)
    view = first[1:]
    del first                                           # a view still holds it
    third = recycler.empty(shape, dtype)
    assert not np.shares_memory(third, view) and (view == 1).all()
    del view
    assert recycler.empty(shape, dtype).ctypes.data == address     # now free: reused
    assert recycler.empty(shape, dtype, fortran=True).flags.f_contiguous
    assert recycler.empty((3, 3), dtype) is not recycler.empty((3, 3), dtype)  # small: new


def test_the_recycled_arrays_are_bounded_in_number_and_bytes(monkeypatch):
    monkeypatch.setattr(_common, "RECYCLED_BYTES", 3 * 300 * 300 * 8)
    recycler, dtype = _common._Recycler(keep=4), np.dtype(np.float64)
    held = [recycler.empty((300, 300), dtype) for _ in range(5)]
    assert sum(a.nbytes for a in recycler._arrays) <= _common.RECYCLED_BYTES
    held += [recycler.empty((257, 257), dtype) for _ in range(5)]
    assert len(recycler._arrays) <= 4


def test_arrays_a_learner_keeps_never_change_under_later_steps():
    params, X, Y = problem([300, 240, 7, 1], 40, seed=8)
    kept = []
    for _ in range(4):
        AL, caches = dnn.L_model_forward(X, params)
        grads = dnn.L_model_backward(AL, Y, caches)
        kept.append([(a, a.copy()) for a in list(params.values()) + list(grads.values())])
        params = dnn.update_parameters(dict(params), grads, 0.1)
    for arrays in kept:
        for array, saved in arrays:
            np.testing.assert_array_equal(array, saved)


def test_gradients_repr_and_overwrite():
    grads = _common.Gradients()
    grads.defer("dA0", lambda: pytest.fail("an overwritten value must not be computed"))
    grads["dA0"] = 1.0
    assert repr(grads) == "{'dA0': 1.0}"
    grads.defer("dA0", lambda: 2.0)
    assert repr(grads) == "{'dA0': 2.0}" and grads == {"dA0": 2.0}


# -- weeks 2 and 3 ---------------------------------------------------------------------------

def course_propagate(w, b, X, Y):
    m = X.shape[1]
    A = 1 / (1 + np.exp(-(np.dot(w.T, X) + b)))
    cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    return 1 / m * np.dot(X, (A - Y).T), 1 / m * np.sum(A - Y), cost


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("labels", ["int", "float", "real"])
def test_propagate_in_any_layout(layout, labels):
    rng = np.random.default_rng(5)
    X, w = rng.random((50, 30)), 0.1 * rng.standard_normal((50, 1))
    Y = {"int": (rng.random((1, 30)) < 0.5).astype(np.int64),
         "float": (rng.random((1, 30)) < 0.5) * 1.0, "real": rng.random((1, 30))}[labels]
    Xl, wl, Yl = laid(layout, X, w, Y)
    grads, cost = lr_utils.propagate(wl, 0.25, Xl, Yl)
    dw, db, want_cost = course_propagate(w, 0.25, X, Y)
    assert grads["dw"].shape == (50, 1) and isinstance(grads["db"], float)
    assert_rel(grads["dw"], dw)
    assert grads["db"] == pytest.approx(db, rel=1e-12, abs=1e-15)
    assert cost.shape == () and cost == pytest.approx(want_cost, rel=1e-12)
    assert_rel(lr_utils.sigmoid(Xl), o_sigmoid(X))


def course_planar(X, Y, p):
    m = X.shape[1]
    A1 = np.tanh(np.dot(p["W1"], X) + p["b1"])
    Z2 = np.dot(p["W2"], A1) + p["b2"]
    A2 = o_sigmoid(Z2)
    dZ2 = A2 - Y
    dZ1 = np.multiply(np.dot(p["W2"].T, dZ2), 1 - np.power(A1, 2))
    cost = -np.sum(np.log(A2) * Y + np.log(1 - A2) * (1 - Y)) / m
    grads = {"dW1": np.dot(dZ1, X.T) / m, "db1": np.sum(dZ1, axis=1, keepdims=True) / m,
             "dW2": np.dot(dZ2, A1.T) / m, "db2": np.sum(dZ2, axis=1, keepdims=True) / m}
    return A1, A2, cost, grads


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n_h, m", [(4, 9), (6, 400)])
def test_planar_steps_in_any_layout(layout, n_h, m):
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((2, m)), (rng.random((1, m)) < 0.5).astype(np.uint8)
    p = {"W1": rng.standard_normal((n_h, 2)), "b1": rng.standard_normal((n_h, 1)),
         "W2": rng.standard_normal((1, n_h)), "b2": rng.standard_normal((1, 1))}
    pl = {k: LAYOUTS[layout](v) for k, v in p.items()}
    Xl, Yl = laid(layout, X, Y)
    A1, A2, cost, grads = course_planar(X, Y, p)
    got_A2, cache = pu.forward_propagation(Xl, pl)
    assert_rel(got_A2, A2)
    assert_rel(cache["A1"], A1)
    assert pu.compute_cost(LAYOUTS[layout](A2), Yl) == pytest.approx(cost, rel=1e-12)
    laid_cache = {k: LAYOUTS[layout](v) for k, v in cache.items()}
    got = pu.backward_propagation(pl, laid_cache, Xl, Yl)
    for key in grads:
        assert_rel(got[key], grads[key])
    new = pu.update_parameters(pl, {k: LAYOUTS[layout](v) for k, v in grads.items()})
    for key in p:
        assert_rel(new[key], p[key] - 1.2 * grads["d" + key])


# -- real-valued labels, as the course's checks draw them ------------------------------------

def real_labels(n_x=4, m=9, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n_x, m), rng.randn(1, m)


def test_deep_models_train_on_real_valued_labels(global_random_state, capsys):
    X, Y = real_labels()
    got = dnn.L_layer_model(X, Y, [4, 3, 1], 0.01, 30)
    assert_same_run(got, expected_deep(X, Y, [4, 3, 1], 0.01, 30))
    got = dnn.two_layer_model(X, Y, (4, 3, 1), 0.01, 30)
    assert_same_run(got, expected_deep(X, Y, (4, 3, 1), 0.01, 30, scale=0.01))


def test_nn_model_trains_on_real_valued_labels(global_random_state):
    X, Y = real_labels(2, 30)
    got, want = pu.nn_model(X, Y, 3, 50), course_nn_model(X, Y, 3, 50)
    for key in want:
        assert_rel(got[key], want[key], rtol=1e-10)


def test_optimize_and_model_train_on_real_valued_labels(capsys):
    X, Y = real_labels(5, 20)
    w = np.zeros((5, 1))
    params, grads, costs = lr_utils.optimize(w, 0.0, X, Y, 150, 0.1)
    want_params, want_grads, want_costs = course_optimize(w, 0.0, X, Y, 150, 0.1)
    assert_rel(params["w"], want_params["w"], rtol=1e-10)
    np.testing.assert_allclose(np.array(costs, dtype=float), want_costs, rtol=1e-10)
    d = lr_utils.model(X, Y, X, Y, 150, 0.1)
    assert_rel(d["w"], want_params["w"], rtol=1e-10)


def test_model_keeps_its_label_check():
    from deepjit import Model
    X, Y = real_labels()
    with pytest.raises(ValueError, match="0 or 1"):
        Model([4, 3, 1]).fit(X, Y, 0.1, 2)
