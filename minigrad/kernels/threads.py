"""Kernel threads: the outer loop of a Numba kernel split across a few threads.

Every CPU kernel that copies or transforms a whole activation (im2col, col2im, the Winograd
transforms) is written with its outermost loop over ``range(lo, hi)`` (images or
channels), compiled ``nogil=True``, and called through :func:`run`, which
cuts ``[0, n)`` into one contiguous chunk per thread: the calling thread runs the first chunk,
the pool the others. Each output element is computed by the same code whatever the chunking, so
the result is bitwise the same at any thread count (tests/test_kernel_threads.py checks it).

Why Python threads and not ``numba.prange``: a training step interleaves these kernels with
OpenBLAS's GEMMs, and both OpenMP's and OpenBLAS's idle workers spin for a while after their
work. Numba's parallel regions after a GEMM ran 10-30x slower than serial code (the note in
numba_cpu.py). A pool of Python threads blocks on a queue and never spins; what is left is
OpenBLAS's own idle workers, which by default spin for about 0.1 s after every GEMM and take
the core a kernel thread wants: ``minigrad.backend.tune()`` shortens that spin (its
docstring), and without it the kernels run no faster after a GEMM than serially (measured in
benchmarks/NOTES.md).

The thread count is that of the BLAS by default: ``MINIGRAD_NUM_THREADS``, else
``OMP_NUM_THREADS``, else ``OPENBLAS_NUM_THREADS``, else the CPUs this process may run on;
:func:`set_num_threads` changes it at run time. Work below :data:`MIN_WORK` elements runs on
the calling thread alone (handing a chunk to the pool costs tens of microseconds).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["run", "get_num_threads", "set_num_threads", "MIN_WORK"]

#: Elements (of the larger array a kernel reads or writes) below which a call is not split.
MIN_WORK = 1 << 16

_ENV = ("MINIGRAD_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_threads: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid: int | None = None  # a forked child does not inherit the pool's threads
_lock = threading.Lock()


def _from_env() -> int:
    for var in _ENV:
        value = os.environ.get(var, "").strip()
        if value:
            try:
                n = int(value)
            except ValueError:
                raise ValueError(f"{var}={value!r} is not a whole number of threads") from None
            if n < 1:
                raise ValueError(f"{var}={value!r}: the thread count must be at least 1")
            return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """The number of threads the CPU kernels split their work across."""
    global _threads
    if _threads is None:
        _threads = _from_env()
    return _threads


def set_num_threads(n: int) -> int:
    """Split the CPU kernels' work across ``n`` threads (1: serial); returns the previous
    count. The pool grows on the next call that needs it."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a whole number >= 1, got {n!r}")
    previous = get_num_threads()
    global _threads
    _threads = n
    return previous


def _get_pool(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid() or _pool_size < workers:
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="minigrad-kernel")
            _pool_size, _pool_pid = workers, os.getpid()
        return _pool


def run(kernel, n: int, *args, work: int) -> None:
    """``kernel(*args, lo, hi)`` over ``[0, n)``: in one call when ``work`` (elements) is under
    :data:`MIN_WORK` or one thread is asked for, else in one contiguous chunk per thread."""
    parts = min(get_num_threads(), n)
    if parts <= 1 or work < MIN_WORK:
        kernel(*args, 0, n)
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    pool = _get_pool(parts - 1)
    futures = [pool.submit(kernel, *args, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    try:
        kernel(*args, bounds[0], bounds[1])
    finally:
        for f in futures:
            f.result()  # re-raises a chunk's exception
