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
from .reference_winograd import F2X3, K4S2, _crop, _tiling, _winograd_tiles


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
    th, tw = _winograd_tiles(oh, ow)
    if not _is_float_ndarray(m) or m.shape != (tiling.side ** 2, oc, n * th * tw):
        return reference(m, y_shape)
    y = np.empty((n, oc, 2 * th, 2 * tw), dtype=m.dtype)
    threads.run(kernel, oc, np.ascontiguousarray(m), th, tw, y, work=m.size)
    return _crop(y, oh, ow)  # the last tiles overhang an odd output


def winograd_f2x3_input(x, padding):
    """Numba winograd_f2x3_input; see :func:`minigrad.kernels.reference.winograd_f2x3_input`."""
    return _input(F2X3, _winograd_f2x3_input_kernel, ref.winograd_f2x3_input, x, padding)


def winograd_f2x3_output(m, y_shape):
    """Numba winograd_f2x3_output; see :func:`minigrad.kernels.reference.winograd_f2x3_output`."""
    return _output(F2X3, _winograd_f2x3_output_kernel, ref.winograd_f2x3_output, m, y_shape)


def winograd_f2x3_weight(w):
    """Numba winograd_f2x3_weight; see :func:`minigrad.kernels.reference.winograd_f2x3_weight`."""
    if not _is_float_ndarray(w) or w.ndim != 4 or w.shape[2:] != (3, 3):
        return ref.winograd_f2x3_weight(w)
    u = np.empty((16, w.shape[0], w.shape[1]), dtype=w.dtype)
    threads.run(_winograd_f2x3_weight_kernel, w.shape[0], np.ascontiguousarray(w),
                w.dtype.type(0.5), u, work=u.size)
    return u


def winograd_k4s2_weight(w):
    """Numba winograd_k4s2_weight; see :func:`minigrad.kernels.reference.winograd_k4s2_weight`."""
    if not _is_float_ndarray(w) or w.ndim != 4 or w.shape[2:] != (4, 4):
        return ref.winograd_k4s2_weight(w)
    u = np.empty((9, w.shape[0], 4 * w.shape[1]), dtype=w.dtype)
    threads.run(_winograd_k4s2_weight_kernel, w.shape[0], np.ascontiguousarray(w), u,
                work=u.size)
    return u


def winograd_k4s2_input(x, padding):
    """Numba winograd_k4s2_input; see :func:`minigrad.kernels.reference.winograd_k4s2_input`."""
    return _input(K4S2, _winograd_k4s2_input_kernel, ref.winograd_k4s2_input, x, padding)


def winograd_k4s2_output(m, y_shape):
    """Numba winograd_k4s2_output; see :func:`minigrad.kernels.reference.winograd_k4s2_output`."""
    return _output(K4S2, _winograd_k4s2_output_kernel, ref.winograd_k4s2_output, m, y_shape)


def winograd_k4s2_grad_weight(gu):
    """Numba winograd_k4s2_grad_weight; see
    :func:`minigrad.kernels.reference.winograd_k4s2_grad_weight`."""
    if not _is_float_ndarray(gu) or gu.ndim != 3 or gu.shape[0] != 9 or gu.shape[2] % 4:
        return ref.winograd_k4s2_grad_weight(gu)
    oc, c = gu.shape[1], gu.shape[2] // 4
    gw = np.empty((oc, c, 4, 4), dtype=gu.dtype)
    threads.run(_winograd_k4s2_grad_weight_kernel, oc, np.ascontiguousarray(gu), gw,
                work=gu.size)
    return gw


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
