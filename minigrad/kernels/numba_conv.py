"""Numba (CPU) kernels of the convolutions, part of :mod:`minigrad.kernels.numba_cpu` (see its
docstring for the fast-path policy): im2col/col2im (channels-last rows, the main route of
minigrad/ops/conv.py) and unfold/fold (the same columns per image, NCHW: the thin layers' route),
each split over the batch by :mod:`minigrad.kernels.threads` and bitwise equal to the reference.
"""

import numpy as np
from numba import njit

from . import reference as ref
from . import threads
from .numba_cpu import _is_float_ndarray


# =========================================================================== im2col / col2im
# The kernels behind the convolutions (minigrad/ops/conv.py), columns ordered (i, j, c). That
# order makes the innermost loop a contiguous run of C values on both sides (the channels-last
# padded image and the row of cols), so these copy and add whole vectors that LLVM vectorises,
# instead of the stride-KH*KW scatter of a (c, i, j) order (measured in benchmarks/NOTES.md).
# Split over the batch by minigrad.kernels.threads (see the top of this module). Bitwise equal to the reference:
# im2col is a copy; col2im adds in increasing (i, j) order per pixel, as the reference's loop
# does.
#
# col2im has two loop structures. With many channels it is a gather (each pixel's C-vector
# summed once from its taps). With few, the gather's per-tap index arithmetic is no longer
# amortised over a C-vector (3-4x slower than a scatter at C = 1, e.g. CycleGAN's 7x7
# one-channel layer), and a scatter over the padded image with the channel loop outermost (at
# C = 1: KH*KW adds per output position, no divisions) is the faster one; they are about equal at
# C = 4 (64 images, 14x14, k4 s2 p1), where the gather starts.

_COL2IM_GATHER_MIN_C = 4

# _BATCH_SLICES: these kernels run on the images lo..hi-1 (minigrad/kernels/threads.py splits
# the batch) by slicing their arrays to that sub-batch and looping from 0, as before the split:
# an index counted from an argument lo may be negative as far as LLVM knows, so every access
# kept its wrap-around check and the inner loops stopped vectorising (leaky ReLU ran 10x slower
# with range(lo, hi); col2im 40%).


#: Planes of at least this many pixels are transposed to channels-last in 8 x 8 blocks
#: (_pad_channels_last): with channels innermost, a 32x32 plane's reads are 4 KiB apart and
#: the plain loop ran at a third of copy speed, half of im2col's time on (64, 64, 32, 32)
#: images (21 -> 12.7 ms with blocks, 1 thread); on 16x16 planes the plain loop was as fast or
#: 5% faster. (The same blocks for col2im's way back did not pay: its gather dominates.)
_BLOCKED_MIN_PIXELS = 1024


@njit(cache=True, error_model="numpy")
def _pad_channels_last(x, b, ph, pw, xpad):
    """xpad[ph:ph+H, pw:pw+W, :] = x[b].transpose(1, 2, 0); the border is left alone."""
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    if h * w < _BLOCKED_MIN_PIXELS:
        for hh in range(h):
            for ww in range(w):
                for ch in range(c):
                    xpad[hh + ph, ww + pw, ch] = x[b, ch, hh, ww]
        return
    c8, w8 = c - c % 8, w - w % 8  # each image row (C, W) -> (W, C) in 8 x 8 blocks
    for hh in range(h):
        for c0 in range(0, c8, 8):
            for w0 in range(0, w8, 8):
                for k in range(8):
                    for ch in range(8):
                        xpad[hh + ph, w0 + k + pw, c0 + ch] = x[b, c0 + ch, hh, w0 + k]
            for ww in range(w8, w):
                for ch in range(c0, c0 + 8):
                    xpad[hh + ph, ww + pw, ch] = x[b, ch, hh, ww]
        for ww in range(w):
            for ch in range(c8, c):
                xpad[hh + ph, ww + pw, ch] = x[b, ch, hh, ww]


@njit(cache=True, error_model="numpy", nogil=True)
def _im2col_hwc_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols, lo, hi):
    """x (N, C, H, W) -> cols (N*OH*OW, KH*KW*C): the rows of images lo..hi-1, every entry
    written."""
    x, cols = x[lo:hi], cols[lo * oh * ow:hi * oh * ow]  # (see _BATCH_SLICES)
    n, c, h, w = x.shape
    xpad = np.zeros((h + 2 * ph, w + 2 * pw, c), x.dtype)
    for b in range(n):
        _pad_channels_last(x, b, ph, pw, xpad)
        for y in range(oh):
            for xo in range(ow):
                row = (b * oh + y) * ow + xo
                for i in range(kh):
                    hi = y * sh + i * dh
                    for j in range(kw):
                        wi = xo * sw + j * dw
                        off = (i * kw + j) * c
                        for ch in range(c):
                            cols[row, off + ch] = xpad[hi, wi, ch]


