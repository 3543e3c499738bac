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
