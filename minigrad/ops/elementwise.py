"""Elementwise primitives. Binary ops receive operands already broadcast to one shape (see
``functional._binary``), so no backward here deals with shapes."""
from __future__ import annotations

import math

from minigrad import backend, kernels
from minigrad.autograd.function import Function


class Add(Function):
    """y = a + b; ga = gy, gb = gy"""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy


class Sub(Function):
    """y = a - b; ga = gy, gb = -gy"""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b; ga = gy * b, gb = gy * a"""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        return (gy * b if need_a else None), (gy * a if need_b else None)


class Div(Function):
    """y = a / b; ga = gy / b, gb = -gy * a / b^2 = -ga * y"""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        ga = gy / self.inputs[1]
        gb = -(ga * self.output) if self.needs_input_grad[1] else None  # 2 ops, not 4
        return (ga if self.needs_input_grad[0] else None), gb


class Neg(Function):
    """y = -x; gx = -gy"""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class AddConst(Function):
    """y = x + c (c a Python number, cast to x's dtype); gx = gy"""

    def forward(self, x, c):
        return x + c

    def backward(self, gy):
        return gy


class MulConst(Function):
    """y = c * x (c a Python number); gx = c * gy"""

    def forward(self, x, c):
        self.c = c
        return x * c

    def backward(self, gy):
        return gy * self.c


class DivConst(Function):
    """y = x / c (c a Python number; c = 0 gives IEEE's inf and NaN); gx = gy / c"""

    def forward(self, x, c):
        self.c = c
        return x / c

    def backward(self, gy):
        return DivConst.apply(gy, c=self.c)


class PowConst(Function):
    """y = x ** p (p a Python number); gx = gy * p * x ** (p - 1), 0 for p = 0 (torch; the
    formula would give 0 * 0 ** -1 = NaN at x = 0)"""

    def forward(self, x, p):
        self.p = p
        return x * x if p == 2 else x ** p

    def backward(self, gy):
        x, = self.inputs
        p = self.p
        if p == 2:
            return gy * (x * 2)
        if p == 1:
            return gy
        if p == 0:
            return gy._wrap(self.xp.zeros_like(gy.data), False, None)
        return gy * (x ** (p - 1) * p)


class Pow(Function):
    """y = a ** b (both tensors); ga = gy * b * a ** (b - 1), gb = gy * y * log(a), with torch's
    values where these are 0 * inf or NaN: ga = 0 where b = 0 (also at a = 0 or NaN), gb = 0
    where a = 0 and b >= 0.

    Those points evaluate the formula at a = 1 instead, which gives the 0 and keeps NaN out of
    higher derivatives; elsewhere the derivatives are the true ones (so the mixed second
    derivative at b = 0, a = 1 is 1, where torch's formula, masked at every b = 0, says 0)."""

    def forward(self, a, b):
        return self.xp.power(a, b)

    def backward(self, gy):
        a, b = self.inputs
        xp, ad, bd = self.xp, a.data, b.data
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:  # b * a ** (b - 1) is 0 at b = 0 unless a ** -1 is not finite (a = 0 or NaN)
            ga = gy * (b * _one_where((bd == 0) & ~(xp.abs(ad) > 0), a) ** (b - 1))
        if need_b:
            gb = gy * (self.output * _one_where((ad == 0) & (bd >= 0), a).log())
        return ga, gb


def _one_where(mask, t):
    """t with 1 where ``mask`` (a constant array), differentiably in t."""
    return Where.apply(t._wrap(t.xp.ones_like(t.data), False, None), t, cond=mask)


class Exp(Function):
    """y = exp(x); gx = gy * y"""

    def forward(self, x):
        return self.xp.exp(x)

    def backward(self, gy):
        return gy * self.output


class Log(Function):
    """y = log(x); gx = gy / x"""

    def forward(self, x):
        return self.xp.log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    """y = sqrt(x); gx = gy / (2 y)"""

    def forward(self, x):
        return self.xp.sqrt(x)

    def backward(self, gy):
        return gy / (self.output * 2)


class Sin(Function):
    """y = sin(x); gx = gy * cos(x)"""

    def forward(self, x):
        return self.xp.sin(x)

    def backward(self, gy):
        return gy * self.inputs[0].cos()


class Cos(Function):
    """y = cos(x); gx = -gy * sin(x)"""

    def forward(self, x):
        return self.xp.cos(x)

    def backward(self, gy):
        return -(gy * self.inputs[0].sin())


class Tan(Function):
    """y = tan(x); gx = gy * (1 + y^2)"""

    def forward(self, x):
        return self.xp.tan(x)

    def backward(self, gy):
        y = self.output
        return gy * (y * y + 1)


class Asin(Function):
    """y = asin(x); gx = gy / sqrt(1 - x^2)"""

    def forward(self, x):
        return self.xp.arcsin(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (1 - x * x).rsqrt()


class Acos(Function):
    """y = acos(x); gx = -gy / sqrt(1 - x^2)"""

    def forward(self, x):
        return self.xp.arccos(x)

    def backward(self, gy):
        x = self.inputs[0]
        return -gy * (1 - x * x).rsqrt()


class Atan(Function):
    """y = atan(x); gx = gy / (1 + x^2)"""

    def forward(self, x):
        return self.xp.arctan(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / (x * x + 1)


class Atan2(Function):
    """y = atan2(a, b), the angle of the point (b, a); ga = gy b / (a^2 + b^2),
    gb = -gy a / (a^2 + b^2)"""

    def forward(self, a, b):
        return self.xp.arctan2(a, b)

    def backward(self, gy):
        a, b = self.inputs
        r = gy / (a * a + b * b)
        need_a, need_b = self.needs_input_grad
        return (r * b if need_a else None), (-r * a if need_b else None)


class Sinh(Function):
    """y = sinh(x); gx = gy * cosh(x)"""

    def forward(self, x):
        return self.xp.sinh(x)

    def backward(self, gy):
        return gy * self.inputs[0].cosh()


class Cosh(Function):
    """y = cosh(x); gx = gy * sinh(x)"""

    def forward(self, x):
        return self.xp.cosh(x)

    def backward(self, gy):
        return gy * self.inputs[0].sinh()


class Asinh(Function):
    """y = asinh(x); gx = gy / sqrt(x^2 + 1)"""

    def forward(self, x):
        return self.xp.arcsinh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x * x + 1).rsqrt()


class Acosh(Function):
    """y = acosh(x) (x >= 1); gx = gy / sqrt(x^2 - 1)"""

    def forward(self, x):
        return self.xp.arccosh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x * x - 1).rsqrt()


class Atanh(Function):
    """y = atanh(x) (|x| < 1); gx = gy / (1 - x^2)"""

    def forward(self, x):
        return self.xp.arctanh(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy / (1 - x * x)


class Log2(Function):
    """y = log2(x) (exact at powers of two); gx = gy / (x ln 2)"""

    def forward(self, x):
        return self.xp.log2(x)

    def backward(self, gy):
        return gy / (self.inputs[0] * _LN2)


class Log10(Function):
    """y = log10(x); gx = gy / (x ln 10)"""

    def forward(self, x):
        return self.xp.log10(x)

    def backward(self, gy):
        return gy / (self.inputs[0] * _LN10)


class Exp2(Function):
    """y = 2^x; gx = gy * y ln 2"""

    def forward(self, x):
        return self.xp.exp2(x)

    def backward(self, gy):
        return gy * (self.output * _LN2)


_LN2, _LN10 = math.log(2), math.log(10)


class Tanh(Function):
    """y = tanh(x); gx = gy * (1 - y^2)"""

    def forward(self, x):
        return self.xp.tanh(x)

    def backward(self, gy):
        y = self.output
        return gy * (1 - y * y)


class Erf(Function):
    """y = erf(x); gx = gy * 2/sqrt(pi) * exp(-x^2)"""

    def forward(self, x):
        return kernels.get("erf", self.xp)(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * ((x * x).neg().exp() * _TWO_OVER_SQRT_PI)


class Erfc(Function):
    """y = erfc(x) = 1 - erf(x), accurate where erf(x) is near 1; gx = -gy * 2/sqrt(pi) *
    exp(-x^2)"""

    def forward(self, x):
        return kernels.get("erfc", self.xp)(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * ((x * x).neg().exp() * -_TWO_OVER_SQRT_PI)


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


# The gamma family: each derivative is the next member, so gradients of every order are
# Polygamma of a higher n. Values at the poles (0, -1, -2, ...) and +-inf are torch's (see
# kernels/reference.py), and the gradients there follow from them, as torch's do.
class Lgamma(Function):
    """y = log|Gamma(x)|; gx = gy * digamma(x)"""

    def forward(self, x):
        return kernels.get("lgamma", self.xp)(x)

    def backward(self, gy):
        return gy * Digamma.apply(self.inputs[0])


class Digamma(Function):
    """y = digamma(x) = d/dx log Gamma(x); gx = gy * polygamma(1, x)"""

    def forward(self, x):
        return kernels.get("digamma", self.xp)(x)

    def backward(self, gy):
        return gy * Polygamma.apply(self.inputs[0], n=1)


class Polygamma(Function):
    """y = polygamma(n, x), the n-th derivative of digamma (n >= 1 here; n = 0 is Digamma);
    gx = gy * polygamma(n + 1, x)"""

    def forward(self, x, n):
        self.n = n
        return kernels.get("polygamma", self.xp)(n, x)

    def backward(self, gy):
        return gy * Polygamma.apply(self.inputs[0], n=self.n + 1)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)); gx = gy * y * (1 - y)"""

    def forward(self, x):
        # stable on both tails (exp only ever sees -|x|); one kernel on a GPU
        return kernels.get("sigmoid_fwd", self.xp)(x)

    def backward(self, gy):
        y = self.output
        return gy * (y * (1 - y))


class Softplus(Function):
    """y = log(1 + exp(beta x)) / beta, stable for any x, and y = x where beta x > threshold
    (torch's cut-over; threshold None: none); gx = gy * sigmoid(beta x), 1 past the threshold"""

    def forward(self, x, beta, threshold):
        self.beta = beta
        z = x * beta if beta != 1 else x
        y = self.xp.logaddexp(x.dtype.type(0), z)
        if beta != 1:
            y = y / beta
        self.past = None if threshold is None else z > threshold  # a constant mask
        return y if threshold is None else self.xp.where(self.past, x, y)

    def backward(self, gy):
        x = self.inputs[0]
        s = (x * self.beta if self.beta != 1 else x).sigmoid()
        return gy * (s if self.past is None else _one_where(self.past, s))


class BCEWithLogits(Function):
    """y = softplus(z) - z t (binary cross-entropy of sigmoid(z) against t, stable for any z);
    gz = gy (sigmoid(z) - t), gt = -gy z

    The loss of every GAN's D and G step as one op: composed it is three (Softplus, Mul, Sub)
    and four more in its backward."""

    def forward(self, z, t):
        return kernels.get("bce_with_logits_fwd", self.xp)(z, t)  # one kernel on a GPU

    def backward(self, gy):
        z, t = self.inputs
        need_z, need_t = self.needs_input_grad
        return (BCEWithLogitsGrad.apply(gy, z, t) if need_z else None), \
            (-(gy * z) if need_t else None)


class BCEWithLogitsGrad(Function):
    """gz = gy (sigmoid(z) - t) (BCEWithLogits' gradient in z as one op, one kernel on a GPU,
    where Sigmoid, Sub and Mul were three); gy, z and t of one shape. With ggz its incoming
    gradient and s = sigmoid(z): g_gy = ggz (s - t), g_z = ggz gy s (1 - s), g_t = -ggz gy"""

    def forward(self, gy, z, t):
        return kernels.get("bce_with_logits_grad", self.xp)(gy, z, t)

    def backward(self, ggz):
        gy, z, t = self.inputs
        need_gy, need_z, need_t = self.needs_input_grad
        s = z.sigmoid() if need_gy or need_z else None
        g_gy = ggz * (s - t) if need_gy else None
        g_z = ggz * gy * (s * (1 - s)) if need_z else None
        g_t = -(ggz * gy) if need_t else None
        return g_gy, g_z, g_t


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x (relu: slope = 0); gx = gy * (1 if x > 0 else slope)

    The factor (1 or slope) has zero derivative almost everywhere, so the backward is the linear
    op LeakyReLUGrad, whose own backward is itself.
    """

    def forward(self, x, slope):
        self.slope = slope
        return kernels.get("leaky_relu_fwd", self.xp)(x, slope)

    def backward(self, gy):
        return LeakyReLUGrad.apply(gy, self.inputs[0], slope=self.slope)


class LeakyReLUGrad(Function):
    """gx = gy * (1 if x > 0 else slope), linear in gy; x only selects the branch (no gradient)."""

    def forward(self, gy, x, slope):
        self.slope = slope
        return kernels.get("leaky_relu_bwd", self.xp)(x, gy, slope)

    def backward(self, ggx):
        return LeakyReLUGrad.apply(ggx, self.inputs[1], slope=self.slope), None


class Dropout(Function):
    """y = x * mask, mask = scale where u >= p else 0, from uniform draws u (a constant of the
    graph, like a ReLU's mask); gx = Dropout(gy) with the same u: the op is linear in x, and
    its backward is itself (so every order of derivative). One kernel (``dropout_apply``)
    where the mask and the product were two, the same floats."""

    def forward(self, x, u, p, scale):
        self.u, self.p, self.scale = u, p, scale
        return kernels.get("dropout_apply", self.xp)(x, u, p, scale)

    def backward(self, gy):
        return Dropout.apply(gy, u=self.u, p=self.p, scale=self.scale)


class Abs(Function):
    """y = |x|; gx = gy * sign(x)  (sign is a constant: its derivative is 0 almost everywhere)"""

    def forward(self, x):
        return self.xp.abs(x)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * self.xp.sign(x)


class Clamp(Function):
    """y = min(max(x, lo), hi); gx = gy where lo <= x <= hi, else 0"""

    def forward(self, x, lo, hi):
        self.lo, self.hi = lo, hi
        return self.xp.clip(x, lo, hi)

    def backward(self, gy):
        x = self.inputs[0].data
        mask = self.xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        return gy * mask


class ClampTensor(Function):
    """y = min(max(x, lo), hi) with tensor bounds of x's shape (one may be absent: ``has_lo``,
    ``has_hi`` say which are given, in that order after x). Torch's gradients, also where
    lo > hi (y = hi there):
    gx = gy where lo <= x <= hi; glo = gy where x < lo < hi; ghi = gy where x > hi or hi < lo"""

    def forward(self, x, *bounds, has_lo, has_hi):
        self.has_lo, self.has_hi = has_lo, has_hi
        y = self.xp.maximum(x, bounds[0]) if has_lo else x
        return self.xp.minimum(y, bounds[-1]) if has_hi else y

    def backward(self, gy):
        x = self.inputs[0].data
        lo = self.inputs[1].data if self.has_lo else None
        hi = self.inputs[-1].data if self.has_hi else None
        inside = self.xp.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        grads = [gy * inside if self.needs_input_grad[0] else None]
        if lo is not None:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            grads.append(gy * below if self.needs_input_grad[1] else None)
        if hi is not None:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            grads.append(gy * above if self.needs_input_grad[-1] else None)
        return tuple(grads)


class Maximum(Function):
    """y = max(a, b); ga = gy * [a > b], gb = gy * [a < b]; ties split the gradient in half."""

    def forward(self, a, b):
        return self.xp.maximum(a, b)

    def backward(self, gy):
        a, b = self.inputs[0].data, self.inputs[1].data
        wa = (a > b) + (a == b) * a.dtype.type(0.5)
        return gy * wa.astype(gy.dtype, copy=False), gy * (1 - wa).astype(gy.dtype, copy=False)


class Minimum(Function):
    """y = min(a, b); ga = gy * [a < b], gb = gy * [a > b]; ties split the gradient in half."""

    def forward(self, a, b):
        return self.xp.minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs[0].data, self.inputs[1].data
        wa = (a < b) + (a == b) * a.dtype.type(0.5)
        return gy * wa.astype(gy.dtype, copy=False), gy * (1 - wa).astype(gy.dtype, copy=False)


class Where(Function):
    """y = a where cond else b (cond a constant boolean array); ga = gy * cond, gb = gy * ~cond"""

    def forward(self, a, b, cond):
        self.cond = cond
        return self.xp.where(cond, a, b)

    def backward(self, gy):
        need_a, need_b = self.needs_input_grad
        return (gy * self.cond if need_a else None), (gy * ~self.cond if need_b else None)


class Cast(Function):
    """y = x converted to another float dtype; gx = gy converted back"""

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, gy):
        return gy.to(dtype=self.inputs[0].dtype)


class ToDevice(Function):
    """y = x copied to another device; gx = gy copied back to x's device (by this op, so a
    second derivative crosses back as well)"""

    def forward(self, x, device):
        return backend.to_device(x, device)

    def backward(self, gy):
        return ToDevice.apply(gy, device=self.inputs[0].device)


class Log1p(Function):
    """y = log(1 + x), accurate for small x; gx = gy / (1 + x)"""

    def forward(self, x):
        return self.xp.log1p(x)

    def backward(self, gy):
        return gy / (self.inputs[0] + 1)


class Expm1(Function):
    """y = exp(x) - 1, accurate for small x; gx = gy * exp(x) (not y + 1, which rounds to 0
    where exp(x) < eps: ELU's gradient at x = -50 would be 0 instead of 2e-22)"""

    def forward(self, x):
        return self.xp.expm1(x)

    def backward(self, gy):
        return gy * self.inputs[0].exp()


class Step(Function):
    """y = sign, floor, ceil, trunc or round of x (``fn``; round to ``decimals`` places, half to
    even); gx = 0, torch's value, at the jumps too. The zero gradient is a constant, so exact at
    every order."""

    def forward(self, x, fn, decimals=0):
        xp = self.xp
        if fn == "sign":  # NaN has sign 0 in torch (numpy: NaN)
            return xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))
        if fn != "round" or decimals == 0:
            return getattr(xp, fn)(x)
        # torch's rounding to decimals, in x's dtype (numpy's multiplies by 10^-d for d < 0)
        if decimals > 0:
            ten = x.dtype.type(10.0 ** decimals)
            return xp.rint(x * ten) / ten
        ten = x.dtype.type(10.0 ** -decimals)
        return xp.rint(x / ten) * ten

    def backward(self, gy):
        return gy._wrap(self.xp.zeros_like(gy.data), False, None)


class Remainder(Function):
    """y = a - floor(a / b) b, with the sign of b (Python's %, torch.remainder); ga = gy,
    gb = -gy floor(a / b) (torch's; floor(a / b) is piecewise constant: a constant array)"""

    def forward(self, a, b):
        xp = self.xp
        if a.dtype.kind != "f":
            return xp.remainder(a, b)
        # torch's float formula: fmod, moved by b where its sign is not b's. (numpy's remainder
        # gives the same numbers, but a zero result the sign of b where torch's has a's.)
        m = xp.fmod(a, b)
        return xp.where((m != 0) & ((b < 0) != (m < 0)), m + b, m)

    def backward(self, gy):
        need_a, need_b = self.needs_input_grad
        gb = None
        if need_b:
            a, b = self.inputs[0].data, self.inputs[1].data
            gb = gy * -self.xp.floor_divide(a, b)
        return (gy if need_a else None), gb


class FloorDivide(Function):
    """y = floor(a / b) (Python's //, torch.floor_divide); no derivative, as in torch: a backward
    through it raises (a zero gradient would silently train nothing)"""

    def forward(self, a, b):
        return self.xp.floor_divide(a, b)

    def backward(self, gy):
        raise RuntimeError("floor_divide (//) has no derivative (torch defines none): detach() "
                           "its operands, or use (a / b) for a differentiable quotient")
