"""Scaling beyond one process: the tall workload ([30, 64, 32, 1], full batch) on 1 and 2
MPI ranks of one thread each, the mpi4py Allreduce time by message size, and a run
streaming X from disk against the same run in memory.  Every measurement runs in its
own process (mpiexec for the ranks); prints markdown tables.

    python benchmarks/scaling.py                           # m = 200,000; disk: 2,000,000
    python benchmarks/scaling.py --m 100000 --iterations 20 --disk-m 10000000 --dtype float32
    python benchmarks/scaling.py --batch-size 4096 --iterations 100 --skip-disk   # mini-batch

Needs the ``mpi`` extra (mpi4py, mpich).  Not part of the asv suite (asv imports this
module; all work is under ``__main__``).
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

ROOT = Path(__file__).resolve().parents[1]
DIMS = [30, 64, 32, 1]
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1"}


def tall_data(m, dtype, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, m)).astype(dtype)
    Y = (X[:1] + 0.5 * X[1:2] > 0).astype(dtype)
    return X, Y


def timed_fit(model_args, X, Y, iterations, repeats, **fit_args):
    """Seconds per iteration (median of ``repeats`` fits after a compiling one) and the
    last model."""
    from deepjit import Model
    Model(**model_args).fit(X, Y, num_iterations=2, **fit_args)
    times = []
    for _ in range(repeats):
        model = Model(**model_args)
        started = time.perf_counter()
        model.fit(X, Y, learning_rate=0.05, num_iterations=iterations, **fit_args)
        times.append((time.perf_counter() - started) / iterations)
    return statistics.median(times), model


def worker_tall(args):
    """One rank's part of the tall run (``--comm``: over MPI.COMM_WORLD)."""
    import numpy as np
    X, Y = tall_data(args.m, args.dtype)
    model_args = dict(layer_dims=DIMS, hidden_activation="relu", seed=1, dtype=args.dtype,
                      formulation="streamed", num_threads=1)
    comm, rank = None, 0
    fit_args = {"batch_size": args.batch_size, "optimizer": "adam"} if args.batch_size else {}
    if args.comm:
        from mpi4py import MPI
        from deepjit.distributed import shard_slice
        comm, rank = MPI.COMM_WORLD, MPI.COMM_WORLD.rank
        part = shard_slice(args.m, comm)
        X, Y = np.ascontiguousarray(X[:, part]), np.ascontiguousarray(Y[:, part])
        seconds, model = timed_fit(model_args, X, Y, args.iterations, args.repeats, comm=comm,
                                   **fit_args)
    else:
        seconds, model = timed_fit(model_args, X, Y, args.iterations, args.repeats,
                                   **fit_args)
    if rank == 0:
        np.savez(args.out, **model.parameters)
        print(json.dumps({"s_per_iter": seconds}))


