"""Readable NumPy reference implementations of minigrad's array kernels.

These functions are the *specification* of every kernel: faster back ends
(``numba_cpu``, ``cupy_gpu``) must agree with them, and the tests in
``tests/test_kernels.py`` check exactly that.  They know nothing about autograd:
inputs and outputs are raw arrays.

Every function works on NumPy arrays and, unchanged, on CuPy arrays: the array
module is taken from the input with :func:`_xp`.

Dtype policy: float32 in, float32 out.  Python scalars (``slope``, ``lr``, ...)
are cast to the array's dtype *before* they meet the array, so a stray
``np.float64`` hyper-parameter can never promote a float32 computation to
float64.
"""

import sys

import numpy as np

__all__ = [
    "im2col_hwc", "col2im_hwc", "unfold_hwc", "fold_hwc",
    "winograd_f2x3_weight", "winograd_f2x3_input", "winograd_f2x3_output",
    "winograd_k4s2_weight", "winograd_k4s2_input", "winograd_k4s2_output",
    "winograd_k4s2_grad_output", "winograd_k4s2_grad_weight",
    "conv_output_size", "scatter_add",
    "leaky_relu_fwd", "leaky_relu_bwd",
    "batch_norm_fwd", "batch_norm_grad_input", "running_average", "matmul",
    # reference_optim.py
    "adam_update", "rmsprop_update", "sgd_update",
    "adam_update_multi", "rmsprop_update_multi", "adam_update_multi_device_steps",
    # reference_random.py
    "philox_fill", "philox_advance",
]


# --------------------------------------------------------------------------- helpers

def _xp(a):
    """Return the array module (``numpy`` or ``cupy``) that owns array ``a``.

    CuPy is only consulted if something else already imported it, so calling
    this never triggers a (slow, GPU-initialising) ``import cupy``.
    """
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(a, cupy.ndarray):
        return cupy
    return np


