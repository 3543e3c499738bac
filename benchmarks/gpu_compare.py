"""GPU timings side by side: deepjit's engine="cuda" and PyTorch CUDA (when installed).

A plain script, not an asv benchmark (it needs a GPU; asv imports every module here,
so everything runs under ``__main__``)::

    python benchmarks/gpu_compare.py                 # on an NVIDIA GPU
    python benchmarks/gpu_compare.py --tiny          # tiny sizes, CUDA simulator (smoke test)

Same network, data and initial weights (course "scaled" draws, seed 1) for both, in
float32 (``--dtype float64`` for the course's default), relu hidden layers and a sigmoid output.  Each timing is the median over
``--repeats`` of ``--iterations`` full gradient-descent iterations, divided by the
iterations, after a warm-up that compiles.  Also printed: the largest relative
difference of W1 after one iteration between engine="cuda" and engine="cpu" (and
PyTorch), a check that the timed code computes the right thing.

Cases (ms per iteration targets for engine="cuda"): cat (the course's 12288 x 209, or
a synthetic stand-in when the data is absent; [12288, 20, 7, 5, 1]) <= 0.05, tall
(30 x 1,000,000; [30, 64, 32, 1]) <= 1.0, big (784 x 200,000; [784, 512, 256, 1]) <= 12.

The case "minibatch" times ONE EPOCH of mini-batch Adam (learning rate 1e-3, batches of
200, softmax over 10 classes, [40, 100, 10]) on MNIST-1D's 40,000 training examples of
50,000 (``time_to_accuracy.py``'s cached data, else a synthetic stand-in of the same
shape), against PyTorch CUDA eager as a practitioner writes it (autograd,
``CrossEntropyLoss``, ``torch.optim.Adam``, the data on the GPU, a ``randperm`` per
epoch); milliseconds per epoch, the target at least 10x faster than PyTorch.  Its check
column is W1 after one epoch against engine="cpu" (same shuffles; float32 Adam
amplifies the engines' rounding differences, so expect 1e-4 rather than 1e-7).
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# name: (layer_dims, m, target ms per iteration); tiny: the same shapes' roles, scaled down
CASES = {"cat": ([12288, 20, 7, 5, 1], 209, 0.05),
         "tall": ([30, 64, 32, 1], 1_000_000, 1.0),
         "big": ([784, 512, 256, 1], 200_000, 12.0)}
TINY_CASES = {"cat": ([24, 5, 3, 1], 7, None),
              "tall": ([3, 4, 2, 1], 21, None),
              "big": ([10, 6, 4, 1], 9, None)}
LEARNING_RATE = 0.0075
MINIBATCH = {"dims": [40, 100, 10], "m": 40_000, "batch": 200, "lr": 1e-3, "target": 10.0}
TINY_MINIBATCH = {"dims": [6, 8, 3], "m": 30, "batch": 7, "lr": 1e-3, "target": None}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true",
                        help="tiny sizes under the CUDA simulator (no GPU needed)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="iterations per timing (default 50; 2 with --tiny)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timings per case (default 5; 1 with --tiny)")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES) + ["minibatch"],
                        default=list(CASES) + ["minibatch"])
    parser.add_argument("--formulation", default="auto",
                        help="the cuda engine's formulation (default: auto, as Model.fit)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a launch setting of deepjit.engines.cuda.settings, "
                             "e.g. BLOCK_THREADS=1024 (repeatable)")
    parser.add_argument("--no-torch", action="store_true", help="time deepjit alone")
    parser.add_argument("--precision", choices=["float32", "tf32", "bf16"], default="float32",
                        help="deepjit's opt-in lower precision of the host loop's products "
                             "(settings.PRECISION; it runs formulation 'dense'), and "
                             "PyTorch's: TF32 matmuls, or bfloat16 autocast")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--m", type=int, default=None,
                        help="examples in every case (synthetic data; default: the case's)")
    return parser.parse_args()


def data_for(name, dims, m, tiny, dtype):
    """``(X, Y, source)`` in ``dtype``: the real cat images when present, else synthetic."""
    if name == "cat" and not tiny and m == CASES["cat"][1]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import common
        try:
            X, Y = common.cat(dtype)[:2]
            return X, Y, "cat images"
        except NotImplementedError as exc:
            print(f"cat: {exc}; a synthetic 12288 x 209 stand-in is used")
    rng = np.random.RandomState(0)
    X = rng.rand(dims[0], m).astype(dtype)
    Y = (rng.randn(1, dims[0]) @ X > 0.5 * dims[0] ** 0.5).astype(dtype)
    return np.ascontiguousarray(X), Y, "synthetic"


def median_ms(step, iterations, repeats):
    """Median milliseconds per iteration of ``step(iterations)`` (which synchronises)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step(iterations)
        times.append((time.perf_counter() - started) / iterations * 1e3)
    return statistics.median(times)


