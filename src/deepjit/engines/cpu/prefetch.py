"""``prefetch(array, i, j)``: a hint (LLVM's ``llvm.prefetch``) that ``array[i, j]`` will
be read soon, for gathers of scattered rows, where each row otherwise waits for memory
in turn.  It changes no value.  A Numba intrinsic: callable from ``@njit`` code only."""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_READ, _KEEP_IN_ALL_CACHES, _DATA_CACHE = 0, 3, 1


@intrinsic
def prefetch(typingctx, array, i, j):
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, args[1:])
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
            "llvm.prefetch.p0i8")
        builder.call(function, [builder.bitcast(pointer, byte_pointer),
                                ir.Constant(int32, _READ), ir.Constant(int32, _KEEP_IN_ALL_CACHES),
                                ir.Constant(int32, _DATA_CACHE)])
        return context.get_dummy_value()
    return types.void(array, i, j), codegen
