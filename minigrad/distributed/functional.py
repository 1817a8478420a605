"""Differentiable collectives (``torch.distributed.nn.functional``'s idea).

``all_reduce(x)``: every process gets y = sum over processes r of x_r. Its adjoint is the same
collective: process r's x_r reaches every process's y, so
gx_r = sum over processes s of gy_s, one more all_reduce (written with this op, so it can be
differentiated again). SyncBatchNorm builds its global batch statistics from it, and so gets
exact gradients from the engine with no backward of its own.
"""
from __future__ import annotations

from minigrad.autograd.function import Function
from minigrad.distributed import ReduceOp, _default_group


class AllReduceSum(Function):
    """y = sum_r x_r (on every process); gx = sum_r gy_r."""

    def forward(self, x):
        y = x.copy()
        _default_group("all_reduce").all_reduce(y, ReduceOp.SUM)
        return y

    def backward(self, gy):
        return AllReduceSum.apply(gy)


def all_reduce(tensor):
    """The sum of ``tensor`` over all processes, as a new tensor that gradients flow through.
    Every process must call it (in the backward too: the gradient is another all_reduce)."""
    return AllReduceSum.apply(tensor)
