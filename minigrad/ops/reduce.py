"""Reductions: sum, mean and max (min and var are composed from them), and the scan cumsum."""
from __future__ import annotations

from minigrad.autograd.function import Function
from minigrad.ops.shape import Flip


def _kept_shape(shape, axis):
    """The shape a reduction over ``axis`` has with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _leading(axis):
    """Whether a reduction over ``axis`` (a sorted tuple or None: all) removed leading axes only;
    then its result already broadcasts back to the input's shape without a reshape (broadcasting
    adds leading axes), which saves the backward an op."""
    return axis is None or axis == tuple(range(len(axis)))


class Sum(Function):
    """y = sum of x over ``axis`` (a tuple or None); gx = gy broadcast back to x's shape"""

    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, gy):
        shape = self.inputs[0].shape
        if not (self.keepdims or _leading(self.axis)):
            gy = gy.reshape(_kept_shape(shape, self.axis))
        return gy.expand(shape)


class Mean(Sum):
    """y = mean of x over ``axis`` (n values each); gx = gy / n broadcast back to x's shape

    Sum's backward applied to gy / n. One op (one reduction kernel on a GPU) where sum then
    times 1/n would be two. An empty x (n = 0) has the mean NaN and an empty gradient."""

    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        if x.size == 0:  # NaN where torch's is, without NumPy's "mean of empty slice" warning
            y = x.sum(axis=axis, keepdims=keepdims) * self.xp.nan
        else:
            y = x.mean(axis=axis, keepdims=keepdims)
        self.n = x.size // y.size if y.size else 1
        return y

    def backward(self, gy):
        return Sum.backward(self, gy / self.n)  # n = 0: IEEE's inf, broadcast to no elements


class Max(Function):
    """y = max of x over ``axis``; gx = gy at the maxima, 0 elsewhere (ties share it equally)

    The selecting mask is a constant: its derivative vanishes almost everywhere.
    """

    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        return x.max(axis=axis, keepdims=keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        kept = _kept_shape(x.shape, self.axis)
        y = self.output.data.reshape(kept)
        mask = x.data == y
        share = (mask / mask.sum(axis=self.axis, keepdims=True)).astype(x.dtype, copy=False)
        if not self.keepdims:
            gy = gy.reshape(kept)
        return gy.expand(x.shape) * share


class Cumsum(Function):
    """y_i = sum of x_j for j <= i along ``axis``; gx_j = sum of gy_i for i >= j, the cumulative
    sum of gy from the other end: flip(cumsum(flip(gy)))"""

    def forward(self, x, axis):
        self.axis = axis
        return self.xp.cumsum(x, axis=axis)

    def backward(self, gy):
        axes = (self.axis,)
        return Flip.apply(Cumsum.apply(Flip.apply(gy, axes=axes), axis=self.axis), axes=axes)
