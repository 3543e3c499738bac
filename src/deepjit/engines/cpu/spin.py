"""Counters shared by compiled threads that hand each other work many times inside one
long nogil call (the mini-batch workers, several times per update, a few microseconds
apart: a Python or OS primitive per meeting would cost more than the update's work).

Numba has no atomics on the CPU, so tiny intrinsics emit LLVM's: an atomic add, an
acquire load and a release store on an element of an int64 array.  A waiting thread
spins with the CPU's pause hint and, after ``SPINS_BEFORE_SLEEP`` turns, sleeps on a
futex (Linux; ``sched_yield`` elsewhere): on a shared machine the partner may have lost
its core, and a spinning thread would burn the core that the partner could move to.

``sync`` is an int64 array of counters that only grow within a call: ``sync[CLAIMED]``
(tasks taken), ``sync[DONE]`` (tasks finished); ``sync[SLEEPERS]`` counts the threads
asleep; ``sync[ABORT]`` is set by whoever gives
up (a Python exception in a partner), which releases every waiter."""
import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

CLAIMED, DONE, SLEEPERS, ABORT = 0, 8, 9, 15   # CLAIMED and DONE a cache line apart
SYNC_SIZE = 16
SPINS_BEFORE_SLEEP = 8000        # 75 us of 9.4 ns pause hints on the development machine
FUTEX_TIMEOUT_NS = 1_000_000

# LLVM's spin-wait hint for this CPU (inline assembly would not survive Numba's cache)
_MACHINE = platform.machine().lower()
_X86, _ARM = _MACHINE in ("x86_64", "amd64"), _MACHINE in ("aarch64", "arm64")
# Linux's futex system call number (0: none, sched_yield instead)
_FUTEX = {"x86_64": 202, "aarch64": 98}.get(_MACHINE, 0) if platform.system() == "Linux" else 0
_FUTEX_WAIT_PRIVATE, _FUTEX_WAKE_PRIVATE = 128, 129


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
def futex_wait(typingctx, array, index, expected):
    """Linux: sleep while the low 32 bits of ``array[index]`` equal those of
    ``expected``, until a :func:`futex_wake` on it or ``FUTEX_TIMEOUT_NS`` (so that an
    abort set from Python, which wakes nobody, is seen); elsewhere ``sched_yield``."""
    def codegen(context, builder, signature, args):
        if not _FUTEX:
            return _call_sched_yield(builder, context)
        int32, int64 = ir.IntType(32), ir.IntType(64)
        timespec = cgutils.alloca_once(builder, ir.LiteralStructType([int64, int64]))
        builder.store(ir.Constant(ir.LiteralStructType([int64, int64]),
                                  [0, FUTEX_TIMEOUT_NS]), timespec)
        pointer = _element_pointer(context, builder, signature, args)
        builder.call(_syscall(builder), [
            ir.Constant(int64, _FUTEX), builder.bitcast(pointer, int32.as_pointer()),
            ir.Constant(int32, _FUTEX_WAIT_PRIVATE), builder.trunc(args[2], int32),
            timespec])
        return context.get_dummy_value()
    return types.void(array, index, types.int64), codegen


@intrinsic
def futex_wake(typingctx, array, index):
    """Linux: wake every thread in :func:`futex_wait` on ``array[index]``; elsewhere
    nothing."""
    def codegen(context, builder, signature, args):
        if _FUTEX:
            int32 = ir.IntType(32)
            pointer = _element_pointer(context, builder, signature, args)
            builder.call(_syscall(builder), [
                ir.Constant(ir.IntType(64), _FUTEX), builder.bitcast(pointer, int32.as_pointer()),
                ir.Constant(int32, _FUTEX_WAKE_PRIVATE), ir.Constant(int32, 2 ** 31 - 1)])
        return context.get_dummy_value()
    return types.void(array, index), codegen


def _syscall(builder):
    return cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.IntType(64), [ir.IntType(64)], var_arg=True),
        "syscall")


def _call_sched_yield(builder, context):
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
    builder.call(function, [])
    return context.get_dummy_value()


@njit(cache=True, nogil=True)
def wait_until(sync, index, target):
    """Wait until ``sync[index] >= target``: spin, then sleep (a futex, woken by
    :func:`add_and_wake`; a sleeping thread leaves its core idle, and Linux then moves a
    preempted partner there); False if released by an abort instead."""
    spins = 0
    while True:
        seen = atomic_load(sync, index)
        if seen >= target:
            return True
        if atomic_load(sync, ABORT) != 0:
            return False
        if spins < SPINS_BEFORE_SLEEP:
            pause()
            spins += 1
        else:
            atomic_add(sync, SLEEPERS, 1)
            futex_wait(sync, index, seen)
            atomic_add(sync, SLEEPERS, -1)


@njit(cache=True, nogil=True)
def add_and_wake(sync, index):
    """``sync[index] += 1``, waking the threads asleep in :func:`wait_until`."""
    atomic_add(sync, index, 1)
    if atomic_load(sync, SLEEPERS) > 0:
        futex_wake(sync, index)


def new_sync():
    return np.zeros(SYNC_SIZE, np.int64)
