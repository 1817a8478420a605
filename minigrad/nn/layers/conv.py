"""Convolutions: Conv2d and ConvTranspose2d over one base, ``_ConvNd``."""
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
        if groups != 1:
            raise NotImplementedError(f"{name}: groups != 1 is not supported")
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
        self.groups = groups
        self.padding_mode = padding_mode

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
            f"stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
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
        self.weight = _param(self.out_channels, self.in_channels, *self.kernel_size)
        if bias:
            self.bias = _param(self.out_channels)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def forward(self, x):
        self._check_input(x, self.in_channels)
        if isinstance(self.padding, str):
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
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
        self.weight = _param(self.in_channels, self.out_channels, *self.kernel_size)
        if bias:
            self.bias = _param(self.out_channels)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def forward(self, x, output_size=None):
        self._check_input(x, self.in_channels)
        op = self.output_padding
        if output_size is not None:
            op = F._output_padding_for(x.shape[2:], output_size, self.weight, self.stride,
                                       self.padding, self.dilation)
        return F._conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op,
                                   self.dilation)
