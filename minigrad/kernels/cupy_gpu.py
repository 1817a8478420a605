"""CuPy (CUDA) implementations of minigrad's array kernels.

Every public function has exactly the signature of its twin in
:mod:`minigrad.kernels.reference` (the specification) and computes the same thing:

* ``im2col_hwc`` / ``col2im_hwc`` and their per-image twins ``unfold_hwc`` / ``fold_hwc`` --
  ``cupy.RawKernel`` s with one thread per output element; ``col2im_hwc`` and ``fold_hwc``
  gather, for each pixel, the window entries that copied it, so they need no atomics and are
  bitwise equal to the reference (their sums run in the reference's order); and the same four
  with the columns ordered (c, i, j), ``im2col_chw`` ..., the ones a GPU's convolutions use.
* ``batch_norm_fwd`` / ``batch_norm_grad_input`` -- one RawKernel launch each, one block per
  channel reducing in shared memory (the sums run in another order than NumPy's: equal to the
  reference within float rounding, not bitwise).
* ``leaky_relu_fwd/bwd``, ``sigmoid_fwd``, ``bce_with_logits_fwd/grad``, ``dropout_mask``,
  ``dropout_apply`` -- ``cupy.ElementwiseKernel`` s: one fused pass where the NumPy-style
  expression is 2-10 kernels and as many temporaries.
* ``l2_normalize`` -- one block's RawKernel: the norm of a vector and the division by it
  (spectral norm's power iteration; the array code is four launches).
* ``running_average``, ``batch_norm_running`` -- BatchNorm's running statistics in place, one
  pass (the second both buffers at once).
* ``adam_update``, ``rmsprop_update``, ``sgd_update`` -- fused in-place ElementwiseKernels with
  the reference's (i.e. torch.optim's) formulas, in the same operation order.
* ``scatter_add`` -- CuPy's atomic scatter (``cupy.add.at``, ``cupyx.scatter_add`` on old CuPy).

The CUDA C lives in :mod:`minigrad.kernels.cuda_src`. Kernel objects are built on first use
and memoized here (like Chainer's ``cuda.elementwise``); CuPy compiles each one per device and
dtype on its first launch and caches the binary on disk (``~/.cupy/kernel_cache``). So
importing this module needs neither CuPy nor a GPU, and compiles nothing.

Inputs outside the fast path -- NumPy arrays, dtypes other than float32/float64, mixed dtypes,
arrays of 2**31 elements or more -- go to the reference implementation, which runs on any
array module. Rounding: the ElementwiseKernels are compiled with CUDA's default
``--fmad=true``, so ``a * b + c`` may be one fused multiply-add; their results can differ
from the reference's by an ulp or so (im2col_hwc/col2im_hwc are exact). ``scatter_add`` with
repeated indices adds in a nondeterministic order (atomics).
"""
from __future__ import annotations

import importlib

import numpy as np

from . import cuda_src
from . import reference as ref

__all__ = [
    "im2col_hwc", "col2im_hwc", "unfold_hwc", "fold_hwc", "im2col_chw", "col2im_chw",
    "unfold_chw", "fold_chw", "scatter_add",
    "leaky_relu_fwd", "leaky_relu_bwd", "sigmoid_fwd", "bce_with_logits_fwd",
    "bce_with_logits_grad", "dropout_mask", "dropout_apply", "batch_norm_fwd", "batch_norm_grad_input",
    "cross_entropy_fwd", "cross_entropy_grad",
    "batch_norm_running", "nchw_from_rows", "l2_normalize",
    "adam_update", "rmsprop_update", "sgd_update",
    "adam_update_multi", "rmsprop_update_multi",
    "philox_fill", "philox_advance", "matmul", "adam_update_multi_device_steps",
    "running_average", "winograd_f2x3_weight", "winograd_f2x3_input", "winograd_f2x3_output",
    "winograd_f4x3_weight", "winograd_f4x3_input", "winograd_f4x3_output",
    "winograd_f4x3_grad_output", "winograd_f4x3_grad_weight",
    "winograd_k4s2_weight", "winograd_k4s2_input", "winograd_k4s2_output",
    "winograd_k4s2_grad_output", "winograd_k4s2_grad_weight",
    "winograd_k4s2f4_weight", "winograd_k4s2f4_input", "winograd_k4s2f4_output",
    "winograd_k4s2f4_grad_output", "winograd_k4s2f4_grad_weight",
    "winograd_k4s2tf4_weight", "winograd_k4s2tf4_input", "winograd_k4s2tf4_output",
    "winograd_k4s2t_weight", "winograd_k4s2t_input", "winograd_k4s2t_output", "erf", "erfc",
    "lgamma", "digamma", "polygamma", "argsort_stable",
]

