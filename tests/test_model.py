"""The Model API: fitted state, resuming, copies, and predict / score semantics."""
import numpy as np
import pytest

from conftest import assert_params_rel, numpy_descent, random_parameters
from deepjit import Model
from deepjit.network import Network

rng = np.random.default_rng(42)
X = rng.standard_normal((4, 15))
Y = (X[:1] + X[1:2] > 0).astype(np.float64)


@pytest.fixture(params=["cpu", "numpy"])
def engine(request):
    return request.param


def test_fit_records_costs_every_record_every(engine):
    model = Model([4, 3, 1], engine=engine, seed=2)
    start = model.parameters
    assert model.fit(X, Y, learning_rate=0.2, num_iterations=23, record_every=5) is model
    params, costs = numpy_descent(start, X, Y, model.net, 0.2, 23)
    assert model.n_iter_ == 23 and model.interrupted_ is False
    np.testing.assert_allclose(model.costs_, costs[::5], rtol=1e-12)
    assert len(model.costs_) == 5                    # iterations 0, 5, 10, 15, 20
    assert model.final_cost_ == pytest.approx(costs[-1], rel=1e-12)
    assert_params_rel(model.parameters, params)


def test_fit_resumes_from_current_parameters(engine):
    once = Model([4, 5, 1], "tanh", engine=engine).fit(X, Y, 0.3, 40)
    twice = Model([4, 5, 1], "tanh", engine=engine).fit(X, Y, 0.3, 25).fit(X, Y, 0.3, 15)
    assert_params_rel(twice.parameters, once.parameters, rtol=1e-13)
    assert twice.n_iter_ == 15                       # the last call's count


def test_parameters_are_copies():
    model = Model([4, 3, 1])
    params = model.parameters
    params["W1"][:] = 99.0
    assert not np.any(model.parameters["W1"] == 99.0)


def test_from_parameters_copies_and_infers_dtype():
    params = random_parameters(np.random.default_rng(1), [4, 3, 2])
    model = Model.from_parameters(params, "tanh", "softmax")
    params["W1"][:] = 0.0
    assert np.all(model.parameters["W1"] != 0.0)
    assert model.layer_dims == [4, 3, 2] and model.dtype == np.float64
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    assert Model.from_parameters(p32, output="softmax").dtype == np.float32
    assert Model.from_parameters(p32, output="softmax", dtype="float64").dtype == np.float64


def test_from_parameters_predicts_with_those_parameters(engine):
    params = random_parameters(np.random.default_rng(3), [4, 6, 1])
    model = Model.from_parameters(params, "relu", "sigmoid", engine=engine)
    Z1 = params["W1"] @ X + params["b1"]
    A2 = 1 / (1 + np.exp(-(params["W2"] @ np.maximum(Z1, 0) + params["b2"])))
    np.testing.assert_allclose(model.predict_proba(X), A2, rtol=1e-13)


def test_repr_and_layer_dims():
    model = Model([4, 3, 2, 1], ["relu", "tanh"], engine="numpy", dtype="float32")
    assert model.layer_dims == [4, 3, 2, 1]
    assert repr(model) == ("Model(layer_dims=[4, 3, 2, 1], hidden_activation=['relu', 'tanh'], "
                           "output='sigmoid', dtype='float32', engine='numpy')")


def test_print_cost_lines(capsys):
    Model([4, 3, 1]).fit(X, Y, 0.1, num_iterations=7, record_every=3, print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"Cost after iteration {i}" for i in (0, 3, 6)]
    Model([4, 3, 1]).fit(X, Y, 0.1, num_iterations=8, record_every=3, print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"Cost after iteration {i}" for i in (0, 3, 6, 7)]   # and the last one
    assert float(lines[0].split(": ")[1]) > 0


def test_fit_accepts_positional_arguments_like_the_course():
    model = Model([4, 3, 1]).fit(X, Y, 0.05, 3)
    assert model.n_iter_ == 3


# -- predict / score semantics --------------------------------------------------------
def model_with(dims, output, seed=0, hidden="tanh"):
    params = random_parameters(np.random.default_rng(seed), dims, scale=2.0)
    return Model.from_parameters(params, hidden, output)


def test_sigmoid_one_unit():
    model = model_with([4, 5, 1], "sigmoid")
    proba = model.predict_proba(X)
    labels = model.predict(X)
    assert labels.shape == (1, 15) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, (proba > 0.5).astype(int))
    assert 0 < labels.sum() < 15                     # both classes occur: not a constant
    assert model.score(X, Y) == np.mean(labels == Y)
    assert model.score(X, labels) == 1.0
    assert model.score(X, 1 - labels) == 0.0
    assert model.score(X, labels.astype(bool)) == 1.0


