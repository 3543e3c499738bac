"""Every bad input is a ValueError naming the argument, raised before any work."""
import numpy as np
import pytest

from deepjit import Model
from deepjit.validation import as_matrix, check_dtype, check_labels

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 8))
Y = (rng.random((1, 8)) < 0.5).astype(np.float64)
LABELS = np.array([[0, 2, 1, 1, 0, 2, 2, 1]])        # softmax integer labels, K = 3
ONE_HOT = np.eye(3)[:, LABELS[0]]


def with_value(array, index, value):
    array = np.array(array, dtype=np.float64)
    array[index] = value
    return array


def assert_untouched(model, before):
    """Nothing was trained: parameters, costs and the iteration count are as before."""
    for key, value in before.items():
        np.testing.assert_array_equal(model.parameters[key], value)
    assert model.n_iter_ == 0 and model.costs_ == [] and model.final_cost_ is None


@pytest.fixture(params=["cpu", "numpy"])
def engine(request):
    return request.param


# -- fit: data -------------------------------------------------------------------------
BAD_DATA = [
    ("X", X[0], Y),                                   # rank-1 X
    ("Y", X, Y[0]),                                   # rank-1 Y
    ("X", X[:, :, None], Y),                          # rank-3 X
    ("X", X[:2], Y),                                  # rows != layer_dims[0]
    ("X", X.T, Y),                                    # transposed (examples as rows)
    ("Y", X, np.vstack([Y, Y])),                      # two output rows for one unit
    ("Y", X, Y[:, :5]),                               # m mismatch
    ("Y", X[:, :5], Y),                               # m mismatch the other way
    ("X", with_value(X, (1, 2), np.nan), Y),
    ("X", with_value(X, (0, 0), np.inf), Y),
    ("X", with_value(X, (2, 7), -np.inf), Y),
    ("Y", X, with_value(Y, (0, 3), np.nan)),
    ("Y", X, with_value(Y, (0, 3), np.inf)),
    ("Y", X, with_value(Y, (0, 1), 2.0)),             # labels outside {0, 1}
    ("Y", X, with_value(Y, (0, 1), -1.0)),
    ("Y", X, with_value(Y, (0, 1), 0.5)),
    ("X", np.zeros((3, 0)), np.zeros((1, 0))),        # empty data
    ("X", X.astype(complex), Y),
    ("X", X.astype(str), Y),
    ("X", "not an array", Y),
    ("Y", X, Y.astype(str)),
]


@pytest.mark.parametrize("name,X_bad,Y_bad", BAD_DATA)
def test_fit_rejects_bad_data(engine, name, X_bad, Y_bad):
    model = Model([3, 4, 1], engine=engine)
    before = model.parameters
    with pytest.raises(ValueError, match=rf"^{name}:"):
        model.fit(X_bad, Y_bad, num_iterations=5)
    assert_untouched(model, before)


def test_rank_1_message_explains_the_fix():
    with pytest.raises(ValueError, match="rank-1.*reshape"):
        Model([3, 1]).fit(X, Y[0])


BAD_SOFTMAX_TARGETS = [
    with_value(LABELS, (0, 0), 3),                    # label K
    with_value(LABELS, (0, 0), -1),
    with_value(LABELS, (0, 0), 1.5),                  # not an integer
    with_value(ONE_HOT, (0, 0), 0.5),                 # not one-hot
    with_value(ONE_HOT, (1, 0), 1.0),                 # two ones in a column
    with_value(ONE_HOT, (slice(None), 2), 0.0),       # an all-zero column
    ONE_HOT[:2],                                      # K - 1 rows
    with_value(LABELS, (0, 4), np.nan),
]


@pytest.mark.parametrize("Y_bad", BAD_SOFTMAX_TARGETS)
def test_softmax_targets(engine, Y_bad):
    model = Model([3, 4, 3], output="softmax", engine=engine)
    before = model.parameters
    with pytest.raises(ValueError, match="^Y:"):
        model.fit(X, Y_bad, num_iterations=5)
    assert_untouched(model, before)


def test_softmax_integer_and_one_hot_labels_train_the_same():
    a = Model([3, 4, 3], output="softmax").fit(X, LABELS, 0.1, 20)
    b = Model([3, 4, 3], output="softmax").fit(X, ONE_HOT, 0.1, 20)
    c = Model([3, 4, 3], output="softmax").fit(X, LABELS.astype(np.float32), 0.1, 20)
    for key in a.parameters:
        np.testing.assert_array_equal(a.parameters[key], b.parameters[key])
        np.testing.assert_array_equal(a.parameters[key], c.parameters[key])


def test_check_labels_accepts():
    np.testing.assert_array_equal(check_labels(LABELS, "softmax", 3, np.float64), ONE_HOT)
    np.testing.assert_array_equal(check_labels(Y.astype(bool), "sigmoid", 1, np.float64), Y)
    np.testing.assert_array_equal(check_labels(Y.astype(np.uint8), "sigmoid", 1, np.float32),
                                  Y.astype(np.float32))
    reals = rng.standard_normal((2, 8)) * 100
    np.testing.assert_array_equal(check_labels(reals, "linear", 2, np.float64), reals)