def median_ms_deepjit(params, X, Y, net, iterations, repeats, formulation):
    """``(ms per iteration, W1 after one iteration, the trainer's class name)`` for
    engine="cuda"; "auto" chooses as ``Model.fit`` would for 2500 iterations."""
    from deepjit.engines import cuda as engine
    trainer = engine.make_trainer(params, X, Y, net, LEARNING_RATE, formulation=formulation,
                                  num_iterations=2500)
    trainer.run(1, True)
    W1 = trainer.parameters()["W1"]
    ms = median_ms(lambda n: trainer.run(n, True), iterations, repeats)
    return ms, W1, type(trainer).__name__


def torch_precision(torch, precision):
    """A context for PyTorch's products in ``precision`` (TF32 is a global switch)."""
    import contextlib
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    if precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def torch_trainer(params, X, Y, L, torch, precision="float32"):
    """One-iteration closure of the same gradient descent in PyTorch (no autograd)."""
    dev = torch.device("cuda")
    W = [None] + [torch.from_numpy(params[f"W{l}"]).to(dev) for l in range(1, L + 1)]
    b = [None] + [torch.from_numpy(params[f"b{l}"]).to(dev) for l in range(1, L + 1)]
    X, Y, m = torch.from_numpy(X).to(dev), torch.from_numpy(Y).to(dev), X.shape[1]

    def steps(n):
        with torch_precision(torch, precision):
            iterate(n)
        torch.cuda.synchronize()

    def iterate(n):
        for _ in range(n):
            As = [X]
            for l in range(1, L):
                As.append(torch.relu(torch.addmm(b[l], W[l], As[-1])))
            dZ = torch.sigmoid(torch.addmm(b[L], W[L], As[-1])) - Y
            for l in range(L, 0, -1):
                dW, db = dZ @ As[l - 1].T / m, dZ.sum(dim=1, keepdim=True) / m
                if l > 1:
                    dZ = (W[l].T @ dZ) * (As[l - 1] > 0)
                W[l] -= LEARNING_RATE * dW
                b[l] -= LEARNING_RATE * db
    return steps, W


def median_ms_torch(params, X, Y, L, iterations, repeats, precision="float32"):
    """``(ms per iteration, W1 after one iteration)``, or ``(None, None)`` without
    PyTorch CUDA."""
    try:
        import torch
    except ImportError:
        return None, None
    if not torch.cuda.is_available():
        return None, None
    steps, W = torch_trainer(params, X, Y, L, torch, precision)
    steps(1)
    W1 = W[1].cpu().numpy()
    return median_ms(steps, iterations, repeats), W1


def cpu_after_one_iteration(params, X, Y, net):
    from deepjit.engines import cpu
    trainer = cpu.make_trainer(params, X, Y, net, LEARNING_RATE)
    trainer.run(1, False)
    return trainer.parameters()["W1"]


