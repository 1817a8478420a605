"""The resampling of ``minigrad.nn.functional``: upsample_nearest, interpolate,
reflection_pad2d."""
from __future__ import annotations

import math
import numbers

import numpy as np

from minigrad.functional import pad
from minigrad.nn._conv import _pair
from minigrad.tensor import Tensor


# ============================================================================ resampling
def upsample_nearest(input: Tensor, scale_factor=2) -> Tensor:
    """Nearest-neighbour upsampling of input (N, C, H, W) by integer factors: each pixel becomes
    an s x s block. Composed as reshape -> expand -> reshape, so its gradient (the sum over
    each block) comes from BroadcastTo's backward with no code of its own."""
    sh, sw = _pair(scale_factor, "scale_factor", 1)
    n, c, h, w = input.shape
    y = input.reshape(n, c, h, 1, w, 1).expand(n, c, h, sh, w, sw)
    return y.reshape(n, c, h * sh, w * sw)


def _scale_pair(scale_factor, name="scale_factor"):
    """(sh, sw) from a number or a pair of numbers, each finite and > 0 (else a ValueError: a
    factor of 0 would divide by zero further on)."""
    sf = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(sf) != 2 or not all(isinstance(s, numbers.Real) and math.isfinite(s) and s > 0
                               for s in sf):
        raise ValueError(f"{name} must be a positive number or a pair of them, got "
                         f"{scale_factor!r}")
    return sf


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None) -> Tensor:
    """Resize input (N, C, H, W) with mode 'nearest' (PyTorch's index rule
    src = floor(dst * in / out), in float32; the identity where the size is unchanged); integer
    scale factors take the reshape/expand fast path."""
    if mode != "nearest":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (only 'nearest')")
    if input.ndim != 4:
        raise ValueError(f"interpolate expects a 4-D input (N, C, H, W), got shape {input.shape}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    h, w = input.shape[2:]
    if scale_factor is not None:
        sf = _scale_pair(scale_factor)
        if all(float(s).is_integer() and s >= 1 for s in sf):
            return upsample_nearest(input, (int(sf[0]), int(sf[1])))
        out = (int(math.floor(h * sf[0])), int(math.floor(w * sf[1])))
        if min(out) < 1:
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} makes an empty output "
                             f"{out} from an input of shape {input.shape}")
        ratios = (np.float32(1.0 / sf[0]), np.float32(1.0 / sf[1]))
    else:
        out = _pair(size, "size", 1)
        if out[0] % h == 0 and out[1] % w == 0:
            return upsample_nearest(input, (out[0] // h, out[1] // w))
        ratios = (np.float32(h) / np.float32(out[0]), np.float32(w) / np.float32(out[1]))
    ih = _nearest_source(input.xp, h, out[0], ratios[0])
    iw = _nearest_source(input.xp, w, out[1], ratios[1])
    return input[:, :, ih][:, :, :, iw]


def _nearest_source(xp, n_in, n_out, ratio):
    """The source index of each of ``n_out`` outputs, by torch's rule for mode 'nearest'
    (aten/src/ATen/native/UpSample.h, nearest_idx): the identity where the size is unchanged
    (a scale factor of 1.1 on 8 pixels), else min(floor(dst * ratio), n_in - 1) computed in
    float32, as torch computes it (in float64 some indices land one pixel lower)."""
    if n_out == n_in:
        return xp.arange(n_out)
    src = xp.floor(xp.arange(n_out, dtype=np.float32) * np.float32(ratio))
    return xp.minimum(src.astype(np.int64), n_in - 1)


def reflection_pad2d(input: Tensor, padding) -> Tensor:
    """Mirror padding of input (N, C, H, W) by ``padding`` = int or (left, right, top, bottom)."""
    if isinstance(padding, numbers.Integral):
        padding = (int(padding),) * 4
    return pad(input, tuple(padding), mode="reflect")
