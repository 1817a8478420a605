"""What a benchmark figure was measured on: CPU, BLAS, threads and how busy the machine was.

Every figure in benchmarks/ is a ratio of two timings taken on a machine that may be shared, so
each JSON records, beside the numbers:

- the CPU model and the flags that matter for SGEMM (avx2, fma, avx512*);
- the BLAS libraries actually loaded and the kernel they picked (threadpoolctl's
  ``architecture``, e.g. OpenBLAS "Haswell" or "SkylakeX"), with their thread counts;
- the threads asked for, and the 1-minute load average before and after the run; a run whose
  load exceeded the number of cores is flagged ``loaded`` (its timings measure the scheduler as
  much as the code).
"""
from __future__ import annotations

import datetime
import os
import platform

SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512_bf16", "amx_tile")


def load_average():
    """The 1-minute load average (None where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def cpu_info():
    """CPU model name and the SIMD flags relevant to SGEMM, from /proc/cpuinfo."""
    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("", platform.machine()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    flags = [fl for fl in SIMD_FLAGS if fl in present]
                    break
    except OSError:
        pass
    return {"cpu": model, "cpu_flags": flags, "cores": os.cpu_count()}


def blas_info():
    """The thread pools loaded in this process (BLAS and OpenMP), as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl not installed"}]
    keep = ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads",
            "threading_layer", "filepath")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def gpu_info():
    """The GPU both frameworks time on: its name, and the CUDA versions CuPy and torch use."""
    import cupy
    import torch

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return {"gpu": name.decode() if isinstance(name, bytes) else name,
            "gpu_memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
            "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
            "cuda_driver": cupy.cuda.runtime.driverGetVersion(),
            "cupy": cupy.__version__, "torch_cuda": torch.version.cuda}


def describe(threads, load_before=None, load_after=None):
    """One dict for the JSON: date, CPU, threads, BLAS, versions, load before/after."""
    import numpy

    from minigrad.backend import tuning_report

    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"), **cpu_info(),
            "threads": threads, "python": platform.python_version(),
            "numpy": numpy.__version__, "blas": blas_info(),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "tuning": tuning_report(),
            "load_before": load_before, "load_after": load_after}
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    info["loaded"] = is_loaded(info)
    return info


def is_loaded(info):
    """True when the load average before or after the run exceeded the number of cores."""
    cores = info.get("cores") or 1
    loads = [v for v in (info.get("load_before"), info.get("load_after")) if v is not None]
    return any(v > cores for v in loads)


def numpy_blas(blas):
    """``(NumPy's BLAS, the other BLAS pools)`` among :func:`blas_info`'s pools: torch may load
    an OpenBLAS of its own, and a header must name the one NumPy uses (by its path under numpy;
    older records have no paths, and there the first one loaded is NumPy's)."""
    pools = [b for b in blas if "error" not in b and b.get("user_api") == "blas"]
    mine = next((b for b in pools if "numpy" in (b.get("filepath") or "")),
                pools[0] if pools else None)
    return mine, [b for b in pools if b is not mine]


def load_note(info):
    """A one-line description of the machine's load for the markdown tables."""
    lb, la = info.get("load_before"), info.get("load_after")
    fmt = (lambda v: "?" if v is None else f"{v:.2f}")
    text = f"load average {fmt(lb)} before, {fmt(la)} after, {info.get('cores')} cores"
    if info.get("loaded"):
        text = "**LOADED MACHINE** (" + text + "): timings include waiting for a core"
    return text
