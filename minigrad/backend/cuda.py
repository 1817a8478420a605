"""The one file that imports CuPy. Everything else asks this module.

Importing minigrad never fails because CuPy (or a GPU) is missing: ``cupy`` is ``None`` then and
``is_available()`` says False.
"""
from __future__ import annotations

try:  # pragma: no cover - depends on the machine
    import cupy  # type: ignore

    try:
        _n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # CuPy installed but no driver/device
        _n_devices = 0
except Exception:  # ImportError, or a CUDA library failing to load
    cupy = None
    _n_devices = 0


def is_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    return cupy is not None and _n_devices > 0


def unavailable_reason() -> str:
    if cupy is None:
        return "CuPy is not installed (pip install -e '.[cuda]')"
    if _n_devices == 0:
        return "CuPy is installed but no CUDA device is visible"
    return ""


def current_device() -> int:
    """The index of CuPy's current device (0 without a GPU)."""
    return cupy.cuda.runtime.getDevice() if is_available() else 0


def nccl():
    """CuPy's NCCL bindings (``cupy.cuda.nccl``), for ``minigrad.distributed``'s nccl backend;
    None without CuPy."""
    if cupy is None:
        return None
    from cupy.cuda import nccl as module  # pragma: no cover - needs CuPy

    return module


def cublas():
    """CuPy's cuBLAS bindings (``cupy.cuda.cublas``), for binding its handle to a CUDA graph's
    capture stream (:mod:`minigrad.backend.graphs`); None without CuPy."""
    if cupy is None:
        return None
    from cupy.cuda import cublas as module  # pragma: no cover - needs CuPy

    return module