def relative_difference(a, b):
    if a is None or b is None:
        return float("nan")
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def run_case(name, dims, m, target, tiny, iterations, repeats, formulation, no_torch,
             dtype, precision="float32"):
    from deepjit.initializers import initialize
    from deepjit.network import Network
    X, Y, source = data_for(name, dims, m, tiny, dtype)
    net = Network.build(dims, "relu", "sigmoid")
    params = initialize(dims, "scaled", 1, X.dtype)
    ours, W1, trainer = median_ms_deepjit(params, X, Y, net, iterations, repeats,
                                          formulation)
    theirs, W1_torch = (None, None) if no_torch else median_ms_torch(
        params, X, Y, net.L, iterations, repeats, precision)
    W1_cpu = cpu_after_one_iteration(params, X, Y, net)
    cells = [name, f"{dims[0]} x {X.shape[1]} {source}", trainer, f"{ours:.4g}",
             "n/a" if theirs is None else f"{theirs:.4g}",
             "n/a" if theirs is None else f"{ours / theirs:.2f}",
             "-" if target is None else f"{target:g} ({'met' if ours <= target else 'MISSED'})",
             f"{relative_difference(W1, W1_cpu):.1e}",
             f"{relative_difference(W1_torch, W1_cpu):.1e}"]
    print(" | ".join(cells), flush=True)


# -- mini-batch Adam, one epoch ------------------------------------------------------------
def minibatch_data(case, tiny, dtype):
    """``(X (40, m), one-hot Y (10, m), source)``: MNIST-1D's training part (the cache
    of ``time_to_accuracy.py``) when there, else synthetic data of the same shape."""
    dims, m = case["dims"], case["m"]
    if not tiny:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        try:
            import time_to_accuracy
            X, y = time_to_accuracy.load("mnist1d_50k")[:2]
            X, y, source = X[:m].T, y[:m], "MNIST-1D"
        except Exception as exc:        # mnist1d missing and nothing cached
            print(f"minibatch: no MNIST-1D ({type(exc).__name__}: {exc}); synthetic data")
            X = y = None
    if tiny or X is None:
        rng = np.random.RandomState(0)
        X, y, source = rng.randn(dims[0], m), rng.randint(0, dims[-1], m), "synthetic"
    Y = np.zeros((dims[-1], m))
    Y[y, np.arange(m)] = 1.0
    return np.ascontiguousarray(X, dtype), np.ascontiguousarray(Y, dtype), source


def initial_model(case, dtype):
    from deepjit import Model
    return Model(case["dims"], "relu", "softmax", init="xavier", seed=0, dtype=dtype)


def minibatch_trainer(engine, X, Y, case, dtype):
    """A fresh ``MiniBatchTrainer`` of ``engine`` ("cuda" or "cpu") for Adam."""
    import importlib

    from deepjit.minibatch import OptimizerState, make_plan
    model = initial_model(case, dtype)
    plan = make_plan(model.net, X.shape[1], case["lr"], case["batch"], "adam", None, 0.0,
                     1.0, 0, True)
    state = OptimizerState.fresh(plan, model.parameters, X.shape[1])
    module = importlib.import_module(f"deepjit.engines.{engine}.minibatch")
    return module.MiniBatchTrainer(model.parameters, state, X, Y, model.net, plan)


def one_epoch(trainer, epoch, m, n_batches):
    from deepjit.minibatch import epoch_order
    return trainer.run(epoch_order(0, epoch, m), epoch, n_batches)