_THREADS = 256
_INT32_LIMIT = 2 ** 31
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


_backend_cuda = None


def _cupy():
    """The cupy module, through the one place that imports it (None if unavailable).

    NOTE: ``minigrad.backend.cuda`` the *attribute* is the torch-like namespace object that
    shadows the submodule of the same name, so the module is fetched by its import name.
    """
    global _backend_cuda
    if _backend_cuda is None:
        _backend_cuda = importlib.import_module("minigrad.backend.cuda")
    return _backend_cuda.cupy


# ------------------------------------------------------------------------------ memoization
_raw_kernels = {}          # (name, ctype) -> cupy.RawKernel
_elementwise_kernels = {}  # variant name -> cupy.ElementwiseKernel


def _raw_kernel(name, dtype):
    ctype = cuda_src.CTYPES[np.dtype(dtype).name]
    key = (name, ctype)
    kernel = _raw_kernels.get(key)
    if kernel is None:
        kernel = _raw_kernels[key] = _cupy().RawKernel(
            cuda_src.raw_source(name, ctype), cuda_src.RAW_KERNELS[name].function)
    return kernel


def _elementwise(name):
    kernel = _elementwise_kernels.get(name)
    if kernel is None:
        in_params, out_params, operation, _ = cuda_src.ELEMENTWISE[name]
        kernel = _elementwise_kernels[name] = _cupy().ElementwiseKernel(
            in_params, out_params, operation, "minigrad_" + name)
    return kernel


# ---------------------------------------------------------------------------------- helpers
def _fast(*arrays):
    """True iff every argument is a CuPy array of one float dtype (float32 or float64) with
    fewer than 2**31 elements: the inputs the kernels here are written for."""
    cp = _cupy()
    if cp is None:
        return False
    first = arrays[0]
    if not isinstance(first, cp.ndarray) or first.dtype not in _FLOATS:
        return False
    return all(isinstance(a, cp.ndarray) and a.dtype == first.dtype and a.size < _INT32_LIMIT
               for a in arrays)


def _device_scope(array):
    """Context in which to launch on ``array``'s GPU (a RawKernel runs on the current device)."""
    return array.device


def _launch(kernel, total, args):
    """One thread per element: ceil(total / 256) blocks of 256 threads."""
    blocks = (total + _THREADS - 1) // _THREADS
    kernel((blocks,), (_THREADS,), args)


def _i32(*values):
    return tuple(np.int32(v) for v in values)


# --------------------------------------------------------------------------- im2col / col2im
# Four kernels, one shape of glue: geometry from the image's (N, C, H, W), one thread per
# element of the output, the reference where the fast path does not apply.

def _unfolding(name, x, kh, kw, stride, padding, dilation, out_shape):
    """im2col_hwc / unfold_hwc: x (N, C, H, W) -> ``out_shape(n, c, oh, ow)``, x's dtype."""
    if not _fast(x) or x.ndim != 4:
        return getattr(ref, name)(x, kh, kw, stride, padding, dilation)
    n, c, h, w = x.shape
    (sh, sw), (ph, pw), (dh, dw), oh, ow = ref._conv_geometry(
        h, w, kh, kw, stride, padding, dilation)
    total = n * oh * ow * kh * kw * c
    if total >= _INT32_LIMIT:
        return getattr(ref, name)(x, kh, kw, stride, padding, dilation)
    cp = _cupy()
    with _device_scope(x):
        out = cp.empty(out_shape(n, c, oh, ow), dtype=x.dtype)
        if total:
            _launch(_raw_kernel(name, x.dtype), total, (cp.ascontiguousarray(x), out)
                    + _i32(total, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow))
    return out