def _pair(v):
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``."""
    if isinstance(v, (tuple, list)):
        a, b = v
        return int(a), int(b)
    return int(v), int(v)


def _scalar(value, like):
    """Python/NumPy scalar ``value`` cast to the dtype of array ``like``."""
    return like.dtype.type(value)


def conv_output_size(size, k, stride, pad, dilation):
    """Output length of a convolution along one axis.

    ``(size + 2*pad - dilation*(k-1) - 1) // stride + 1``
    """
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def _conv_geometry(h, w, kh, kw, stride, padding, dilation):
    """Normalise the conv arguments and compute (OH, OW); raise on empty output."""
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    oh = conv_output_size(h, kh, sh, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"empty convolution output ({oh}, {ow}) for input ({h}, {w}), kernel ({kh}, {kw}), "
            f"stride ({sh}, {sw}), padding ({ph}, {pw}), dilation ({dh}, {dw})")
    return (sh, sw), (ph, pw), (dh, dw), oh, ow


# --------------------------------------------------------------------------- im2col / col2im

def im2col_hwc(x, kh, kw, stride, padding, dilation):
    """Unfold the sliding windows of a batch of images into the rows of a matrix.

    Args:
        x: array of shape (N, C, H, W).
        kh, kw: kernel height and width.
        stride, padding, dilation: (h, w) int pairs (an int means both).

    Returns:
        C-contiguous array ``cols`` of shape (N*OH*OW, KH*KW*C) and x's dtype, with rows
        ordered (n, oh, ow) and columns ordered (i, j, c)::

            cols[(n*OH + oh)*OW + ow, (i*KW + j)*C + c]
                = x_padded[n, c, oh*sh + i*dh, ow*sw + j*dw]

        where ``x_padded`` is x with ``ph``/``pw`` zeros on each side and
        ``OH = (H + 2*ph - dh*(KH-1) - 1)//sh + 1`` (likewise OW).

    A convolution is then ``cols @ weight.transpose(0, 2, 3, 1).reshape(C_out, -1).T``. The
    columns are torch's ``unfold`` columns, ordered (c, i, j), permuted: in the (i, j, c) order
    the C channels of a pixel are, for each window offset (i, j), one contiguous run in both the
    channels-last padded image and the row, so a fast kernel copies (and :func:`col2im_hwc`
    adds) whole C-vectors instead of scattering single values KH*KW entries apart.
    """
    xp = _xp(x)
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = _conv_geometry(h, w, kh, kw, stride, padding, dilation)
    # Work channels-last, (N, H, W, C), so that each copy below writes whole (c,) vectors.
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).transpose(0, 2, 3, 1)
    # One strided slice per kernel offset (i, j): output position (oh, ow) sees
    # x_pad[oh*sh + i*dh, ow*sw + j*dw], i.e. rows i*dh, i*dh + sh, ...
    col = xp.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for i in range(kh):
        i0 = i * dh
        for j in range(kw):
            j0 = j * dw
            col[:, :, :, i, j, :] = x_pad[:, i0:i0 + sh * oh:sh, j0:j0 + sw * ow:sw, :]
    return col.reshape(n * oh * ow, kh * kw * c)  # a view: col is C-contiguous


def col2im_hwc(cols, x_shape, kh, kw, stride, padding, dilation):
    """Adjoint of :func:`im2col_hwc`: scatter-add window columns back onto images.

    Args:
        cols: array of shape (N*OH*OW, KH*KW*C), laid out as im2col_hwc's output.
        x_shape: (N, C, H, W), the shape of the im2col_hwc input.
        kh, kw, stride, padding, dilation: as for :func:`im2col_hwc`.

    Returns:
        C-contiguous array ``x`` of shape (N, C, H, W) and cols' dtype. Entries covered by
        several (overlapping) windows receive the sum of their contributions; contributions
        landing in the padding are dropped. This is the exact transpose of im2col_hwc:
        ``<im2col_hwc(x), C> == <x, col2im_hwc(C)>``. Each pixel receives its window
        contributions in increasing (i, j) order (the loop below), which fast kernels follow
        so that their sums are bitwise equal to this one.
    """
    xp = _xp(cols)
    n, c, h, w = x_shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = _conv_geometry(h, w, kh, kw, stride, padding, dilation)
    if cols.shape != (n * oh * ow, kh * kw * c):
        raise ValueError(f"cols has shape {cols.shape}, expected {(n * oh * ow, kh * kw * c)}")
    col = cols.reshape(n, oh, ow, kh, kw, c)
    x_pad = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)  # channels-last
    for i in range(kh):
        i0 = i * dh
        for j in range(kw):
            j0 = j * dw
            # Within one (i, j) the strided slice touches each pixel at most once, so a
            # plain += accumulates correctly.
            x_pad[:, i0:i0 + sh * oh:sh, j0:j0 + sw * ow:sw, :] += col[:, :, :, i, j, :]
    return xp.ascontiguousarray(x_pad[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2))


def unfold_hwc(x, kh, kw, stride, padding, dilation):
    """:func:`im2col_hwc` with each image's matrix transposed: torch's ``unfold`` layout.

    Args and geometry as for :func:`im2col_hwc`.

    Returns:
        C-contiguous array ``u`` of shape (N, KH*KW*C, OH*OW), x's dtype::

            u[n, (i*KW + j)*C + c, oh*OW + ow] = x_padded[n, c, oh*sh + i*dh, ow*sw + j*dw]

    i.e. ``u[n] == im2col_hwc(x)[n*OH*OW:(n+1)*OH*OW].T``. With it a convolution is a batch of
    products ``W_rows @ u[n]`` whose result is already NCHW (no transposing copy of the
    output). That pays where KH*KW*C is small, e.g. a one-channel input, whose output would
    otherwise be C_out / (KH*KW*C) times larger than the columns to transpose.
    """
    xp = _xp(x)
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = _conv_geometry(h, w, kh, kw, stride, padding, dilation)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    col = xp.empty((n, kh, kw, c, oh, ow), dtype=x.dtype)
    for i in range(kh):
        i0 = i * dh
        for j in range(kw):
            j0 = j * dw
            col[:, i, j] = x_pad[:, :, i0:i0 + sh * oh:sh, j0:j0 + sw * ow:sw]
    return col.reshape(n, kh * kw * c, oh * ow)


def fold_hwc(u, x_shape, kh, kw, stride, padding, dilation):
    """Adjoint of :func:`unfold_hwc`: (N, KH*KW*C, OH*OW) -> (N, C, H, W), summing overlaps.

    Returns a C-contiguous array of u's dtype; each pixel receives its window contributions in
    increasing (i, j) order, like :func:`col2im_hwc` (which it equals on the transposed input).
    """
    xp = _xp(u)
    n, c, h, w = x_shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = _conv_geometry(h, w, kh, kw, stride, padding, dilation)
    if u.shape != (n, kh * kw * c, oh * ow):
        raise ValueError(f"u has shape {u.shape}, expected {(n, kh * kw * c, oh * ow)}")
    col = u.reshape(n, kh, kw, c, oh, ow)
    x_pad = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=u.dtype)
    for i in range(kh):
        i0 = i * dh
        for j in range(kw):
            j0 = j * dw
            x_pad[:, :, i0:i0 + sh * oh:sh, j0:j0 + sw * ow:sw] += col[:, i, j]
    return xp.ascontiguousarray(x_pad[:, :, ph:ph + h, pw:pw + w])


# ------------------------------------------------------------ Winograd F(2x2, 3x3)
# A 3x3 stride-1 convolution computed on 2x2 output tiles (Lavin and Gray, "Fast Algorithms for
# Convolutional Neural Networks", 2016): each tile's 4x4 input patch d and the 3x3 kernel g are
# transformed, V = B^T d B and U = G g G^T, multiplied elementwise per channel pair and summed
# over input channels, which for the 16 positions of a tile is 16 matrix products
# M[xi] = U[xi] @ V[xi] (OC x C times C x tiles), and the product is transformed back,
# Y = A^T M A. That is 16 multiplies per 4 outputs where the direct product has 36: 2.25x fewer
# GEMM flops, for transforms that are only additions (B, A) and a tiny weight one (G). With
#
#     B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
#     G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
#     A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
#
# the rounding error stays that of a few additions (these are the F(2, 3) points 0, 1, -1, inf).

def _winograd_tiles(oh, ow):
    """The number of 2x2 output tiles down and across an (OH, OW) output."""
    return -(-oh // 2), -(-ow // 2)


def winograd_f2x3_weight(w):
    """U = G g G^T for each (output, input) channel pair of a (OC, C, 3, 3) weight.

    Returns a C-contiguous (16, OC, C) array of w's dtype: ``u[4*a + b] = (G w G^T)[:, :, a, b]``.
    Written out on slices (no constant array: nothing is copied to a GPU, which a CUDA graph
    capture would refuse), rows first: G g = (g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2).
    """
    xp = _xp(w)
    oc, c = w.shape[:2]

    def g_rows(a, out):
        """out[k] = (G a)[k] along a's axis of length 3 taken first (a: (3, ...))."""
        out[0] = a[0]
        xp.add(a[0], a[1], out=out[1])
        out[1] += a[2]
        out[1] *= 0.5
        xp.subtract(a[0], a[1], out=out[2])
        out[2] += a[2]
        out[2] *= 0.5
        out[3] = a[2]

    t = xp.empty((4, 3, oc, c), dtype=w.dtype)        # G g: (a, j, OC, C)
    g_rows(w.transpose(2, 3, 0, 1), t)
    u = xp.empty((4, 4, oc, c), dtype=w.dtype)        # (G g) G^T: (a, b, OC, C)
    g_rows(t.transpose(1, 0, 2, 3), u.transpose(1, 0, 2, 3))
    return u.reshape(16, oc, c)


