"""Numba (CPU) Winograd transforms, part of :mod:`minigrad.kernels.numba_cpu` (see its docstring
for the fast-path policy): each one pass over its data where the NumPy reference
(:mod:`minigrad.kernels.reference_winograd`) makes 8 strided passes over arrays 4x the input's
size (input) and the products' size (output), which cost as much as the GEMMs they save.
Each tile's additions are the reference's, in its order (rows first, then columns), so the
results are bitwise equal to it (there are only additions, and exact multiplications by +-1
after them: nothing for LLVM to contract into an FMA). The Python wrappers share the geometry of
the reference (its ``Tiling`` s, :func:`~minigrad.kernels.reference_winograd.k4s2t_layout`) and
fall back to it on anything outside the fast path.
"""

import numpy as np
from numba import njit

from . import reference_winograd as ref
from . import threads
from .numba_cpu import _is_float_ndarray
from .reference_winograd import F2X3, F4X3, K4S2, K4S2F4, _crop, _tiling, _winograd_tiles


# ------------------------------------------------------------ Winograd F(2x2, 3x3)

@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f2x3_input_kernel(x, ph, pw, th, tw, v, lo, hi):
    """v (16, C, N*TH*TW) = B^T d B of every tile's 4x4 patch d of x zero-padded by (ph, pw),
    for the channels lo..hi-1."""
    n, c, h, w = x.shape
    xpad = np.zeros((2 * th + 2, 2 * tw + 2), x.dtype)
    t = np.empty((4, 2 * tw + 2), x.dtype)
    for ci in range(lo, hi):
        for b in range(n):
            for hh in range(h):
                for ww in range(w):
                    xpad[hh + ph, ww + pw] = x[b, ci, hh, ww]
            for i in range(th):
                r = 2 * i
                for e in range(2 * tw + 2):  # B^T d: the four rows of the patches at tile row i
                    t[0, e] = xpad[r, e] - xpad[r + 2, e]
                    t[1, e] = xpad[r + 1, e] + xpad[r + 2, e]
                    t[2, e] = xpad[r + 2, e] - xpad[r + 1, e]
                    t[3, e] = xpad[r + 1, e] - xpad[r + 3, e]
                base = (b * th + i) * tw
                for a in range(4):  # (B^T d) B
                    for j in range(tw):
                        q = 2 * j
                        v[4 * a, ci, base + j] = t[a, q] - t[a, q + 2]
                        v[4 * a + 1, ci, base + j] = t[a, q + 1] + t[a, q + 2]
                        v[4 * a + 2, ci, base + j] = t[a, q + 2] - t[a, q + 1]
                        v[4 * a + 3, ci, base + j] = t[a, q + 1] - t[a, q + 3]


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f2x3_output_kernel(m, th, tw, y, lo, hi):
    """y (N, OC, 2TH, 2TW) = A^T M A of every tile's 4x4 products in m (16, OC, N*TH*TW), for
    the output channels lo..hi-1."""
    n, oc = y.shape[0], y.shape[1]
    for o in range(lo, hi):
        for b in range(n):
            for i in range(th):
                base = (b * th + i) * tw
                for j in range(tw):  # scalars, no branches: the loop over j vectorises
                    col = base + j
                    s00 = m[0, o, col] + m[4, o, col] + m[8, o, col]  # A^T M, row 0
                    s01 = m[1, o, col] + m[5, o, col] + m[9, o, col]
                    s02 = m[2, o, col] + m[6, o, col] + m[10, o, col]
                    s03 = m[3, o, col] + m[7, o, col] + m[11, o, col]
                    s10 = m[4, o, col] - m[8, o, col] - m[12, o, col]  # row 1
                    s11 = m[5, o, col] - m[9, o, col] - m[13, o, col]
                    s12 = m[6, o, col] - m[10, o, col] - m[14, o, col]
                    s13 = m[7, o, col] - m[11, o, col] - m[15, o, col]
                    y[b, o, 2 * i, 2 * j] = s00 + s01 + s02             # (A^T M) A
                    y[b, o, 2 * i, 2 * j + 1] = s01 - s02 - s03
                    y[b, o, 2 * i + 1, 2 * j] = s10 + s11 + s12
                    y[b, o, 2 * i + 1, 2 * j + 1] = s11 - s12 - s13


@njit(cache=True, error_model="numpy", nogil=True)
def _f2x3_g(g0, g1, g2, half):
    """G g of three values: (g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2), the reference's
    operations in its order."""
    return g0, ((g0 + g1) + g2) * half, ((g0 - g1) + g2) * half, g2


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f2x3_weight_kernel(w, half, u, lo, hi):
    """u (16, OC, C) = G g G^T of every 3x3 kernel of w (OC, C, 3, 3), for the output channels
    lo..hi-1: rows first (G g), then columns; each output channel's 16 rows of C values are
    collected in a buffer and written out whole (sixteen scattered stores per kernel ran 3x
    slower than the reference)."""
    c = w.shape[1]
    t = np.empty((4, 3), w.dtype)
    row = np.empty((16, c), w.dtype)
    for o in range(lo, hi):
        for ci in range(c):
            for j in range(3):
                t[0, j], t[1, j], t[2, j], t[3, j] = _f2x3_g(w[o, ci, 0, j], w[o, ci, 1, j],
                                                             w[o, ci, 2, j], half)
            for a in range(4):
                u0, u1, u2, u3 = _f2x3_g(t[a, 0], t[a, 1], t[a, 2], half)
                row[4 * a, ci] = u0
                row[4 * a + 1, ci] = u1
                row[4 * a + 2, ci] = u2
                row[4 * a + 3, ci] = u3
        for k in range(16):
            for ci in range(c):
                u[k, o, ci] = row[k, ci]


# ------------------------------------------------------------ Winograd F(4x4, 3x3)
# The reference's operations in its order; its products by 2, 4 and 8 are sums here (s + s is
# 2s exactly, as is the product), so no constant has to be of the array's dtype.

@njit(cache=True, error_model="numpy", nogil=True)
def _f4x3_bt(d0, d1, d2, d3, d4, d5):
    """B^T d of six values (reference_winograd._f4x3_bt)."""
    e = d4 - d2
    f = d0 - d2
    f = f + f
    r0 = (f + f) + e
    f = d1 + d2
    f = f + f
    r1 = (d3 + d4) - (f + f)
    f = d1 - d2
    f = f + f
    r2 = (d4 - d3) + (f + f)
    f = d3 - d1
    f = f + f
    r3 = e + f
    r4 = e - f
    f = d1 - d3
    f = f + f
    r5 = (f + f) + (d5 - d3)
    return r0, r1, r2, r3, r4, r5


@njit(cache=True, error_model="numpy", nogil=True)
def _f4x3_at(m0, m1, m2, m3, m4, m5):
    """A^T m of six values (reference_winograd._f4x3_at)."""
    a = m1 + m2
    b = m1 - m2
    c = m3 + m4
    d = m3 - m4
    c2 = c + c
    d2 = d + d
    d4 = d2 + d2
    return (m0 + a) + c, d2 + b, a + (c2 + c2), (b + (d4 + d4)) + m5


