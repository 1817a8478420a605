"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``full``, ``randn``, ``rand``, ``arange``,
``zeros_like``, ``ones_like``, ``full_like``, ``randn_like``. float32 unless told otherwise."""
from __future__ import annotations

import numbers

import numpy as np

from minigrad import backend
from minigrad.kernels import cuda_random
from minigrad.tensor import Tensor, _number_dtype


def _shape(size):
    """The shape from ``zeros(2, 3)`` or ``zeros((2, 3))``: ints >= 0, checked (2.5 is not
    truncated to 2, as in PyTorch, which raises too)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    if not all(isinstance(n, numbers.Integral) for n in size):
        raise TypeError(f"size must be ints, got {tuple(size)!r}")
    if any(n < 0 for n in size):
        raise ValueError(f"size must not be negative, got {tuple(size)!r}")
    return tuple(int(n) for n in size)


def _dev(device):
    return backend.Device(device) if device is not None else backend.CPU


def tensor(data, dtype=None, device=None, requires_grad=False, name=None) -> Tensor:
    """A new leaf tensor from a number, a (nested) list or an array (copied); ``name`` labels
    it in graph pictures and messages, as ``Tensor(..., name=)`` does."""
    src = data.data if isinstance(data, Tensor) else data
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device, name=name)
    if t.data is src:  # never share memory with the caller's array
        t.data = t.data.copy()
    return t


def _make(fill, size, dtype, device, requires_grad):
    dev = _dev(device)
    arr = fill(dev.xp, _shape(size), np.dtype(dtype or np.float32))
    return Tensor._wrap(arr, False, None).requires_grad_(requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``, of its dtype as in torch without
    ``dtype``: bool for a bool, int64 for an integer, float32 otherwise."""
    return _make(lambda xp, s, d: xp.full(s, fill_value, d), (size,),
                 _number_dtype(fill_value) if dtype is None else dtype, device, requires_grad)


def _random(kind, size, dtype, device, requires_grad):
    dev = _dev(device)
    dtype = np.dtype(dtype or np.float32)
    if dev.type == "cuda":  # counter on the device: capturable, replays draw fresh numbers
        dev.xp  # noqa: B018 - a clear error when CUDA is unavailable
        gen = cuda_random.generator(dev)
    else:
        gen = backend.rng(dev)
    shape = _shape(size)
    arr = gen.standard_normal(shape, dtype=dtype) if kind == "normal" else \
        gen.random(shape, dtype=dtype)
    return Tensor._wrap(arr, False, None).requires_grad_(requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from minigrad's generator (see ``manual_seed``)."""
    return _random("normal", size, dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from minigrad's generator."""
    return _random("uniform", size, dtype, device, requires_grad)


def randint(low, high, size, device=None) -> Tensor:
    dev = _dev(device)
    arr = backend.rng(dev).integers(low, high, size=tuple(size)) if dev.type == "cpu" else \
        backend.rng(dev).randint(low, high, size=tuple(size))
    return Tensor._wrap(arr.astype(np.int64), False, None)


def arange(start, end=None, step=1, dtype=None, device=None) -> Tensor:
    if end is None:
        start, end = 0, start
    xp = _dev(device).xp
    arr = xp.arange(start, end, step)
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) \
            else np.float32
    return Tensor._wrap(arr.astype(dtype), False, None)


def linspace(start, end, steps, dtype=None, device=None) -> Tensor:
    xp = _dev(device).xp
    return Tensor._wrap(xp.linspace(start, end, steps).astype(dtype or np.float32), False, None)


def _like(fn, x, dtype, requires_grad, **kw):
    return fn(*x.shape, dtype=dtype or x.dtype, device=x.device, requires_grad=requires_grad, **kw)


def zeros_like(x, dtype=None, requires_grad=False) -> Tensor:
    return _like(zeros, x, dtype, requires_grad)


def ones_like(x, dtype=None, requires_grad=False) -> Tensor:
    return _like(ones, x, dtype, requires_grad)


def randn_like(x, dtype=None, requires_grad=False) -> Tensor:
    return _like(randn, x, dtype, requires_grad)


def rand_like(x, dtype=None, requires_grad=False) -> Tensor:
    return _like(rand, x, dtype, requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=x.device,
                requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None) -> Tensor:
    return Tensor._wrap(_dev(device).xp.eye(n, m, dtype=dtype or np.float32), False, None)


__all__ = ["tensor", "zeros", "ones", "full", "randn", "rand", "randint", "arange", "linspace",
           "zeros_like", "ones_like", "randn_like", "rand_like", "full_like", "eye"]
