"""The instruction mix of the streamed cuda kernel, compiled for sm_90 without a GPU.

A plain script (asv imports every module here, so everything runs under ``__main__``)::

    python benchmarks/ptx_mix.py                      # tall net [30, 64, 32, 1], float32
    python benchmarks/ptx_mix.py --dims 5 4 3 3 --dtype float64
    python benchmarks/ptx_mix.py --source old/streamed.py          # another version
    python benchmarks/ptx_mix.py --nvdisasm PATH      # also the SASS (the machine code)

Compiles ``streamed_kernel`` (``cuda/streamed.py``) at the default launch settings to PTX (NVVM)
and through ptxas (nvJitLink), then prints ptxas's registers and spills, the kernel's
static instruction mix, and every innermost loop that multiplies-adds: its instructions,
FMAs, shared loads, and instructions per FMA.  Those loops (the register-tiled products
over a tile) are nearly all of the kernel's run time, so "loops: instructions per FMA"
(their instructions over their FMAs) is the figure to drive down, towards
``1 + (R + C) / (R C)`` for an ``R x C`` register tile.  With ``--nvdisasm`` (the
``nvdisasm`` of pip's ``nvidia-cuda-nvdisasm``) the same for the SASS that would run.

Needs the CUDA toolkit's compiler libraries (pip install 'deepjit[cuda]'), no GPU.
"""
import argparse
import collections
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

CATEGORIES = [       # (name, pattern on the opcode), first match wins
    ("fma", r"^fma\.|^FFMA|^DFMA"),
    ("ld.shared", r"^ld\.shared|^LDS"),
    ("st.shared", r"^st\.shared|^STS"),
    ("global/local", r"^(ld|st)\.(global|local|param)|^(LDG|STG|LDL|STL|LDC)"),
    ("cvt", r"^cvt|^(F2F|I2F|F2I|I2I)"),
    ("setp/compare", r"^setp|^(ISETP|FSETP|DSETP)"),
    ("selp/select", r"^selp|^(SEL|FSEL)"),
    ("integer", r"^(add|sub|mul|mad|shl|shr|and|or|xor|min|max|neg|not|div|rem)"
                r"\.[subp]|^(IADD|IMAD|IMUL|LEA|SHF|LOP|IMNMX|VIMNMX|IABS)"),
    ("float other", r"^(add|sub|mul|neg|abs|min|max|ex2|lg2|rcp|div)\.[rf]|^[FD](ADD|MUL|MNMX)"
                    r"|^MUFU"),
    ("branch", r"^bra|^(BRA|EXIT|RET|CALL|BSYNC|BSSY|WARPSYNC|BAR)"),
    ("move", r"^mov|^(MOV|UMOV|S2R|S2UR|CS2R)"),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[30, 64, 32, 1])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--source", help="a cuda/streamed.py to load instead of the package's")
    parser.add_argument("--nvdisasm", help="path of nvdisasm: also analyse the SASS")
    parser.add_argument("--save", help="folder to write kernel.ptx (and kernel.sass) into")
    return parser.parse_args()


