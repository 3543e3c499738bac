"""deepjit.compat against the course's numpy code: each step function, and a learner's
own ``L_layer_model`` loop over the helpers.

A plain script (asv imports this module and finds nothing to run)::

    python benchmarks/compat_speed.py [--iterations 2500] [--repeats 3] [--calls 20]
                                      [--engine cpu] [--skip-loops] [--markdown]

One thread throughout (BLAS, Numba and OpenMP capped to 1 before anything is loaded);
times are CPU seconds of this process, the course's and deepjit's calls alternating.
The course's helpers are plain numpy copies below (``course_*``), written as the course's
files and notebooks write them.  Compilation happens before timing; every figure is a
median.

1. Per call, on the course's data: the week-4 helpers on the cat network's shapes
   ([12288, 20, 7, 5, 1], 209 examples; the first layer, where the time goes), the
   week-2 ``propagate`` on the cat data and the week-3 functions on the flower, each
   with its arrays C-ordered, Fortran-ordered (X as ``train_x_orig.reshape(m, -1).T /
   255.`` makes it) and non-contiguous (every other column of a wider array).
2. A learner's ``L_layer_model``, written as the notebook writes it, over the course's
   helpers and over ``deepjit.compat.dnn_app_utils_v3`` (2500 iterations, cat data):
   both must print the same lines, every digit (the same numbers to the bit).
3. deepjit's own ``L_layer_model`` (the whole loop compiled), for comparison.
"""
import copy
import math
import os

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}


# -- the course's helpers in plain numpy ---------------------------------------------------

def course_namespace():
    """The week-4 helper file's functions (dnn_app_utils_v3), as a dict of name -> function."""
    import numpy as np

    def sigmoid(Z):
        return 1 / (1 + np.exp(-Z)), Z

    def relu(Z):
        return np.maximum(0, Z), Z

    def relu_backward(dA, cache):
        Z = cache
        dZ = np.array(dA, copy=True)
        dZ[Z <= 0] = 0
        return dZ

    def sigmoid_backward(dA, cache):
        Z = cache
        s = 1 / (1 + np.exp(-Z))
        return dA * s * (1 - s)

    def initialize_parameters_deep(layer_dims):
        np.random.seed(1)
        parameters = {}
        for l in range(1, len(layer_dims)):
            parameters["W" + str(l)] = (np.random.randn(layer_dims[l], layer_dims[l - 1])
                                        / np.sqrt(layer_dims[l - 1]))
            parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
        return parameters

    def linear_forward(A, W, b):
        Z = W.dot(A) + b
        return Z, (A, W, b)

    def linear_activation_forward(A_prev, W, b, activation):
        Z, linear_cache = linear_forward(A_prev, W, b)
        A, activation_cache = sigmoid(Z) if activation == "sigmoid" else relu(Z)
        return A, (linear_cache, activation_cache)

    def L_model_forward(X, parameters):
        caches, A, L = [], X, len(parameters) // 2
        for l in range(1, L):
            A, cache = linear_activation_forward(A, parameters["W" + str(l)],
                                                 parameters["b" + str(l)], "relu")
            caches.append(cache)
        AL, cache = linear_activation_forward(A, parameters["W" + str(L)],
                                              parameters["b" + str(L)], "sigmoid")
        caches.append(cache)
        return AL, caches

    def compute_cost(AL, Y):
        m = Y.shape[1]
        cost = (1. / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T))
        return np.squeeze(cost)

    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        dW = 1. / m * np.dot(dZ, A_prev.T)
        db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
        dA_prev = np.dot(W.T, dZ)
        return dA_prev, dW, db

    def linear_activation_backward(dA, cache, activation):
        linear_cache, activation_cache = cache
        backward = relu_backward if activation == "relu" else sigmoid_backward
        return linear_backward(backward(dA, activation_cache), linear_cache)

    def L_model_backward(AL, Y, caches):
        grads, L = {}, len(caches)
        Y = Y.reshape(AL.shape)
        dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = \
            linear_activation_backward(dAL, caches[L - 1], "sigmoid")
        for l in reversed(range(L - 1)):
            dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l + 1)], caches[l],
                                                         "relu")
            grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = \
                dA_prev, dW, db
        return grads

    def update_parameters(parameters, grads, learning_rate):
        L = len(parameters) // 2
        for l in range(L):
            parameters["W" + str(l + 1)] = (parameters["W" + str(l + 1)]
                                            - learning_rate * grads["dW" + str(l + 1)])
            parameters["b" + str(l + 1)] = (parameters["b" + str(l + 1)]
                                            - learning_rate * grads["db" + str(l + 1)])
        return parameters

    return dict(locals())


