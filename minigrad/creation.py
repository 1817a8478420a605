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


def _generator(dev):
    """minigrad's generator for ``dev``: numpy's on the CPU; on a GPU the counter-based one,
    whose counter lives on the device (capturable: a replayed graph draws fresh numbers)."""
    if dev.type == "cuda":
        dev.xp  # noqa: B018 - a clear error when CUDA is unavailable
        return cuda_random.generator(dev)
    return backend.rng(dev)


def _random(kind, size, dtype, device, requires_grad):
    dev = _dev(device)
    dtype = np.dtype(dtype or np.float32)
    gen = _generator(dev)
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
    """Integers in [low, high), int64, from minigrad's generator (on a GPU its counter-based
    one, so a captured step draws fresh labels on every replay)."""
    arr = _generator(_dev(device)).integers(low, high, size=tuple(size))
    return Tensor._wrap(arr.astype(np.int64, copy=False), False, None)


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


def from_numpy(array) -> Tensor:
    """A tensor sharing ``array``'s memory (changes to one show in the other), its dtype kept,
    as torch.from_numpy; ``tensor()`` copies instead."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: dtype {array.dtype} is not supported")
    return Tensor._wrap(array, False, None)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, without a copy where it already is one of that dtype and device
    (a Tensor returned as is, a NumPy array shared), as torch.as_tensor."""
    if isinstance(data, Tensor):
        if (dtype is None or np.dtype(dtype) == data.dtype) and \
                (device is None or _dev(device) == data.device):
            return data
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and device is None and data.dtype.kind in "biuf" and \
            (dtype is None or np.dtype(dtype) == data.dtype):
        return Tensor._wrap(data, False, None)
    return Tensor(data, dtype=dtype, device=device)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` whose values are unspecified (here zeros: NumPy's empty memory
    would differ between runs), as torch.empty."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(x, dtype=None, requires_grad=False) -> Tensor:
    return _like(empty, x, dtype, requires_grad)


def randperm(n, dtype=None, device=None) -> Tensor:
    """A random permutation of 0 .. n - 1 (int64) from minigrad's generator."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm: n must be a whole number >= 0, got {n!r}")
    keys = rand(int(n), dtype=np.float64, device=device)
    return Tensor._wrap(keys.xp.argsort(keys.data).astype(dtype or np.int64), False, None)


# x.new_zeros(...) and kin: the factories with x's dtype and device (unless given), as torch's
# Tensor methods; attached here, where the factories live (tensor.py does not import this module).
def _new_factory(make):
    def method(self, *size, dtype=None, requires_grad=False) -> Tensor:
        return make(*size, dtype=dtype or self.dtype, device=self.device,
                    requires_grad=requires_grad)
    method.__name__ = f"new_{make.__name__}"
    method.__doc__ = f"{make.__name__}(*size) with this tensor's dtype and device."
    return method


def _new_full(self, size, fill_value, dtype=None, requires_grad=False) -> Tensor:
    """full(size, fill_value) with this tensor's dtype and device."""
    return full(size, fill_value, dtype=dtype or self.dtype, device=self.device,
                requires_grad=requires_grad)


def _new_tensor(self, data, dtype=None, requires_grad=False) -> Tensor:
    """A new leaf tensor of ``data`` (copied) with this tensor's dtype and device."""
    return tensor(data, dtype=dtype or self.dtype, device=self.device,
                  requires_grad=requires_grad)


Tensor.new_zeros, Tensor.new_ones, Tensor.new_empty = (_new_factory(f) for f in (zeros, ones,
                                                                                  empty))
Tensor.new_full, Tensor.new_tensor = _new_full, _new_tensor

__all__ = ["tensor", "zeros", "ones", "full", "randn", "rand", "randint", "arange", "linspace",
           "zeros_like", "ones_like", "randn_like", "rand_like", "full_like", "eye",
           "from_numpy", "as_tensor", "empty", "empty_like", "randperm"]
