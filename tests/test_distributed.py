"""Data beyond one process's memory: blocks read from disk (memmap, h5py, examples as
rows) and shards held by MPI ranks (mpiexec subprocesses) give the one-process
in-memory result, checked against the numpy oracle to 1e-12."""
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import assert_params_rel, assert_rel, subprocess_env
from deepjit import Model, TrainingDiverged, blocks
from deepjit.distributed import shard_slice
from deepjit.engines import formulation
from tests_data import (DIVERGING, DIVERGING_MINIBATCH, DIVERGING_RATE, MINIBATCH_RUNS,
                        mpi_minibatch_problem, mpi_problem)

HERE = Path(__file__).resolve().parent
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def oracle(X, Y, model_args, fit_args):
    return Model(**{**model_args, "engine": "numpy"}).fit(X, Y, **fit_args)


def mpiexec():
    """mpiexec beside this Python (the pip-installed MPICH of the ``mpi`` extra), else
    on PATH; None without it or mpi4py."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def run_ranks(tmp_path, ranks, mode):
    """mpi_fit.py on ``ranks`` ranks; rank 0's result file."""
    launcher = mpiexec()
    if launcher is None:
        pytest.skip("mpi4py or mpiexec not installed (the 'mpi' extra)")
    out = tmp_path / "result.npz"
    subprocess.run([launcher, "-n", str(ranks), sys.executable, str(HERE / "mpi_fit.py"),
                    str(out), mode], check=True, timeout=900, cwd=tmp_path,
                   env={**subprocess_env(), **ONE_THREAD})
    return np.load(out)


@pytest.mark.parametrize("ranks", [2, 3])
def test_mpi_ranks_equal_one_process(tmp_path, ranks):
    result = run_ranks(tmp_path, ranks, "fit")
    X, Y, model_args, fit_args = mpi_problem()
    expected = oracle(X, Y, model_args, fit_args)
    assert list(result["outcomes"]) == [""] * ranks
    assert bool(result["same_on_all_ranks"])
    assert int(result["printed"]) == len(expected.costs_) + 1     # + the last iteration
    assert_rel(result["costs"], expected.costs_)
    assert_rel(result["final"], expected.final_cost_)
    assert_params_rel({k: result[k] for k in expected.parameters}, expected.parameters)


def test_mpi_ranks_agree_on_divergence_and_bad_data(tmp_path):
    X, Y, model_args, fit_args = mpi_problem()
    with pytest.raises(TrainingDiverged) as one_process:
        Model(**{**model_args, **DIVERGING}).fit(X, Y, **{**fit_args,
                                                          "learning_rate": DIVERGING_RATE})
    result = run_ranks(tmp_path, 3, "diverge")
    assert list(result["outcomes"]) == [f"diverged {one_process.value.iterations}"] * 3
    assert bool(result["same_on_all_ranks"]) and int(result["n_iter"]) > 0
    result = run_ranks(tmp_path, 3, "bad")
    assert list(result["outcomes"]) == [
        "ValueError comm: rank 2 refused its data (see its error)"] * 2 + [
        "ValueError X: contains NaN or infinite values"]
    assert bool(result["same_on_all_ranks"])


def test_one_rank_in_this_process_equals_the_oracle():
    MPI = pytest.importorskip("mpi4py.MPI")
    X, Y, model_args, fit_args = mpi_problem()
    model = Model(**model_args).fit(X, Y, comm=MPI.COMM_SELF, **fit_args)
    expected = oracle(X, Y, model_args, fit_args)
    assert_params_rel(model.parameters, expected.parameters)
    assert_rel(model.costs_, expected.costs_)
    with pytest.raises(ValueError, match="^comm: expected an mpi4py communicator"):
        Model(**model_args).fit(X, Y, comm="world", **fit_args)


def test_shard_slice_covers_every_example_once():
    class Comm:
        def __init__(self, rank, size):
            self.rank, self.size = rank, size
    for m, size in [(1001, 3), (7, 7), (10, 4), (1, 1)]:
        parts = [range(m)[shard_slice(m, Comm(r, size))] for r in range(size)]
        assert [j for part in parts for j in part] == list(range(m))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def softmax_problem(m=1001):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, m))
    labels = rng.integers(0, 3, size=m)
    model_args = dict(layer_dims=[6, 8, 3], hidden_activation="relu", output="softmax",
                      seed=3)
    return X, labels, model_args, dict(learning_rate=0.2, num_iterations=40)