def test_sigmoid_several_units_is_multi_label():
    model = model_with([4, 5, 3], "sigmoid", seed=1)
    proba = model.predict_proba(X)
    labels = model.predict(X)
    assert labels.shape == (3, 15)
    np.testing.assert_array_equal(labels, (proba > 0.5).astype(int))
    flipped = labels.copy()
    flipped[0, :3] = 1 - flipped[0, :3]              # 3 of 45 entries wrong
    assert model.score(X, flipped) == pytest.approx(42 / 45)


def test_softmax_one_hot_and_integer_labels():
    model = model_with([4, 5, 3], "softmax", seed=2)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=0), 1.0, rtol=1e-14)
    labels = model.predict(X)
    assert labels.shape == (1, 15)
    np.testing.assert_array_equal(labels[0], proba.argmax(axis=0))
    assert len(np.unique(labels)) > 1
    wrong = labels.copy()
    wrong[0, :5] = (wrong[0, :5] + 1) % 3            # 5 of 15 wrong
    assert model.score(X, labels) == 1.0
    assert model.score(X, wrong) == pytest.approx(10 / 15)
    assert model.score(X, np.eye(3)[:, wrong[0]]) == pytest.approx(10 / 15)


def test_linear_output_and_r2():
    model = model_with([4, 5, 1], "linear", seed=3)
    out = model.predict(X)
    np.testing.assert_array_equal(out, model.predict_proba(X))
    targets = out + 0.3 * np.random.default_rng(0).standard_normal(out.shape)
    r2 = 1 - np.sum((targets - out) ** 2) / np.sum((targets - targets.mean()) ** 2)
    assert model.score(X, targets) == pytest.approx(r2, rel=1e-12)
    assert model.score(X, out) == 1.0
    # constant targets (no variance): 1.0 only for a perfect fit, else 0.0 (no division)
    assert model.score(X, np.full_like(out, 1.5)) == 0.0
    flat = Model.from_parameters({"W1": np.zeros((1, 4)), "b1": np.full((1, 1), 1.5)},
                                 output="linear")
    assert flat.score(X, np.full((1, 15), 1.5)) == 1.0


def test_linear_several_outputs_r2_is_variance_weighted():
    model = model_with([4, 5, 2], "linear", seed=4)
    out = model.predict(X)
    targets = out + np.array([[0.1], [1.0]]) * np.random.default_rng(1).standard_normal(out.shape)
    residual = np.sum((targets - out) ** 2)
    total = np.sum((targets - targets.mean(axis=1, keepdims=True)) ** 2)
    assert model.score(X, targets) == pytest.approx(1 - residual / total, rel=1e-12)


@pytest.mark.parametrize("output,n_out", [("sigmoid", 1), ("softmax", 3), ("linear", 2)])
def test_predict_agrees_between_engines_and_dtypes(output, n_out):
    params = random_parameters(np.random.default_rng(5), [4, 6, n_out])
    by_engine = {engine: Model.from_parameters(params, "relu", output, engine=engine)
                 for engine in ("cpu", "numpy")}
    np.testing.assert_allclose(by_engine["cpu"].predict_proba(X),
                               by_engine["numpy"].predict_proba(X), rtol=1e-13, atol=1e-15)
    m32 = Model.from_parameters(params, "relu", output, dtype="float32")
    proba32 = m32.predict_proba(X)
    assert proba32.dtype == np.float32
    np.testing.assert_allclose(proba32, by_engine["numpy"].predict_proba(X), rtol=1e-5, atol=1e-6)


def test_predict_accepts_integer_and_non_contiguous_X():
    model = model_with([4, 5, 1], "sigmoid")
    wide = np.asfortranarray(np.round(X * 3))
    np.testing.assert_array_equal(model.predict(wide), model.predict(wide.astype(int)))
    np.testing.assert_allclose(model.predict_proba(X[:, ::2]),
                               model.predict_proba(np.ascontiguousarray(X[:, ::2])), rtol=0)


def test_network_of_the_model():
    model = Model([4, 3, 1], "leaky_relu", leaky_slope=0.2)
    assert model.net == Network.build([4, 3, 1], "leaky_relu", "sigmoid", 0.2)
