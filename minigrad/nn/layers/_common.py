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
