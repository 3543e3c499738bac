"""deepjit.blas: one threadpoolctl controller that covers the BLAS of Numba's np.dot."""
import subprocess
import sys

CHECK = """
import sys
import numpy as np
from numba import njit
from threadpoolctl import threadpool_info
from deepjit.blas import blas_limit

@njit
def product(a, b):
    return np.dot(a, b)

before = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
with blas_limit(1):
    a = np.ones((3, 3))
    assert product(a, a)[0, 0] == 3.0      # Numba's BLAS loaded (if not before) and called
    inside = [i for i in threadpool_info() if i["user_api"] == "blas"]
with blas_limit(None):
    unlimited = {i["filepath"]: i["num_threads"] for i in threadpool_info()
                 if i["user_api"] == "blas"}
after = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
print(repr((len(inside), [i["num_threads"] for i in inside],
            "scipy.linalg.cython_blas" in sys.modules, unlimited == after,
            all(after[k] == v for k, v in before.items()))))
"""


def test_blas_limit_covers_numbas_blas_loaded_after_import():
    """In a fresh process (so no BLAS but numpy's is loaded yet): inside blas_limit(1) every
    BLAS, numpy's and the one of Numba's np.dot, runs on one thread; None changes
    nothing; the limits are restored after."""
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=True).stdout
    count, threads, loaded, none_unchanged, restored = eval(out.strip().splitlines()[-1])
    assert count >= 1 and threads == [1] * count
    assert loaded and none_unchanged and restored
