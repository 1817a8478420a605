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
    "im2col_hwc", "col2im_hwc", "unfold_hwc", "fold_hwc", "im2col_chw", "col2im_chw",
    "unfold_chw", "fold_chw", "conv_output_size", "scatter_add",
    "leaky_relu_fwd", "leaky_relu_bwd", "sigmoid_fwd", "bce_with_logits_fwd",
    "bce_with_logits_grad", "dropout_mask", "dropout_apply", "cross_entropy_fwd", "cross_entropy_grad",
    "batch_norm_fwd", "batch_norm_grad_input", "running_average", "batch_norm_running", "matmul",
    "nchw_from_rows", "l2_normalize", "erf", "erfc", "lgamma", "digamma", "polygamma",
    "argsort_stable",
    # reference_optim.py
    "adam_update", "rmsprop_update", "sgd_update",
    "adam_update_multi", "rmsprop_update_multi", "adam_update_multi_device_steps",
    # reference_random.py
    "philox_fill", "philox_advance",
    # reference_winograd.py
    "winograd_f2x3_weight", "winograd_f2x3_input", "winograd_f2x3_output",
    "winograd_f4x3_weight", "winograd_f4x3_input", "winograd_f4x3_output",
    "winograd_f4x3_grad_output", "winograd_f4x3_grad_weight",
    "winograd_k4s2_weight", "winograd_k4s2_input", "winograd_k4s2_output",
    "winograd_k4s2_grad_output", "winograd_k4s2_grad_weight",
    "winograd_k4s2f4_weight", "winograd_k4s2f4_input", "winograd_k4s2f4_output",
    "winograd_k4s2f4_grad_output", "winograd_k4s2f4_grad_weight",
    "winograd_k4s2tf4_weight", "winograd_k4s2tf4_input", "winograd_k4s2tf4_output",
    "winograd_k4s2t_weight", "winograd_k4s2t_input", "winograd_k4s2t_output",
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


# ------------------------------------------------- the same four in torch's column order
# im2col_chw, col2im_chw, unfold_chw and fold_chw are the four above with the columns (the rows
# of u) ordered (c, i, j), the order of torch's ``unfold`` (and of ``W.reshape(C_out, -1)``),
# instead of (i, j, c). A GPU takes this order (``kernels.conv_columns``): there the weight's
# rows are a view of W, where the CPU's order needs a copy of W per call, and one thread per
# element reads neighbouring pixels rather than pixels a channel apart. The four are written
# as permutations of the (i, j, c) ones, which are the specification; a sum over a pixel's
# windows is taken in the same (i, j) order, so a permuted result is the same floats.

def _reordered(a, kh, kw, c, to_chw):
    """``a`` with its axis 1 (of length KH*KW*C) reordered from (i, j, c) to (c, i, j)
    (``to_chw``) or back: a C-contiguous copy."""
    split, perm = ((kh, kw, c), (2, 0, 1)) if to_chw else ((c, kh, kw), (1, 2, 0))
    order = (0,) + tuple(1 + k for k in perm) + tuple(range(4, a.ndim + 2))
    moved = a.reshape(a.shape[:1] + split + a.shape[2:]).transpose(order)
    return _xp(a).ascontiguousarray(moved).reshape(a.shape)


def im2col_chw(x, kh, kw, stride, padding, dilation):
    """:func:`im2col_hwc` with the columns ordered (c, i, j)::

        cols[(n*OH + oh)*OW + ow, (c*KH + i)*KW + j] = x_padded[n, c, oh*sh + i*dh, ow*sw + j*dw]

    A convolution is then ``cols @ weight.reshape(C_out, -1).T``."""
    return _reordered(im2col_hwc(x, kh, kw, stride, padding, dilation), kh, kw, x.shape[1],
                      True)


def col2im_chw(cols, x_shape, kh, kw, stride, padding, dilation):
    """Adjoint of :func:`im2col_chw` (:func:`col2im_hwc` on columns ordered (c, i, j))."""
    if cols.ndim != 2 or cols.shape[1] != kh * kw * x_shape[1]:
        return col2im_hwc(cols, x_shape, kh, kw, stride, padding, dilation)  # its error
    return col2im_hwc(_reordered(cols, kh, kw, x_shape[1], False), x_shape, kh, kw, stride,
                      padding, dilation)


