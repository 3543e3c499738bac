"""Imported first by tests/test_cuda_*.py: run them under Numba's CUDA simulator (no GPU
needed) unless DEEPJIT_TEST_GPU=1 asks for the real device.

numba reads NUMBA_ENABLE_CUDASIM when numba itself is imported (earlier test modules
import it), so the config is reloaded here, before numba.cuda is first imported.
"""
import os

ON_GPU = os.environ.get("DEEPJIT_TEST_GPU") == "1"

if not ON_GPU:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    from numba.core import config
    config.reload_config()


def check_simulator(engine):
    if not engine.SIMULATOR and not ON_GPU:
        raise RuntimeError("numba.cuda was imported before the CUDA tests switched the "
                           "simulator on; import tests/cuda_setup.py first")


# Compiling kernels for a real GPU (sm_90) needs no GPU, only the CUDA toolkit's compiler
# libraries (pip install 'deepjit[cuda]'); tests run it in a subprocess without the
# simulator, and skip where the libraries are missing.
COMPILE_PREAMBLE = """
import numpy as np
from numba import cuda, from_dtype, types
import numba.cuda.dispatcher as dispatcher
# numba-cuda asks the current device for its compute capability when a kernel calls a
# device function, even in compile_ptx: answer for it (there is no device here).
dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability": (9, 0)})()
try:
    cuda.compile_ptx(lambda x: None, (types.float64[::1],), cc=(9, 0))
except Exception as exc:
    print("NO TOOLKIT", " ".join(str(exc).split())[:200])
    raise SystemExit
"""


def compile_for_a_real_gpu(body):
    """Runs ``COMPILE_PREAMBLE + body`` without the simulator; its stdout (the test is
    skipped when the compiler libraries are missing)."""
    import subprocess
    import sys

    import pytest
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    done = subprocess.run([sys.executable, "-c", COMPILE_PREAMBLE + body], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    if done.stdout.startswith("NO TOOLKIT"):
        pytest.skip(f"no CUDA compiler libraries: {done.stdout.strip()}")
    return done.stdout
