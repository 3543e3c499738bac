"""Full-batch gradient descent over examples that are not all in this process's memory
at once: blocks read from disk, or shards held by several MPI processes.

Each iteration every block read from disk goes through the streamed formulation's
chunks (``streamed.py``'s ``block_sums``: cut into ``formulation.block_count`` groups of
chunks, as many as the block's size calls for, never the thread count; each summed by the
nogil kernel ``block_gradient``); the sums are added in order to one flat
buffer, whose last slot holds the loss sum; one ``Allreduce`` of that buffer sums it
over the processes; every process applies the same update.  The gradient is the mean
over all m examples, so the result equals one process holding all the data, up to
rounding.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ...validation import training_bytes
from ..formulation import STREAM_CHUNK, block_count
from .blocks import running_on, threads_for
from .network import CompiledTrainer, descend
from .streamed import BlockSums


def groups_and_chunk(blocks, net, chunk=STREAM_CHUNK):
    """The groups of chunks each block is cut into (as ``StreamedTrainer`` cuts all of X,
    so one block in memory trains as the streamed formulation does) and the chunk."""
    chunk = int(min(chunk, blocks.block))
    n_chunks = -(-blocks.block // chunk)
    return block_count(net.layer_dims, blocks.block, n_chunks,
                       np.dtype(blocks.dtype).itemsize), chunk


def working_bytes(blocks, net, chunk=STREAM_CHUNK):
    """About the bytes a :class:`ShardedTrainer` over ``blocks`` allocates: the
    parameters, each group's chunk buffers and gradient sum, and the two buffers that
    blocks are read into from disk."""
    groups, chunk = groups_and_chunk(blocks, net, chunk)
    itemsize = np.dtype(blocks.dtype).itemsize
    reading = 0 if blocks.in_memory else 2 * net.layer_dims[0] * blocks.block * itemsize
    return reading + training_bytes(net.layer_dims, blocks.m, "streamed", itemsize, groups,
                                    chunk)


class ShardedTrainer(BlockSums, CompiledTrainer):
    """The engine contract's Trainer over ``blocks`` (a :class:`deepjit.blocks.Blocks`
    of this process's examples), summing over the processes with ``allreduce(buffer)``
    (in place; None for one process); ``m`` is the number of examples of all processes.
    Memory beyond the blocks: the parameters and a few chunk buffers per thread."""

    def __init__(self, parameters, blocks, net, learning_rate, m, allreduce=None,
                 chunk=STREAM_CHUNK, num_threads=None):
        self.groups, chunk = groups_and_chunk(blocks, net, chunk)
        self.threads = threads_for(self.groups, num_threads)
        dtype, n_out = np.dtype(blocks.dtype), net.layer_dims[-1]
        no_columns = np.empty((n_out, 0), dtype)   # the data lives in blocks
        super().__init__(parameters, no_columns, no_columns, net, learning_rate,
                         columns=chunk, copies=self.groups)
        self.blocks, self.m, self.allreduce = blocks, m, allreduce
        self.block_buffers(self.groups, net.layer_dims[0], n_out, chunk, dtype)
        self.total = np.zeros(self.theta.size + 1, dtype)     # the gradient, then the loss

    def gradient(self, pool, want_cost):
        """The mean gradient over all m examples (a view of ``total``) and the cost (NaN
        unless ``want_cost``)."""
        total = self.total
        total[:] = 0.0
        for Xb, Yb in self.blocks:
            loss, used = self.block_sums(pool, Xb, Yb, self.groups, self.m, want_cost)
            total[-1] += loss
            for g in range(used):
                total[:-1] += self.grad[g]
        if self.allreduce is not None:
            self.allreduce(total)
        return total[:-1], (total[-1] / self.m if want_cost else np.nan)

    def run(self, n_steps, want_last_cost):
        first = last = np.nan
        with running_on(1), ThreadPoolExecutor(self.threads) as pool:
            for step in range(n_steps):
                want_last = want_last_cost and step == n_steps - 1
                grad, cost_now = self.gradient(pool, step == 0 or want_last)
                if step == 0:
                    first = cost_now
                if want_last:
                    last = cost_now
                descend(self.theta, grad, self.lr)
        return first, last
