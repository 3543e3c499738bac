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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true",
                        help="tiny sizes under the CUDA simulator (no GPU needed)")
    parser.add_argument("--iterations", type=int, default=None,
                        help="iterations per timing (default 50; 2 with --tiny)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timings per case (default 5; 1 with --tiny)")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--formulation", default="auto",
                        help="the cuda engine's formulation (default: auto, as Model.fit)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a launch setting of deepjit.engines.cuda.settings, "
                             "e.g. BLOCK_THREADS=1024 (repeatable)")
    parser.add_argument("--no-torch", action="store_true", help="time deepjit alone")
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


def torch_trainer(params, X, Y, L, torch):
    """One-iteration closure of the same gradient descent in PyTorch (no autograd)."""
    dev = torch.device("cuda")
    W = [None] + [torch.from_numpy(params[f"W{l}"]).to(dev) for l in range(1, L + 1)]
    b = [None] + [torch.from_numpy(params[f"b{l}"]).to(dev) for l in range(1, L + 1)]
    X, Y, m = torch.from_numpy(X).to(dev), torch.from_numpy(Y).to(dev), X.shape[1]

    def steps(n):
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
        torch.cuda.synchronize()
    return steps, W


def median_ms_torch(params, X, Y, L, iterations, repeats):
    """``(ms per iteration, W1 after one iteration)``, or ``(None, None)`` without
    PyTorch CUDA."""
    try:
        import torch
    except ImportError:
        return None, None
    if not torch.cuda.is_available():
        return None, None
    steps, W = torch_trainer(params, X, Y, L, torch)
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
             dtype):
    from deepjit.initializers import initialize
    from deepjit.network import Network
    X, Y, source = data_for(name, dims, m, tiny, dtype)
    net = Network.build(dims, "relu", "sigmoid")
    params = initialize(dims, "scaled", 1, X.dtype)
    ours, W1, trainer = median_ms_deepjit(params, X, Y, net, iterations, repeats,
                                          formulation)
    theirs, W1_torch = (None, None) if no_torch else median_ms_torch(
        params, X, Y, net.L, iterations, repeats)
    W1_cpu = cpu_after_one_iteration(params, X, Y, net)
    cells = [name, f"{dims[0]} x {X.shape[1]} {source}", trainer, f"{ours:.4g}",
             "n/a" if theirs is None else f"{theirs:.4g}",
             "n/a" if theirs is None else f"{ours / theirs:.2f}",
             "-" if target is None else f"{target:g} ({'met' if ours <= target else 'MISSED'})",
             f"{relative_difference(W1, W1_cpu):.1e}",
             f"{relative_difference(W1_torch, W1_cpu):.1e}"]
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
        settings.BLOCK_THREADS = settings.EXAMPLES_THREADS = 8
    apply_settings(args.set)
    iterations = args.iterations or (2 if args.tiny else 50)
    repeats = args.repeats or (1 if args.tiny else 5)
    where = "CUDA simulator" if engine.SIMULATOR else "GPU"
    print(f"{args.dtype}, {where}, median of {repeats} x {iterations} iterations, ms per iteration")
    print("case | X | trainer | deepjit cuda | torch | ratio | target | W1 vs cpu | "
          "torch W1 vs cpu")
    cases = TINY_CASES if args.tiny else CASES
    for name in args.cases:
        dims, m, target = cases[name]
        if args.m:
            m, target = args.m, None
        if args.dtype != "float32":       # the targets are float32 ones
            target = None
        run_case(name, dims, m, target, args.tiny, iterations, repeats, args.formulation,
                 args.no_torch, args.dtype)


if __name__ == "__main__":
    main()
