"""The pooling of ``minigrad.nn.functional``: max_pool2d, avg_pool2d, adaptive_avg_pool2d and
adaptive_max_pool2d (and their 1-d forms), with torch's geometry, tie rule and argument checks.

Each pooling is built of primitives (GetItem, whose backward scatter-adds, pad, sums), so its
gradient at every order comes with no backward of its own:

1. A *window table* (OH, OW, K), built on the host from each axis's window positions (cached per
   geometry), holds for each output pixel the flat positions h * W + w of its K window elements
   in row-major order. A position in the padding (or, in adaptive pooling, past a bin smaller
   than the largest) holds instead the first in-bounds row or column of its window, and is
   masked out (zero) where it would count: in the average.
2. Max pooling finds each window's first maximum on the raw arrays (the windows gathered through
   the table, then a max and a comparison per window element: no graph), and reads that element
   from x with one GetItem of the output's size, so the whole gradient goes to it (torch's tie
   rule) and the backward scatters one value per window. ``return_indices`` are those flat
   positions.
3. Average pooling adds up the KH x KW strided slices of the zero-padded input and divides by
   torch's divisor; adaptive average pooling (bins of varying size) gathers its windows through
   the table (``x.reshape(..., H * W)[..., table]``, or a reshape where they tile the plane) and
   sums the unmasked elements.

Why a padded position repeats an in-bounds element rather than holding -inf: where the maximum
of a window ties with such a copy, the copy maps back (through the table) to the element torch
picks, the first in-bounds maximum, so even a window of -inf values returns torch's index.

Notation: N batch, C channels, H x W input plane, OH x OW output, K window elements.
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from minigrad import backend
from minigrad.functional import pad, reshape, where
from minigrad.ops import shape as S
from minigrad.nn._conv import _pair, _single
from minigrad.tensor import Tensor


# ================================================================ geometry (host, cached)
def _output_size(n, k, s, p, d, ceil_mode):
    """torch's pooling_output_shape: floor (or ceil) of (n + 2p - d(k - 1) - 1) / s, + 1; in
    ceil mode the last window must start inside the input or its left padding."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


@functools.lru_cache(maxsize=256)
def _sliding_axis(n, o, k, s, p, d):
    """Positions (o, k) of each window's elements along one axis, and which lie in [0, n)."""
    pos = (np.arange(o) * s - p)[:, None] + np.arange(k) * d
    return _frozen(pos, (pos >= 0) & (pos < n))


@functools.lru_cache(maxsize=256)
def _adaptive_axis(n, o):
    """torch's adaptive bins along one axis: bin i covers [floor(i n / o), ceil((i + 1) n / o)),
    padded to the largest bin (k of them): positions (o, k), and which lie inside their bin."""
    i = np.arange(o)
    start, end = i * n // o, -(-(i + 1) * n // o)
    k = int((end - start).max(initial=1))
    pos = start[:, None] + np.arange(k)
    return _frozen(pos, pos < end[:, None])


def _frozen(pos, valid):
    pos.flags.writeable = valid.flags.writeable = False  # shared through the cache
    return pos, valid


def _table(rows, cols, w):
    """The window table (OH, OW, KH * KW) of flat positions, and its mask of real elements, from
    the (positions, valid) pairs of the two axes."""
    (r, vr), (c, vc) = rows, cols
    r = np.where(vr, r, r[np.arange(len(r)), vr.argmax(1)][:, None])  # first in-bounds row
    c = np.where(vc, c, c[np.arange(len(c)), vc.argmax(1)][:, None])
    oh, kh = r.shape
    ow, kw = c.shape
    table = (r[:, None, :, None] * w + c[None, :, None, :]).reshape(oh, ow, kh * kw)
    valid = (vr[:, None, :, None] & vc[None, :, None, :]).reshape(oh, ow, kh * kw)
    return table, valid


def _tiles(pos, valid):
    """True where the windows along an axis are consecutive, disjoint and all in bounds."""
    return bool(valid.all()) and bool((pos.ravel() == np.arange(pos.size)).all())


