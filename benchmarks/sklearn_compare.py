"""The same scikit-learn script run twice: with scikit-learn's MLPClassifier / MLPRegressor
and with deepjit's drop-ins swapped in (``from deepjit.sklearn import DeepJITClassifier
as MLPClassifier``).  Default arguments (``random_state=0``), each fit in its own
process; prints a markdown table of fit times, their ratio, epochs and test scores.

    python benchmarks/sklearn_compare.py                       # digits, mnist1d, cat, diabetes
    python benchmarks/sklearn_compare.py --datasets digits diabetes

deepjit's process first fits 50 rows for one epoch, so the timed fit does not include
loading the compiled kernels from Numba's cache (0.3-1 s once per process; the first fit
ever compiles them, about 10 s).  MNIST-1D needs ``pip install mnist1d``; the cat data is
read from ``../shared/data/catvnoncat`` (or ``$DEEPJIT_DATA``).  Not part of the asv suite.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

DATA_DIR = Path(os.environ.get("DEEPJIT_DATA", Path(__file__).resolve().parents[2]
                               / "shared" / "data" / "catvnoncat"))
DATASETS = ["digits", "mnist1d", "cat", "diabetes"]


def load(name):
    """``(X_train, X_test, y_train, y_test, is_classification)``, features standardised
    (the cat images scaled to [0, 1], as in the course)."""
    import numpy as np
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    if name == "cat":
        from deepjit.datasets import load_catvnoncat
        data = load_catvnoncat(DATA_DIR)
        flat = [a.reshape(a.shape[0], -1) / 255.0 for a in (data.train_x_orig,
                                                            data.test_x_orig)]
        return flat[0], flat[1], data.train_y.ravel(), data.test_y.ravel(), True
    if name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset
        args = get_dataset_args()
        args.num_samples = 50000
        data = make_dataset(args)
        parts = [data["x"], data["x_test"], data["y"], data["y_test"]]
    else:
        from sklearn.datasets import load_diabetes, load_digits
        X, y = (load_digits if name == "digits" else load_diabetes)(return_X_y=True)
        parts = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(parts[0])
    return (scaler.transform(parts[0]), scaler.transform(parts[1]),
            np.asarray(parts[2]), np.asarray(parts[3]), name != "diabetes")


def run(runner, name):
    """One fit in this process; prints a JSON line."""
    if runner == "sklearn":
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    else:
        from deepjit.sklearn import DeepJITClassifier as MLPClassifier
        from deepjit.sklearn import DeepJITRegressor as MLPRegressor
    X_train, X_test, y_train, y_test, classify = load(name)
    cls = MLPClassifier if classify else MLPRegressor
    warnings.simplefilter("ignore")
    if runner == "deepjit":
        cls(max_iter=1).fit(X_train[:50], y_train[:50])
    model = cls(random_state=0)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "epochs": model.n_iter_,
                      "score": model.score(X_test, y_test), "loss": model.loss_}))


def measure(runner, name):
    out = subprocess.run([sys.executable, __file__, "--run", runner, name],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run(*args.run)
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average, {os.cpu_count()} cores)")
    print("| data set | scikit-learn fit (s) | deepjit fit (s) | speed-up | epochs (sk / dj) "
          "| test score scikit-learn | test score deepjit |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        sk, dj = measure("sklearn", name), measure("deepjit", name)
        print(f"| {name} | {sk['seconds']:.3g} | {dj['seconds']:.3g} | "
              f"{sk['seconds'] / dj['seconds']:.1f}x | {sk['epochs']} / {dj['epochs']} | "
              f"{sk['score']:.6f} | {dj['score']:.6f} |", flush=True)


if __name__ == "__main__":
    main()
