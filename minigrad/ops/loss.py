"""Cross-entropy against class indices as one op (one kernel forward, one backward on a GPU).

Composed, ``nll_loss(log_softmax(z), t)`` is about ten ops forward (max, where, sub, exp, sum,
log, add, sub, gather, mul) and as many again backward: a CUDA launch each, the largest share of
an AC-GAN step's launches after the convolutions (benchmarks/cupy_launches.py counts them).
Here the rows' losses are one Function and their gradient another, whose own backward is
written with differentiable ops, so gradients of every order still flow.
"""
from __future__ import annotations

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
