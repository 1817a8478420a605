"""Parameter initialisation, in place, with PyTorch's formulas (``torch.nn.init``).

Every function fills ``tensor.data`` in place (no graph is recorded) from minigrad's random
generator (``minigrad.manual_seed`` makes it reproducible) and returns the tensor. As with any
in-place change (``mark_modified``), a backward through a graph recorded before that saved the
tensor then raises, as in PyTorch.

Fans of a weight of shape (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out *
prod(kernel). For a ConvTranspose2d weight (in, out, KH, KW) this is PyTorch's convention too
(dimension 1 counts as the "input"), so default initialisations match PyTorch's exactly in
distribution.

This module knows tensors, not layers (``nn.layers`` imports it to initialise its parameters);
model-wide schemes such as DCGAN's N(0, 0.02) live with the models (``gans.dcgan.dcgan_init``).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from minigrad import backend
from minigrad.autograd.function import mark_modified
from minigrad.tensor import Tensor


def _gen(tensor):
    return backend.rng(tensor.device)


def _fill(tensor: Tensor, values) -> Tensor:
    tensor.data[...] = values  # casts to the tensor's dtype (samples are drawn in float64)
    mark_modified((tensor,))  # a graph that saved the old values cannot backward
    return tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (torch.nn.init.calculate_gain):
    linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)) (slope
    0.01 by default), selu 3/4."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _is_empty(tensor: Tensor) -> bool:
    """True (with PyTorch's warning) for a tensor with a zero-size dimension, which a fan-based
    init leaves as it is: its fan may be 0 (``Linear(0, 2)``), and there is nothing to fill."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _calculate_fan_in_and_fan_out(tensor: Tensor):
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tensor.shape})")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U(a, b); ``a <= b`` (PyTorch raises otherwise too)."""
    if not a <= b:  # nan too
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, _gen(tensor).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std^2); ``std >= 0`` (PyTorch raises otherwise too)."""
    if not std >= 0:  # nan too
        raise ValueError(f"normal_: expected std >= 0, got std={std}")
    return _fill(tensor, _gen(tensor).normal(mean, std, size=tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan).

    PyTorch's Linear and Conv layers use ``a=sqrt(5)``, which gives bound = 1 / sqrt(fan_in).
    A zero-element tensor is left as it is, with a warning (PyTorch's rule).
    """
    if _is_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan). A zero-element tensor is left as it is,
    with a warning (PyTorch's rule)."""
    if _is_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]
