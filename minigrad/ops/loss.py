"""Cross-entropy against class indices as one op (one kernel forward, one backward on a GPU).

Composed, ``nll_loss(log_softmax(z), t)`` is about ten ops forward (max, where, sub, exp, sum,
log, add, sub, gather, mul) and as many again backward: a CUDA launch each, the largest share of
an AC-GAN step's launches after the convolutions (benchmarks/cupy_launches.py counts them).
Here the rows' losses are one Function and their gradient another, whose own backward is
written with differentiable ops, so gradients of every order still flow.
"""
from __future__ import annotations

import numpy as np

from minigrad import kernels
from minigrad.autograd.function import Function


class CrossEntropyRows(Function):
    """y_i = logsumexp(z_i) - z[i, t_i] for logits z (N, C) and class indices t (N,), 0 where
    t_i == ignore_index; gz = CrossEntropyRowsGrad(gy, z)."""

    def forward(self, z, *, target, ignore_index):
        self.target, self.ignore_index = target, ignore_index
        return kernels.get("cross_entropy_fwd", self.xp)(z, target, ignore_index)

    def backward(self, gy):
        return CrossEntropyRowsGrad.apply(gy, self.inputs[0], target=self.target,
                                          ignore_index=self.ignore_index)


class CrossEntropyRowsGrad(Function):
    """gz = v gy (softmax(z) - onehot(t)), v_i = 1 unless t_i == ignore_index; linear in gy.
    With ggz its incoming gradient and p = softmax(z) (rows):
    g_gy_i = v_i sum_j ggz_ij (p_ij - onehot_ij),
    g_z = v gy p (ggz - sum_j ggz_ij p_ij)   (the softmax's Jacobian applied to ggz)"""

    def forward(self, gy, z, *, target, ignore_index):
        self.target, self.ignore_index = target, ignore_index
        return kernels.get("cross_entropy_grad", self.xp)(gy, z, target, ignore_index)

    def backward(self, ggz):
        gy, z = self.inputs
        need_gy, need_z = self.needs_input_grad
        xp, t = z.xp, self.target
        valid = z._wrap((t != self.ignore_index).astype(z.dtype).reshape(-1, 1), False, None)
        p = z.softmax(1)  # a Tensor method (the ops layer imports nothing above it)
        g_gy = g_z = None
        if need_gy:
            onehot = z._wrap((xp.arange(z.shape[1]) == t.reshape(-1, 1)).astype(z.dtype),
                             False, None)
            g_gy = (ggz * (p - onehot)).sum(1) * valid.reshape(-1)
        if need_z:
            g_z = (gy.reshape(-1, 1) * valid) * p * (ggz - (ggz * p).sum(1, keepdim=True))
        return g_gy, g_z


#: The floor of p (1 - p) in the gradient of binary cross-entropy, PyTorch's (its EPSILON in
#: aten/src/ATen/native/Loss.cpp): the gradient at p = 0 or 1 is +-1e12, not 0 or inf.
BCE_EPS = 1e-12


class BinaryCrossEntropy(Function):
    """y = -(t max(log p, -100) + (1 - t) max(log1p(-p), -100)) elementwise, PyTorch's BCE of
    probabilities p against targets t (same shape);
    gp = BinaryCrossEntropyGrad(gy, p, t) = gy (p - t) / max(p (1 - p), 1e-12) (PyTorch's form:
    at p = 0 or 1 it is 0 where t = p and +-1e12 gy otherwise, where the clamped logs would
    give 0), gt = gy (log1p(-p) - log p) (PyTorch's: infinite at p = 0 or 1)."""

    def forward(self, p, t):
        xp = self.xp
        # log 0 is never evaluated (it would raise under np.errstate(all="raise")): -100 there
        inside = p > 0
        log_p = xp.where(inside, xp.maximum(xp.log(xp.where(inside, p, 1)), -100), -100)
        inside = p < 1
        log_q = xp.where(inside, xp.maximum(xp.log1p(-xp.where(inside, p, 0)), -100), -100)
        return (t - 1) * log_q - t * log_p

    def backward(self, gy):
        p, t = self.inputs
        need_p, need_t = self.needs_input_grad
        gp = BinaryCrossEntropyGrad.apply(gy, p, t) if need_p else None
        gt = None
        if need_t:  # +-inf at p = 0 or 1, as torch's: its log 0 is meant (a rare path)
            with np.errstate(divide="ignore"):
                gt = gy * ((-p).log1p() - p.log())
        return gp, gt


class BinaryCrossEntropyGrad(Function):
    """gp = gy (p - t) / max(p (1 - p), 1e-12); linear in gy. With gg its incoming gradient,
    PyTorch's double backward (its floors differ from the first derivative's: e = 1e-12 added to
    p and to 1 - p):
    g_gy = gg (p - t) / ((p + e)(1 - p + e)),
    g_p = gg gy (p^2 - 2 p t + t) / ((p + e)^2 (1 - p + e)^2),
    g_t = -gg gy / max(p (1 - p), e)"""

    def forward(self, gy, p, t):
        d = p * (1 - p)
        self.xp.maximum(d, BCE_EPS, out=d)
        return gy * (p - t) / d

    def backward(self, gg):
        gy, p, t = self.inputs
        need_gy, need_p, need_t = self.needs_input_grad
        shifted = (p + BCE_EPS) * ((1 - p) + BCE_EPS)
        g_gy = gg * (p - t) / shifted if need_gy else None
        g_p = gg * gy * (p * p - 2 * p * t + t) / (shifted * shifted) if need_p else None
        g_t = -(gg * gy) / (p * (1 - p)).clamp_min(BCE_EPS) if need_t else None
        return g_gy, g_p, g_t