@njit(cache=True, error_model="numpy", nogil=True)
def _col2im_hwc_gather_kernel(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x, lo, hi):
    """Sum cols (N*OH*OW, KH*KW*C) into x (N, C, H, W), whose images lo..hi-1 are
    overwritten.

    A gather: each pixel's C-vector is summed once, in a buffer, from the window entries that
    copied it, taken in increasing (i, j) order (the reference's order, so bitwise equal),
    instead of KH*KW scatter passes over a padded image."""
    x, cols = x[lo:hi], cols[lo * oh * ow:hi * oh * ow]  # (see _BATCH_SLICES)
    n, c, h, w = x.shape
    acc = np.empty((h, w, c), x.dtype)
    for b in range(n):
        for hh in range(h):
            for ww in range(w):
                for ch in range(c):
                    acc[hh, ww, ch] = 0
                for i in range(kh):
                    t = hh + ph - i * dh
                    if t < 0 or t % sh != 0 or t // sh >= oh:
                        continue
                    y = t // sh
                    for j in range(kw):
                        u = ww + pw - j * dw
                        if u < 0 or u % sw != 0 or u // sw >= ow:
                            continue
                        row = (b * oh + y) * ow + u // sw
                        off = (i * kw + j) * c
                        for ch in range(c):
                            acc[hh, ww, ch] += cols[row, off + ch]
        for ch in range(c):
            for hh in range(h):
                for ww in range(w):
                    x[b, ch, hh, ww] = acc[hh, ww, ch]


@njit(cache=True, error_model="numpy", nogil=True)
def _col2im_hwc_scatter_kernel(cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x, lo, hi):
    """Sum cols (N*OH*OW, KH*KW*C) into x (N, C, H, W), whose images lo..hi-1 are
    overwritten; for few channels.

    A scatter-add of each row into a zero-padded (C, HP, WP) image, channel by channel. It walks
    the output positions backwards, so that each pixel receives its taps in increasing (i, j)
    order (a larger i belongs to a smaller output row): the reference's order, so bitwise
    equal."""
    x, cols = x[lo:hi], cols[lo * oh * ow:hi * oh * ow]  # (see _BATCH_SLICES)
    n, c, h, w = x.shape
    xpad = np.empty((c, h + 2 * ph, w + 2 * pw), x.dtype)
    for b in range(n):
        xpad[:] = 0
        for y in range(oh - 1, -1, -1):
            for xo in range(ow - 1, -1, -1):
                row = (b * oh + y) * ow + xo
                for ch in range(c):
                    for i in range(kh):
                        hi = y * sh + i * dh
                        for j in range(kw):
                            xpad[ch, hi, xo * sw + j * dw] += cols[row, (i * kw + j) * c + ch]
        x[b] = xpad[:, ph:ph + h, pw:pw + w]


def im2col_hwc(x, kh, kw, stride, padding, dilation):
    """Numba im2col_hwc; see :func:`minigrad.kernels.reference.im2col_hwc`.

    x (N, C, H, W) -> cols (N*OH*OW, KH*KW*C), C-contiguous, x's dtype.
    """
    if not _is_float_ndarray(x) or x.ndim != 4 or x.shape[1] == 1:
        # With a single channel the reference's KH*KW long strided copies are the fastest
        # (3x faster than this kernel for 64 images, 28x28, 7x7).
        return ref.im2col_hwc(x, kh, kw, stride, padding, dilation)
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = ref._conv_geometry(
        h, w, kh, kw, stride, padding, dilation)
    cols = np.empty((n * oh * ow, kh * kw * c), dtype=x.dtype)
    threads.run(_im2col_hwc_kernel, n, np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, dh, dw,
                oh, ow, cols, work=cols.size)
    return cols