def _folding(name, a, x_shape, kh, kw, stride, padding, dilation, a_shape):
    """col2im_hwc / fold_hwc (gathers, no atomics): ``a`` of ``a_shape(n, c, oh, ow)`` ->
    x (N, C, H, W), a's dtype."""
    if not _fast(a) or a.ndim != len(a_shape(1, 1, 1, 1)):
        return getattr(ref, name)(a, x_shape, kh, kw, stride, padding, dilation)
    n, c, h, w = (int(s) for s in x_shape)
    (sh, sw), (ph, pw), (dh, dw), oh, ow = ref._conv_geometry(
        h, w, kh, kw, stride, padding, dilation)
    what = "cols" if name.startswith("col2im") else "u"
    if a.shape != a_shape(n, c, oh, ow):
        raise ValueError(f"{what} has shape {a.shape}, expected {a_shape(n, c, oh, ow)}")
    total = n * c * h * w
    if total >= _INT32_LIMIT or a.size >= _INT32_LIMIT:
        return getattr(ref, name)(a, x_shape, kh, kw, stride, padding, dilation)
    cp = _cupy()
    with _device_scope(a):
        x = cp.empty((n, c, h, w), dtype=a.dtype)
        if total:
            _launch(_raw_kernel(name, a.dtype), total, (cp.ascontiguousarray(a), x)
                    + _i32(total, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow))
    return x


def _cols_shape(kh, kw):
    return lambda n, c, oh, ow: (n * oh * ow, kh * kw * c)


def _u_shape(kh, kw):
    return lambda n, c, oh, ow: (n, kh * kw * c, oh * ow)


def im2col_hwc(x, kh, kw, stride, padding, dilation):
    """CUDA im2col_hwc; see :func:`minigrad.kernels.reference.im2col_hwc`.

    x (N, C, H, W) -> cols (N*OH*OW, KH*KW*C), C-contiguous, x's dtype.
    """
    return _unfolding("im2col_hwc", x, kh, kw, stride, padding, dilation, _cols_shape(kh, kw))


def col2im_hwc(cols, x_shape, kh, kw, stride, padding, dilation):
    """CUDA col2im_hwc (a gather, no atomics); see :func:`minigrad.kernels.reference.col2im_hwc`.

    cols (N*OH*OW, KH*KW*C) -> x (N, C, H, W), cols' dtype.
    """
    return _folding("col2im_hwc", cols, x_shape, kh, kw, stride, padding, dilation,
                    _cols_shape(kh, kw))


def unfold_hwc(x, kh, kw, stride, padding, dilation):
    """CUDA unfold_hwc (im2col_hwc per image, transposed); see
    :func:`minigrad.kernels.reference.unfold_hwc`.

    x (N, C, H, W) -> u (N, KH*KW*C, OH*OW), C-contiguous, x's dtype.
    """
    return _unfolding("unfold_hwc", x, kh, kw, stride, padding, dilation, _u_shape(kh, kw))


def fold_hwc(u, x_shape, kh, kw, stride, padding, dilation):
    """CUDA fold_hwc (a gather, no atomics); see :func:`minigrad.kernels.reference.fold_hwc`.

    u (N, KH*KW*C, OH*OW) -> x (N, C, H, W), u's dtype.
    """
    return _folding("fold_hwc", u, x_shape, kh, kw, stride, padding, dilation, _u_shape(kh, kw))


# The same four with the columns ordered (c, i, j), the order a GPU's convolutions take
# (kernels.conv_columns): the weight's rows are then a view of W, not a copy per call.
def im2col_chw(x, kh, kw, stride, padding, dilation):
    """CUDA im2col_chw; see :func:`minigrad.kernels.reference.im2col_chw`."""
    return _unfolding("im2col_chw", x, kh, kw, stride, padding, dilation, _cols_shape(kh, kw))


