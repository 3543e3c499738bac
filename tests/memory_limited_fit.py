"""Run by tests/test_distributed.py: after a warm-up fit (compiling), caps this process's
address space (RLIMIT_AS) at its current size plus HEADROOM_MB, then fits on the h5py
dataset given (examples as rows), which is larger than that headroom, and saves the
parameters."""
import resource
import sys

import h5py
import numpy as np

from deepjit import Model

path, out, headroom_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = dict(layer_dims=[30, 16, 1], hidden_activation="tanh", seed=4, num_threads=1)
with h5py.File(path, "r") as f:
    small = np.asarray(f["X"][:300])
    Model(**args).fit(small, np.asarray(f["Y"][:300]), layout="rows", num_iterations=2)
    size_kb = int(next(line.split()[1] for line in open("/proc/self/status")
                       if line.startswith("VmSize")))
    limit = size_kb * 1024 + headroom_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:                                     # the limit bites: all of X cannot be loaded
        f["X"][:]
        raise SystemExit("the memory limit did not stop reading all of X")
    except MemoryError:
        pass
    model = Model(**args).fit(f["X"], f["Y"], layout="rows", learning_rate=0.1,
                              num_iterations=3)
np.savez(out, **model.parameters)
