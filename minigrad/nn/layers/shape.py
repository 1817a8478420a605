"""Layers that resample, pad or reshape: Upsample, ReflectionPad2d, ZeroPad2d, Flatten, Unflatten."""
from __future__ import annotations

import numbers

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn.layers._common import _check_tensor, _rank_error
from minigrad.nn.module import Module
from minigrad.tensor import _dim


# ============================================================================ resampling
class Upsample(Module):
    """Nearest-neighbour upsampling of (N, C, H, W) by ``scale_factor`` (or to ``size``)."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
        super().__init__()
        if mode != "nearest":
            raise NotImplementedError(f"Upsample: mode {mode!r} is not supported (only "
                                      "'nearest')")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        if size is not None:
            F._pair(size, "Upsample: size", 1)
        else:
            F._scale_pair(scale_factor, "Upsample: scale_factor")
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, numbers.Number) \
            else scale_factor

    def forward(self, x):
        if x.ndim != 4:
            _check_tensor(self, x)
            _rank_error(self, "4-D input (N, C, H, W)", x)
        return F.interpolate(x, self.size, self.scale_factor, self.mode)

    def extra_repr(self):
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor}, mode='{self.mode}'"
        return f"size={self.size}, mode='{self.mode}'"


class ReflectionPad2d(Module):
    """Mirror padding of (N, C, H, W) by ``padding`` = int or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__()
        pads = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * 4
        if len(pads) != 4 or not all(isinstance(p, numbers.Integral) for p in pads):
            error = ValueError if len(pads) != 4 else TypeError
            raise error(f"{type(self).__name__}: padding must be an int or 4 ints (left, right, "
                        f"top, bottom), got {padding!r}")
        self.padding = tuple(int(p) for p in pads)

    def forward(self, x):
        if x.ndim not in (3, 4):
            _check_tensor(self, x)
            _rank_error(self, "4-D input (N, C, H, W) or 3-D input (C, H, W)", x)
        return F.pad(x, self.padding, mode="reflect")

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ReflectionPad2d):
    """Zero padding of (N, C, H, W) by ``padding`` = int or (left, right, top, bottom)."""

    def forward(self, x):
        return F.pad(x, self.padding)


# ================================================================================ shapes
class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) maps (N, C*H*W) to
    (N, C, H, W)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = _dim(repr(self), self.dim, x.ndim)
        size = self.unflattened_size
        known = int(np.prod([s for s in size if s != -1]))
        if (-1 not in size and known != x.shape[d]) or (known and x.shape[d] % known):
            raise ValueError(f"{self!r}: dim {self.dim} of input of shape {tuple(x.shape)} "
                             f"cannot be unflattened into {size}")
        return x.reshape(*x.shape[:d], *size, *x.shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
