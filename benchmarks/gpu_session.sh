#!/usr/bin/env bash
# Everything a GPU machine is needed for, in one command (each start of one costs minutes):
# the CUDA tests on the real device (DEEPJIT_TEST_GPU=1, the full float64 cat run included),
# then benchmarks/gpu_compare.py (deepjit's engine="cuda" against PyTorch CUDA, float32).
#
#   bash benchmarks/gpu_session.sh [OUTDIR]      # from the repository root
#
# Logs go to OUTDIR (default $OUT, else /tmp/deepjit-gpu). The cat images are read from
# $DEEPJIT_DATA when set, else from ../shared/data/catvnoncat. The package is used from
# src/ (no install): the machine needs numpy, numba, numba-cuda, scipy, threadpoolctl and
# h5py, and CuPy and PyTorch for cuBLAS and the comparison.
set -uo pipefail
out=${1:-${OUT:-/tmp/deepjit-gpu}}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
    2>&1 | tee "$out/device.txt"
python3 - <<'PY' 2>&1 | tee -a "$out/device.txt"
import importlib
for name in ("numpy", "numba", "numba_cuda", "cupy", "torch", "h5py"):
    try:
        module = importlib.import_module(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:
        print(name, "MISSING", type(exc).__name__, exc)
PY

DEEPJIT_TEST_GPU=1 timeout 420 python3 -m pytest -q -rs -p no:cacheprovider \
    tests/test_cuda_*.py 2>&1 | tee "$out/gpu_tests.txt"
timeout 300 python3 benchmarks/gpu_compare.py "${@:2}" 2>&1 | tee "$out/gpu_compare.txt"
# the same cases with the plain formulation forced (host loop), to check the automatic choice
timeout 200 python3 benchmarks/gpu_compare.py --cases cat tall --formulation dense \
    --repeats 3 2>&1 | tee "$out/gpu_compare_dense.txt"
