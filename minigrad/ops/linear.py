"""The affine map of a Linear layer as one primitive: y = x @ W^T + b.

Composed from primitives it would be four nodes (transpose, matmul, broadcast, add) and seven in
its backward; fused it is one node whose backward is three ops: a MatMul, LinearGradWeight and a
Sum. Like the convolutions' trio, Linear and LinearGradWeight are closed under differentiation
(each one's backward is made of the other, MatMul and Sum), so every order is exact.
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
                gW = LinearGradWeight.apply(g2, x2)
            if len(need) == 3 and need[2]:
                gb = g2.sum(0)
        if len(need) == 2:
            return gx, gW
        return gx, gW, gb


class LinearGradWeight(Function):
    """gW = gy^T x for gy (M, OUT), x (M, IN) (Linear's weight gradient, one op where gy.mT @ x
    would be a Transpose and a MatMul); with ggW its incoming gradient (OUT, IN):
    g_gy = x @ ggW^T = Linear(x, ggW), g_x = gy @ ggW"""

    def forward(self, gy, x):
        return kernels.get("matmul", self.xp)(gy.T, x)

    def backward(self, ggW):
        gy, x = self.inputs
        need_gy, need_x = self.needs_input_grad
        return (Linear.apply(x, ggW) if need_gy else None), (gy @ ggW if need_x else None)