def col2im_chw(cols, x_shape, kh, kw, stride, padding, dilation):
    """CUDA col2im_chw (a gather); see :func:`minigrad.kernels.reference.col2im_chw`."""
    return _folding("col2im_chw", cols, x_shape, kh, kw, stride, padding, dilation,
                    _cols_shape(kh, kw))


def unfold_chw(x, kh, kw, stride, padding, dilation):
    """CUDA unfold_chw (torch's unfold); see :func:`minigrad.kernels.reference.unfold_chw`."""
    return _unfolding("unfold_chw", x, kh, kw, stride, padding, dilation, _u_shape(kh, kw))


def fold_chw(u, x_shape, kh, kw, stride, padding, dilation):
    """CUDA fold_chw (a gather); see :func:`minigrad.kernels.reference.fold_chw`."""
    return _folding("fold_chw", u, x_shape, kh, kw, stride, padding, dilation, _u_shape(kh, kw))


# ------------------------------------------------------------------------------- batch norm
def _bn_blocks(c):
    """One block per channel (the kernels loop over channels, so fewer would do too)."""
    return (max(int(c), 1),), (cuda_src.BN_THREADS,)


def batch_norm_fwd(x, weight, bias, eps):
    """CUDA batch norm forward, one launch; see :func:`minigrad.kernels.reference.batch_norm_fwd`.

    x (N, C, L) -> (y, xhat, mean, var, r), y and xhat (N, C, L), the others (C,).
    """
    if not _fast(x, weight, bias) or x.ndim != 3 or x.shape[0] * x.shape[2] == 0:
        return ref.batch_norm_fwd(x, weight, bias, eps)
    cp = _cupy()
    n, c, length = x.shape
    with _device_scope(x):
        y, xhat = cp.empty_like(x), cp.empty_like(x)
        mean, var, r = (cp.empty(c, dtype=x.dtype) for _ in range(3))
        grid, block = _bn_blocks(c)
        _raw_kernel("batch_norm_fwd", x.dtype)(
            grid, block, (cp.ascontiguousarray(x), cp.ascontiguousarray(weight),
                          cp.ascontiguousarray(bias), y, xhat, mean, var, r)
            + _i32(n, c, length) + (_scalar(eps, x),))
    return y, xhat, mean, var, r


def batch_norm_grad_input(gy, xhat, weight, r):
    """CUDA batch norm input gradient, one launch; see
    :func:`minigrad.kernels.reference.batch_norm_grad_input`.

    gy, xhat (N, C, L) -> (gx, sum_gy, sum_gy_xhat), gx (N, C, L), the sums (C,).
    """
    if not _fast(gy, xhat, weight, r) or gy.ndim != 3 or gy.shape[0] * gy.shape[2] == 0:
        return ref.batch_norm_grad_input(gy, xhat, weight, r)
    cp = _cupy()
    n, c, length = gy.shape
    with _device_scope(gy):
        gx = cp.empty_like(gy)
        sum_gy, sum_gy_xhat = cp.empty(c, dtype=gy.dtype), cp.empty(c, dtype=gy.dtype)
        grid, block = _bn_blocks(c)
        _raw_kernel("batch_norm_grad_input", gy.dtype)(
            grid, block, (cp.ascontiguousarray(gy), cp.ascontiguousarray(xhat),
                          cp.ascontiguousarray(weight), cp.ascontiguousarray(r), gx, sum_gy,
                          sum_gy_xhat) + _i32(n, c, length))
    return gx, sum_gy, sum_gy_xhat


# -------------------------------------------------------------------- convolution output
def nchw_from_rows(rows, n, h, w, bias=None):
    """A convolution's rows (N*H*W, C) as C-contiguous (N, C, H, W) plus the bias, one
    elementwise launch (the reference's in-place addition and transposing copy are two); see
    :func:`minigrad.kernels.reference.nchw_from_rows`."""
    if bias is None or not _fast(rows, bias) or rows.ndim != 2 or bias.size != rows.shape[1]:
        return ref.nchw_from_rows(rows, n, h, w, bias)
    cp = _cupy()
    nchw = rows.reshape(n, h, w, rows.shape[1]).transpose(0, 3, 1, 2)
    with _device_scope(rows):
        out = cp.empty(nchw.shape, dtype=rows.dtype)
        cp.add(nchw, bias.reshape(1, -1, 1, 1), out=out)
    return out


