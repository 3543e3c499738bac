#!/usr/bin/env bash
# Everything a GPU machine is needed for (each start of one costs minutes), in one command
# or in two (each device call is limited to 10 minutes):
#
#   bash benchmarks/gpu_session.sh [tests|bench|sweep|all] [OUTDIR]   # from the repo root
#
# tests: the CUDA tests on the real device (DEEPJIT_TEST_GPU=1, the full float64 cat run
#        against the cpu engine included);
# bench: benchmarks/gpu_compare.py, deepjit's engine="cuda" against PyTorch CUDA (float32),
#        then the cat and tall cases again with the plain formulation forced;
# sweep: deepjit alone under other launch settings (the one-block and streamed kernels);
# all (default): the three in turn.
# Logs go to OUTDIR (default $OUT, else /tmp/deepjit-gpu). The cat images are read from
# $DEEPJIT_DATA when set, else from ../shared/data/catvnoncat. The package is used from
# src/ (no install): the machine needs numpy, numba, numba-cuda, scipy, threadpoolctl and
# h5py, and CuPy and PyTorch for cuBLAS and the comparison.
set -uo pipefail
phase=${1:-all}
out=${2:-${OUT:-/tmp/deepjit-gpu}}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
compare=(python3 benchmarks/gpu_compare.py)

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
    2>&1 | tee -a "$out/device.txt"
python3 - <<'PY' 2>&1 | tee -a "$out/device.txt"
import importlib
for name in ("numpy", "numba", "numba_cuda", "cupy", "torch", "h5py"):
    try:
        module = importlib.import_module(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:
        print(name, "MISSING", type(exc).__name__, exc)
PY

if [[ $phase == tests || $phase == all ]]; then
    DEEPJIT_TEST_GPU=1 timeout 480 python3 -m pytest -q -rs -p no:cacheprovider \
        tests/test_cuda_*.py 2>&1 | tee "$out/gpu_tests.txt"
fi
if [[ $phase == bench || $phase == all ]]; then
    timeout 300 "${compare[@]}" 2>&1 | tee "$out/gpu_compare.txt"
    timeout 200 "${compare[@]}" --cases cat tall --formulation dense --repeats 3 2>&1 \
        | tee "$out/gpu_compare_dense.txt"
fi
if [[ $phase == sweep || $phase == all ]]; then
    for threads in 256 1024; do
        timeout 120 "${compare[@]}" --cases cat --no-torch --repeats 3 --set BLOCK_THREADS=$threads
    done 2>&1 | tee "$out/gpu_sweep.txt"
    for columns in 4 7; do
        timeout 120 "${compare[@]}" --cases tall --no-torch --repeats 3 \
            --set COLUMNS_PER_THREAD=$columns
    done 2>&1 | tee -a "$out/gpu_sweep.txt"
fi
