"""How the cpu engine shares work between threads so that the thread count never
changes a result: the examples are cut into a number of blocks that depends on the
problem's size only (never on the thread count); each block is computed by one thread
with BLAS on one thread, keeps its partial sums apart, and the sums are added in block
order.  Threads only decide how many blocks run at once, so a small problem (one block)
runs on one thread, whatever the machine, and a busy core slows a fit in proportion.
The number of blocks is ``engines/formulation.py``'s ``block_count``."""
from contextlib import contextmanager

import numba

from ...blas import blas_limit


def threads_for(blocks, num_threads=None):
    """Threads to run ``blocks`` blocks: the user's ``num_threads`` if given, else every
    core Numba has; never more than there are blocks."""
    return max(1, min(num_threads or numba.config.NUMBA_NUM_THREADS,
                      numba.config.NUMBA_NUM_THREADS, blocks))


@contextmanager
def running_on(threads):
    """Numba on ``threads`` threads and BLAS on one inside (restored after)."""
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with blas_limit(1):
            yield
    finally:
        numba.set_num_threads(before)