@njit(cache=True, error_model="numpy", nogil=True)
def _f4x3_g(g0, g1, g2, four, minus_six, twenty_four):
    """G g of three values (reference_winograd._f4x3_g); the constants of g's dtype."""
    s = g0 + g2
    p = g2 * four + g0
    t = g1 + g1
    return (g0 / four, (s + g1) / minus_six, (s - g1) / minus_six, (p + t) / twenty_four,
            (p - t) / twenty_four, g2)


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f4x3_input_kernel(x, ph, pw, th, tw, v, lo, hi):
    """v (36, C, N*TH*TW) = B^T d B of every tile's 6x6 patch d of x zero-padded by (ph, pw),
    for the channels lo..hi-1. Per channel, the patches of all its tiles are gathered first
    (d[6p + q, tile]), then transformed in passes over all tiles at once (each a loop with six
    loads and six stores, which vectorises): B^T along the patch rows p (into e), then B along
    the columns q, written to v's rows. (Tile row by tile row, the loops were 4-18 long and
    ran 3x slower.)"""
    n, c, h, w = x.shape
    tiles = n * th * tw
    xpad = np.zeros((4 * th + 2, 4 * tw + 2), x.dtype)
    d = np.empty((36, tiles), x.dtype)
    e = np.empty((36, tiles), x.dtype)     # B^T d: row k, column q at 6k + q
    for ci in range(lo, hi):
        for b in range(n):
            for hh in range(h):
                for ww in range(w):
                    xpad[hh + ph, ww + pw] = x[b, ci, hh, ww]
            for i in range(th):
                base = (b * th + i) * tw
                for p in range(6):
                    for q in range(6):
                        for j in range(tw):
                            d[6 * p + q, base + j] = xpad[4 * i + p, 4 * j + q]
        for q in range(6):
            for t in range(tiles):
                e[q, t], e[6 + q, t], e[12 + q, t], e[18 + q, t], e[24 + q, t], e[30 + q, t] = \
                    _f4x3_bt(d[q, t], d[6 + q, t], d[12 + q, t], d[18 + q, t], d[24 + q, t],
                             d[30 + q, t])
        for k in range(6):
            r = 6 * k
            for t in range(tiles):
                (v[r, ci, t], v[r + 1, ci, t], v[r + 2, ci, t], v[r + 3, ci, t], v[r + 4, ci, t],
                 v[r + 5, ci, t]) = _f4x3_bt(e[r, t], e[r + 1, t], e[r + 2, t], e[r + 3, t],
                                             e[r + 4, t], e[r + 5, t])


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f4x3_output_kernel(m, th, tw, y, lo, hi):
    """y (N, OC, 4TH, 4TW) = A^T M A of every tile's 6x6 products in m (36, OC, N*TH*TW), for
    the output channels lo..hi-1. Per output channel, in passes over all its tiles at once
    (each a loop over contiguous rows with six loads and four stores, which vectorises): A^T
    along each of the six columns of products (into s), then along each of the four rows that
    gives (into z), and the tiles' 4x4 values out to y. (One tile at a time, 36 loads and 16
    stores per iteration, ran 4-5x slower: that loop stayed scalar.)"""
    cols = m.shape[2]
    s = np.empty((4, 6, cols), m.dtype)    # A^T M: row r, column k
    z = np.empty((16, cols), m.dtype)      # (A^T M) A: row r, column c at 4r + c
    for o in range(lo, hi):
        for k in range(6):
            for col in range(cols):
                s[0, k, col], s[1, k, col], s[2, k, col], s[3, k, col] = _f4x3_at(
                    m[k, o, col], m[6 + k, o, col], m[12 + k, o, col], m[18 + k, o, col],
                    m[24 + k, o, col], m[30 + k, o, col])
        for r in range(4):
            for col in range(cols):
                z[4 * r, col], z[4 * r + 1, col], z[4 * r + 2, col], z[4 * r + 3, col] = \
                    _f4x3_at(s[r, 0, col], s[r, 1, col], s[r, 2, col], s[r, 3, col],
                             s[r, 4, col], s[r, 5, col])
        _scatter_output_tiles(z, o, th, tw, 4, y)


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f4x3_weight_kernel(w, four, minus_six, twenty_four, u, lo, hi):
    """u (36, OC, C) = G g G^T of every 3x3 kernel of w (OC, C, 3, 3), for the output channels
    lo..hi-1: per output channel, G along the kernels' rows for all C input channels at once
    (into t), then along the columns, written to u's rows (loops over C, which vectorise; one
    kernel at a time ran 5x slower)."""
    c = w.shape[1]
    t = np.empty((6, 3, c), w.dtype)       # G g: row a, column j
    for o in range(lo, hi):
        for j in range(3):
            for ci in range(c):
                t[0, j, ci], t[1, j, ci], t[2, j, ci], t[3, j, ci], t[4, j, ci], t[5, j, ci] = \
                    _f4x3_g(w[o, ci, 0, j], w[o, ci, 1, j], w[o, ci, 2, j], four, minus_six,
                            twenty_four)
        for a in range(6):
            r = 6 * a
            for ci in range(c):
                (u[r, o, ci], u[r + 1, o, ci], u[r + 2, o, ci], u[r + 3, o, ci], u[r + 4, o, ci],
                 u[r + 5, o, ci]) = _f4x3_g(t[a, 0, ci], t[a, 1, ci], t[a, 2, ci], four,
                                            minus_six, twenty_four)

@njit(cache=True, error_model="numpy", nogil=True)
def _f4x3_a(g0, g1, g2, g3):
    """A g of four values (reference_winograd._f4x3_a)."""
    p = g0 + g2
    q = g1 + g3
    r = (g2 + g2)
    r = (r + r) + g0
    s = (g3 + g3)
    s = (s + s) + g1
    s = s + s
    return g0, p + q, p - q, r + s, r - s, g3


@njit(cache=True, error_model="numpy", nogil=True)
def _f4x3_gt(u0, u1, u2, u3, u4, u5, four, six, twelve, twenty_four):
    """G^T u of six values (reference_winograd._f4x3_gt); the constants of u's dtype."""
    a = u1 + u2
    b = u3 + u4
    return ((u0 / four - a / six) + b / twenty_four, (u2 - u1) / six + (u3 - u4) / twelve,
            (b - a) / six + u5)


@njit(cache=True, error_model="numpy", nogil=True)
def _scatter_output_tiles(z, o, th, tw, size, y):
    """y[b, o, size*i + p, size*j + q] = z[size*p + q, (b*TH + i)*TW + j]: the size x size
    tiles of output channel o, one row of z per position in the tile, into y (N, OC,
    size*TH, size*TW); the inverse of :func:`_gather_output_tiles`."""
    for b in range(y.shape[0]):
        for i in range(th):
            base = (b * th + i) * tw
            for p in range(size):
                for j in range(tw):
                    for q in range(size):
                        y[b, o, size * i + p, size * j + q] = z[size * p + q, base + j]


