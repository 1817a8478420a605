"""Numba (CPU) implementations of minigrad's array kernels.

Every public function here has exactly the signature of its twin in
:mod:`minigrad.kernels.reference` and returns the same result (bit for bit for
im2col_hwc/col2im_hwc, the optimizer updates and the rational elementwise kernels;
within a few ulp where ``exp``/``log1p`` are involved).

Each public function is a thin Python wrapper that checks whether the inputs are
in the fast path (NumPy float32/float64 arrays, matching shapes and dtypes,
C-contiguous where written in place); anything else -- CuPy arrays, integer
dtypes, broadcasting, exotic index expressions -- is handed to the reference
implementation, so callers never have to care.

The ``@njit`` kernels themselves (``_*_kernel``) get their output arrays
preallocated (elementwise and optimizer kernels see flat 1-D views) and their
scalar constants already cast to the array dtype: Numba promotes
``float32 op int`` to float64, so a literal ``1`` inside a kernel would silently
change float32 rounding.

No kernel uses Numba's ``parallel=True``: it did make im2col/col2im/Adam up to 2x faster
on an otherwise idle 2-core machine, but interleaved with BLAS matmuls (OpenBLAS worker threads
spin after each call) the OpenMP-backed parallel regions became 10-30x *slower* than serial
code -- and that interleaving is exactly what a training step does. Instead the kernels that
pass over whole activations (im2col, col2im, the Winograd transforms) take the range of their
outer loop as two last arguments ``lo, hi`` and are compiled ``nogil=True``, and
:mod:`minigrad.kernels.threads` splits that range across a pool of Python threads (its
docstring says why that works where ``prange`` did not). The elementwise and optimizer kernels
stay on one thread. All kernels use ``error_model="numpy"`` (IEEE division, no
ZeroDivisionError check), which also lets LLVM vectorise the loops.

Importing this module imports numba but compiles nothing; compilation happens
on the first call (and is cached on disk, ``cache=True``).
"""

import math
import sys
from pathlib import Path

import numpy as np
from numba import njit

from . import NUMBA_KERNELS
from . import reference as ref
from . import threads
from .reference_optim import adam_scalars