def worker_allreduce(args):
    """Median seconds of one in-place Allreduce of n values, for several n."""
    import numpy as np
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    result = {}
    for n in (4098, 10**5, 10**6, 10**7):
        buffer = np.ones(n)
        times = []
        for _ in range(max(3, min(200, 10**7 // n))):
            comm.Barrier()
            started = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            times.append(time.perf_counter() - started)
        result[n] = statistics.median(times)
    if comm.rank == 0:
        print(json.dumps(result))


def worker_disk(args):
    """The fit from ``args.file`` (examples as rows, an HDF5 file read in blocks) or the
    same data loaded into memory first; peak RSS in MB.  (h5py reads into block buffers;
    the pages of a memmap would count in RSS, as reclaimable page cache.)"""
    import h5py
    import numpy as np
    f = h5py.File(args.file, "r")
    X, Y, layout = f["X"], f["Y"], "rows"
    if args.in_memory:
        X, Y, layout = np.ascontiguousarray(np.asarray(X).T), np.asarray(Y).T.copy(), "columns"
    model_args = dict(layer_dims=DIMS, hidden_activation="relu", seed=1, dtype=args.dtype,
                      formulation="streamed", num_threads=1)
    seconds, model = timed_fit(model_args, X, Y, args.iterations, args.repeats, layout=layout)
    np.savez(args.out, **model.parameters)
    print(json.dumps({"s_per_iter": seconds, "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb():
    """This process's peak resident memory since exec (VmHWM; getrusage's ru_maxrss
    would count the parent's size at fork)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def run_json(command):
    env = {**os.environ, **ONE_THREAD,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def max_rel(a, b):
    import numpy as np
    a, b = np.load(a), np.load(b)
    return max(float(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(b[k]))) for k in b.files)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=200_000)
    parser.add_argument("--disk-m", type=int, default=2_000_000)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--batch-size", type=int, help="mini-batch (Adam) instead of full "
                        "batch: an iteration is then one update")
    parser.add_argument("--skip-disk", action="store_true")
    parser.add_argument("--worker", choices=["tall", "allreduce", "disk"])
    parser.add_argument("--comm", action="store_true")
    parser.add_argument("--in-memory", action="store_true")
    parser.add_argument("--file")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.worker:
        return {"tall": worker_tall, "allreduce": worker_allreduce,
                "disk": worker_disk}[args.worker](args)
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    if not Path(mpiexec).exists():
        mpiexec = shutil.which("mpiexec")
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--m", str(args.m), "--iterations", str(args.iterations), "--repeats",
              str(args.repeats), "--dtype", args.dtype]
    if args.batch_size:
        common += ["--batch-size", str(args.batch_size)]
    tmp = Path(tempfile.mkdtemp(prefix="deepjit-scaling-"))
    try:
        kind = f"Adam, batches of {args.batch_size}" if args.batch_size else "full batch"
        print(f"tall workload {DIMS}, m = {args.m:,}, {args.dtype}, {kind}, "
              f"{args.iterations} iterations, median of {args.repeats}; one thread per rank\n")
        print("| run | ms / iteration | speed-up | max rel. difference to 1 process |")
        print("|---|---|---|---|")
        one = run_json(me + common + ["--worker", "tall", "--out", str(tmp / "one.npz")])
        print(f"| 1 process, no MPI | {1e3 * one['s_per_iter']:.2f} | 1.00x | 0 |")
        for ranks in (1, 2):
            out = tmp / f"r{ranks}.npz"
            res = run_json([mpiexec, "-n", str(ranks)] + me + common +
                           ["--worker", "tall", "--comm", "--out", str(out)])
            print(f"| {ranks} rank(s), mpiexec | {1e3 * res['s_per_iter']:.2f} | "
                  f"{one['s_per_iter'] / res['s_per_iter']:.2f}x | "
                  f"{max_rel(out, tmp / 'one.npz'):.1e} |")
        times = run_json([mpiexec, "-n", "2"] + me + ["--worker", "allreduce"])
        print("\n| Allreduce, 2 ranks, float64 values | median µs | GB/s (2 x 8 bytes x n) |")
        print("|---|---|---|")
        for n, seconds in times.items():
            print(f"| {int(n):,} | {1e6 * seconds:.1f} | {16 * int(n) / seconds / 1e9:.2f} |")
        if not args.skip_disk:
            disk(args, me, tmp)
    finally:
        shutil.rmtree(tmp)


def disk(args, me, tmp):
    import h5py
    path = str(tmp / "tall.h5")
    with h5py.File(path, "w") as f:
        X = f.create_dataset("X", (args.disk_m, 30), args.dtype)
        Y = f.create_dataset("Y", (args.disk_m, 1), args.dtype)
        for j in range(0, args.disk_m, 10**6):
            Xb, Yb = tall_data(min(10**6, args.disk_m - j), args.dtype, seed=j + 1)
            X[j:j + Xb.shape[1]], Y[j:j + Xb.shape[1]] = Xb.T, Yb.T
    common = ["--iterations", str(max(2, args.iterations // 5)), "--repeats", "1",
              "--dtype", args.dtype, "--worker", "disk", "--file", path]
    memory = run_json(me + common + ["--in-memory", "--out", str(tmp / "mem.npz")])
    streamed = run_json(me + common + ["--out", str(tmp / "disk.npz")])
    size = os.path.getsize(path) / 2**20
    print(f"\nX of 30 x {args.disk_m:,} {args.dtype} ({size:.0f} MB) as rows in an HDF5 "
          f"file, one thread\n")
    print("| run | s / iteration | speed vs in memory | peak RSS MB |")
    print("|---|---|---|---|")
    for name, res in (("in memory", memory), ("h5py, layout='rows', blocks", streamed)):
        print(f"| {name} | {res['s_per_iter']:.3f} | "
              f"{memory['s_per_iter'] / res['s_per_iter']:.2f} | {res['peak_rss_mb']:.0f} |")
    print(f"\nmax rel. difference: {max_rel(tmp / 'disk.npz', tmp / 'mem.npz'):.1e}")


if __name__ == "__main__":
    main()
