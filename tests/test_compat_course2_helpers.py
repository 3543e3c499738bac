"""deepjit.compat's second-course helper modules: the published unit numbers of the four
notebooks (their test cases rebuilt from the course's seeds and shapes; that they are
the course's is shown by every published digit matching), the data, and the course's
formulas on other layouts and sizes."""
import copy
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_rel
from deepjit import datasets
from deepjit.compat import gc_utils as gc
from deepjit.compat import init_utils as init
from deepjit.compat import opt_utils_v1a as opt
from deepjit.compat import reg_utils as reg

NET_SHAPES = (("W1", (2, 3)), ("b1", (2, 1)), ("W2", (3, 2)), ("b2", (3, 1)), ("W3", (1, 3)),
              ("b3", (1, 1)))


@pytest.fixture(autouse=True)
def _restore_random_state(global_random_state):
    yield


def draw(shapes):
    return {key: np.random.randn(*shape) for key, shape in shapes}


# -- data ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 7, 100, 300, 301])
@pytest.mark.parametrize("noise", [None, 0.05, 0.2])
def test_circles_and_moons_match_scikit_learn_bit_for_bit(n, noise):
    skd = pytest.importorskip("sklearn.datasets")
    for ours, theirs in ((datasets.draw_circles, skd.make_circles),
                         (datasets.draw_moons, skd.make_moons)):
        np.random.seed(n)
        X, y = ours(np.random, n, noise)
        after_ours = np.random.rand()
        np.random.seed(n)
        X_sk, y_sk = theirs(n_samples=n, noise=noise)
        assert np.array_equal(X, X_sk) and np.array_equal(y, y_sk) and y.dtype == y_sk.dtype
        assert np.random.rand() == after_ours       # the same draws from the global state


def test_load_dataset_circles_and_moons():
    train_X, train_Y, test_X, test_Y = init.load_dataset()
    assert (train_X.shape, train_Y.shape, test_X.shape, test_Y.shape) == (
        (2, 300), (1, 300), (2, 100), (1, 100))
    assert train_X.dtype == np.float64 and train_Y.dtype == np.int64
    np.testing.assert_allclose(train_X[:, 0], [-0.07741354, 0.85260226], atol=5e-9)
    assert train_Y[0, 0] == 1
    X, Y = opt.load_dataset()
    assert X.shape == (2, 300) and Y.shape == (1, 300) and Y.dtype == np.int64
    np.testing.assert_allclose(X[:, 0], [-0.21687013, 1.01544937], atol=5e-9)


def test_load_2D_dataset(football):
    for module in (reg, opt):
        train_X, train_Y, test_X, test_Y = module.load_2D_dataset(football)
        assert (train_X.shape, train_Y.shape, test_X.shape, test_Y.shape) == (
            (2, 211), (1, 211), (2, 200), (1, 200))
        assert train_Y.dtype == np.uint8 and train_Y.sum() == 106 and test_Y.sum() == 87
        np.testing.assert_allclose(train_X[:, 0], [-0.158986, 0.423977], atol=5e-7)
        np.testing.assert_allclose(test_X[:, 0], [-0.35306235, -0.67390181], atol=5e-9)
        assert (train_Y[0, 0], test_Y[0, 0]) == (1, 0)
    assert reg.load_2D_dataset(football.parent)[0].shape == (2, 211)


def test_load_2D_dataset_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.mat"):
        reg.load_2D_dataset(tmp_path)