def _windows(x, rows, cols):
    """(windows (..., OH, OW, K), table, valid) of x (..., H, W) for the axes' windows."""
    *lead, h, w = x.shape
    table, valid = _table(rows, cols, w)
    oh, ow, k = table.shape
    if _tiles(*rows) and _tiles(*cols):  # NOTE: the same values and gradient as the gather
        kh, kw = rows[0].shape[1], cols[0].shape[1]
        y = x[..., :oh * kh, :ow * kw].reshape(*lead, oh, kh, ow, kw)
        y = y.permute(*range(len(lead)), -4, -2, -3, -1).reshape(*lead, oh, ow, k)
    else:
        y = x.reshape(*lead, h * w)[..., backend.device_constant(table, x.data)]
    return y, table, valid


# ======================================================================== argument checks
def _check_input(op, x):
    """torch's rule: 3-D (C, H, W) or 4-D (N, C, H, W), every dim but N non-empty."""
    if x.ndim not in (3, 4) or 0 in x.shape[-3:]:
        raise ValueError(f"{op} expects a 3-D (C, H, W) or 4-D (N, C, H, W) input with non-empty "
                         f"C, H and W, got shape {tuple(x.shape)}")


def _check_float(op, x):
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got {x.dtype}: convert it first "
                        "with x.float()")


