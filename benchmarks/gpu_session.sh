#!/usr/bin/env bash
# What a GPU machine is needed for, in three parts, each well inside one 10-minute call:
#
#   bash benchmarks/gpu_session.sh tests|bench|sweep [OUTDIR]     # from the repo root
#
# tests: the CUDA tests on the real device (DEEPJIT_TEST_GPU=1; with the cat data, the full
#        float64 cat run against the cpu engine, to 1e-10), at most 8 minutes;
# bench: benchmarks/gpu_compare.py, deepjit's engine="cuda" against PyTorch CUDA (float32),
#        then the cat and tall cases with the plain formulation forced, at most 8 minutes;
# sweep: deepjit alone under other launch settings of the example-space and streamed kernels,
#        at most 8 minutes.
# Logs go to OUTDIR (default $OUT, else /tmp/deepjit-gpu). The cat images are read from
# $DEEPJIT_DATA, else from out/catvnoncat in the repository (git-ignored: copy the two .h5
# files there to take them to a machine that gets the repository alone), else from
# ../shared/data/catvnoncat. The package is used from src/ (no install): the machine needs
# numpy, numba, numba-cuda, scipy, threadpoolctl and h5py, and CuPy and PyTorch.
set -uo pipefail
phase=${1:?"which part: tests, bench or sweep"}
out=${2:-${OUT:-/tmp/deepjit-gpu}}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0       # one-block launches are meant
if [[ -z ${DEEPJIT_DATA:-} && -f out/catvnoncat/train_catvnoncat.h5 ]]; then
    export DEEPJIT_DATA=$PWD/out/catvnoncat
fi
compare=(python3 benchmarks/gpu_compare.py)

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    echo "cat data: ${DEEPJIT_DATA:-../shared/data/catvnoncat}"
    python3 - <<'PY'
import importlib
for name in ("numpy", "numba", "numba_cuda", "cupy", "torch", "h5py"):
    try:
        module = importlib.import_module(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:
        print(name, "MISSING", type(exc).__name__, exc)
PY
} 2>&1 | tee -a "$out/device.txt"

case $phase in
tests)
    DEEPJIT_TEST_GPU=1 timeout 480 python3 -m pytest -q -rs -p no:cacheprovider \
        tests/engines/cuda 2>&1 | tee "$out/gpu_tests.txt" ;;
bench)
    timeout 300 "${compare[@]}" 2>&1 | tee "$out/gpu_compare.txt"
    timeout 180 "${compare[@]}" --cases cat tall --formulation dense --repeats 3 2>&1 \
        | tee "$out/gpu_compare_dense.txt" ;;
sweep)
    for threads in 64 256; do
        timeout 100 "${compare[@]}" --cases cat --no-torch --repeats 3 \
            --set THREADS=$threads
    done 2>&1 | tee "$out/gpu_sweep.txt"
    for columns in 4 7; do
        timeout 100 "${compare[@]}" --cases tall --no-torch --repeats 3 \
            --set COLUMNS_PER_THREAD=$columns
    done 2>&1 | tee -a "$out/gpu_sweep.txt"
    timeout 100 "${compare[@]}" --cases tall --no-torch --repeats 3 --set COLUMN_GROUPS=16 \
        2>&1 | tee -a "$out/gpu_sweep.txt" ;;
*)
    echo "unknown part $phase: expected tests, bench or sweep" >&2; exit 2 ;;
esac
