"""Data-parallel full-batch training over MPI (mpi4py, the ``mpi`` extra) and over data
read from disk in blocks; ``Model.fit(..., comm=MPI.COMM_WORLD)`` and
``Model.fit(X_on_disk, ...)`` come here.

Every process (rank) holds its own shard of the examples; each iteration it adds its
shard's gradient and loss sums into one flat buffer, one ``Allreduce`` sums the buffer
over the ranks, and every rank applies the same update from the same parameters (rank
0's, broadcast at the start), so all ranks hold the same parameters and the result is
that of one process on all the data.  The cost is global, so every rank sees the same
divergence; the driver's chunk lengths and Ctrl-C are agreed on by the ranks, and only
rank 0 prints or calls ``callback``.
"""
import numpy as np

from . import blocks as blocks_module
from .training import InterruptFlag
from .validation import check_memory

__all__ = ["shard_slice", "make_trainer", "AgreedInterrupt", "MiniBatchShard"]

SHARDED_FORMULATIONS = ("auto", "streamed")


def shard_slice(m, comm):
    """The contiguous part of ``range(m)`` that rank ``comm.rank`` of ``comm.size`` holds:
    the first ``m % size`` ranks take one example more.  ``X[:, shard_slice(m, comm)]``
    (or ``X[shard_slice(m, comm)]`` for examples as rows) reads only this rank's part of
    an h5py dataset or memmap."""
    size, rank = comm.size, comm.rank
    base, extra = divmod(int(m), size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def agree_on_errors(comm, work):
    """``work()`` on every rank; if it raised a ValueError on any rank, every rank raises
    one (its own, or one naming the rank that failed), so no rank is left waiting in a
    collective call."""
    error = None
    try:
        result = work()
    except ValueError as exc:
        error, result = exc, None
    if comm is None:
        if error is not None:
            raise error
        return result
    failed = comm.allgather(error is not None)
    if error is not None:
        raise error
    if any(failed):
        raise ValueError(f"comm: rank {failed.index(True)} refused its data (see its error)")
    return result


class AgreedInterrupt(InterruptFlag):
    """Ctrl-C as a flag, agreed on by all ranks: ``agree(per_call)`` (called by the driver
    after every chunk) takes the smallest chunk length and raises the flag everywhere if
    any rank was interrupted."""

    def __init__(self, comm):
        super().__init__()
        self.comm, self.local = comm, False

    def _handle(self, signum, frame):
        self.local = True

    def agree(self, per_call):
        from mpi4py import MPI
        per_call = self.comm.allreduce(int(per_call), op=MPI.MIN)
        self.raised = self.comm.allreduce(self.local, op=MPI.LOR)
        return per_call


class Collectives:
    """The few collective calls the trainers make, on an mpi4py communicator."""

    def __init__(self, comm):
        self.comm, self.rank, self.size = comm, comm.rank, comm.size

    def allreduce(self, buffer):
        """Sums ``buffer`` (a numpy array) over the ranks, in place."""
        from mpi4py import MPI
        self.comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)

    def bcast(self, value):
        """Rank 0's ``value`` (any picklable object) on every rank."""
        return self.comm.bcast(value, root=0)

    def bcast_array(self, array):
        """Rank 0's values of a contiguous numpy array, in place on every rank."""
        if array.size:
            self.comm.Bcast(array, root=0)


def check_sharded(engine, formulation, comm):
    if engine != "cpu":
        raise ValueError(f"engine: data on disk, examples as rows and comm= train on the "
                         f"'cpu' engine, got {engine!r}")
    if formulation not in SHARDED_FORMULATIONS:
        raise ValueError(f"formulation: data on disk, examples as rows and comm= train with "
                         f"the 'streamed' formulation (blocks of examples through all "
                         f"layers); {formulation!r} needs all of X in memory at once")
    if comm is not None:
        check_communicator(comm)