def col2im_hwc(cols, x_shape, kh, kw, stride, padding, dilation):
    """Numba col2im_hwc; see :func:`minigrad.kernels.reference.col2im_hwc`.

    cols (N*OH*OW, KH*KW*C) -> x (N, C, H, W), cols' dtype.
    """
    if not _is_float_ndarray(cols) or cols.ndim != 2:
        return ref.col2im_hwc(cols, x_shape, kh, kw, stride, padding, dilation)
    n, c, h, w = x_shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = ref._conv_geometry(
        h, w, kh, kw, stride, padding, dilation)
    if cols.shape != (n * oh * ow, kh * kw * c):
        raise ValueError(f"cols has shape {cols.shape}, expected {(n * oh * ow, kh * kw * c)}")
    x = np.empty((n, c, h, w), dtype=cols.dtype)
    kernel = (_col2im_hwc_gather_kernel if c >= _COL2IM_GATHER_MIN_C
              else _col2im_hwc_scatter_kernel)
    threads.run(kernel, n, np.ascontiguousarray(cols), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x,
                work=cols.size)
    return x


# unfold/fold: the thin layers' per-image columns (N, KH*KW*C, OH*OW), NCHW on both sides.

@njit(cache=True, error_model="numpy", nogil=True)
def _unfold_hwc_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, u, lo, hi):
    """u[n, (i*KW + j)*C + c, y*OW + xo] = x_padded[n, c, y*SH + i*DH, xo*SW + j*DW] for the
    images lo..hi-1: each plane copied into a zero-bordered one, then read with no branch."""
    x, u = x[lo:hi], u[lo:hi]  # (see _BATCH_SLICES)
    n, c, h, w = x.shape
    xpad = np.zeros((h + 2 * ph, w + 2 * pw), x.dtype)
    for b in range(n):
        for ch in range(c):
            for hh in range(h):
                for ww in range(w):
                    xpad[hh + ph, ww + pw] = x[b, ch, hh, ww]
            for i in range(kh):
                for j in range(kw):
                    row = (i * kw + j) * c + ch
                    for y in range(oh):
                        hh, base = y * sh + i * dh, y * ow
                        for xo in range(ow):
                            u[b, row, base + xo] = xpad[hh, xo * sw + j * dw]


@njit(cache=True, error_model="numpy", nogil=True)
def _fold_hwc_kernel(u, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, x, lo, hi):
    """x[n, c] = the sum of u's window entries onto the padded plane, taps in increasing (i, j)
    order onto zeros (the reference's order, so bitwise equal), for the images lo..hi-1."""
    x, u = x[lo:hi], u[lo:hi]  # (see _BATCH_SLICES)
    n, c, h, w = x.shape
    xpad = np.empty((h + 2 * ph, w + 2 * pw), x.dtype)
    for b in range(n):
        for ch in range(c):
            xpad[:] = 0
            for i in range(kh):
                for j in range(kw):
                    row = (i * kw + j) * c + ch
                    for y in range(oh):
                        hh = y * sh + i * dh
                        base = y * ow
                        for xo in range(ow):
                            xpad[hh, xo * sw + j * dw] += u[b, row, base + xo]
            for hh in range(h):
                for ww in range(w):
                    x[b, ch, hh, ww] = xpad[hh + ph, ww + pw]


def unfold_hwc(x, kh, kw, stride, padding, dilation):
    """Numba unfold_hwc; see :func:`minigrad.kernels.reference.unfold_hwc`."""
    if not _is_float_ndarray(x) or x.ndim != 4:
        return ref.unfold_hwc(x, kh, kw, stride, padding, dilation)
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = ref._conv_geometry(
        h, w, kh, kw, stride, padding, dilation)
    u = np.empty((n, kh * kw * c, oh * ow), dtype=x.dtype)
    threads.run(_unfold_hwc_kernel, n, np.ascontiguousarray(x), kh, kw, sh, sw, ph, pw, dh, dw,
                oh, ow, u, work=u.size)
    return u


def fold_hwc(u, x_shape, kh, kw, stride, padding, dilation):
    """Numba fold_hwc; see :func:`minigrad.kernels.reference.fold_hwc`."""
    if not _is_float_ndarray(u) or u.ndim != 3:
        return ref.fold_hwc(u, x_shape, kh, kw, stride, padding, dilation)
    n, c, h, w = x_shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = ref._conv_geometry(
        h, w, kh, kw, stride, padding, dilation)
    if u.shape != (n, kh * kw * c, oh * ow):
        raise ValueError(f"u has shape {u.shape}, expected {(n, kh * kw * c, oh * ow)}")
    x = np.empty((n, c, h, w), dtype=u.dtype)
    threads.run(_fold_hwc_kernel, n, np.ascontiguousarray(u), kh, kw, sh, sw, ph, pw, dh, dw,
                oh, ow, x, work=u.size)
    return x
