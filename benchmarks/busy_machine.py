"""A busy machine: deepjit's cpu engine with and without a competing process that spins
on one core, for 1 and 2 threads and the automatic choice (``num_threads=None``).

deepjit should slow down in proportion to the cores it gets, not collapse (BLAS threads
that spin while one of them waits for a busy core made the digits fit 30x slower).
Workloads: digits (scikit-learn's ``load_digits``, standardised, [64, 100, 10] softmax,
full batch: the dense formulation) and tall ([30, 64, 32, 1] on 1,000,000 examples:
the streamed formulation).  Prints a markdown table of milliseconds per iteration
(medians of repeats), the ratio busy / quiet and the ratio to one thread when busy.

    python benchmarks/busy_machine.py
    python benchmarks/busy_machine.py --workloads digits --repeats 7

Not part of the asv suite (asv imports this module; all work is under ``__main__``).
"""
import argparse
import os
import subprocess
import sys
import time

SPIN = "import os, sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"
WORKLOADS = {"digits": dict(dims=[64, 100, 10], output="softmax", iters=100, lr=0.1),
             "tall": dict(dims=[30, 64, 32, 1], output="sigmoid", iters=3, lr=0.01)}


def load(workload):
    import numpy as np
    if workload == "digits":
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
        X = (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-12)
        return np.ascontiguousarray(X.T), np.eye(10)[:, y]
    X = np.random.default_rng(0).standard_normal((30, 1_000_000))
    return X, (X[:3].sum(axis=0, keepdims=True) > 0).astype(np.float64)


def ms_per_iteration(workload, X, Y, threads, repeats):
    import numpy as np
    from deepjit import Model
    spec = WORKLOADS[workload]
    times = []
    for _ in range(repeats):
        model = Model(spec["dims"], "relu", output=spec["output"], seed=1,
                      num_threads=threads)
        started = time.perf_counter()
        model.fit(X, Y, learning_rate=spec["lr"], num_iterations=spec["iters"])
        times.append((time.perf_counter() - started) / spec["iters"] * 1e3)
    return float(np.median(times))


def spinning(core):
    """A process busy on ``core`` (a loop that never sleeps); the caller kills it."""
    return subprocess.Popen([sys.executable, "-c", SPIN, str(core)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="digits,tall")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from deepjit import Model
    cores = sorted(os.sched_getaffinity(0))
    print(f"{len(cores)} cores; load average {os.getloadavg()[0]:.2f} at the start\n")
    print("| workload | num_threads | quiet ms/it | busy ms/it | busy / quiet "
          "| busy / (1 thread, busy) |")
    print("|---|---|---|---|---|---|")
    for workload in args.workloads.split(","):
        X, Y = load(workload)
        spec = WORKLOADS[workload]
        Model(spec["dims"], "relu", output=spec["output"]).fit(X[:, :300], Y[:, :300],
                                                               0.1, 2)   # compile
        rows = {}
        for threads in (1, 2, None):
            quiet = ms_per_iteration(workload, X, Y, threads, args.repeats)
            competitor = spinning(cores[-1])
            try:
                time.sleep(0.2)
                busy = ms_per_iteration(workload, X, Y, threads, args.repeats)
            finally:
                competitor.kill()
                competitor.wait()
            rows[threads] = (quiet, busy)
        for threads, (quiet, busy) in rows.items():
            print(f"| {workload} | {threads or 'auto'} | {quiet:.3g} | {busy:.3g} | "
                  f"{busy / quiet:.2f} | {busy / rows[1][1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