# Every kernel the registry takes from here (NUMBA_KERNELS lists them where importing this
# module, and so numba, is not needed; matmul comes from cpu_blas).
__all__ = sorted(NUMBA_KERNELS)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _is_float_ndarray(*arrays):
    """True iff all arguments are NumPy arrays of one float dtype (float32 or float64)."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype not in _FLOATS:
        return False
    return all(type(a) is np.ndarray and a.dtype == first.dtype for a in arrays[1:])


def _same_shape(*arrays):
    shape = arrays[0].shape
    return all(a.shape == shape for a in arrays[1:])


def _flat(a):
    """1-D view of a C-contiguous array."""
    return a.reshape(-1)


# =========================================================================== scatter-add

@njit(cache=True, error_model="numpy")
def _scatter_add_axis_kernel(target, index, values):
    """target (A, M, K), index (B,) ints, values (A, B, K): target[a, index[b]] += values[a, b]
    (axis 0 of an array is A = 1).

    Sequential on purpose: repeated indices would race in a parallel loop. Each element of
    target receives its values in increasing b, the order of ``np.add.at``: the same floats.
    """
    m = target.shape[1]
    for b in range(index.shape[0]):
        r = index[b]
        if r < 0:
            r += m
        if r < 0 or r >= m:
            raise IndexError("scatter_add: index out of bounds")
    for a in range(target.shape[0]):
        for b in range(index.shape[0]):
            r = index[b]
            if r < 0:
                r += m
            for k in range(target.shape[2]):
                target[a, r, k] += values[a, b, k]


def _axis_int_index(index, ndim):
    """(axis, the integer array) if ``index`` selects along one axis with an integer array and
    takes everything else (``x[idx]``, ``x[idx, ...]``, ``x[:, :, idx]``, ``x[:, idx, :]``:
    reflect and replicate padding, index_select), else None."""
    if not isinstance(index, tuple):
        index = (index,)
    axis = next((i for i, r in enumerate(index) if type(r) is np.ndarray), None)
    if axis is None or axis >= ndim:
        return None
    idx = index[axis]
    full = lambda r: isinstance(r, slice) and r == slice(None)
    rest = index[axis + 1:]
    if (idx.dtype.kind not in "iu" or idx.ndim < 1 or not all(full(r) for r in index[:axis])
            or not all(r is Ellipsis or full(r) for r in rest)
            or sum(r is Ellipsis for r in rest) > 1 or (axis > 0 and idx.ndim != 1)):
        return None
    return axis, idx


def scatter_add(target, index, values):
    """Numba scatter-add; see :func:`minigrad.kernels.reference.scatter_add`.

    Fast path: ``index`` is an integer array selecting along one axis of a C-contiguous float
    ``target`` (any ndim along axis 0, ``(idx, slice(None), ...)``; 1-D along a later axis,
    ``(slice(None), ..., idx, ...)``), and ``values`` has exactly the shape of
    ``target[index]``. Everything else falls back to ``np.add.at``. Returns ``target``.
    """
    found = _axis_int_index(index, getattr(target, "ndim", 0))
    if found is None or not _is_float_ndarray(target, values) or \
            not target.flags.c_contiguous:
        return ref.scatter_add(target, index, values)
    axis, idx = found
    shape = target.shape
    if values.shape != shape[:axis] + idx.shape + shape[axis + 1:]:
        return ref.scatter_add(target, index, values)
    lead, row_size = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    flat_idx = np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
    _scatter_add_axis_kernel(target.reshape(lead, shape[axis], row_size), flat_idx,
                             np.ascontiguousarray(values).reshape(lead, idx.size, row_size))
    return target


# =========================================================================== fused elementwise
# Kernels work on flat 1-D arrays; the wrappers reshape (views, inputs are C-contiguous).

@njit(cache=True, error_model="numpy", nogil=True)
def _leaky_relu_fwd_kernel(x, slope, out, lo, hi):
    x, out = x[lo:hi], out[lo:hi]  # views: with range(lo, hi) the loop did not vectorise
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if v > 0 else v * slope


@njit(cache=True, error_model="numpy", nogil=True)
def _leaky_relu_bwd_kernel(x, gy, slope, out, lo, hi):
    x, gy, out = x[lo:hi], gy[lo:hi], out[lo:hi]
    for i in range(x.shape[0]):
        out[i] = gy[i] if x[i] > 0 else gy[i] * slope


def _elementwise_ok(*arrays):
    return _is_float_ndarray(*arrays) and _same_shape(*arrays) and all(
        a.flags.c_contiguous for a in arrays)


def leaky_relu_fwd(x, slope):
    """Numba leaky ReLU forward; x any shape -> same shape and dtype."""
    if not _elementwise_ok(x):
        return ref.leaky_relu_fwd(x, slope)
    out = np.empty_like(x)
    # one thread: split in two, these memory-bound passes ran slower in a step (threads.py)
    _leaky_relu_fwd_kernel(_flat(x), x.dtype.type(slope), _flat(out), 0, x.size)
    return out


def leaky_relu_bwd(x, gy, slope):
    """Numba leaky ReLU backward; x, gy same shape -> gx."""
    if not _elementwise_ok(x, gy):
        return ref.leaky_relu_bwd(x, gy, slope)
    out = np.empty_like(gy)
    _leaky_relu_bwd_kernel(_flat(x), _flat(gy), gy.dtype.type(slope), _flat(out), 0, x.size)
    return out


# =========================================================================== optimizers
# One fused pass over flat arrays.  Same operations in the same order as the
# reference, with every scalar pre-cast to the array dtype, so float32 results
# are bitwise identical (Numba does not contract a*b+c into an FMA by default).
#
# The per-element update lives in a helper that the kernel calls from one loop
# per combination of flags, passing the flags as constants: after inlining,
# each loop is branch-free and LLVM vectorises it (a loop with data-independent
# but runtime branches and conditional stores was up to 60x slower).
# error_model="numpy" gives IEEE division (no ZeroDivisionError check), which
# is also needed for vectorisation.

@njit(cache=True, error_model="numpy")
def _adam_step(i, p, g, m, v, vmax, use_wd, wd, b1, one_minus_b1, b2, one_minus_b2,
               step_size, bc2_sqrt, eps, amsgrad):
    gi = g[i]
    if use_wd:
        gi = gi + wd * p[i]
    mi = m[i] * b1 + one_minus_b1 * gi
    vi = v[i] * b2 + one_minus_b2 * gi * gi
    m[i] = mi
    v[i] = vi
    if amsgrad:
        vm = vmax[i]
        if vi > vm or vi != vi:  # NaN propagates, like np.maximum
            vm = vi
        vmax[i] = vm
        vi = vm
    p[i] = p[i] - step_size * mi / (math.sqrt(vi) / bc2_sqrt + eps)


@njit(cache=True, error_model="numpy")
def _adam_kernel(p, g, m, v, vmax, use_wd, wd, b1, one_minus_b1, b2, one_minus_b2,
                 step_size, bc2_sqrt, eps, amsgrad):
    """Adam on flat arrays p, g, m, v, vmax (vmax is only touched if amsgrad)."""
    n = p.shape[0]
    if amsgrad:
        for i in range(n):
            _adam_step(i, p, g, m, v, vmax, use_wd, wd, b1, one_minus_b1, b2, one_minus_b2,
                       step_size, bc2_sqrt, eps, True)
    else:
        for i in range(n):
            _adam_step(i, p, g, m, v, vmax, use_wd, wd, b1, one_minus_b1, b2, one_minus_b2,
                       step_size, bc2_sqrt, eps, False)


@njit(cache=True, error_model="numpy")
def _rmsprop_step(i, p, g, sq, ga, buf, use_wd, wd, alpha, one_minus_alpha, eps, lr,
                  centered, use_momentum, momentum):
    gi = g[i]
    if use_wd:
        gi = gi + wd * p[i]
    si = sq[i] * alpha + one_minus_alpha * gi * gi
    sq[i] = si
    if centered:
        gai = ga[i] * alpha + one_minus_alpha * gi
        ga[i] = gai
        avg = math.sqrt(si - gai * gai) + eps
    else:
        avg = math.sqrt(si) + eps
    if use_momentum:
        bi = buf[i] * momentum + gi / avg
        buf[i] = bi
        p[i] = p[i] - lr * bi
    else:
        p[i] = p[i] - lr * gi / avg


@njit(cache=True, error_model="numpy")
def _rmsprop_kernel(p, g, sq, ga, buf, use_wd, wd, alpha, one_minus_alpha, eps, lr,
                    centered, use_momentum, momentum):
    """RMSprop on flat arrays (ga / buf are only touched if centered / use_momentum)."""
    n = p.shape[0]
    if centered and use_momentum:
        for i in range(n):
            _rmsprop_step(i, p, g, sq, ga, buf, use_wd, wd, alpha, one_minus_alpha, eps, lr,
                          True, True, momentum)
    elif centered:
        for i in range(n):
            _rmsprop_step(i, p, g, sq, ga, buf, use_wd, wd, alpha, one_minus_alpha, eps, lr,
                          True, False, momentum)
    elif use_momentum:
        for i in range(n):
            _rmsprop_step(i, p, g, sq, ga, buf, use_wd, wd, alpha, one_minus_alpha, eps, lr,
                          False, True, momentum)
    else:
        for i in range(n):
            _rmsprop_step(i, p, g, sq, ga, buf, use_wd, wd, alpha, one_minus_alpha, eps, lr,
                          False, False, momentum)


def _inplace_ok(*arrays):
    return _elementwise_ok(*arrays) and all(a.flags.writeable for a in arrays)


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
                weight_decay, step, amsgrad):
    """Numba fused Adam step (in place); see :func:`minigrad.kernels.reference.adam_update`."""
    arrays = [param, grad, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    if not _inplace_ok(*arrays):
        return ref.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr=lr,
                               beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                               step=step, amsgrad=amsgrad)
    vmax = max_exp_avg_sq if amsgrad else exp_avg_sq  # dummy when unused
    _adam_kernel(_flat(param), _flat(grad), _flat(exp_avg), _flat(exp_avg_sq), _flat(vmax),
                 weight_decay != 0, *adam_scalars(param.dtype, lr=lr, beta1=beta1, beta2=beta2,
                                                  eps=eps, weight_decay=weight_decay, step=step),
                 bool(amsgrad))
    return param


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, centered):
    """Numba fused RMSprop step (in place); see :func:`reference.rmsprop_update`."""
    use_momentum = momentum > 0
    arrays = ([param, grad, square_avg] + ([grad_avg] if centered else [])
              + ([momentum_buffer] if use_momentum else []))
    if not _inplace_ok(*arrays):
        return ref.rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr=lr,
                                  alpha=alpha, eps=eps, weight_decay=weight_decay,
                                  momentum=momentum, centered=centered)
    dt = param.dtype.type
    ga = grad_avg if centered else square_avg  # dummies when unused
    buf = momentum_buffer if use_momentum else square_avg
    _rmsprop_kernel(_flat(param), _flat(grad), _flat(square_avg), _flat(ga), _flat(buf),
                    weight_decay != 0, dt(weight_decay), dt(alpha), dt(1.0 - alpha), dt(eps),
                    dt(lr), bool(centered), bool(use_momentum), dt(momentum))
    return param


# The convolutions' kernels (im2col, col2im, unfold, fold), the Winograd transforms and
# BatchNorm live in modules of their own; the registry finds them here.
from . import numba_conv  # noqa: E402
from .numba_conv import col2im_hwc, fold_hwc, im2col_hwc, unfold_hwc  # noqa: E402,F401
from . import numba_winograd  # noqa: E402
from .numba_winograd import (  # noqa: E402,F401
    winograd_f2x3_input, winograd_f2x3_output, winograd_f2x3_weight, winograd_f4x3_grad_output,
    winograd_f4x3_grad_weight, winograd_f4x3_input, winograd_f4x3_output, winograd_f4x3_weight,
    winograd_k4s2_grad_output, winograd_k4s2_grad_weight, winograd_k4s2_input,
    winograd_k4s2_output, winograd_k4s2_weight, winograd_k4s2f4_grad_output,
    winograd_k4s2f4_grad_weight, winograd_k4s2f4_input, winograd_k4s2f4_output,
    winograd_k4s2f4_weight, winograd_k4s2t_input, winograd_k4s2t_output, winograd_k4s2t_weight,
    winograd_k4s2tf4_input, winograd_k4s2tf4_output, winograd_k4s2tf4_weight)
from . import numba_norm  # noqa: E402
from .numba_norm import batch_norm_fwd, batch_norm_grad_input  # noqa: E402,F401
# not Numba: small batched products split over the kernel threads (cpu_blas.py)
from .cpu_blas import matmul  # noqa: E402,F401


def _say_if_compiling():
    """One line on stderr when Numba's disk cache holds none of these kernels yet (a first run
    on this machine, or this file or numba_winograd.py was edited): the pause that follows is
    compilation."""
    kernels = [f for m in (globals(), vars(numba_conv), vars(numba_winograd), vars(numba_norm)) for f in m.values()
               if hasattr(f, "_cache")]  # the @njit dispatchers
    try:
        index_files = [Path(f._cache._cache_file._index_path) for f in kernels]
    except AttributeError:  # another Numba's internals: say nothing rather than fail
        return
    if index_files and not any(p.exists() for p in index_files):
        print(f"minigrad: compiling Numba kernels once (about 10 s; cached in "
              f"{index_files[0].parent})", file=sys.stderr, flush=True)


_say_if_compiling()


def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *, lr, beta1,
                      beta2, eps, weight_decay, steps, amsgrad):
    """:func:`adam_update` (Numba) on every tensor of a group; see
    :func:`minigrad.kernels.reference.adam_update_multi`."""
    for p, g, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                      steps):
        adam_update(p, g, m, v, vmax, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                    weight_decay=weight_decay, step=step, amsgrad=amsgrad)


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha,
                         eps, weight_decay, momentum, centered):
    """:func:`rmsprop_update` (Numba) on every tensor of a group; see
    :func:`minigrad.kernels.reference.rmsprop_update_multi`."""
    for p, g, sq, ga, buf in zip(params, grads, square_avgs, grad_avgs, momentum_buffers):
        rmsprop_update(p, g, sq, ga, buf, lr=lr, alpha=alpha, eps=eps,
                       weight_decay=weight_decay, momentum=momentum, centered=centered)

