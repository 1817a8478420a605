"""CuPy glue of the matrix products (part of :mod:`minigrad.kernels.cupy_gpu`): CuPy's matmul,
or inside a CUDA graph capture cuBLAS's gemmStridedBatched called directly."""
from __future__ import annotations

import numpy as np

def _g():
    """The glue module, whose helpers (``_cupy``, ``_launch``, ...) these functions use: looked
    up at call time, so a test's stand-in for CuPy there reaches them too."""
    from . import cupy_gpu

    return cupy_gpu


# ------------------------------------------------------------------------ matrix products
# Outside a capture, a product is CuPy's matmul. Inside one (minigrad.backend.graphs), CuPy's
# cuBLAS wrappers refuse to run (each call re-binds the handle to the current stream, which
# CuPy forbids while it is capturing), so the product is one call of cuBLAS's own
# cublas<S|D>gemmStridedBatched through ctypes, on CuPy's handle, which the capture bound to
# its stream before it began.

def gemm_plan(a_shape, a_strides, b_shape, b_strides, itemsize):
    """How one strided-batched column-major GEMM computes ``a @ b`` for row-major arrays.

    a (..., M, K) and b (..., K, N), with their strides in bytes. Row-major C = A B is
    column-major C^T = B^T A^T: cuBLAS's first operand is b, its second a. A matrix that is
    C-contiguous is its transpose in column-major order (op N, leading dimension = its row
    length); one whose last two axes are swapped (F-order, e.g. a ``.T`` view) is op T, leading
    dimension = its column length. A batch axis either steps by a constant stride or is
    broadcast (stride 0).

    Returns a dict: ``transb``/``transa`` (0 = N, 1 = T), ``m, n, k`` of the column-major call
    (n_rows of C^T = N, cols = M), ``ldb, lda, ldc``, ``stride_b, stride_a, stride_c`` (in
    elements), ``batch`` and ``out_shape``; or None when an operand's layout needs a copy first
    (the caller makes it C-contiguous and asks again).
    """
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError("gemm_plan: both operands need at least two dimensions")
    m, k = a_shape[-2:]
    k2, n = b_shape[-2:]
    if k != k2:
        raise ValueError(f"gemm_plan: shapes {tuple(a_shape)} and {tuple(b_shape)} are not aligned")
    batch_shape = tuple(np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2])))
    batch = int(np.prod(batch_shape, dtype=np.int64))

    def matrix(shape, strides, rows, cols):
        """(op, ld) of one matrix, or None if neither layout fits."""
        sr, sc = strides[-2] // itemsize, strides[-1] // itemsize
        if (sc == 1 or cols == 1) and (sr == cols or rows == 1):
            return 0, max(cols, 1)
        if (sr == 1 or rows == 1) and (sc == rows or cols == 1):
            return 1, max(rows, 1)
        return None

    def batch_stride(shape, strides):
        """The element stride between consecutive matrices over the broadcast batch, 0 if the
        operand is the same matrix for all, None if it cannot be one stride."""
        lead = tuple(shape[:-2])
        if batch <= 1 or all(d == 1 for d in lead):
            return 0
        if lead != batch_shape[len(batch_shape) - len(lead):] or len(lead) != len(batch_shape):
            return None  # partly broadcast: not one stride
        st = [s // itemsize for s, d in zip(strides[:-2], lead) if d != 1]
        dims = [d for d in lead if d != 1]
        for i in range(len(dims) - 1):  # the batch axes must nest like a C-contiguous block
            if st[i] != st[i + 1] * dims[i + 1]:
                return None
        return st[-1] if st else 0

    mb = matrix(b_shape, b_strides, k, n)
    ma = matrix(a_shape, a_strides, m, k)
    sb, sa = batch_stride(b_shape, b_strides), batch_stride(a_shape, a_strides)
    if mb is None or ma is None or sb is None or sa is None:
        return None
    return dict(transb=mb[0], transa=ma[0], m=n, n=m, k=k, ldb=mb[1], lda=ma[1], ldc=max(n, 1),
                stride_b=sb, stride_a=sa, stride_c=m * n, batch=batch,
                out_shape=batch_shape + (m, n))


_blas = {}  # what the captured products need, found once: the library's two functions


def _cublas_functions():
    if not _blas:
        import ctypes

        cp = _g()._cupy()
        cp.ones((2, 2), cp.float32) @ cp.ones((2, 2), cp.float32)  # cuBLAS loaded by CuPy
        with open("/proc/self/maps") as maps:
            path = next((line.split()[-1] for line in maps
                         if "libcublas.so" in line and "libcublasLt" not in line), None)
        if path is None:
            raise RuntimeError("cannot find the cuBLAS library CuPy loaded (no libcublas.so in "
                               "/proc/self/maps)")
        lib = ctypes.CDLL(path)
        args = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong,
                ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong, ctypes.c_void_p,
                ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong, ctypes.c_int]
        for name, ctype in (("float32", ctypes.c_float), ("float64", ctypes.c_double)):
            fn = getattr(lib, "cublasSgemmStridedBatched" if name == "float32"
                         else "cublasDgemmStridedBatched")
            fn.argtypes, fn.restype = args, ctypes.c_int
            _blas[name] = (fn, ctype(1.0), ctype(0.0))
    return _blas