def course_week2_and_week3():
    """The week-2 notebook's ``propagate`` and the week-3 notebook's step functions."""
    import numpy as np

    def propagate(w, b, X, Y):
        m = X.shape[1]
        A = 1 / (1 + np.exp(-(np.dot(w.T, X) + b)))
        cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
        dw = 1 / m * np.dot(X, (A - Y).T)
        db = 1 / m * np.sum(A - Y)
        return {"dw": dw, "db": db}, np.squeeze(np.array(cost))

    def forward_propagation(X, parameters):
        Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
        A1 = np.tanh(Z1)
        Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
        A2 = 1 / (1 + np.exp(-Z2))
        return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}

    def compute_cost(A2, Y):
        m = Y.shape[1]
        logprobs = np.multiply(np.log(A2), Y) + np.multiply(np.log(1 - A2), 1 - Y)
        return float(np.squeeze(- np.sum(logprobs) / m))

    def backward_propagation(parameters, cache, X, Y):
        m = X.shape[1]
        W2, A1, A2 = parameters["W2"], cache["A1"], cache["A2"]
        dZ2 = A2 - Y
        dW2 = (1 / m) * np.dot(dZ2, A1.T)
        db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
        dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))
        dW1 = (1 / m) * np.dot(dZ1, X.T)
        db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)
        return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}

    def update_parameters(parameters, grads, learning_rate=1.2):
        new = {}
        for key in ("W1", "b1", "W2", "b2"):
            new[key] = copy.deepcopy(parameters[key]) - learning_rate * grads["d" + key]
        return new

    return dict(locals())


def learner_L_layer_model(h, X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                          print_cost=False):
    """The application notebook's ``L_layer_model`` as a learner writes it, over the
    helpers ``h`` (a module or namespace)."""
    import numpy as np
    np.random.seed(1)
    costs = []
    parameters = h.initialize_parameters_deep(layers_dims)
    for i in range(0, num_iterations):
        AL, caches = h.L_model_forward(X, parameters)
        cost = h.compute_cost(AL, Y)
        grads = h.L_model_backward(AL, Y, caches)
        parameters = h.update_parameters(parameters, grads, learning_rate)
        if print_cost and i % 100 == 0 or i == num_iterations - 1:
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
        if i % 100 == 0 or i == num_iterations:
            costs.append(cost)
    return parameters, costs


# -- timing ----------------------------------------------------------------------------------

def layouts(array):
    """``{"C": ..., "F": ..., "strided": ...}``: the same values in three layouts."""
    import numpy as np
    wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
    wide[..., ::2] = array
    return {"C": np.ascontiguousarray(array), "F": np.asfortranarray(array),
            "strided": wide[..., ::2]}


def median_pair(reference, ours, calls, repeats=7):
    """The medians over ``repeats`` of the mean seconds per call over ``calls`` calls of
    each, the two timed alternately, in CPU time of this process (time spent waiting for
    a core on a busy machine does not count)."""
    import statistics
    import time
    import timeit
    reference(), ours()
    seconds = ([], [])
    for _ in range(repeats):
        for function, times in zip((reference, ours), seconds):
            times.append(timeit.timeit(function, number=calls, timer=time.process_time))
    return [statistics.median(times) / calls for times in seconds]


