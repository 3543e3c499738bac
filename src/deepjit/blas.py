"""Limits on the BLAS threads, all through one threadpoolctl controller: making one reads
every loaded library (5-20 ms, more than a small fit's training), and a fit, its
compiled chunks and each predict would each make their own with ``threadpool_limits``.

A controller covers the libraries loaded when it is made, so the BLAS that Numba's
``np.dot`` calls (scipy's, through ``scipy.linalg.cython_blas``, which Numba imports on
the first call of a compiled product) is loaded first."""
from contextlib import nullcontext
from functools import cache


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
