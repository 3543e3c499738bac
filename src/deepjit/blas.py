"""Limits on the BLAS threads, all through one threadpoolctl controller: making one reads
every loaded library (5-20 ms, more than a small fit's training), and a fit, its
compiled chunks and each predict would each make their own with ``threadpool_limits``.

A controller covers the libraries loaded when it is made, so the BLAS that Numba's
``np.dot`` calls (scipy's, through ``scipy.linalg.cython_blas``, which Numba imports on
the first call of a compiled product) is loaded first."""
from contextlib import nullcontext
from functools import cache

# Multiply-adds of one product from which BLAS threads pay for themselves on a 2-core
# machine (2026-12-02, quiet): the cat data's 200 x 12288 x 100 batch products (2.5e8)
# run an Adam epoch in 31 ms on 2 threads against 43 on one; MNIST-1D's and digits'
# (1e6) gain little on a quiet machine and lose many times over on a busy one.
THREADED_WORK = 1 << 24


@cache
def _controller():
    import scipy.linalg.cython_blas  # noqa: F401  (see above)
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def blas_limit(threads):
    """A context in which BLAS runs on ``threads`` threads (no limit for None)."""
    if threads is None:
        return nullcontext()
    return _controller().limit(limits=threads, user_api="blas")
