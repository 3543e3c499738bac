"""Time to accuracy: deepjit (Adam, mini-batches) against scikit-learn's MLPClassifier
(solver="adam") and PyTorch on the CPU, with the same architecture, batch size, epochs,
learning rate and L2 (scikit-learn's ``alpha`` is deepjit's ``l2``: both add
``alpha / (2 m_batch) * sum ||W||^2``), each runner in its own process on ONE thread
(``--threads N``: N for every runner; ``--deepjit-threads N``: N for deepjit only, whose
mini-batch epochs run batches of enough work as two parts on two threads).

Reports per data set and runner: the median time per epoch (training only; wall-clock
and the process's CPU time, which a machine shared with other work distorts less), the
final test accuracy, and the training CPU time until the test accuracy first reaches
scikit-learn's final one (accuracy is measured after every epoch, outside the timing).

    python benchmarks/time_to_accuracy.py                  # all data sets
    python benchmarks/time_to_accuracy.py --data digits mnist1d_5k --epochs-scale 0.2
    python benchmarks/time_to_accuracy.py --data mnist1d_50k --deepjit-threads 2

Data: scikit-learn's digits (25 % test split, standardised), MNIST-1D
(``mnist1d.data.make_dataset(get_dataset_args())`` with num_samples 5,000 or 50,000, 20 %
test, standardised; generated once and cached in ``$DEEPJIT_BENCH_CACHE`` or
``/tmp/deepjit-bench``), the course's cat images (``$DEEPJIT_DATA`` or
``../shared/data/catvnoncat``).  Not part of the asv suite (work is under ``__main__``).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")
# name: hidden sizes, epochs, batch size, learning rate
SETTINGS = {
    "digits": dict(hidden=[100], epochs=100, batch=200, lr=1e-3),
    "mnist1d_5k": dict(hidden=[100], epochs=100, batch=200, lr=1e-3),
    "mnist1d_50k": dict(hidden=[100], epochs=30, batch=200, lr=1e-3),
    "cat": dict(hidden=[20, 7, 5], epochs=100, batch=200, lr=1e-3),
}
ALPHA = 1e-4     # scikit-learn's default L2 strength, used by every runner
RUNNERS = ("sklearn", "deepjit", "torch")


# -- data -----------------------------------------------------------------------------------
def _standardise(X, X_test):
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std == 0] = 1.0
    return (X - mean) / std, (X_test - mean) / std


def _mnist1d(n):
    cache = Path(os.environ.get("DEEPJIT_BENCH_CACHE", "/tmp/deepjit-bench"))
    path = cache / f"mnist1d_{n}.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset
        args = get_dataset_args()
        args.num_samples = n
        d = make_dataset(args)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"])
    with np.load(path) as d:
        return d["x"], d["y"], d["x_test"], d["y_test"]


def load(name):
    """``(X, y, X_test, y_test)``, one example per ROW (scikit-learn's layout), float64."""
    if name == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        X, y = load_digits(return_X_y=True)
        X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    elif name.startswith("mnist1d"):
        X, y, X_test, y_test = _mnist1d(5000 if name.endswith("5k") else 50000)
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from common import cat
        X, Y, X_test, Y_test = cat("float64")
        return X.T.copy(), Y[0].astype(int), X_test.T.copy(), Y_test[0].astype(int)
    X, X_test = _standardise(np.asarray(X, float), np.asarray(X_test, float))
    return X, np.asarray(y).astype(int), X_test, np.asarray(y_test).astype(int)


# -- runners (each yields (wall s, CPU s of training, test accuracy) after every epoch) -----
class _Clock:
    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_sklearn(data, s):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    X, y, X_test, y_test = data
    model = MLPClassifier(hidden_layer_sizes=tuple(s["hidden"]), solver="adam",
                          batch_size=s["batch"], learning_rate_init=s["lr"], alpha=ALPHA,
                          max_iter=1, random_state=0, tol=0.0)
    classes = np.unique(y)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for _ in range(s["epochs"]):
        clock = _Clock()
        model.partial_fit(X, y, classes=classes)
        yield (*clock.elapsed(), model.score(X_test, y_test))


def run_deepjit(data, s):
    from deepjit import Model
    X, y, X_test, y_test = data
    n_classes = len(np.unique(y))
    binary = n_classes == 2
    dims = [X.shape[1], *s["hidden"], 1 if binary else n_classes]
    output = "sigmoid" if binary else "softmax"
    Xc, Yc = np.ascontiguousarray(X.T), y.reshape(1, -1)
    Xt, Yt = np.ascontiguousarray(X_test.T), y_test.reshape(1, -1)
    options = dict(learning_rate=s["lr"], batch_size=min(s["batch"], X.shape[0]),
                   optimizer="adam", l2=ALPHA, seed=0)
    Model(dims, "relu", output, init="xavier", seed=0).fit(Xc[:, :50], Yc[:, :50], num_epochs=1,
                                                        **{**options, "batch_size": 25})
    stamps = []
    timed = Model(dims, "relu", output, init="xavier", seed=0)
    clock = _Clock()
    timed.fit(Xc, Yc, num_epochs=s["epochs"],
              on_epoch=lambda record: stamps.append(clock.elapsed()), **options)
    # the same run again (same seed: the same parameters), now scoring every epoch
    scored = Model(dims, "relu", output, init="xavier", seed=0)
    scored.fit(Xc, Yc, num_epochs=s["epochs"], validation_data=(Xt, Yt), **options)
    wall, cpu = np.diff([(0.0, 0.0)] + stamps, axis=0).T
    yield from zip(wall, cpu, scored.history_["val_accuracy"])


def run_torch(data, s):
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(0)
    X, y, X_test, y_test = (torch.from_numpy(np.ascontiguousarray(a)) for a in data)
    binary = int(y.max()) == 1
    sizes = [X.shape[1], *s["hidden"], 1 if binary else int(y.max()) + 1]
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out, dtype=torch.float64), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    optimizer = torch.optim.Adam(net.parameters(), lr=s["lr"])
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    if binary:
        bce = torch.nn.BCEWithLogitsLoss()
        y, y_test = y.double(), y_test.double()

        def loss_fn(z, target):
            return bce(z[:, 0], target)

        def predict(z):
            return (z[:, 0] > 0).double()
    else:
        loss_fn, predict = torch.nn.CrossEntropyLoss(), lambda z: z.argmax(1)
    m, batch = X.shape[0], min(s["batch"], X.shape[0])
    for _ in range(s["epochs"]):
        clock = _Clock()
        order = torch.randperm(m)
        for k in range(0, m, batch):
            idx = order[k:k + batch]
            optimizer.zero_grad()
            loss = loss_fn(net(X[idx]), y[idx])
            loss = loss + ALPHA / (2 * len(idx)) * sum((w * w).sum() for w in weights)
            loss.backward()
            optimizer.step()
        elapsed = clock.elapsed()
        with torch.no_grad():
            accuracy = float((predict(net(X_test)) == y_test).double().mean())
        yield (*elapsed, accuracy)


