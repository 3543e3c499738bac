"""The CUDA tests (tests/engines/cuda/) run under Numba's CUDA simulator (no GPU needed)
unless DEEPJIT_TEST_GPU=1 asks for the real device.

conftest.py imports this module, so the simulator is switched on before any test module
imports numba.cuda.  numba reads NUMBA_ENABLE_CUDASIM when numba itself is imported, so
the config is reloaded here.
"""
import os

ON_GPU = os.environ.get("DEEPJIT_TEST_GPU") == "1"

if not ON_GPU:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    from numba.core import config
    config.reload_config()


def check_simulator(engine):
    if not engine.SIMULATOR and not ON_GPU:
        raise RuntimeError("numba.cuda was imported before tests/conftest.py switched the "
                           "CUDA simulator on")


# Compiling kernels for a real GPU (sm_90) needs no GPU, only the CUDA toolkit's compiler
# libraries (pip install 'deepjit[cuda]'); tests run it in a subprocess without the
# simulator, and skip where the libraries are missing.
COMPILE_PREAMBLE = r'''
import numpy as np
from numba import from_dtype, types

from deepjit.engines.cuda import cuda   # numba.cuda, with deepjit's numpy 2.5 shim applied
# numba-cuda asks the current device for its compute capability when a kernel calls a
# device function, even in compile_ptx: answer for it (there is no device here).
cuda.dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability":
                                                                 (9, 0)})()
try:
    cuda.compile_ptx(lambda x: None, (types.float64[::1],), cc=(9, 0))
except Exception as exc:          # skip only for missing compiler libraries
    message = " ".join(str(exc).split())
    if not any(name in message.lower() for name in ("nvrtc", "nvvm", "libdevice")):
        raise
    print("NO TOOLKIT", type(exc).__name__, message[:200])
    raise SystemExit


def compile_kernel(kernel, signature):
    """PTX for sm_90 with the kernel's own launch bounds; ``(ptx, registers per thread,
    bytes spilled)``, the last two from ptxas (through nvJitLink) as a GPU would load
    it."""
    import re
    from cuda.bindings import nvjitlink
    bounds = kernel.targetoptions.get("launch_bounds")
    ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0), launch_bounds=bounds)
    options = ["-arch=sm_90", "-verbose"]
    linker = nvjitlink.create(len(options), options)
    nvjitlink.add_data(linker, nvjitlink.InputType.PTX, ptx.encode(), len(ptx), "kernel")
    if "cudaCG" in ptx:           # a grid-wide barrier: the device runtime's library
        from numba.cuda.cudadrv.libs import get_cudalib
        nvjitlink.add_file(linker, nvjitlink.InputType.LIBRARY,
                           get_cudalib("cudadevrt", static=True))
    nvjitlink.complete(linker)
    log = bytearray(nvjitlink.get_info_log_size(linker))
    nvjitlink.get_info_log(linker, log)
    log = log.decode(errors="replace")
    # ptxas reports each function (the device runtime's too, where linked): the kernel's
    kernel_log = next(part for part in log.split("Function properties for")
                      if kernel.py_func.__name__ in part.split("\n", 1)[0])
    spilled = re.search(r"(\d+) bytes spill stores", kernel_log)
    return (ptx, int(re.search(r"[Uu]sed (\d+) registers", kernel_log).group(1)),
            int(spilled.group(1)) if spilled else 0)


def check_launchable(kernel, signature, threads):
    """Compiles ``kernel``; fails unless ``threads`` threads per block fit the register
    file (65536 per SM on an H100), i.e. unless a launch of that size can succeed."""
    ptx, registers, spilled = compile_kernel(kernel, signature)
    per_thread = -(-registers // 8) * 8            # registers are allocated in eights
    assert per_thread * threads <= 65536, (kernel, registers, threads)
    return ptx, registers, spilled
'''


def compile_for_a_real_gpu(body):
    """Runs ``COMPILE_PREAMBLE + body`` without the simulator; its stdout (the test is
    skipped when the compiler libraries are missing)."""
    import subprocess
    import sys

    import pytest
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    done = subprocess.run([sys.executable, "-c", COMPILE_PREAMBLE + body], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    if done.stdout.startswith("NO TOOLKIT"):
        pytest.skip(f"no CUDA compiler libraries: {done.stdout.strip()}")
    return done.stdout
