"""The ``deepjit`` command line (also ``python -m deepjit``): ``train``, ``predict``,
``demo``, ``warmup``.  Data files (``--data``) are read by :func:`deepjit.datasets.load_data_file`
(``.h5`` course images, ``.npz`` with X (n_x, m), ``.csv`` with one example per row).
Every error is one line on stderr and exit status 2."""
import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .activations import HIDDEN_CODES, OUTPUT_CODES
from .datasets import load_data_file
from .engines import ENGINES, FORMULATIONS
from .initializers import INITIALIZERS
from .optim import OPTIMIZERS, SCHEDULES
from .validation import DTYPES

DATA_HELP = ("data file: .h5 (course images), .npz (X of shape (n_x, m), one example per "
             "column as in the course, and Y of shape (1, m) or (m,)) or .csv (header row, "
             "one example per row, a label column)")


# -- train ----------------------------------------------------------------------------------
def train(args):
    """Trains a network on --data, saves it, and plots the costs (and boundary).  Under
    MPI (see ``--mpi``) each rank reads only its slice of the examples and trains with
    ``comm=``; rank 0 alone prints, plots and saves."""
    from . import Model
    _check_outputs(("--out", _with_npz(args.out)), ("--plot", args.plot))
    comm = _mpi_world(args.mpi)
    data = _RankData(args, comm)
    X, Y = data.X, data.Y
    n_out = data.output_units(args.output)
    dims = [X.shape[0], *args.layers, n_out]
    try:
        model = Model(dims, args.activation, args.output, init=args.init, seed=args.seed,
                      dtype=args.dtype, engine=args.engine, formulation=args.formulation,
                      num_threads=args.threads)
    except ValueError as exc:
        if not str(exc).startswith("layer_dims"):
            raise
        raise ValueError(f"--layers {','.join(map(str, args.layers)) or 'none'} (with "
                         f"n_x = {dims[0]} from the data and n_L = {n_out} from the labels "
                         f"and --output {args.output}): {exc}") from None
    say = print if data.rank0 else (lambda *a, **k: None)
    ranks = f" on {comm.size} MPI ranks" if comm is not None else ""
    say(f"Training layers {model.layer_dims}, {args.activation}/{args.output}, "
        f"{data.m} examples{ranks}, engine {args.engine}")
    started = time.perf_counter()
    options = _minibatch_options(args)
    if options:
        _fit_minibatch(model, X, Y, args, data.held_out(options), comm, data.rank0)
    else:
        with _ProgressBar(args.iterations) as bar:
            model.fit(X, Y, learning_rate=args.learning_rate, num_iterations=args.iterations,
                      record_every=args.record_every, callback=bar, comm=comm)
    say(f"Trained {model.n_iter_} iterations in {time.perf_counter() - started:.2f} s; "
        f"final cost {model.final_cost_:.6f}")
    if args.output != "linear":
        say(f"Train accuracy: {100 * data.accuracy(model):.2f} %")
    if data.rank0:
        print(f"Saved the model to {model.save(args.out)}")
        if args.plot:
            _write_plots(model, X, Y, args, boundary=comm is None)
    return 0


def _mpi_world(forced):
    """MPI.COMM_WORLD when this process was started by an MPI launcher (mpiexec sets
    PMI_SIZE or OMPI_COMM_WORLD_SIZE) with more than one rank, or with ``--mpi``; else
    None.  Without mpi4py, only ``--mpi`` is an error."""
    launched = any(int(os.environ.get(v, "1") or 1) > 1 for v in MPI_SIZE_VARIABLES)
    if not (forced or launched):
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        if forced:
            raise ImportError("--mpi needs mpi4py and an MPI: pip install 'deepjit[mpi]'") \
                from None
        return None
    return MPI.COMM_WORLD if forced or MPI.COMM_WORLD.size > 1 else None


MPI_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")