def step_cases(np, dnn, lr_utils, planar_utils, course, course23, cat_X, cat_Y, flower):
    """``(week, name, course_call, deepjit_call)`` builders: each takes a layout
    function (array -> array in that layout) and returns the two zero-argument calls."""
    dims = [12288, 20, 7, 5, 1]
    params = course["initialize_parameters_deep"](dims)
    W1, b1 = params["W1"], params["b1"]
    AL, caches = course["L_model_forward"](cat_X, params)
    grads = course["L_model_backward"](AL, cat_Y, caches)
    (_, _, _), Z1 = caches[0]
    dA1 = grads["dA1"]
    dZ1 = course["relu_backward"](dA1, Z1)
    w = np.random.default_rng(0).standard_normal((12288, 1)) * 0.001
    fX, fY = flower
    p3 = {"W1": np.random.default_rng(1).standard_normal((4, 2)), "b1": np.zeros((4, 1)),
          "W2": np.random.default_rng(2).standard_normal((1, 4)), "b2": np.zeros((1, 1))}
    A2, cache3 = course23["forward_propagation"](fX, p3)
    g3 = course23["backward_propagation"](p3, cache3, fX, fY)

    def deep(lay, x):
        if isinstance(x, tuple):
            return tuple(deep(lay, item) for item in x)
        return lay(x) if isinstance(x, np.ndarray) and x.ndim == 2 else x

    def both(name, module, *args):
        def build(lay):
            laid = [deep(lay, a) for a in args]
            reference = course[name] if module is dnn else course23[name]
            return (lambda: reference(*laid)), (lambda: getattr(module, name)(*laid))
        return build

    def with_params(name, module, reference, X, parameters, *rest):
        def build(lay):
            laid = {k: lay(v) for k, v in parameters.items()}
            Xl = lay(X)
            return (lambda: reference(Xl, laid, *rest)), \
                (lambda: getattr(module, name)(Xl, laid, *rest))
        return build

    def updates(module, reference, parameters, gradients, rate):
        def build(lay):
            laid = {k: lay(v) for k, v in parameters.items()}
            g = {k: lay(v) for k, v in gradients.items()}
            return (lambda: reference(dict(laid), g, rate)), \
                (lambda: module.update_parameters(dict(laid), g, rate))
        return build

    def backward3(lay):
        laid = {k: lay(v) for k, v in p3.items()}
        c = {k: lay(v) for k, v in cache3.items()}
        Xl, Yl = lay(fX), lay(fY)
        return (lambda: course23["backward_propagation"](laid, c, Xl, Yl)), \
            (lambda: planar_utils.backward_propagation(laid, c, Xl, Yl))

    def backward_with_dA0(lay):
        laid = [((lay(A), lay(W), lay(b)), lay(Z)) for (A, W, b), Z in caches]
        ALl, Yl = lay(AL), lay(cat_Y)
        return (lambda: course["L_model_backward"](ALl, Yl, laid)), \
            (lambda: dnn.L_model_backward(ALl, Yl, laid)["dA0"])

    def backward_all(lay):
        laid = [((lay(A), lay(W), lay(b)), lay(Z)) for (A, W, b), Z in caches]
        ALl, Yl = lay(AL), lay(cat_Y)
        return (lambda: course["L_model_backward"](ALl, Yl, laid)), \
            (lambda: dnn.L_model_backward(ALl, Yl, laid))

    return [
        ("4", "sigmoid (20 x 209)", both("sigmoid", dnn, Z1)),
        ("4", "relu", both("relu", dnn, Z1)),
        ("4", "relu_backward", both("relu_backward", dnn, dA1, Z1)),
        ("4", "sigmoid_backward", both("sigmoid_backward", dnn, dA1, Z1)),
        ("4", "linear_forward (layer 1)", both("linear_forward", dnn, cat_X, W1, b1)),
        ("4", "linear_activation_forward", both("linear_activation_forward", dnn, cat_X, W1,
                                                b1, "relu")),
        ("4", "L_model_forward", with_params("L_model_forward", dnn,
                                             course["L_model_forward"], cat_X, params)),
        ("4", "compute_cost", both("compute_cost", dnn, AL, cat_Y)),
        ("4", "linear_backward (layer 1)", both("linear_backward", dnn, dZ1,
                                                (cat_X, W1, b1))),
        ("4", "linear_activation_backward", both("linear_activation_backward", dnn, dA1,
                                                 ((cat_X, W1, b1), Z1), "relu")),
        ("4", "L_model_backward", backward_all),
        ("4", "L_model_backward, dA0 read", backward_with_dA0),
        ("4", "update_parameters", updates(dnn, course["update_parameters"], params, grads,
                                           0.0075)),
        ("2", "propagate (cat data)", both("propagate", lr_utils, w, 0.1, cat_X, cat_Y)),
        ("3", "forward_propagation (flower)", with_params(
            "forward_propagation", planar_utils, course23["forward_propagation"], fX, p3)),
        ("3", "compute_cost", both("compute_cost", planar_utils, A2, fY)),
        ("3", "backward_propagation", backward3),
        ("3", "update_parameters", updates(planar_utils, course23["update_parameters"], p3,
                                           g3, 1.2)),
    ]


def measure_steps(args, np, cat_X, cat_Y, flower):
    from types import SimpleNamespace

    from deepjit.compat import dnn_app_utils_v3 as dnn, lr_utils, planar_utils
    course, course23 = course_namespace(), course_week2_and_week3()
    cases = step_cases(np, dnn, lr_utils, planar_utils, course, course23, cat_X, cat_Y,
                       flower)
    rows = []
    for week, name, build in cases:
        row = [week, name]
        for layout in ("C", "F", "strided"):
            reference, ours = build(lambda a: layouts(a)[layout])
            numpy_s, ours_s = median_pair(reference, ours, args.calls)
            row += [numpy_s, ours_s]
        rows.append(row)
    return SimpleNamespace(rows=rows, course=course)


