"""NumPy references of the Winograd transforms (part of :mod:`minigrad.kernels.reference`, the
specification of every kernel: see its docstring for the dtype policy; xp-generic, so CuPy runs
them unchanged).

Two tilings of the output into 2x2 tiles share the machinery here: each transform matrix is one
small function applied along the first index of its operand (:func:`_f2x3_bt`, :func:`_f2x3_at`,
:func:`_k4s2_bt`, :func:`_k4s2_at`, :func:`_k4s2_a`), used twice, on the rows of every tile's
patch and then on its columns (:func:`_two_sided`, :func:`_at_two_sided`). The Numba twins in
:mod:`minigrad.kernels.numba_winograd` are bitwise equal to these, so the order of every
addition here is part of the specification.
"""

from typing import NamedTuple

from .reference import _conv_geometry, _xp


class Tiling(NamedTuple):
    """One Winograd tiling: a ``kernel`` x ``kernel`` convolution of stride ``stride`` computed
    on 2x2 output tiles with ``side`` x ``side`` transformed positions per tile, on ``phases``
    input channels per channel (4 polyphase components for stride 2)."""
    kernel: int
    stride: int
    side: int
    phases: int


F2X3 = Tiling(kernel=3, stride=1, side=4, phases=1)
K4S2 = Tiling(kernel=4, stride=2, side=3, phases=4)


def _winograd_tiles(oh, ow):
    """The number of 2x2 output tiles down and across an (OH, OW) output."""
    return -(-oh // 2), -(-ow // 2)


def _tiling(tiling, x_shape, padding):
    """((ph, pw), (TH, TW)) of a ``tiling`` convolution of an x of shape ``x_shape``: its
    padding and its 2x2 output tiles. Raises ValueError on an empty output."""
    k = tiling.kernel
    _, pad, _, oh, ow = _conv_geometry(x_shape[2], x_shape[3], k, k, tiling.stride, padding, 1)
    return pad, _winograd_tiles(oh, ow)


def _crop(y, oh, ow):
    """A (N, OC, 2TH, 2TW) output cut to (OH, OW) where the last tiles overhang it (copied to
    C-contiguous)."""
    if y.shape[2:] != (oh, ow):
        y = _xp(y).ascontiguousarray(y[:, :, :oh, :ow])
    return y


def _two_sided(xp, transform, sizes, rows, th, tw):
    """T d T^T of every tile's patch d: ``transform`` (k_in values to k_out, along the first
    index of a sequence) applied to the patch rows, then to its columns. ``rows``: an array
    whose last two axes are the padded image's rows and columns (tiles start every 2 of each).
    Returns (k_out, k_out, ..., TH, TW): position (a, b) first."""
    k_in, k_out = sizes
    r = [rows[..., a:a + 2 * th:2, :] for a in range(k_in)]            # patch row a
    t = xp.empty((k_out,) + r[0].shape, dtype=rows.dtype)             # T d
    transform(xp, r, t)
    q = [t[..., b:b + 2 * tw:2] for b in range(k_in)]                  # patch column b
    v = xp.empty((k_out,) + q[0].shape, dtype=rows.dtype)             # (T d) T^T: (a, b, ...)
    transform(xp, q, v.swapaxes(0, 1))
    return v


def _at_two_sided(xp, at, m, out):
    """out[a, b] = (A^T m A)[a, b] for the (k, k, ...) products m, A^T being ``at``
    (k values to 2); ``out`` is a (2, 2, ...) view, written in place."""
    s = xp.empty((2,) + m.shape[1:], dtype=m.dtype)                    # A^T M: rows
    at(xp, m, s)
    at(xp, s.swapaxes(0, 1), out.swapaxes(0, 1))                       # (A^T M) A


def _products_back(tiling, at, m, y_shape):
    """Y = A^T M A: the (side**2, OC, N*TH*TW) products of a ``tiling`` back to the C-contiguous
    (N, OC, OH, OW) output ``y_shape``."""
    xp = _xp(m)
    n, oc, oh, ow = y_shape
    th, tw = _winograd_tiles(oh, ow)
    k = tiling.side
    if m.shape != (k * k, oc, n * th * tw):
        raise ValueError(f"m has shape {m.shape}, expected {(k * k, oc, n * th * tw)}")
    y = xp.empty((n, oc, th, 2, tw, 2), dtype=m.dtype)                 # tile by tile
    _at_two_sided(xp, at, m.reshape(k, k, oc, n, th, tw), y.transpose(3, 5, 1, 0, 2, 4))
    return _crop(y.reshape(n, oc, 2 * th, 2 * tw), oh, ow)


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
    xp = _xp(w)
    oc, c = w.shape[:2]
    t = xp.empty((4, 3, oc, c), dtype=w.dtype)        # G g: (a, j, OC, C)
    _f2x3_g(xp, w.transpose(2, 3, 0, 1), t)
    u = xp.empty((4, 4, oc, c), dtype=w.dtype)        # (G g) G^T: (a, b, OC, C)
    _f2x3_g(xp, t.transpose(1, 0, 2, 3), u.transpose(1, 0, 2, 3))
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
    n, c, h, w = x.shape
    (ph, pw), (th, tw) = _tiling(K4S2, x.shape, padding)
    hp, wp = 4 * th + 2, 4 * tw + 2    # the last tile's patch ends at row 4 TH + 1
    xpad = xp.zeros((c, n, hp, wp), dtype=x.dtype)
    hh, ww = min(h, hp - ph), min(w, wp - pw)  # rows and columns past hp are never read
    xpad[:, :, ph:ph + hh, pw:pw + ww] = x.transpose(1, 0, 2, 3)[:, :, :hh, :ww]
    # X[c, r, s, n, u, v] = xpad[c, n, 2u + r, 2v + s]: the polyphase components (a view)
    X = xpad.reshape(c, n, hp // 2, 2, wp // 2, 2).transpose(0, 3, 5, 1, 2, 4)
    return _two_sided(xp, _k4s2_bt, (3, 3), X, th, tw).reshape(9, 4 * c, n * th * tw)


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
    xp = _xp(gu)
    _, oc, c4 = gu.shape
    c = c4 // 4
    gw = xp.empty((oc, c, 2, 2, 2, 2), dtype=gu.dtype)                 # (o, c, a, r, b, s)
    _at_two_sided(xp, _k4s2_at, gu.reshape(3, 3, oc, c, 2, 2), gw.transpose(2, 4, 0, 1, 3, 5))
    return gw.reshape(oc, c, 4, 4)
