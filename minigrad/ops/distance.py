"""Pairwise p-norm distances (torch.cdist) as one op.

Composed (``(x1[:, None] - x2[None]).abs().pow(p).sum(-1).pow(1 / p)``) the gradient at two
coincident points would be 0 * inf = NaN, where torch's is 0; and for p = inf the composite's
max would share a tie's gradient out, where torch gives every tied coordinate all of it. So
the backward is written here, with torch's values at those points, in Tensor ops so that it is
itself differentiable.
"""
from __future__ import annotations

import math

from minigrad.autograd.function import Function


class Cdist(Function):
    """y[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p for x1 (..., P, M), x2 (..., R, M)
    with equal batch dims (the wrapper broadcasts them); p >= 0, p = 0 the number of coordinates
    that differ, p = inf the largest difference. With d = x1_i - x2_j and D = dy_ij / dd,
    gx1_i = sum_j gy_ij D_ij and gx2_j = -sum_i gy_ij D_ij, D torch's (its _cdist_backward):
        p = 0:    0
        p = 1:    sign(d)                                         (0 where d = 0)
        p = 2:    d / y,                                          0 where y = 0
        p = inf:  sign(d) where |d| = y, else 0                   (every tied coordinate)
        other p:  sign(d) (|d| / y)^(p - 1),                      0 where y = 0 or d = 0
    The masks (y = 0, d = 0, |d| = y) and sign(d) are constants: D is built from x1, x2 and y
    (the output, whose gradient is this backward again), so higher derivatives follow; they
    are 0 at the masked points (for 1 < p < 2 the true second derivative is infinite where a
    coordinate difference is 0; torch 2.13 has no second derivative of cdist at all)."""

    def forward(self, x1, x2, p):
        self.p = p
        xp = self.xp
        d = x1[..., :, None, :] - x2[..., None, :, :]  # (..., P, R, M)
        if d.shape[-1] == 0:  # no coordinates: every distance is 0
            return xp.zeros(d.shape[:-1], dtype=d.dtype)
        if p == 0:
            return (d != 0).sum(-1).astype(d.dtype)
        if p == 1:
            return xp.abs(d).sum(-1)
        if p == 2:
            return xp.sqrt((d * d).sum(-1))
        if p == math.inf:
            return xp.abs(d).max(-1)
        # NOTE: the root in float64, as torch's (std::pow(float, 1.0 / p) is a double pow): in
        # float32 |d| / y is then exactly 1 for a single coordinate, and the second derivative's
        # cancellation there is exact (a float32 root is an ulp off, times (p - 1) p / y)
        s = (xp.abs(d) ** p).sum(-1)
        return (s.astype(xp.float64) ** (1 / p)).astype(d.dtype, copy=False)

    def backward(self, gy):
        x1, x2 = self.inputs
        need1, need2 = self.needs_input_grad
        p, xp = self.p, self.xp
        if p == 0:  # piecewise constant: torch's zeros (not None: the inputs were used)
            zero = lambda x: gy._wrap(xp.zeros_like(x.data), False, None)  # noqa: E731
            return (zero(x1) if need1 else None), (zero(x2) if need2 else None)
        dd = x1.data[..., :, None, :] - x2.data[..., None, :, :]  # the raw differences: masks
        dtype = dd.dtype
        sign = xp.sign(dd)
        if p == 1:
            D = sign
        elif p == math.inf:
            D = sign * (xp.abs(dd) == self.output.data[..., None])
        else:
            d = x1.unsqueeze(-2) - x2.unsqueeze(-3)      # the same differences, differentiable
            y = self.output.unsqueeze(-1)               # (..., P, R, 1)
            at0 = (y.data == 0).astype(dtype)           # coincident points
            if p == 2:
                # at y = 0: d * 0 / (0 + 1); no 0/0, and no NaN in its derivatives either
                D = d * (1 - at0) / (y + at0)
            else:
                off = xp.maximum(at0, (dd == 0).astype(dtype))
                # |d| / y is in (0, 1] where neither is 0; at the masked points the ratio is
                # (|d| + 1) / (y + 1), finite (no 0/0, no 1/tiny overflowing), times 0
                D = (sign * (1 - off)) * ((d.abs() + off) / (y + off)) ** (p - 1)
        g = gy.unsqueeze(-1) * D                        # (..., P, R, M)
        return (g.sum(-2) if need1 else None), (-g.sum(-3) if need2 else None)
