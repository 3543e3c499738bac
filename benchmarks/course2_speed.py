"""deepjit.compat against the second course's numpy loops: each notebook's training.

A plain script (asv imports this module and finds nothing to run)::

    python benchmarks/course2_speed.py [--repeats 1] [--fraction 1.0] [--data PATH]

For each run (W1A1 He 15,000 iterations; W1A2 plain, L2 and dropout 30,000 iterations;
W2A1 gd, momentum and Adam 5,000 epochs) both sides train in one process, alternately:
the course's loop written out below in plain numpy as the course's helper files and
notebooks compute it (the reference), and deepjit.compat's ``model`` (compiled).
Compilation is done before timing.  ``--fraction`` shortens every run (0.1: a tenth of
the iterations).  Prints the median wall-clock seconds of each side and their ratio,
and the ratio of the median CPU times of the process (less distorted by other work on
a shared machine).
"""
import math


def _forward(np, X, p, masks=None, keep_prob=1.0):
    a1 = np.maximum(0, np.dot(p["W1"], X) + p["b1"])
    if masks is not None:
        a1 = a1 * masks[0] / keep_prob
    a2 = np.maximum(0, np.dot(p["W2"], a1) + p["b2"])
    if masks is not None:
        a2 = a2 * masks[1] / keep_prob
    a3 = 1 / (1 + np.exp(-(np.dot(p["W3"], a2) + p["b3"])))
    return a1, a2, a3


def _backward(np, X, Y, p, a1, a2, a3, lambd=0.0, masks=None, keep_prob=1.0):
    m = X.shape[1]
    dz3 = 1. / m * (a3 - Y)
    g = {"dW3": np.dot(dz3, a2.T) + lambd / m * p["W3"],
         "db3": np.sum(dz3, axis=1, keepdims=True)}
    da2 = np.dot(p["W3"].T, dz3)
    if masks is not None:
        da2 = da2 * masks[1] / keep_prob
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    g["dW2"], g["db2"] = np.dot(dz2, a1.T) + lambd / m * p["W2"], np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(p["W2"].T, dz2)
    if masks is not None:
        da1 = da1 * masks[0] / keep_prob
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    g["dW1"], g["db1"] = np.dot(dz1, X.T) + lambd / m * p["W1"], np.sum(dz1, axis=1, keepdims=True)
    return g


def _init(np, dims, scale):
    np.random.seed(3)
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = scale(np.random.randn(dims[l], dims[l - 1]), dims[l - 1])
        p[f"b{l}"] = np.zeros((dims[l], 1))
    return p


def course_full_batch(np, X, Y, dims, scale, lr, iterations, lambd=0.0, keep_prob=1.0):
    """W1A1's and W1A2's loop: forward, cost, backward, update (costs every 1000)."""
    p, costs, m = _init(np, dims, scale), [], X.shape[1]
    for i in range(iterations):
        masks = None
        if keep_prob < 1:
            np.random.seed(1)   # forward_propagation_with_dropout re-seeds every call
            masks = (np.random.rand(dims[1], m) < keep_prob, np.random.rand(dims[2], m) < keep_prob)
        a1, a2, a3 = _forward(np, X, p, masks, keep_prob)
        cost = 1. / m * np.nansum(np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y))
        cost += lambd / (2 * m) * sum(np.sum(np.square(p[f"W{l}"])) for l in (1, 2, 3))
        g = _backward(np, X, Y, p, a1, a2, a3, lambd, masks, keep_prob)
        for key in p:
            p[key] = p[key] - lr * g["d" + key]
        if i % 1000 == 0:
            costs.append(cost)
    return p