def median_ms_minibatch_deepjit(X, Y, case, repeats, dtype):
    """``(ms per epoch, W1 after the first epoch, W1 of engine="cpu" after it)``."""
    m = X.shape[1]
    n_batches = -(-m // case["batch"])
    trainer = minibatch_trainer("cuda", X, Y, case, dtype)
    one_epoch(trainer, 0, m, n_batches)                 # compiles, and the check
    W1 = trainer.parameters()["W1"]
    cpu = minibatch_trainer("cpu", X, Y, case, dtype)
    one_epoch(cpu, 0, m, n_batches)
    epochs = iter(range(1, 10 ** 6))
    ms = median_ms(lambda n: one_epoch(trainer, next(epochs), m, n_batches), 1, repeats)
    return ms, W1, cpu.parameters()["W1"]


def median_ms_minibatch_torch(X, Y, case, repeats, dtype):
    """ms per epoch of the same training in PyTorch CUDA eager, or None without it."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    dev, dims = torch.device("cuda"), case["dims"]
    model = initial_model(case, dtype)
    layers = []
    for l in range(1, len(dims)):
        linear = torch.nn.Linear(dims[l - 1], dims[l], dtype=getattr(torch, dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(model.parameters[f"W{l}"]))
            linear.bias.copy_(torch.from_numpy(model.parameters[f"b{l}"][:, 0]))
        layers += [linear, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).to(dev)
    optimizer = torch.optim.Adam(net.parameters(), lr=case["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt = torch.from_numpy(np.ascontiguousarray(X.T)).to(dev)
    yt = torch.from_numpy(Y.argmax(axis=0)).to(dev)
    m, batch = Xt.shape[0], case["batch"]

    def epoch(_):
        order = torch.randperm(m, device=dev)
        for k in range(0, m, batch):
            idx = order[k:k + batch]
            optimizer.zero_grad()
            loss_fn(net(Xt[idx]), yt[idx]).backward()
            optimizer.step()
        torch.cuda.synchronize()

    epoch(0)                                              # warm-up
    return median_ms(epoch, 1, repeats)


def run_minibatch(tiny, repeats, no_torch, dtype):
    case = TINY_MINIBATCH if tiny else MINIBATCH
    X, Y, source = minibatch_data(case, tiny, dtype)
    ours, W1, W1_cpu = median_ms_minibatch_deepjit(X, Y, case, repeats, dtype)
    theirs = None if no_torch else median_ms_minibatch_torch(X, Y, case, repeats, dtype)
    target = case["target"]
    met = theirs is not None and target is not None and theirs / ours >= target
    cells = ["minibatch (ms per EPOCH)", f"{case['dims'][0]} x {X.shape[1]} {source}",
             f"Adam, batch {case['batch']}", f"{ours:.4g}",
             "n/a" if theirs is None else f"{theirs:.4g}",
             "n/a" if theirs is None else f"{ours / theirs:.2f}",
             "-" if target is None or theirs is None
             else f"torch/{target:g} ({'met' if met else 'MISSED'})",
             f"{relative_difference(W1, W1_cpu):.1e}", "-"]
    print(" | ".join(cells), flush=True)


def apply_settings(assignments):
    """``NAME=VALUE`` onto the cuda engine's launch settings (ints, or None)."""
    from deepjit.engines.cuda import settings
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if not name.isupper() or not hasattr(settings, name):
            sys.exit(f"--set: no launch setting named {name!r}")
        setattr(settings, name, None if value == "None" else int(value))
        print(f"{settings.__name__}.{name} = {value}")


def main():
    args = parse_args()
    if args.tiny:   # before numba reads its config for numba.cuda
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        from numba.core import config
        config.reload_config()
    from deepjit.engines import get_engine
    try:
        engine = get_engine("cuda")
    except RuntimeError as exc:       # no GPU, no numba-cuda
        sys.exit(str(exc))
    if args.tiny:   # small blocks: the simulator runs every thread as a Python thread
        from deepjit.engines.cuda import settings
        settings.THREADS_PER_BLOCK, settings.MAX_BLOCKS, settings.TILE = 8, 4, 4
        settings.BLOCK_THREADS = settings.EXAMPLES_THREADS = settings.MINIBATCH_THREADS = 8
    apply_settings(args.set)
    from deepjit.engines.cuda import settings as cuda_settings
    cuda_settings.PRECISION = args.precision
    iterations = args.iterations or (2 if args.tiny else 50)
    repeats = args.repeats or (1 if args.tiny else 5)
    where = "CUDA simulator" if engine.SIMULATOR else "GPU"
    print(f"{args.dtype}, products in {args.precision}, {where}, median of {repeats} x "
          f"{iterations} iterations, ms per iteration (minibatch: ms per epoch)")
    print("case | X | trainer | deepjit cuda | torch | ratio | target | W1 vs cpu | "
          "torch W1 vs cpu")
    cases = TINY_CASES if args.tiny else CASES
    for name in args.cases:
        if name == "minibatch":
            run_minibatch(args.tiny, repeats, args.no_torch, args.dtype)
            continue
        dims, m, target = cases[name]
        if args.m:
            m, target = args.m, None
        if args.dtype != "float32":       # the targets are float32 ones
            target = None
        run_case(name, dims, m, target, args.tiny, iterations, repeats, args.formulation,
                 args.no_torch, args.dtype, args.precision)


if __name__ == "__main__":
    main()
