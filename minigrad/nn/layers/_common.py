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


def _param_dtype(layer):
    """The dtype a layer computes in: its weight's (a recurrent layer's first input weight),
    else its running mean's (BatchNorm without affine), else None (a layer with neither takes any
    float)."""
    for name in ("weight", "weight_ih", "weight_ih_l0", "running_mean"):
        t = getattr(layer, name, None)
        if t is not None:
            return t.dtype
    return None


def _check_float(layer, x, name="input", want=None):
    """``_check_tensor``, and a TypeError unless ``x`` is floating point of the layer's own dtype
    (``want``, else ``_param_dtype``), as in PyTorch: an integer input would be promoted to
    float64 (or computed in uint8), and a float64 batch (NumPy's default) into a float32 model
    would silently run the whole model in float64, at twice the time and memory. ``name``: what
    the message calls ``x`` (a layer with several inputs names the one at fault)."""
    _check_tensor(layer, x)
    want = _param_dtype(layer) if want is None else want
    if x.dtype.kind == "f" and (want is None or x.dtype == want):
        return
    want = "float32" if want is None else str(want)
    var = "x" if name == "input" else name
    convert = f"{var}.double()" if want == "float64" else f"{var}.float()"
    what = "a floating-point" if x.dtype.kind != "f" else f"a {want}"
    model = "" if x.dtype.kind != "f" else f", or the model to {x.dtype} with .to({str(x.dtype)!r})"
    raise TypeError(f"{type(layer).__name__} expects {what} {name} ({want}, as its "
                    f"parameters), got dtype {x.dtype}: convert it with {convert}{model} (or "
                    f"create it with minigrad.tensor(..., dtype='{want}'))")