def measure(runner, name, scale):
    s = dict(SETTINGS[name])
    s["epochs"] = max(2, int(round(s["epochs"] * scale)))
    data = load(name)
    curve = list(globals()[f"run_{runner}"](data, s))
    return {"times": [float(t) for t, _, _ in curve], "cpu": [float(c) for _, c, _ in curve],
            "accuracy": [float(a) for _, _, a in curve]}


# -- the table ------------------------------------------------------------------------------
def child(runner, name, scale, threads=1):
    """Runs one measurement in a fresh process on ``threads`` threads; returns its JSON
    result."""
    env = {**os.environ, **{k: str(threads) for k in THREAD_VARIABLES}}
    out = subprocess.run([sys.executable, __file__, "--child", runner, name, str(scale)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def seconds_to(result, target, clock="cpu"):
    cumulative = np.cumsum(result[clock])
    reached = np.nonzero(np.asarray(result["accuracy"]) >= target - 1e-12)[0]
    return float(cumulative[reached[0]]) if reached.size else None


def table(names, scale, runners, threads=1, deepjit_threads=None):
    rows = ["| data | runner | ms / epoch, wall | ms / epoch, CPU | final test accuracy | "
            "CPU s to sklearn's accuracy | per-epoch speed-up vs sklearn (CPU; wall) | "
            "speed-up to sklearn's accuracy (CPU) |", "|---|---|---|---|---|---|---|---|"]
    for name in names:
        results = {r: child(r, name, scale, deepjit_threads or threads if r == "deepjit"
                            else threads) for r in runners}
        base = results.get("sklearn", {})
        target = base["accuracy"][-1] if "accuracy" in base else None
        for runner, res in results.items():
            rows.append(_row(name, runner, res, base, target))
        print("\n".join(rows[-len(results):]), flush=True)
    return "\n".join(rows)


def _row(name, runner, res, base, target):
    if "error" in res:
        return f"| {name} | {runner} | error: {res['error']} | | | | | |"
    wall, cpu = (float(np.median(res[k])) for k in ("times", "cpu"))
    reach = seconds_to(res, target) if target is not None else None
    cells = [name, runner, f"{1000 * wall:.2f}", f"{1000 * cpu:.2f}",
             f"{res['accuracy'][-1]:.4f}", "not reached" if reach is None else f"{reach:.3f}"]
    if "cpu" in base:
        base_wall, base_cpu = (float(np.median(base[k])) for k in ("times", "cpu"))
        base_reach = seconds_to(base, target)
        cells += [f"{base_cpu / cpu:.1f}x; {base_wall / wall:.1f}x",
                  f"{base_reach / reach:.1f}x" if reach and base_reach else ""]
    return "| " + " | ".join(cells) + " |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    parser.add_argument("--epochs-scale", type=float, default=1.0,
                        help="multiply every data set's number of epochs (quick runs)")
    parser.add_argument("--threads", type=int, default=1, help="threads of every runner")
    parser.add_argument("--deepjit-threads", type=int, help="threads of deepjit alone")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        runner, name, scale = args.child
        print(json.dumps(measure(runner, name, float(scale))))
        return
    print(f"{args.threads} thread(s) per runner, deepjit "
          f"{args.deepjit_threads or args.threads}; load average before: {os.getloadavg()}")
    print(table(args.data, args.epochs_scale, args.runners, args.threads, args.deepjit_threads))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
