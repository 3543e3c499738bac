"""Run under mpiexec by tests/test_distributed.py: every rank makes the same data, keeps
its shard (``distributed.shard_slice``) and fits with ``comm``; rank 0 saves the result
to the path given, each rank's parameters beside it."""
import sys

import numpy as np
from mpi4py import MPI

from deepjit import Model
from deepjit.distributed import shard_slice

from tests_data import mpi_problem  # noqa: E402  (tests/ is the script's directory)

comm = MPI.COMM_WORLD
X, Y, model_args, fit_args = mpi_problem()
part = shard_slice(X.shape[1], comm)
model = Model(**model_args)
printed = []
model.fit(X[:, part], Y[:, part], comm=comm, print_cost=lambda i, c: printed.append(i),
          **fit_args)
params = model.parameters
everyone = comm.gather(params, root=0)
if comm.rank == 0:
    same = all(np.array_equal(p[k], params[k]) for p in everyone for k in params)
    np.savez(sys.argv[1], costs=np.array(model.costs_), final=model.final_cost_,
             same_on_all_ranks=same, printed=len(printed), **params)
elif printed:
    raise SystemExit(f"rank {comm.rank} printed")
