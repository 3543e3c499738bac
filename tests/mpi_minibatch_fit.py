"""Run under mpiexec by tests/test_distributed.py: every rank makes the same data, keeps
its contiguous part (``argv[2]``: "even" cuts by ``distributed.shard_slice``, "lopsided"
by ``tests_data.mpi_minibatch_cut``) and runs each of ``tests_data.MINIBATCH_RUNS`` as a
mini-batch fit with ``comm``; rank 0 saves every run's parameters, optimizer buffers,
history and what was printed, and whether all ranks agree, to ``argv[1]``.  "diverge"
instead runs ``DIVERGING_MINIBATCH`` on ``mpi_problem`` (even cut) and saves every
rank's outcome and the parameters kept."""
import sys

import numpy as np
from mpi4py import MPI

from deepjit import Model, TrainingDiverged
from deepjit.distributed import shard_slice

from tests_data import (DIVERGING, DIVERGING_MINIBATCH, MINIBATCH_RUNS,  # noqa: E402
                        mpi_minibatch_cut, mpi_minibatch_problem, mpi_problem)

comm = MPI.COMM_WORLD
out, cut = sys.argv[1], sys.argv[2]
if cut == "diverge":
    X, Y, model_args, _ = mpi_problem()
    part = shard_slice(X.shape[1], comm)
    model, outcome = Model(**{**model_args, **DIVERGING}), ""
    try:
        model.fit(X[:, part], Y[:, part], comm=comm, **DIVERGING_MINIBATCH)
    except TrainingDiverged as diverged:
        outcome = f"diverged {diverged.iterations}"
    outcomes, everyone = comm.gather(outcome, root=0), comm.gather(model.parameters, root=0)
    if comm.rank == 0:
        same = all(np.array_equal(p[k], v) for p in everyone for k, v in everyone[0].items())
        np.savez(out, outcomes=np.array(outcomes), same_on_all_ranks=same, **everyone[0])
    sys.exit(0)
X, Y, validation, model_args, fit_args = mpi_minibatch_problem()
m = X.shape[1]
part = shard_slice(m, comm) if cut == "even" else mpi_minibatch_cut(m, comm.rank, comm.size)
saved = {}
for name, options in MINIBATCH_RUNS.items():
    printed, epochs = [], []
    extra = {"validation_data": validation} if options.get("early_stopping") else {}
    model = Model(**model_args).fit(X[:, part], Y[:, part], comm=comm,
                                    print_cost=lambda e, c: printed.append(e),
                                    on_epoch=lambda r: epochs.append(r["epoch"]),
                                    **{**fit_args, **options}, **extra)
    if comm.rank != 0 and (printed or epochs):
        raise SystemExit(f"rank {comm.rank} printed")
    state = model.optimizer_state_
    mine = {**model.parameters, **state.arrays(), "cost": np.array(model.costs_),
            "step": np.array(state.step)}
    everyone = comm.gather(mine, root=0)
    if comm.rank == 0:
        saved.update({f"{name}/{k}": v for k, v in mine.items()})
        saved[f"{name}/printed"] = np.array(printed)
        saved[f"{name}/same_on_all_ranks"] = all(
            np.array_equal(theirs[k], v) for theirs in everyone for k, v in mine.items())
        if model.best_epoch_ is not None:
            saved[f"{name}/best_epoch"] = np.array(model.best_epoch_)
if comm.rank == 0:
    np.savez(out, **saved)