@njit(cache=True, error_model="numpy", nogil=True)
def _gather_output_tiles(gy, o, th, tw, size, g):
    """g[size*p + q, (b*TH + i)*TW + j] = gy[b, o, size*i + p, size*j + q], zero past gy's
    edge: the size x size tiles of output channel o, one row per position in the tile."""
    n, _, oh, ow = gy.shape
    for b in range(n):
        for i in range(th):
            base = (b * th + i) * tw
            for p in range(size):
                r = size * i + p
                for j in range(tw):
                    for q in range(size):
                        c = size * j + q
                        g[size * p + q, base + j] = gy[b, o, r, c] if r < oh and c < ow else 0


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f4x3_grad_output_kernel(gy, th, tw, z, lo, hi):
    """z (36, OC, N*TH*TW) = A g A^T of every 4x4 tile g of gy (N, OC, OH, OW), zeros past its
    edge, for the output channels lo..hi-1: per channel the tiles gathered (g[4p + q, tile]),
    then A along the tile rows p (into e) and along the columns q, in passes over all tiles."""
    tiles = gy.shape[0] * th * tw
    g = np.empty((16, tiles), gy.dtype)
    e = np.empty((24, tiles), gy.dtype)    # A g: row k, column q at 4k + q
    for o in range(lo, hi):
        _gather_output_tiles(gy, o, th, tw, 4, g)
        for q in range(4):
            for t in range(tiles):
                e[q, t], e[4 + q, t], e[8 + q, t], e[12 + q, t], e[16 + q, t], e[20 + q, t] = \
                    _f4x3_a(g[q, t], g[4 + q, t], g[8 + q, t], g[12 + q, t])
        for k in range(6):
            r = 6 * k
            for t in range(tiles):
                (z[r, o, t], z[r + 1, o, t], z[r + 2, o, t], z[r + 3, o, t], z[r + 4, o, t],
                 z[r + 5, o, t]) = _f4x3_a(e[4 * k, t], e[4 * k + 1, t], e[4 * k + 2, t],
                                           e[4 * k + 3, t])


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_f4x3_grad_weight_kernel(gu, four, six, twelve, twenty_four, gw, lo, hi):
    """gw (OC, C, 3, 3) = G^T gU G of the (36, OC, C) products gu, for the output channels
    lo..hi-1: G^T along the rows of positions for all C input channels at once (into s), then
    along the columns."""
    c = gu.shape[2]
    s = np.empty((3, 6, c), gu.dtype)      # G^T gU: row r, column b
    for o in range(lo, hi):
        for b in range(6):
            for ci in range(c):
                s[0, b, ci], s[1, b, ci], s[2, b, ci] = _f4x3_gt(
                    gu[b, o, ci], gu[6 + b, o, ci], gu[12 + b, o, ci], gu[18 + b, o, ci],
                    gu[24 + b, o, ci], gu[30 + b, o, ci], four, six, twelve, twenty_four)
        for r in range(3):
            for ci in range(c):
                gw[o, ci, r, 0], gw[o, ci, r, 1], gw[o, ci, r, 2] = _f4x3_gt(
                    s[r, 0, ci], s[r, 1, ci], s[r, 2, ci], s[r, 3, ci], s[r, 4, ci], s[r, 5, ci],
                    four, six, twelve, twenty_four)


# ------------------------------------------------- Winograd for 4x4 stride-2 convolutions

@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2_weight_kernel(w, u, lo, hi):
    """u (9, OC, 4C) = G g G^T of the polyphase 2x2 kernels of w (OC, C, 4, 4), for the output
    channels lo..hi-1."""
    oc, c = w.shape[0], w.shape[1]
    for o in range(lo, hi):
        for ci in range(c):
            for r in range(2):
                for s in range(2):
                    k = (ci * 2 + r) * 2 + s
                    g00, g01 = w[o, ci, r, s], w[o, ci, r, 2 + s]
                    g10, g11 = w[o, ci, 2 + r, s], w[o, ci, 2 + r, 2 + s]
                    # kron(G, G) rows in the reference's order: (G g) first, then (. G^T)
                    u[0, o, k] = g00
                    u[1, o, k] = g00 + g01
                    u[2, o, k] = g01
                    u[3, o, k] = g00 + g10
                    u[4, o, k] = g00 + g01 + g10 + g11
                    u[5, o, k] = g01 + g11
                    u[6, o, k] = g10
                    u[7, o, k] = g10 + g11
                    u[8, o, k] = g11


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2_input_kernel(x, ph, pw, th, tw, v, lo, hi):
    """v (9, 4C, N*TH*TW) = B^T d B of every tile's 3x3 patch of the polyphase components of
    the channels lo..hi-1."""
    n, c, h, w = x.shape
    hp, wp = 4 * th + 2, 4 * tw + 2
    hh, ww = min(h, hp - ph), min(w, wp - pw)
    xpad = np.zeros((hp, wp), x.dtype)
    t = np.empty((3, 2 * tw + 1), x.dtype)
    for ci in range(lo, hi):
        for b in range(n):
            for i in range(hh):
                for j in range(ww):
                    xpad[i + ph, j + pw] = x[b, ci, i, j]
            for r in range(2):
                for s in range(2):
                    k = (ci * 2 + r) * 2 + s
                    for ti in range(th):
                        u0 = 4 * ti + r  # X_rs row 2 ti + a is xpad row 4 ti + 2a + r
                        for e in range(2 * tw + 1):
                            col = 2 * e + s
                            t[0, e] = xpad[u0, col] - xpad[u0 + 2, col]
                            t[1, e] = xpad[u0 + 2, col]
                            t[2, e] = xpad[u0 + 4, col] - xpad[u0 + 2, col]
                        base = (b * th + ti) * tw
                        for a in range(3):
                            for tj in range(tw):
                                q = 2 * tj
                                v[3 * a, k, base + tj] = t[a, q] - t[a, q + 1]
                                v[3 * a + 1, k, base + tj] = t[a, q + 1]
                                v[3 * a + 2, k, base + tj] = t[a, q + 2] - t[a, q + 1]


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2_output_kernel(m, th, tw, y, lo, hi):
    """y (N, OC, 2TH, 2TW) = A^T M A of every tile's 3x3 products in m (9, OC, N*TH*TW), for
    the output channels lo..hi-1."""
    n, oc = y.shape[0], y.shape[1]
    for o in range(lo, hi):
        for b in range(n):
            for i in range(th):
                base = (b * th + i) * tw
                for j in range(tw):
                    col = base + j
                    s00 = m[0, o, col] + m[3, o, col]
                    s01 = m[1, o, col] + m[4, o, col]
                    s02 = m[2, o, col] + m[5, o, col]
                    s10 = m[3, o, col] + m[6, o, col]
                    s11 = m[4, o, col] + m[7, o, col]
                    s12 = m[5, o, col] + m[8, o, col]
                    y[b, o, 2 * i, 2 * j] = s00 + s01
                    y[b, o, 2 * i, 2 * j + 1] = s01 + s02
                    y[b, o, 2 * i + 1, 2 * j] = s10 + s11
                    y[b, o, 2 * i + 1, 2 * j + 1] = s11 + s12


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2_grad_weight_kernel(gu, gw, lo, hi):
    """gw (OC, C, 4, 4) = G^T gU G of gu (9, OC, 4C) for the output channels lo..hi-1: rows
    first (S = A^T m), then columns; gw[o, c, 2a + r, 2b + s] from gu[:, o, 4c + 2r + s]."""
    c = gw.shape[1]
    for o in range(lo, hi):
        for ci in range(c):
            for r in range(2):
                for s in range(2):
                    k = (ci * 2 + r) * 2 + s
                    for a in range(2):
                        s0 = gu[3 * a, o, k] + gu[3 * a + 3, o, k]
                        s1 = gu[3 * a + 1, o, k] + gu[3 * a + 4, o, k]
                        s2 = gu[3 * a + 2, o, k] + gu[3 * a + 5, o, k]
                        gw[o, ci, 2 * a + r, s] = s0 + s1
                        gw[o, ci, 2 * a + r, 2 + s] = s1 + s2


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2_grad_output_kernel(gy, th, tw, z, lo, hi):
    """z (9, OC, N*TH*TW) = A g A^T of every 2x2 tile g of gy (N, OC, OH, OW), zeros past its
    edge, for the output channels lo..hi-1: per channel the tiles gathered (g[2p + q, tile]),
    then A along the tile rows p (into e) and along the columns q, in passes over all tiles
    (the reference's order; A's rows are (g0, g0 + g1, g1))."""
    tiles = gy.shape[0] * th * tw
    g = np.empty((4, tiles), gy.dtype)
    e = np.empty((6, tiles), gy.dtype)     # A g: row k, column q at 2k + q
    for o in range(lo, hi):
        _gather_output_tiles(gy, o, th, tw, 2, g)
        for q in range(2):
            for t in range(tiles):
                e[q, t] = g[q, t]
                e[2 + q, t] = g[q, t] + g[2 + q, t]
                e[4 + q, t] = g[2 + q, t]
        for k in range(3):
            for t in range(tiles):
                z[3 * k, o, t] = e[2 * k, t]
                z[3 * k + 1, o, t] = e[2 * k, t] + e[2 * k + 1, t]
                z[3 * k + 2, o, t] = e[2 * k + 1, t]


