"""NumPy references of the Winograd transforms (part of :mod:`minigrad.kernels.reference`, the
specification of every kernel: see its docstring for the dtype policy; xp-generic, so CuPy runs
them unchanged).

Six Winograd forms share the machinery here: F(2x2, 3x3) and F(4x4, 3x3) for 3x3 stride-1
convolutions (``winograd_f2x3_*``, ``winograd_f4x3_*``), F(2x2, 2x2) and F(4x4, 2x2) on the
polyphase components of 4x4 stride-2 ones (``winograd_k4s2_*``, ``winograd_k4s2f4_*``), and
F(2x2, 2x2) and F(4x4, 2x2) on the four output phases of 4x4 stride-2 *transposed*
convolutions (``winograd_k4s2t_*``, ``winograd_k4s2tf4_*``). Each transform matrix is one small
function applied along the first index of its operand (:func:`_f2x3_bt`, :func:`_f2x3_at`,
:func:`_f4x3_bt`, :func:`_f4x3_g`, :func:`_f4x3_at`, :func:`_k4s2_bt`, :func:`_k4s2_at`,
:func:`_k4s2_a`, :func:`_k4s2t_bt`, :func:`_k4s2f4_bt`, ...), used twice, on the rows of every
tile's patch and then on its columns (:func:`_two_sided`, :func:`_at_two_sided`,
:func:`_g_two_sided`). The Numba twins in
:mod:`minigrad.kernels.numba_winograd` are bitwise equal to these, so the order of every
addition here is part of the specification.
"""

import functools
from typing import NamedTuple

from .reference import _conv_geometry, _xp


class Tiling(NamedTuple):
    """One Winograd tiling: a ``kernel`` x ``kernel`` convolution of stride ``stride`` computed
    on ``tile`` x ``tile`` output tiles with ``side`` x ``side`` transformed positions per tile,
    on ``phases`` input channels per channel (4 polyphase components for stride 2)."""
    kernel: int
    stride: int
    side: int
    phases: int
    tile: int = 2


F2X3 = Tiling(kernel=3, stride=1, side=4, phases=1)
F4X3 = Tiling(kernel=3, stride=1, side=6, phases=1, tile=4)
K4S2 = Tiling(kernel=4, stride=2, side=3, phases=4)
K4S2F4 = Tiling(kernel=4, stride=2, side=5, phases=4, tile=4)


