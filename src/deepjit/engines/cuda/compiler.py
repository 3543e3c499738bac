"""What ``numba.cuda`` compiles for: a GPU, or the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1`` when numba.cuda was first imported), and the decorators
that differ between the two."""
from numba import cuda

SIMULATOR = cuda.is_available.__module__.endswith("simulator_init")


def bounded_jit(threads):
    """``cuda.jit`` for a kernel launched with at most ``threads`` threads per block: the
    compiler keeps to the registers that many threads can share (spilling if it must),
    so the launch cannot fail for lack of them.  (The simulator takes no bounds.)"""
    return cuda.jit if SIMULATOR else cuda.jit(launch_bounds=threads)


def inlined(function):
    """A device function, inlined into its caller on a real GPU (so that the register
    tiles passed to it can stay in registers)."""
    if SIMULATOR:
        return cuda.jit(device=True)(function)
    return cuda.jit(device=True, forceinline=True)(function)


def on_device(shared):
    """An ``@njit`` function of ``engines/losses.py`` that takes arrays, for device code:
    on a GPU the function itself (numba-cuda compiles it for the device); in the
    simulator a device function of its Python source (the simulator's arrays cannot be
    passed to compiled code; its scalars can, so scalar functions need no wrapper)."""
    return cuda.jit(device=True)(shared.py_func) if SIMULATOR else shared