# -- fit: hyper-parameters -------------------------------------------------------------
@pytest.mark.parametrize("value", [0, -0.1, np.nan, np.inf, -np.inf, "0.1", None, True, [0.1],
                                   1j])
def test_bad_learning_rate(engine, value):
    model = Model([3, 4, 1], engine=engine)
    before = model.parameters
    with pytest.raises(ValueError, match="^learning_rate:"):
        model.fit(X, Y, learning_rate=value, num_iterations=5)
    assert_untouched(model, before)


@pytest.mark.parametrize("argument", ["num_iterations", "record_every"])
@pytest.mark.parametrize("value", [0, -3, 2.5, 10.0, np.nan, "10", None, True, [10]])
def test_bad_iteration_counts(engine, argument, value):
    model = Model([3, 4, 1], engine=engine)
    before = model.parameters
    kwargs = {"num_iterations": 5, argument: value}
    with pytest.raises(ValueError, match=f"^{argument}:"):
        model.fit(X, Y, learning_rate=0.1, **kwargs)
    assert_untouched(model, before)


def test_numpy_scalars_are_accepted():
    model = Model([3, 4, 1]).fit(X, Y, np.float32(0.1), np.int64(3), record_every=np.int32(2))
    assert model.n_iter_ == 3 and len(model.costs_) == 2


# -- the constructor ---------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,name", [
    (dict(hidden_activation="swish"), "hidden_activation"),
    (dict(hidden_activation=["relu"]), "hidden_activation"),          # 2 hidden layers
    (dict(hidden_activation=None), "hidden_activation"),
    (dict(output="tanh"), "output"),
    (dict(output="Softmax"), "output"),
    (dict(init="glorot"), "init"),
    (dict(engine="gpu"), "engine"),
    (dict(engine=None), "engine"),
    (dict(dtype="float16"), "dtype"),
    (dict(dtype="int64"), "dtype"),
    (dict(dtype=np.int32), "dtype"),
    (dict(dtype="double precision"), "dtype"),
    (dict(dtype=object()), "dtype"),
    (dict(dtype=[1, 2]), "dtype"),
    (dict(leaky_slope=0), "leaky_slope"),
    (dict(leaky_slope="x"), "leaky_slope"),
    (dict(seed=-1), "seed"),
])
def test_bad_constructor_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        Model([3, 4, 4, 1], **kwargs)


@pytest.mark.parametrize("dims", [[], [3], [3, 0], [3, -1], [3, 2.5], [3, np.nan], [3, np.inf],
                                  "34", None, 5, [3, "4"], [3, None], [[3], [4]], [3, True]])
def test_bad_layer_dims(dims):
    with pytest.raises(ValueError, match="^layer_dims:"):
        Model(dims)


def test_softmax_needs_two_units():
    with pytest.raises(ValueError, match="^layer_dims:.*softmax"):
        Model([3, 4, 1], output="softmax")


@pytest.mark.parametrize("dtype,expected", [
    ("float32", np.float32), (np.float32, np.float32), (np.dtype("float64"), np.float64),
    ("float64", np.float64),
])
def test_check_dtype_accepts(dtype, expected):
    assert check_dtype(dtype) == np.dtype(expected)


# -- prediction --------------------------------------------------------------------------
@pytest.mark.parametrize("X_bad", [X[0], X[:2], with_value(X, (0, 0), np.nan), np.zeros((3, 0))])
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_predict_rejects_bad_X(engine, method, X_bad):
    with pytest.raises(ValueError, match="^X:"):
        getattr(Model([3, 4, 1], engine=engine), method)(X_bad)


@pytest.mark.parametrize("name,X_bad,Y_bad", [("Y", X, Y[:, :3]), ("Y", X, Y + 2), ("X", X[:1], Y),
                                              ("Y", X, Y[0])])
def test_score_rejects_bad_input(name, X_bad, Y_bad):
    with pytest.raises(ValueError, match=f"^{name}:"):
        Model([3, 4, 1]).score(X_bad, Y_bad)


# -- from_parameters ---------------------------------------------------------------------
@pytest.mark.parametrize("parameters", [
    None, {}, {"W1": np.ones((2, 3))},                                   # missing b1
    {"W1": np.ones((2, 3)), "b1": np.ones((3, 1))},                      # b1 wrong shape
    {"W1": np.ones((2, 3)), "b1": np.ones((2, 1)), "W2": np.ones((1, 3)),
     "b2": np.ones((1, 1))},                                             # W2 columns != 2
    {"W1": np.ones(3), "b1": np.ones((1, 1))},                           # rank-1 W1
    {"W1": np.full((2, 3), np.nan), "b1": np.ones((2, 1))},              # NaN
    {"W1": np.ones((2, 3)), "b1": np.ones((2, 1)), "W3": np.ones((1, 2)),
     "b3": np.ones((1, 1))},                                             # a gap in the keys
])
def test_from_parameters_rejects(parameters):
    with pytest.raises(ValueError, match="^parameters"):
        Model.from_parameters(parameters)


