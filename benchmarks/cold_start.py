"""The first fit after installing: every run in a fresh process, with a fresh Numba cache.

Prints one table (seconds, median of ``--repeat`` runs) with the rows of the cold-start
targets:

- ``import deepjit``, and whether it pulled in scikit-learn, h5py, matplotlib or CUDA;
- the README's demo (the flower, [2, 4, 1], 10,000 iterations) with an empty cache;
- the course's cat fit [12288, 20, 7, 5, 1], 2500 iterations, with an empty cache;
- a tall fit [30, 64, 32, 1] on 100,000 examples (streamed), 3 iterations, empty cache;
- for each fit, the same fit in a second process with the cache it left ("warm"), and the
  time the first fit takes beyond the training itself (the same fit repeated in the same
  process gives the training time).

Run: ``python -m benchmarks.cold_start [--repeat 3] [--data ../shared/data/catvnoncat]``.
Check ``uptime`` first: compilation is CPU-bound, and another busy process doubles it.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import cat_data_dir

IMPORT = """
import sys, time
t = time.perf_counter()
import deepjit
elapsed = time.perf_counter() - t
heavy = sorted(m for m in ("sklearn", "h5py", "matplotlib", "numba.cuda", "cupy")
               if m in sys.modules)
print("RESULT", {"seconds": elapsed, "heavy": heavy})
"""

# Each fit script builds its data, then times the first fit and an identical second one
# (the training alone, everything compiled and loaded).  It also reports the first fit's
# CPU seconds and the seconds spent inside Numba's outermost "numba:compile" events (less
# sensitive to other processes than wall time on a shared machine).
FIT = """
import time
t0 = time.perf_counter()
import numpy as np
from numba.core import event
from deepjit import Model
{build}

class Compiles(event.Listener):
    def __init__(self):
        self.open, self.seconds = [], 0.0
    def on_start(self, ev):
        self.open.append(time.perf_counter())
    def on_end(self, ev):
        started = self.open.pop()
        if not self.open:
            self.seconds += time.perf_counter() - started

def fit():
    model = Model({dims}, hidden_activation={hidden!r}, init={init!r}, seed={seed})
    t, cpu = time.perf_counter(), time.process_time()
    model.fit(X, Y, learning_rate={lr}, num_iterations={iterations})
    return time.perf_counter() - t, time.process_time() - cpu, model.final_cost_
compiles = Compiles()
with event.install_listener("numba:compile", compiles):
    first, cpu, cost = fit()
second, _, cost2 = fit()
assert cost == cost2
print("RESULT", {{"first": first, "training": second, "process": time.perf_counter() - t0,
                 "cost": cost, "cpu": cpu, "compile": compiles.seconds}})
"""

BUILD = {
    "flower": "from deepjit.datasets import load_planar_dataset\nX, Y = load_planar_dataset(seed=1)",
    "cat": ("from deepjit.datasets import load_catvnoncat, flatten_images\n"
            "d = load_catvnoncat({data!r})\nX, Y = flatten_images(d.train_x_orig), d.train_y"),
    "tall": ("rng = np.random.RandomState(0)\nX = rng.randn(30, 100_000)\n"
             "Y = (rng.randn(1, 30) @ X > 0).astype(np.int64)"),
}

FITS = {   # name: (layer_dims, hidden, init, seed, learning rate, iterations, target cold s)
    "demo (flower [2, 4, 1], 10,000 iterations)": ("flower", [2, 4, 1], "tanh", "small", 3,
                                                   1.2, 10_000, 2.0),
    "cat [12288, 20, 7, 5, 1], 2500 iterations": ("cat", [12288, 20, 7, 5, 1], "relu",
                                                  "scaled", 1, 0.0075, 2500, 3.0),
    "tall [30, 64, 32, 1], 100,000 examples, 3 iterations": ("tall", [30, 64, 32, 1], "relu",
                                                              "scaled", 1, 0.05, 3, 4.0),
}


def run_python(code, cache_dir):
    """Runs ``code`` in a fresh interpreter with ``NUMBA_CACHE_DIR=cache_dir``; returns the
    dict it printed after ``RESULT`` and the wall time of the whole process."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    wall = time.perf_counter() - started
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    return eval(line[len("RESULT "):], {}), wall   # our own child's dict literal


def measure_fit(script, repeat):
    """Medians over ``repeat`` pairs of processes (cold: a new cache; warm: the cache the
    cold one left)."""
    rows = {"cold": [], "cold_process": [], "cold_cpu": [], "cold_compile": [], "warm": [],
            "training": []}
    for _ in range(repeat):
        cache = Path(tempfile.mkdtemp(prefix="deepjit-cold-"))
        try:
            cold, wall = run_python(script, cache)
            warm, _ = run_python(script, cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        rows["cold"].append(cold["first"])
        rows["cold_process"].append(wall)
        rows["cold_cpu"].append(cold["cpu"])
        rows["cold_compile"].append(cold["compile"])
        rows["warm"].append(warm["first"] - warm["training"])
        rows["training"].append(warm["training"])
    return {k: statistics.median(v) for k, v in rows.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", default=str(cat_data_dir()))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    print(f"# {os.uname().nodename}, load {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}")
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        imports = [run_python(IMPORT, cache)[0] for _ in range(max(args.repeat, 5))]
    seconds = statistics.median(r["seconds"] for r in imports)
    results["import deepjit"] = {"seconds": seconds, "heavy": imports[0]["heavy"]}
    print(f"{'run':58} {'cold fit':>9} {'process':>8} {'cpu':>6} {'compile':>7} "
          f"{'warm extra':>10} {'training':>9} {'target':>7}")
    print(f"{'import deepjit (heavy modules: ' + (', '.join(imports[0]['heavy']) or 'none') + ')':58}"
          f" {seconds:9.3f} {'':>8} {'':>6} {'':>7} {'':>10} {'':>9} {0.2:7.2f}")
    for name, (data, dims, hidden, init, seed, lr, iterations, target) in FITS.items():
        if data == "cat" and not (Path(args.data) / "train_catvnoncat.h5").is_file():
            print(f"{name:58} skipped: no cat data in {args.data}")
            continue
        build = BUILD[data].format(data=args.data)
        script = FIT.format(build=build, dims=dims, hidden=hidden, init=init, seed=seed,
                            lr=lr, iterations=iterations)
        r = results[name] = measure_fit(script, args.repeat)
        print(f"{name:58} {r['cold']:9.3f} {r['cold_process']:8.2f} {r['cold_cpu']:6.2f} "
              f"{r['cold_compile']:7.2f} {r['warm']:10.3f} {r['training']:9.3f} {target:7.2f}")
    print("cold fit: the first fit with an empty cache (process: the whole process's wall "
          "time; cpu: the first fit's CPU seconds; compile: its seconds inside Numba's "
          "compilations); warm extra: the first fit with a filled cache minus the training "
          "itself (target 0.25 s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
