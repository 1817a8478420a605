"""Batch normalisation as one op, closed under differentiation like the convolutions.

x is (N, C, *): per channel c, the statistics run over the n values x[:, c, ...] (every axis
but 1). The fused forwards view their arrays as (N, C, L) (a free reshape of the arrays, not an
op of the graph); the backwards' Tensor ops reduce over the same axes. Per channel:

    mean = sum(x) / n,  var = sum((x - mean)^2) / n (biased),  r = 1 / sqrt(var + eps)
    xhat = (x - mean) * r,  y = xhat * w + b

Three Functions, each a fused forward on arrays and a backward in Tensor ops:

- ``BatchNorm(x, w, b)`` -> y. gx = BatchNormGradInput(gy, x, w), gw = BatchNormGradWeight(gy, x),
  gb = BatchNormGradBias(gy) = sum(gy).
- ``BatchNormGradInput(gy, x, w)`` -> gx = w r (gy - mean(gy) - xhat mean(gy xhat)). Linear in
  gy with a symmetric map, so its gradient in gy is itself; its gradients in x and w are
  composed from ops (below), so every order is exact.
- ``BatchNormGradWeight(gy, x)`` -> gw = sum(gy xhat). Its gradient in x is
  BatchNormGradInput(gy, x, ggw), in gy it is ggw * xhat.
- ``BatchNormGradBias(gy)`` -> gb = sum(gy), the per-channel sum BatchNormGradInput's kernel
  has already taken (so no pass over gy at all). Its gradient is ggb broadcast.

The forward stores xhat and r (arrays) on the node and hands them to the gradient ops, which
use them only to compute their own *values* faster; none of the backwards reads a stored array,
they rebuild what they need from the input Tensors, so nothing is a constant to higher orders.
The array arithmetic of the two fused forwards is in the kernels ``batch_norm_fwd`` and
``batch_norm_grad_input`` (:mod:`minigrad.kernels`: NumPy reference, one CUDA launch each).
"""
from __future__ import annotations

from minigrad import kernels
from minigrad.autograd.function import Function