def test_importing_the_modules_needs_no_plotting_or_file_libraries():
    code = ("import sys; import deepjit.compat.init_utils, deepjit.compat.reg_utils, "
            "deepjit.compat.gc_utils, deepjit.compat.opt_utils_v1a; "
            "print([m for m in ('matplotlib', 'h5py', 'sklearn', 'scipy.io') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# -- W1A1 ------------------------------------------------------------------------------------

def test_initializers_published():
    zeros = init.initialize_parameters_zeros([3, 2, 1])
    assert {k: v.shape for k, v in zeros.items()} == {"W1": (2, 3), "b1": (2, 1), "W2": (1, 2),
                                                      "b2": (1, 1)}
    assert all(not v.any() for v in zeros.values())
    random = init.initialize_parameters_random([3, 2, 1])
    np.testing.assert_allclose(random["W1"], [[17.88628473, 4.36509851, 0.96497468],
                                              [-18.63492703, -2.77388203, -3.54758979]],
                               atol=5e-9)
    np.testing.assert_allclose(random["W2"], [[-0.82741481, -6.27000677]], atol=5e-9)
    he = init.initialize_parameters_he([2, 4, 1])
    np.testing.assert_allclose(he["W1"], [[1.78862847, 0.43650985], [0.09649747, -1.8634927],
                                          [-0.2773882, -0.35475898],
                                          [-0.08274148, -0.62700068]], atol=5e-9)
    np.testing.assert_allclose(he["W2"], [[-0.03098412, -0.33744411, -0.92904268,
                                           0.62552248]], atol=5e-9)
    assert not random["b1"].any() and not he["b2"].any()


def test_predict_returns_int64_and_prints_the_accuracy(capsys):
    np.random.seed(0)
    X, y = np.random.randn(2, 9), (np.random.rand(1, 9) > 0.5).astype(np.int64)
    parameters = init.initialize_parameters_he([2, 10, 5, 1])
    for module in (init, reg, opt):
        p = module.predict(X, y, parameters)
        a3 = module.forward_propagation(X, parameters)[0]
        assert p.dtype == np.int64 and p.shape == (1, 9)
        assert np.array_equal(p, (a3 > 0.5).astype(np.int64))
        assert capsys.readouterr().out == "Accuracy: " + str(np.mean(p[0] == y[0])) + "\n"
        assert np.array_equal(module.predict_dec(parameters, X), a3 > 0.5)


# -- W1A2 ------------------------------------------------------------------------------------

def test_compute_cost_with_regularization_published():
    np.random.seed(1)
    Y = np.array([[1, 1, 0, 1, 0]])
    parameters = draw(NET_SHAPES)
    a3 = np.array([[0.40682402, 0.01629284, 0.16722898, 0.10118111, 0.40682402]])
    assert reg.compute_cost_with_regularization(a3, Y, parameters, 0.1) == 1.7864859451590758


def reg_case():
    np.random.seed(1)
    X = np.random.randn(3, 5)
    return X, np.array([[1, 1, 0, 1, 0]]), draw(NET_SHAPES)


def test_backward_propagation_with_regularization_published():
    X, Y, parameters = reg_case()
    a3, cache = reg.forward_propagation(X, parameters)
    grads = reg.backward_propagation_with_regularization(X, Y, cache, 0.7)
    np.testing.assert_allclose(grads["dW1"], [[-0.25604646, 0.12298827, -0.28297129],
                                              [-0.17706303, 0.34536094, -0.4410571]], atol=5e-9)
    np.testing.assert_allclose(grads["dW2"], [[0.79276486, 0.85133918], [-0.0957219, -0.01720463],
                                              [-0.13100772, -0.03750433]], atol=5e-9)
    np.testing.assert_allclose(grads["dW3"], [[-1.77691347, -0.11832879, -0.09397446]],
                               atol=5e-9)
    plain = reg.backward_propagation(X, Y, cache)
    assert list(grads) == list(plain) == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2",
                                          "dA1", "dZ1", "dW1", "db1"]
    for l in (1, 2, 3):
        assert_rel(grads[f"dW{l}"], plain[f"dW{l}"] + 0.7 / 5 * parameters[f"W{l}"])


def test_dropout_published():
    X, Y, parameters = reg_case()
    A3, cache = reg.forward_propagation_with_dropout(X, parameters, 0.7)
    np.testing.assert_allclose(A3, [[0.36974721, 0.00305176, 0.04565099, 0.49683389,
                                     0.36974721]], atol=5e-9)
    assert len(cache) == 14 and cache[1].dtype == bool
    # the course's test case: the cache of the default keep_prob (0.5), printed to 8 digits
    A3, cache = reg.forward_propagation_with_dropout(X, parameters)
    grads = reg.backward_propagation_with_dropout(X, Y, cache, 0.8)
    np.testing.assert_allclose(grads["dA1"], [[0.36544439, 0., -0.00188233, 0., -0.17408748],
                                              [0.65515713, 0., -0.00337459, 0., -0.]], atol=2e-8)
    np.testing.assert_allclose(grads["dA2"], [[0.58180856, 0., -0.00299679, 0., -0.27715731],
                                              [0., 0.53159854, -0., 0.53159854, -0.34089673],
                                              [0., 0., -0.00292733, 0., -0.]], atol=2e-8)


def test_dropout_reseeds_and_draws_like_the_notebook():
    X, Y, parameters = reg_case()
    A3, cache = reg.forward_propagation_with_dropout(X, parameters, 0.6)
    np.random.seed(1)
    D1 = np.random.rand(2, 5) < 0.6
    D2 = np.random.rand(3, 5) < 0.6
    after = np.random.rand()
    assert np.array_equal(cache[1], D1) and np.array_equal(cache[6], D2)
    reg.forward_propagation_with_dropout(X, parameters, 0.6)
    assert np.random.rand() == after


# -- W1A3 ------------------------------------------------------------------------------------

