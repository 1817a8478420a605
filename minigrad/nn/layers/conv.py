"""Convolutions: Conv2d and ConvTranspose2d over one base, ``_ConvNd`` (with ``groups``), and
Conv1d and ConvTranspose1d, which run them on (N, C, 1, L)."""
from __future__ import annotations

import math

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.layers._common import _check_float, _param, _rank_error, _size
from minigrad.nn.module import Module


# ========================================================================== convolutions
class _ConvNd(Module):
    def _init_common(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                     groups, bias, padding_mode):
        name = type(self).__name__
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode {padding_mode!r} is not supported "
                                      "(use 'zeros', or pad with ReflectionPad2d)")
        self.in_channels = _size(name, "in_channels", in_channels)
        self.out_channels = _size(name, "out_channels", out_channels)
        self.kernel_size = F._pair(kernel_size, f"{name}: kernel_size", 1)
        self.stride = F._pair(stride, f"{name}: stride", 1)
        self.padding = padding if isinstance(padding, str) else \
            F._pair(padding, f"{name}: padding", 0)
        self.dilation = F._pair(dilation, f"{name}: dilation", 1)
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"{name}: groups must be a whole number >= 1, got {groups!r}")
        for what, n in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if n % groups:
                raise ValueError(f"{name}: {what} ({n}) must be divisible by groups ({groups})")
        self.groups = groups
        self.padding_mode = padding_mode

    def _make_parameters(self, *weight_shape, bias: bool):
        """The weight of ``weight_shape`` and the (out_channels,) bias, torch's init."""
        self.weight = _param(*weight_shape)
        if bias:
            self.bias = _param(self.out_channels)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
            f"stride={self.stride}"
        zeros, ones = (0,) * len(self.kernel_size), (1,) * len(self.kernel_size)
        if self.padding != zeros:
            s += f", padding={self.padding}"
        if self.dilation != ones:
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", zeros) != zeros:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def _check_input(self, x, channels_axis_size):
        _check_float(self, x)
        if x.ndim != 4:
            _rank_error(self, "4-D input (N, C, H, W)", x)
        if x.shape[1] != channels_axis_size:
            raise ValueError(f"{self!r} expects {channels_axis_size} input channels, got input "
                             f"of shape {tuple(x.shape)} (weight shape "
                             f"{tuple(self.weight.shape)})")


class Conv2d(_ConvNd):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, OH, OW),
    OH = (H + 2 padding - dilation (kernel - 1) - 1) // stride + 1.
    weight (out_channels, in_channels, KH, KW), bias (out_channels,)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__()
        self._init_common(in_channels, out_channels, kernel_size, stride, padding, dilation,
                          groups, bias, padding_mode)
        self._make_parameters(self.out_channels, self.in_channels // self.groups,
                              *self.kernel_size, bias=bias)

    def forward(self, x):
        self._check_input(x, self.in_channels)
        if isinstance(self.padding, str) or self.groups != 1:
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                            self.groups)
        return F._conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (the adjoint of Conv2d): (N, in_channels, H, W) ->
    (N, out_channels, OH, OW), OH = (H - 1) stride - 2 padding + dilation (kernel - 1) +
    output_padding + 1. weight (in_channels, out_channels, KH, KW) as in PyTorch.

    ``forward(x, output_size)`` picks the output_padding that gives ``output_size`` (a stride > 1
    makes several sizes possible)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros"):
        super().__init__()
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d: padding must be an int or a pair of ints")
        self._init_common(in_channels, out_channels, kernel_size, stride, padding, dilation,
                          groups, bias, padding_mode)
        self.output_padding = F._pair(output_padding, "ConvTranspose2d: output_padding", 0)
        for i in range(2):
            if self.output_padding[i] >= self.stride[i]:
                raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must be "
                                 f"smaller than the stride {self.stride}")
        self._make_parameters(self.in_channels, self.out_channels // self.groups,
                              *self.kernel_size, bias=bias)

    def forward(self, x, output_size=None):
        self._check_input(x, self.in_channels)
        op = self.output_padding
        if output_size is not None:
            op = F._output_padding_for(x.shape[2:], output_size, self.weight, self.stride,
                                       self.padding, self.dilation)
        if self.groups != 1:
            return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op,
                                      self.groups, self.dilation)
        return F._conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op,
                                   self.dilation)