def sources(tmp_path, X, labels):
    """The same data as a memmap (columns), an h5py dataset (rows) and an array (rows)."""
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float64, X.shape)
    mm[...] = X
    mm.flush()
    f = h5py.File(tmp_path / "d.h5", "w")
    f["X"], f["y"] = X.T, labels
    return {"memmap": (np.load(tmp_path / "X.npy", mmap_mode="r"), labels[None], "columns"),
            "h5py": (f["X"], f["y"], "rows"), "rows": (X.T.copy(), labels, "rows")}


@pytest.mark.parametrize("kind", ["memmap", "h5py", "rows"])
def test_blocks_from_disk_equal_in_memory(tmp_path, monkeypatch, kind):
    X, labels, model_args, fit_args = softmax_problem()
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 6 * 8 * 256)   # blocks of 256: 4 of them
    Xs, Ys, layout = sources(tmp_path, X, labels)[kind]
    model = Model(**model_args).fit(Xs, Ys, layout=layout, **fit_args)
    expected = oracle(X, labels[None], model_args, fit_args)
    assert_params_rel(model.parameters, expected.parameters)
    assert_rel(model.costs_, expected.costs_)
    assert_rel(model.final_cost_, expected.final_cost_)
    assert_rel(model.predict_proba(Xs, layout=layout), expected.predict_proba(X))
    assert np.array_equal(model.predict(Xs, layout=layout), expected.predict(X))


def test_formulations_needing_all_of_X_are_refused(tmp_path):
    X, labels, model_args, fit_args = softmax_problem()
    Xs, Ys, layout = sources(tmp_path, X, labels)["memmap"]
    for formulation in ("examples", "dense"):
        with pytest.raises(ValueError, match=f"^formulation: .*{formulation!r} needs all"):
            Model(**model_args, formulation=formulation).fit(Xs, Ys, **fit_args)
    with pytest.raises(ValueError, match="^engine: "):
        Model(**model_args, engine="numpy").fit(Xs, Ys, **fit_args)
    with pytest.raises(ValueError, match="^batch_size: "):
        Model(**model_args).fit(Xs, Ys, batch_size=10, **fit_args)
    with pytest.raises(ValueError, match="^layout: "):
        Model(**model_args).fit(X, labels[None], layout="cols", **fit_args)
    with pytest.raises(ValueError, match="^X: expected 6 columns"):
        Model(**model_args).fit(X, labels, layout="rows", **fit_args)
    with pytest.raises(ValueError, match="^Y: expected 1001 examples"):
        Model(**model_args).fit(Xs, Ys[:, :-1], **fit_args)
    with h5py.File(tmp_path / "odd.h5", "w") as f:
        f["complex"], f["empty"] = X.T.astype(complex), np.zeros((0, 6))
        for name in ("complex", "empty"):
            with pytest.raises(ValueError, match="^X: expected a non-empty array of real"):
                Model(**model_args).fit(f[name], labels, layout="rows", **fit_args)