def test_one_dimensional_gradient_check_published(capsys):
    assert gc.forward_propagation(2, 4) == 8 and gc.backward_propagation(3, 4) == 3
    assert gc.gradient_check(3, 4, print_msg=True) == 7.814075313343006e-11
    assert capsys.readouterr().out == ("\033[92mYour backward propagation works perfectly fine! "
                                       "difference = 7.814075313343006e-11\033[0m\n")
    assert gc.gradient_check(2, 4) == 2.919335883291695e-10


def gc_case():
    np.random.seed(1)
    X = np.random.randn(4, 3)
    Y = np.array([1, 1, 0])
    shapes = (("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)), ("b2", (3, 1)), ("W3", (1, 3)),
              ("b3", (1, 1)))
    return X, Y, draw(shapes)


def test_gradient_check_n_published(capsys):
    X, Y, parameters = gc_case()
    cost, cache = gc.forward_propagation_n(X, Y, parameters)
    buggy = gc.backward_propagation_n(X, Y, cache, with_course_bugs=True)
    difference = gc.gradient_check_n(parameters, buggy, X, Y, 1e-7, True)
    assert difference == 0.2850931567761623 and not isinstance(difference, np.ndarray)
    assert capsys.readouterr().out == ("\033[93mThere is a mistake in the backward propagation! "
                                       "difference = 0.2850931567761623\033[0m\n")
    fixed = gc.backward_propagation_n(X, Y, cache)
    assert gc.gradient_check_n(parameters, fixed, X, Y) == 1.1890913024229996e-07
    assert_rel(buggy["dW2"], 2 * fixed["dW2"])
    assert_rel(buggy["db1"], 4 * fixed["db1"])


def test_vector_helpers_round_trip_any_sizes():
    X, Y, parameters = gc_case()
    theta, keys = gc.dictionary_to_vector(parameters)
    assert theta.shape == (47, 1) and keys[:20] == ["W1"] * 20 and keys[46] == "b3"
    back = gc.vector_to_dictionary(theta)
    assert all(np.array_equal(back[k], parameters[k]) for k in parameters)
    rng = np.random.default_rng(3)
    dims = [6, 4, 7, 2, 1]
    params = {f"{n}{l}": rng.standard_normal((dims[l], dims[l - 1] if n == "W" else 1))
              for l in range(1, 5) for n in ("W", "b")}
    theta, keys = gc.dictionary_to_vector(params)
    assert theta.shape == (sum(dims[l] * (dims[l - 1] + 1) for l in range(1, 5)), 1)
    back = gc.vector_to_dictionary(theta, dims)
    assert all(np.array_equal(back[k], params[k]) for k in params)
    grads = {"d" + k: v for k, v in params.items()}
    assert np.array_equal(gc.gradients_to_vector(grads), theta)
    with pytest.raises(ValueError, match="layer_dims"):
        gc.vector_to_dictionary(theta)


def test_gradient_check_n_any_depth():
    rng = np.random.default_rng(4)
    dims = [3, 6, 5, 4, 1]
    params = {f"{n}{l}": rng.standard_normal((dims[l], dims[l - 1] if n == "W" else 1))
              for l in range(1, 5) for n in ("W", "b")}
    X, Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) > 0.5).astype(float)
    cost, cache = gc.forward_propagation_n(X, Y, params)
    assert len(cache) == 16
    grads = gc.backward_propagation_n(X, Y, cache)
    assert gc.gradient_check_n(params, grads, X, Y) < 1e-6
    grads["dW3"] = grads["dW3"] * 1.01
    assert gc.gradient_check_n(params, grads, X, Y) > 1e-4


# -- W2A1 ------------------------------------------------------------------------------------

def opt_case():
    np.random.seed(1)
    shapes = ((2, 3), (2, 1), (3, 2), (3, 1)) * 2
    W1, b1, W2, b2, dW1, db1, dW2, db2 = (np.random.randn(*s) for s in shapes)
    return ({"W1": W1, "b1": b1, "W2": W2, "b2": b2},
            {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2})


PUBLISHED_GD = {"W1": [[1.63312395, -0.61217855, -0.5339999], [-1.06196243, 0.85396039, -2.3105546]],
                "b1": [[1.73978682], [-0.77021546]],
                "W2": [[0.32587637, -0.24814147], [1.47146563, -2.05746183],
                       [-0.32772076, -0.37713775]],
                "b2": [[1.13773698], [-1.09301954], [-0.16397615]]}
