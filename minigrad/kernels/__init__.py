"""Array-level kernels and the registry that picks their implementation.

The kernels know nothing about autograd: they take and return raw arrays.  Code
elsewhere asks for one by name and calls it::

    from minigrad import kernels
    cols = kernels.get("im2col_hwc")(x, 4, 4, (2, 2), (1, 1), (1, 1))

Back ends:

* ``reference`` -- readable NumPy (and CuPy-compatible) code; the specification.
* ``numba_cpu`` -- ``@njit`` versions of some kernels, same signatures.  Their
  wrappers fall back to the reference on inputs they do not handle.
* ``cupy_gpu`` -- GPU versions, looked up for CuPy arrays when that module
  exists; otherwise the (xp-generic) reference runs on the GPU.

Which one is used is decided here and only here, by the mode:

* ``"numpy"`` -- always the reference;
* ``"numba"`` -- the Numba version of every kernel that has one;
* ``"auto"`` (default) -- Numba only for the kernels in :data:`AUTO_NUMBA`
  (those that beat NumPy in ``benchmarks/kernels_bench.py``), and only if
  Numba is importable.

The initial mode comes from the environment variable ``MINIGRAD_KERNELS``;
:func:`set_kernels` changes it at run time.  Importing this package imports
neither numba nor cupy and compiles nothing: ``numba_cpu`` is imported on the
first :func:`get` that needs it.
"""

import importlib
import importlib.util
import os
import warnings

import numpy

from minigrad.backend import counters

from . import reference

__all__ = ["get", "compiled", "winograd", "conv_columns", "set_kernels", "get_mode",
           "available_modes",
           "KERNEL_NAMES", "NUMBA_KERNELS", "AUTO_NUMBA", "reference"]

MODES = ("numpy", "numba", "auto")

#: Every kernel name :func:`get` knows.
KERNEL_NAMES = frozenset(reference.__all__) - {"conv_output_size"}

#: Kernels that have a CPU fast path in ``numba_cpu`` (Numba, or for matmul a threaded split).
NUMBA_KERNELS = frozenset({
    "im2col_hwc", "col2im_hwc", "unfold_hwc", "fold_hwc", "scatter_add",
    "winograd_f2x3_input", "winograd_f2x3_output", "winograd_f2x3_weight",
    "winograd_f4x3_input", "winograd_f4x3_output", "winograd_f4x3_weight",
    "winograd_f4x3_grad_output", "winograd_f4x3_grad_weight",
    "winograd_k4s2_weight", "winograd_k4s2_input", "winograd_k4s2_output",
    "winograd_k4s2_grad_output", "winograd_k4s2_grad_weight",
    "winograd_k4s2f4_weight", "winograd_k4s2f4_input", "winograd_k4s2f4_output",
    "winograd_k4s2f4_grad_output", "winograd_k4s2f4_grad_weight",
    "winograd_k4s2tf4_weight", "winograd_k4s2tf4_input", "winograd_k4s2tf4_output", "winograd_k4s2t_weight",
    "winograd_k4s2t_input", "winograd_k4s2t_output", "leaky_relu_fwd", "leaky_relu_bwd",
    "batch_norm_fwd", "batch_norm_grad_input",
    "adam_update", "rmsprop_update", "adam_update_multi", "rmsprop_update_multi",
    "matmul",  # not Numba code: small batched products split over threads (cpu_blas.py)
})

#: Kernels for which ``auto`` picks Numba: those where Numba beat NumPy at the GANs' shapes
#: (``benchmarks/kernels_bench.py``, and the training steps in benchmarks/NOTES.md; 2-core CPU,
#: float32). Today that is all of them.
AUTO_NUMBA = NUMBA_KERNELS

_mode = "auto"
_numba_module = None        # minigrad.kernels.numba_cpu once imported
_numba_failed = None        # the exception if importing it failed
_cupy_module = None         # minigrad.kernels.cupy_gpu, False if it does not exist
_cache = {}                 # (name, mode, is_cupy) -> function


def _numba_installed():
    """Whether numba can be found, without importing it."""
    return importlib.util.find_spec("numba") is not None


def available_modes():
    """The modes usable in this environment, e.g. ``("numpy", "numba", "auto")``."""
    return MODES if _numba_installed() else ("numpy", "auto")


def get_mode():
    """The current mode: ``"numpy"``, ``"numba"`` or ``"auto"``."""
    return _mode


def set_kernels(mode):
    """Switch implementation mode at run time; returns the previous mode.

    Raises:
        ValueError: unknown mode.
        ImportError: ``"numba"`` requested but numba is not installed.
    """
    global _mode
    if mode not in MODES:
        raise ValueError(f"unknown kernel mode {mode!r}; expected one of {MODES}")
    if mode == "numba" and not _numba_installed():
        raise ImportError("MINIGRAD_KERNELS/set_kernels: mode 'numba' needs numba "
                          "(pip install numba)")
    previous, _mode = _mode, mode
    _cache.clear()
    return previous


