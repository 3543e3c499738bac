"""deepjit.compat against the course's numpy code: L_layer_model on the cat data.

A plain script (asv imports this module and finds nothing to run)::

    python benchmarks/compat_speed.py [--iterations 2500] [--repeats 3] [--engine cpu]
                                      [--blas-threads N]

Both sides run the same computation in one process, alternately: the week-4 notebook's
``L_layer_model`` (layers [12288, 20, 7, 5, 1], lr 0.0075) written out in plain numpy
exactly as the course's helper file computes it (the reference), and
``deepjit.compat.dnn_app_utils_v3.L_layer_model`` (compiled engine).  Compilation is
done before timing; ``--blas-threads`` caps the BLAS threads of both sides (on a
busy machine a multi-threaded BLAS can slow down erratically).  Prints the median
seconds of each and their ratio, and how far apart their final parameters are.
"""


def course_L_layer_model(X, Y, layers_dims, learning_rate, num_iterations):
    """The course's loop and helper-file formulas in plain numpy (dA0 included, as the
    course's L_model_backward computes it); returns (parameters, costs)."""
    import numpy as np
    np.random.seed(1)
    params, L = {}, len(layers_dims) - 1
    for l in range(1, L + 1):
        params[f"W{l}"] = (np.random.randn(layers_dims[l], layers_dims[l - 1])
                           / np.sqrt(layers_dims[l - 1]))
        params[f"b{l}"] = np.zeros((layers_dims[l], 1))
    costs, m = [], Y.shape[1]
    for i in range(num_iterations):
        A, caches = X, []
        for l in range(1, L + 1):
            Z = params[f"W{l}"].dot(A) + params[f"b{l}"]
            caches.append((A, Z))
            A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(0, Z)
        cost = np.squeeze((1. / m) * (-np.dot(Y, np.log(A).T) - np.dot(1 - Y, np.log(1 - A).T)))
        dA = - (np.divide(Y, A) - np.divide(1 - Y, 1 - A))
        for l in range(L, 0, -1):
            A_prev, Z = caches[l - 1]
            if l == L:
                s = 1 / (1 + np.exp(-Z))
                dZ = dA * s * (1 - s)
            else:
                dZ = np.array(dA, copy=True)
                dZ[Z <= 0] = 0
            dW = 1. / m * np.dot(dZ, A_prev.T)
            db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
            dA = np.dot(params[f"W{l}"].T, dZ)
            params[f"W{l}"] = params[f"W{l}"] - learning_rate * dW
            params[f"b{l}"] = params[f"b{l}"] - learning_rate * db
        if i % 100 == 0:
            costs.append(cost)
    return params, costs


def main(argv=None):
    import argparse
    import contextlib
    import io
    import statistics
    import time
    from pathlib import Path

    import numpy as np

    from deepjit.compat import dnn_app_utils_v3 as dnn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine", default="cpu", choices=["cpu", "numpy", "cuda"])
    parser.add_argument("--data-dir", default=str(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat"))
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="cap the BLAS threads of both sides (default: no cap)")
    args = parser.parse_args(argv)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.blas_threads, user_api="blas")

    train_x, train_y, _, _, _ = dnn.load_data(args.data_dir)
    X = train_x.reshape(train_x.shape[0], -1).T / 255.   # as the course prepares it
    dims, lr = [12288, 20, 7, 5, 1], 0.0075

    def compat(num_iterations):
        with contextlib.redirect_stdout(io.StringIO()):   # its last-iteration line
            return dnn.L_layer_model(X, train_y, dims, lr, num_iterations, engine=args.engine)

    compat(args.iterations)   # compile first (the formulation depends on the iterations)
    timings = {"course (numpy)": [], f"deepjit.compat ({args.engine})": []}
    runs = {"course (numpy)": lambda: course_L_layer_model(X, train_y, dims, lr, args.iterations),
            f"deepjit.compat ({args.engine})": lambda: compat(args.iterations)}
    results = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            results[name] = run()
            timings[name].append(time.perf_counter() - started)

    (ref_params, ref_costs), (params, costs) = results.values()
    worst = max(float(np.max(np.abs(params[k] - ref_params[k])) / np.max(np.abs(ref_params[k])))
                for k in ref_params)
    print(f"L_layer_model, layers {dims}, {args.iterations} iterations, cat data "
          f"(m = {X.shape[1]}); median of {args.repeats}; BLAS threads "
          f"{args.blas_threads or 'uncapped'}")
    medians = {name: statistics.median(t) for name, t in timings.items()}
    for name, seconds in medians.items():
        print(f"  {name:28s} {seconds:8.3f} s   (runs: "
              + ", ".join(f"{t:.3f}" for t in timings[name]) + ")")
    reference, compat = medians.values()
    print(f"  speed-up: {reference / compat:.1f}x")
    print(f"  last recorded cost: course {float(ref_costs[-1]):.12f}, "
          f"deepjit {float(costs[-1]):.12f}; largest parameter difference "
          f"{worst:.1e} (relative to each array's largest entry)")


if __name__ == "__main__":
    main()