PUBLISHED_MOMENTUM = {"W1": [[1.62522322, -0.61179863, -0.52875457], [-1.071868, 0.86426291, -2.30244029]],
                      "b1": [[1.74430927], [-0.76210776]],
                      "W2": [[0.31972282, -0.24924749], [1.46304371, -2.05987282],
                             [-0.32294756, -0.38336269]],
                      "b2": [[1.1341662], [-1.09920409], [-0.171583]],
                      "dW1": [[-0.08778584, 0.00422137, 0.05828152], [-0.11006192, 0.11447237, 0.09015907]],
                      "db1": [[0.05024943], [0.09008559]],
                      "dW2": [[-0.06837279, -0.01228902], [-0.09357694, -0.02678881],
                              [0.05303555, -0.06916608]],
                      "db2": [[-0.03967535], [-0.06871727], [-0.08452056]]}
PUBLISHED_ADAM = {"W1": [[1.63937725, -0.62327448, -0.54308727], [-1.0578897, 0.85032154, -2.31657668]],
                  "W2": [[0.33400549, -0.23563857], [1.47715417, -2.04561842],
                         [-0.33729882, -0.36908457]],
                  "b1": [[1.72995096], [-0.7762447]],
                  "b2": [[1.14852557], [-1.08492339], [-0.15740527]]}


def assert_published(actual, published):
    for key, value in published.items():
        np.testing.assert_allclose(actual[key], value, atol=5e-9, err_msg=key)


def test_update_rules_published():
    parameters, grads = opt_case()
    assert_published(opt.update_parameters_with_gd(copy.deepcopy(parameters), grads, 0.01),
                     PUBLISHED_GD)
    v = opt.initialize_velocity(parameters)
    assert sorted(v) == ["dW1", "dW2", "db1", "db2"] and not any(x.any() for x in v.values())
    new, v = opt.update_parameters_with_momentum(copy.deepcopy(parameters), grads, v, 0.9, 0.01)
    assert_published({**new, **v}, PUBLISHED_MOMENTUM)
    v, s = opt.initialize_adam(parameters)
    out = opt.update_parameters_with_adam(copy.deepcopy(parameters), grads, v, s, 2, 0.02,
                                          0.8, 0.888, 1e-2)
    assert len(out) == 5
    assert_published(out[0], PUBLISHED_ADAM)
    assert_rel(out[3]["dW1"], out[1]["dW1"] / (1 - 0.8 ** 2))


def test_load_params_and_grads_draws_in_order():
    W1, b1, W2, b2, dW1, db1, dW2, db2 = opt.load_params_and_grads()
    np.random.seed(1)
    assert np.array_equal(W1, np.random.randn(2, 3)) and W2.shape == (3, 3)
    assert db2.shape == (3, 1)


def test_random_mini_batches_published():
    np.random.seed(1)
    X = np.random.randn(12288, 148)
    Y = np.random.randn(1, 148) < 0.5
    batches = opt.random_mini_batches(X, Y, 64)
    assert [b[0].shape for b in batches] == [(12288, 64), (12288, 64), (12288, 20)]
    assert [b[1].shape for b in batches] == [(1, 64), (1, 64), (1, 20)]
    np.testing.assert_allclose(batches[0][0][0][0:3], [0.90085595, -0.7612069, 0.2344157],
                               atol=5e-9)
    np.random.seed(1)
    X = np.array(range(12288 * 148)).reshape((148, 12288)).T
    Y = np.random.randn(1, 148) < 0.5
    batches = opt.random_mini_batches(X, Y, 64)
    assert list(batches[0][0][0][0:3]) == [294912, 86016, 454656]
    assert list(batches[-1][0][-1][0:3]) == [1425407, 1769471, 897023]
    assert len(opt.random_mini_batches(X, Y, 74)) == 2


def test_learning_rate_decay_published():
    assert opt.update_lr(0.5, 2, 1) == 0.16666666666666666
    assert opt.schedule_lr_decay(0.5, 10, 0.3, 100) == 0.5
    assert opt.schedule_lr_decay(0.5, 100, 0.3, 100) == 0.3846153846153846
    assert opt.schedule_lr_decay(0.1, 1999, 1) == 0.05


# -- any memory layout -----------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_step_functions_on_any_layout(layout):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(np.int64)
    parameters = init.initialize_parameters_he([2, 10, 5, 1])
    a3, cache = init.forward_propagation(X, parameters)
    want = init.backward_propagation(X, Y, cache)
    Xl = {"C": X, "F": np.asfortranarray(X), "strided": np.repeat(X, 2, axis=1)[:, ::2]}[layout]
    a3_l, cache_l = init.forward_propagation(Xl, parameters)
    got = init.backward_propagation(Xl, Y, cache_l)
    assert np.array_equal(a3_l, a3)
    assert all(np.allclose(got[k], want[k], rtol=1e-13, atol=1e-15) for k in want)