def make_trainer(parameters, X, Y, net, dtype, learning_rate, layout="columns", comm=None,
                 num_threads=None):
    """The trainer for this rank's X and Y (checked block by block first, every rank
    agreeing), starting from rank 0's ``parameters``; returns ``(trainer, m)`` with m
    the number of examples of all ranks."""
    from .engines.cpu.sharded import ShardedTrainer, working_bytes

    def checked_blocks():
        blocks = blocks_module.Blocks(X, Y, net, dtype, layout)
        check_memory("formulation", working_bytes(blocks, net),
                     f"the streamed formulation's buffers for {list(net.layer_dims)} over "
                     f"blocks of {blocks.block} examples", "; smaller layers need less")
        blocks.check()
        return blocks
    blocks = agree_on_errors(comm, checked_blocks)
    m, allreduce = blocks.m, None
    if comm is not None:
        m = comm.allreduce(blocks.m)
        allreduce = Collectives(comm).allreduce
        parameters = {k: np.ascontiguousarray(v) for k, v in parameters.items()}
        for k in sorted(parameters):
            comm.Bcast(parameters[k], root=0)
    trainer = ShardedTrainer(parameters, blocks, net, learning_rate, m, allreduce,
                             num_threads=num_threads)
    return trainer, m


# -- mini-batch ----------------------------------------------------------------------------
class MiniBatchShard:
    """This rank's examples for mini-batch training over ``comm``: rank r holds the global
    examples ``offsets[r] .. offsets[r + 1] - 1``, i.e. the ranks' X put side by side in
    rank order are the one-process X (``shard_slice`` cuts it so).  The shard is read
    into memory (example-major, as the one-process engine keeps it) and checked, every
    rank agreeing; ``validation_data`` is given alike on every rank (rank 0 evaluates
    it), ``validation_fraction`` is refused (the held-out part would sit on the last
    ranks only)."""

    def __init__(self, comm, X, Y, net, dtype, layout, validation_data, validation_fraction):
        from .minibatch import split_validation
        check_communicator(comm)

        def load():
            if validation_fraction is not None:
                raise ValueError("validation_fraction: with comm= give validation_data "
                                 "(the same on every rank) instead")
            _, _, validation = split_validation(None, None, net, dtype, validation_data, None)
            return load_shard(X, Y, net, dtype, layout) + (validation,)
        self.Xe, self.Ye, self.validation = agree_on_errors(comm, load)
        self.ranks, self.net = Collectives(comm), net
        counts = comm.allgather(self.Xe.shape[0])
        self.m, self.start = sum(counts), sum(counts[:comm.rank])
        if len(set(comm.allgather(self.validation is not None))) > 1:
            raise ValueError("validation_data: give it on every rank or on none")

    def trainer(self, parameters, state, plan):
        from .engines.cpu.sharded_minibatch import ShardedMiniBatchTrainer
        return ShardedMiniBatchTrainer(parameters, state, self.Xe, self.Ye, self.net, plan,
                                       self.m, self.start, self.ranks)


def check_communicator(comm):
    if not all(hasattr(comm, a) for a in ("Allreduce", "Bcast", "rank", "allgather")):
        raise ValueError(f"comm: expected an mpi4py communicator such as MPI.COMM_WORLD, "
                         f"got {comm!r}")


def load_shard(X, Y, net, dtype, layout):
    """This rank's X and Y, checked, as example-major ``Xe : (m_local, n_0)`` and
    ``Ye : (m_local, n_L)`` arrays of ``dtype``, read block by block (X on disk, or in
    memory as columns or rows)."""
    blocks = blocks_module.Blocks(X, Y, net, dtype, layout)
    n0, nL = net.layer_dims[0], net.layer_dims[-1]
    check_memory("X", blocks.m * (n0 + nL) * np.dtype(dtype).itemsize,
                 f"this rank's {blocks.m} examples in memory for mini-batch training",
                 "; more ranks hold fewer each")
    Xe, Ye = np.empty((blocks.m, n0), dtype), np.empty((blocks.m, nL), dtype)
    for (j0, j1), (Xb, Yb) in zip(blocks.ranges(), blocks):
        Xe[j0:j1], Ye[j0:j1] = Xb.T, Yb.T
    return Xe, Ye
