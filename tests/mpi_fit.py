"""Run under mpiexec by tests/test_distributed.py: every rank makes the same data, keeps
its shard (``distributed.shard_slice``) and fits with ``comm``; rank 0 saves the result
to the path given.  Modes: "fit" (the parameters, costs, whether all ranks agree),
"diverge" (a learning rate that diverges: every rank's TrainingDiverged), "bad" (NaN in
the last rank's shard: every rank's ValueError)."""
import sys

import numpy as np
from mpi4py import MPI

from deepjit import Model, TrainingDiverged
from deepjit.distributed import shard_slice

from tests_data import DIVERGING, DIVERGING_RATE, mpi_problem  # noqa: E402

comm = MPI.COMM_WORLD
out, mode = sys.argv[1], sys.argv[2]
X, Y, model_args, fit_args = mpi_problem()
part = shard_slice(X.shape[1], comm)
Xr, Yr = X[:, part].copy(), Y[:, part]
if mode == "bad" and comm.rank == comm.size - 1:
    Xr[0, -1] = np.nan
if mode == "diverge":
    model_args, fit_args["learning_rate"] = {**model_args, **DIVERGING}, DIVERGING_RATE
model, printed, outcome = Model(**model_args), [], ""
try:
    model.fit(Xr, Yr, comm=comm, print_cost=lambda i, c: printed.append(i), **fit_args)
except TrainingDiverged as diverged:
    outcome = f"diverged {diverged.iterations}"
except ValueError as error:
    outcome = f"ValueError {error}"
outcomes = comm.gather(outcome, root=0)
everyone = comm.gather(model.parameters, root=0)
if comm.rank == 0:
    params = model.parameters
    same = all(np.array_equal(p[k], params[k]) for p in everyone for k in params)
    np.savez(out, costs=np.array(model.costs_), final=model.final_cost_,
             same_on_all_ranks=same, printed=len(printed), outcomes=np.array(outcomes),
             n_iter=model.n_iter_, **params)
elif printed:
    raise SystemExit(f"rank {comm.rank} printed")
