"""Every launch setting of the cuda engine, in one place.

The host code reads them at every launch and passes them to the kernels (a kernel never
reads them: Numba freezes globals at compile time), so a test or
``benchmarks/gpu_compare.py --set NAME=VALUE`` can change them between fits.
"""
# elementwise kernels and the host loop (dense.py, device.py)
THREADS_PER_BLOCK = 256     # 1-D kernels; a power of two (the row reductions need it)
MAX_BLOCKS = 4096           # grid-stride loops cover the rest
TILE = 16                   # tiled matmul: TILE x TILE threads, two TILE x TILE tiles
USE_CUBLAS = True           # large products through CuPy's cuBLAS when it is there
PRECISION = "float32"       # opt-in lower precision of the host loop's products (float32
                            # models): "tf32" or "bf16", operands rounded to 11 or 8
                            # significant bits, float32 sums (see device.product)
CUBLAS_MIN_WORK = 32 ** 3   # ... from this many multiply-adds (M * N * K) on

# small networks in one block (dense_block.py)
BLOCK_THREADS = 256         # threads of the block (a power of two)
BLOCK_MAX_WORK = 4_000_000  # up to this many multiply-adds per iteration

# the example-space formulation (examples.py)
EXAMPLES_MAX_M = 2048       # up to this many examples (its n_1 m^2 grows past the host
                            # loop's time between 1000 and 4000 on an H100:
                            # benchmarks/GPU_RESULTS.md)
EXAMPLES_THREADS = 128      # per block (a power of two)
EXAMPLES_ROWS_MAX = 32      # dot products a thread carries at once (registers; shared
                            # ROWS x THREADS)

# the streamed formulation (streamed.py)
ROW_GROUPS = 8              # threads per block = ROW_GROUPS * COLUMN_GROUPS
COLUMN_GROUPS = 8
COLUMNS_PER_THREAD = 6      # at most; fewer when the tile does not fit SHARED_BYTES
BLOCKS = None               # kernel 1's grid; None: as many as are resident at once
REDUCE_ENTRIES = 32         # kernel 2: entries of theta per block ...
REDUCE_STRANDS = 8          # ... times strands splitting the NB partial rows
SHARED_BYTES = 48 * 1024    # numba's static shared memory per block
MAX_WIDTH = 128             # widest layer (input included) the streamed kernel takes
MAX_ACCUMULATORS = 128      # gradient registers per thread (sm_90: spills from ~100 on)

# mini-batch training (minibatch.py): a chunk of updates in one cooperative launch
MINIBATCH_THREADS = 256     # threads per block (a power of two)
MINIBATCH_BLOCKS = None     # None: a thread per parameter or 8 columns of a batch per
                            # block, at most the blocks resident at once
