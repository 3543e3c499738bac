#!/usr/bin/env bash
# What a GPU machine is needed for, in parts, each well inside one 10-minute call:
#
#   bash benchmarks/gpu_session.sh all|tests|bench|sweep [OUTDIR]     # from the repo root
#   bash benchmarks/gpu_session.sh all --dry-run    # prints the commands, runs nothing
#
# all:   ONE short session (at most 8 minutes on an H200): the CUDA tests on the device, the
#        mini-batch tests first (pytest-xdist workers when there: compiling is the CPU's
#        work), then gpu_compare.py with PyTorch (cat, tall, big, and one epoch of
#        mini-batch Adam on MNIST-1D 50,000), then two other mini-batch grids
#        (MINIBATCH_THREADS, MINIBATCH_BLOCKS) and the lower-precision mode (--precision);
#        each step has its own timeout, so a slow one cannot take the others' time;
# tests: the CUDA tests on the real device (DEEPJIT_TEST_GPU=1; with the cat data, the full
#        float64 cat run against the cpu engine, to 1e-10), at most 8 minutes;
# bench: benchmarks/gpu_compare.py, deepjit's engine="cuda" against PyTorch CUDA (float32),
#        then the cat and tall cases with the plain formulation forced, at most 8 minutes;
# sweep: deepjit alone under other launch settings of the example-space and streamed kernels,
#        at most 8 minutes.
# Logs go to OUTDIR (default $OUT, else /tmp/deepjit-gpu). The cat images are read from
# $DEEPJIT_DATA, else from out/catvnoncat in the repository (git-ignored: copy the two .h5
# files there to take them to a machine that gets the repository alone), else from
# ../shared/data/catvnoncat; MNIST-1D from out/mnist1d_50000.npz (copy
# /tmp/deepjit-bench/mnist1d_50000.npz there, made by time_to_accuracy.py; else synthetic
# data of the same shape, which times the same). The package is used from src/ (no install): the machine needs
# numpy, numba, numba-cuda, scipy, threadpoolctl and h5py, and CuPy and PyTorch.
set -uo pipefail
phase=${1:?"which part: all, tests, bench or sweep"}
dry=""
if [[ ${2:-} == --dry-run ]]; then dry=echo; shift; fi
out=${2:-${OUT:-/tmp/deepjit-gpu}}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0       # one-block launches are meant
if [[ -z ${DEEPJIT_DATA:-} && -f out/catvnoncat/train_catvnoncat.h5 ]]; then
    export DEEPJIT_DATA=$PWD/out/catvnoncat
fi
if [[ -z ${DEEPJIT_BENCH_CACHE:-} && -f out/mnist1d_50000.npz ]]; then
    export DEEPJIT_BENCH_CACHE=$PWD/out
fi
compare=($dry python3 benchmarks/gpu_compare.py)
gpu_tests=($dry env DEEPJIT_TEST_GPU=1 python3 -m pytest -q -rs -p no:cacheprovider)
if [[ -z $dry ]] && python3 -c "import xdist" 2>/dev/null; then
    gpu_tests+=(-n 8)
fi

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
} 2>&1 | if [[ -z $dry ]]; then tee -a "$out/device.txt"; else cat >/dev/null; fi

case $phase in
all)    # the timeouts add up to 8 minutes; typical runs end well before them
    timeout 200 "${gpu_tests[@]}" tests/engines/cuda/test_minibatch.py tests/engines/cuda \
        2>&1 | tee "$out/gpu_tests.txt"
    timeout 130 "${compare[@]}" --repeats 3 --iterations 20 2>&1 | tee "$out/gpu_compare.txt"
    for setting in MINIBATCH_THREADS=512 MINIBATCH_BLOCKS=100; do
        timeout 35 "${compare[@]}" --cases minibatch --no-torch --repeats 3 --set $setting
    done 2>&1 | tee "$out/gpu_sweep.txt"
    for precision in tf32 bf16; do
        timeout 40 "${compare[@]}" --cases cat tall big --repeats 3 --iterations 20 \
            --precision $precision
    done 2>&1 | tee "$out/gpu_precision.txt" ;;
tests)
    timeout 480 "${gpu_tests[@]}" tests/engines/cuda 2>&1 | tee "$out/gpu_tests.txt" ;;
bench)
    timeout 300 "${compare[@]}" 2>&1 | tee "$out/gpu_compare.txt"
    timeout 180 "${compare[@]}" --cases cat tall --formulation dense --repeats 3 2>&1 \
        | tee "$out/gpu_compare_dense.txt" ;;
sweep)
    for threads in 64 256; do
        timeout 100 "${compare[@]}" --cases cat --no-torch --repeats 3 \
            --set EXAMPLES_THREADS=$threads
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