def unfold_chw(x, kh, kw, stride, padding, dilation):
    """:func:`unfold_hwc` with the rows of each image's matrix ordered (c, i, j): torch's
    ``unfold`` exactly, (N, C*KH*KW, OH*OW)."""
    return _reordered(unfold_hwc(x, kh, kw, stride, padding, dilation), kh, kw, x.shape[1],
                      True)


def fold_chw(u, x_shape, kh, kw, stride, padding, dilation):
    """Adjoint of :func:`unfold_chw`: torch's ``fold``."""
    if u.ndim != 3 or u.shape[1] != kh * kw * x_shape[1]:
        return fold_hwc(u, x_shape, kh, kw, stride, padding, dilation)  # its error
    return fold_hwc(_reordered(u, kh, kw, x_shape[1], False), x_shape, kh, kw, stride,
                    padding, dilation)


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


def nchw_from_rows(rows, n, h, w, bias=None):
    """Channels-last rows (N*H*W, C), a convolution's product, as a C-contiguous (N, C, H, W)
    array, plus ``bias`` (C,) if given. ``rows`` is scratch (its contents afterwards are
    unspecified): here the bias is added to it in place, then one transposing copy, the fastest
    order on the CPU; on a GPU the copy and the addition are one kernel."""
    xp = _xp(rows)
    if bias is not None:
        rows += bias
    return xp.ascontiguousarray(rows.reshape(n, h, w, rows.shape[1]).transpose(0, 3, 1, 2))


# --------------------------------------------------------------------------- fused elementwise

def leaky_relu_fwd(x, slope):
    """``y = x if x > 0 else slope * x``; same shape and dtype as x."""
    xp = _xp(x)
    return xp.where(x > 0, x, x * _scalar(slope, x))


def leaky_relu_bwd(x, gy, slope):
    """Gradient of leaky ReLU: ``gy * (1 if x > 0 else slope)``; x, gy same shape."""
    xp = _xp(x)
    return xp.where(x > 0, gy, gy * _scalar(slope, gy))