class _RankData:
    """--data as this process trains on it: all of it, or under MPI (``comm``) this
    rank's contiguous slice (``distributed.shard_slice`` of the training examples; an
    .h5 file is read only there), with ``m`` the number of examples of all ranks."""

    def __init__(self, args, comm):
        self.args, self.comm, self.rank0 = args, comm, comm is None or comm.rank == 0
        if comm is None:
            self.X, self.Y, _ = load_data_file(args.data, args.label_column)
            self.m = self.X.shape[1]
            return
        from .distributed import agree_on_errors, shard_slice
        self.n_val = 0

        def part(m):
            self.n_val = _held_out_count(m, args.validation_fraction)
            return shard_slice(m - self.n_val, comm)
        self.X, self.Y, _ = agree_on_errors(
            comm, lambda: load_data_file(args.data, args.label_column, part=part))
        self.m = comm.allreduce(self.X.shape[1]) + self.n_val     # the file's examples
        self.validation = None

    def output_units(self, output):
        """n_L from the labels of all ranks (for softmax the largest label of any)."""
        if self.comm is None or output != "softmax":
            return _output_units(self.Y, output)
        from mpi4py import MPI
        from .distributed import agree_on_errors
        largest = agree_on_errors(self.comm, lambda: _output_units(self.Y, output)) - 1
        return max(2, self.comm.allreduce(largest, op=MPI.MAX) + 1)

    def held_out(self, options):
        """The mini-batch options for this rank: under MPI, --validation-fraction becomes
        ``validation_data``, the file's last examples, read by every rank."""
        if self.comm is None or "validation_fraction" not in options:
            return options
        options = dict(options)
        del options["validation_fraction"]
        n_val = self.n_val
        Xv, Yv, _ = load_data_file(self.args.data, self.args.label_column,
                                   part=lambda m: slice(m - n_val, m))
        self.validation = (Xv, Yv)
        return {**options, "validation_data": self.validation}

    def accuracy(self, model):
        """The accuracy over all the file's examples (as in one process: the held-out
        ones too, counted on rank 0)."""
        if self.comm is None:
            return model.score(self.X, self.Y)
        right = model.score(self.X, self.Y) * self.X.shape[1]
        if self.validation is not None and self.rank0:
            right += model.score(*self.validation) * self.n_val
        return self.comm.allreduce(right) / self.m


def _held_out_count(m, fraction):
    """How many of the last examples --validation-fraction holds out (as
    ``minibatch.split_validation`` does; at least one left on each side)."""
    if fraction is None:
        return 0
    n_val = int(np.floor(m * fraction))
    if not 1 <= n_val < m:
        raise ValueError(f"--validation-fraction {fraction}: leaves no example on one side "
                         f"of m = {m}")
    return n_val


def _with_npz(path):
    return path if path.endswith(".npz") else path + ".npz"


def _check_outputs(*options):
    """Refuses, before any work, an output path (``(option, path)``; None for an option
    not given) whose folder is missing or not writable, or that is a folder."""
    for option, path in options:
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"{option} {path}: no such directory {folder}")
        if os.path.isdir(path) or not os.access(folder, os.W_OK):
            raise ValueError(f"{option} {path}: cannot write there")


def _minibatch_options(args):
    """The mini-batch options given on the command line (empty: full-batch training)."""
    from . import optim
    options = {"batch_size": args.batch_size, "num_epochs": args.epochs,
               "optimizer": args.optimizer, "l2": args.l2, "keep_prob": args.keep_prob,
               "validation_fraction": args.validation_fraction}
    options = {k: v for k, v in options.items() if v is not None}
    if args.schedule == "constant":
        options["schedule"] = "constant"
    elif args.schedule is not None:     # the interval schedule's default interval unless given
        interval = args.time_interval or optim.SCHEDULES[args.schedule]().time_interval
        options["schedule"] = optim.InverseTimeDecay(args.decay_rate, interval)
    if args.early_stopping:
        options.update(early_stopping=True, patience=args.patience, min_delta=args.min_delta)
    return options


def _fit_minibatch(model, X, Y, args, options, comm=None, rank0=True):
    """Mini-batch training with a bar over epochs (cost, validation accuracy) on rank 0."""
    if "num_epochs" not in options:
        options["num_iterations"] = args.iterations
    with _EpochBar(options.get("num_epochs") if rank0 else False) as bar:
        model.fit(X, Y, learning_rate=args.learning_rate, on_epoch=bar, comm=comm,
                  **options)
    if model.best_epoch_ is not None and rank0:
        print(f"Early stopping: kept the parameters of epoch {model.best_epoch_}")