def _load_numba():
    """Import ``numba_cpu`` on first use; None if numba is unusable."""
    global _numba_module, _numba_failed
    if _numba_module is None and _numba_failed is None:
        try:
            _numba_module = importlib.import_module(".numba_cpu", __name__)
        except Exception as exc:  # ImportError, or a broken numba/numpy combination
            _numba_failed = exc
            warnings.warn(f"minigrad.kernels: numba kernels unavailable ({exc!r}); "
                          "using the NumPy reference", RuntimeWarning, stacklevel=3)
    return _numba_module


def preload():
    """Import the CPU back end the current mode uses now rather than at the first kernel call,
    so that its one-time messages (Numba's first compile) come before a progress bar starts."""
    if _mode != "numpy" and _numba_installed():
        _load_numba()


def _load_cupy_gpu():
    """Import ``cupy_gpu`` on first use; None if that module does not exist."""
    global _cupy_module
    if _cupy_module is None:
        name = __name__ + ".cupy_gpu"
        try:
            _cupy_module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # cupy_gpu exists but something it imports is missing
                raise
            _cupy_module = False
    return _cupy_module or None


def _resolve(name, is_cupy):
    if is_cupy:
        module = _load_cupy_gpu()
        return getattr(module, name, None) or getattr(reference, name)
    if name not in NUMBA_KERNELS or _mode == "numpy":
        return getattr(reference, name)
    if _mode == "auto" and (name not in AUTO_NUMBA or not _numba_installed()):
        return getattr(reference, name)
    module = _load_numba()
    return getattr(module, name) if module is not None else getattr(reference, name)


def get(name, xp=numpy):
    """The implementation of kernel ``name`` to use for arrays of module ``xp``.

    Args:
        name: one of :data:`KERNEL_NAMES` (e.g. ``"im2col_hwc"``, ``"adam_update"``).
        xp: the array module of the data (``numpy`` or ``cupy``).

    Returns:
        A function with the signature of ``reference.<name>``.

    Callers call what it returns once, at once (``get(name, xp)(...)``), so that the launch
    counter (``minigrad.backend.counters``, events ``kernel`` and ``kernel.<name>``) can count
    kernel calls here.
    """
    if counters._active:  # one call into a kernel follows every get (see counters)
        counters.add("kernel")
        counters.add("kernel." + name)
    return _lookup(name, xp)


def compiled(name, xp=numpy):
    """Whether :func:`get` answers kernel ``name`` for arrays of module ``xp`` with a compiled
    implementation (Numba's on the CPU, a CuPy kernel on a GPU) rather than the reference's
    array code, in the current mode. Unlike :func:`get` it counts no kernel call: a route asks
    it to decide whether its transforms are fast enough to pay (ops/conv.py)."""
    return _lookup(name, xp) is not getattr(reference, name)


def _lookup(name, xp):
    """The cached implementation of kernel ``name`` for arrays of module ``xp`` in this mode."""
    is_cupy = xp is not numpy and getattr(xp, "__name__", "") == "cupy"
    key = (name, _mode, is_cupy)
    fn = _cache.get(key)
    if fn is None:
        if name not in KERNEL_NAMES:
            raise KeyError(f"unknown kernel {name!r}; known: {sorted(KERNEL_NAMES)}")
        fn = _cache[key] = _resolve(name, is_cupy)
    return fn


def conv_columns(xp=numpy):
    """The column order the convolutions' im2col/unfold take for arrays of module ``xp``, as the
    suffix of their kernels' names: ``"hwc"`` on the CPU, window offset (i, j) then channel c,
    whose fast kernels copy a pixel's C channels as one run; ``"chw"`` on a GPU, channel then
    (i, j) (torch's ``unfold`` order), where one thread per element reads neighbouring pixels
    and a weight's rows are a view of it, not a copy per call (``minigrad/ops/conv.py``
    permutes the weight to match the order asked here)."""
    is_cupy = xp is not numpy and getattr(xp, "__name__", "") == "cupy"
    return "chw" if is_cupy else "hwc"


def winograd(xp=numpy):
    """Whether the convolutions' Winograd routes (``minigrad/ops/conv.py``: F(2x2, 3x3) and the
    4x4 stride-2 polyphase form) are taken for arrays of module ``xp``. On the CPU, yes (the
    ops' thresholds were measured there, NumPy or Numba). On a GPU, no: there the transforms
    are the reference's array code, ten to thirty CuPy launches each, where the im2col route
    is one kernel and a GEMM (``benchmarks/cupy_launches.py`` counts them: a DCGAN-64 step
    emulates 556 launches with the Winograd routes, 322 without)."""
    return xp is numpy or getattr(xp, "__name__", "") != "cupy"


def _init_mode_from_env():
    global _mode
    mode = os.environ.get("MINIGRAD_KERNELS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        warnings.warn(f"MINIGRAD_KERNELS={mode!r} is not one of {MODES}; using 'auto'",
                      RuntimeWarning, stacklevel=2)
        mode = "auto"
    elif mode == "numba" and not _numba_installed():
        warnings.warn("MINIGRAD_KERNELS=numba but numba is not installed; using 'numpy'",
                      RuntimeWarning, stacklevel=2)
        mode = "numpy"
    _mode = mode


_init_mode_from_env()
