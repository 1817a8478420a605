"""Process-wide tuning of the BLAS and the allocator: an explicit call, ``minigrad.backend.tune()``.

``import minigrad`` changes nothing outside minigrad. The entry points (``python -m gans``, the
example scripts through ``gans.cli.script_parser``, ``python -m benchmarks``) call :func:`tune`
first thing, and the benchmarks record what it did (:func:`tuning_report`) in every result.
``MINIGRAD_TUNING=0`` turns all of it off; ``MINIGRAD_BLAS_TUNING=0`` and
``MINIGRAD_MALLOC_TUNING=0`` and ``MINIGRAD_BLAS_THREADS_TUNING=0`` one part each.

- **malloc** (Linux/glibc): keep large freed blocks in the heap. NOTE: every op allocates its
  output, and a conv layer allocates MBs (im2col columns, GEMM results, NCHW copies) per call.
  glibc serves blocks above its mmap threshold with a fresh mmap and unmaps them on free, so the
  next call of the same layer takes a page fault per 4 KiB page, with the kernel zeroing each
  one: measured on a 2-core KVM guest, the thin DCGAN-28 convolution x(64, 1, 28, 28) ->
  (64, 64, 14, 14) took 12 ms per call that way and 2 ms with the heap reused
  (benchmarks/NOTES.md). Raising the mmap and trim thresholds keeps freed blocks where the next
  step finds them; the price is that the process keeps its high-water mark of memory (which a
  training loop reaches again at every step anyway). Takes effect whenever it is called.
- **BLAS**: NumPy's OpenBLAS identifies some AVX-512 CPUs (AMD Zen 4 among them) as Haswell and
  runs its AVX2 kernels, at about half the speed its SkylakeX kernels reach there. OpenBLAS reads
  ``OPENBLAS_CORETYPE`` once, when NumPy loads it, and ``import minigrad`` loads NumPy: so in a
  process that imported minigrad it is too late, and :func:`tune` says so. It still sets the
  variable, which the processes this one starts inherit (``python -m benchmarks`` runs each
  framework in its own process); for this process, export ``OPENBLAS_CORETYPE=SkylakeX`` before
  starting Python. An ``OPENBLAS_CORETYPE`` you set yourself wins.
- **BLAS threads**: after each call OpenBLAS's idle worker threads spin for 2^28 cycles (about
  0.1 s) before they sleep, on the cores that minigrad's own kernel threads
  (``minigrad/kernels/threads.py``: im2col, col2im, the Winograd transforms) want right after
  each GEMM; with them spinning, those kernels ran no faster on two threads than on one. This
  sets ``OPENBLAS_THREAD_TIMEOUT`` to 2^THREAD_TIMEOUT cycles (tens of microseconds) and, where
  NumPy's OpenBLAS is already loaded, has it read the variable again and restart its workers
  (``openblas_read_env`` and ``blas_thread_shutdown_``, both exported; the next GEMM starts
  them again with the new timeout). An ``OPENBLAS_THREAD_TIMEOUT`` you set yourself wins.

This module imports only the standard library.
"""
from __future__ import annotations

import os
import sys

_REPORT: dict | None = None
AVX512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"}


def _off(part: str) -> bool:
    return any(os.environ.get(v, "1").strip() == "0" for v in ("MINIGRAD_TUNING", part))


def tune() -> dict:
    """Tune the allocator and ask for OpenBLAS's best kernels; returns what took effect (the
    same dict :func:`tuning_report` gives afterwards). Calling it again does no harm."""
    global _REPORT
    _REPORT = {"malloc": "off" if _off("MINIGRAD_MALLOC_TUNING") else _tune_malloc(),
               "blas": "off" if _off("MINIGRAD_BLAS_TUNING") else _tune_blas(),
               "blas_threads": ("off" if _off("MINIGRAD_BLAS_THREADS_TUNING")
                                else _tune_blas_threads()),
               "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}
    return dict(_REPORT)


def tuning_report() -> dict:
    """What :func:`tune` did in this process (``{"tuned": False}`` when it was not called)."""
    return dict(_REPORT) if _REPORT is not None else {"tuned": False}


def _tune_malloc() -> str:
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "not glibc: unchanged"
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return "no mallopt: unchanged"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
    ok = bool(mallopt(M_MMAP_THRESHOLD, 1 << 30)) and bool(mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1))
    return "large blocks kept in the heap" if ok else "mallopt refused: unchanged"


#: OpenBLAS's idle workers spin for 2^THREAD_TIMEOUT cycles (its range is 4..30; 16 is ~20 us).
THREAD_TIMEOUT = 16


def loaded_openblas() -> str | None:
    """The path of an OpenBLAS library this process has loaded, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return None
    return next((p for p in sorted(paths) if ".so" in p), None)


def _tune_blas_threads() -> str:
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return f"OPENBLAS_THREAD_TIMEOUT={os.environ['OPENBLAS_THREAD_TIMEOUT']} set by the user"
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(THREAD_TIMEOUT)
    path = loaded_openblas()
    if path is None:
        return f"OPENBLAS_THREAD_TIMEOUT={THREAD_TIMEOUT} for the OpenBLAS loaded later"
    import ctypes

    try:
        lib = ctypes.CDLL(path)
        read_env, shutdown = lib.openblas_read_env, lib.blas_thread_shutdown_
    except (OSError, AttributeError):
        return f"OPENBLAS_THREAD_TIMEOUT={THREAD_TIMEOUT}; {path} could not re-read it"
    read_env()
    shutdown()  # the next BLAS call starts the workers again, with the new timeout
    return f"OPENBLAS_THREAD_TIMEOUT={THREAD_TIMEOUT}, workers restarted"


def _tune_blas() -> str:
    if "OPENBLAS_CORETYPE" in os.environ:
        return f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} set by the user"
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return "no /proc/cpuinfo: unchanged"
    if not AVX512 <= flags:
        return "no AVX-512: OpenBLAS's own choice"
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    if "numpy" in sys.modules:
        return ("SkylakeX for the processes this one starts; this one keeps NumPy's choice "
                "(NumPy was loaded first: export OPENBLAS_CORETYPE=SkylakeX to have it here)")
    return "SkylakeX kernels asked for"