def _output_units(Y, output):
    """n_L from the labels: 1 for sigmoid, the number of classes for softmax (labels
    0..K-1), the rows of Y for linear."""
    if output != "softmax":
        return Y.shape[0]
    if Y.shape[0] != 1 or np.any(Y != np.round(Y)) or Y.min() < 0:
        raise ValueError("labels: a softmax output needs integer class labels 0..K-1 in "
                         "one row or column")
    return max(2, int(Y.max()) + 1)


class _ProgressBar:
    """A tqdm bar on stderr, shown from the first chunk on (an error found before
    training starts stays one line); called as ``Model.fit``'s ``callback(done, cost)``."""

    def __init__(self, total):
        self.total, self.bar = total, None

    def __enter__(self):
        return self

    def __call__(self, done, cost):
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, unit="it", desc="training", file=sys.stderr)
        self.bar.update(done - self.bar.n)
        self.bar.set_postfix(cost=f"{cost:.6f}", refresh=False)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


class _EpochBar(_ProgressBar):
    """A tqdm bar over epochs; called as ``Model.fit``'s ``on_epoch(record)``."""

    def __enter__(self):
        from tqdm import tqdm
        if self.total is not False:         # False: a quiet MPI rank
            self.bar = tqdm(total=self.total, unit="epoch", desc="training", file=sys.stderr)
        return self

    def __call__(self, record):
        self.bar.update(1)
        shown = {"cost": f"{record['cost']:.6f}"}
        if record.get("val_accuracy") is not None:
            shown["val_acc"] = f"{100 * record['val_accuracy']:.2f}%"
        self.bar.set_postfix(shown, refresh=False)


def _write_plots(model, X, Y, args, boundary=True):
    from . import plots
    if model.history_ is not None:
        plots.plot_history(model.history_, path=args.plot)
    else:
        plots.plot_costs(model.costs_, args.learning_rate, args.record_every, path=args.plot)
    print(f"Wrote the cost curve to {args.plot}")
    if X.shape[0] == 2 and boundary:      # not under MPI: rank 0 holds a part of X
        plot = Path(args.plot)
        boundary = plot.with_name(f"{plot.stem}_boundary{plot.suffix}")
        plots.plot_decision_boundary(model, X, Y, path=boundary)
        print(f"Wrote the decision boundary to {boundary}")


# -- predict --------------------------------------------------------------------------------
def predict(args):
    """Predicts --data with a saved model; prints the accuracy when labels are present."""
    from . import Model
    _check_outputs(("--out", args.out), ("--mislabeled", args.mislabeled))
    if not Path(args.model).is_file():
        raise FileNotFoundError(f"no such model file: {args.model}")
    model = Model.load(args.model, engine=args.engine)
    X, Y, images = load_data_file(args.data, args.label_column, need_labels=False)
    proba, predicted = model.predict_proba(X), model.predict(X)
    print(f"Predicted {X.shape[1]} examples with {args.model} (layers {model.layer_dims})")
    if Y is not None:
        score = model.score(X, Y)
        print(f"R^2: {score:.4f}" if model.net.output == "linear"
              else f"Accuracy: {100 * score:.2f} %")
    if args.out:
        _write_predictions(args.out, model.net.output, predicted, proba)
        print(f"Wrote the predictions to {args.out}")
    if args.mislabeled:
        _plot_mislabeled(args.mislabeled, X, Y, predicted, images)
    return 0


def _plot_mislabeled(path, X, Y, predicted, images):
    if images is None or Y is None or Y.shape[0] != 1:
        raise ValueError("--mislabeled needs labelled image data (a course .h5 file)")
    from . import plots
    plots.plot_mislabeled_images(images.classes, X, Y, predicted, path=path,
                                 image_shape=images.shape)
    print(f"Wrote the {int(np.sum(Y != predicted))} mislabeled images to {path}")