def test_bad_values_in_a_late_block_are_refused_before_training(tmp_path, monkeypatch):
    X, labels, model_args, fit_args = softmax_problem()
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 6 * 8 * 256)
    X[2, 1000] = np.nan
    f = h5py.File(tmp_path / "bad.h5", "w")
    f["X"], f["y"] = X.T, labels
    model = Model(**model_args)
    before = model.parameters
    with pytest.raises(ValueError, match="^X: contains NaN"):
        model.fit(f["X"], f["y"], layout="rows", **fit_args)
    labels[999] = 3
    f["y2"] = labels
    with pytest.raises(ValueError, match="^Y: integer class labels"):
        model.fit(np.nan_to_num(X.T), f["y2"], layout="rows", **fit_args)
    assert_params_rel(model.parameters, before, rtol=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, RLIMIT_AS")
def test_file_larger_than_the_memory_left_trains(tmp_path):
    """30 x 700,000 float64 (168 MB) of examples as rows under an address-space limit
    of 96 MB beyond what the process holds after compiling.  MALLOC_ARENA_MAX: glibc
    reserves 64 MB of address space for each thread's malloc arena, which RLIMIT_AS
    counts although it is never used (the reader thread's allocations could then fail
    at random)."""
    rng = np.random.default_rng(8)
    m, headroom_mb = 700_000, 96
    with h5py.File(tmp_path / "big.h5", "w") as f:
        X, Y = f.create_dataset("X", (m, 30), "f8"), f.create_dataset("Y", (m, 1), "f8")
        for j in range(0, m, 100_000):
            block = rng.standard_normal((100_000, 30))
            X[j:j + 100_000], Y[j:j + 100_000] = block, (block[:, :1] > 0)
    assert m * 30 * 8 > 1.5 * headroom_mb * 2**20
    subprocess.run([sys.executable, str(HERE / "memory_limited_fit.py"),
                    str(tmp_path / "big.h5"), str(tmp_path / "out.npz"), str(headroom_mb)],
                   check=True, timeout=900,
                   env={**subprocess_env(), **ONE_THREAD, "MALLOC_ARENA_MAX": "1"})
    with h5py.File(tmp_path / "big.h5", "r") as f:
        X, Y = np.asarray(f["X"]).T, np.asarray(f["Y"]).T
    expected = Model([30, 16, 1], "tanh", seed=4, formulation="streamed").fit(
        X, Y, learning_rate=0.1, num_iterations=3)
    result = np.load(tmp_path / "out.npz")
    assert_params_rel({k: result[k] for k in expected.parameters}, expected.parameters)


# -- mini-batch over MPI ------------------------------------------------------------------
def run_minibatch_ranks(tmp_path, ranks, cut):
    launcher = mpiexec()
    if launcher is None:
        pytest.skip("mpi4py or mpiexec not installed (the 'mpi' extra)")
    out = tmp_path / "result.npz"
    subprocess.run([launcher, "-n", str(ranks), sys.executable,
                    str(HERE / "mpi_minibatch_fit.py"), str(out), cut], check=True,
                   timeout=900, cwd=tmp_path, env={**subprocess_env(), **ONE_THREAD})
    return np.load(out)


@pytest.mark.parametrize("ranks, cut", [(2, "lopsided"), (3, "even")])
def test_mpi_minibatch_equals_one_process(tmp_path, ranks, cut):
    """Every optimizer with L2, dropout and schedules, and early stopping on validation
    data: the parameters, optimizer buffers and epoch costs of ``ranks`` ranks equal the
    one-process run's, all ranks hold the same, only rank 0 reported."""
    result = run_minibatch_ranks(tmp_path, ranks, cut)
    X, Y, validation, model_args, fit_args = mpi_minibatch_problem()
    for name, options in MINIBATCH_RUNS.items():
        extra = {"validation_data": validation} if options.get("early_stopping") else {}
        expected = Model(**model_args).fit(X, Y, **{**fit_args, **options}, **extra)
        state = expected.optimizer_state_
        assert bool(result[f"{name}/same_on_all_ranks"]), name
        assert_params_rel({k: result[f"{name}/{k}"] for k in expected.parameters},
                          expected.parameters)
        assert_params_rel({k: result[f"{name}/{k}"] for k in state.arrays()}, state.arrays())
        assert_rel(result[f"{name}/cost"], expected.costs_)
        assert int(result[f"{name}/step"]) == state.step
        assert list(result[f"{name}/printed"]) == expected.history_["epoch"]
        if expected.best_epoch_ is not None:
            assert int(result[f"{name}/best_epoch"]) == expected.best_epoch_
    assert len(expected.history_["epoch"]) < options["num_epochs"]    # it did stop early


def test_mpi_minibatch_ranks_agree_on_divergence(tmp_path):
    X, Y, model_args, _ = mpi_problem()
    model = Model(**{**model_args, **DIVERGING})
    with pytest.raises(TrainingDiverged) as one_process:
        model.fit(X, Y, **DIVERGING_MINIBATCH)
    result = run_minibatch_ranks(tmp_path, 3, "diverge")
    assert list(result["outcomes"]) == [f"diverged {one_process.value.iterations}"] * 3
    assert bool(result["same_on_all_ranks"])
    assert_params_rel({k: result[k] for k in model.parameters}, model.parameters)


def test_minibatch_on_one_rank_in_this_process_is_the_one_process_run(tmp_path):
    MPI = pytest.importorskip("mpi4py.MPI")
    X, Y, validation, model_args, fit_args = mpi_minibatch_problem()
    options = {**fit_args, **MINIBATCH_RUNS["adam"]}
    expected = Model(**model_args).fit(X, Y, **options)
    f = h5py.File(tmp_path / "d.h5", "w")
    f["X"], f["y"] = X.T, Y[0]
    for Xs, Ys, layout in [(X, Y, "columns"), (f["X"], f["y"], "rows")]:
        model = Model(**model_args).fit(Xs, Ys, comm=MPI.COMM_SELF, layout=layout, **options)
        assert_params_rel(model.parameters, expected.parameters, rtol=0)
        assert_rel(model.costs_, expected.costs_)   # epoch sums by call: chunked by timing
    resumed = Model(**model_args)      # two fits of 3 epochs continue as one of 6
    for _ in range(2):
        resumed.fit(X, Y, comm=MPI.COMM_SELF, **{**options, "num_epochs": 3})
    assert_params_rel(resumed.parameters, expected.parameters, rtol=0)
    assert resumed.optimizer_state_.step == expected.optimizer_state_.step
    model = Model(**model_args)
    with pytest.raises(ValueError, match="^validation_fraction: with comm= give "):
        model.fit(X, Y, comm=MPI.COMM_SELF, validation_fraction=0.2, **options)
    with pytest.raises(ValueError, match="^engine: mini-batch training with comm= "):
        Model(**model_args, engine="numpy").fit(X, Y, comm=MPI.COMM_SELF, **options)
    with pytest.raises(ValueError, match="^comm: expected an mpi4py communicator"):
        model.fit(X, Y, comm="world", **options)
    with pytest.raises(ValueError, match="^batch_size: expected an integer from 1 to m = 203"):
        model.fit(X, Y, comm=MPI.COMM_SELF, **{**options, "batch_size": 204})
    with pytest.raises(ValueError, match="^X: contains NaN"):
        model.fit(np.where(X > 2.5, np.nan, X), Y, comm=MPI.COMM_SELF, **options)
    assert model.optimizer_state_ is None


def test_sharded_buffers_beyond_the_memory_limit_are_refused_before_reading(
        tmp_path, monkeypatch):
    from deepjit import validation
    from deepjit.engines.cpu.sharded import working_bytes
    X, labels, model_args, fit_args = softmax_problem()
    Xs, Ys, layout = sources(tmp_path, X, labels)["h5py"]
    model = Model(**model_args)
    needed = working_bytes(blocks.Blocks(Xs, Ys, model.net, model.dtype, layout), model.net)
    assert needed > 2 * 6 * 1001 * 8           # the two read buffers: one block of all 1001
    monkeypatch.setattr(validation, "memory_limit", lambda: needed - 1)
    monkeypatch.setattr(blocks.Blocks, "check", lambda self: pytest.fail("read the data"))
    before = model.parameters
    with pytest.raises(ValueError, match="^formulation: the streamed formulation's buffers"):
        model.fit(Xs, Ys, layout=layout, **fit_args)
    assert_params_rel(model.parameters, before, rtol=0)
    monkeypatch.setattr(validation, "memory_limit", lambda: needed)
    with pytest.raises(pytest.fail.Exception, match="read the data"):
        model.fit(Xs, Ys, layout=layout, **fit_args)


def test_blocks_from_disk_give_the_same_bits_on_any_number_of_threads(tmp_path, monkeypatch):
    """Each block read from disk is cut into groups of chunks by its size (as the streamed
    formulation cuts X), never by the thread count, and the groups' sums are added in
    order: one thread and two give the same parameters to the last bit."""
    X, labels, model_args, fit_args = softmax_problem()
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 6 * 8 * 512)       # blocks of 2 chunks
    monkeypatch.setattr(formulation, "BLOCK_FLOPS", 1.0)          # a group per chunk
    Xs, Ys, layout = sources(tmp_path, X, labels)["memmap"]
    fits = [Model(**model_args, num_threads=t).fit(Xs, Ys, **fit_args) for t in (1, 2)]
    for key, value in fits[0].parameters.items():
        assert np.array_equal(value, fits[1].parameters[key]), key
    assert fits[0].final_cost_ == fits[1].final_cost_