# ------------------------------------------------------------------------ l2 normalization
def l2_normalize(a, eps):
    """``a / max(||a||_2, eps)`` of a 1-D array in one launch (one block); see
    :func:`minigrad.kernels.reference.l2_normalize`."""
    if not _fast(a) or a.ndim != 1 or a.size == 0:
        return ref.l2_normalize(a, eps)
    cp = _cupy()
    with _device_scope(a):
        y = cp.empty_like(a)
        _raw_kernel("l2_normalize", a.dtype)(
            (1,), (cuda_src.BN_THREADS,), (cp.ascontiguousarray(a), y) + _i32(a.size)
            + (_scalar(eps, a),))
    return y


# ------------------------------------------------------------------------------ scatter-add
def scatter_add(target, index, values):
    """In place ``target[index] += values`` with repeated indices accumulating (atomics);
    see :func:`minigrad.kernels.reference.scatter_add`. Returns ``target``."""
    cp = _cupy()
    if cp is None or not isinstance(target, cp.ndarray):
        return ref.scatter_add(target, index, values)
    # host index arrays (e.g. labels) and values go to the device first; no-ops for device ones
    if isinstance(index, tuple):
        index = tuple(cp.asarray(i) if isinstance(i, np.ndarray) else i for i in index)
    elif isinstance(index, np.ndarray):
        index = cp.asarray(index)
    values = cp.asarray(values)
    add_at = getattr(cp.add, "at", None)
    if add_at is not None:  # CuPy >= 13: the documented replacement of cupyx.scatter_add
        add_at(target, index, values)
    else:
        importlib.import_module("cupyx").scatter_add(target, index, values)
    return target


# -------------------------------------------------------------------------- fused elementwise
def _scalar(value, like):
    return like.dtype.type(value)


def leaky_relu_fwd(x, slope):
    """``x if x > 0 else slope * x``, one fused CUDA pass."""
    if not _fast(x):
        return ref.leaky_relu_fwd(x, slope)
    return _elementwise("leaky_relu_fwd")(x, _scalar(slope, x))


def leaky_relu_bwd(x, gy, slope):
    """``gy if x > 0 else gy * slope``, one fused CUDA pass."""
    if not _fast(x, gy):
        return ref.leaky_relu_bwd(x, gy, slope)
    return _elementwise("leaky_relu_bwd")(x, gy, _scalar(slope, gy))


def sigmoid_fwd(x):
    """``1 / (1 + exp(-x))``, stable on both tails, one fused CUDA pass (the reference's
    expression is eight kernels)."""
    if not _fast(x):
        return ref.sigmoid_fwd(x)
    return _elementwise("sigmoid_fwd")(x)


def argsort_stable(a, axis):
    """CuPy's argsort (Thrust's stable sort, which takes no ``kind``). See
    :func:`minigrad.kernels.reference.argsort_stable`."""
    return a.argsort(axis=axis)


def erf(x):
    """The error function on the GPU: CuPy's (cupyx.scipy.special), one elementwise kernel.
    See :func:`minigrad.kernels.reference.erf`."""
    from cupyx.scipy import special
    return special.erf(x)


def erfc(x):
    """1 - erf(x) on the GPU (cupyx.scipy.special). See :func:`minigrad.kernels.reference.erfc`."""
    from cupyx.scipy import special
    return special.erfc(x)


def lgamma(x):
    """log|Gamma(x)| on the GPU: CuPy's gammaln (cupyx.scipy.special) with torch's values at
    the poles and infinities. See :func:`minigrad.kernels.reference.lgamma`."""
    from cupyx.scipy import special
    return ref._lgamma_poles(_cupy(), x, special.gammaln(x).astype(x.dtype, copy=False))