# ====================================================================== one-dimensional
class _Conv1dMixin:
    """Conv2d's machinery on (N, C, 1, L): the 1-d sizes kept as torch's 1-tuples, the weight
    (A, B, K)."""

    def _as_1d(self, output_padding=None):
        name = type(self).__name__
        self.kernel_size = (self.kernel_size[1],)
        self.stride = (self.stride[1],)
        if not isinstance(self.padding, str):
            self.padding = (self.padding[1],)
        self.dilation = (self.dilation[1],)
        if output_padding is not None:
            self.output_padding = (F._single(output_padding, f"{name}: output_padding", 0),)
            if self.output_padding[0] >= self.stride[0]:
                raise ValueError(f"{name}: output_padding {self.output_padding} must be smaller "
                                 f"than the stride {self.stride}")

    def _check_input(self, x, channels):
        _check_float(self, x)
        if x.ndim not in (2, 3):
            _rank_error(self, "3-D input (N, C, L) or 2-D (C, L)", x)
        if x.shape[-2] != channels:
            raise ValueError(f"{self!r} expects {channels} input channels, got input of shape "
                             f"{tuple(x.shape)} (weight shape {tuple(self.weight.shape)})")


def _pair_1d(v, name, low):
    """A 1-d argument as the pair Conv2d's checks take: (low, v), the unit height's own value
    (stride and dilation 1, padding 0) first."""
    return v if isinstance(v, str) else (low, F._single(v, name, low))


class Conv1d(_Conv1dMixin, _ConvNd):
    """1-D convolution: (N, in_channels, L) or (in_channels, L) -> (N, out_channels, OL),
    OL = (L + 2 padding - dilation (kernel - 1) - 1) // stride + 1. weight
    (out_channels, in_channels / groups, K), bias (out_channels,)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__()
        name = "Conv1d"
        self._init_common(in_channels, out_channels,
                          (1, F._single(kernel_size, f"{name}: kernel_size", 1)),
                          _pair_1d(stride, f"{name}: stride", 1),
                          _pair_1d(padding, f"{name}: padding", 0),
                          _pair_1d(dilation, f"{name}: dilation", 1), groups, bias, padding_mode)
        self._as_1d()
        self._make_parameters(self.out_channels, self.in_channels // self.groups,
                              *self.kernel_size, bias=bias)

    def forward(self, x):
        self._check_input(x, self.in_channels)
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0],
                        self.groups)


class ConvTranspose1d(_Conv1dMixin, _ConvNd):
    """1-D transposed convolution (the adjoint of Conv1d): (N, in_channels, L) ->
    (N, out_channels, OL), OL = (L - 1) stride - 2 padding + dilation (kernel - 1) +
    output_padding + 1. weight (in_channels, out_channels / groups, K)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros"):
        super().__init__()
        name = "ConvTranspose1d"
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int")
        self._init_common(in_channels, out_channels,
                          (1, F._single(kernel_size, f"{name}: kernel_size", 1)),
                          _pair_1d(stride, f"{name}: stride", 1),
                          _pair_1d(padding, f"{name}: padding", 0),
                          _pair_1d(dilation, f"{name}: dilation", 1), groups, bias, padding_mode)
        self._as_1d(output_padding)
        self._make_parameters(self.in_channels, self.out_channels // self.groups,
                              *self.kernel_size, bias=bias)

    def forward(self, x):
        self._check_input(x, self.in_channels)
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride[0], self.padding[0],
                                  self.output_padding[0], self.groups, self.dilation[0])
