"""The CPU's batched matrix products split over the batch (part of
:mod:`minigrad.kernels.numba_cpu`'s fast path; not Numba code, but the same policy: same
signature as :func:`minigrad.kernels.reference.matmul`, the reference on anything else).

NumPy's matmul on a batch calls one GEMM per item, and OpenBLAS shares each item between its
threads: a start and a barrier per item, and items too small to split well. At two threads the
thin convolution layers' per-image products ran no faster than at one (64 products of
(64, 48) @ (48, 256): 1.07 against 1.14 ms). Here the batch is cut in one chunk per kernel
thread (:mod:`minigrad.kernels.threads`), and OpenBLAS is set to one thread for the split's
duration and set back after: 0.53 ms (benchmarks/NOTES.md). Only batches of small items are
split (:data:`SPLIT_MAX_FLOPS`). Every item is the same GEMM call as in one ``a @ b``, so the result is
bitwise the same at any thread count.

``openblas_set_num_threads_local`` (per thread, OpenBLAS 0.3.27+) looked like the cleaner tool,
but in NumPy's OpenBLAS two threads setting and restoring it at once left the global count at 1
(every later GEMM on one core: a DCGAN-32 step's 2-d products ran at 93 instead of 156
GFLOP/s). The global setter costs ~1 us a pair; while a split runs, BLAS calls from other
threads of the program also get one thread.

Without OpenBLAS's setter (another BLAS), at one thread, for large items, or for a batch
that would split unevenly into few items (3 items on 2 threads: OpenBLAS's own threads do
better there), the product is the reference's ``a @ b``.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from minigrad.backend.tuning import loaded_openblas

from . import reference as ref
from . import threads

#: Items of at most this many flops (2 M K N) are split; larger ones are left to OpenBLAS's
#: threads. In a training step the Winograd batches (9 or 16 items of 67-134 MFLOP) ran 5-15%
#: slower split than left whole (SNGAN-32, per-product timing). Alone, in a loop, they once read
#: 1.6-1.9x faster split, but a later run on a quieter host found no consistent difference
#: (benchmarks/NOTES.md).
SPLIT_MAX_FLOPS = 16 << 20

#: OpenBLAS's thread-count setter and getter, under the names its builds export (NumPy's wheels
#: ship scipy-openblas, whose symbols carry a prefix and suffix).
_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads")
_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads")
_blas_threads = None   # (set, get) once looked up, False where there are none
# One split at a time: each reads the count it restores, so two splits from two threads at once
# would have the second restore the first's 1 (the failure of the per-thread setter above).
_split_lock = threading.Lock()


def _find(lib, names):
    return next((getattr(lib, n) for n in names if hasattr(lib, n)), None)


def _blas_thread_count():
    """OpenBLAS's (set_num_threads, get_num_threads), or None."""
    global _blas_threads
    with _split_lock:
        if _blas_threads is None:
            _blas_threads = False
            path = loaded_openblas()
            try:
                lib = ctypes.CDLL(path) if path is not None else None
            except OSError:
                lib = None
            setter, getter = (_find(lib, _SETTERS), _find(lib, _GETTERS)) if lib else (None, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                _blas_threads = (setter, getter)
    return _blas_threads or None


def _matmul_items(a, b, out, lo, hi):
    """out[lo:hi] = a[lo:hi] @ b[lo:hi] (a 2-d operand is shared by every item)."""
    np.matmul(a if a.ndim == 2 else a[lo:hi], b if b.ndim == 2 else b[lo:hi], out=out[lo:hi])


def matmul(a, b):
    """``a @ b``; a batch of products split over the kernel threads (module docstring).
    See :func:`minigrad.kernels.reference.matmul`."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.ndim in (2, 3) and b.ndim in (2, 3) and 3 in (a.ndim, b.ndim)
            and a.dtype == b.dtype and a.dtype in (np.float32, np.float64)
            and a.shape[-1] == b.shape[-2] > 1):
        return ref.matmul(a, b)
    n = a.shape[0] if a.ndim == 3 else b.shape[0]
    if (a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0]) or n < 2:
        return ref.matmul(a, b)
    parts = threads.get_num_threads()
    # small items; an even split, or enough items that the uneven one costs little
    if (parts < 2 or 2 * a.shape[-2] * a.shape[-1] * b.shape[-1] > SPLIT_MAX_FLOPS
            or (n % parts and n < 4 * parts) or _blas_thread_count() is None):
        return ref.matmul(a, b)
    set_blas_threads, get_blas_threads = _blas_threads
    out = np.empty((n, a.shape[-2], b.shape[-1]), dtype=a.dtype)
    with _split_lock:
        previous = get_blas_threads()
        set_blas_threads(1)  # for the split's items; OpenBLAS's count is global (see above)
        try:
            threads.run(_matmul_items, n, a, b, out, work=out.size)
        finally:
            set_blas_threads(previous)
    return out
