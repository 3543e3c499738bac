"""Limits on the BLAS threads, all through one threadpoolctl controller: making one reads
every loaded library (5-20 ms, more than a small fit's training), and a fit, its
compiled chunks and each predict would each make their own with ``threadpool_limits``.

A controller covers the libraries loaded when it is made, so the BLAS that Numba's
``np.dot`` calls is loaded first: scipy's, in the extension module
``scipy.linalg.cython_blas``, which Numba imports by name on the first call of a compiled
product."""
import os
import sys
from contextlib import nullcontext
from functools import cache
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, FileFinder
from importlib.util import module_from_spec

NUMBA_BLAS = "scipy.linalg.cython_blas"


@cache
def _controller():
    load_numba_blas()
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def blas_limit(threads):
    """A context in which BLAS runs on ``threads`` threads (no limit for None)."""
    if threads is None:
        return nullcontext()
    return _controller().limit(limits=threads, user_api="blas")


def load_numba_blas():
    """Loads ``scipy.linalg.cython_blas`` without importing the package ``scipy.linalg``
    (0.2 s, most of it scipy's array-API set-up, which neither Numba nor deepjit uses):
    the extension module alone, put in ``sys.modules``, where Numba's import finds it.
    A plain import where scipy.linalg is loaded already or the module is not found."""
    if NUMBA_BLAS in sys.modules or "scipy.linalg" in sys.modules:
        return __import__(NUMBA_BLAS)
    import scipy
    finder = FileFinder(os.path.join(os.path.dirname(scipy.__file__), "linalg"),
                        (ExtensionFileLoader, EXTENSION_SUFFIXES))
    spec = finder.find_spec(NUMBA_BLAS)
    if spec is None:
        return __import__(NUMBA_BLAS)
    module = module_from_spec(spec)
    sys.modules[NUMBA_BLAS] = module
    spec.loader.exec_module(module)