# ------------------------------------ Winograd F(4x4, 2x2) for 4x4 stride-2 convolutions
# The reference's operations in its order (reference_winograd._k4s2f4_*); its products by 2, 4
# and 8 are sums here, its divisions by 2 and 6 divisions by constants of the array's dtype.
# The kernels are F(4x4, 3x3)'s, with 5x5 patches of the four polyphase components.

@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_bt(d0, d1, d2, d3, d4):
    """B^T d of five values (reference_winograd._k4s2f4_bt)."""
    a = d3 - d1
    b = d2 - d3
    f = d0 - d2
    g = d2 - d1
    return (f + f) + a, (d1 + d1) + b, (g + g) + b, a, (d4 - d2) - (a + a)


@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_g(g0, g1, two, six):
    """G g of two values (reference_winograd._k4s2f4_g); the constants of g's dtype."""
    return g0 / two, (g0 + g1) / two, (g0 - g1) / six, ((g1 + g1) + g0) / six, g1


@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_at(m0, m1, m2, m3, m4):
    """A^T m of five values (reference_winograd._k4s2f4_at)."""
    p = m1 + m2
    q = m1 - m2
    t2 = m3 + m3
    t4 = t2 + t2
    t8 = t4 + t4
    return (m0 + p) + m3, q + t2, p + t4, (q + t8) + m4


@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_a(g0, g1, g2, g3):
    """A g of four values (reference_winograd._k4s2f4_a): F(4x4, 3x3)'s without its point -2."""
    a0, a1, a2, a3, _, a5 = _f4x3_a(g0, g1, g2, g3)
    return a0, a1, a2, a3, a5


@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_gt(u0, u1, u2, u3, u4, two, six):
    """G^T u of five values (reference_winograd._k4s2f4_gt); the constants of u's dtype."""
    t = (u2 + u3) / six
    t2 = ((u3 + u3) - u2) / six
    return (u0 + u1) / two + t, (u1 / two + t2) + u4


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2f4_weight_kernel(w, two, six, u, lo, hi):
    """u (25, OC, 4C) = G g G^T of the polyphase 2x2 kernels of w (OC, C, 4, 4), for the output
    channels lo..hi-1: per output channel, G along the kernels' rows for all 4C kernels at
    once (into t), then along the columns, written to u's rows."""
    c = w.shape[1]
    t = np.empty((5, 2, 4 * c), w.dtype)   # G g: row a, column b
    for o in range(lo, hi):
        for ci in range(c):
            for r in range(2):
                for s in range(2):
                    k = (ci * 2 + r) * 2 + s
                    for b in range(2):
                        t[0, b, k], t[1, b, k], t[2, b, k], t[3, b, k], t[4, b, k] = _k4s2f4_g(
                            w[o, ci, r, 2 * b + s], w[o, ci, 2 + r, 2 * b + s], two, six)
        for a in range(5):
            row = 5 * a
            for k in range(4 * c):
                u[row, o, k], u[row + 1, o, k], u[row + 2, o, k], u[row + 3, o, k], \
                    u[row + 4, o, k] = _k4s2f4_g(t[a, 0, k], t[a, 1, k], two, six)


@njit(cache=True, error_model="numpy", nogil=True)
def _batch_last(x, ci, i0, i1, j0, j1, off_h, off_w, xt):
    """xt[i, j, b] = x[b, ci, i + off_h, j + off_w] for i in [i0, i1), j in [j0, j1) (the rest of
    xt, zeros, untouched): one channel of the batch with the images innermost. Row by row of
    x (with the images innermost here, the reads a power of two apart fell into one cache set:
    the transforms that use it ran 1.5x slower)."""
    for i in range(i0, i1):
        for b in range(x.shape[0]):
            for j in range(j0, j1):
                xt[i, j, b] = x[b, ci, i + off_h, j + off_w]


@njit(cache=True, error_model="numpy", nogil=True)
def _batch_first(buf, o, y):
    """y[b, o, i, j] = buf[i, j, b] over y's (OH, OW) (buf may overhang it): channel o of the
    batch back from the images innermost."""
    for b in range(y.shape[0]):
        for i in range(y.shape[2]):
            for j in range(y.shape[3]):
                y[b, o, i, j] = buf[i, j, b]


@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_patches(xt, tile_step, step, r0, s0, th, tw, v, row, e):
    """v[:, row, (i*TW + j)*N + b] = B^T d B of every tile's 5x5 patch d of one channel's padded
    images xt (HP, WP, N), patch value (p, q) of tile (i, j) at xt[tile_step*i + step*p + r0,
    tile_step*j + step*q + s0, b]: B^T along the patch rows (into e, (25, N)), then B along
    its columns, straight into v; every loop runs over the N contiguous images (the tiles per
    image are few, 1 to 16 in the GANs: tile by tile within an image the loops were 1-2 long).
    (Collecting a channel's 25 rows in a buffer and writing them out one at a time was 5-15%
    slower.)"""
    n = xt.shape[2]
    for ti in range(th):
        u0 = tile_step * ti + r0
        for tj in range(tw):
            c0 = tile_step * tj + s0
            base = (ti * tw + tj) * n
            for q in range(5):
                cq = c0 + step * q
                for b in range(n):
                    e[q, b], e[5 + q, b], e[10 + q, b], e[15 + q, b], e[20 + q, b] = _k4s2f4_bt(
                        xt[u0, cq, b], xt[u0 + step, cq, b], xt[u0 + 2 * step, cq, b],
                        xt[u0 + 3 * step, cq, b], xt[u0 + 4 * step, cq, b])
            for a in range(5):
                k = 5 * a
                for b in range(n):
                    v[k, row, base + b], v[k + 1, row, base + b], v[k + 2, row, base + b], \
                        v[k + 3, row, base + b], v[k + 4, row, base + b] = _k4s2f4_bt(
                            e[k, b], e[k + 1, b], e[k + 2, b], e[k + 3, b], e[k + 4, b])


@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_at_columns(m, first, o, s):
    """s[r, b, tile] = (A^T M)[r, b]: A^T along each of the five columns of every tile's 5x5
    products m[first + 5a + b, o, tile], in passes over all tiles."""
    for k in range(5):
        for col in range(m.shape[2]):
            s[0, k, col], s[1, k, col], s[2, k, col], s[3, k, col] = _k4s2f4_at(
                m[first + k, o, col], m[first + 5 + k, o, col], m[first + 10 + k, o, col],
                m[first + 15 + k, o, col], m[first + 20 + k, o, col])


