"""The cold-start workloads (``cold_start.py``) at reduced iteration counts, and a few
neighbours (other activations, outputs and float32), with their parameters compared bit
for bit against a reference file: a change that only speeds compilation must leave every
result unchanged to the last bit.

Save a reference from one tree, compare from another:
``PYTHONPATH=/path/to/main/src python -m benchmarks.cold_start_bitwise --save ref.npz``,
``PYTHONPATH=src python -m benchmarks.cold_start_bitwise --compare ref.npz``."""
import argparse
import sys

import numpy as np

from .common import cat_data_dir

# name: (data, layer_dims, hidden, output, dtype, formulation, learning rate, iterations)
FITS = {
    "demo": ("flower", [2, 4, 1], "tanh", "sigmoid", "float64", "auto", 1.2, 300),
    "cat": ("cat", [12288, 20, 7, 5, 1], "relu", "sigmoid", "float64", "auto", 0.0075, 40),
    "tall": ("tall", [30, 64, 32, 1], "relu", "sigmoid", "float64", "auto", 0.05, 3),
    "demo float32 sigmoid": ("flower", [2, 4, 1], "sigmoid", "sigmoid", "float32", "auto",
                             1.2, 300),
    "leaky softmax dense": ("flower", [2, 6, 5, 2], "leaky_relu", "softmax", "float64",
                            "dense", 0.3, 200),
    "tall tanh linear float32": ("tall", [30, 64, 32, 1], "tanh", "linear", "float32",
                                 "auto", 0.01, 2),
    "blocked dense sigmoid": ("tall", [30, 100, 1], "sigmoid", "sigmoid", "float64",
                              "dense", 0.05, 2),
    "cat examples float32": ("cat", [12288, 7, 1], "relu", "sigmoid", "float32", "auto",
                             0.0075, 20),
}


def data(kind, output):
    if kind == "flower":
        from deepjit.datasets import load_planar_dataset
        X, Y = load_planar_dataset(seed=1)
    elif kind == "cat":
        from deepjit.datasets import flatten_images, load_catvnoncat
        d = load_catvnoncat(cat_data_dir())
        X, Y = flatten_images(d.train_x_orig), d.train_y
    else:
        rng = np.random.RandomState(0)
        X = rng.randn(30, 100_000)
        Y = (rng.randn(1, 30) @ X > 0).astype(np.int64)
    if output == "softmax":
        Y = np.vstack([Y, 1 - Y])
    if output == "linear":
        Y = Y.astype(float) * 2.0 - 1.0
    return X, Y


def fit_all():
    from deepjit import Model
    results = {}
    for name, (kind, dims, hidden, output, dtype, formulation, lr, iters) in FITS.items():
        X, Y = data(kind, output)
        model = Model(dims, hidden_activation=hidden, output=output, seed=1, dtype=dtype,
                      formulation=formulation)
        model.fit(X, Y, learning_rate=lr, num_iterations=iters)
        for key, value in model.parameters.items():
            results[f"{name}/{key}"] = value
        results[f"{name}/cost"] = np.array(model.final_cost_)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save")
    group.add_argument("--compare")
    args = parser.parse_args(argv)
    results = fit_all()
    if args.save:
        np.savez(args.save, **results)
        print(f"saved {len(results)} arrays to {args.save}")
        return 0
    reference = np.load(args.compare)
    differ = [k for k in reference.files
              if k not in results or results[k].dtype != reference[k].dtype
              or results[k].tobytes() != reference[k].tobytes()]
    print(f"{len(reference.files) - len(differ)} of {len(reference.files)} arrays identical "
          "bit for bit" + (f"; differ: {differ}" if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