def digamma(x):
    """digamma on the GPU (cupyx.scipy.special), torch's values at the poles. See
    :func:`minigrad.kernels.reference.digamma`."""
    from cupyx.scipy import special
    return ref._digamma_poles(_cupy(), x, special.digamma(x).astype(x.dtype, copy=False))


def polygamma(n, x):
    """polygamma(n, x) on the GPU (cupyx.scipy.special; n a Python int), torch's values at the
    poles. See :func:`minigrad.kernels.reference.polygamma`."""
    from cupyx.scipy import special
    if n == 0:
        return digamma(x)
    cp = _cupy()
    # CuPy's polygamma broadcasts n with x: n as a 0-d array of x's dtype
    y = special.polygamma(cp.asarray(n, dtype=x.dtype), x).astype(x.dtype, copy=False)
    return ref._polygamma_poles(cp, n, x, y)


def _ce_ok(z, t, ignore_index):
    return (_fast(z) and z.ndim == 2 and z.shape[1] >= 1 and t.shape == (z.shape[0],)
            and t.dtype.kind in "iu" and type(t) is type(z)
            and -_INT32_LIMIT <= ignore_index < _INT32_LIMIT)


def cross_entropy_fwd(z, t, ignore_index):
    """The rows' cross-entropy, one CUDA launch (a thread per row); see
    :func:`minigrad.kernels.reference.cross_entropy_fwd`."""
    if not _ce_ok(z, t, ignore_index):
        return ref.cross_entropy_fwd(z, t, ignore_index)
    cp = _cupy()
    n, c = z.shape
    with _device_scope(z):
        loss = cp.empty(n, dtype=z.dtype)
        _launch(_raw_kernel("cross_entropy_fwd", z.dtype), n,
                (cp.ascontiguousarray(z), cp.ascontiguousarray(t, dtype=np.int64), loss)
                + _i32(n, c, ignore_index))
    return loss


def cross_entropy_grad(gy, z, t, ignore_index):
    """Its gradient in z, one CUDA launch; see
    :func:`minigrad.kernels.reference.cross_entropy_grad`."""
    if not _ce_ok(z, t, ignore_index) or not _fast(gy, z) or gy.shape != (z.shape[0],):
        return ref.cross_entropy_grad(gy, z, t, ignore_index)
    cp = _cupy()
    n, c = z.shape
    with _device_scope(z):
        gz = cp.empty_like(z)
        _launch(_raw_kernel("cross_entropy_grad", z.dtype), n,
                (cp.ascontiguousarray(gy), cp.ascontiguousarray(z),
                 cp.ascontiguousarray(t, dtype=np.int64), gz) + _i32(n, c, ignore_index))
    return gz


def bce_with_logits_fwd(z, t):
    """``logaddexp(0, z) - z t``, one fused CUDA pass (z and t broadcast as CuPy broadcasts);
    the reference's expression is three kernels."""
    if not _fast(z, t):
        return ref.bce_with_logits_fwd(z, t)
    return _elementwise("bce_with_logits_fwd")(z, t)


def dropout_mask(u, p, scale):
    """Dropout's mask (``scale`` where u >= p, else 0), one fused CUDA pass (three kernels as
    the reference's expression)."""
    if not _fast(u):
        return ref.dropout_mask(u, p, scale)
    return _elementwise("dropout_mask")(u, _scalar(p, u), _scalar(scale, u))


def dropout_apply(x, u, p, scale):
    """Dropout applied, ``x * mask``, one fused CUDA pass (the mask and the product were two)."""
    if not _fast(x, u) or x.shape != u.shape:
        return ref.dropout_apply(x, u, p, scale)
    return _elementwise("dropout_apply")(x, u, _scalar(p, x), _scalar(scale, x))


def bce_with_logits_grad(gy, z, t):
    """``gy (sigmoid(z) - t)``, one fused CUDA pass (ten kernels as the reference's
    expression)."""
    if not _fast(gy, z, t):
        return ref.bce_with_logits_grad(gy, z, t)
    return _elementwise("bce_with_logits_grad")(gy, z, t)