def course_minibatch(np, X, Y, optimizer, epochs, lr=0.0007, size=64, beta=0.9, beta1=0.9,
                     beta2=0.999, eps=1e-8):
    """W2A1's loop: random_mini_batches (seed 11, 12, ...), then gd, momentum or Adam."""
    p = _init(np, [X.shape[0], 5, 2, 1], lambda W, n: W * np.sqrt(2 / n))
    v = {"d" + k: np.zeros(w.shape) for k, w in p.items()}
    s = {"d" + k: np.zeros(w.shape) for k, w in p.items()}
    t, m, seed = 0, X.shape[1], 10
    for i in range(epochs):
        seed += 1
        np.random.seed(seed)
        perm = list(np.random.permutation(m))
        sX, sY = X[:, perm], Y[:, perm].reshape((1, m))
        cost_total = 0
        for k in range(0, m, size):
            bX, bY = sX[:, k:k + size], sY[:, k:k + size]
            a1, a2, a3 = _forward(np, bX, p)
            cost_total += np.sum(np.multiply(-np.log(a3), bY) + np.multiply(-np.log(1 - a3), 1 - bY))
            g = _backward(np, bX, bY, p, a1, a2, a3)
            t += 1
            for key in p:
                d = "d" + key
                if optimizer == "gd":
                    p[key] = p[key] - lr * g[d]
                elif optimizer == "momentum":
                    v[d] = beta * v[d] + (1 - beta) * g[d]
                    p[key] = p[key] - lr * v[d]
                else:
                    v[d] = beta1 * v[d] + (1 - beta1) * g[d]
                    vc = v[d] / (1 - beta1 ** t)
                    s[d] = beta2 * s[d] + (1 - beta2) * np.square(g[d])
                    sc = s[d] / (1 - beta2 ** t)
                    p[key] = p[key] - lr * vc / (np.sqrt(sc) + eps)
    return p


def main(argv=None):
    import argparse
    import contextlib
    import io
    import statistics
    import time
    import warnings
    from pathlib import Path

    import numpy as np

    from deepjit.compat import init_utils, opt_utils_v1a, reg_utils

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "data" / "course2" / "data.mat"))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)
    n = lambda k: max(1, math.ceil(k * args.fraction))   # noqa: E731

    Xc, Yc, _, _ = init_utils.load_dataset()
    Xf, Yf, _, _ = reg_utils.load_2D_dataset(args.data)
    Xm, Ym = opt_utils_v1a.load_dataset()
    he = lambda W, k: W * np.sqrt(2 / k)          # noqa: E731
    scaled = lambda W, k: W / np.sqrt(k)          # noqa: E731
    runs = [
        ("W1A1 he, %d it" % n(15000),
         lambda: course_full_batch(np, Xc, Yc, [2, 10, 5, 1], he, 0.01, n(15000)),
         lambda: init_utils.model(Xc, Yc, num_iterations=n(15000))),
    ]
    for name, options in (("plain", {}), ("L2", {"lambd": 0.7}), ("dropout", {"keep_prob": 0.86})):
        runs.append((f"W1A2 {name}, {n(30000)} it",
                     lambda o=options: course_full_batch(np, Xf, Yf, [2, 20, 3, 1], scaled, 0.3,
                                                         n(30000), **o),
                     lambda o=options: reg_utils.model(Xf, Yf, num_iterations=n(30000), **o)))
    for optimizer in ("gd", "momentum", "adam"):
        runs.append((f"W2A1 {optimizer}, {n(5000)} epochs",
                     lambda o=optimizer: course_minibatch(np, Xm, Ym, o, n(5000)),
                     lambda o=optimizer: opt_utils_v1a.model(Xm, Ym, [2, 5, 2, 1], o,
                                                             num_epochs=n(5000))))
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet:   # compile
        init_utils.model(Xc, Yc, num_iterations=2)
        reg_utils.model(Xf, Yf, num_iterations=2, keep_prob=0.86)
        opt_utils_v1a.model(Xm, Ym, [2, 5, 2, 1], "adam", num_epochs=2)
    print(f"{'run':28s} {'course numpy s':>15s} {'deepjit s':>10s} {'ratio':>7s} "
          f"{'CPU ratio':>10s}")
    for name, course, ours in runs:
        times = {"course": [], "deepjit": []}
        cpu = {"course": [], "deepjit": []}
        for _ in range(args.repeats):
            for side, function in (("course", course), ("deepjit", ours)):
                with contextlib.redirect_stdout(io.StringIO()):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    function()
                    times[side].append(time.perf_counter() - start)
                    cpu[side].append(time.process_time() - start_cpu)
        a, b = statistics.median(times["course"]), statistics.median(times["deepjit"])
        cpu_ratio = statistics.median(cpu["course"]) / statistics.median(cpu["deepjit"])
        print(f"{name:28s} {a:15.3f} {b:10.3f} {a / b:7.1f}x {cpu_ratio:9.1f}x", flush=True)


if __name__ == "__main__":
    main()