def sigmoid_fwd(x):
    """``y = 1 / (1 + exp(-x))``, stable on both tails (exp only ever sees -|x|): 1 / (1 + e)
    where x >= 0, e / (1 + e) elsewhere, e = exp(-|x|); x's dtype, float32 (torch's default
    float) for an integer or bool x. (Eight array passes here, one kernel on a GPU.)"""
    xp = _xp(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def argsort_stable(a, axis):
    """Indices that sort ``a`` along ``axis``, equal values in their original order (a stable
    sort: NumPy's kind="stable"; CuPy's sort is always stable and takes no kind, cupy_gpu's)."""
    return a.argsort(axis=axis, kind="stable")


def erf(x):
    """The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt, elementwise, x's dtype
    (SciPy's, to the last bits in float64; NumPy has none). On a GPU, CuPy's (cupy_gpu.erf)."""
    from scipy import special
    return special.erf(x)


def erfc(x):
    """1 - erf(x), without the cancellation where erf(x) is near 1 (SciPy's)."""
    from scipy import special
    return special.erfc(x)


# ------------------------------------------------------------------ the gamma family
# SciPy's functions, with torch's values (torch 2.13, CPU) where the two differ: at the poles
# x = 0, -1, -2, ... and at +-inf. The fix-ups are array code (xp-generic), shared with
# cupy_gpu, whose CuPy functions are fixed up the same way.

def _nonpositive_integers(xp, x):
    """Where x is 0, -0.0, a negative integer or -inf: the poles of the gamma family."""
    return (x <= 0) & (xp.floor(x) == x)


def _lgamma_poles(xp, x, y):
    """log|Gamma(x)| with torch's values: +inf at 0, the negative integers and -inf (SciPy's
    gammaln(-inf) is -inf); +inf at +inf is the libraries' own."""
    return xp.where(_nonpositive_integers(xp, x), x.dtype.type(xp.inf), y)


def _digamma_poles(xp, x, y):
    """digamma with torch's values: -inf at +0.0 and +inf at -0.0 (the limits from the right
    and the left), NaN at the negative integers and -inf, +inf at +inf."""
    inf = x.dtype.type(xp.inf)
    y = xp.where(_nonpositive_integers(xp, x), x.dtype.type(xp.nan), y)
    y = xp.where(x == 0, xp.copysign(inf, -x), y)
    return xp.where(x == inf, inf, y)


def _polygamma_poles(xp, n, x, y):
    """``y`` = polygamma(n, x), n >= 1, with torch's values.

    n = 1 (trigamma): for x < 1/2 torch computes pi^2 / sin^2(pi x) - trigamma(1 - x) (the
    reflection formula), so at x = 0 and -0.0 it gives +inf, at -inf NaN, and at a negative
    integer a large finite number: sin(pi x) there is the rounding error of pi x, not 0
    (6.58e32 at x = -1 in float64, 1.29e15 in float32). That value is pi^2 / sin^2(pi x) in
    x's dtype, computed here: at a negative integer -k the first term is at least pi^2 and
    trigamma(1 + k) < 1 / k stays below half its ulp for every k (about 1e33 / k^2 with ulp
    1e17 / k^2 in float64), so torch's sum rounds to the first term. +inf gives 0.
    n >= 2: (-1)^(n+1) inf at 0, the negative integers and -inf (torch's Hurwitz zeta is +inf
    there), NaN at +inf (SciPy: 0)."""
    dtype = x.dtype.type
    poles = _nonpositive_integers(xp, x)
    if n == 1:
        with np.errstate(all="ignore"):  # sin(-inf) is NaN, and pi^2 / 0 is inf: both meant
            pi = dtype(np.pi)
            s = xp.sin(xp.where(poles, x, dtype(0.5)) * pi)
            return xp.where(poles, pi * pi / (s * s), y)
    y = xp.where(poles, dtype(xp.inf if n % 2 else -xp.inf), y)
    return xp.where(x == xp.inf, dtype(xp.nan), y)


def lgamma(x):
    """log|Gamma(x)|, elementwise, x's dtype (SciPy's gammaln): +inf at 0, at the negative
    integers and at +-inf, as torch.lgamma. On a GPU, CuPy's (cupy_gpu.lgamma); the gamma
    family takes NumPy arrays only here, as erf does."""
    from scipy import special
    with np.errstate(all="ignore"):
        return _lgamma_poles(_xp(x), x, special.gammaln(x).astype(x.dtype, copy=False))


def digamma(x):
    """digamma(x) = d/dx log Gamma(x), elementwise, x's dtype (SciPy's psi), with torch's values
    at the poles: -inf at 0.0, +inf at -0.0, NaN at the negative integers."""
    from scipy import special
    with np.errstate(all="ignore"):
        return _digamma_poles(_xp(x), x, special.psi(x).astype(x.dtype, copy=False))


def polygamma(n, x):
    """The n-th derivative of digamma (n >= 0 an int; n = 0 is digamma), elementwise, x's dtype
    (SciPy's polygamma, which computes in float64), with torch's values at the poles and at
    +-inf (see _polygamma_poles)."""
    from scipy import special
    if n == 0:
        return digamma(x)
    with np.errstate(all="ignore"):
        y = special.polygamma(n, x).astype(x.dtype, copy=False)
        return _polygamma_poles(_xp(x), n, x, y)


def bce_with_logits_fwd(z, t):
    """Binary cross-entropy of sigmoid(z) against t per element, ``softplus(z) - z t`` with
    softplus(z) = logaddexp(0, z) (stable for any z); z and t broadcast. (Three array passes
    here, one kernel on a GPU.)"""
    xp = _xp(z)
    return xp.logaddexp(z.dtype.type(0), z) - z * t


def dropout_mask(u, p, scale):
    """Dropout's mask from uniform draws u: ``scale`` where u >= p, else 0; u's dtype (p and
    scale cast to it). (Three array passes here, one kernel on a GPU.)"""
    return (u >= _scalar(p, u)).astype(u.dtype) * _scalar(scale, u)


def dropout_apply(x, u, p, scale):
    """Dropout applied to x: ``x * dropout_mask(u, p, scale)``, x and u of one shape and dtype.
    Linear in x, so its gradient is itself, applied to the incoming gradient with the same u.
    (Four array passes here, one kernel on a GPU where the mask and the product were two.)"""
    return x * dropout_mask(u, p, scale)


def bce_with_logits_grad(gy, z, t):
    """The gradient of :func:`bce_with_logits_fwd` in z: ``gy (sigmoid(z) - t)``, sigmoid as
    :func:`sigmoid_fwd` computes it. (Ten array passes here, one kernel on a GPU.)"""
    return gy * (sigmoid_fwd(z) - t)


# --------------------------------------------------------------------------- cross-entropy
# Rows of logits z (N, C) against class indices t (N,) (any integer dtype); a row whose target is
# ignore_index contributes 0 and gets no gradient. Each row's log-sum-exp is shifted by the row's
# max (by 0 where the max is not finite), as functional.logsumexp does.

def _row_lse(z):
    """log(sum(exp(z_i))) of every row of z (N, C), max-shifted; (N, 1), z's dtype."""
    xp = _xp(z)
    m = z.max(axis=1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, z.dtype.type(0))
    return xp.log(xp.exp(z - m).sum(axis=1, keepdims=True)) + m


def cross_entropy_fwd(z, t, ignore_index):
    """Cross-entropy of softmax(z_i) against class t_i per row: ``lse(z_i) - z[i, t_i]``, 0
    where t_i == ignore_index; (N,), z's dtype. (About ten array passes here, one kernel on a
    GPU.)"""
    xp = _xp(z)
    ignored = t == ignore_index
    safe = xp.where(ignored, 0, t).reshape(-1, 1)
    out = (_row_lse(z) - xp.take_along_axis(z, safe, axis=1)).reshape(-1)
    xp.copyto(out, z.dtype.type(0), where=ignored)
    return out


def cross_entropy_grad(gy, z, t, ignore_index):
    """The gradient of :func:`cross_entropy_fwd` in z: ``gy_i (softmax(z_i) - onehot(t_i))``,
    0 on the ignored rows; (N, C), z's dtype. (About twelve array passes here, one kernel on a
    GPU.)"""
    xp = _xp(z)
    ignored = t == ignore_index
    g = xp.exp(z - _row_lse(z))
    g -= (xp.arange(z.shape[1]) == xp.where(ignored, 0, t).reshape(-1, 1)).astype(z.dtype)
    w = gy.astype(z.dtype)  # a copy
    xp.copyto(w, z.dtype.type(0), where=ignored)
    return g * w.reshape(-1, 1)


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
    (CuPy's matmul refuses to run while a stream is being captured).

    An outer product (inner dimension 1: the weight gradient of spectral norm's ``W v``) is an
    elementwise product, bitwise the same: OpenBLAS's GEMM took 7-15x longer for it (2.1 against
    0.3 ms for 512 x 2304 at 2 threads, ~10 ms of an SNGAN-32 step)."""
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1 and b.shape[-2] == 1:
        return a * b
    return a @ b


# ------------------------------------------------------------------------ l2 normalization

def l2_normalize(a, eps):
    """``a / max(||a||_2, eps)`` for a 1-D array ``a`` (``F.normalize(a, dim=0, eps=eps)``, spectral
    norm's power iteration): a new array of a's dtype."""
    xp = _xp(a)
    return a / xp.maximum(xp.sqrt(xp.vdot(a, a)), a.dtype.type(eps))


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


def batch_norm_running(running_mean, running_var, mean, var, momentum, var_scale):
    """BatchNorm's two running statistics at once, in place: ``running_average(running_mean,
    mean, momentum)`` and ``running_average(running_var, var, momentum, var_scale)`` (one
    kernel on a GPU where those are two). Returns nothing."""
    running_average(running_mean, mean, momentum)
    running_average(running_var, var, momentum, var_scale)


# The Winograd transforms', the optimizers' and the random generator's references, in modules of
# their own; every kernel name is answered here (the registry reads this module's __all__).
from .reference_optim import (  # noqa: E402
    adam_update, adam_update_multi, adam_update_multi_device_steps, rmsprop_update,
    rmsprop_update_multi, sgd_update)
from .reference_random import philox_advance, philox_fill  # noqa: E402
from .reference_winograd import (  # noqa: E402
    winograd_f2x3_input, winograd_f2x3_output, winograd_f2x3_weight, winograd_f4x3_grad_output,
    winograd_f4x3_grad_weight, winograd_f4x3_input, winograd_f4x3_output, winograd_f4x3_weight,
    winograd_k4s2_grad_output,
    winograd_k4s2_grad_weight, winograd_k4s2_input, winograd_k4s2_output, winograd_k4s2_weight,
    winograd_k4s2t_input, winograd_k4s2t_output, winograd_k4s2t_weight,
    winograd_k4s2f4_grad_output, winograd_k4s2f4_grad_weight, winograd_k4s2f4_input,
    winograd_k4s2f4_output, winograd_k4s2f4_weight,
    winograd_k4s2tf4_input, winograd_k4s2tf4_output, winograd_k4s2tf4_weight)
