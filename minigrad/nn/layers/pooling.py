"""Pooling: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d and their 1-d forms (no
parameters; the
functional forms in ``minigrad.nn._pool`` do the work). The arguments are kept as given, as torch
keeps them (a stride of None becomes the kernel size), and checked at construction."""
from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.layers._common import _check_tensor, _rank_error
from minigrad.nn.module import Module


def _check_input(layer, x):
    _check_tensor(layer, x)
    if x.ndim not in (3, 4):
        _rank_error(layer, "3-D input (C, H, W) or 4-D input (N, C, H, W)", x)


class MaxPool2d(Module):
    """The maximum over each window: (N, C, H, W) or (C, H, W) -> (..., OH, OW), with
    ``F.max_pool2d``'s geometry; ``return_indices`` also returns the flat positions h * W + w."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        F._pool_args(type(self).__name__, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        _check_input(self, x)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, " \
               f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool2d(Module):
    """The mean over each window: (N, C, H, W) or (C, H, W) -> (..., OH, OW), with
    ``F.avg_pool2d``'s geometry and divisor (``count_include_pad``, ``divisor_override``)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        F._pool_args(type(self).__name__, kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        _check_input(self, x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """The mean over torch's adaptive bins: (N, C, H, W) or (C, H, W) -> (..., OH, OW) for
    ``output_size`` = OH (square) or (OH, OW), None keeping the input's size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        _check_input(self, x)
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """The maximum over AdaptiveAvgPool2d's bins; ``return_indices`` as in MaxPool2d."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        _check_input(self, x)
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class _Pool1d(Module):
    """A 1-d pooling layer: ``fn(x, *args)`` on (N, C, L) or (C, L)."""

    def forward(self, x):
        _check_tensor(self, x)
        if x.ndim not in (2, 3):
            _rank_error(self, "2-D input (C, L) or 3-D input (N, C, L)", x)
        return self._pool(x)


class MaxPool1d(_Pool1d):
    """MaxPool2d along L: (N, C, L) or (C, L) -> (..., OL); indices are positions in L."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode
        F._pool_args("MaxPool1d", (1, F._single(kernel_size, "MaxPool1d: kernel_size", 1)),
                     (1, F._single(self.stride, "MaxPool1d: stride", 1)),
                     (0, F._single(padding, "MaxPool1d: padding", 0)),
                     (1, F._single(dilation, "MaxPool1d: dilation", 1)))

    def _pool(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, " \
               f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool1d(_Pool1d):
    """AvgPool2d along L: (N, C, L) or (C, L) -> (..., OL); its sizes as torch's 1-tuples."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        name = "AvgPool1d"
        self.kernel_size = (F._single(kernel_size, f"{name}: kernel_size", 1),)
        self.stride = self.kernel_size if stride is None else \
            (F._single(stride, f"{name}: stride", 1),)
        self.padding = (F._single(padding, f"{name}: padding", 0),)
        F._pool_args(name, (1,) + self.kernel_size, (1,) + self.stride, (0,) + self.padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def _pool(self, x):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(_Pool1d):
    """AdaptiveAvgPool2d along L: (N, C, L) or (C, L) -> (..., output_size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def _pool(self, x):
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveAvgPool1d):
    """AdaptiveMaxPool2d along L; ``return_indices`` as in MaxPool1d."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def _pool(self, x):
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)
