"""The affine map of a Linear layer as one primitive: y = x @ W^T + b.

Composed from primitives it would be four nodes (transpose, matmul, broadcast, add) and seven in
its backward; fused it is one node whose backward is three ordinary (differentiable) ops, so it
stays closed under differentiation with no code of its own for higher orders.
"""
from __future__ import annotations

from minigrad import kernels
from minigrad.autograd.function import Function


class Linear(Function):
    """y = x @ W^T + b for x (*, IN), W (OUT, IN), b (OUT,);
    gx = gy @ W, gW = gy^T x (over all leading dims), gb = sum of gy over leading dims"""

    def forward(self, x, W, b=None):
        y = kernels.get("matmul", self.xp)(x, W.T)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        x, W = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = gy @ W if need[0] else None
        gW = gb = None
        if need[1] or (len(need) == 3 and need[2]):
            g2 = gy if gy.ndim == 2 else gy.reshape(-1, gy.shape[-1])
            if need[1]:
                x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
                gW = g2.mT @ x2
            if len(need) == 3 and need[2]:
                gb = g2.sum(0)
        if len(need) == 2:
            return gx, gW
        return gx, gW, gb