# ------------------------------------------------------------------ counter-based random
def philox_fill(out, key0, key1, ctr, normal):
    """CUDA Philox4x32-10 draws into ``out``, the counter read from device memory; see
    :func:`minigrad.kernels.reference.philox_fill`."""
    cp = _cupy()
    if not _fast(out) or not out.flags.c_contiguous or not isinstance(ctr, cp.ndarray):
        return ref.philox_fill(out, key0, key1, ctr, normal)
    groups = (out.size + 3) // 4
    if groups:
        with _device_scope(out):
            _launch(_raw_kernel("philox_fill", out.dtype), groups,
                    (out, np.int32(out.size), np.uint32(key0 & 0xFFFFFFFF),
                     np.uint32(key1 & 0xFFFFFFFF), ctr, np.int32(bool(normal))))
    return out


def philox_advance(ctr, groups):
    """``ctr += groups`` on the device (one thread); see
    :func:`minigrad.kernels.reference.philox_advance`."""
    cp = _cupy()
    if cp is None or not isinstance(ctr, cp.ndarray):
        return ref.philox_advance(ctr, groups)
    with _device_scope(ctr):
        # NOTE: float32 picks the compiled variant; the kernel has no T-typed argument
        _raw_kernel("philox_advance", np.float32)((1,), (1,), (ctr, np.int32(groups)))
    return ctr


# ------------------------------------------------------------------- running statistics
def running_average(running, value, momentum, scale=1.0):
    """BatchNorm's running-statistics update in one launch; see
    :func:`minigrad.kernels.reference.running_average`."""
    if not _fast(running) or not isinstance(value, _cupy().ndarray) or \
            value.size != running.size or value.dtype != running.dtype:
        return ref.running_average(running, value, momentum, scale)
    dt = running.dtype.type
    _elementwise("running_average")(value.reshape(running.shape), dt(scale), dt(1.0 - momentum),
                                    dt(momentum), running)
    return running


def batch_norm_running(running_mean, running_var, mean, var, momentum, var_scale):
    """Both running statistics of a BatchNorm in one launch; see
    :func:`minigrad.kernels.reference.batch_norm_running`."""
    arrays = (running_mean, running_var, mean, var)
    if not _fast(*arrays) or len({a.size for a in arrays}) != 1 or \
            running_mean.shape != running_var.shape:
        return ref.batch_norm_running(running_mean, running_var, mean, var, momentum, var_scale)
    dt = running_mean.dtype.type
    shape = running_mean.shape
    _elementwise("batch_norm_running")(mean.reshape(shape), var.reshape(shape), dt(var_scale),
                                       dt(1.0 - momentum), dt(momentum), running_mean,
                                       running_var)


# The optimizers' glue and the matrix products live in modules of their own; every kernel name
# is answered here (the registry looks them up on this module). The Winograd transforms are the
# reference's array code, which runs on CuPy unchanged (a few elementwise passes; a fused kernel
# is left until a GPU profile asks for one).
from .cupy_blas import (  # noqa: E402,F401
    MULTI_DEVICE_STEPS, gemm_plan, matmul, prepare_capture, use_direct_cublas)
from .cupy_optim import (  # noqa: E402,F401
    adam_update, adam_update_multi, adam_update_multi_device_steps, rmsprop_update,
    rmsprop_update_multi, sgd_update)
from .reference_winograd import (  # noqa: E402,F401
    winograd_f2x3_input, winograd_f2x3_output, winograd_f2x3_weight, winograd_f4x3_grad_output,
    winograd_f4x3_grad_weight, winograd_f4x3_input, winograd_f4x3_output, winograd_f4x3_weight,
    winograd_k4s2_grad_output, winograd_k4s2_grad_weight, winograd_k4s2_input,
    winograd_k4s2_output, winograd_k4s2_weight, winograd_k4s2t_input, winograd_k4s2t_output,
    winograd_k4s2t_weight,
    winograd_k4s2f4_grad_output, winograd_k4s2f4_grad_weight, winograd_k4s2f4_input,
    winograd_k4s2f4_output, winograd_k4s2f4_weight,
    winograd_k4s2tf4_input, winograd_k4s2tf4_output, winograd_k4s2tf4_weight)
