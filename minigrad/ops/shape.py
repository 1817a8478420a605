"""Shape primitives: reshape, clone, transpose, broadcast_to / sum_to, indexing, concatenation, pad."""
from __future__ import annotations

from minigrad import kernels
from minigrad.autograd.function import Function


class Reshape(Function):
    """y = x viewed with a new shape; gx = gy reshaped back"""

    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, gy):
        return gy.reshape(self.inputs[0].shape)


class Clone(Function):
    """y = a copy of x in memory of its own; gx = gy"""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class Transpose(Function):
    """y = x with axes permuted; gx = gy with the inverse permutation"""

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, gy):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return gy.permute(*inverse)


class BroadcastTo(Function):
    """y = x repeated along broadcast axes (a view); gx = sum_to(gy, x.shape)

    Making broadcasting an op of its own keeps every elementwise backward free of shape logic, and
    shows the "unbroadcast" step in the graph.
    """

    def forward(self, x, shape):
        return self.xp.broadcast_to(x, shape)

    def backward(self, gy):
        return SumTo.apply(gy, shape=self.inputs[0].shape)


class SumTo(Function):
    """y = gy summed over the axes that broadcasting added or stretched; gx = broadcast_to(gy)"""

    def forward(self, x, shape):
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        return y.reshape(shape) if lead or y.shape != shape else y

    def backward(self, gy):
        return BroadcastTo.apply(gy, shape=self.inputs[0].shape)


def _is_basic(index):
    """True when ``index`` is basic indexing (ints, slices, None, Ellipsis): no repeated elements."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """y = x[index]; gx = zeros like x with gy scatter-added at index (repeats accumulate)"""

    def forward(self, x, index):
        self.index = index
        return x[index]

    def backward(self, gy):
        return IndexAdd.apply(gy, shape=self.inputs[0].shape, index=self.index)


class IndexAdd(Function):
    """y = zeros(shape); y[index] += gy (scatter-add); gx = gy_y[index]  (the adjoint of GetItem)"""

    def forward(self, gy, shape, index):
        self.index = index
        out = self.xp.zeros(shape, dtype=gy.dtype)
        if _is_basic(index):
            out[index] = gy
        else:
            kernels.get("scatter_add", self.xp)(out, index, gy)
        return out

    def backward(self, ggx):
        return GetItem.apply(ggx, index=self.index)


class Concat(Function):
    """y = concatenation of the inputs along ``axis``; each gx is its slice of gy"""

    def forward(self, *xs, axis):
        self.axis = axis
        return self.xp.concatenate(xs, axis=axis)

    def backward(self, gy):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for t, need in zip(self.inputs, self.needs_input_grad):
            stop = start + t.shape[self.axis]
            grads.append(gy[lead + (slice(start, stop),)] if need else None)
            start = stop
        return tuple(grads)


class Pad(Function):
    """y = x with ``widths`` (numpy's ((before, after), ...)) of constant ``value`` around it;
    gx = the centre of gy"""

    def forward(self, x, widths, value):
        self.widths = widths
        return self.xp.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, gy):
        index = tuple(slice(lo, n - hi) for (lo, hi), n in zip(self.widths, gy.shape))
        return gy[index]


class Flip(Function):
    """y = x reversed along ``axes`` (a copy, as torch.flip); gx = gy reversed along them"""

    def forward(self, x, axes):
        self.axes = axes
        return self.xp.flip(x, axes).copy()  # NOTE: numpy's flip is a view; torch's a copy

    def backward(self, gy):
        return Flip.apply(gy, axes=self.axes)


class Roll(Function):
    """y = x shifted cyclically by ``shifts`` along ``axes`` (None: x flattened);
    gx = gy shifted back"""

    def forward(self, x, shifts, axes):
        self.shifts, self.axes = shifts, axes
        return self.xp.roll(x, shifts, axes)

    def backward(self, gy):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return Roll.apply(gy, shifts=back, axes=self.axes)


class Repeat(Function):
    """y = x tiled ``reps`` times along each dim (x first given leading dims of size 1 up to
    len(reps), as torch's repeat); gx = gy viewed as (r0, n0, r1, n1, ...) summed over the r's

    One op that always copies (torch's repeat never aliases x); composed of reshape, expand and
    reshape, a repeat of ones would be a view, and one of a size-1 dim a read-only broadcast."""

    def forward(self, x, reps):
        self.reps = reps
        return self.xp.tile(x, reps)

    def backward(self, gy):
        shape = (1,) * (len(self.reps) - self.inputs[0].ndim) + self.inputs[0].shape
        split = tuple(v for r, n in zip(self.reps, shape) for v in (r, n))
        summed = tuple(range(0, len(split), 2))
        return gy.reshape(split).sum(summed).reshape(self.inputs[0].shape)
