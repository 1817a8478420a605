"""CuPy (CUDA) implementations of minigrad's array kernels.

Every public function has exactly the signature of its twin in
:mod:`minigrad.kernels.reference` (the specification) and computes the same thing:

* ``im2col_hwc`` / ``col2im_hwc`` and their per-image twins ``unfold_hwc`` / ``fold_hwc`` --
  ``cupy.RawKernel`` s with one thread per output element; ``col2im_hwc`` and ``fold_hwc``
  gather, for each pixel, the window entries that copied it, so they need no atomics and are
  bitwise equal to the reference (their sums run in the reference's order).
* ``batch_norm_fwd`` / ``batch_norm_grad_input`` -- one RawKernel launch each, one block per
  channel reducing in shared memory (the sums run in another order than NumPy's: equal to the
  reference within float rounding, not bitwise).
* ``leaky_relu_fwd/bwd`` -- ``cupy.ElementwiseKernel`` s: one fused pass instead of the 2-5 temporaries the NumPy-style
  expression allocates.
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
import math

import numpy as np

from . import cuda_src
from . import reference as ref

__all__ = [
    "im2col_hwc", "col2im_hwc", "unfold_hwc", "fold_hwc", "scatter_add",
    "leaky_relu_fwd", "leaky_relu_bwd", "batch_norm_fwd", "batch_norm_grad_input",
    "adam_update", "rmsprop_update", "sgd_update",
    "adam_update_multi", "rmsprop_update_multi",
    "philox_fill", "philox_advance", "matmul", "adam_update_multi_device_steps",
    "running_average",
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
    what = "cols" if name == "col2im_hwc" else "u"
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


def im2col_hwc(x, kh, kw, stride, padding, dilation):
    """CUDA im2col_hwc; see :func:`minigrad.kernels.reference.im2col_hwc`.

    x (N, C, H, W) -> cols (N*OH*OW, KH*KW*C), C-contiguous, x's dtype.
    """
    return _unfolding("im2col_hwc", x, kh, kw, stride, padding, dilation,
                      lambda n, c, oh, ow: (n * oh * ow, kh * kw * c))


def col2im_hwc(cols, x_shape, kh, kw, stride, padding, dilation):
    """CUDA col2im_hwc (a gather, no atomics); see :func:`minigrad.kernels.reference.col2im_hwc`.

    cols (N*OH*OW, KH*KW*C) -> x (N, C, H, W), cols' dtype.
    """
    return _folding("col2im_hwc", cols, x_shape, kh, kw, stride, padding, dilation,
                    lambda n, c, oh, ow: (n * oh * ow, kh * kw * c))


def unfold_hwc(x, kh, kw, stride, padding, dilation):
    """CUDA unfold_hwc (im2col_hwc per image, transposed); see
    :func:`minigrad.kernels.reference.unfold_hwc`.

    x (N, C, H, W) -> u (N, KH*KW*C, OH*OW), C-contiguous, x's dtype.
    """
    return _unfolding("unfold_hwc", x, kh, kw, stride, padding, dilation,
                      lambda n, c, oh, ow: (n, kh * kw * c, oh * ow))


def fold_hwc(u, x_shape, kh, kw, stride, padding, dilation):
    """CUDA fold_hwc (a gather, no atomics); see :func:`minigrad.kernels.reference.fold_hwc`.

    u (N, KH*KW*C, OH*OW) -> x (N, C, H, W), u's dtype.
    """
    return _folding("fold_hwc", u, x_shape, kh, kw, stride, padding, dilation,
                    lambda n, c, oh, ow: (n, kh * kw * c, oh * ow))


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


# ------------------------------------------------------------------------------- optimizers
def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
                weight_decay, step, amsgrad):
    """One fused in-place Adam step; see :func:`minigrad.kernels.reference.adam_update`."""
    state = [exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    if not _fast(param, grad, *state):
        return ref.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr=lr,
                               beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                               step=step, amsgrad=amsgrad)
    dt = param.dtype.type
    bias_correction1 = 1.0 - beta1 ** step
    bias_correction2 = 1.0 - beta2 ** step
    scalars = (dt(weight_decay), dt(beta1), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2),
               dt(lr / bias_correction1), dt(math.sqrt(bias_correction2)), dt(eps))
    name = "adam_update_amsgrad" if amsgrad else "adam_update"
    _elementwise(name)(grad, *scalars, param, *state)
    return param


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, centered):
    """One fused in-place RMSprop step; see :func:`reference.rmsprop_update`."""
    use_momentum = momentum > 0
    state = ([square_avg] + ([grad_avg] if centered else [])
             + ([momentum_buffer] if use_momentum else []))
    if not _fast(param, grad, *state):
        return ref.rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr=lr,
                                  alpha=alpha, eps=eps, weight_decay=weight_decay,
                                  momentum=momentum, centered=centered)
    dt = param.dtype.type
    name = ("rmsprop_update" + ("_centered" if centered else "")
            + ("_momentum" if use_momentum else ""))
    _elementwise(name)(grad, dt(weight_decay), dt(alpha), dt(1.0 - alpha), dt(eps), dt(lr),
                       dt(momentum), param, *state)
    return param


def sgd_update(param, grad, momentum_buffer, *, lr, momentum=0.0, dampening=0.0,
               weight_decay=0.0, nesterov=False, first_step=False):
    """One fused in-place SGD step; see :func:`minigrad.kernels.reference.sgd_update`."""
    state = [momentum_buffer] if momentum != 0 else []
    if not _fast(param, grad, *state):
        return ref.sgd_update(param, grad, momentum_buffer, lr=lr, momentum=momentum,
                              dampening=dampening, weight_decay=weight_decay,
                              nesterov=nesterov, first_step=first_step)
    dt = param.dtype.type
    if momentum == 0:
        _elementwise("sgd_update")(grad, dt(weight_decay), dt(lr), param)
    else:
        _elementwise("sgd_update_momentum")(
            grad, dt(weight_decay), dt(lr), dt(momentum), dt(1.0 - dampening),
            np.int32(bool(nesterov)), np.int32(bool(first_step)), param, momentum_buffer)
    return param


# ------------------------------------------------------------------ multi-tensor optimizers
# One launch per parameter group (cuda_src.multi_tensor_source). The kernel reads a device
# table of the tensors' pointers; building and uploading it costs a host-to-device copy, so
# tables are kept by the pointers they hold: in a training loop the parameters and optimizer
# state never move and CuPy's pool hands the gradients the same blocks step after step, so
# the table is uploaded once. (A table is a function of its key, so a stale entry is never
# wrong, only unused.)
_tables = {}
_TABLES_KEPT = 64


def _address(a):
    """The device address of array ``a`` (its host address for a NumPy stand-in in tests)."""
    data = a.data
    return data.ptr if hasattr(data, "ptr") else a.ctypes.data


def _pointer_table(rows, sizes):
    key = (tuple(_address(a) for row in rows for a in row), tuple(sizes))
    from minigrad.backend import graphs

    graph = graphs.capturing()
    if graph is not None:  # recorded: a copy from pinned memory the graph keeps alive
        return graph.constant(np.array(key[0], dtype=np.uint64)), graph.constant(
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    table = _tables.get(key)
    if table is None:
        cp = _cupy()
        ptrs = np.array(key[0], dtype=np.uint64)
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if len(_tables) >= _TABLES_KEPT:
            _tables.clear()
        table = _tables[key] = (cp.asarray(ptrs), cp.asarray(starts))
    return table


def _multi(name, rows, scalars, single):
    """Launch multi-tensor kernel ``name`` once per (device, dtype, key) over ``rows``.

    ``rows``: ``(key, arrays, fallback)`` per tensor, ``arrays`` in the kernel's order (the
    gradient first, then the arrays updated in place); ``scalars(key, dtype)``: the kernel's
    scalar arguments for a group. A tensor outside the fast path (not CuPy, another dtype, an
    in-place array that is not C-contiguous) goes to ``single(*fallback)``, the one-tensor
    kernel.
    """
    groups = {}
    for key, arrays, fallback in rows:
        if _fast(*arrays) and all(a.flags.c_contiguous for a in arrays[1:]):
            device = getattr(arrays[0].device, "id", 0)
            groups.setdefault((device, arrays[0].dtype, key), []).append(arrays)
        else:
            single(*fallback)
    cp = _cupy()
    for (_, dtype, key), group in groups.items():
        group = [[cp.ascontiguousarray(arrays[0])] + arrays[1:] for arrays in group]
        group = [arrays for arrays in group if arrays[0].size]
        sizes = [arrays[0].size for arrays in group]
        total = int(sum(sizes))
        if not total:
            continue
        if total >= _INT32_LIMIT:  # the kernel indexes with 32-bit ints: one launch per tensor
            for arrays in group:
                _multi_launch(name, [arrays], [arrays[0].size], scalars(key, dtype), dtype)
            continue
        _multi_launch(name, group, sizes, scalars(key, dtype), dtype)


def _multi_launch(name, group, sizes, scalars, dtype):
    with _device_scope(group[0][0]):
        ptrs, starts = _pointer_table(group, sizes)
        total = int(sum(sizes))
        _launch(_raw_kernel(name, dtype), total,
                (ptrs, starts, np.int32(len(group)), np.int32(total)) + scalars)


def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *, lr, beta1,
                      beta2, eps, weight_decay, steps, amsgrad):
    """Fused Adam over a parameter group, one launch per (dtype, step); see
    :func:`minigrad.kernels.reference.adam_update_multi`."""
    rows = []
    for p, g, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                      steps):
        arrays = [g, p, m, v] + ([vmax] if amsgrad else [])
        rows.append((step, arrays, (p, g, m, v, vmax, step)))

    def scalars(step, dtype):
        dt = dtype.type
        bias_correction1 = 1.0 - beta1 ** step
        bias_correction2 = 1.0 - beta2 ** step
        return (dt(weight_decay), dt(beta1), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2),
                dt(lr / bias_correction1), dt(math.sqrt(bias_correction2)), dt(eps))

    def single(p, g, m, v, vmax, step):
        adam_update(p, g, m, v, vmax, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                    weight_decay=weight_decay, step=step, amsgrad=amsgrad)

    _multi("multi_adam_update_amsgrad" if amsgrad else "multi_adam_update", rows, scalars,
           single)


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha,
                         eps, weight_decay, momentum, centered):
    """Fused RMSprop over a parameter group, one launch per dtype; see
    :func:`minigrad.kernels.reference.rmsprop_update_multi`."""
    use_momentum = momentum > 0
    rows = []
    for p, g, sq, ga, buf in zip(params, grads, square_avgs, grad_avgs, momentum_buffers):
        arrays = [g, p, sq] + ([ga] if centered else []) + ([buf] if use_momentum else [])
        rows.append((None, arrays, (p, g, sq, ga, buf)))

    def scalars(_, dtype):
        dt = dtype.type
        return (dt(weight_decay), dt(alpha), dt(1.0 - alpha), dt(eps), dt(lr), dt(momentum))

    def single(p, g, sq, ga, buf):
        rmsprop_update(p, g, sq, ga, buf, lr=lr, alpha=alpha, eps=eps,
                       weight_decay=weight_decay, momentum=momentum, centered=centered)

    name = ("multi_rmsprop_update" + ("_centered" if centered else "")
            + ("_momentum" if use_momentum else ""))
    _multi(name, rows, scalars, single)


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


# ------------------------------------------------------------------------ matrix products
# Outside a capture, a product is CuPy's matmul. Inside one (minigrad.backend.graphs), CuPy's
# cuBLAS wrappers refuse to run (each call re-binds the handle to the current stream, which
# CuPy forbids while it is capturing), so the product is one call of cuBLAS's own
# cublas<S|D>gemmStridedBatched through ctypes, on CuPy's handle, which the capture bound to
# its stream before it began.

def gemm_plan(a_shape, a_strides, b_shape, b_strides, itemsize):
    """How one strided-batched column-major GEMM computes ``a @ b`` for row-major arrays.

    a (..., M, K) and b (..., K, N), with their strides in bytes. Row-major C = A B is
    column-major C^T = B^T A^T: cuBLAS's first operand is b, its second a. A matrix that is
    C-contiguous is its transpose in column-major order (op N, leading dimension = its row
    length); one whose last two axes are swapped (F-order, e.g. a ``.T`` view) is op T, leading
    dimension = its column length. A batch axis either steps by a constant stride or is
    broadcast (stride 0).

    Returns a dict: ``transb``/``transa`` (0 = N, 1 = T), ``m, n, k`` of the column-major call
    (n_rows of C^T = N, cols = M), ``ldb, lda, ldc``, ``stride_b, stride_a, stride_c`` (in
    elements), ``batch`` and ``out_shape``; or None when an operand's layout needs a copy first
    (the caller makes it C-contiguous and asks again).
    """
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError("gemm_plan: both operands need at least two dimensions")
    m, k = a_shape[-2:]
    k2, n = b_shape[-2:]
    if k != k2:
        raise ValueError(f"gemm_plan: shapes {tuple(a_shape)} and {tuple(b_shape)} are not aligned")
    batch_shape = tuple(np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2])))
    batch = int(np.prod(batch_shape, dtype=np.int64))

    def matrix(shape, strides, rows, cols):
        """(op, ld) of one matrix, or None if neither layout fits."""
        sr, sc = strides[-2] // itemsize, strides[-1] // itemsize
        if (sc == 1 or cols == 1) and (sr == cols or rows == 1):
            return 0, max(cols, 1)
        if (sr == 1 or rows == 1) and (sc == rows or cols == 1):
            return 1, max(rows, 1)
        return None

    def batch_stride(shape, strides):
        """The element stride between consecutive matrices over the broadcast batch, 0 if the
        operand is the same matrix for all, None if it cannot be one stride."""
        lead = tuple(shape[:-2])
        if batch <= 1 or all(d == 1 for d in lead):
            return 0
        if lead != batch_shape[len(batch_shape) - len(lead):] or len(lead) != len(batch_shape):
            return None  # partly broadcast: not one stride
        st = [s // itemsize for s, d in zip(strides[:-2], lead) if d != 1]
        dims = [d for d in lead if d != 1]
        for i in range(len(dims) - 1):  # the batch axes must nest like a C-contiguous block
            if st[i] != st[i + 1] * dims[i + 1]:
                return None
        return st[-1] if st else 0

    mb = matrix(b_shape, b_strides, k, n)
    ma = matrix(a_shape, a_strides, m, k)
    sb, sa = batch_stride(b_shape, b_strides), batch_stride(a_shape, a_strides)
    if mb is None or ma is None or sb is None or sa is None:
        return None
    return dict(transb=mb[0], transa=ma[0], m=n, n=m, k=k, ldb=mb[1], lda=ma[1], ldc=max(n, 1),
                stride_b=sb, stride_a=sa, stride_c=m * n, batch=batch,
                out_shape=batch_shape + (m, n))


_blas = {}  # what the captured products need, found once: the library's two functions


def _cublas_functions():
    if not _blas:
        import ctypes

        cp = _cupy()
        cp.ones((2, 2), cp.float32) @ cp.ones((2, 2), cp.float32)  # cuBLAS loaded by CuPy
        with open("/proc/self/maps") as maps:
            path = next((line.split()[-1] for line in maps
                         if "libcublas.so" in line and "libcublasLt" not in line), None)
        if path is None:
            raise RuntimeError("cannot find the cuBLAS library CuPy loaded (no libcublas.so in "
                               "/proc/self/maps)")
        lib = ctypes.CDLL(path)
        args = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong,
                ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong, ctypes.c_void_p,
                ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong, ctypes.c_int]
        for name, ctype in (("float32", ctypes.c_float), ("float64", ctypes.c_double)):
            fn = getattr(lib, "cublasSgemmStridedBatched" if name == "float32"
                         else "cublasDgemmStridedBatched")
            fn.argtypes, fn.restype = args, ctypes.c_int
            _blas[name] = (fn, ctype(1.0), ctype(0.0))
    return _blas


def prepare_capture():
    """Before a capture: load cuBLAS and find its functions (a CuPy product does that, and
    cannot run inside the capture), and compile the kernels only a captured step uses."""
    _cublas_functions()
    for name in MULTI_DEVICE_STEPS:
        for dtype in _FLOATS:
            _raw_kernel(name, dtype).compile()


MULTI_DEVICE_STEPS = ("multi_adam_update_device_steps", "multi_adam_update_amsgrad_device_steps")


def _captured_matmul(a, b):
    cp = _cupy()
    if a.dtype != b.dtype or a.dtype not in _FLOATS or a.ndim < 2 or b.ndim < 2:
        raise RuntimeError(f"a matrix product of {a.dtype} {a.shape} and {b.dtype} {b.shape} "
                           "cannot be captured (float32/float64 matrices only)")
    plan = gemm_plan(a.shape, a.strides, b.shape, b.strides, a.itemsize)
    if plan is None:  # an exotic layout: C-contiguous copies (elementwise, capturable)
        a, b = cp.ascontiguousarray(a), cp.ascontiguousarray(b)
        if a.ndim > 2 and b.ndim > 2 and a.shape[:-2] != b.shape[:-2]:
            shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            a = cp.ascontiguousarray(cp.broadcast_to(a, shape + a.shape[-2:]))
            b = cp.ascontiguousarray(cp.broadcast_to(b, shape + b.shape[-2:]))
        plan = gemm_plan(a.shape, a.strides, b.shape, b.strides, a.itemsize)
    out = cp.empty(plan["out_shape"], dtype=a.dtype)
    if out.size == 0:
        return out
    if plan["k"] == 0:
        out.fill(0)
        return out
    import ctypes

    fn, one, zero = _cublas_functions()[a.dtype.name]
    status = fn(cp.cuda.device.get_cublas_handle(), plan["transb"], plan["transa"], plan["m"],
                plan["n"], plan["k"], ctypes.byref(one), b.data.ptr, plan["ldb"],
                plan["stride_b"], a.data.ptr, plan["lda"], plan["stride_a"], ctypes.byref(zero),
                out.data.ptr, plan["ldc"], plan["stride_c"], plan["batch"])
    if status != 0:
        raise RuntimeError(f"cuBLAS gemmStridedBatched failed with status {status}")
    return out


_direct = [False]


def use_direct_cublas(flag: bool) -> bool:
    """Make eager products call cuBLAS directly too, as captured ones do (the same kernels, so
    an eager run and a replayed one compute the same bits); returns the previous setting."""
    previous, _direct[0] = _direct[0], bool(flag)
    return previous


def matmul(a, b):
    """``a @ b`` on the GPU: CuPy's matmul, or inside a CUDA graph capture cuBLAS called
    directly; see :func:`minigrad.kernels.reference.matmul`."""
    from minigrad.backend import graphs

    if graphs.capturing() is not None:
        return _captured_matmul(a, b)
    if _direct[0] and isinstance(a, _cupy().ndarray) and isinstance(b, _cupy().ndarray):
        cp = _cupy()
        _backend_cuda.cublas().setStream(cp.cuda.device.get_cublas_handle(),
                                         cp.cuda.get_current_stream().ptr)
        return _captured_matmul(a, b)
    return a @ b


def adam_update_multi_device_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *,
                                   lr, beta1, beta2, eps, weight_decay, steps, amsgrad):
    """Fused Adam over a parameter group in one launch, the steps read from the device array
    ``steps``; see :func:`minigrad.kernels.reference.adam_update_multi_device_steps`."""
    cp = _cupy()
    rows = [[g, p, m, v] + ([vmax] if amsgrad else [])
            for p, g, m, v, vmax in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)]
    if cp is None or not rows or not isinstance(steps, cp.ndarray) or not all(
            _fast(*r) and all(a.flags.c_contiguous for a in r[1:]) and r[0].size for r in rows) \
            or len({r[0].dtype for r in rows}) != 1:
        return ref.adam_update_multi_device_steps(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, lr=lr, beta1=beta1,
            beta2=beta2, eps=eps, weight_decay=weight_decay, steps=steps, amsgrad=amsgrad)
    rows = [[cp.ascontiguousarray(r[0])] + r[1:] for r in rows]
    sizes = [r[0].size for r in rows]
    dtype = rows[0][0].dtype
    dt = dtype.type
    name = ("multi_adam_update_amsgrad" if amsgrad else "multi_adam_update") + "_device_steps"
    scalars = (dt(weight_decay), dt(beta1), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2), dt(eps),
               steps, np.float64(lr), np.float64(beta1), np.float64(beta2))
    _multi_launch(name, rows, sizes, scalars, dtype)


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