def prepare_capture():
    """Before a capture: load cuBLAS and find its functions (a CuPy product does that, and
    cannot run inside the capture), and compile the kernels only a captured step uses."""
    _cublas_functions()
    for name in MULTI_DEVICE_STEPS:
        for dtype in _g()._FLOATS:
            _g()._raw_kernel(name, dtype).compile()


MULTI_DEVICE_STEPS = ("multi_adam_update_device_steps", "multi_adam_update_amsgrad_device_steps")


def _captured_matmul(a, b):
    cp = _g()._cupy()
    if a.dtype != b.dtype or a.dtype not in _g()._FLOATS or a.ndim < 2 or b.ndim < 2:
        raise RuntimeError(f"a matrix product of {a.dtype} {a.shape} and {b.dtype} {b.shape} "
                           "cannot be captured (float32/float64 matrices only)")
    plan = gemm_plan(a.shape, a.strides, b.shape, b.strides, a.itemsize)
    if plan is None:  # an exotic layout: C-contiguous copies (elementwise, capturable)
        a, b = cp.ascontiguousarray(a), cp.ascontiguousarray(b)
        if a.ndim > 2 and b.ndim > 2 and a.shape[:-2] != b.shape[:-2]:
            shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            a = cp.ascontiguousarray(cp.broadcast_to(a, shape + a.shape[-2:]))
            b = cp.ascontiguousarray(cp.broadcast_to(b, shape + b.shape[-2:]))
        plan = gemm_plan(a.shape, a.strides, b.shape, b.strides, a.itemsize)
    out = cp.empty(plan["out_shape"], dtype=a.dtype)
    if out.size == 0:
        return out
    if plan["k"] == 0:
        out.fill(0)
        return out
    import ctypes

    fn, one, zero = _cublas_functions()[a.dtype.name]
    status = fn(cp.cuda.device.get_cublas_handle(), plan["transb"], plan["transa"], plan["m"],
                plan["n"], plan["k"], ctypes.byref(one), b.data.ptr, plan["ldb"],
                plan["stride_b"], a.data.ptr, plan["lda"], plan["stride_a"], ctypes.byref(zero),
                out.data.ptr, plan["ldc"], plan["stride_c"], plan["batch"])
    if status != 0:
        raise RuntimeError(f"cuBLAS gemmStridedBatched failed with status {status}")
    return out


_direct = [False]


def use_direct_cublas(flag: bool) -> bool:
    """Make every eager product call cuBLAS directly, as captured ones do (the same kernels, so
    an eager run and a replayed one compute the same bits); returns the previous setting.
    Batched products (an operand with more than two axes) always do (see ``direct``)."""
    previous, _direct[0] = _direct[0], bool(flag)
    return previous


def direct(a, b) -> bool:
    """Whether the eager product ``a @ b`` calls cuBLAS's gemmStridedBatched directly rather
    than CuPy's matmul: float32/float64 device matrices of one dtype that are batched (an
    operand with more than two axes), or any such pair under ``use_direct_cublas(True)``.

    CuPy's matmul makes each batched operand C-contiguous (a copy kernel for a transposed view)
    and, where a batch axis broadcasts (one weight matrix against a batch of images, the thin
    convolutions' products), builds three arrays of matrix pointers first (three
    ``cupy_mat_ptrs`` launches) for a gemmBatched; ``gemm_plan`` maps both layouts onto one
    strided call with a stride of 0 (no copy, no pointer array). 2-D products stay CuPy's (one
    GEMM already, and its Cython path costs the host less than this one's ctypes call)."""
    cp = _g()._cupy()
    if not (isinstance(a, cp.ndarray) and isinstance(b, cp.ndarray)) or a.dtype != b.dtype \
            or a.dtype not in _g()._FLOATS or a.ndim < 2 or b.ndim < 2:
        return False
    return _direct[0] or a.ndim > 2 or b.ndim > 2


def with_vectors_as_matrices(a, b, product):
    """``product(a, b)`` for NumPy's matmul with 1-D operands, by a ``product`` of matrices: a
    vector ``a`` is a row and ``b`` a column, and the axis each added is dropped from the
    result (so a vector times a vector is 0-d)."""
    out = product(a.reshape(1, -1) if a.ndim == 1 else a, b.reshape(-1, 1) if b.ndim == 1 else b)
    if b.ndim == 1:
        out = out[..., 0]
    if a.ndim == 1:
        out = out[..., 0, :] if b.ndim > 1 else out[..., 0]
    return out


def matmul(a, b):
    """``a @ b`` on the GPU: CuPy's matmul, or cuBLAS called directly inside a CUDA graph
    capture and for the products ``direct`` picks (a 1-D operand as a one-row or one-column
    matrix there); see :func:`minigrad.kernels.reference.matmul`."""
    from minigrad.backend import graphs

    if (a.ndim == 1 or b.ndim == 1) and graphs.capturing() is not None:
        return with_vectors_as_matrices(a, b, matmul)
    if graphs.capturing() is not None:
        return _captured_matmul(a, b)
    if direct(a, b):
        cp = _g()._cupy()
        _g()._backend_cuda.cublas().setStream(cp.cuda.device.get_cublas_handle(),
                                              cp.cuda.get_current_stream().ptr)
        return _captured_matmul(a, b)
    return a @ b