def streamed_module(source):
    """deepjit.engines.cuda.streamed, or the file ``source`` loaded in its place (no
    CUDA simulator: real compilers)."""
    os.environ["NUMBA_ENABLE_CUDASIM"] = "0"     # read when numba.cuda is first imported
    cuda = importlib.import_module("deepjit.engines.cuda").cuda   # numba.cuda
    # numba-cuda asks the current device for its compute capability when a kernel calls
    # a device function, even in compile_ptx: answer for it (there may be no device).
    cuda.dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability":
                                                                     (9, 0)})()
    if source is None:
        return importlib.import_module("deepjit.engines.cuda.streamed")
    spec = importlib.util.spec_from_file_location("deepjit.engines.cuda.streamed_source",
                                                  source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_kernel(streamed, dims, dtype):
    """``(ptx, cubin, ptxas log, plan)`` of kernel 1 at the default launch settings
    (hidden relu, sigmoid output)."""
    from cuda.bindings import nvjitlink
    from numba import cuda, from_dtype, types
    f = from_dtype(np.dtype(dtype))
    V, M = types.Array(f, 1, "C"), types.Array(f, 2, "C")
    P = types.Array(types.float64, 2, "C")
    codes = (3,) * (len(dims) - 2) + (1,)
    settings = importlib.import_module("deepjit.engines.cuda.settings")
    kernel, plan = streamed.streamed_kernel(tuple(dims), codes, 0.01, np.dtype(dtype),
                                            settings.ROW_GROUPS, settings.COLUMN_GROUPS,
                                            settings.COLUMNS_PER_THREAD)
    ptx, _ = cuda.compile_ptx(kernel.py_func, (V, M, M, P, types.boolean), cc=(9, 0))
    options = ["-arch=sm_90", "-verbose"]
    linker = nvjitlink.create(len(options), options)
    nvjitlink.add_data(linker, nvjitlink.InputType.PTX, ptx.encode(), len(ptx), "kernel")
    nvjitlink.complete(linker)
    log = bytearray(nvjitlink.get_info_log_size(linker))
    nvjitlink.get_info_log(linker, log)
    cubin = bytearray(nvjitlink.get_linked_cubin_size(linker))
    nvjitlink.get_linked_cubin(linker, cubin)
    return ptx, bytes(cubin), log.decode(errors="replace"), plan


def _instructions(text, label, instruction, branch, target):
    """``[(label or None, opcode, target label or None)]`` in program order: lines that
    match ``label`` are labels, lines that match ``instruction`` (opcode, operands) are
    instructions, and an opcode starting with ``branch`` jumps to ``target``."""
    out = []
    for line in text.splitlines():
        found = re.match(label, line)
        if found:
            out.append((found.group(1), None, None))
            continue
        op = re.match(instruction, line)
        if op:
            jump = re.search(target, op.group(2)) if op.group(1).startswith(branch) else None
            out.append((None, op.group(1), jump.group(1) if jump else None))
    return out


def ptx_instructions(ptx):
    """``[(label or None, opcode, target label or None)]`` in program order."""
    return _instructions(ptx, r"^(\$L__BB\d+_\d+):",
                         r"^\s+(?:@!?%p\d+\s+)?([a-z][\w.]*)\s*(.*)",
                         "bra", r"(\$L__BB\d+_\d+)")


def sass_instructions(sass):
    """As ``ptx_instructions``, for nvdisasm's output (NOPs left out)."""
    return _instructions(sass, r"^\s*(\.L_x_\d+):",
                         r"^\s*/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?(?!NOP\b)([A-Z][\w.]*)\s*([^;]*);",
                         "BRA", r"(\.L_x_\d+)")


def category(opcode):
    for name, pattern in CATEGORIES:
        if re.search(pattern, opcode):
            return name
    return "other"


def mix(opcodes):
    counts = collections.Counter(category(op) for op in opcodes)
    return [(name, counts[name]) for name, _ in CATEGORIES + [("other", "")] if counts[name]]


def innermost_loops(instructions):
    """``[(label, opcodes)]``: the bodies of loops (a branch back to a label) holding
    an FMA and no other loop."""
    where = {label: i for i, (label, _, _) in enumerate(instructions) if label}
    loops = [(where[target], i) for i, (_, _, target) in enumerate(instructions)
             if target in where and where[target] < i]
    bodies = []
    for start, end in loops:
        if any(start <= s and e <= end and (s, e) != (start, end) for s, e in loops):
            continue
        opcodes = [op for _, op, _ in instructions[start:end + 1] if op]
        if any(category(op) == "fma" for op in opcodes):
            bodies.append((instructions[start][0], opcodes))
    return bodies


def report(title, instructions):
    opcodes = [op for _, op, _ in instructions if op]
    print(f"\n== {title}: {len(opcodes)} instructions (static)")
    print("   " + ", ".join(f"{name} {n}" for name, n in mix(opcodes)))
    print("   top opcodes: " + ", ".join(
        f"{op} {n}" for op, n in collections.Counter(opcodes).most_common(12)))
    print(f"   {'loop':<14}{'instr':>7}{'fma':>6}{'ld.sh':>7}{'int':>6}{'set/sel':>9}"
          f"{'cvt':>5}{'instr/fma':>11}")
    total = fma = 0
    for label, body in innermost_loops(instructions):
        kinds = collections.Counter(category(op) for op in body)
        print(f"   {label:<14}{len(body):>7}{kinds['fma']:>6}{kinds['ld.shared']:>7}"
              f"{kinds['integer']:>6}{kinds['setp/compare'] + kinds['selp/select']:>9}"
              f"{kinds['cvt']:>5}{len(body) / kinds['fma']:>11.2f}")
        total, fma = total + len(body), fma + kinds["fma"]
    if fma:
        print(f"   loops: {total} instructions, {fma} FMAs, {total / fma:.2f} instructions "
              f"per FMA")


def main():
    args = parse_args()
    streamed = streamed_module(args.source)
    ptx, cubin, log, plan = compile_kernel(streamed, args.dims, args.dtype)
    registers = int(re.search(r"used (\d+) registers", log).group(1))
    spilled = re.search(r"(\d+) bytes spill stores", log)
    print(f"streamed kernel {args.dims} {args.dtype}: {plan.threads} threads "
          f"({plan.row_groups} x {plan.column_groups}), {plan.columns} columns per thread, "
          f"tile {plan.tile}, {plan.shared_bytes} B shared")
    print(f"ptxas: {registers} registers (x {plan.threads} threads = "
          f"{registers * plan.threads}), {spilled.group(1) if spilled else 0} bytes spilled, "
          f"local memory in PTX: {'.local' in ptx}")
    report("PTX", ptx_instructions(ptx))
    sass = None
    if args.nvdisasm:
        with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
            file.write(cubin)
            file.flush()
            sass = subprocess.run([args.nvdisasm, "-c", file.name], capture_output=True,
                                  text=True, check=True).stdout
        report("SASS", sass_instructions(sass))
    if args.save:
        os.makedirs(args.save, exist_ok=True)
        with open(os.path.join(args.save, "kernel.ptx"), "w") as file:
            file.write(ptx)
        if sass:
            with open(os.path.join(args.save, "kernel.sass"), "w") as file:
                file.write(sass)


if __name__ == "__main__":
    sys.exit(main())