def _write_predictions(path, output, predicted, proba):
    """One row per example: the prediction, then the probabilities (classifiers)."""
    n = proba.shape[0]
    if output == "linear":
        header, table = [f"y{i}" for i in range(n)], proba.T
    elif output == "softmax":
        header, table = ["prediction"] + [f"p{k}" for k in range(n)], \
            np.hstack([predicted.T, proba.T])
    else:
        names = ["prediction", "probability"] if n == 1 else \
            [f"prediction{i}" for i in range(n)] + [f"probability{i}" for i in range(n)]
        header, table = names, np.hstack([predicted.T, proba.T])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in table:
            writer.writerow([_number(v) for v in row])


def _number(value):
    return str(int(value)) if float(value).is_integer() and abs(value) < 2 ** 53 \
        else repr(float(value))


# -- demo ------------------------------------------------------------------------------------
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


# -- warmup ----------------------------------------------------------------------------------
def warmup(args):
    """Compiles the cpu engine's kernels into Numba's cache ahead of a first fit."""
    from .warmup import warmup as compile_kernels
    print("Compiling the cpu engine's kernels into Numba's cache (NUMBA_CACHE_DIR="
          f"{os.environ.get('NUMBA_CACHE_DIR', 'unset: beside the sources')})")
    timings = compile_kernels(args.dtype, args.formulation, not args.no_minibatch,
                              report=lambda name, seconds: print(f"  {name:20} {seconds:7.2f} s",
                                                                 flush=True),
                              course2=args.course2)
    print(f"Done in {sum(seconds for _, seconds in timings):.2f} s")
    return 0