@njit(cache=True, error_model="numpy", nogil=True)
def _k4s2f4_tiles_out(s, th, tw, step, r0, s0, buf):
    """buf[step*(4i + p) + r0, step*(4j + q) + s0, b] = (A^T M A)[p, q] of tile (i, j) of image
    b: A^T along the rows of s (the tiles' A^T M, (4, 5, TH*TW*N), the images innermost), each
    loop over the N images (every step-th pixel from (r0, s0): one phase of a transposed
    convolution's output)."""
    n = buf.shape[2]
    for p in range(4):
        for ti in range(th):
            yr = step * (4 * ti + p) + r0
            for tj in range(tw):
                base = (ti * tw + tj) * n
                x0 = 4 * step * tj + s0
                for b in range(n):
                    buf[yr, x0, b], buf[yr, x0 + step, b], buf[yr, x0 + 2 * step, b], \
                        buf[yr, x0 + 3 * step, b] = _k4s2f4_at(
                            s[p, 0, base + b], s[p, 1, base + b], s[p, 2, base + b],
                            s[p, 3, base + b], s[p, 4, base + b])


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2f4_input_kernel(x, ph, pw, th, tw, v, lo, hi):
    """v (25, 4C, TH*TW*N) = B^T d B of every tile's 5x5 patch of the polyphase components of
    the channels lo..hi-1: per channel the batch padded with the images innermost, then per
    component (r, s) its patches (component row 4i + p is the padded row 8i + 2p + r)."""
    n, c, h, w = x.shape
    hp, wp = 8 * th + 2, 8 * tw + 2
    xt = np.zeros((hp, wp, n), x.dtype)
    e = np.empty((25, n), x.dtype)         # B^T d: row k, column q at 5k + q
    for ci in range(lo, hi):
        _batch_last(x, ci, ph, ph + min(h, hp - ph), pw, pw + min(w, wp - pw), -ph, -pw, xt)
        for r in range(2):
            for s in range(2):
                _k4s2f4_patches(xt, 8, 2, r, s, th, tw, v, (ci * 2 + r) * 2 + s, e)


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2f4_output_kernel(m, th, tw, y, lo, hi):
    """y (N, OC, OH, OW) = A^T M A of every tile's 5x5 products in m (25, OC, TH*TW*N), for the
    output channels lo..hi-1: per channel A^T along the products' columns (into s), then along
    the rows that gives into a buffer with the images innermost, then out to y, cropped."""
    s = np.empty((4, 5, m.shape[2]), m.dtype)
    buf = np.empty((4 * th, 4 * tw, y.shape[0]), m.dtype)
    for o in range(lo, hi):
        _k4s2f4_at_columns(m, 0, o, s)
        _k4s2f4_tiles_out(s, th, tw, 1, 0, 0, buf)
        _batch_first(buf, o, y)


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2f4_grad_output_kernel(gy, th, tw, z, lo, hi):
    """z (25, OC, TH*TW*N) = A g A^T of every 4x4 tile g of gy (N, OC, OH, OW), zeros past its
    edge, for the output channels lo..hi-1: per channel the batch with the images innermost,
    then per tile A along its rows (into e) and along its columns, each loop over the images."""
    n, _, oh, ow = gy.shape
    gt = np.zeros((4 * th, 4 * tw, n), gy.dtype)
    e = np.empty((20, n), gy.dtype)        # A g: row k, column q at 4k + q
    for o in range(lo, hi):
        _batch_last(gy, o, 0, oh, 0, ow, 0, 0, gt)
        for ti in range(th):
            for tj in range(tw):
                base = (ti * tw + tj) * n
                for q in range(4):
                    cq = 4 * tj + q
                    for b in range(n):
                        e[q, b], e[4 + q, b], e[8 + q, b], e[12 + q, b], e[16 + q, b] = \
                            _k4s2f4_a(gt[4 * ti, cq, b], gt[4 * ti + 1, cq, b],
                                      gt[4 * ti + 2, cq, b], gt[4 * ti + 3, cq, b])
                for k in range(5):
                    r = 5 * k
                    for b in range(n):
                        z[r, o, base + b], z[r + 1, o, base + b], z[r + 2, o, base + b], \
                            z[r + 3, o, base + b], z[r + 4, o, base + b] = _k4s2f4_a(
                                e[4 * k, b], e[4 * k + 1, b], e[4 * k + 2, b], e[4 * k + 3, b])


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2f4_grad_weight_kernel(gu, two, six, gw, lo, hi):
    """gw (OC, C, 4, 4) = G^T gU G of the (25, OC, 4C) products gu, for the output channels
    lo..hi-1: G^T along the rows of positions for all 4C kernels at once (into s), then along
    the columns; gw[o, c, 2a + r, 2b + s] from column 4c + 2r + s."""
    c4 = gu.shape[2]
    s = np.empty((2, 5, c4), gu.dtype)     # G^T gU: row a, column b
    for o in range(lo, hi):
        for b in range(5):
            for k in range(c4):
                s[0, b, k], s[1, b, k] = _k4s2f4_gt(gu[b, o, k], gu[5 + b, o, k],
                                                    gu[10 + b, o, k], gu[15 + b, o, k],
                                                    gu[20 + b, o, k], two, six)
        for a in range(2):
            for k in range(c4):
                ci, r, ss = k >> 2, (k >> 1) & 1, k & 1
                gw[o, ci, 2 * a + r, ss], gw[o, ci, 2 * a + r, 2 + ss] = _k4s2f4_gt(
                    s[a, 0, k], s[a, 1, k], s[a, 2, k], s[a, 3, k], s[a, 4, k], two, six)


# ------------------------ Winograd F(4x4, 2x2) for 4x4 stride-2 transposed convolutions
# Each phase (r, s) is F(4x4, 2x2) on shifted 5x5 patches of x (reference_winograd's
# winograd_k4s2tf4_*): the kernels above, with the phases' patch offsets and taps.

@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2tf4_weight_kernel(w, ph, pw, two, six, u, lo, hi):
    """u (100, OC, C) = G g_rs G^T of the four phases' 2x2 kernels g_rs[c, o, a, b] =
    w[c, o, t_r + 2 - 2a, t_s + 2 - 2b] (t_r = (r + ph) % 2) of w (C, OC, 4, 4), phase (r, s)
    at rows 25 (2r + s), for the output channels lo..hi-1: per output channel and phase, G along
    the kernels' rows for all C input channels at once (into t), then along the columns."""
    c = w.shape[0]
    t = np.empty((5, 2, c), w.dtype)       # G g: row a, column b
    for o in range(lo, hi):
        for r in range(2):
            i = (r + ph) % 2
            for s in range(2):
                j = (s + pw) % 2
                for b in range(2):
                    for ci in range(c):
                        t[0, b, ci], t[1, b, ci], t[2, b, ci], t[3, b, ci], t[4, b, ci] = \
                            _k4s2f4_g(w[ci, o, i + 2, j + 2 - 2 * b], w[ci, o, i, j + 2 - 2 * b],
                                      two, six)
                for a in range(5):
                    row = 25 * (2 * r + s) + 5 * a
                    for ci in range(c):
                        u[row, o, ci], u[row + 1, o, ci], u[row + 2, o, ci], \
                            u[row + 3, o, ci], u[row + 4, o, ci] = _k4s2f4_g(
                                t[a, 0, ci], t[a, 1, ci], two, six)


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2tf4_input_kernel(x, off_h, off_w, dr, ds, th, tw, v, lo, hi):
    """v (4, 25, C, TH*TW*N) = B^T d B of each phase's 5x5 patch d of every 8x8 output tile,
    for the channels lo..hi-1: per channel the batch padded with the images innermost (row i
    is x row i + off_h), then per phase (r, s) its patches (tile row i's from row 4i + r dr)."""
    n, c, h, w = x.shape
    hp, wp = 4 * th + 1 + dr, 4 * tw + 1 + ds
    xt = np.zeros((hp, wp, n), x.dtype)
    e = np.empty((25, n), x.dtype)
    i0, i1 = max(0, -off_h), min(hp, h - off_h)
    j0, j1 = max(0, -off_w), min(wp, w - off_w)
    for ci in range(lo, hi):
        _batch_last(x, ci, i0, i1, j0, j1, off_h, off_w, xt)
        for r in range(2):
            for s in range(2):
                _k4s2f4_patches(xt, 4, 1, r * dr, s * ds, th, tw, v[2 * r + s], ci, e)


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2tf4_output_kernel(m, th, tw, y, lo, hi):
    """y (N, OC, OH, OW) = each phase's A^T M A of every tile's 5x5 products in m (100, OC,
    TH*TW*N, the images innermost; phase (r, s) at rows 25 (2r + s)) at its pixels
    (2a + r, 2b + s), for the output channels lo..hi-1: per channel and phase as
    winograd_k4s2f4_output's, into one buffer, then out to y, cropped."""
    s = np.empty((4, 5, m.shape[2]), m.dtype)
    buf = np.empty((8 * th, 8 * tw, y.shape[0]), m.dtype)
    for o in range(lo, hi):
        for r in range(2):
            for c in range(2):
                _k4s2f4_at_columns(m, 25 * (2 * r + c), o, s)
                _k4s2f4_tiles_out(s, th, tw, 2, r, c, buf)
        _batch_first(buf, o, y)


