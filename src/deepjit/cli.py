"""The ``deepjit`` command line (also ``python -m deepjit``)."""
import argparse
import sys
import time

from . import __version__


def demo(args):
    """Trains on the flower (built in) or, with --data-dir, on the cat images."""
    from . import Model, datasets
    if args.data_dir:
        data = datasets.load_catvnoncat(args.data_dir)
        X, Y = datasets.flatten_images(data.train_x_orig), data.train_y
        X_test, Y_test = datasets.flatten_images(data.test_x_orig), data.test_y
        model = Model([X.shape[0], 20, 7, 5, 1], "relu", "sigmoid", init="scaled", seed=1)
        fit = dict(learning_rate=0.0075, num_iterations=2500, record_every=100)
        title = "cat vs non-cat, layers [12288, 20, 7, 5, 1], relu/sigmoid"
    else:
        X, Y = datasets.load_planar_dataset()
        X_test = Y_test = None
        model = Model([2, 4, 1], "tanh", "sigmoid", init="small", seed=3)
        fit = dict(learning_rate=1.2, num_iterations=10000, record_every=1000)
        title = "planar flower, layers [2, 4, 1], tanh/sigmoid"
    print(f"deepjit {__version__} demo: {title}, engine {args.engine}")
    model.engine = args.engine
    started = time.perf_counter()
    model.fit(X, Y, print_cost=True, **fit)
    print(f"Trained {model.n_iter_} iterations in {time.perf_counter() - started:.2f} s "
          "(first call includes compilation)")
    print(f"Train accuracy: {100 * model.score(X, Y):.2f} %")
    if X_test is not None:
        print(f"Test accuracy: {100 * model.score(X_test, Y_test):.2f} %")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="deepjit", description=(
        "Train the fully connected networks of 'Neural Networks and Deep Learning' fast."))
    parser.add_argument("--version", action="version", version=f"deepjit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="train on the built-in flower data (or the cat data)")
    p.add_argument("--data-dir", help="directory with train_catvnoncat.h5 / test_catvnoncat.h5")
    p.add_argument("--engine", default="cpu", choices=["cpu", "numpy", "cuda"])
    p.set_defaults(run=demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, ImportError, RuntimeError) as exc:
        print(f"deepjit: error: {exc}", file=sys.stderr)
        return 2
