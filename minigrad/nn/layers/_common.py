"""What every layer module shares: an uninitialised Parameter, and the checks whose messages
name the layer."""
from __future__ import annotations

import numbers

import numpy as np

from minigrad.nn.module import Parameter
from minigrad.tensor import Tensor


def _param(*shape):
    return Parameter(np.empty(shape, dtype=np.float32))


def _size(layer: str, name: str, value) -> int:
    """A constructor's size (features, channels) as an int >= 0. A float is a TypeError, as in
    PyTorch: truncating 2.5 to 2 would hide the mistake. 0 is allowed (an empty layer)."""
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if value < 0:
        raise ValueError(f"{layer}: {name} must be >= 0, got {value}")
    return int(value)


def _rank_error(layer, expected, x):
    raise ValueError(f"{type(layer).__name__} expects a {expected}, got shape {tuple(x.shape)}")


def _check_tensor(layer, x):
    if type(x) is not Tensor and not isinstance(x, Tensor):
        raise TypeError(f"{type(layer).__name__}.forward expects a minigrad Tensor, got "
                        f"{type(x).__name__} (wrap arrays with minigrad.tensor(...))")


def _check_float(layer, x):
    """``_check_tensor``, and a TypeError unless ``x`` is floating point: a layer's float weights
    would promote an integer input to float64 (or compute in uint8) where PyTorch raises. (A
    float64 input to a float32 layer is promoted, minigrad's rule for mixed floats.)"""
    _check_tensor(layer, x)
    if x.dtype.kind != "f":
        w = getattr(layer, "weight", None)
        want = "float32" if w is None else str(w.dtype)
        convert = "x.double()" if want == "float64" else "x.float()"
        raise TypeError(f"{type(layer).__name__} expects a floating-point input ({want}, as its "
                        f"parameters), got dtype {x.dtype}: convert it with {convert} (or create "
                        f"it with minigrad.tensor(..., dtype='{want}'))")
