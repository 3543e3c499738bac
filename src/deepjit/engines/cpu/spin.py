"""Counters shared by compiled threads that hand each other work many times inside one
long nogil call (the mini-batch workers, several times per update, a few microseconds
apart: a Python or OS primitive per meeting would cost more than the update's work).

Numba has no atomics on the CPU, so three tiny intrinsics emit LLVM's: an atomic add, an
acquire load and a release store on an element of an int64 array.  A waiting thread
spins with the CPU's pause hint and, after ``SPINS_BEFORE_YIELD`` turns, gives its core
away with ``sched_yield`` between looks: on a shared machine the partner may have lost
its core, and a spinning thread must not burn the slice it needs.

``sync`` is an int64 array of counters that only grow within a call: ``sync[CLAIMED]``
(tasks taken), ``sync[DONE]`` (tasks finished); ``sync[ABORT]`` is set by whoever gives
up (a Python exception in a partner), which releases every waiter."""
import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

CLAIMED, DONE, ABORT = 0, 8, 15   # CLAIMED and DONE a cache line apart
SYNC_SIZE = 16
SPINS_BEFORE_YIELD = 200         # a few microseconds of pause hints

# LLVM's spin-wait hint for this CPU (inline assembly would not survive Numba's cache)
_MACHINE = platform.machine().lower()
_X86, _ARM = _MACHINE in ("x86_64", "amd64"), _MACHINE in ("aarch64", "arm64")


def _element_pointer(context, builder, signature, args):
    array_type = signature.args[0]
    view = context.make_array(array_type)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, array_type, view, [args[1]])


@intrinsic
def atomic_add(typingctx, array, index, value):
    """``array[index] += value`` atomically (sequentially consistent); returns the old
    value.  ``array``: int64."""
    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature, args)
        return builder.atomic_rmw("add", pointer, args[2], "seq_cst")
    return types.int64(array, index, types.int64), codegen


@intrinsic
def atomic_load(typingctx, array, index):
    """``array[index]`` read with acquire ordering."""
    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature, args)
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(array, index), codegen


@intrinsic
def atomic_store(typingctx, array, index, value):
    """``array[index] = value`` with release ordering."""
    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature, args)
        builder.store_atomic(args[2], pointer, "release", 8)
        return context.get_dummy_value()
    return types.void(array, index, types.int64), codegen


@intrinsic
def pause(typingctx):
    """The CPU's spin-wait hint (x86 ``pause``, ARM ``yield``; nothing elsewhere)."""
    def codegen(context, builder, signature, args):
        if _X86:
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(function, [])
        elif _ARM:
            int32 = ir.IntType(32)
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [int32]), "llvm.aarch64.hint")
            builder.call(function, [ir.Constant(int32, 1)])      # 1: YIELD
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def sched_yield(typingctx):
    """libc's ``sched_yield()``: this thread's core to another ready thread."""
    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        builder.call(function, [])
        return context.get_dummy_value()
    return types.void(), codegen


@njit(cache=True, nogil=True)
def wait_until(sync, index, target):
    """Wait until ``sync[index] >= target``; False if released by an abort instead."""
    spins = 0
    while atomic_load(sync, index) < target:
        if atomic_load(sync, ABORT) != 0:
            return False
        if spins < SPINS_BEFORE_YIELD:
            pause()
            spins += 1
        else:
            sched_yield()
    return True


def new_sync():
    return np.zeros(SYNC_SIZE, np.int64)