def _pool_args(op, kernel_size, stride, padding, dilation=1):
    """(kernel, stride, padding, dilation) as pairs, checked as torch checks them: kernel,
    stride and dilation >= 1, padding >= 0 and at most half the kernel (kernel // 2, whatever
    the dilation). A stride of None (or []) is the kernel size."""
    k = _pair(kernel_size, f"{op}: kernel_size", 1)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        _pair(stride, f"{op}: stride", 1)
    p = _pair(padding, f"{op}: padding", 0)
    d = _pair(dilation, f"{op}: dilation", 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
    return k, s, p, d


def _sliding(op, x, k, s, p, d, ceil_mode):
    """The (positions, valid) pairs of both axes of a sliding-window pooling of x."""
    h, w = x.shape[-2:]
    out = tuple(_output_size(x.shape[-2 + i], k[i], s[i], p[i], d[i], ceil_mode)
                for i in range(2))
    if min(out) < 1:
        raise ValueError(f"{op}: output size {out} is too small: a {k} kernel (dilation {d}) "
                         f"over a {h}x{w} input padded by {p} fits no window")
    axes = tuple(_sliding_axis(x.shape[-2 + i], out[i], k[i], s[i], p[i], d[i])
                 for i in range(2))
    if not all(v.any(1).all() for _, v in axes):
        # torch returns -inf there, with indices outside the plane
        raise ValueError(f"{op}: a window of kernel {k}, dilation {d} and padding {p} over a "
                         f"{h}x{w} input holds no input element (it lies in the padding)")
    return axes


def _adaptive(op, x, output_size):
    """The (positions, valid) pairs of both axes of an adaptive pooling of x to output_size: an
    int or a pair of ints >= 0, where None keeps the input's size."""
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(x.shape[-2 + i] if n is None else n for i, n in enumerate(size))
    out = _pair(size, f"{op}: output_size", 0)
    return tuple(_adaptive_axis(x.shape[-2 + i], out[i]) for i in range(2))


# ================================================================================ pooling
def _first_max(xp, windows):
    """For windows (B, K, M): the index k of each window's first maximum, NaN counting as the
    largest (numpy's argmax order), as a max and K comparisons: numpy's argmax over a short
    axis ran 50x slower than its max (100 against 2 ms for 1024 x 9 x 1024)."""
    best = windows.max(axis=1)
    nan = xp.isnan(best) if windows.dtype.kind == "f" else None
    arg = xp.zeros(best.shape, dtype=np.int64)
    for k in range(windows.shape[1] - 1, -1, -1):  # the first hit is the last written
        hit = windows[:, k] == best
        if nan is not None:
            hit |= nan & xp.isnan(windows[:, k])
        arg = xp.where(hit, k, arg)
    return arg


def _max(x, rows, cols, return_indices):
    """The first maximum of each window: found on the raw arrays (the windows gathered without
    a graph, then argmax), then read from x at its flat position, one GetItem of the output's
    size, so the backward scatters one value per window, not K (the windows' graph was most of
    the time: 3x3 stride-1 windows on (32, 32, 32, 32) took 267 ms against torch's 16)."""
    *lead, h, w = x.shape
    table, _ = _table(rows, cols, w)
    oh, ow, k = table.shape
    xp = x.xp
    planes = reshape(x, (-1, h * w))                                   # (B, HW)
    t = backend.device_constant(table.reshape(oh * ow, k).T, x.data)  # (K, OH*OW)
    pos = t[_first_max(xp, xp.take(planes.data, t, axis=1)), xp.arange(oh * ow)]  # (B, OH*OW)
    values = S.GetItem.apply(planes, index=(xp.arange(pos.shape[0])[:, None], pos))
    values = reshape(values, (*lead, oh, ow))
    if not return_indices:
        return values
    return values, Tensor._wrap(pos.reshape(*lead, oh, ow).astype(np.int64, copy=False), False,
                                None)


def _average(x, rows, cols, divisor):
    """The sum over each window's real elements, divided by ``divisor`` (OH, OW)."""
    y, _, valid = _windows(x, rows, cols)
    if not valid.all():  # NOTE: where, not a product with the mask: inf * 0 would be NaN
        y = where(_constant(valid, x), y, 0.0)
    return y.sum(-1) / _constant(divisor.astype(x.dtype), x)


def _constant(host, like):
    """A NumPy array computed from shapes alone as a Tensor on ``like``'s device (no graph; on a
    GPU copied there once: see backend.device_constant)."""
    return Tensor._wrap(backend.device_constant(host, like.data), False, None)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """The maximum over each (dilated) KH x KW window of input (N, C, H, W) or (C, H, W), the
    windows ``stride`` apart over the input padded by ``padding`` (never a maximum: it is not
    an element): (N, C, OH, OW), OH = (H + 2 PH - DH (KH - 1) - 1) / SH + 1, rounded down (up
    with ``ceil_mode``, the last window starting inside the input or its left padding).

    The gradient goes to one element per window, the first maximum in row-major order (torch's
    tie rule). ``return_indices`` also returns each maximum's position h * W + w in its plane
    (int64), as torch does."""
    _check_input("max_pool2d", input)
    k, s, p, d = _pool_args("max_pool2d", kernel_size, stride, padding, dilation)
    rows, cols = _sliding("max_pool2d", input, k, s, p, d, ceil_mode)
    return _max(input, rows, cols, return_indices)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """The mean over each KH x KW window of input (N, C, H, W) or (C, H, W), with
    max_pool2d's geometry (no dilation). The divisor is torch's: ``divisor_override`` if given,
    else the window's size counting the zero padding (``count_include_pad``) but not the part
    of a ceil-mode window past it, or else its in-bounds elements alone."""
    _check_input("avg_pool2d", input)
    _check_float("avg_pool2d", input)
    k, s, p, _ = _pool_args("avg_pool2d", kernel_size, stride, padding)
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or isinstance(divisor_override,
                                                                            bool):
            raise TypeError(f"avg_pool2d: divisor_override must be an int, got "
                            f"{divisor_override!r}")
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must not be zero")
    rows, cols = _sliding("avg_pool2d", input, k, s, p, (1, 1), ceil_mode)
    if divisor_override is not None:
        divisor = np.full((len(rows[0]), len(cols[0])), float(divisor_override))
    else:
        counts = []
        for i, (pos, valid) in enumerate((rows, cols)):
            if count_include_pad:  # up to the end of the padding, not past it
                start = pos[:, 0]
                counts.append(np.minimum(start + k[i], input.shape[-2 + i] + p[i]) - start)
            else:
                counts.append(valid.sum(1))
        divisor = np.outer(counts[0], counts[1]).astype(np.float64)
    return _sliding_sum(input, k, s, p, (len(rows[0]), len(cols[0]))) / _constant(
        divisor.astype(input.dtype), input)


def _sliding_sum(x, k, s, p, out):
    """The sum over each KH x KW window, ``s`` apart over x zero-padded by ``p`` (and on the
    bottom and right as far as a ceil-mode window reaches): KH * KW strided slices of the padded
    x added up. Their gradients are views written into zeros, where gathering the windows would
    copy K values per output and scatter them back."""
    h, w = x.shape[-2:]
    need = [(out[i] - 1) * s[i] + k[i] for i in range(2)]  # padded extent the windows reach
    extra = [max(0, need[0] - h - p[0]), max(0, need[1] - w - p[1])]
    xp_ = pad(x, (p[1], extra[1], p[0], extra[0])) if any(p) or any(extra) else x
    total = None
    for i in range(k[0]):
        for j in range(k[1]):
            part = xp_[..., i:i + (out[0] - 1) * s[0] + 1:s[0], j:j + (out[1] - 1) * s[1] + 1:s[1]]
            total = part if total is None else total + part
    return total


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """The mean over torch's adaptive bins of input (N, C, H, W) or (C, H, W): output row i
    averages rows floor(i H / OH) to ceil((i + 1) H / OH) - 1 (likewise for the columns).
    ``output_size`` is an int or a pair (None keeps the input's size); 0 gives an empty output."""
    _check_input("adaptive_avg_pool2d", input)
    _check_float("adaptive_avg_pool2d", input)
    rows, cols = _adaptive("adaptive_avg_pool2d", input, output_size)
    divisor = np.outer(rows[1].sum(1), cols[1].sum(1)).astype(np.float64)
    return _average(input, rows, cols, divisor)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """The maximum over adaptive_avg_pool2d's bins, with max_pool2d's tie rule and indices."""
    _check_input("adaptive_max_pool2d", input)
    rows, cols = _adaptive("adaptive_max_pool2d", input, output_size)
    return _max(input, rows, cols, return_indices)


# ====================================================================== one-dimensional
# The 2-d poolings on (..., C, 1, L): windows 1 x K, so the indices h * W + w are positions in L.
def _planes(op, input):
    if not isinstance(input, Tensor) or input.ndim not in (2, 3) or 0 in input.shape[-2:]:
        raise ValueError(f"{op} expects a 2-D (C, L) or 3-D (N, C, L) input with non-empty C and "
                         f"L, got shape {tuple(getattr(input, 'shape', ()))}")
    return input.unsqueeze(-2)


def _lines(y):
    return tuple(t.squeeze(-2) for t in y) if isinstance(y, tuple) else y.squeeze(-2)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """max_pool2d along L of input (N, C, L) or (C, L); the indices are positions in L."""
    k = _single(kernel_size, "max_pool1d: kernel_size", 1)
    s = k if stride is None or stride == [] else _single(stride, "max_pool1d: stride", 1)
    return _lines(max_pool2d(_planes("max_pool1d", input), (1, k), (1, s),
                             (0, _single(padding, "max_pool1d: padding", 0)),
                             (1, _single(dilation, "max_pool1d: dilation", 1)), ceil_mode,
                             return_indices))


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """avg_pool2d along L of input (N, C, L) or (C, L)."""
    k = _single(kernel_size, "avg_pool1d: kernel_size", 1)
    s = k if stride is None or stride == [] else _single(stride, "avg_pool1d: stride", 1)
    return _lines(avg_pool2d(_planes("avg_pool1d", input), (1, k), (1, s),
                             (0, _single(padding, "avg_pool1d: padding", 0)), ceil_mode,
                             count_include_pad))


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """adaptive_avg_pool2d along L of input (N, C, L) or (C, L)."""
    size = _single(output_size, "adaptive_avg_pool1d: output_size", 0)
    return _lines(adaptive_avg_pool2d(_planes("adaptive_avg_pool1d", input), (1, size)))


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool2d along L of input (N, C, L) or (C, L)."""
    size = _single(output_size, "adaptive_max_pool1d: output_size", 0)
    return _lines(adaptive_max_pool2d(_planes("adaptive_max_pool1d", input), (1, size),
                                      return_indices))