def _ncl(a):
    """An (N, C, *) array viewed as (N, C, L)."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def _axes(x):
    """The axes the statistics of an (N, C, *) Tensor run over: all but the channel axis."""
    return (0,) + tuple(range(2, x.ndim))


def _cn(v, x):
    """A per-channel vector (C,) as (1, C, 1, ...), to broadcast against x (N, C, *)."""
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _stats(x, eps):
    """Tensor ops: (xhat, r, n) for an (N, C, *) Tensor, rebuilt from x (differentiable)."""
    axes = _axes(x)
    n = x.data.size // x.shape[1]
    d = x - x.sum(axes, keepdim=True) * (1.0 / n)
    r = ((d * d).sum(axes, keepdim=True) * (1.0 / n) + eps) ** -0.5
    return d * r, r, n


class _Saved:
    """What the forward hands its gradient ops: xhat (N, C, L) and r (C,) arrays, and a memo of
    the last input gradient's per-channel sums, ``(gy array, sum(gy), sum(gy xhat))``, which
    BatchNormGradInput's kernel computes anyway and BatchNormGradWeight and BatchNormGradBias
    reuse for the same gy (one pass over gy instead of three)."""

    __slots__ = ("xhat", "r", "sums")

    def __init__(self, xhat, r):
        self.xhat, self.r, self.sums = xhat, r, None


class BatchNorm(Function):
    """y = xhat * w + b per channel, xhat = (x - mean) / sqrt(var + eps) over every axis of x
    (N, C, *) but C; gx = BatchNormGradInput(gy, x, w), gw = sum(gy * xhat), gb = sum(gy)

    ``stats``, if given, is a list that receives the batch (mean, biased var) arrays, (C,) each,
    for the running statistics. The arithmetic is the kernel ``batch_norm_fwd`` (one launch on a
    GPU)."""

    def forward(self, x, w, b, eps, stats=None):
        y, xhat, mean, var, r = kernels.get("batch_norm_fwd", self.xp)(_ncl(x), w, b, eps)
        self.eps, self.saved = eps, _Saved(xhat, r)
        if stats is not None:
            stats.extend((mean, var))
        return y.reshape(x.shape)

    def backward(self, gy):
        x, w, _ = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        gx = BatchNormGradInput.apply(gy, x, w, eps=self.eps, saved=self.saved) if need_x \
            else None
        gw = BatchNormGradWeight.apply(gy, x, eps=self.eps, saved=self.saved) if need_w else None
        gb = BatchNormGradBias.apply(gy, saved=self.saved) if need_b else None
        return gx, gw, gb


class BatchNormGradInput(Function):
    """gx = w r (gy - mean(gy) - xhat mean(gy xhat)) per channel (BatchNorm's input gradient);
    with ggx its incoming gradient, H = mean(ggx), Hx = mean(ggx xhat), a = mean(gy),
    c = mean(gy xhat), K = mean(ggx gy) - a H:
    g_gy = BatchNormGradInput(ggx, x, w),
    g_x = w r^2 ((3 c Hx - K) xhat - Hx (gy - a) - c (ggx - H)),
    g_w = n r (K - c Hx)"""

    def forward(self, gy, x, w, eps, saved):
        gx, sum_gy, sum_gy_xhat = kernels.get("batch_norm_grad_input", self.xp)(
            _ncl(gy), saved.xhat, w, saved.r)
        saved.sums = (gy, sum_gy, sum_gy_xhat)
        self.eps, self.saved = eps, saved
        return gx.reshape(x.shape)

    def backward(self, ggx):
        gy, x, w = self.inputs
        need_gy, need_x, need_w = self.needs_input_grad
        g_gy = BatchNormGradInput.apply(ggx, x, w, eps=self.eps, saved=self.saved) if need_gy \
            else None
        if not (need_x or need_w):
            return g_gy, None, None
        xhat, r, n = _stats(x, self.eps)
        axes, inv = _axes(x), 1.0 / n
        a = gy.sum(axes, keepdim=True) * inv
        c = (gy * xhat).sum(axes, keepdim=True) * inv
        h_mean = ggx.sum(axes, keepdim=True) * inv
        hx = (ggx * xhat).sum(axes, keepdim=True) * inv
        k = (ggx * gy).sum(axes, keepdim=True) * inv - a * h_mean
        g_x = g_w = None
        if need_x:
            g_x = (xhat * (c * hx * 3 - k) - (gy - a) * hx - (ggx - h_mean) * c) * \
                (_cn(w, x) * r * r)
        if need_w:
            g_w = ((k - c * hx) * r * n).reshape(-1)
        return g_gy, g_x, g_w


class BatchNormGradWeight(Function):
    """gw = sum(gy xhat) per channel (BatchNorm's weight gradient); with ggw its incoming
    gradient: g_gy = ggw xhat, g_x = BatchNormGradInput(gy, x, ggw)"""

    def forward(self, gy, x, eps, saved):
        self.eps, self.saved = eps, saved
        if saved.sums is not None and saved.sums[0] is gy:  # BatchNormGradInput summed it
            return saved.sums[2]
        return self.xp.einsum("ncl,ncl->c", _ncl(gy), saved.xhat)

    def backward(self, ggw):
        gy, x = self.inputs
        need_gy, need_x = self.needs_input_grad
        g_gy = _stats(x, self.eps)[0] * _cn(ggw, x) if need_gy else None
        g_x = BatchNormGradInput.apply(gy, x, ggw, eps=self.eps, saved=self.saved) if need_x \
            else None
        return g_gy, g_x


class BatchNormGradBias(Function):
    """gb = sum(gy) per channel (BatchNorm's bias gradient); with ggb its incoming gradient:
    g_gy = ggb broadcast to gy's shape"""

    def forward(self, gy, saved):
        if saved.sums is not None and saved.sums[0] is gy:  # BatchNormGradInput summed it
            return saved.sums[1]
        return _ncl(gy).sum(axis=0).sum(axis=1)  # axis 0 first: see reference._csum

    def backward(self, ggb):
        gy, = self.inputs
        return _cn(ggb, gy).expand(gy.shape)