def winograd_f2x3_input(x, padding):
    """V = B^T d B for every 4x4 input patch d of every 2x2 output tile of a 3x3 stride-1
    convolution of x (N, C, H, W) padded by ``padding`` (ph, pw) on each side.

    Returns a C-contiguous (16, C, N*TH*TW) array of x's dtype, columns ordered (n, th, tw),
    where (TH, TW) = ceil(OH/2), ceil(OW/2) tiles and OH = H + 2 ph - 2 (likewise OW); the
    last tiles overhang the output where it is odd, reading zeros beyond the padding.
    """
    xp = _xp(x)
    n, c, h, w = x.shape
    _, (ph, pw), _, oh, ow = _conv_geometry(h, w, 3, 3, 1, padding, 1)  # raises on empty
    th, tw = _winograd_tiles(oh, ow)
    # (C, N, 2TH + 2, 2TW + 2): padded, channels first so that each transformed position below
    # is already one (C, N*TH*TW) block of the result.
    xpad = xp.zeros((c, n, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    xpad[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)  # fits: H + 2 ph <= 2TH + 2
    r = [xpad[:, :, a:a + 2 * th:2] for a in range(4)]          # patch row a of every tile
    t = xp.empty((4, c, n, th, 2 * tw + 2), dtype=x.dtype)      # B^T d: rows transformed
    xp.subtract(r[0], r[2], out=t[0])
    xp.add(r[1], r[2], out=t[1])
    xp.subtract(r[2], r[1], out=t[2])
    xp.subtract(r[1], r[3], out=t[3])
    q = [t[..., b:b + 2 * tw:2] for b in range(4)]              # patch column b
    v = xp.empty((4, 4, c, n, th, tw), dtype=x.dtype)           # (B^T d) B
    xp.subtract(q[0], q[2], out=v[:, 0])
    xp.add(q[1], q[2], out=v[:, 1])
    xp.subtract(q[2], q[1], out=v[:, 2])
    xp.subtract(q[1], q[3], out=v[:, 3])
    return v.reshape(16, c, n * th * tw)


def winograd_f2x3_output(m, y_shape):
    """Y = A^T M A: the (16, OC, N*TH*TW) products of :func:`winograd_f2x3_weight` and
    :func:`winograd_f2x3_input` back to the C-contiguous (N, OC, OH, OW) output ``y_shape``."""
    xp = _xp(m)
    n, oc, oh, ow = y_shape
    th, tw = _winograd_tiles(oh, ow)
    if m.shape != (16, oc, n * th * tw):
        raise ValueError(f"m has shape {m.shape}, expected {(16, oc, n * th * tw)}")
    m = m.reshape(4, 4, oc, n, th, tw)
    s = xp.empty((2, 4, oc, n, th, tw), dtype=m.dtype)           # A^T M: rows
    xp.add(m[0], m[1], out=s[0])
    s[0] += m[2]
    xp.subtract(m[1], m[2], out=s[1])
    s[1] -= m[3]
    y = xp.empty((n, oc, th, 2, tw, 2), dtype=m.dtype)          # (A^T M) A, tile by tile
    yt = y.transpose(3, 5, 1, 0, 2, 4)                          # (2, 2, OC, N, TH, TW) view
    xp.add(s[:, 0], s[:, 1], out=yt[:, 0])
    yt[:, 0] += s[:, 2]
    xp.subtract(s[:, 1], s[:, 2], out=yt[:, 1])
    yt[:, 1] -= s[:, 3]
    y = y.reshape(n, oc, 2 * th, 2 * tw)
    if (2 * th, 2 * tw) != (oh, ow):
        y = xp.ascontiguousarray(y[:, :, :oh, :ow])
    return y


# ------------------------------------------------- Winograd for 4x4 stride-2 convolutions
# A 4x4 stride-2 convolution is a 2x2 stride-1 one on the four polyphase components of its
# input (space to depth): with i = 2a + r, j = 2b + s,
#
#     y[p, q] = sum_{c, i, j} W[c, i, j] x_pad[2p + i, 2q + j]
#             = sum_{(c, r, s), a, b} W[c, 2a + r, 2b + s] X_rs[p + a, q + b],
#     X_rs[u, v] = x_pad[2u + r, 2v + s]
#
# (4C input channels ordered (c, r, s), a 2x2 kernel), and that one runs as Winograd
# F(2x2, 2x2): 9 multiplies per 2x2 output tile where the direct product has 16, i.e. 9
# matrix products (OC, 4C) @ (4C, tiles), 1.78x fewer GEMM flops. With
#
#     B^T = [[1, -1, 0], [0, 1, 0], [0, -1, 1]],  G = [[1, 0], [1, 1], [0, 1]],
#     A^T = [[1, 1, 0], [0, 1, 1]]
#
# every transform is additions of whole values (no halves): DCGAN's and the WGAN-GP critic's
# convolutions, and SNGAN's 4x4/2 ones.

def _k4s2_out_hw(h, w, padding):
    """(OH, OW) of a 4x4 stride-2 convolution with ``padding``; raises on an empty output."""
    return _conv_geometry(h, w, 4, 4, 2, padding, 1)[3:]


def winograd_k4s2_weight(w):
    """U = G g G^T of the polyphase 2x2 kernels g[(c, r, s)][a, b] = w[:, c, 2a + r, 2b + s] of
    a (OC, C, 4, 4) weight: a C-contiguous (9, OC, 4C) array of w's dtype."""
    xp = _xp(w)
    oc, c = w.shape[:2]
    # g_ab[o, c, r, s] = w[o, c, 2a + r, 2b + s]; G g G^T written out (rows: G g, then . G^T)
    g00, g01, g10, g11 = w[:, :, :2, :2], w[:, :, :2, 2:], w[:, :, 2:, :2], w[:, :, 2:, 2:]
    u = xp.empty((9, oc, c, 2, 2), dtype=w.dtype)
    u[0], u[2], u[6], u[8] = g00, g01, g10, g11
    xp.add(g00, g01, out=u[1])
    xp.add(g00, g10, out=u[3])
    xp.add(u[1], g10, out=u[4])
    u[4] += g11
    xp.add(g01, g11, out=u[5])
    xp.add(g10, g11, out=u[7])
    return u.reshape(9, oc, 4 * c)


def winograd_k4s2_input(x, padding):
    """V = B^T d B for the 3x3 patch d of every 2x2 output tile of the polyphase components
    of x (N, C, H, W) zero-padded by ``padding``: a C-contiguous (9, 4C, N*TH*TW) array of x's
    dtype, rows ordered (c, r, s), columns (n, th, tw), (TH, TW) = ceil(OH/2), ceil(OW/2)."""
    xp = _xp(x)
    n, c, h, w = x.shape
    ph, pw = _pair(padding)
    th, tw = _winograd_tiles(*_k4s2_out_hw(h, w, (ph, pw)))
    hp, wp = 4 * th + 2, 4 * tw + 2    # the last tile's patch ends at row 4 TH + 1
    xpad = xp.zeros((c, n, hp, wp), dtype=x.dtype)
    hh, ww = min(h, hp - ph), min(w, wp - pw)  # rows and columns past hp are never read
    xpad[:, :, ph:ph + hh, pw:pw + ww] = x.transpose(1, 0, 2, 3)[:, :, :hh, :ww]
    # X[c, r, s, n, u, v] = xpad[c, n, 2u + r, 2v + s]: the polyphase components (a view)
    X = xpad.reshape(c, n, hp // 2, 2, wp // 2, 2).transpose(0, 3, 5, 1, 2, 4)
    r = [X[..., a:a + 2 * th:2, :] for a in range(3)]                  # patch row a
    t = xp.empty((3, c, 2, 2, n, th, wp // 2), dtype=x.dtype)          # B^T d
    xp.subtract(r[0], r[1], out=t[0])
    t[1] = r[1]
    xp.subtract(r[2], r[1], out=t[2])
    q = [t[..., b:b + 2 * tw:2] for b in range(3)]                     # patch column b
    v = xp.empty((3, 3, c, 2, 2, n, th, tw), dtype=x.dtype)            # (B^T d) B
    xp.subtract(q[0], q[1], out=v[:, 0])
    v[:, 1] = q[1]
    xp.subtract(q[2], q[1], out=v[:, 2])
    return v.reshape(9, 4 * c, n * th * tw)


def winograd_k4s2_output(m, y_shape):
    """Y = A^T M A: the (9, OC, N*TH*TW) products of :func:`winograd_k4s2_weight` and
    :func:`winograd_k4s2_input` back to the C-contiguous (N, OC, OH, OW) output ``y_shape``."""
    xp = _xp(m)
    n, oc, oh, ow = y_shape
    th, tw = _winograd_tiles(oh, ow)
    if m.shape != (9, oc, n * th * tw):
        raise ValueError(f"m has shape {m.shape}, expected {(9, oc, n * th * tw)}")
    m = m.reshape(3, 3, oc, n, th, tw)
    s = xp.empty((2, 3, oc, n, th, tw), dtype=m.dtype)                 # A^T M
    xp.add(m[0], m[1], out=s[0])
    xp.add(m[1], m[2], out=s[1])
    y = xp.empty((n, oc, th, 2, tw, 2), dtype=m.dtype)                # (A^T M) A
    yt = y.transpose(3, 5, 1, 0, 2, 4)
    xp.add(s[:, 0], s[:, 1], out=yt[:, 0])
    xp.add(s[:, 1], s[:, 2], out=yt[:, 1])
    y = y.reshape(n, oc, 2 * th, 2 * tw)
    if (2 * th, 2 * tw) != (oh, ow):
        y = xp.ascontiguousarray(y[:, :, :oh, :ow])
    return y


# The weight gradient of y = A^T [U * V] A (elementwise per tile, summed over input channels)
# by the adjoint: with Z = A gY A^T (each 2x2 tile of the output gradient to 3x3),
#     gU = sum over tiles of Z * V    (9 products (OC, tiles) @ (tiles, 4C)),   gW = G^T gU G,
# 1.78x fewer flops than rows(gy)^T @ im2col(x), and V is the forward's, when it ran this way.
# (The input gradient the same way, gd = B (U * Z) B^T added back onto the overlapping
# patches, did not pay: its scatter cost what the GEMMs saved; benchmarks/NOTES.md.)

def winograd_k4s2_grad_output(gy):
    """Z = A gY A^T for every 2x2 tile of gy (N, OC, OH, OW) (zeros past an odd edge): a
    C-contiguous (9, OC, N*TH*TW) array of gy's dtype."""
    xp = _xp(gy)
    n, oc, oh, ow = gy.shape
    th, tw = _winograd_tiles(oh, ow)
    g = xp.zeros((oc, n, 2 * th, 2 * tw), dtype=gy.dtype)
    g[:, :, :oh, :ow] = gy.transpose(1, 0, 2, 3)
    r0, r1 = g[:, :, 0::2], g[:, :, 1::2]                              # (OC, N, TH, 2TW)
    t = xp.empty((3, oc, n, th, 2 * tw), dtype=gy.dtype)              # A gY
    t[0] = r0
    xp.add(r0, r1, out=t[1])
    t[2] = r1
    q0, q1 = t[..., 0::2], t[..., 1::2]
    z = xp.empty((3, 3, oc, n, th, tw), dtype=gy.dtype)               # (A gY) A^T
    z[:, 0] = q0
    xp.add(q0, q1, out=z[:, 1])
    z[:, 2] = q1
    return z.reshape(9, oc, n * th * tw)


def winograd_k4s2_grad_weight(gu):
    """gW = G^T gU G of (9, OC, 4C) products, back to a C-contiguous (OC, C, 4, 4) weight
    gradient (the adjoint of :func:`winograd_k4s2_weight`)."""
    xp = _xp(gu)
    _, oc, c4 = gu.shape
    c = c4 // 4
    u = gu.reshape(3, 3, oc, c, 2, 2)
    r = xp.empty((2, 3, oc, c, 2, 2), dtype=gu.dtype)                 # G^T gU: rows
    xp.add(u[0], u[1], out=r[0])
    xp.add(u[1], u[2], out=r[1])
    gw = xp.empty((oc, c, 2, 2, 2, 2), dtype=gu.dtype)                 # (o, c, a, r, b, s)
    gv = gw.transpose(2, 4, 0, 1, 3, 5)                                # (a, b, o, c, r, s)
    xp.add(r[:, 0], r[:, 1], out=gv[:, 0])
    xp.add(r[:, 1], r[:, 2], out=gv[:, 1])
    return gw.reshape(oc, c, 4, 4)


# --------------------------------------------------------------------------- scatter-add

def scatter_add(target, index, values):
    """In place ``target[index] += values``, with repeated indices accumulating.

    Same semantics as ``np.add.at(target, index, values)``: ``index`` is anything
    ``target.__getitem__`` accepts (int arrays, slices, tuples of those, ...),
    ``values`` broadcasts against ``target[index]``.  This is the backward of
    ``y = x[index]``: ``scatter_add(gx, index, gy)`` with ``gx`` zeros.

    Returns:
        ``target`` (modified in place).
    """
    xp = _xp(target)
    if xp is np:
        np.add.at(target, index, values)
    elif hasattr(xp.add, "at"):
        xp.add.at(target, index, values)
    else:  # older CuPy
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


# --------------------------------------------------------------------------- fused elementwise

def leaky_relu_fwd(x, slope):
    """``y = x if x > 0 else slope * x``; same shape and dtype as x."""
    xp = _xp(x)
    return xp.where(x > 0, x, x * _scalar(slope, x))


def leaky_relu_bwd(x, gy, slope):
    """Gradient of leaky ReLU: ``gy * (1 if x > 0 else slope)``; x, gy same shape."""
    xp = _xp(x)
    return xp.where(x > 0, gy, gy * _scalar(slope, gy))


# --------------------------------------------------------------------------- batch norm
# Arrays are (N, C, L), C-contiguous: per channel c the statistics run over the n = N * L values
# x[:, c, :]. Per-channel sums are taken over axis 0 first, then L: on (N, C, L) arrays that is a
# few times faster in NumPy than a sum over (0, 2) at once.

def _csum(a):
    """Per-channel sum of an (N, C, L) array, as (C,)."""
    return a.sum(axis=0).sum(axis=1)


def _cdot(a, b):
    """Per-channel sum of a * b for (N, C, L) arrays, as (C,), without a full-size temporary."""
    return _xp(a).einsum("ncl,ncl->c", a, b)


def _cl(v, like):
    """A per-channel vector (C,) repeated to (1, C, L): NumPy broadcasts that over N twice as
    fast as a (1, C, 1) over N and L (the inner loop runs over L contiguous values)."""
    xp = _xp(like)
    return xp.ascontiguousarray(xp.broadcast_to(v.reshape(1, -1, 1), (1,) + like.shape[1:]))


def batch_norm_fwd(x, weight, bias, eps):
    """Batch normalisation in training mode, per channel of x (N, C, L).

    Args:
        x: (N, C, L) array; weight, bias: (C,) arrays of x's dtype; eps: a float.

    Returns:
        ``(y, xhat, mean, var, r)``: y and xhat of x's shape, the others (C,)::

            mean = sum(x) / n,  var = sum((x - mean)^2) / n   (biased),  r = 1 / sqrt(var + eps)
            xhat = (x - mean) r,  y = xhat weight + bias
    """
    n = x.shape[0] * x.shape[2]
    mean = _csum(x) / x.dtype.type(n)
    xhat = x - _cl(mean, x)
    var = _cdot(xhat, xhat) / x.dtype.type(n)
    r = (var + x.dtype.type(eps)) ** -0.5
    xhat *= _cl(r, x)
    y = xhat * _cl(weight, x)
    y += _cl(bias, x)
    return y, xhat, mean, var, r


def batch_norm_grad_input(gy, xhat, weight, r):
    """The input gradient of :func:`batch_norm_fwd`, from its saved xhat and r.

    Args:
        gy, xhat: (N, C, L) arrays; weight, r: (C,).

    Returns:
        ``(gx, sum_gy, sum_gy_xhat)``: gx (N, C, L) and the two per-channel sums (C,), which
        are also the bias and weight gradients::

            k = weight r,  a = sum(gy) / n,  c = sum(gy xhat) / n
            gx = gy k - (xhat (k c) + k a)
    """
    n = gy.shape[0] * gy.shape[2]
    sum_gy, sum_gy_xhat = _csum(gy), _cdot(gy, xhat)
    k = weight * r
    t = xhat * _cl(k * (sum_gy_xhat / gy.dtype.type(n)), gy)
    t += _cl(k * (sum_gy / gy.dtype.type(n)), gy)
    gx = gy * _cl(k, gy)
    gx -= t
    return gx, sum_gy, sum_gy_xhat


# ---------------------------------------------------------------------- matrix products

def matmul(a, b):
    """``a @ b`` (NumPy's matmul: (..., M, K) @ (..., K, N) with broadcast batch dimensions).

    Every matrix product of the ops goes through this kernel name, so that a back end can take
    them over: on a GPU, inside a CUDA graph capture, ``cupy_gpu.matmul`` calls cuBLAS itself
    (CuPy's matmul refuses to run while a stream is being captured)."""
    return a @ b


# ------------------------------------------------------------------- running statistics

def running_average(running, value, momentum, scale=1.0):
    """``running <- (1 - momentum) running + momentum (scale value)`` in place (BatchNorm's
    running mean and variance; ``scale`` n / (n - 1) makes a biased variance unbiased).
    ``value`` is cast to running's dtype and shape. Returns ``running``."""
    v = value.astype(running.dtype, copy=False).reshape(running.shape)
    if scale != 1.0:
        v = v * running.dtype.type(scale)
    running *= running.dtype.type(1.0 - momentum)
    running += running.dtype.type(momentum) * v
    return running


# The optimizers' and the random generator's references, in modules of their own; every kernel
# name is answered here (the registry reads this module's __all__).
from .reference_optim import (  # noqa: E402
    adam_update, adam_update_multi, adam_update_multi_device_steps, rmsprop_update,
    rmsprop_update_multi, sgd_update)
from .reference_random import philox_advance, philox_fill  # noqa: E402
