"""Side-by-side CPU benchmark: deepjit's cpu engine, its numpy engine and PyTorch.

Same network, same initial weights, same full-batch gradient descent; each measurement
runs in its own process (so peak memory is its own).  Prints a markdown table: seconds
per iteration (median of repeats), the speed-up over deepjit's numpy engine in the same
dtype, and memory (process baseline before the data, the data, the peak).

    python benchmarks/compare.py                      # all workloads
    python benchmarks/compare.py --workloads tall --repeats 3

Not part of the asv suite (asv imports this module; all work is under ``__main__``).
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat"

# workload -> (layer_dims builder, hidden, output, learning rate, iterations per runner)
WORKLOADS = {
    "cat": dict(hidden="relu", lr=0.0075, iters={"cpu": 2500, "numpy": 20, "torch": 50}),
    "tall": dict(hidden="relu", lr=0.01, iters={"cpu": 10, "numpy": 2, "torch": 3}),
    "flower": dict(hidden="tanh", lr=1.2, iters={"cpu": 10000, "numpy": 500, "torch": 500}),
    "logreg": dict(hidden=None, lr=0.005, iters={"cpu": 2000, "numpy": 100, "torch": 100}),
}


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


DIMS = {"cat": [12288, 20, 7, 5, 1], "logreg": [12288, 1], "tall": [30, 64, 32, 1],
        "flower": [2, 4, 1]}


def load(workload, dtype):
    """``(X, Y)`` in the layout the user would have (the cat images flatten to F order)."""
    import numpy as np
    if workload in ("cat", "logreg"):
        from deepjit.datasets import flatten_images, load_catvnoncat
        data = load_catvnoncat(DATA_DIR)
        X, Y = flatten_images(data.train_x_orig), data.train_y
    elif workload == "tall":   # drawn in its dtype, so no transient copy inflates the peak
        X = np.random.default_rng(0).standard_normal((30, 1_000_000), dtype=dtype)
        Y = (X[:3].sum(axis=0, keepdims=True) > 0).astype(dtype)
    else:
        from deepjit.datasets import load_planar_dataset
        X, Y = load_planar_dataset()
    return X.astype(dtype, order="K", copy=False), Y.astype(dtype, copy=False)


def tiny_like(workload, dtype):
    """A few random examples with the workload's sizes, dtype and memory layout."""
    import numpy as np
    rng = np.random.default_rng(1)
    X = rng.standard_normal((DIMS[workload][0], 64)).astype(dtype)
    X = np.asfortranarray(X) if workload in ("cat", "logreg") else X
    return X, (rng.random((1, 64)) > 0.5).astype(dtype)


def child(workload, runner, dtype, repeats):
    """Runs in its own process; prints one JSON line.  Compilation (or loading the
    cache) happens on tiny data first, then the baseline memory is read, then the data
    is loaded and the fit timed."""
    import numpy as np
    from deepjit import Model
    from deepjit.engines.formulation import choose
    spec, dims = WORKLOADS[workload], DIMS[workload]
    iters, hidden = spec["iters"][runner], spec["hidden"] or "relu"
    init = "zeros" if len(dims) == 2 else ("small" if workload == "flower" else "scaled")
    params = Model(dims, hidden, init=init, seed=1, dtype=dtype).parameters
    m = {"cat": 209, "logreg": 209, "tall": 1_000_000, "flower": 400}[workload]
    formulation = choose(dims, m, iters) if runner == "cpu" else runner

    def make_fit(X, Y):
        if runner == "torch":
            return torch_fit(params, X, Y, hidden, spec["lr"])

        def fit(n):
            options = {"formulation": formulation} if runner == "cpu" else {}
            model = Model.from_parameters(params, hidden, engine=runner, **options)
            return model.fit(X, Y, learning_rate=spec["lr"], num_iterations=n).final_cost_
        return fit
    make_fit(*tiny_like(workload, dtype))(2)
    baseline = rss_mb()
    X, Y = load(workload, dtype)
    fit, times = make_fit(X, Y), []
    for _ in range(repeats):
        started = time.perf_counter()
        final = fit(iters)
        times.append((time.perf_counter() - started) / iters)
    print(json.dumps(dict(per_iter=float(np.median(times)), iters=iters, final_cost=final,
                          baseline_mb=baseline, data_mb=(X.nbytes + Y.nbytes) / 2 ** 20,
                          peak_mb=rss_mb(), formulation=formulation)))


def torch_fit(params, X, Y, hidden, lr):
    """The same full-batch gradient descent in PyTorch (autograd, eager, CPU)."""
    import torch
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    act = {"relu": torch.relu, "tanh": torch.tanh}[hidden]

    def fit(n):
        P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        L = len(P) // 2
        for _ in range(n):
            A = Xt
            for l in range(1, L):
                A = act(P[f"W{l}"] @ A + P[f"b{l}"])
            Z = P[f"W{L}"] @ A + P[f"b{L}"]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(Z, Yt)
            for p in P.values():
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in P.values():
                    p -= lr * p.grad
        return float(loss)
    return fit


def measure(workload, runner, dtype, repeats):
    out = subprocess.run([sys.executable, __file__, "--child", workload, runner, dtype,
                          str(repeats)], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="cat,tall,flower,logreg")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        workload, runner, dtype, repeats = args.child
        return child(workload, runner, dtype, int(repeats))
    runners = ["cpu", "numpy"] + (["torch"] if have_torch() else [])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; torch: {'yes' if have_torch() else 'no'}\n")
    print("| workload | dtype | runner | formulation | s / iteration | speed-up vs numpy "
          "| whole fit (s) | baseline MB | data MB | peak MB | final cost |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for workload in args.workloads.split(","):
        for dtype in args.dtypes.split(","):
            rows = {r: measure(workload, r, dtype, args.repeats) for r in runners}
            ref = rows["numpy"].get("per_iter")
            for runner, row in rows.items():
                if "error" in row:
                    print(f"| {workload} | {dtype} | {runner} | error: {row['error']} |")
                    continue
                whole = row["per_iter"] * WORKLOADS[workload]["iters"]["cpu"]
                print(f"| {workload} | {dtype} | {runner} | {row['formulation']} | "
                      f"{row['per_iter']:.3g} | {ref / row['per_iter']:.1f}x | {whole:.3g} | "
                      f"{row['baseline_mb']:.0f} | {row['data_mb']:.0f} | {row['peak_mb']:.0f} "
                      f"| {row['final_cost']:.6g} |", flush=True)


if __name__ == "__main__":
    main()