# --------------------------------------- Winograd for 4x4 stride-2 transposed convolutions
# Each kernel's outermost loop runs over [lo, hi) (output or input channels), its temporaries
# allocated per call: a caller may split that range into independent chunks. The tiles'
# columns are ordered (th, tw, n), so that with x's columns split by parity and the batch last
# (one channel at a time, in a small buffer; y's the same way back) every inner loop is a
# unit-stride run over a tile row's TW*N columns of V or M, long even for 4x4 images.

@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2t_weight_kernel(w, ph, pw, slots, signs, u, lo, hi):
    """u (36, OC, C) = G g_rs G^T of the phases' 2x2 kernels of w (C, OC, 4, 4), times the
    slots' signs (+-1: exact), for the output channels lo..hi; slots (2, 2, 9) and signs (36,)
    as in reference_winograd.k4s2t_layout."""
    c = w.shape[0]
    g = np.empty((4, 4, c), w.dtype)   # w[:, o], taps first
    for o in range(lo, hi):
        for ci in range(c):
            for i in range(4):
                for j in range(4):
                    g[i, j, ci] = w[ci, o, i, j]
        for r in range(2):
            i = (r + ph) % 2
            for s in range(2):
                j = (s + pw) % 2
                # one slot's row at a time: the 36 rows of u lie OC*C apart, which for powers of
                # two is one cache set; writing them together thrashed it (4x slower)
                z = slots[r, s, 0]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * g[i + 2, j + 2, ci]
                z = slots[r, s, 1]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * (g[i + 2, j + 2, ci] + g[i + 2, j, ci])
                z = slots[r, s, 2]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * g[i + 2, j, ci]
                z = slots[r, s, 3]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * (g[i + 2, j + 2, ci] + g[i, j + 2, ci])
                z = slots[r, s, 4]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * (g[i + 2, j + 2, ci] + g[i + 2, j, ci]
                                              + g[i, j + 2, ci] + g[i, j, ci])
                z = slots[r, s, 5]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * (g[i + 2, j, ci] + g[i, j, ci])
                z = slots[r, s, 6]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * g[i, j + 2, ci]
                z = slots[r, s, 7]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * (g[i, j + 2, ci] + g[i, j, ci])
                z = slots[r, s, 8]
                for ci in range(c):
                    u[z, o, ci] = signs[z] * g[i, j, ci]


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2t_input_kernel(x, off_h, off_w, th, tw, kh, kw, v, lo, hi):
    """v (KH*KW, C, TH*TW*N): the kh x kw transformed values (5 or 3 each way) of every tile,
    for the input channels lo..hi; the padded image's row 0 is x row off_h (column off_w)."""
    n, h, w = x.shape[0], x.shape[2], x.shape[3]
    hp = 2 * th + kh // 2
    i0, i1 = max(0, -off_h), min(hp, h - off_h)
    j0, j1 = max(0, -off_w), min(2 * tw + 2, w - off_w)
    run = tw * n                               # one tile row's columns (tw, n) in v
    # one channel padded, its columns split by parity, batch last: xpad[i, j % 2, j // 2, b],
    # so that every value below is a unit-stride run over a tile row's (tw, n)
    xpad = np.zeros((hp, 2, tw + 1, n), x.dtype)
    t = np.empty((kh, 2, tw + 1, n), x.dtype)  # the rows' values at one tile row
    e0, e1 = (j0 + 1) // 2, (j1 + 1) // 2      # even columns 2jj in [j0, j1)
    d0, d1 = j0 // 2, j1 // 2                  # odd columns 2jj + 1 in [j0, j1)
    for ci in range(lo, hi):
        for b in range(n):
            for i in range(i0, i1):
                for jj in range(e0, e1):
                    xpad[i, 0, jj, b] = x[b, ci, i + off_h, 2 * jj + off_w]
                for jj in range(d0, d1):
                    xpad[i, 1, jj, b] = x[b, ci, i + off_h, 2 * jj + 1 + off_w]
        xf = xpad.reshape(hp, 2 * run + 2 * n)
        tf = t.reshape(kh, 2 * run + 2 * n)
        for ti in range(th):
            r0 = 2 * ti
            # the rows' values, then the columns' (the reference's order)
            for e in range(2 * run + 2 * n):
                tf[0, e] = xf[r0, e] - xf[r0 + 1, e]
                tf[1, e] = xf[r0 + 1, e]
                tf[2, e] = xf[r0 + 2, e] - xf[r0 + 1, e]
            if kh == 5:
                for e in range(2 * run + 2 * n):
                    tf[3, e] = xf[r0 + 2, e]
                    tf[4, e] = xf[r0 + 3, e] - xf[r0 + 2, e]
            col = ti * run
            odd = run + n                          # where the odd columns start in a row of tf
            for k in range(kh):
                q = k * kw
                for f in range(run):               # even column 2tj + 2 is f + n
                    v[q, ci, col + f] = tf[k, f] - tf[k, odd + f]
                    v[q + 1, ci, col + f] = tf[k, odd + f]
                    v[q + 2, ci, col + f] = tf[k, n + f] - tf[k, odd + f]
                if kw == 5:
                    for f in range(run):
                        v[q + 3, ci, col + f] = tf[k, n + f]
                        v[q + 4, ci, col + f] = tf[k, odd + n + f] - tf[k, n + f]