def _add_warmup(commands):
    from .warmup import WARM_FORMULATIONS
    p = commands.add_parser("warmup", help="compile the cpu engine's kernels ahead of a "
                                           "first fit (fills Numba's cache)")
    p.add_argument("--dtype", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    p.add_argument("--formulation", nargs="+", default=list(WARM_FORMULATIONS),
                   choices=list(WARM_FORMULATIONS))
    p.add_argument("--no-minibatch", action="store_true",
                   help="skip the mini-batch epoch")
    p.add_argument("--course2", action="store_true",
                   help="also the second course's compat models' kernels (about 17 s)")
    p.set_defaults(run=warmup)


# -- the parser ------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """Reports a bad option in one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _layers(text):
    """'20,7,5' -> [20, 7, 5]; '' or 'none' -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(n) for n in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers like 20,7,5, got "
                                         f"{text!r}")
    return sizes


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not np.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got "
                                             f"{text!r}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _add_train(commands):
    p = commands.add_parser("train", help="train a network on a data file and save it",
                            description=train.__doc__ + " " + DATA_HELP)
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--label-column", help="CSV label column (default: 'label', else 'y')")
    p.add_argument("--layers", type=_layers, default=[20, 7, 5],
                   help="hidden layer sizes, comma-separated; n_x and n_L come from the "
                        "data ('none' for logistic regression; default 20,7,5)")
    p.add_argument("--activation", default="relu", choices=list(HIDDEN_CODES))
    p.add_argument("--output", default="sigmoid", choices=list(OUTPUT_CODES),
                   help="sigmoid: labels 0/1; softmax: labels 0..K-1; linear: regression")
    p.add_argument("--init", default="scaled", choices=INITIALIZERS,
                   help="weight initialisation (default scaled; zeros only with --layers "
                        "none)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--learning-rate", type=_positive(float), default=0.0075)
    p.add_argument("--iterations", type=_positive(int), default=2500)
    p.add_argument("--record-every", type=_positive(int), default=100,
                   help="record the cost every N iterations (default 100)")
    p.add_argument("--dtype", default="float64", choices=list(DTYPES))
    p.add_argument("--engine", default="cpu", choices=list(ENGINES))
    p.add_argument("--formulation", default="auto", choices=list(FORMULATIONS),
                   help="how the cpu and cuda engines compute (default auto: the cheapest)")
    p.add_argument("--threads", type=_positive(int), help="cpu engine threads (default: "
                   "all cores)")
    p.add_argument("--mpi", action="store_true", help="train over MPI.COMM_WORLD (mpi4py) "
                   "even on one rank; without it, MPI is used when mpiexec started more "
                   "than one rank. Each rank reads only its slice of --data (an .h5 file "
                   "from disk; .npz and .csv are read whole, then cut); rank 0 prints and "
                   "saves")
    _add_minibatch_arguments(p)
    p.add_argument("--out", default="model.npz", help="model file to write (default "
                   "model.npz)")
    p.add_argument("--plot", help="write the cost curve to this PNG; for 2-D inputs also "
                   "the decision boundary, to NAME_boundary.png")
    p.set_defaults(run=train)


def _fraction_in(low_open, text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not (0 < value < 1 or (not low_open and value == 1)):
        raise argparse.ArgumentTypeError(f"expected a number in (0, {'1)' if low_open else '1]'}"
                                         f", got {text!r}")
    return value


def _keep_probs(text):
    """'0.8' or '0.8,0.9' (one per hidden layer)."""
    values = [_fraction_in(False, part) for part in text.split(",")]
    return values[0] if len(values) == 1 else values


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _add_minibatch_arguments(p):
    g = p.add_argument_group("mini-batch training (any of these replaces full-batch "
                             "gradient descent)")
    g.add_argument("--batch-size", type=_positive(int), help="examples per update")
    g.add_argument("--epochs", type=_positive(int), help="passes over the data (instead of "
                   "--iterations, which then counts updates)")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS))
    g.add_argument("--schedule", choices=list(SCHEDULES),
                   help="learning rate lr/(1 + decay_rate * epoch), the epoch floored to "
                        "--time-interval when given")
    g.add_argument("--decay-rate", type=_non_negative, default=1.0)
    g.add_argument("--time-interval", type=_positive(int))
    g.add_argument("--l2", type=_non_negative, help="L2 strength lambda")
    g.add_argument("--keep-prob", type=_keep_probs, help="dropout keep probability of the "
                   "hidden layers: one number, or one per hidden layer (0.8,0.9)")
    g.add_argument("--validation-fraction", type=lambda t: _fraction_in(True, t),
                   help="hold out this last part of the examples; the bar shows its "
                        "accuracy")
    g.add_argument("--early-stopping", action="store_true", help="stop when the validation "
                   "cost (else the training cost) has not improved for --patience epochs, "
                   "and keep the best parameters")
    g.add_argument("--patience", type=_positive(int), default=10)
    g.add_argument("--min-delta", type=_non_negative, default=0.0)


def _add_predict(commands):
    p = commands.add_parser("predict", help="predict a data file with a saved model",
                            description=predict.__doc__ + " " + DATA_HELP)
    p.add_argument("--model", required=True, help="model file written by 'deepjit train'")
    p.add_argument("--data", required=True, help=DATA_HELP + "; labels optional")
    p.add_argument("--label-column", help="CSV label column (default: 'label', else 'y')")
    p.add_argument("--out", help="write one row per example to this CSV: the prediction "
                   "and the output probabilities")
    p.add_argument("--mislabeled", help="for .h5 images: write a grid of the mislabeled "
                   "images to this PNG")
    p.add_argument("--engine", default="cpu", choices=list(ENGINES))
    p.set_defaults(run=predict)


def build_parser():
    parser = _Parser(prog="deepjit", description=(
        "Train the fully connected networks of 'Neural Networks and Deep Learning' fast."))
    parser.add_argument("--version", action="version", version=f"deepjit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train(commands)
    _add_predict(commands)
    p = commands.add_parser("demo", help="train on the built-in flower data (or the cat data)")
    p.add_argument("--data-dir", help="directory with train_catvnoncat.h5 / test_catvnoncat.h5")
    p.add_argument("--engine", default="cpu", choices=list(ENGINES))
    p.set_defaults(run=demo)
    _add_warmup(commands)
    return parser


def main(argv=None):
    """Runs a command; any error is one line on stderr and exit status 2 (a traceback
    only with DEEPJIT_DEBUG=1); Ctrl-C outside training is status 130."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("deepjit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:                       # never BaseException: Ctrl-C, exit
        if os.environ.get("DEEPJIT_DEBUG") == "1":
            raise
        print(f"deepjit: error: {_one_line(exc)}", file=sys.stderr)
        return 2


EXPECTED = (ValueError, OSError, ImportError, RuntimeError, ArithmeticError)


def _one_line(exc):
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return f"out of memory ({text or 'MemoryError'}); try smaller --layers or data"
    if not isinstance(exc, EXPECTED) or not text:   # KeyError, BadZipFile, ...: say which
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text