def test_as_matrix_copies_only_when_needed():
    A = np.ones((2, 3))
    assert as_matrix("A", A) is A
    assert as_matrix("A", A, dtype=np.float32).dtype == np.float32


# -- odd values: a ValueError naming the argument, never a TypeError ------------------------
def test_unhashable_and_odd_names_are_refused_by_name():
    for kwargs, name in [(dict(engine=["cpu"]), "engine"), (dict(formulation={}), "formulation"),
                         (dict(init=["he"]), "init"), (dict(dtype={"a": 1}), "dtype"),
                         (dict(output=["sigmoid"]), "output"), (dict(engine=None), "engine"),
                         (dict(init=np.array(["he", "small"])), "init")]:
        with pytest.raises(ValueError, match=f"^{name}:"):
            Model([3, 2, 1], **kwargs)


def test_a_fraction_learning_rate_is_a_number():
    from fractions import Fraction
    exact = Model([3, 2, 1]).fit(X, Y, learning_rate=Fraction(1, 8), num_iterations=3)
    as_float = Model([3, 2, 1]).fit(X, Y, learning_rate=0.125, num_iterations=3)
    assert exact.costs_ == as_float.costs_
    for value in (Fraction(10 ** 400), Fraction(-1, 3), 10 ** 400, np.True_):
        with pytest.raises(ValueError, match="^learning_rate:"):
            Model([3, 2, 1]).fit(X, Y, learning_rate=value)


@pytest.mark.parametrize("dims", [[3, 10 ** 400, 1], [3, 1e300, 1], [1e300, 1], [3, np.True_]])
def test_impossible_layer_sizes_are_refused_by_name(dims):
    with pytest.raises(ValueError, match="^layer_dims:"):
        Model(dims)


def test_a_network_too_big_for_memory_is_refused_with_the_size_it_needs():
    with pytest.raises(ValueError, match=r"^layer_dims: .*\[10000000, 10000000, 1\] would "
                                         r"take about 1.49e\+06 GiB"):
        Model([10 ** 7, 10 ** 7, 1])


def test_from_parameters_with_a_key_that_is_not_a_string():
    parameters = Model([3, 2, 1]).parameters
    parameters[1] = parameters.pop("b2")
    with pytest.raises(ValueError, match="^parameters: expected the keys"):
        Model.from_parameters(parameters)


def test_a_callback_that_cannot_be_called_is_refused_before_any_work():
    model = Model([3, 2, 1])
    before = model.parameters
    for kwargs, name in [(dict(callback=5), "callback"), (dict(callback="print"), "callback"),
                         (dict(print_cost="yes"), "print_cost")]:
        with pytest.raises(ValueError, match=f"^{name}:"):
            model.fit(X, Y, num_iterations=10 ** 6, **kwargs)
    assert_untouched(model, before)


@pytest.mark.parametrize("X_bad", [[[1.0, 2.0], [3.0]], [[1.0, [2.0, 3.0]], [4.0, 5.0]],
                                   [[1, 2], "ab"]])
def test_ragged_nested_lists_are_refused_by_name(X_bad):
    with pytest.raises(ValueError, match="^X:"):
        Model([2, 1]).fit(X_bad, [[0, 1]])


def test_iteration_counts_beyond_the_kernels_counters_are_refused():
    for name in ("num_iterations", "record_every"):
        with pytest.raises(ValueError, match=f"^{name}:"):
            Model([3, 1]).fit(X, Y, **{name: 2 ** 63})


def test_softmax_integer_labels_do_not_build_a_k_by_k_matrix():
    """10**5 classes, 4 examples: one-hot (10**5, 4), not eye(10**5) (80 GB)."""
    Y_big = check_labels(np.array([[0, 99_999, 5, 5]]), "softmax", 100_000, np.float64)
    assert Y_big.shape == (100_000, 4) and Y_big.sum() == 4 and Y_big[99_999, 1] == 1


def test_training_that_would_not_fit_in_memory_names_the_formulation(monkeypatch):
    """The example-space formulation on 100,000 examples asks for G (m, m), 74.5 GiB:
    refused before anything is allocated (checked here against a 64 GiB machine)."""
    from deepjit import validation
    monkeypatch.setattr(validation, "memory_limit", lambda: 64 * 2 ** 30)
    model = Model([2, 3, 1], formulation="examples")
    X_many = np.zeros((2, 100_000))
    with pytest.raises(ValueError, match="^formulation: .*'examples'.* 7[4-9].* GiB.*'dense'"):
        model.fit(X_many, np.zeros((1, 100_000)), num_iterations=1)
    monkeypatch.setattr(validation, "memory_limit", lambda: 2 ** 20)
    with pytest.raises(ValueError, match="^engine: .*'numpy'"):
        Model([2, 3, 1], engine="numpy").fit(X_many, np.zeros((1, 100_000)))
