"""The activations of ``torch.nn.functional`` beyond relu/leaky_relu/tanh/sigmoid/softplus
(which are ops of ``minigrad.functional``): GELU, ELU and its kin, SiLU, Mish, the hard
(piecewise linear) ones, LogSigmoid, Softsign, GLU and PReLU, with the normalisations
``normalize`` and ``cosine_similarity``.

Each is a composition of ops, differentiable to any order with no backward of its own. Where
a function has a kink, torch picks one side's derivative at it; the ``where`` conditions below
are written so that the same side is picked (hardtanh's gradient is 0 at its corners, unlike
clamp's 1): tests/test_activations.py checks each kink against torch.
"""
from __future__ import annotations

import math

from minigrad import functional as _F
from minigrad.tensor import Tensor

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
# SELU's constants (Klambauer et al. 2017), as torch writes them
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _need_float(name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(x).__name__}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point tensor, got {x.dtype}")


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF, as erfc(-x / sqrt 2) / 2 (the form
    1 + erf(x / sqrt 2) cancels for x < -3: torch's float32 values there are off in the third
    digit); with ``approximate='tanh'``, x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    _need_float("gelu", input)
    x = input
    if approximate == "none":
        return x * (_F.erfc(x * -_SQRT_HALF) * 0.5)
    if approximate == "tanh":
        return x * ((_F.tanh((x + x * x * x * 0.044715) * _SQRT_2_OVER_PI) + 1) * 0.5)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, alpha (exp(x) - 1) elsewhere (``inplace`` accepted and ignored)."""
    _need_float("elu", input)
    return _F.where(input > 0, input, _F.expm1(input) * alpha)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def celu(input, alpha=1.0, inplace=False):
    """x where x > 0, alpha (exp(x / alpha) - 1) elsewhere."""
    _need_float("celu", input)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides x)")
    return _F.where(input > 0, input, _F.expm1(input * (1 / alpha)) * alpha)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    _need_float("silu", input)
    return input * _F.sigmoid(input)


def mish(input, inplace=False):
    """x * tanh(softplus(x)), the softplus in its stable form everywhere (as torch's)."""
    _need_float("mish", input)
    return input * _F.tanh(_F.softplus(input, threshold=None))


def _inside(x, lo, hi):
    """The constant mask lo < x < hi."""
    return Tensor._wrap(x.xp.asarray((x.data > lo) & (x.data < hi)), False, None)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; the gradient 1 strictly inside, 0 at and beyond the
    corners (clamp's is 1 at them), as torch's."""
    _need_float("hardtanh", input)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    corner = _F.clamp(input.detach(), min_val, max_val)
    return _F.where(_inside(input, min_val, max_val), input, corner)


def relu6(input, inplace=False):
    """min(max(x, 0), 6): hardtanh on [0, 6]."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between (gradient 1/6 strictly inside,
    0 at -3 and 3, as torch's)."""
    _need_float("hardsigmoid", input)
    corner = Tensor._wrap(input.xp.asarray(input.data >= 3, dtype=input.data.dtype), False, None)
    return _F.where(_inside(input, -3.0, 3.0), input * (1 / 6) + 0.5, corner)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6; torch's derivative: 0 up to -3, x/3 + 1/2 strictly between, 1 from
    3 on (the outer pieces' at both kinks)."""
    _need_float("hardswish", input)
    x = input
    middle = _F.where(x < 3, x * (x + 3) * (1 / 6), x)
    return _F.where(x <= -3, 0.0, middle)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), stable for any x."""
    _need_float("logsigmoid", input)
    return -_F.softplus(-input, threshold=None)


def softsign(input):
    """x / (1 + |x|)."""
    _need_float("softsign", input)
    return input / (_F.abs(input) + 1)


def glu(input, dim=-1):
    """a * sigmoid(b), a and b the two halves of x along ``dim`` (which must be even)."""
    _need_float("glu", input)
    if input.ndim == 0:
        raise ValueError("glu: does not take a 0-d tensor")
    n = input.shape[dim % input.ndim] if -input.ndim <= dim < input.ndim else None
    if n is None or n % 2:
        raise ValueError(f"glu: halving dim {dim} needs an even size, got shape {input.shape}")
    a, b = _F.chunk(input, 2, dim)
    return a * _F.sigmoid(b)


def prelu(input, weight):
    """x where x > 0, weight * x elsewhere; ``weight`` has one element, or one per channel
    (dim 1 of x; an input of fewer dims has one channel)."""
    _need_float("prelu", input)
    if not isinstance(weight, Tensor) or weight.ndim > 1:
        raise ValueError("prelu: weight must be a 0-d or 1-d tensor")
    k = weight.data.size
    channels = input.shape[1] if input.ndim >= 2 else 1
    if k != 1 and k != channels:
        raise ValueError(f"prelu: weight has {k} elements; expected 1 or the {channels} channels "
                         f"of an input of shape {input.shape}")
    w = weight.reshape(-1)
    if k > 1 and input.ndim >= 2:
        w = w.reshape((k,) + (1,) * (input.ndim - 2))
    elif k == 1:
        w = w.reshape(())
    return _F.where(input > 0, input, w * input)


def _clamp_value_only(t, lo):
    """t's value clamped below at ``lo``, its gradient t's own (torch clamps these norms under
    no_grad, in place: the clamp is invisible to autograd)."""
    return t + (_F.clamp(t.detach(), min=lo) - t.detach())


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along ``dim`` (p = 1 or 2)."""
    _need_float("normalize", input)
    norm = _F.norm(input, p, dim, keepdim=True)
    return input / _F.clamp(norm, min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (x1, x2 broadcast),
    torch's formula: each normalised first, the clamps invisible to the gradient."""
    _need_float("cosine_similarity", x1)
    _need_float("cosine_similarity", x2)
    n1 = _clamp_value_only(_F.norm(x1, 2, dim, keepdim=True), eps)
    n2 = _clamp_value_only(_F.norm(x2, 2, dim, keepdim=True), eps)
    return _F.sum((x1 / n1) * (x2 / n2), dim)
