"""Matrix product (batched, with broadcasting batch dimensions)."""
from __future__ import annotations

from minigrad import kernels
from minigrad.autograd.function import Function


class MatMul(Function):
    """y = a @ b for a (..., N, K), b (..., K, M); ga = gy @ b^T, gb = a^T @ gy (summed over
    batch dimensions that were broadcast)"""

    def forward(self, a, b):
        return kernels.get("matmul", self.xp)(a, b)

    def backward(self, gy):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            ga = gy @ b.mT
            if ga.shape != a.shape:
                ga = ga.sum_to(a.shape)
        if need_b:
            gb = a.mT @ gy
            if gb.shape != b.shape:
                gb = gb.sum_to(b.shape)
        return ga, gb