def _winograd_tiles(oh, ow, tile=2):
    """The number of ``tile`` x ``tile`` output tiles down and across an (OH, OW) output."""
    return -(-oh // tile), -(-ow // tile)


def _tiling(tiling, x_shape, padding):
    """((ph, pw), (TH, TW)) of a ``tiling`` convolution of an x of shape ``x_shape``: its
    padding and its output tiles. Raises ValueError on an empty output."""
    k = tiling.kernel
    _, pad, _, oh, ow = _conv_geometry(x_shape[2], x_shape[3], k, k, tiling.stride, padding, 1)
    return pad, _winograd_tiles(oh, ow, tiling.tile)


def _crop(y, oh, ow):
    """A (N, OC, tile*TH, tile*TW) output cut to (OH, OW) where the last tiles overhang it
    (copied to C-contiguous)."""
    if y.shape[2:] != (oh, ow):
        y = _xp(y).ascontiguousarray(y[:, :, :oh, :ow])
    return y


def _two_sided(xp, transform, sizes, rows, th, tw, col_transform=None, col_sizes=None, step=2):
    """T d T^T of every tile's patch d: ``transform`` (k_in values to k_out, along the first
    index of a sequence) applied to the patch rows, then to its columns (``col_transform`` and
    ``col_sizes`` where the columns' transform is another one). ``rows``: an array whose last two
    axes are the padded image's rows and columns (tiles start every ``step`` of each).
    Returns (k_out, k_out (of the columns), ..., TH, TW): position (a, b) first."""
    k_in, k_out = sizes
    if col_transform is None:
        col_transform, col_sizes = transform, sizes
    r = [rows[..., a:a + step * th:step, :] for a in range(k_in)]      # patch row a
    t = xp.empty((k_out,) + r[0].shape, dtype=rows.dtype)             # T d
    transform(xp, r, t)
    q = [t[..., b:b + step * tw:step] for b in range(col_sizes[0])]    # patch column b
    v = xp.empty((k_out, col_sizes[1]) + q[0].shape[1:], dtype=rows.dtype)  # (a, b, ...)
    col_transform(xp, q, v.swapaxes(0, 1))
    return v


def _at_two_sided(xp, at, m, out):
    """out[a, b] = (A^T m A)[a, b] for the (k, k, ...) products m, A^T being ``at``
    (k values to t); ``out`` is a (t, t, ...) view, written in place."""
    s = xp.empty(out.shape[:1] + m.shape[1:], dtype=m.dtype)           # A^T M: rows
    at(xp, m, s)
    at(xp, s.swapaxes(0, 1), out.swapaxes(0, 1))                       # (A^T M) A


def _products_back(tiling, at, m, y_shape):
    """Y = A^T M A: the (side**2, OC, N*TH*TW) products of a ``tiling`` back to the C-contiguous
    (N, OC, OH, OW) output ``y_shape``."""
    xp = _xp(m)
    n, oc, oh, ow = y_shape
    t = tiling.tile
    th, tw = _winograd_tiles(oh, ow, t)
    k = tiling.side
    if m.shape != (k * k, oc, n * th * tw):
        raise ValueError(f"m has shape {m.shape}, expected {(k * k, oc, n * th * tw)}")
    y = xp.empty((n, oc, th, t, tw, t), dtype=m.dtype)                 # tile by tile
    _at_two_sided(xp, at, m.reshape(k, k, oc, n, th, tw), y.transpose(3, 5, 1, 0, 2, 4))
    return _crop(y.reshape(n, oc, t * th, t * tw), oh, ow)


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

def _f2x3_bt(xp, d, out):
    """out = B^T d along the first index (d: 4 values, out: 4)."""
    xp.subtract(d[0], d[2], out=out[0])
    xp.add(d[1], d[2], out=out[1])
    xp.subtract(d[2], d[1], out=out[2])
    xp.subtract(d[1], d[3], out=out[3])


def _f2x3_g(xp, g, out):
    """out = G g along the first index (g: 3 values, out: 4):
    (g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2)."""
    out[0] = g[0]
    xp.add(g[0], g[1], out=out[1])
    out[1] += g[2]
    out[1] *= 0.5
    xp.subtract(g[0], g[1], out=out[2])
    out[2] += g[2]
    out[2] *= 0.5
    out[3] = g[2]


def _f2x3_at(xp, m, out):
    """out = A^T m along the first index (m: 4 values, out: 2)."""
    xp.add(m[0], m[1], out=out[0])
    out[0] += m[2]
    xp.subtract(m[1], m[2], out=out[1])
    out[1] -= m[3]


def winograd_f2x3_weight(w):
    """U = G g G^T for each (output, input) channel pair of a (OC, C, 3, 3) weight.

    Returns a C-contiguous (16, OC, C) array of w's dtype: ``u[4*a + b] = (G w G^T)[:, :, a, b]``.
    Written out on slices (no constant array: nothing is copied to a GPU, which a CUDA graph
    capture would refuse), rows first.
    """
    return _g_two_sided(_f2x3_g, 4, w.transpose(2, 3, 0, 1)).reshape(16, *w.shape[:2])


def _g_two_sided(g, side, wk):
    """G g G^T of every kernel g of ``wk`` (KH, KW, ...: the kernels' taps first), G being ``g``
    (K values to ``side``): rows first, then columns; a C-contiguous (side, side, ...) array."""
    xp = _xp(wk)
    rest = wk.shape[2:]
    t = xp.empty((side, wk.shape[1]) + rest, dtype=wk.dtype)   # G g: (a, j, ...)
    g(xp, wk, t)
    u = xp.empty((side, side) + rest, dtype=wk.dtype)          # (G g) G^T: (a, b, ...)
    g(xp, t.swapaxes(0, 1), u.swapaxes(0, 1))
    return u


def winograd_f2x3_input(x, padding):
    """V = B^T d B for every 4x4 input patch d of every 2x2 output tile of a 3x3 stride-1
    convolution of x (N, C, H, W) padded by ``padding`` (ph, pw) on each side.

    Returns a C-contiguous (16, C, N*TH*TW) array of x's dtype, columns ordered (n, th, tw),
    where (TH, TW) = ceil(OH/2), ceil(OW/2) tiles and OH = H + 2 ph - 2 (likewise OW); the
    last tiles overhang the output where it is odd, reading zeros beyond the padding.
    """
    xp = _xp(x)
    n, c, h, w = x.shape
    (ph, pw), (th, tw) = _tiling(F2X3, x.shape, padding)  # raises on an empty output
    # (C, N, 2TH + 2, 2TW + 2): padded, channels first so that each transformed position is
    # already one (C, N*TH*TW) block of the result.
    xpad = xp.zeros((c, n, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)
    xpad[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)  # fits: H + 2 ph <= 2TH + 2
    return _two_sided(xp, _f2x3_bt, (4, 4), xpad, th, tw).reshape(16, c, n * th * tw)


def winograd_f2x3_output(m, y_shape):
    """Y = A^T M A: the (16, OC, N*TH*TW) products of :func:`winograd_f2x3_weight` and
    :func:`winograd_f2x3_input` back to the C-contiguous (N, OC, OH, OW) output ``y_shape``."""
    return _products_back(F2X3, _f2x3_at, m, y_shape)


# ------------------------------------------------------------ Winograd F(4x4, 3x3)
# The same 3x3 stride-1 convolution on 4x4 output tiles (Lavin and Gray's F(4x4, 3x3)): 6x6
# input patches, 36 products M[xi] = U[xi] @ V[xi] per tile of 16 outputs, 2.25 multiplies per
# output where F(2x2, 3x3) has 4 and the direct product 9 (4x fewer GEMM flops than im2col, 1.78x
# fewer than F(2x2, 3x3)), for transforms with more terms. With the points 0, 1, -1, 2, -2, inf:
#
#     B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
#            [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
#     G   = [[1/4, 0, 0], [-1/6, -1/6, -1/6], [-1/6, 1/6, -1/6],
#            [1/24, 1/12, 1/6], [1/24, -1/12, 1/6], [0, 0, 1]]
#     A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
#
# Each row is written as sums of differences in which only whole sums are scaled, and only by
# powers of two (exact), so that the Numba twins round the same way whether or not LLVM fuses a
# product into an addition; G's thirds are divisions. The larger points cost accuracy: in
# float32 the error reached 9e-6 of the output's largest value (64 -> 128 channels at 16x16)
# where F(2x2, 3x3)'s stayed under 7e-7 (benchmarks/NOTES.md); tests/test_kernels.py holds both
# to the same bound against float64.

def _f4x3_bt(xp, d, out):
    """out = B^T d along the first index (d: 6 values, out: 6)."""
    e = xp.subtract(d[4], d[2])                          # d4 - d2, used by rows 0, 3 and 4
    xp.subtract(d[0], d[2], out=out[0])
    out[0] *= 4
    out[0] += e
    f = xp.add(d[1], d[2])
    f *= 4
    xp.add(d[3], d[4], out=out[1])
    out[1] -= f
    xp.subtract(d[1], d[2], out=f)
    f *= 4
    xp.subtract(d[4], d[3], out=out[2])
    out[2] += f
    xp.subtract(d[3], d[1], out=f)
    f *= 2
    xp.add(e, f, out=out[3])
    xp.subtract(e, f, out=out[4])
    xp.subtract(d[1], d[3], out=out[5])
    out[5] *= 4
    xp.subtract(d[5], d[3], out=e)
    out[5] += e


def _f4x3_g(xp, g, out):
    """out = G g along the first index (g: 3 values, out: 6):
    (g0/4, -(g0 + g2 + g1)/6, -(g0 + g2 - g1)/6, (g0 + 4 g2 + 2 g1)/24, (g0 + 4 g2 - 2 g1)/24,
    g2)."""
    xp.divide(g[0], 4, out=out[0])
    s = xp.add(g[0], g[2])
    xp.add(s, g[1], out=out[1])
    out[1] /= -6
    xp.subtract(s, g[1], out=out[2])
    out[2] /= -6
    xp.multiply(g[2], 4, out=s)
    s += g[0]
    t = xp.multiply(g[1], 2)
    xp.add(s, t, out=out[3])
    out[3] /= 24
    xp.subtract(s, t, out=out[4])
    out[4] /= 24
    out[5] = g[2]


def _f4x3_at(xp, m, out):
    """out = A^T m along the first index (m: 6 values, out: 4)."""
    a = xp.add(m[1], m[2])
    b = xp.subtract(m[1], m[2])
    c = xp.add(m[3], m[4])
    d = xp.subtract(m[3], m[4])
    xp.add(m[0], a, out=out[0])
    out[0] += c
    xp.multiply(d, 2, out=out[1])
    out[1] += b
    c *= 4
    xp.add(a, c, out=out[2])
    d *= 8
    xp.add(b, d, out=out[3])
    out[3] += m[5]


def winograd_f4x3_weight(w):
    """U = G g G^T (F(4x4, 3x3)) for each (output, input) channel pair of a (OC, C, 3, 3)
    weight: a C-contiguous (36, OC, C) array of w's dtype, ``u[6*a + b] = (G w G^T)[:, :, a,
    b]``; rows first, as :func:`winograd_f2x3_weight`."""
    return _g_two_sided(_f4x3_g, 6, w.transpose(2, 3, 0, 1)).reshape(36, *w.shape[:2])


def winograd_f4x3_input(x, padding):
    """V = B^T d B for every 6x6 input patch d of every 4x4 output tile of a 3x3 stride-1
    convolution of x (N, C, H, W) padded by ``padding``: a C-contiguous (36, C, N*TH*TW) array
    of x's dtype, columns ordered (n, th, tw), (TH, TW) = ceil(OH/4), ceil(OW/4); the last
    tiles overhang the output where 4 does not divide it, reading zeros."""
    xp = _xp(x)
    n, c, h, w = x.shape
    (ph, pw), (th, tw) = _tiling(F4X3, x.shape, padding)  # raises on an empty output
    xpad = xp.zeros((c, n, 4 * th + 2, 4 * tw + 2), dtype=x.dtype)
    xpad[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)  # fits: H + 2 ph <= 4TH + 2
    v = _two_sided(xp, _f4x3_bt, (6, 6), xpad, th, tw, step=4)
    return v.reshape(36, c, n * th * tw)


def winograd_f4x3_output(m, y_shape):
    """Y = A^T M A: the (36, OC, N*TH*TW) products of :func:`winograd_f4x3_weight` and
    :func:`winograd_f4x3_input` back to the C-contiguous (N, OC, OH, OW) output ``y_shape``."""
    return _products_back(F4X3, _f4x3_at, m, y_shape)


# The weight gradient by the adjoint, as for the 4x4/2 form below: with Z = A gY A^T (each 4x4
# tile of the output gradient to 6x6, zeros past the output's edge),
#     gU = sum over tiles of Z * V    (36 products (OC, tiles) @ (tiles, C)),   gW = G^T gU G,
# 4x fewer flops than rows(gy)^T @ im2col(x), and V is the forward's, when it ran this way. A
# is A^T's transpose and G^T G's; in both only whole sums are scaled by powers of two, and G^T's
# fractions are divisions, as in the forward transforms.

def _a_rows(xp, g, out):
    """out[:4] = the rows of A at the points 0, 1, -1, 2 (F(4x4, 3x3)'s and F(4x4, 2x2)'s) of
    g (4 values): (g0, p + q, p - q, r + s) with p = g0 + g2, q = g1 + g3, r = g0 + 4 g2,
    s = 2 (g1 + 4 g3); returns (r, s)."""
    out[0] = g[0]
    p = xp.add(g[0], g[2])
    q = xp.add(g[1], g[3])
    xp.add(p, q, out=out[1])
    xp.subtract(p, q, out=out[2])
    xp.multiply(g[2], 4, out=p)
    p += g[0]
    xp.multiply(g[3], 4, out=q)
    q += g[1]
    q *= 2
    xp.add(p, q, out=out[3])
    return p, q


def _f4x3_a(xp, g, out):
    """out = A g along the first index (g: 4 values, out: 6):
    (g0, p + q, p - q, r + s, r - s, g3) (:func:`_a_rows`)."""
    r, s = _a_rows(xp, g, out)
    xp.subtract(r, s, out=out[4])
    out[5] = g[3]


def _f4x3_gt(xp, u, out):
    """out = G^T u along the first index (u: 6 values, out: 3): with a = u1 + u2,
    b = u3 + u4, (u0/4 - a/6 + b/24, (u2 - u1)/6 + (u3 - u4)/12, (b - a)/6 + u5)."""
    a = xp.add(u[1], u[2])
    b = xp.add(u[3], u[4])
    t = xp.divide(a, 6)
    xp.divide(u[0], 4, out=out[0])
    out[0] -= t
    xp.divide(b, 24, out=t)
    out[0] += t
    xp.subtract(u[2], u[1], out=out[1])
    out[1] /= 6
    xp.subtract(u[3], u[4], out=t)
    t /= 12
    out[1] += t
    xp.subtract(b, a, out=out[2])
    out[2] /= 6
    out[2] += u[5]


def winograd_f4x3_grad_output(gy):
    """Z = A gY A^T for every 4x4 tile of gy (N, OC, OH, OW) (zeros past the output's edge): a
    C-contiguous (36, OC, N*TH*TW) array of gy's dtype."""
    xp = _xp(gy)
    n, oc, oh, ow = gy.shape
    th, tw = _winograd_tiles(oh, ow, 4)
    g = xp.zeros((oc, n, 4 * th, 4 * tw), dtype=gy.dtype)
    g[:, :, :oh, :ow] = gy.transpose(1, 0, 2, 3)
    return _two_sided(xp, _f4x3_a, (4, 6), g, th, tw, step=4).reshape(36, oc, n * th * tw)


def winograd_f4x3_grad_weight(gu):
    """gW = G^T gU G of (36, OC, C) products, back to a C-contiguous (OC, C, 3, 3) weight
    gradient (the adjoint of :func:`winograd_f4x3_weight`)."""
    xp = _xp(gu)
    _, oc, c = gu.shape
    gw = xp.empty((oc, c, 3, 3), dtype=gu.dtype)
    _at_two_sided(xp, _f4x3_gt, gu.reshape(6, 6, oc, c), gw.transpose(2, 3, 0, 1))
    return gw


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
# convolutions, and SNGAN's 4x4/2 ones. (G = A and G^T = A^T here.)

def _k4s2_bt(xp, d, out):
    """out = B^T d along the first index (d: 3 values, out: 3)."""
    xp.subtract(d[0], d[1], out=out[0])
    out[1] = d[1]
    xp.subtract(d[2], d[1], out=out[2])


def _k4s2_at(xp, m, out):
    """out = A^T m (= G^T m) along the first index (m: 3 values, out: 2)."""
    xp.add(m[0], m[1], out=out[0])
    xp.add(m[1], m[2], out=out[1])


def _k4s2_a(xp, g, out):
    """out = A g (= G g) along the first index (g: 2 values, out: 3)."""
    out[0] = g[0]
    xp.add(g[0], g[1], out=out[1])
    out[2] = g[1]


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
    n, c = x.shape[:2]
    X, (th, tw) = _polyphase(K4S2, x, padding)
    return _two_sided(xp, _k4s2_bt, (3, 3), X, th, tw).reshape(9, 4 * c, n * th * tw)


def _polyphase(tiling, x, padding):
    """(X, (TH, TW)): the polyphase components X[c, r, s, n, u, v] = xpad[c, n, 2u + r, 2v + s]
    (a view) of x (N, C, H, W) zero-padded by ``padding``, as far as the last of a 4x4 stride-2
    ``tiling``'s (TH, TW) tiles reads (the last tile's patch ends at padded row 2 tile TH + 1,
    tile being the tiling's output tile)."""
    xp = _xp(x)
    n, c, h, w = x.shape
    (ph, pw), (th, tw) = _tiling(tiling, x.shape, padding)
    hp, wp = 2 * tiling.tile * th + 2, 2 * tiling.tile * tw + 2
    xpad = xp.zeros((c, n, hp, wp), dtype=x.dtype)
    hh, ww = min(h, hp - ph), min(w, wp - pw)  # rows and columns past hp are never read
    xpad[:, :, ph:ph + hh, pw:pw + ww] = x.transpose(1, 0, 2, 3)[:, :, :hh, :ww]
    return xpad.reshape(c, n, hp // 2, 2, wp // 2, 2).transpose(0, 3, 5, 1, 2, 4), (th, tw)


def winograd_k4s2_output(m, y_shape):
    """Y = A^T M A: the (9, OC, N*TH*TW) products of :func:`winograd_k4s2_weight` and
    :func:`winograd_k4s2_input` back to the C-contiguous (N, OC, OH, OW) output ``y_shape``."""
    return _products_back(K4S2, _k4s2_at, m, y_shape)


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
    return _two_sided(xp, _k4s2_a, (2, 3), g, th, tw).reshape(9, oc, n * th * tw)


def winograd_k4s2_grad_weight(gu):
    """gW = G^T gU G of (9, OC, 4C) products, back to a C-contiguous (OC, C, 4, 4) weight
    gradient (the adjoint of :func:`winograd_k4s2_weight`)."""
    return _polyphase_grad_weight(_k4s2_at, 3, gu)


def _polyphase_grad_weight(gt, side, gu):
    """G^T gU G of (side**2, OC, 4C) products, G^T being ``gt`` (side values to 2), back to the
    C-contiguous (OC, C, 4, 4) weight gradient of the polyphase 2x2 kernels, gw[o, c, 2a + r,
    2b + s] from column 4c + 2r + s."""
    xp = _xp(gu)
    _, oc, c4 = gu.shape
    c = c4 // 4
    gw = xp.empty((oc, c, 2, 2, 2, 2), dtype=gu.dtype)                 # (o, c, a, r, b, s)
    _at_two_sided(xp, gt, gu.reshape(side, side, oc, c, 2, 2), gw.transpose(2, 4, 0, 1, 3, 5))
    return gw.reshape(oc, c, 4, 4)


# ------------------------------------ Winograd F(4x4, 2x2) for 4x4 stride-2 convolutions
# The same polyphase 2x2 convolutions as above on 4x4 output tiles: 5x5 patches of each
# component, 25 products (OC, 4C) @ (4C, tiles) per tile of 16 outputs, 1.5625 multiplies per
# output where F(2x2, 2x2) has 2.25 and the direct product 4 (2.56x fewer GEMM flops than
# im2col, 1.44x fewer than F(2x2, 2x2)), and V and M are 0.69x the size of F(2x2, 2x2)'s. With
# the points 0, 1, -1, 2, inf (F(4x4, 3x3)'s without -2; A^T is its A^T without that column):
#
#     B^T = [[2, -1, -2, 1, 0], [0, 2, 1, -1, 0], [0, -2, 3, -1, 0], [0, -1, 0, 1, 0],
#            [0, 2, -1, -2, 1]]
#     G   = [[1/2, 0], [1/2, 1/2], [1/6, -1/6], [1/6, 1/3], [0, 1]]
#     A^T = [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 0], [0, 1, -1, 8, 1]]
#
# As in F(4x4, 3x3), only whole sums are scaled, by powers of two, and G's sixths are
# divisions, so the Numba twins are bitwise equal whether or not LLVM fuses. The float32
# error reached 9e-6 of the output's largest value on DCGAN's layers (F(2x2, 2x2): 1.3e-6),
# as F(4x4, 3x3)'s. The weight gradient by the adjoint, as for F(2x2, 2x2): Z = A gY A^T,
# gU = sum over tiles of Z * V, gW = G^T gU G.

def _k4s2f4_bt(xp, d, out):
    """out = B^T d along the first index (d: 5 values, out: 5): with a = d3 - d1 and
    b = d2 - d3, (2 (d0 - d2) + a, 2 d1 + b, 2 (d2 - d1) + b, a, (d4 - d2) - 2 a)."""
    a = xp.subtract(d[3], d[1])
    b = xp.subtract(d[2], d[3])
    xp.subtract(d[0], d[2], out=out[0])
    out[0] *= 2
    out[0] += a
    xp.multiply(d[1], 2, out=out[1])
    out[1] += b
    xp.subtract(d[2], d[1], out=out[2])
    out[2] *= 2
    out[2] += b
    out[3] = a
    xp.subtract(d[4], d[2], out=out[4])
    a *= 2
    out[4] -= a


def _k4s2f4_g(xp, g, out):
    """out = G g along the first index (g: 2 values, out: 5):
    (g0/2, (g0 + g1)/2, (g0 - g1)/6, (g0 + 2 g1)/6, g1)."""
    xp.divide(g[0], 2, out=out[0])
    xp.add(g[0], g[1], out=out[1])
    out[1] /= 2
    xp.subtract(g[0], g[1], out=out[2])
    out[2] /= 6
    xp.multiply(g[1], 2, out=out[3])
    out[3] += g[0]
    out[3] /= 6
    out[4] = g[1]


def _k4s2f4_at(xp, m, out):
    """out = A^T m along the first index (m: 5 values, out: 4): with p = m1 + m2 and
    q = m1 - m2, ((m0 + p) + m3, q + 2 m3, p + 4 m3, (q + 8 m3) + m4)."""
    p = xp.add(m[1], m[2])
    q = xp.subtract(m[1], m[2])
    xp.add(m[0], p, out=out[0])
    out[0] += m[3]
    t = xp.multiply(m[3], 2)
    xp.add(q, t, out=out[1])
    t *= 2
    xp.add(p, t, out=out[2])
    t *= 2
    xp.add(q, t, out=out[3])
    out[3] += m[4]


def _k4s2f4_a(xp, g, out):
    """out = A g along the first index (g: 4 values, out: 5): F(4x4, 3x3)'s A without its
    point -2, (g0, p + q, p - q, r + s, g3) (:func:`_a_rows`)."""
    _a_rows(xp, g, out)
    out[4] = g[3]


def _k4s2f4_gt(xp, u, out):
    """out = G^T u along the first index (u: 5 values, out: 2):
    ((u0 + u1)/2 + (u2 + u3)/6, (u1/2 + (2 u3 - u2)/6) + u4)."""
    t = xp.add(u[2], u[3])
    t /= 6
    xp.add(u[0], u[1], out=out[0])
    out[0] /= 2
    out[0] += t
    xp.multiply(u[3], 2, out=t)
    t -= u[2]
    t /= 6
    xp.divide(u[1], 2, out=out[1])
    out[1] += t
    out[1] += u[4]


def winograd_k4s2f4_weight(w):
    """U = G g G^T (F(4x4, 2x2)) of the polyphase 2x2 kernels g[(c, r, s)][a, b] =
    w[:, c, 2a + r, 2b + s] of a (OC, C, 4, 4) weight: a C-contiguous (25, OC, 4C) array of w's
    dtype, columns ordered (c, r, s) as :func:`winograd_k4s2_weight`'s."""
    oc, c = w.shape[:2]
    wk = w.reshape(oc, c, 2, 2, 2, 2).transpose(2, 4, 0, 1, 3, 5)    # (a, b, o, c, r, s)
    return _g_two_sided(_k4s2f4_g, 5, wk).reshape(25, oc, 4 * c)


def winograd_k4s2f4_input(x, padding):
    """V = B^T d B for the 5x5 patch d of every 4x4 output tile of the polyphase components
    of x (N, C, H, W) zero-padded by ``padding``: a C-contiguous (25, 4C, TH*TW*N) array of x's
    dtype, rows ordered (c, r, s), columns (th, tw, n) (the images innermost, as
    winograd_k4s2tf4_input's), (TH, TW) = ceil(OH/4), ceil(OW/4)."""
    xp = _xp(x)
    n, c = x.shape[:2]
    X, (th, tw) = _polyphase(K4S2F4, x, padding)
    v = _two_sided(xp, _k4s2f4_bt, (5, 5), X, th, tw, step=4)     # (5, 5, C, 2, 2, N, TH, TW)
    return xp.ascontiguousarray(v.transpose(0, 1, 2, 3, 4, 6, 7, 5)).reshape(25, 4 * c,
                                                                             th * tw * n)


def winograd_k4s2f4_output(m, y_shape):
    """Y = A^T M A: the (25, OC, TH*TW*N) products of :func:`winograd_k4s2f4_weight` and
    :func:`winograd_k4s2f4_input` (columns ordered (th, tw, n)) back to the C-contiguous
    (N, OC, OH, OW) output ``y_shape``."""
    xp = _xp(m)
    n, oc, oh, ow = y_shape
    th, tw = _winograd_tiles(oh, ow, 4)
    if m.shape != (25, oc, n * th * tw):
        raise ValueError(f"m has shape {m.shape}, expected {(25, oc, n * th * tw)}")
    y = xp.empty((n, oc, th, 4, tw, 4), dtype=m.dtype)                 # tile by tile
    _at_two_sided(xp, _k4s2f4_at, m.reshape(5, 5, oc, th, tw, n), y.transpose(3, 5, 1, 2, 4, 0))
    return _crop(y.reshape(n, oc, 4 * th, 4 * tw), oh, ow)


def winograd_k4s2f4_grad_output(gy):
    """Z = A gY A^T for every 4x4 tile of gy (N, OC, OH, OW) (zeros past the output's edge): a
    C-contiguous (25, OC, TH*TW*N) array of gy's dtype, columns ordered (th, tw, n) as
    :func:`winograd_k4s2f4_input`'s."""
    xp = _xp(gy)
    n, oc, oh, ow = gy.shape
    th, tw = _winograd_tiles(oh, ow, 4)
    g = xp.zeros((oc, n, 4 * th, 4 * tw), dtype=gy.dtype)
    g[:, :, :oh, :ow] = gy.transpose(1, 0, 2, 3)
    z = _two_sided(xp, _k4s2f4_a, (4, 5), g, th, tw, step=4)         # (5, 5, OC, N, TH, TW)
    return xp.ascontiguousarray(z.transpose(0, 1, 2, 4, 5, 3)).reshape(25, oc, th * tw * n)


def winograd_k4s2f4_grad_weight(gu):
    """gW = G^T gU G of (25, OC, 4C) products, back to a C-contiguous (OC, C, 4, 4) weight
    gradient (the adjoint of :func:`winograd_k4s2f4_weight`)."""
    return _polyphase_grad_weight(_k4s2f4_gt, 5, gu)


# --------------------------------------- Winograd for 4x4 stride-2 *transposed* convolutions
# y = conv_transpose(x, W) with W (C, OC, 4, 4), stride 2, padding (p, q):
#
#     y[o, Y, X] = sum_{c, h, w} x[c, h, w] W[c, o, i, j]   over Y = 2h - p + i, X = 2w - q + j.
#
# An output row Y = 2a + r (phase r in {0, 1}) meets only the kernel rows i of parity
# t_r = (r + p) % 2: i = 2(a - h) + r + p, so with m_r = (r + p) // 2 it takes the x rows
# h = a + m_r - 1 (tap i = t_r + 2) and h = a + m_r (tap t_r), and likewise for the columns. Each
# of the four phases (r, s) is a stride-1 2x2 *correlation* of x,
#
#     y[o, 2a + r, 2b + s] = sum_{c, u, v} x[c, a + m_r - 1 + u, b + m_s - 1 + v] g_rs[c, o, u, v],
#     g_rs[c, o, u, v] = W[c, o, t_r + 2 - 2u, t_s + 2 - 2v],
#
# and that one runs as Winograd F(2x2, 2x2) (the B, G, A of the 4x4 stride-2 convolution above)
# on 2x2 tiles of phase outputs: a tile (ti, tj) is the 4x4 output block y[4ti:4ti + 4,
# 4tj:4tj + 4], made of the 2x2 tiles a = 2ti + (0, 1), b = 2tj + (0, 1) of the four phases, and
# each output pixel is written once (a gather, where col2im sums 4 window contributions).
# Phase r's 3-row patch is x rows R + m_r - m_0 + (0, 1, 2), R = 2ti + m_0 - 1. With p even the
# two row phases read the same patch (m_0 = m_1): 3 transformed values e = B^T d per tile row.
# With p odd (DCGAN's p = 1) phase 1's patch is phase 0's one row down: over the 4 rows d of
# both, phase 0 reads (d0 - d1, d1, d2 - d1) and phase 1 (d1 - d2, d2, d3 - d2), so the 5
# values e = (d0 - d1, d1, d2 - d1, d2, d3 - d2) serve both, phase 1's first being -e2 (the
# minus goes into its weight transform, exactly). Per tile the input transform makes
# K_h x K_w = 25 (p, q odd), 15 or 9 (even) values per channel instead of 4 x 9 = 36; each
# transformed position (k, l) is one (C, tiles) block of V read by the 1, 2 or 4 phases that use
# it, so the products are one per position, (n_kl OC, C) @ (C, tiles), 36 OC rows in all: 9
# multiplies per 2x2 tile of a phase where the direct product (rows(x) @ W_rows, then col2im)
# has 16, 1.78x fewer GEMM flops. :func:`k4s2t_layout` names the 36 (phase, position) products:
# "slots", grouped by the transformed position they read.

class K4S2TLayout(NamedTuple):
    """Where the 36 products (4 phases x 3 x 3 positions) of a transposed 4x4 stride-2
    convolution with padding (p, q) live. ``values``: (K_h, K_w), transformed values per tile
    along rows and columns (5 for an odd padding, 3 for an even one); V's position k*K_w + l
    is read by slots ``offsets[k*K_w + l]`` to ``offsets[k*K_w + l + 1]``; ``slots[r][s][3a + b]``
    is the slot of phase (r, s)'s product at position (a, b); ``signs[slot]`` is -1 where the
    phase reads its value negated (phase 1's first value, odd padding: the weight transform
    carries the minus)."""
    values: tuple
    offsets: tuple
    slots: tuple
    signs: tuple


def _k4s2t_uses(p):
    """For each transformed value along one axis (padding p): the (phase, position, sign) that
    read it."""
    if p % 2:
        return (((0, 0, 1),), ((0, 1, 1),), ((0, 2, 1), (1, 0, -1)), ((1, 1, 1),), ((1, 2, 1),))
    return tuple(((0, a, 1), (1, a, 1)) for a in range(3))


def k4s2t_layout(padding):
    """The :class:`K4S2TLayout` of padding (p, q) (a pair of non-negative ints)."""
    ph, pw = (int(p) for p in padding)
    if min(ph, pw) < 0:
        raise ValueError(f"padding {(ph, pw)} is negative")
    return _k4s2t_layout(ph % 2, pw % 2)   # it depends on the paddings' parities only


@functools.lru_cache(maxsize=None)
def _k4s2t_layout(ph, pw):
    uses_h, uses_w = _k4s2t_uses(ph), _k4s2t_uses(pw)
    offsets, signs = [0], []
    slots = [[[0] * 9 for _ in range(2)] for _ in range(2)]
    for uh in uses_h:
        for uw in uses_w:
            for r, a, sr in uh:
                for s, b, ss in uw:
                    slots[r][s][3 * a + b] = len(signs)
                    signs.append(sr * ss)
            offsets.append(len(signs))
    return K4S2TLayout((len(uses_h), len(uses_w)), tuple(offsets),
                       tuple(tuple(tuple(row) for row in rs) for rs in slots), tuple(signs))


def _k4s2t_tiling(padding, output_size):
    """(layout, (off_h, off_w), (TH, TW)) of a transposed 4x4 stride-2 convolution with this
    padding onto ``output_size`` (OH, OW): the x row (column) of the padded patch image's row
    (column) 0 is off_h = p // 2 - 1 (off_w); TH = ceil(OH / 4) tiles of 4 output rows.
    Raises ValueError on an empty output or a negative padding."""
    layout = k4s2t_layout(padding)
    oh, ow = (int(s) for s in output_size)
    if oh < 1 or ow < 1:
        raise ValueError(f"empty transposed convolution output {(oh, ow)}")
    return layout, (int(padding[0]) // 2 - 1, int(padding[1]) // 2 - 1), (-(-oh // 4),
                                                                           -(-ow // 4))


def _window(x, off_h, off_w, hp, wp):
    """(C, N, hp, wp): x (N, C, H, W) channels first, its row i + off_h at row i (column
    likewise), zeros where that is outside x: the padded patches' image of a transposed
    convolution."""
    xp = _xp(x)
    n, c, h, w = x.shape
    xpad = xp.zeros((c, n, hp, wp), dtype=x.dtype)
    i0, i1 = max(0, -off_h), min(hp, h - off_h)
    j0, j1 = max(0, -off_w), min(wp, w - off_w)
    if i1 > i0 and j1 > j0:
        xpad[:, :, i0:i1, j0:j1] = x.transpose(1, 0, 2, 3)[:, :, i0 + off_h:i1 + off_h,
                                                           j0 + off_w:j1 + off_w]
    return xpad


def _k4s2t_bt(xp, d, out):
    """out = the 3 (even padding) or 5 (odd) transformed values of d along the first index:
    (d0 - d1, d1, d2 - d1[, d2, d3 - d2])."""
    _k4s2_bt(xp, d, out)
    if len(out) == 5:
        out[3] = d[2]
        xp.subtract(d[3], d[2], out=out[4])


def winograd_k4s2t_weight(w, padding):
    """U = G g_rs G^T of the four phases' 2x2 kernels of a transposed 4x4 stride-2 convolution's
    (C, OC, 4, 4) weight with this padding: a C-contiguous (36, OC, C) array of w's dtype, one
    (OC, C) block per slot of :func:`k4s2t_layout` (negated where its sign is -1)."""
    xp = _xp(w)
    c, oc = w.shape[:2]
    layout = k4s2t_layout(padding)
    wt = w.transpose(1, 0, 2, 3)                                       # (OC, C, 4, 4), a view
    u = xp.empty((36, oc, c), dtype=w.dtype)
    for r in range(2):
        i = (r + int(padding[0])) % 2                                  # window row 1's tap
        for s in range(2):
            j = (s + int(padding[1])) % 2
            g00, g01 = wt[:, :, i + 2, j + 2], wt[:, :, i + 2, j]
            g10, g11 = wt[:, :, i, j + 2], wt[:, :, i, j]
            z = layout.slots[r][s]
            # in winograd_k4s2_weight's order
            u[z[0]], u[z[2]], u[z[6]], u[z[8]] = g00, g01, g10, g11
            xp.add(g00, g01, out=u[z[1]])
            xp.add(g00, g10, out=u[z[3]])
            xp.add(u[z[1]], g10, out=u[z[4]])
            u[z[4]] += g11
            xp.add(g01, g11, out=u[z[5]])
            xp.add(g10, g11, out=u[z[7]])
    for z, sign in enumerate(layout.signs):
        if sign < 0:
            xp.negative(u[z], out=u[z])
    return u


def _k4s2t_out(out, shape, dtype):
    """Check that ``out`` (where given) is a C-contiguous array of this shape and dtype."""
    if out is not None and (out.shape != tuple(shape) or out.dtype != dtype
                            or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous {tuple(shape)} array of {dtype}, not "
                         f"{out.shape} {out.dtype}")


def winograd_k4s2t_input(x, padding, output_size, out=None):
    """V: the transformed values of every tile of a transposed 4x4 stride-2 convolution of x
    (N, C, H, W) with this padding onto ``output_size`` (OH, OW) (see :class:`K4S2TLayout`): a
    C-contiguous (K_h*K_w, C, TH*TW*N) array of x's dtype, columns ordered (th, tw, n): the batch
    innermost, so that a fast kernel's inner loops run over N contiguous values on both sides
    (the images are small: 4x4 to 16x16 in the GANs); (TH, TW) = ceil(OH/4), ceil(OW/4).
    Patches reach past x's edges into zeros. Written into ``out`` where given (and returned)."""
    xp = _xp(x)
    n, c = x.shape[:2]
    layout, (off_h, off_w), (th, tw) = _k4s2t_tiling(padding, output_size)
    kh, kw = layout.values
    # the last patch ends at row 2 TH + 1 or + 0
    xpad = _window(x, off_h, off_w, 2 * th + kh // 2, 2 * tw + kw // 2)
    k_in = (kh + 3) // 2, (kw + 3) // 2                 # patch rows: 4 for 5 values, 3 for 3
    v = _two_sided(xp, _k4s2t_bt, (k_in[0], kh), xpad, th, tw, _k4s2t_bt, (k_in[1], kw))
    shape = (kh * kw, c, th * tw * n)
    _k4s2t_out(out, shape, x.dtype)
    v = v.transpose(0, 1, 2, 4, 5, 3)        # (KH, KW, C, N, TH, TW) -> columns (th, tw, n)
    if out is None:
        return xp.ascontiguousarray(v).reshape(shape)
    out.reshape(v.shape)[...] = v
    return out


def winograd_k4s2t_output(m, y_shape, padding, out=None):
    """Y = A^T M A of each phase: the (36, OC, TH*TW*N) products (slots of
    :func:`k4s2t_layout`, columns ordered (th, tw, n)) back to the C-contiguous (N, OC, OH, OW)
    output ``y_shape``, each phase's 2x2 tile at its pixels (2a + r, 2b + s) of the tile's 4x4
    block. Written into ``out`` where given (and returned)."""
    xp = _xp(m)
    n, oc, oh, ow = y_shape
    layout, _, (th, tw) = _k4s2t_tiling(padding, (oh, ow))
    if m.shape != (36, oc, n * th * tw):
        raise ValueError(f"m has shape {m.shape}, expected {(36, oc, n * th * tw)}")
    y = xp.empty((n, oc, th, 2, 2, tw, 2, 2), dtype=m.dtype)           # (n, o, ti, a, r, tj, b, s)
    for r in range(2):
        for s in range(2):
            m_rs = m[list(layout.slots[r][s])].reshape(3, 3, oc, th, tw, n)
            _at_two_sided(xp, _k4s2_at, m_rs,
                          y[:, :, :, :, r, :, :, s].transpose(3, 5, 1, 2, 4, 0))
    _k4s2t_out(out, y_shape, m.dtype)
    y = _crop(y.reshape(n, oc, 4 * th, 4 * tw), oh, ow)
    if out is None:
        return y
    out[...] = y
    return out


# --------------------------- Winograd F(4x4, 2x2) for 4x4 stride-2 *transposed* convolutions
# The four output phases of the transposed convolution above, each a stride-1 2x2 correlation
# of x with g_rs, on 4x4 tiles of phase outputs by F(4x4, 2x2) (the B, G, A of
# winograd_k4s2f4_*): a tile (ti, tj) is the 8x8 output block y[8ti:8ti + 8, 8tj:8tj + 8], each
# phase's 5x5 patch of x starting at x row 4ti + m_r - 1 (column likewise). The phases' patches
# are one row apart where the padding is odd, so none is shared: V holds 4 x 25 transformed
# values per tile and channel (phase-major, 6.25 per input pixel, as the F(2x2, 2x2) layout's 25
# per 4 pixels), and the products are 100 (OC, C) @ (C, tiles), 1.5625 multiplies per output
# where F(2x2, 2x2)'s layout has 2.25 (1.44x fewer GEMM flops) and rows(x) @ W_rows 4.

def _k4s2tf4_tiling(padding, output_size):
    """((off_h, off_w), (dr, ds), (TH, TW)) of a transposed 4x4 stride-2 convolution with this
    padding onto ``output_size`` (OH, OW) on F(4x4, 2x2) tiles: the x row of phase 0's patch
    row 0 of tile row 0 is off_h = p // 2 - 1 (column off_w), phase 1's patches start dr = p % 2
    rows lower (ds columns right), TH = ceil(OH / 8) tiles of 8 output rows. Raises ValueError
    on an empty output or a negative padding."""
    (off_h, off_w), _ = _k4s2t_tiling(padding, output_size)[1:]
    oh, ow = (int(s) for s in output_size)
    return (off_h, off_w), (int(padding[0]) % 2, int(padding[1]) % 2), (-(-oh // 8),
                                                                         -(-ow // 8))


def winograd_k4s2tf4_weight(w, padding):
    """U = G g_rs G^T (F(4x4, 2x2)) of the four phases' 2x2 kernels g_rs[c, o, u, v] =
    w[c, o, t_r + 2 - 2u, t_s + 2 - 2v] (t_r = (r + p) % 2) of a transposed 4x4 stride-2
    convolution's (C, OC, 4, 4) weight with this padding: a C-contiguous (100, OC, C) array of
    w's dtype, phase (r, s)'s 25 positions at 25 (2r + s)."""
    xp = _xp(w)
    c, oc = w.shape[:2]
    k4s2t_layout(padding)                                              # checks the padding
    u = xp.empty((4, 5, 5, oc, c), dtype=w.dtype)
    wt = w.transpose(1, 0, 2, 3)                                       # (OC, C, 4, 4), a view
    for r in range(2):
        i = (r + int(padding[0])) % 2
        for s in range(2):
            j = (s + int(padding[1])) % 2
            wk = wt[:, :, i::2, j::2][:, :, ::-1, ::-1].transpose(2, 3, 0, 1)  # (u, v, OC, C)
            u[2 * r + s] = _g_two_sided(_k4s2f4_g, 5, wk)
    return u.reshape(100, oc, c)


def winograd_k4s2tf4_input(x, padding, output_size):
    """V = B^T d B for the 5x5 patch d of every phase of every 8x8 output tile of a transposed
    4x4 stride-2 convolution of x (N, C, H, W) with this padding onto ``output_size``: a
    C-contiguous (100, C, TH*TW*N) array of x's dtype, phase (r, s)'s 25 positions at
    25 (2r + s), columns ordered (th, tw, n) (the batch innermost, as winograd_k4s2t_input's:
    the fast kernels' loops run over it); patches reach past x's edges into zeros."""
    xp = _xp(x)
    n, c = x.shape[:2]
    (off_h, off_w), (dr, ds), (th, tw) = _k4s2tf4_tiling(padding, output_size)
    xpad = _window(x, off_h, off_w, 4 * th + 1 + dr, 4 * tw + 1 + ds)  # last patch: row 4 TH + dr
    v = xp.empty((4, 5, 5, c, th, tw, n), dtype=x.dtype)
    for r in range(2):
        for s in range(2):
            v[2 * r + s] = _two_sided(xp, _k4s2f4_bt, (5, 5), xpad[:, :, r * dr:, s * ds:], th,
                                      tw, step=4).transpose(0, 1, 2, 4, 5, 3)  # batch last
    return v.reshape(100, c, th * tw * n)


def winograd_k4s2tf4_output(m, y_shape, out=None):
    """Y = A^T M A of each phase: the (100, OC, TH*TW*N) products (phase (r, s)'s at
    25 (2r + s), columns ordered (th, tw, n)) back to the C-contiguous (N, OC, OH, OW) output
    ``y_shape``, each phase's 4x4 tile at its pixels (2a + r, 2b + s) of the tile's 8x8 block.
    Written into ``out`` where given (and returned)."""
    _k4s2t_out(out, y_shape, m.dtype)
    xp = _xp(m)
    n, oc, oh, ow = y_shape
    th, tw = -(-oh // 8), -(-ow // 8)
    if m.shape != (100, oc, n * th * tw):
        raise ValueError(f"m has shape {m.shape}, expected {(100, oc, n * th * tw)}")
    y = xp.empty((n, oc, th, 4, 2, tw, 4, 2), dtype=m.dtype)           # (n, o, ti, a, r, tj, b, s)
    for r in range(2):
        for s in range(2):
            m_rs = m[25 * (2 * r + s):25 * (2 * r + s) + 25].reshape(5, 5, oc, th, tw, n)
            _at_two_sided(xp, _k4s2f4_at, m_rs,
                          y[:, :, :, :, r, :, :, s].transpose(3, 5, 1, 2, 4, 0))
    y = _crop(y.reshape(n, oc, 8 * th, 8 * tw), oh, ow)
    if out is None:
        return y
    out[...] = y
    return out
