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

import math
import sys

import numpy as np

__all__ = [
    "im2col_hwc", "col2im_hwc", "unfold_hwc", "fold_hwc",
    "conv_output_size", "scatter_add",
    "leaky_relu_fwd", "leaky_relu_bwd",
    "batch_norm_fwd", "batch_norm_grad_input",
    "adam_update", "rmsprop_update", "sgd_update",
    "adam_update_multi", "rmsprop_update_multi",
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


# --------------------------------------------------------------------------- optimizers

def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
                weight_decay, step, amsgrad):
    """One Adam step, in place, with torch.optim.Adam's formula (L2 weight decay).

    Args:
        param: parameter array, updated in place.
        grad: its gradient (same shape; not modified).
        exp_avg, exp_avg_sq: first/second moment buffers (same shape), updated in place.
        max_exp_avg_sq: running max of exp_avg_sq for AMSGrad (updated in place), or None.
        step: the 1-based number of this step (used for bias correction).

    Math (all in param's dtype; scalars are derived in float64 then cast)::

        g  = grad + weight_decay * param
        m  = beta1 * m + (1 - beta1) * g
        v  = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_max, v) if amsgrad else v
        denom = sqrt(v_hat) / sqrt(1 - beta2**step) + eps
        param -= (lr / (1 - beta1**step)) * m / denom
    """
    xp = _xp(param)
    bias_correction1 = 1.0 - beta1 ** step
    bias_correction2 = 1.0 - beta2 ** step
    step_size = _scalar(lr / bias_correction1, param)
    bc2_sqrt = _scalar(math.sqrt(bias_correction2), param)

    if weight_decay != 0:
        grad = grad + _scalar(weight_decay, param) * param

    exp_avg *= _scalar(beta1, param)
    exp_avg += _scalar(1.0 - beta1, param) * grad
    exp_avg_sq *= _scalar(beta2, param)
    exp_avg_sq += _scalar(1.0 - beta2, param) * grad * grad

    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v_hat = max_exp_avg_sq
    else:
        v_hat = exp_avg_sq
    denom = xp.sqrt(v_hat) / bc2_sqrt + _scalar(eps, param)
    param -= step_size * exp_avg / denom
    return param


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, centered):
    """One RMSprop step, in place, with torch.optim.RMSprop's formula.

    Args:
        param: parameter array, updated in place.
        grad: its gradient (same shape; not modified).
        square_avg: running mean of g*g, updated in place.
        grad_avg: running mean of g (needed iff ``centered``), updated in place, or None.
        momentum_buffer: velocity (needed iff ``momentum > 0``), updated in place, or None.

    Math (all in param's dtype)::

        g   = grad + weight_decay * param
        sq  = alpha * sq + (1 - alpha) * g * g
        if centered:  ga = alpha * ga + (1 - alpha) * g
                      avg = sqrt(sq - ga * ga) + eps
        else:         avg = sqrt(sq) + eps
        if momentum > 0:  buf = momentum * buf + g / avg;  param -= lr * buf
        else:             param -= lr * g / avg
    """
    xp = _xp(param)
    if weight_decay != 0:
        grad = grad + _scalar(weight_decay, param) * param

    square_avg *= _scalar(alpha, param)
    square_avg += _scalar(1.0 - alpha, param) * grad * grad

    if centered:
        grad_avg *= _scalar(alpha, param)
        grad_avg += _scalar(1.0 - alpha, param) * grad
        avg = xp.sqrt(square_avg - grad_avg * grad_avg) + _scalar(eps, param)
    else:
        avg = xp.sqrt(square_avg) + _scalar(eps, param)

    if momentum > 0:
        momentum_buffer *= _scalar(momentum, param)
        momentum_buffer += grad / avg
        param -= _scalar(lr, param) * momentum_buffer
    else:
        param -= _scalar(lr, param) * grad / avg
    return param


def sgd_update(param, grad, momentum_buffer, *, lr, momentum=0.0, dampening=0.0,
               weight_decay=0.0, nesterov=False, first_step=False):
    """One SGD step, in place, with torch.optim.SGD's formula.

    Args:
        param, grad: parameter (updated in place) and gradient (not modified).
        momentum_buffer: velocity buffer (needed iff ``momentum != 0``), or None.
        first_step: True on the first step, when torch initialises the buffer to
            ``g`` itself (no dampening) instead of updating it.

    Math::

        g = grad + weight_decay * param
        if momentum:  buf = g if first_step else momentum * buf + (1 - dampening) * g
                      g = g + momentum * buf if nesterov else buf
        param -= lr * g
    """
    if weight_decay != 0:
        grad = grad + _scalar(weight_decay, param) * param
    if momentum != 0:
        if first_step:
            momentum_buffer[...] = grad
        else:
            momentum_buffer *= _scalar(momentum, param)
            momentum_buffer += _scalar(1.0 - dampening, param) * grad
        if nesterov:
            grad = grad + _scalar(momentum, param) * momentum_buffer
        else:
            grad = momentum_buffer
    param -= _scalar(lr, param) * grad
    return param


# ------------------------------------------------------------------ multi-tensor optimizers

def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *, lr, beta1,
                      beta2, eps, weight_decay, steps, amsgrad):
    """:func:`adam_update` on every tensor of a parameter group: lists of arrays (one entry per
    tensor; ``max_exp_avg_sqs`` entries None without amsgrad) and ``steps``, each tensor's
    1-based step number. A GPU does them all in one launch (``cupy_gpu``); here, one by one."""
    for p, g, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                      steps):
        adam_update(p, g, m, v, vmax, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                    weight_decay=weight_decay, step=step, amsgrad=amsgrad)


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha,
                         eps, weight_decay, momentum, centered):
    """:func:`rmsprop_update` on every tensor of a parameter group (lists of arrays; entries of
    ``grad_avgs``/``momentum_buffers`` None where unused)."""
    for p, g, sq, ga, buf in zip(params, grads, square_avgs, grad_avgs, momentum_buffers):
        rmsprop_update(p, g, sq, ga, buf, lr=lr, alpha=alpha, eps=eps,
                       weight_decay=weight_decay, momentum=momentum, centered=centered)