@njit(cache=True, error_model="numpy", nogil=True)
def _winograd_k4s2t_output_kernel(m, slots, th, tw, y, lo, hi):
    """y (N, OC, OH, OW) = A^T M A of each phase's 3x3 products (slots (2, 2, 9) of m
    (36, OC, TH*TW*N)), for the output channels lo..hi."""
    n, oh, ow = y.shape[0], y.shape[2], y.shape[3]
    run = tw * n
    # one output channel, batch last, its columns X = 4tj + d as buf[Y, d, tj, b]: each phase's
    # value below is a unit-stride run over a tile row's (tw, n)
    buf = np.empty((4 * th, 4, run), m.dtype)
    for o in range(lo, hi):
        for ti in range(th):
            col = ti * run
            for r in range(2):
                yr = 4 * ti + r
                for s in range(2):
                    z0, z1, z2 = slots[r, s, 0], slots[r, s, 1], slots[r, s, 2]
                    z3, z4, z5 = slots[r, s, 3], slots[r, s, 4], slots[r, s, 5]
                    z6, z7, z8 = slots[r, s, 6], slots[r, s, 7], slots[r, s, 8]
                    for f in range(run):
                        s00 = m[z0, o, col + f] + m[z3, o, col + f]
                        s01 = m[z1, o, col + f] + m[z4, o, col + f]
                        s02 = m[z2, o, col + f] + m[z5, o, col + f]
                        s10 = m[z3, o, col + f] + m[z6, o, col + f]
                        s11 = m[z4, o, col + f] + m[z7, o, col + f]
                        s12 = m[z5, o, col + f] + m[z8, o, col + f]
                        buf[yr, s, f] = s00 + s01
                        buf[yr, s + 2, f] = s01 + s02
                        buf[yr + 2, s, f] = s10 + s11
                        buf[yr + 2, s + 2, f] = s11 + s12
        for b in range(n):
            for i in range(oh):
                for j in range(ow):
                    y[b, o, i, j] = buf[i, j % 4, (j // 4) * n + b]


# ------------------------------------------------------------------------------- wrappers

def _input(tiling, kernel, reference, x, padding):
    """V of x by the Numba ``kernel`` of ``tiling``: (side**2, phases*C, N*TH*TW)."""
    if not _is_float_ndarray(x) or x.ndim != 4:
        return reference(x, padding)
    n, c = x.shape[:2]
    (ph, pw), (th, tw) = _tiling(tiling, x.shape, padding)  # raises on an empty output
    v = np.empty((tiling.side ** 2, tiling.phases * c, n * th * tw), dtype=x.dtype)
    threads.run(kernel, c, np.ascontiguousarray(x), ph, pw, th, tw, v, work=v.size)
    return v


def _output(tiling, kernel, reference, m, y_shape):
    """Y = A^T M A by the Numba ``kernel`` of ``tiling``: the C-contiguous output ``y_shape``."""
    n, oc, oh, ow = y_shape
    th, tw = _winograd_tiles(oh, ow, tiling.tile)
    if not _is_float_ndarray(m) or m.shape != (tiling.side ** 2, oc, n * th * tw):
        return reference(m, y_shape)
    y = np.empty((n, oc, tiling.tile * th, tiling.tile * tw), dtype=m.dtype)
    threads.run(kernel, oc, np.ascontiguousarray(m), th, tw, y, work=m.size)
    return _crop(y, oh, ow)  # the last tiles overhang an odd output


def _grad_output(tiling, kernel, reference, gy):
    """Z = A gY A^T by the Numba ``kernel`` of ``tiling``: (side**2, OC, N*TH*TW)."""
    if not _is_float_ndarray(gy) or gy.ndim != 4:
        return reference(gy)
    n, oc, oh, ow = gy.shape
    th, tw = _winograd_tiles(oh, ow, tiling.tile)
    z = np.empty((tiling.side ** 2, oc, n * th * tw), dtype=gy.dtype)
    threads.run(kernel, oc, np.ascontiguousarray(gy), th, tw, z, work=z.size)
    return z


def winograd_f2x3_input(x, padding):
    """Numba winograd_f2x3_input; see :func:`minigrad.kernels.reference.winograd_f2x3_input`."""
    return _input(F2X3, _winograd_f2x3_input_kernel, ref.winograd_f2x3_input, x, padding)


def winograd_f2x3_output(m, y_shape):
    """Numba winograd_f2x3_output; see :func:`minigrad.kernels.reference.winograd_f2x3_output`."""
    return _output(F2X3, _winograd_f2x3_output_kernel, ref.winograd_f2x3_output, m, y_shape)


def _weight_3x3(side, kernel, reference, w, *constants):
    """U = G g G^T of a (OC, C, 3, 3) w by the Numba ``kernel`` (its ``constants`` of w's
    dtype before u): (side**2, OC, C)."""
    if not _is_float_ndarray(w) or w.ndim != 4 or w.shape[2:] != (3, 3):
        return reference(w)
    u = np.empty((side * side, w.shape[0], w.shape[1]), dtype=w.dtype)
    threads.run(kernel, w.shape[0], np.ascontiguousarray(w),
                *(w.dtype.type(k) for k in constants), u, work=u.size)
    return u


def winograd_f2x3_weight(w):
    """Numba winograd_f2x3_weight; see :func:`minigrad.kernels.reference.winograd_f2x3_weight`."""
    return _weight_3x3(4, _winograd_f2x3_weight_kernel, ref.winograd_f2x3_weight, w, 0.5)


def winograd_f4x3_input(x, padding):
    """Numba winograd_f4x3_input; see :func:`minigrad.kernels.reference.winograd_f4x3_input`."""
    return _input(F4X3, _winograd_f4x3_input_kernel, ref.winograd_f4x3_input, x, padding)


def winograd_f4x3_output(m, y_shape):
    """Numba winograd_f4x3_output; see :func:`minigrad.kernels.reference.winograd_f4x3_output`."""
    return _output(F4X3, _winograd_f4x3_output_kernel, ref.winograd_f4x3_output, m, y_shape)


def winograd_f4x3_weight(w):
    """Numba winograd_f4x3_weight; see :func:`minigrad.kernels.reference.winograd_f4x3_weight`."""
    return _weight_3x3(6, _winograd_f4x3_weight_kernel, ref.winograd_f4x3_weight, w, 4, -6, 24)


def winograd_f4x3_grad_output(gy):
    """Numba winograd_f4x3_grad_output; see
    :func:`minigrad.kernels.reference.winograd_f4x3_grad_output`."""
    return _grad_output(F4X3, _winograd_f4x3_grad_output_kernel, ref.winograd_f4x3_grad_output,
                        gy)


def winograd_f4x3_grad_weight(gu):
    """Numba winograd_f4x3_grad_weight; see
    :func:`minigrad.kernels.reference.winograd_f4x3_grad_weight`."""
    if not _is_float_ndarray(gu) or gu.ndim != 3 or gu.shape[0] != 36:
        return ref.winograd_f4x3_grad_weight(gu)
    oc, c = gu.shape[1:]
    gw = np.empty((oc, c, 3, 3), dtype=gu.dtype)
    dt = gu.dtype.type
    threads.run(_winograd_f4x3_grad_weight_kernel, oc, np.ascontiguousarray(gu), dt(4), dt(6),
                dt(12), dt(24), gw, work=gu.size)
    return gw


def _polyphase_weight(side, kernel, reference, w, *constants):
    """U = G g G^T of the polyphase 2x2 kernels of a (OC, C, 4, 4) w by the Numba ``kernel``
    (its ``constants`` of w's dtype before u): (side**2, OC, 4C)."""
    if not _is_float_ndarray(w) or w.ndim != 4 or w.shape[2:] != (4, 4):
        return reference(w)
    u = np.empty((side * side, w.shape[0], 4 * w.shape[1]), dtype=w.dtype)
    threads.run(kernel, w.shape[0], np.ascontiguousarray(w),
                *(w.dtype.type(k) for k in constants), u, work=u.size)
    return u


def _polyphase_grad_weight(side, kernel, reference, gu, *constants):
    """gW = G^T gU G of (side**2, OC, 4C) products by the Numba ``kernel`` (its ``constants``
    of gu's dtype before gw): the (OC, C, 4, 4) weight gradient."""
    if (not _is_float_ndarray(gu) or gu.ndim != 3 or gu.shape[0] != side * side
            or gu.shape[2] % 4):
        return reference(gu)
    oc, c = gu.shape[1], gu.shape[2] // 4
    gw = np.empty((oc, c, 4, 4), dtype=gu.dtype)
    threads.run(kernel, oc, np.ascontiguousarray(gu), *(gu.dtype.type(k) for k in constants),
                gw, work=gu.size)
    return gw


def winograd_k4s2_weight(w):
    """Numba winograd_k4s2_weight; see :func:`minigrad.kernels.reference.winograd_k4s2_weight`."""
    return _polyphase_weight(3, _winograd_k4s2_weight_kernel, ref.winograd_k4s2_weight, w)


def winograd_k4s2_input(x, padding):
    """Numba winograd_k4s2_input; see :func:`minigrad.kernels.reference.winograd_k4s2_input`."""
    return _input(K4S2, _winograd_k4s2_input_kernel, ref.winograd_k4s2_input, x, padding)


def winograd_k4s2_output(m, y_shape):
    """Numba winograd_k4s2_output; see :func:`minigrad.kernels.reference.winograd_k4s2_output`."""
    return _output(K4S2, _winograd_k4s2_output_kernel, ref.winograd_k4s2_output, m, y_shape)


def winograd_k4s2_grad_output(gy):
    """Numba winograd_k4s2_grad_output; see
    :func:`minigrad.kernels.reference.winograd_k4s2_grad_output`."""
    return _grad_output(K4S2, _winograd_k4s2_grad_output_kernel, ref.winograd_k4s2_grad_output,
                        gy)


def winograd_k4s2_grad_weight(gu):
    """Numba winograd_k4s2_grad_weight; see
    :func:`minigrad.kernels.reference.winograd_k4s2_grad_weight`."""
    return _polyphase_grad_weight(3, _winograd_k4s2_grad_weight_kernel,
                                  ref.winograd_k4s2_grad_weight, gu)


def winograd_k4s2f4_weight(w):
    """Numba winograd_k4s2f4_weight; see
    :func:`minigrad.kernels.reference.winograd_k4s2f4_weight`."""
    return _polyphase_weight(5, _winograd_k4s2f4_weight_kernel, ref.winograd_k4s2f4_weight, w,
                             2, 6)


def winograd_k4s2f4_input(x, padding):
    """Numba winograd_k4s2f4_input; see :func:`minigrad.kernels.reference.winograd_k4s2f4_input`."""
    if not _is_float_ndarray(x) or x.ndim != 4:
        return ref.winograd_k4s2f4_input(x, padding)
    n, c = x.shape[:2]
    (ph, pw), (th, tw) = _tiling(K4S2F4, x.shape, padding)  # raises on an empty output
    v = np.empty((25, 4 * c, th * tw * n), dtype=x.dtype)
    threads.run(_winograd_k4s2f4_input_kernel, c, np.ascontiguousarray(x), ph, pw, th, tw, v,
                work=v.size)
    return v


def winograd_k4s2f4_output(m, y_shape):
    """Numba winograd_k4s2f4_output; see
    :func:`minigrad.kernels.reference.winograd_k4s2f4_output`."""
    n, oc, oh, ow = y_shape
    th, tw = _winograd_tiles(oh, ow, 4)
    if not _is_float_ndarray(m) or m.shape != (25, oc, n * th * tw):
        return ref.winograd_k4s2f4_output(m, y_shape)
    y = np.empty((n, oc, oh, ow), dtype=m.dtype)
    threads.run(_winograd_k4s2f4_output_kernel, oc, np.ascontiguousarray(m), th, tw, y,
                work=m.size)
    return y


def winograd_k4s2f4_grad_output(gy):
    """Numba winograd_k4s2f4_grad_output; see
    :func:`minigrad.kernels.reference.winograd_k4s2f4_grad_output`."""
    return _grad_output(K4S2F4, _winograd_k4s2f4_grad_output_kernel,
                        ref.winograd_k4s2f4_grad_output, gy)


def winograd_k4s2f4_grad_weight(gu):
    """Numba winograd_k4s2f4_grad_weight; see
    :func:`minigrad.kernels.reference.winograd_k4s2f4_grad_weight`."""
    return _polyphase_grad_weight(5, _winograd_k4s2f4_grad_weight_kernel,
                                  ref.winograd_k4s2f4_grad_weight, gu, 2, 6)


def winograd_k4s2tf4_weight(w, padding):
    """Numba winograd_k4s2tf4_weight; see
    :func:`minigrad.kernels.reference.winograd_k4s2tf4_weight`."""
    if not _is_float_ndarray(w) or w.ndim != 4 or w.shape[2:] != (4, 4):
        return ref.winograd_k4s2tf4_weight(w, padding)
    ref.k4s2t_layout(padding)                      # checks the padding
    c, oc = w.shape[:2]
    u = np.empty((100, oc, c), dtype=w.dtype)
    dt = w.dtype.type
    threads.run(_winograd_k4s2tf4_weight_kernel, oc, np.ascontiguousarray(w), int(padding[0]),
                int(padding[1]), dt(2), dt(6), u, work=u.size)
    return u


def winograd_k4s2tf4_input(x, padding, output_size):
    """Numba winograd_k4s2tf4_input; see
    :func:`minigrad.kernels.reference.winograd_k4s2tf4_input`."""
    if not _is_float_ndarray(x) or x.ndim != 4:
        return ref.winograd_k4s2tf4_input(x, padding, output_size)
    (off_h, off_w), (dr, ds), (th, tw) = ref._k4s2tf4_tiling(padding, output_size)
    n, c = x.shape[:2]
    v = np.empty((4, 25, c, th * tw * n), dtype=x.dtype)
    threads.run(_winograd_k4s2tf4_input_kernel, c, np.ascontiguousarray(x), off_h, off_w, dr, ds,
                th, tw, v, work=v.size)
    return v.reshape(100, c, th * tw * n)


def winograd_k4s2tf4_output(m, y_shape, out=None):
    """Numba winograd_k4s2tf4_output; see
    :func:`minigrad.kernels.reference.winograd_k4s2tf4_output`."""
    n, oc, oh, ow = y_shape
    th, tw = -(-oh // 8), -(-ow // 8)
    if not _is_float_ndarray(m) or m.shape != (100, oc, n * th * tw):
        return ref.winograd_k4s2tf4_output(m, y_shape, out)
    ref._k4s2t_out(out, y_shape, m.dtype)
    y = np.empty((n, oc, oh, ow), dtype=m.dtype) if out is None else out
    threads.run(_winograd_k4s2tf4_output_kernel, oc, np.ascontiguousarray(m), th, tw, y,
                work=m.size)
    return y


def winograd_k4s2t_weight(w, padding):
    """Numba winograd_k4s2t_weight; see :func:`minigrad.kernels.reference.winograd_k4s2t_weight`."""
    if not _is_float_ndarray(w) or w.ndim != 4 or w.shape[2:] != (4, 4):
        return ref.winograd_k4s2t_weight(w, padding)
    layout = ref.k4s2t_layout(padding)
    oc = w.shape[1]
    u = np.empty((36, oc, w.shape[0]), dtype=w.dtype)
    threads.run(_winograd_k4s2t_weight_kernel, oc, np.ascontiguousarray(w), int(padding[0]),
                int(padding[1]), np.array(layout.slots, np.int64), np.array(layout.signs, w.dtype),
                u, work=u.size)
    return u


def winograd_k4s2t_input(x, padding, output_size, out=None):
    """Numba winograd_k4s2t_input; see :func:`minigrad.kernels.reference.winograd_k4s2t_input`."""
    if not _is_float_ndarray(x) or x.ndim != 4 or not (out is None or _is_float_ndarray(out)):
        return ref.winograd_k4s2t_input(x, padding, output_size, out)
    n, c = x.shape[:2]
    layout, (off_h, off_w), (th, tw) = ref._k4s2t_tiling(padding, output_size)
    kh, kw = layout.values
    shape = (kh * kw, c, n * th * tw)
    ref._k4s2t_out(out, shape, x.dtype)
    v = np.empty(shape, dtype=x.dtype) if out is None else out
    threads.run(_winograd_k4s2t_input_kernel, c, np.ascontiguousarray(x), off_h, off_w, th, tw,
                kh, kw, v, work=v.size)
    return v


def winograd_k4s2t_output(m, y_shape, padding, out=None):
    """Numba winograd_k4s2t_output; see :func:`minigrad.kernels.reference.winograd_k4s2t_output`."""
    n, oc, oh, ow = y_shape
    layout, _, (th, tw) = ref._k4s2t_tiling(padding, (oh, ow))
    if not _is_float_ndarray(m) or m.shape != (36, oc, n * th * tw) or not (
            out is None or _is_float_ndarray(out)):
        return ref.winograd_k4s2t_output(m, y_shape, padding, out)
    ref._k4s2t_out(out, y_shape, m.dtype)
    y = np.empty((n, oc, oh, ow), dtype=m.dtype) if out is None else out
    threads.run(_winograd_k4s2t_output_kernel, oc, np.ascontiguousarray(m),
                np.array(layout.slots, np.int64), th, tw, y, work=m.size)
    return y