def measure_loops(args, np, cat_X, cat_Y, course):
    import contextlib
    import io
    import statistics
    import time
    from types import SimpleNamespace

    from deepjit.compat import dnn_app_utils_v3 as dnn
    dims, lr = [12288, 20, 7, 5, 1], 0.0075
    helpers = {"course's numpy helpers": SimpleNamespace(**course), "deepjit.compat helpers": dnn}
    printed, seconds, finals = {}, {name: [] for name in helpers}, {}
    with contextlib.redirect_stdout(io.StringIO()):         # compile
        learner_L_layer_model(dnn, cat_X, cat_Y, dims, lr, 2)
    for _ in range(args.repeats):
        for name, h in helpers.items():
            out = io.StringIO()
            started = time.process_time()
            with contextlib.redirect_stdout(out):
                parameters, costs = learner_L_layer_model(h, cat_X, cat_Y, dims, lr,
                                                          args.iterations, True)
            seconds[name].append(time.process_time() - started)
            printed[name], finals[name] = out.getvalue().splitlines(), (parameters, costs)

    def compiled():
        with contextlib.redirect_stdout(io.StringIO()):
            return dnn.L_layer_model(cat_X, cat_Y, dims, lr, args.iterations,
                                     engine=args.engine)
    compiled()
    compiled_s = []
    for _ in range(args.repeats):
        started = time.process_time()
        compiled()
        compiled_s.append(time.process_time() - started)

    (ref_lines, our_lines) = printed.values()
    (ref_costs, our_costs) = [np.array([float(c) for c in finals[n][1]]) for n in helpers]
    (ref_parameters, our_parameters) = [finals[n][0] for n in helpers]
    return SimpleNamespace(
        medians={**{name: statistics.median(s) for name, s in seconds.items()},
                 f"deepjit.compat.L_layer_model (compiled, {args.engine})":
                     statistics.median(compiled_s)},
        same_printed=ref_lines == our_lines, lines=len(ref_lines), last_line=our_lines[-1],
        cost_difference=float(np.max(np.abs(ref_costs - our_costs))),
        same_parameters=all(np.array_equal(ref_parameters[k], our_parameters[k])
                            for k in ref_parameters))


# -- report ----------------------------------------------------------------------------------

def report(steps, loops, args):
    def ms(seconds):
        return f"{seconds * 1e3:.3f}" if seconds >= 1e-4 else f"{seconds * 1e3:.4f}"

    print(f"Per call, one thread, CPU time, median of 7 x {args.calls} calls, the two sides "
          "alternating (ms; speed-up = numpy / deepjit)")
    print("| week | function | C: numpy | C: deepjit | C: x | F: numpy | F: deepjit | F: x "
          "| strided: numpy | strided: deepjit | strided: x |")
    print("|---|---|" + "---:|" * 9)
    for week, name, *times in steps.rows:
        cells = []
        for numpy_s, ours_s in zip(times[::2], times[1::2]):
            cells += [ms(numpy_s), ms(ours_s), f"{numpy_s / ours_s:.1f}"]
        print(f"| {week} | `{name}` | " + " | ".join(cells) + " |")
    if loops is None:
        return
    print()
    print(f"A learner's L_layer_model, cat data, [12288, 20, 7, 5, 1], {args.iterations} "
          f"iterations, one thread, CPU time, median of {args.repeats} (s)")
    print("| loop over | seconds | speed-up |")
    print("|---|---:|---:|")
    reference = next(iter(loops.medians.values()))
    for name, seconds in loops.medians.items():
        print(f"| {name} | {seconds:.1f} | {reference / seconds:.1f}x |")
    print()
    print(f"Printed lines identical (every digit): {loops.same_printed} "
          f"({loops.lines} lines; last: {loops.last_line!r}); largest difference of the "
          f"recorded costs: {loops.cost_difference:.1e}; final parameters bit-identical: "
          f"{loops.same_parameters}")


def main(argv=None):
    import argparse
    from pathlib import Path
    for name, value in THREADS.items():
        os.environ[name] = value
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each loop")
    parser.add_argument("--calls", type=int, default=20, help="calls per timing")
    parser.add_argument("--engine", default="cpu", choices=["cpu", "numpy", "cuda"])
    parser.add_argument("--skip-loops", action="store_true")
    parser.add_argument("--data-dir", default=str(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat"))
    args = parser.parse_args(argv)

    import numpy as np
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)

    from deepjit import datasets
    from deepjit.compat import dnn_app_utils_v3 as dnn
    train_x, train_y, _, _, _ = dnn.load_data(args.data_dir)
    cat_X = train_x.reshape(train_x.shape[0], -1).T / 255.   # Fortran-ordered, as the course's
    assert cat_X.flags.f_contiguous and not math.isnan(cat_X[0, 0])
    flower = datasets.draw_flower(np.random.RandomState(1))
    steps = measure_steps(args, np, cat_X, train_y, flower)
    loops = None if args.skip_loops else measure_loops(args, np, cat_X, train_y, steps.course)
    report(steps, loops, args)


if __name__ == "__main__":
    main()
