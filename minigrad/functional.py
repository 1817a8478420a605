"""Every tensor op, defined once: thin wrappers over the primitives in ``minigrad.ops``, and the
composites (softmax, var, norm, ...) built from them with no backward of their own.

Each op is registered where it is defined by :func:`op`, which makes the function a ``Tensor``
method (``x.softmax(-1)``, ``x + y``) and, where torch has ``torch.<name>``, a ``minigrad.<name>``
export (this module's ``__all__``). Adding an elementwise op is therefore one ``Function`` in
``minigrad/ops/``, one decorated wrapper here and one ``OpSpec`` in ``tests/op_specs.py``.
"""
from __future__ import annotations

import builtins
import collections
import functools
import math
import numbers
import warnings

import numpy as np

from minigrad import backend, creation, kernels
from minigrad.autograd.function import mark_modified
from minigrad.autograd.grad_mode import no_grad
from minigrad.ops import elementwise as E
from minigrad.ops import reduce as R
from minigrad.ops import shape as S
from minigrad.ops.distance import Cdist
from minigrad.ops.matmul import Einsum, MatMul
from minigrad.tensor import (_FLOAT32, Tensor, _category, _dim, _index_arrays,
                             _number_dtype, _promote_types)

__all__ = []  # filled by @op: what `minigrad` exports


def op(fn=None, *, methods=None, export=True):
    """Register an op: ``Tensor.<m> = fn`` for each name in ``methods`` (default: the function's
    own name; ``()`` for none) and, if ``export``, add the function's name (or the names given)
    to ``__all__``, which ``minigrad/__init__.py`` re-exports. Use as ``@op`` or ``@op(...)``.

    The function itself becomes the method, so its first parameter is the tensor (``self``)."""
    def register(fn):
        for name in (fn.__name__,) if methods is None else methods:
            if name in vars(Tensor):  # NOTE: loud, not a silent override of a Tensor field
                raise RuntimeError(f"op {fn.__name__}: Tensor.{name} is already defined")
            setattr(Tensor, name, fn)
        if export:
            __all__.extend((fn.__name__,) if export is True else export)
        return fn
    return register if fn is None else register(fn)


# ------------------------------------------------------------------------------- helpers
def _is_number(x):
    t = type(x)
    if t is float or t is int:  # the common case, without the slow ABC check below
        return True
    return isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, (bool, np.bool_))


def _py(x):
    """A numpy scalar as the Python number it holds (others unchanged): numpy would let a
    float64 or int64 *scalar* widen a float32 array, a Python number not."""
    return x.item() if isinstance(x, np.generic) else x


def _scalar(b, a):
    """``b`` as a Python number (``_py``) where an op may take it as a constant next to the
    Tensor ``a``: ``b`` is a number and ``a`` is float, whose dtype a number never changes. None
    otherwise: ``b`` then goes through ``_tensor``, where the promotion rule decides."""
    t = type(b)
    if t is not float and t is not int:  # NOTE: the common case pays two tests and no call
        if not _is_number(b):
            return None
        b = _py(b)
    return b if a.data.dtype.kind == "f" else None


def _result_dtype(*operands):
    """``torch.result_type`` of Tensors and Python numbers, the one type-promotion rule of every
    op that mixes dtypes. Categories bool < integer < float; the result's category is the
    highest present. Within it the dtype comes from the operands of the highest rank that have
    that category, ranks being dimensioned tensors > 0-d tensors > numbers: a float32 tensor
    with a 0-d float64 tensor or a Python float stays float32, an int64 tensor with a float32
    tensor is float32, with a 0-d float64 tensor float64, with a Python float float32
    (``_number_dtype``: torch's default float)."""
    ranked = [None, None, None]  # dimensioned tensors, 0-d tensors, numbers
    for x in operands:
        if isinstance(x, Tensor):
            dtype, rank = x.data.dtype, (0 if x.data.ndim else 1)
        else:
            dtype, rank = _number_dtype(x), 2
        seen = ranked[rank]
        ranked[rank] = dtype if seen is None else _promote_types(seen, dtype)
    result = None
    for dtype in ranked:
        if dtype is not None and (result is None or _category(dtype) > _category(result)):
            result = dtype
    return result


def _cast(x: Tensor, dtype) -> Tensor:
    """``x`` as ``dtype`` (float to float differentiably, with ``to``)."""
    return x if x.data.dtype == dtype else to(x, dtype=dtype)


def _promote(*tensors):
    """``tensors`` cast to their ``_result_dtype``."""
    dtype = _result_dtype(*tensors)
    return [_cast(t, dtype) for t in tensors]


def _float(x: Tensor) -> Tensor:
    """``x`` for a float op (exp, log, ...): an integer or bool tensor as float32, torch's
    default float; a float tensor as it is."""
    return x if x.data.dtype.kind == "f" else _cast(x, _FLOAT32)


def _tensor(x, like: Tensor) -> Tensor:
    """Make ``x`` a Tensor next to ``like``: a Python number becomes a 0-d tensor of the dtype
    the two give (``_result_dtype``: ``like``'s own unless the number's category is above it)."""
    if isinstance(x, Tensor):
        return x
    if _is_number(x) or isinstance(x, (bool, np.bool_)):
        dtype = like.data.dtype
        if dtype.kind != "f":
            dtype = _result_dtype(like, x)
        # NOTE: full, not asarray: on a GPU a fill kernel, not a copy from host memory (which
        # a CUDA graph capture could not record)
        return Tensor._wrap(like.xp.full((), x, dtype=dtype), False, None)
    return Tensor(x, device=like.device if like.device.type != "cpu" else None)


def _broadcast_shapes(*shapes):
    """The shape ``shapes`` broadcast to (numpy's rules), or ValueError. NOTE: numpy's
    ``np.broadcast_shapes`` takes ~3 us (it builds arrays); binary ops, expand and matmul
    call this on every use."""
    out = shapes[0]
    for shape in shapes[1:]:
        if shape == out:
            continue
        if len(shape) > len(out):
            out, shape = shape, out
        new, lead = list(out), len(out) - len(shape)
        for i, m in enumerate(shape, lead):
            if m != new[i]:
                if new[i] == 1:
                    new[i] = m
                elif m != 1:
                    raise ValueError(f"shapes {shapes} cannot be broadcast together")
        out = tuple(new)
    return out


def _binary(fn, a: Tensor, b: Tensor):
    """``fn.apply(a, b)`` (an elementwise Function) on two tensors broadcast to one shape with
    explicit BroadcastTo ops, so that gradients sum back; equal shapes go straight through.
    Operands of two dtypes, or not float, go through ``_binary_promoted``."""
    da, db = a.data, b.data
    dtype = da.dtype
    if dtype is not db.dtype or dtype is not _FLOAT32 and dtype.kind != "f":  # NOTE: hot path
        return _binary_promoted(fn, a, b)
    if da.shape == db.shape:
        return fn.apply(a, b)
    return _broadcast_apply(fn, a, b)


def _broadcast_apply(fn, a: Tensor, b: Tensor):
    if a.data.shape == b.data.shape:
        return fn.apply(a, b)
    try:
        shape = _broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{fn.__name__.lower()}: shapes {a.shape} and {b.shape} cannot be "
                         "broadcast together") from None
    if a.shape != shape:
        a = S.BroadcastTo.apply(a, shape=shape)
    if b.shape != shape:
        b = S.BroadcastTo.apply(b, shape=shape)
    return fn.apply(a, b)


def _binary_promoted(fn, a: Tensor, b: Tensor):
    """``_binary`` on both operands cast to their ``_result_dtype``. An op that makes floats of
    integer or bool operands (true division) gives float32, torch's default float: numpy's
    float64 quotient rounded to float32 is the float32 quotient (53 >= 2 * 24 + 2 bits)."""
    a, b = _promote(a, b)
    y = _broadcast_apply(fn, a, b)
    if a.data.dtype.kind != "f" and y.data.dtype.kind == "f":
        y = _cast(y, _FLOAT32)
    return y


def _axes(op, dim, ndim):
    """Normalise ``dim`` (int, tuple or None) to a sorted tuple of non-negative axes, or None
    (all axes): an empty ``dim`` (``()``, ``[]``) is all axes too, as in torch's reductions."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return None
    axes = tuple(sorted({_dim(op, d, ndim) for d in dims}))
    return axes if ndim else ()  # dim 0 of a 0-d tensor: the tensor itself


_NUMPY_NAMES = (("axis", "dim"), ("keepdims", "keepdim"))


def numpy_aliases(fn):
    """Let ``fn`` take numpy's ``axis=``/``keepdims=`` for torch's ``dim=``/``keepdim=``, as torch
    does; the one place the aliases are handled (a keyword-free call pays one test)."""
    @functools.wraps(fn)
    def wrapper(*args, **kw):
        if kw:
            for alias, name in _NUMPY_NAMES:
                if alias in kw:
                    if name in kw:
                        raise TypeError(f"{fn.__name__}() got both {name}= and its alias "
                                        f"{alias}=")
                    kw[name] = kw.pop(alias)
        return fn(*args, **kw)
    return wrapper


# --------------------------------------------------------------------------- arithmetic
@op(methods=("__add__", "__radd__"), export=False)
def add(a, b):
    if isinstance(b, Tensor) and isinstance(a, Tensor):  # the common case first
        return _binary(E.Add, a, b)
    c = _scalar(b, a)
    if c is not None:
        return E.AddConst.apply(a, c=c)
    if not isinstance(a, Tensor):
        a, b = b, a
        c = _scalar(b, a)
        if c is not None:
            return E.AddConst.apply(a, c=c)
    return _binary(E.Add, a, _tensor(b, a))


@op(methods=("__sub__",), export=False)
def sub(a, b):
    if isinstance(b, Tensor) and isinstance(a, Tensor):  # the common case first
        return _binary(E.Sub, a, b)
    if not isinstance(a, Tensor):
        return rsub(b, a)
    c = _scalar(b, a)
    if c is not None:
        return E.AddConst.apply(a, c=-c)
    return _binary(E.Sub, a, _tensor(b, a))


@op(methods=("__rsub__",), export=False)
def rsub(a, b):
    """b - a, for a Tensor a."""
    c = _scalar(b, a)
    if c is not None:
        return E.AddConst.apply(E.Neg.apply(a), c=c)
    return sub(_tensor(b, a), a)


@op(methods=("__mul__", "__rmul__"), export=False)
def mul(a, b):
    if isinstance(b, Tensor) and isinstance(a, Tensor):  # the common case first
        return _binary(E.Mul, a, b)
    if not isinstance(a, Tensor):
        a, b = b, a
    c = _scalar(b, a)
    if c is not None:
        return E.MulConst.apply(a, c=c)
    return _binary(E.Mul, a, _tensor(b, a))


@op(methods=("__truediv__",), export=False)
def div(a, b):
    if isinstance(b, Tensor) and isinstance(a, Tensor):  # the common case first
        return _binary(E.Div, a, b)
    if not isinstance(a, Tensor):
        return rdiv(b, a)
    c = _scalar(b, a)  # a divide, as torch (not times 1 / b: 25 / 3 would be 1 ulp off)
    if c is not None:
        return E.DivConst.apply(a, c=c)
    if _is_number(b):  # an integer tensor: true division in torch's default float
        return E.DivConst.apply(_float(a), c=_py(b))
    return _binary(E.Div, a, _tensor(b, a))


@op(methods=("__rtruediv__",), export=False)
def rdiv(a, b):
    """b / a, for a Tensor a: (1 / a) * b for a number b, as torch computes it."""
    if _is_number(b):  # _float: an integer a ** -1 would raise
        return E.MulConst.apply(E.PowConst.apply(_float(a), p=-1), c=_py(b))
    return div(_tensor(b, a), a)


@op(methods=("neg", "__neg__"))
def neg(x):
    return E.Neg.apply(x)


@op(methods=("pow", "__pow__"))
def pow(x, p):
    """x ** p: a number p is PowConst, a tensor p Pow (x ** p with any signs, torch's gradients
    at 0); an integer tensor p keeps a float x's dtype, as in torch."""
    if _is_number(p):
        p = _py(p)
        return E.PowConst.apply(_float(x) if isinstance(p, float) else x, p=p)
    if not isinstance(x, Tensor):
        return rpow(p, x)
    p = _tensor(p, x)
    if p.data.dtype.kind != "f" and x.data.dtype.kind == "f":
        p = to(p, dtype=x.data.dtype)
    return _binary(E.Pow, x, p)


@op(methods=("__rpow__",), export=False)
def rpow(x, base):
    """base ** x for a number base; a float base with an integer x gives float32 (torch)."""
    if isinstance(_py(base), float):
        x = _float(x)
    return _binary(E.Pow, _tensor(base, x), x)


def _division(op, cls, a, b):
    """``cls`` (Remainder, FloorDivide) of a and b, one of them a Tensor. Integer division by 0
    raises ZeroDivisionError, as in torch (numpy gives 0 with a warning): one host read, for
    integer tensors only."""
    a, b = (a, _tensor(b, a)) if isinstance(a, Tensor) else (_tensor(a, b), b)
    if b.data.dtype.kind in "iub" and a.data.dtype.kind in "iub" and not b.data.all():
        raise ZeroDivisionError(f"{op}: integer division by zero")
    return _binary(cls, a, b)


@op(methods=("remainder", "__mod__"))
def remainder(a, b):
    """a - floor(a / b) * b, with the sign of the divisor b (Python's %, torch.remainder): 5 % -3
    is -1, -5 % 3 is 1. Gradients as torch's: 1 for a, -floor(a / b) for b."""
    return _division("remainder", E.Remainder, a, b)


@op(methods=("__rmod__",), export=False)
def rremainder(a, b):
    """b % a, for a Tensor a."""
    return _division("remainder", E.Remainder, b, a)


@op(methods=("floor_divide", "__floordiv__"))
def floor_divide(a, b):
    """floor(a / b) (Python's //, torch.floor_divide, which rounds down since torch 1.13). Not
    differentiable: a backward through it raises, as in torch."""
    return _division("floor_divide", E.FloorDivide, a, b)


@op(methods=("__rfloordiv__",), export=False)
def rfloor_divide(a, b):
    """b // a, for a Tensor a."""
    return _division("floor_divide", E.FloorDivide, b, a)


@op(methods=("matmul", "__matmul__"))
def matmul(a, b):
    """Matrix product with numpy's rules: 1-D operands are promoted and the added dim removed."""
    if not isinstance(a, Tensor):
        a = _tensor(a, b)
    b = _tensor(b, a)
    if a.data.dtype != b.data.dtype:
        a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: both operands need at least one dimension (use * for scalars)")
    va, vb = a.ndim == 1, b.ndim == 1
    shapes = f"shapes {a.shape} and {b.shape}"  # the caller's, before 1-D promotion
    if va:
        a = reshape(a, 1, a.shape[0])
    if vb:
        b = reshape(b, b.shape[0], 1)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: {shapes} are not aligned ({a.shape[-1]} != {b.shape[-2]})")
    try:
        _broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: {shapes} have batch dimensions that cannot be broadcast "
                         "together") from None
    y = MatMul.apply(a, b)
    if va:
        y = squeeze(y, -2)
    if vb:
        y = squeeze(y, -1)
    return y


@op(methods=("__rmatmul__",), export=False)
def rmatmul(a, b):
    """b @ a, for a Tensor a."""
    return matmul(b, a)


# ------------------------------------------------------------------------ elementwise
@op
def exp(x): return E.Exp.apply(_float(x))


@op
def log(x): return E.Log.apply(_float(x))


@op
def sqrt(x): return E.Sqrt.apply(_float(x))


@op
def sin(x): return E.Sin.apply(_float(x))


@op
def cos(x): return E.Cos.apply(_float(x))


@op
def tanh(x): return E.Tanh.apply(_float(x))


@op
def sigmoid(x): return E.Sigmoid.apply(_float(x))


@op
def tan(x): return E.Tan.apply(_float(x))


@op(methods=("asin", "arcsin"), export=("asin", "arcsin"))
def asin(x): return E.Asin.apply(_float(x))


@op(methods=("acos", "arccos"), export=("acos", "arccos"))
def acos(x): return E.Acos.apply(_float(x))


@op(methods=("atan", "arctan"), export=("atan", "arctan"))
def atan(x): return E.Atan.apply(_float(x))


@op(methods=("atan2", "arctan2"), export=("atan2", "arctan2"))
def atan2(a, b):
    """The angle of the point (b, a) in (-pi, pi], elementwise with broadcasting."""
    return _binary(E.Atan2, *_float_pair(a, b))


@op
def sinh(x): return E.Sinh.apply(_float(x))


@op
def cosh(x): return E.Cosh.apply(_float(x))


@op(methods=("asinh", "arcsinh"), export=("asinh", "arcsinh"))
def asinh(x): return E.Asinh.apply(_float(x))


@op(methods=("acosh", "arccosh"), export=("acosh", "arccosh"))
def acosh(x): return E.Acosh.apply(_float(x))


@op(methods=("atanh", "arctanh"), export=("atanh", "arctanh"))
def atanh(x): return E.Atanh.apply(_float(x))


# numpy's names, which torch also takes
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh


@op
def log2(x): return E.Log2.apply(_float(x))


@op
def log10(x): return E.Log10.apply(_float(x))


@op
def exp2(x): return E.Exp2.apply(_float(x))


def _float_pair(a, b):
    """Two operands of a float binary op as tensors, integers and bools as float32."""
    if not isinstance(a, Tensor):
        a = _tensor(a, b)
    b = _tensor(b, a)
    return _float(a), _float(b)


@op
def logaddexp(a, b):
    """log(exp(a) + exp(b)), without overflow: shifted by the larger (detached: the shift
    cancels exactly, as in logsumexp)."""
    a, b = _float_pair(a, b)
    m = maximum(a, b).detach()
    m = Tensor._wrap(m.xp.where(m.xp.isfinite(m.data), m.data, 0), False, None)
    return log(exp(a - m) + exp(b - m)) + m


@op
def xlogy(x, y):
    """x * log(y), and 0 where x is 0 and y is not NaN (y = 0 included), as torch.xlogy."""
    x, y = _float_pair(x, y)
    zero = (x.data == 0) & ~x.xp.isnan(y.data)
    return where(zero, 0.0, x * log(where(zero, 1.0, y)))


@op
def logit(x, eps=None):
    """log(x / (1 - x)), x first clamped to [eps, 1 - eps] if eps is given (the gradient 0
    outside, as torch's)."""
    x = _float(x)
    if eps is not None:
        x = clamp(x, eps, 1 - eps)
    return log(x) - log1p(-x)


@op
def hypot(a, b):
    """sqrt(a^2 + b^2), elementwise with broadcasting."""
    a, b = _float_pair(a, b)
    return sqrt(a * a + b * b)


@op
def erf(x):
    """The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt (GELU's Gaussian CDF is
    (1 + erf(x / sqrt(2))) / 2)."""
    return E.Erf.apply(_float(x))


@op
def erfc(x):
    """1 - erf(x), computed without the cancellation where erf(x) is near 1 (x > ~3)."""
    return E.Erfc.apply(_float(x))


@op
def lgamma(x):
    """log|Gamma(x)|, as torch.lgamma; its gradient is digamma(x). torch 2.13's values at the
    poles: +inf at 0, -0.0, the negative integers and +-inf (SciPy's gammaln(-inf) is -inf)."""
    return E.Lgamma.apply(_float(x))


@op
def digamma(x):
    """digamma(x) = d/dx log Gamma(x) (torch.digamma; SciPy's psi); its gradient is
    polygamma(1, x). torch 2.13's values at the poles: -inf at 0.0, +inf at -0.0 (the one-sided
    limits), NaN at the negative integers and at -inf."""
    return E.Digamma.apply(_float(x))


@op(methods=())
def polygamma(n, x):
    """The n-th derivative of digamma (torch.polygamma(n, x); n = 0 is digamma); its gradient is
    polygamma(n + 1, x). torch 2.13's values at the poles x = 0, -1, -2, ...: for n = 1 +inf at
    0 and, at a negative integer, the large finite pi^2 / sin^2(pi x) torch's reflection formula
    gives there (sin(pi x) is a rounding error, not 0: 6.58e32 at x = -1 in float64); for n >= 2
    (-1)^(n+1) inf. At -inf: NaN for n = 1, (-1)^(n+1) inf for n >= 2; at +inf: 0 for n = 1,
    NaN for n >= 2 (torch's Hurwitz zeta). Elsewhere the values are SciPy's, correct to an ulp
    or two (torch's own trigamma is off by up to 5e-10 relative, its digamma by ~1e-12)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma: n must be an int (the order: polygamma(n, x), n first, as "
                        f"torch), got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"polygamma: n must be >= 0 (the order of the derivative), got {n}")
    if not isinstance(x, Tensor):
        raise TypeError(f"polygamma: x must be a tensor, got {type(x).__name__}")
    x = _float(x)
    return E.Digamma.apply(x) if n == 0 else E.Polygamma.apply(x, n=int(n))


@op(methods=("polygamma",), export=False)
def _polygamma_method(x, n):
    """``x.polygamma(n)``: polygamma(n, x) (torch's method takes the order only)."""
    return polygamma(n, x)


@op(methods=("abs", "__abs__"))
def abs(x): return E.Abs.apply(x)


@op
def relu(x): return E.LeakyReLU.apply(x, slope=0.0)


def _step(fn, x, decimals=0):
    """A rounding op: gradient 0; an integer tensor is its own floor/ceil/round/trunc (a copy,
    as in torch)."""
    if fn != "sign" and x.data.dtype.kind != "f":
        if x.data.dtype.kind == "b":
            raise TypeError(f"{fn}: not defined for a bool tensor")
        return Tensor._wrap(x.data.copy(), False, None)
    return E.Step.apply(x, fn=fn, decimals=decimals) if decimals else E.Step.apply(x, fn=fn)


@op
def sign(x):
    """-1, 0 or 1 by the sign of x (0 for NaN, as in torch); gradient 0."""
    if x.data.dtype.kind == "b":  # numpy has no sign for bools; torch's is the bool itself
        return Tensor._wrap(x.data.copy(), False, None)
    return _step("sign", x)


@op
def floor(x): return _step("floor", x)


@op
def ceil(x): return _step("ceil", x)


@op
def trunc(x): return _step("trunc", x)


@op
def round(x, *, decimals=0):
    """Round half to even (torch.round), to ``decimals`` places (negative: tens, hundreds, ...);
    gradient 0."""
    if not isinstance(decimals, (int, np.integer)) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    return _step("round", x, int(decimals))


@op
def isnan(x):
    """A bool tensor, True where x is NaN (no gradient)."""
    return Tensor._wrap(x.xp.isnan(x.data), False, None)


@op
def isinf(x):
    """A bool tensor, True where x is +-inf (no gradient)."""
    return Tensor._wrap(x.xp.isinf(x.data), False, None)


@op
def isfinite(x):
    """A bool tensor, True where x is neither NaN nor +-inf (no gradient)."""
    return Tensor._wrap(x.xp.isfinite(x.data), False, None)


def leaky_relu(x, negative_slope=0.01):
    if x.data.dtype.kind != "f":  # as in torch: an integer result would drop the slope
        raise TypeError(f"leaky_relu: expected a floating-point tensor, got {x.dtype}")
    return E.LeakyReLU.apply(x, slope=float(negative_slope))


@op
def square(x): return pow(x, 2)


@op
def log1p(x):
    """log(1 + x), exact for small x (where 1 + x would round away x's digits)."""
    return E.Log1p.apply(_float(x))


@op
def expm1(x):
    """exp(x) - 1, exact for small x."""
    return E.Expm1.apply(_float(x))


@op
def rsqrt(x):
    """1 / sqrt(x): one op, x ** -0.5 (NaN for x < 0, inf at 0, as in torch)."""
    return E.PowConst.apply(_float(x), p=-0.5)


@op
def reciprocal(x):
    """1 / x (an integer x gives float32, as in torch)."""
    return E.PowConst.apply(_float(x), p=-1)


@op(export=False)
def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed stably for any x, and x itself where
    beta x > ``threshold`` (torch's cut-over: there the value is x and the gradient 1 exactly);
    ``threshold=None``: the stable form everywhere."""
    return E.Softplus.apply(x, beta=_py(beta), threshold=_py(threshold))


@op(methods=("clamp", "clip"), export=("clamp", "clip"))
def clamp(x, min=None, max=None):
    """min(max(x, min), max); bounds are numbers or tensors (broadcast with x, and given
    gradients as in torch)."""
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    if not (isinstance(min, Tensor) or isinstance(max, Tensor)):
        lo, hi = _py(min), _py(max)
        if isinstance(lo, float) or isinstance(hi, float):  # an integer x becomes float32
            x = _float(x)
        return E.Clamp.apply(x, lo=lo, hi=hi)
    x, *bounds = _promote(x, *[_tensor(b, x) for b in (min, max) if b is not None])
    try:
        shape = _broadcast_shapes(x.shape, *[b.shape for b in bounds])
    except ValueError:
        raise ValueError(f"clamp: shapes {x.shape} and bounds {[b.shape for b in bounds]} "
                         "cannot be broadcast together") from None
    x, *bounds = [expand(t, *shape) for t in (x, *bounds)]
    return E.ClampTensor.apply(x, *bounds, has_lo=min is not None, has_hi=max is not None)


clip = clamp


@op
def maximum(a, b):
    if not isinstance(a, Tensor):
        a, b = b, a
    return _binary(E.Maximum, a, _tensor(b, a))


@op
def minimum(a, b):
    if not isinstance(a, Tensor):
        a, b = b, a
    return _binary(E.Minimum, a, _tensor(b, a))


@op(methods=())
def where(cond, a, b):
    """a where ``cond`` else b; ``cond`` is a boolean tensor or array (it gets no gradient)."""
    like = a if isinstance(a, Tensor) else b
    a, b = _tensor(a, like), _tensor(b, like)
    if a.data.dtype != b.data.dtype:
        a, b = _promote(a, b)
    c = cond.data if isinstance(cond, Tensor) else like.xp.asarray(cond)
    try:
        shape = _broadcast_shapes(c.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: shapes {c.shape} (cond), {a.shape} and {b.shape} cannot be "
                         "broadcast together") from None
    if a.shape != shape:
        a = expand(a, *shape)
    if b.shape != shape:
        b = expand(b, *shape)
    return E.Where.apply(a, b, cond=like.xp.broadcast_to(c, shape))


@op
def masked_fill(x, mask, value):
    """``x`` with ``value`` where the boolean ``mask`` (broadcast with x) is True: a where(), so
    the gradient is 0 at the filled places, and a 0-d tensor ``value`` gets the sum of the
    gradient there. The value takes x's dtype (2.7 fills an int64 tensor with 2, as in torch)."""
    m = mask.data if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) != np.bool_:
        what = m.dtype if hasattr(m, "dtype") else type(m).__name__
        raise TypeError(f"masked_fill: the mask must be a bool tensor, got {what} (compare, "
                        "e.g. x > 0, or convert with .bool())")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"masked_fill: the value must be a number or a 0-d tensor, got a "
                             f"tensor of shape {value.shape}")
        value = _cast(value, x.data.dtype)
    elif _is_number(value) or isinstance(value, (bool, np.bool_)):
        value = Tensor._wrap(x.xp.full((), _py(value), dtype=x.data.dtype), False, None)
    else:
        raise TypeError(f"masked_fill: the value must be a number or a 0-d tensor, got "
                        f"{type(value).__name__}")
    return where(mask, value, x)


@op
def lerp(x, end, weight):
    """x + weight * (end - x), differentiable in x, end and a tensor weight (broadcast together).
    Computed as torch does, from the nearer end: with weight >= 0.5 as end - (end - x) (1 -
    weight), so weight 1 gives end exactly."""
    if not isinstance(end, Tensor):
        raise TypeError(f"lerp: end must be a tensor, got {type(end).__name__}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"lerp: expected a floating-point tensor, got {x.dtype}")
    if end.data.dtype != x.data.dtype:
        raise TypeError(f"lerp: expected end of dtype {x.dtype} (that of the input), got "
                        f"{end.dtype}")
    d = end - x
    if isinstance(weight, Tensor):
        if weight.data.dtype.kind != "f" or weight.ndim and weight.data.dtype != x.data.dtype:
            raise TypeError(f"lerp: expected a weight of dtype {x.dtype}, got {weight.dtype}")
        weight = _cast(weight, x.data.dtype)
        near = x.xp.abs(weight.data) < 0.5  # a constant: both forms have the same derivatives
        return where(near, x + weight * d, end - d * (1 - weight))
    if not _is_number(weight):
        raise TypeError(f"lerp: weight must be a number or a tensor, got {type(weight).__name__}")
    weight = _py(weight)
    return x + d * weight if builtins.abs(weight) < 0.5 else end - d * (1 - weight)


@op(export=False)
def to(x, device=None, dtype=None):
    """Convert dtype and/or move between devices; ``x.to(dtype)`` and ``x.to(device)`` both
    work positionally. Both are differentiable for a result of other ops (the gradient comes
    back converted, on the device it left); a leaf moved to a device is a leaf there, which
    collects its own ``.grad`` (the way to place a parameter, as ``Module.to`` does)."""
    if isinstance(device, (type, np.dtype)) or (isinstance(device, str) and
                                                device not in ("cpu", "cuda")
                                                and not device.startswith("cuda:")):
        device, dtype = None, device
        if isinstance(dtype, str):
            try:
                np.dtype(dtype)
            except TypeError:
                raise ValueError(f"to: {dtype!r} is neither a device ('cpu', 'cuda' or "
                                 "'cuda:<index>') nor a dtype ('float32', ...)") from None
    y = x
    if dtype is not None and np.dtype(dtype) != x.dtype:
        dtype = np.dtype(dtype)
        if x.dtype.kind == "f" and dtype.kind == "f":
            y = E.Cast.apply(x, dtype=dtype)
        else:
            y = Tensor._wrap(x.data.astype(dtype), False, None)
    if device is not None and backend.Device(device) != y.device:
        if y.requires_grad and not y.is_leaf:  # a result: the copy stays in the graph
            return E.ToDevice.apply(y, device=backend.Device(device))
        # a leaf (a parameter being placed): a leaf on the device, collecting its own .grad
        y = Tensor._wrap(backend.to_device(y.data, device), y.requires_grad, None)
    return y


# --------------------------------------------------------------------------- reductions
@op
@numpy_aliases
def sum(x, dim=None, keepdim=False):
    return R.Sum.apply(x, axis=_axes("sum", dim, x.ndim), keepdims=bool(keepdim))


def _count(x, axes):
    if axes is None:
        return x.data.size
    return math.prod([x.shape[a] for a in axes])


def _need_float(op, x):
    """mean/var/std of integers or booleans are refused, as torch refuses them (NumPy's float64
    result would break the dtype rules, and a silent float32 would hide an integer tensor that
    is probably a mistake, such as labels or a mask)."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}(): needs a floating-point tensor, got {x.dtype}: convert it first, "
                        f"x.float().{op}()")


@op
@numpy_aliases
def mean(x, dim=None, keepdim=False):
    _need_float("mean", x)
    return R.Mean.apply(x, axis=_axes("mean", dim, x.ndim), keepdims=bool(keepdim))


def _correction(op, dim, unbiased, correction):
    """(dim, correction) from torch's var/std arguments: ``(dim, unbiased, keepdim)`` positionally
    (a lone bool is ``unbiased``: ``x.var(False)``) or ``correction=`` by keyword; Bessel's
    correction (1) by default."""
    if isinstance(dim, (bool, np.bool_)):  # x.var(False): torch's var(unbiased) overload
        if unbiased is not None:
            raise TypeError(f"{op}({dim!r}, {unbiased!r}): a bool first argument is unbiased "
                            "(over all dims), and takes nothing after it")
        dim, unbiased = None, dim
    if unbiased is None:
        return dim, 1 if correction is None else correction
    if not isinstance(unbiased, (bool, np.bool_)):
        raise TypeError(f"{op}: unbiased (the argument after dim, as in torch: {op}(dim, "
                        f"unbiased, keepdim)) must be a bool, got {unbiased!r}; pass keepdim= by "
                        "keyword")
    if correction is not None:
        raise TypeError(f"{op}: give unbiased or correction, not both")
    return dim, int(unbiased)


@op
@numpy_aliases
def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (torch.var): sum((x - mean)^2) / (n - c),
    with c = ``correction`` or ``int(unbiased)``; torch's argument order (dim, unbiased, keepdim).
    """
    _need_float("var", x)
    dim, correction = _correction("var", dim, unbiased, correction)
    axes = _axes("var", dim, x.ndim)
    d = x - mean(x, axes, keepdim=True)
    dof = _count(x, axes) - correction
    # No degrees of freedom left (one element, correction=1): NaN, as in torch and numpy.
    return sum(d * d, axes, keepdim) * (1.0 / dof if dof > 0 else float("nan"))


@op
@numpy_aliases
def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """sqrt(var(x)), with var's arguments. Where var is 0 the gradient is 0, as in torch (not
    1 / sqrt(0) times 0 = NaN); NaN (no degrees of freedom) stays NaN."""
    _need_float("std", x)
    dim, correction = _correction("std", dim, unbiased, correction)
    v = var(x, dim, keepdim=keepdim, correction=correction)
    zero = v.data == 0  # NOTE: no host read: the mask stays on the device
    return where(zero, 0.0, sqrt(where(zero, 1.0, v)))


@op
@numpy_aliases
def cumsum(x, dim, *, dtype=None):
    """Running sums along ``dim``: y[i] = x[0] + ... + x[i]. Integer and bool tensors sum in
    int64 (torch's rule); ``dtype`` casts x first."""
    if dtype is not None:
        x = to(x, dtype=dtype)
    d = _dim("cumsum", dim, x.ndim)
    if x.ndim == 0:
        return reshape(R.Cumsum.apply(reshape(x, 1), axis=0), ())
    return R.Cumsum.apply(x, axis=d)


def _truth(op, x, dim, keepdim):
    axes = _axes(op, dim, x.ndim)
    reduce = x.data.all if op == "all" else x.data.any
    return Tensor._wrap(x.xp.asarray(reduce(axis=axes, keepdims=bool(keepdim))), False, None)


@op
@numpy_aliases
def all(x, dim=None, keepdim=False):
    """Whether every element is non-zero (over ``dim``, or all): a bool tensor, as torch.all
    (``if x.all():`` works as before; ``bool(...)`` for a Python bool)."""
    return _truth("all", x, dim, keepdim)


@op
@numpy_aliases
def any(x, dim=None, keepdim=False):
    """Whether some element is non-zero (over ``dim``, or all): a bool tensor, as torch.any."""
    return _truth("any", x, dim, keepdim)


@op
@numpy_aliases
def amax(x, dim=None, keepdim=False):
    return R.Max.apply(x, axis=_axes("amax", dim, x.ndim), keepdims=bool(keepdim))


@op
@numpy_aliases
def amin(x, dim=None, keepdim=False):
    return neg(amax(neg(x), dim, keepdim))


MaxResult = collections.namedtuple("MaxResult", ["values", "indices"])


@op
@numpy_aliases
def max(x, dim=None, keepdim=False):
    """``x.max()`` is the largest element; ``x.max(dim)`` gives (values, indices) as in torch."""
    if isinstance(x, Tensor) and isinstance(dim, Tensor):
        return maximum(x, dim)
    if dim is None:
        return amax(x)
    return _select_along("argmax", x, dim, keepdim)


@op
@numpy_aliases
def min(x, dim=None, keepdim=False):
    if isinstance(x, Tensor) and isinstance(dim, Tensor):
        return minimum(x, dim)
    if dim is None:
        return amin(x)
    return _select_along("argmin", x, dim, keepdim)


def _select_along(op, x, dim, keepdim):
    """(values, indices) of the max/min along one ``dim``: the values are x gathered at the
    indices (a GetItem), so their gradient goes to the returned index alone, as in torch (on a
    tie, not shared; with a NaN, to the NaN, which is the value and the index)."""
    i = _arg_reduce(op, x, dim, keepdim)
    if x.ndim == 0:
        return MaxResult(S.GetItem.apply(x, index=()), i)
    d = _dim(op, dim, x.ndim)
    index = []  # i along d, and along each other axis its positions, shaped to broadcast with i
    for a, n in enumerate(x.shape):
        if a == d:
            index.append(i.data)
        else:
            shape = [1] * i.ndim
            shape[a if keepdim or a < d else a - 1] = n
            index.append(x.xp.arange(n).reshape(shape))
    return MaxResult(S.GetItem.apply(x, index=tuple(index)), i)


def _arg_reduce(op, x, dim, keepdim):
    """Indices (int64, no gradient) of the max/min over one ``dim``, or of the flattened x."""
    if dim is None:
        i = getattr(x.data, op)()
        return Tensor._wrap(x.xp.asarray(i).reshape((1,) * x.ndim if keepdim else ()), False, None)
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:
        return Tensor._wrap(x.xp.zeros((), dtype=np.int64), False, None)
    return Tensor._wrap(getattr(x.data, op)(axis=d, keepdims=keepdim), False, None)


@op
@numpy_aliases
def argmax(x, dim=None, keepdim=False):
    return _arg_reduce("argmax", x, dim, keepdim)


@op
@numpy_aliases
def argmin(x, dim=None, keepdim=False):
    return _arg_reduce("argmin", x, dim, keepdim)


@op
@numpy_aliases
def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) along ``dim``, shifted by the max for stability.

    The shift m is detached: log(sum(exp(x - m))) + m does not depend on m at all, so treating it
    as a constant is exact at every order (unlike a detached batch mean in a normalisation).
    """
    axes = _axes("logsumexp", dim, x.ndim)
    m = x.detach().amax(axes, keepdim=True)
    m = Tensor._wrap(x.xp.where(x.xp.isfinite(m.data), m.data, 0), False, None)
    out = log(sum(exp(x - m), axes, keepdim=True)) + m
    return out if keepdim else squeeze(out, axes)


@op
@numpy_aliases
def softmax(x, dim):
    """exp(x) / sum(exp(x)) along ``dim`` (max-shifted; the shift cancels exactly)."""
    dim = _dim("softmax", dim, x.ndim)
    m = x.detach().amax(dim, keepdim=True)
    e = exp(x - m)
    return e / sum(e, dim, keepdim=True)


@op
@numpy_aliases
def log_softmax(x, dim):
    """x - logsumexp(x) along ``dim``."""
    return x - logsumexp(x, _dim("log_softmax", dim, x.ndim), keepdim=True)


@op
@numpy_aliases
def norm(x, p=2, dim=None, keepdim=False):
    """The p-norm (p = 2, 'fro' or 1) over ``dim`` (all elements by default).

    The 2-norm is safe at zero: where sum(x^2) = 0 the value is 0 and the gradient is 0 (not
    0/0 = NaN), which the gradient penalty of WGAN-GP needs when a gradient vanishes.
    """
    if p == 1:
        return sum(abs(x), dim, keepdim)
    if p not in (2, "fro"):
        raise NotImplementedError(f"norm: p={p!r} is not supported (use 1, 2 or 'fro')")
    s = sum(x * x, dim, keepdim)
    # NOTE: the safe form always, not only when some sum is 0: asking the data first would
    # read it back to the host on every call (a GPU synchronisation per training step).
    positive = s.data > 0
    return where(positive, sqrt(where(positive, s, 1.0)), 0.0)


# ------------------------------------------------------------------------------ shapes
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


@op(methods=("reshape", "view"))
def reshape(x, *shape):
    shape = _shape_arg(shape)
    if -1 in shape:
        known = math.prod([n for n in shape if n != -1])
        if shape.count(-1) > 1 or known == 0 or x.data.size % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}")
        shape = tuple(x.data.size // known if n == -1 else n for n in shape)
    if math.prod(shape) != x.data.size:  # NOTE: math.prod, not numpy's (~2 us)
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.data.size} elements) into {shape}")
    if shape == x.shape:
        return x
    return S.Reshape.apply(x, shape=shape)


view = reshape


@op
def clone(x):
    """A copy of ``x`` in memory of its own, in the graph (gradient: the identity), as
    torch.clone: changing it in place leaves ``x`` and every graph that saved ``x`` alone."""
    return S.Clone.apply(x)


@op(export=False)
def view_as(x, other):
    """``x`` viewed with ``other``'s shape (torch's method; no function)."""
    return reshape(x, *other.shape)


@op(export=False)
def reshape_as(x, other):
    return reshape(x, *other.shape)


@op
def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = _dim("flatten", start_dim, x.ndim), _dim("flatten", end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, *x.shape[:s], -1, *x.shape[e + 1:])


@op
def permute(x, *dims):
    given = _shape_arg(dims)
    if len(given) != x.ndim:
        raise ValueError(f"permute: {given} names {len(given)} dims, but the tensor has rank "
                         f"{x.ndim} (shape {x.shape})")
    dims = tuple(_dim("permute", d, x.ndim) for d in given)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {given} is not a permutation of the {x.ndim} dims of {x.shape}")
    if dims == tuple(range(x.ndim)):
        return x
    return S.Transpose.apply(x, axes=dims)


@op
def transpose(x, dim0, dim1):
    dim0, dim1 = _dim("transpose", dim0, x.ndim), _dim("transpose", dim1, x.ndim)
    if x.ndim < 2:
        return x
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute(x, *axes)


@op
def t(x):
    """The transpose of a matrix; a 0-d or 1-d tensor as it is (torch.t's rule: at most 2 dims)."""
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got {x.ndim} (shape "
                         f"{x.shape}); use transpose(dim0, dim1) or permute for more")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def _dims_arg(op, dims, ndim):
    """``dims`` of flip/roll (an int, ints or one sequence) as distinct non-negative axes."""
    dims = _shape_arg(dims)
    axes = tuple(_dim(op, d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dims {dims} name a dim more than once")
    return axes


@op
def flip(x, *args, dims=None):
    """``x`` reversed along ``dims`` (``x.flip(0, 1)``, ``minigrad.flip(x, (0, 1))``,
    ``dims=``); a copy, as torch.flip."""
    if (dims is None) == (not args):
        raise TypeError("flip: give the dims once, positionally or as dims=")
    axes = _dims_arg("flip", args if dims is None else (dims,), x.ndim)
    if x.ndim == 0 or not axes:
        return clone(x)
    return S.Flip.apply(x, axes=axes)


@op
def roll(x, shifts, dims=None):
    """``x`` shifted cyclically by ``shifts`` along ``dims`` (an int or a sequence, one shift
    per dim); without ``dims``, over the flattened tensor, its shape kept (torch.roll)."""
    many = isinstance(shifts, (tuple, list))
    shifts = tuple(int(s) for s in shifts) if many else int(shifts)
    if dims is None:
        if many and len(shifts) != 1:
            raise ValueError(f"roll: {len(shifts)} shifts need as many dims, got none")
        return S.Roll.apply(x, shifts=shifts[0] if many else shifts, axes=None)
    axes = _shape_arg((dims,)) if isinstance(dims, (tuple, list)) else (dims,)
    axes = tuple(_dim("roll", d, x.ndim) for d in axes)
    shifts = shifts if many else (shifts,)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    if x.ndim == 0:
        return clone(x)
    return S.Roll.apply(x, shifts=shifts, axes=axes)


@op(export=False)
def repeat(x, *sizes):
    """``x`` tiled: ``sizes[i]`` copies along dim i, with new leading dims when ``sizes`` is
    longer than x.shape (torch's repeat, a method only; numpy's tile). Always a copy."""
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} sizes {sizes} for a tensor of {x.ndim} dims "
                         f"(shape {x.shape}): give at least one per dim")
    if not builtins.all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
               for n in sizes):
        raise ValueError(f"repeat: sizes must be ints >= 0, got {sizes}")
    return S.Repeat.apply(x, reps=tuple(int(n) for n in sizes))


@op(methods=("expand", "broadcast_to"), export=False)
def expand(x, *sizes):
    """Broadcast ``x`` to ``sizes`` (-1 keeps a dimension), like torch's expand."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {x.shape} to fewer dims {sizes}")
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    if shape == x.shape:
        return x
    if builtins.min(shape) < 0:  # shape == x.shape covers () above
        raise ValueError(f"expand: sizes {sizes} for shape {x.shape}: -1 keeps an existing dim "
                         f"(not one of the {lead} new leading dims), other sizes must be >= 0")
    try:
        _broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"expand: shape {x.shape} cannot be expanded to {shape}") from None
    return S.BroadcastTo.apply(x, shape=shape)


@op(export=False)
def expand_as(x, other):
    return expand(x, *other.shape)


@op(export=False)
def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting ``shape`` up to ``x.shape``)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return S.SumTo.apply(x, shape=shape)


@op
@numpy_aliases
def squeeze(x, dim=None):
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = _axes("squeeze", dim, x.ndim) or ()  # squeeze(()) squeezes nothing (torch)
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, *shape)


@op
@numpy_aliases
def unsqueeze(x, dim):
    d = _dim("unsqueeze", dim, x.ndim, extra=1)
    return reshape(x, *x.shape[:d], 1, *x.shape[d:])


@op(methods=("__getitem__",), export=False)
def getitem(x, index):
    """``x[index]`` for any numpy index; the gradient scatter-adds (repeated indices add up)."""
    index = _index_arrays(index)
    return S.GetItem.apply(x, index=index)


@op
@numpy_aliases
def gather(x, dim, index, *, sparse_grad=False):
    """out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (likewise for the others): ``index``
    (int64 or int32) has x's rank and, outside ``dim``, sizes no larger than x's; out has its
    shape. A GetItem with integer arrays, so the gradient scatter-adds into x (repeated indices
    add up). ``sparse_grad`` is torch's, accepted and ignored (the gradient is dense)."""
    i = _int_index("gather", index)
    d = _dim("gather", dim, x.ndim)
    if x.ndim <= 1 and index.ndim <= 1:  # torch lets 0-d and 1-d mix here
        if x.ndim == 0 or index.ndim == 0:
            return reshape(gather(reshape(x, -1), 0, reshape(index, -1)), *index.shape)
    elif index.ndim != x.ndim:
        raise ValueError(f"gather: index of shape {index.shape} must have the rank of the input "
                         f"(shape {x.shape})")
    for a, (m, n) in enumerate(zip(index.shape, x.shape)):
        if a != d and m > n:
            raise ValueError(f"gather: index of shape {index.shape} is larger than the input "
                             f"{x.shape} at dimension {a} (only dim {d} may be larger)")
    _check_range("gather", i, x.shape[d], d)
    return _take_along(x, d, i)


@op(methods=())
@numpy_aliases
def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    tensors = [_tensor(t, first) for t in tensors]
    if first.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    d = _dim("cat", dim, first.ndim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + \
                first.shape[d + 1:]:
            raise ValueError(f"cat: shapes {first.shape} and {t.shape} differ outside dim {dim}")
    if len(tensors) == 1:
        return first
    if builtins.any(t.data.dtype != first.data.dtype for t in tensors):
        tensors = _promote(*tensors)
    return S.Concat.apply(*tensors, axis=d)


concatenate = cat


@op(methods=())
@numpy_aliases
def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    dim = _dim("stack", dim, tensors[0].ndim, extra=1)
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors need one shape, got {tensors[0].shape} and "
                             f"{t.shape}")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


@op
@numpy_aliases
def split(x, split_size_or_sections, dim=0):
    """Pieces of ``x`` along ``dim``: of size ``split_size`` (the last may be smaller), or of the
    listed sizes."""
    dim = _dim("split", dim, x.ndim)
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} along dim {dim}")
    lead = (slice(None),) * dim
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, lead + (slice(start, start + s),)))
        start += s
    return tuple(out)


@op
@numpy_aliases
def chunk(x, chunks, dim=0):
    n = x.shape[_dim("chunk", dim, x.ndim)]
    return split(x, -(-n // chunks), dim)


@op(methods=())
def pad(x, pad, mode="constant", value=0.0):
    """Pad with torch's convention: ``pad`` = (left, right, top, bottom, ...) from the last dim.

    mode 'constant' fills with ``value``; 'reflect' mirrors without repeating the edge;
    'replicate' repeats the edge. The last two are gathers, so their gradient scatter-adds.
    """
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected an even number of at most {2 * x.ndim} values, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode == "constant":
        return S.Pad.apply(x, widths=tuple(widths), value=value)
    if mode not in ("reflect", "replicate"):
        raise ValueError(f"pad: unknown mode {mode!r} (constant, reflect or replicate)")
    y = x
    for axis, (lo, hi) in enumerate(widths):
        if lo == hi == 0:
            continue
        n = x.shape[axis]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the "
                             f"dimension ({n})")
        idx = np.arange(-lo, n + hi)
        if mode == "reflect":
            idx = np.abs(idx)
            idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
        else:
            idx = np.clip(idx, 0, n - 1)
        y = getitem(y, (slice(None),) * axis + (backend.device_constant(idx, x.data),))
    return y



# ------------------------------------------------------------ sorting, selection, products
# Composites of the primitives above, so each has its gradient at every order with no backward
# of its own: sorted or selected values are x gathered at integer indices (a GetItem: the
# gradient goes back to where each value came from; the indices are constants, as torch's);
# prod and cumprod are trees of multiplications, exact where an element is zero (where the
# textbook gy * y / x divides by zero); scatter_add and index_add are IndexAdd, GetItem's
# adjoint.
SortResult = collections.namedtuple("SortResult", ["values", "indices"])


def _along(xp, d, i):
    """The index tuple that reads (or writes) an array at the integer array ``i`` along dim
    ``d`` and at i's own positions along the others: for d = 0, element [a][b][c] of the block
    is [i[a][b][c]][b][c] of the array."""
    index = []
    for a, m in enumerate(i.shape):
        if a == d:
            index.append(i)
        else:
            shape = [1] * i.ndim
            shape[a] = m
            index.append(xp.arange(m).reshape(shape))
    return tuple(index)


def _take_along(x, d, i):
    """x at ``_along(d, i)``: a GetItem, whose gradient scatter-adds into x."""
    return S.GetItem.apply(x, index=_along(x.xp, d, i))


def _int_index(op, index, what="index"):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: {what} must be a tensor, got {type(index).__name__}")
    if index.data.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be an int64 or int32 tensor, got {index.dtype}")
    return index.data


def _check_range(op, i, n, d):
    """torch refuses indices outside [0, n) (numpy would read negative ones from the end): one
    host read of the min and the max."""
    lo, hi = (int(i.min()), int(i.max())) if i.size else (0, 0)
    if lo < 0 or hi >= n:
        raise IndexError(f"{op}: index {lo if lo < 0 else hi} is out of bounds for dimension "
                         f"{d} with size {n}")


def _as_1d(x, fn):
    """fn(x viewed as 1-d, dim 0) for a 0-d x, its results (tensors or tuples of them) back to
    0-d: torch treats a scalar as a one-element dim -1/0."""
    out = fn(reshape(x, 1))
    if isinstance(out, tuple):
        return type(out)(*(reshape(t, ()) for t in out))
    return reshape(out, ())


def _argsort(xp, a, d, descending):
    """Indices that sort the array ``a`` along ``d``: ties in their original order, NaN as the
    largest value (last, or first when descending), as torch's stable sort."""
    argsort = kernels.get("argsort_stable", xp)
    if not descending:
        return argsort(a, d)
    # sorted ascending from the far end, then read backwards: largest first, ties still in
    # their original order
    r = xp.flip(argsort(xp.flip(a, d), d), d)
    return (a.shape[d] - 1) - r


def _indices(i):
    return Tensor._wrap(i, False, None)


@op
@numpy_aliases
def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) of x sorted along ``dim``, smallest first (``descending``: largest
    first), as torch.sort. The sort is always stable (equal values keep their order, which torch
    promises only with ``stable=True``); NaN counts as the largest value."""
    d = _dim("sort", dim, x.ndim)
    if x.ndim == 0:
        return _as_1d(x, lambda v: sort(v, 0, descending))
    i = _argsort(x.xp, x.data, d, descending)
    return SortResult(_take_along(x, d, i), _indices(i))


@op
@numpy_aliases
def argsort(x, dim=-1, descending=False, stable=False):
    """The indices of ``sort(x, dim, descending)``."""
    return sort(x, dim, descending).indices


@op
@numpy_aliases
def msort(x):
    """x sorted along its first dim (torch.msort)."""
    return sort(x, 0).values


@op
@numpy_aliases
def topk(x, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the ``k`` largest elements along ``dim`` (``largest=False``: the k
    smallest), largest first, as torch.topk; equal values in their original order, NaN the
    largest. Always sorted (torch leaves the order open when ``sorted=False``)."""
    d = _dim("topk", dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    least = 0 if x.ndim else 1  # a 0-d tensor has exactly one top element
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not least <= k <= n:
        raise ValueError(f"topk: k={k!r} must be a whole number in [{least}, {n}] (the size of "
                         f"dim {dim})")
    if x.ndim == 0:
        return _as_1d(x, lambda v: topk(v, k, 0, largest))
    i = _argsort(x.xp, x.data, d, largest)[(slice(None),) * d + (slice(0, int(k)),)]
    return SortResult(_take_along(x, d, i), _indices(i))


def _pick_sorted(op, x, dim, keepdim, position):
    """(values, indices) of the element at ``position(n, nan_count_array)`` of each sorted
    slice along ``dim`` (0-based, an array of positions broadcasting against the slices)."""
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:
        return _as_1d(x, lambda v: _pick_sorted(op, v, 0, keepdim, position))
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{op}: dim {dim} is empty (size 0), so it has no such element")
    xp = x.xp
    order = _argsort(xp, x.data, d, False)
    at = xp.asarray(position(n, xp.isnan(x.data).sum(axis=d, keepdims=True)
                             if x.data.dtype.kind == "f" else xp.zeros((1,) * x.ndim, np.int64)))
    i = xp.take_along_axis(order, xp.broadcast_to(at, order.shape[:d] + (1,) + order.shape[d + 1:])
                           .astype(order.dtype, copy=False), axis=d)
    values = _take_along(x, d, i)
    if not keepdim:
        values, i = squeeze(values, d), i.squeeze(axis=d)
    return MaxResult(values, _indices(i))


@op
@numpy_aliases
def kthvalue(x, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest element (k from 1) along ``dim``, as
    torch.kthvalue."""
    n = x.shape[_dim("kthvalue", dim, x.ndim)] if x.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"kthvalue: k={k!r} must be a whole number in [1, {n}] (the size of "
                         f"dim {dim})")
    return _pick_sorted("kthvalue", x, dim, keepdim, lambda n, nans: np.int64(k - 1))


@op
@numpy_aliases
def median(x, dim=None, keepdim=False):
    """The median, as torch.median: the lower of the two middle values for an even count (not
    their mean, as numpy's), NaN if the values include one. ``x.median()`` is one value over
    all elements; ``x.median(dim)`` gives (values, indices)."""
    def position(n, nans):  # the lower middle, or the first NaN (NaN sorts last)
        return x.xp.where(nans > 0, n - nans, (n - 1) // 2)
    if dim is None:
        if x.data.size == 0:
            raise ValueError("median: the tensor is empty")
        return _pick_sorted("median", reshape(x, -1), 0, False, position).values
    return _pick_sorted("median", x, dim, keepdim, position)


_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op, x, q, dim, keepdim, interpolation, ignore_nan):
    """quantile / nanquantile, torch's algorithm (aten Sorting.cpp): sort the values along
    ``dim``, rank = q (n - 1) with n the count of values (nanquantile: of the non-NaN ones;
    quantile: a slice with a NaN gets rank n - 1, its last, NaN), then per interpolation mode
    the value at floor(rank) (lower), ceil(rank) (higher), rank rounded half to even (nearest),
    or lerp(value at floor, value at ceil, weight) with weight rank - floor(rank) (linear) or
    1/2 (midpoint). The ranks are computed in x's dtype, as torch's. Values are gathered from
    ``sort``'s, so the gradient goes to the elements picked (with ties, those of the stable
    sort, as torch's); in linear mode a tensor q gets the gradient (n - 1)(above - below)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expects a tensor, got {type(x).__name__}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op}: expects a float32 or float64 tensor, got {x.dtype}")
    if interpolation not in _QUANTILE_MODES:
        raise ValueError(f"{op}: interpolation must be one of {', '.join(_QUANTILE_MODES)}, "
                         f"got {interpolation!r}")
    xp, dtype = x.xp, x.data.dtype
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise ValueError(f"{op}: q must be a number, a 0-d or a 1-d tensor, got a tensor of "
                             f"shape {q.shape}")
        if q.data.dtype != dtype:
            raise TypeError(f"{op}: q must have the input's dtype {x.dtype}, got {q.dtype}")
        if not bool(((q.data >= 0) & (q.data <= 1)).all()):  # NaN fails too
            raise ValueError(f"{op}: q values must be in [0, 1], got {q.tolist()}")
        many = q.ndim == 1
        qv = q if many else reshape(q, 1)
    elif _is_number(q):
        if not 0 <= q <= 1:
            raise ValueError(f"{op}: q must be in [0, 1], got {q}")
        many = False
        qv = Tensor._wrap(xp.full((1,), _py(q), dtype=dtype), False, None)
    else:
        raise TypeError(f"{op}: q must be a number or a tensor, got {type(q).__name__}")
    if x.data.size == 0:
        raise ValueError(f"{op}: the input tensor is empty (shape {x.shape})")
    if dim is None:
        v = reshape(x, -1)
    else:
        d = _dim(op, dim, x.ndim)
        v = reshape(x, 1) if x.ndim == 0 else movedim(x, d, -1)
    s = sort(v, -1).values                      # (..., n): the reduced dims, then dim's values
    n, last = s.shape[-1], s.ndim - 1
    nan = xp.isnan(s.data)
    if ignore_nan:
        counts = (~nan).sum(axis=-1, keepdims=True).astype(dtype)  # (..., 1)
        ranks = qv * (counts - 1)                                   # (..., Q)
        ranks = where(ranks.data < 0, 0.0, ranks)  # no value but NaN: rank 0, NaN
    else:
        ranks = where(nan.any(axis=-1, keepdims=True), float(n - 1), qv * (n - 1))
    r = ranks.data
    if interpolation in ("lower", "higher", "nearest"):
        r = {"lower": xp.floor, "higher": xp.ceil, "nearest": xp.round}[interpolation](r)
        y = _take_along(s, last, r.astype(np.int64))
    else:
        below = xp.floor(r)
        lo = _take_along(s, last, below.astype(np.int64))
        hi = _take_along(s, last, xp.ceil(r).astype(np.int64))
        y = lerp(lo, hi, 0.5 if interpolation == "midpoint" else ranks - below)
    y = movedim(y, -1, 0) if y.ndim > 1 else y  # (Q, ...)
    if not many:
        y = squeeze(y, 0)
    if keepdim:
        if dim is None:
            y = reshape(y, (y.shape[:1] if many else ()) + (1,) * x.ndim)
        elif x.ndim:
            y = unsqueeze(y, d + many)
    return y


@op
def quantile(x, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles of the values (all, or along ``dim``), as torch.quantile: q a number
    or a 0-d or 1-d tensor in [0, 1] of x's dtype (1-d: a leading dim of len(q) in the
    result); ``interpolation`` 'linear', 'lower', 'higher', 'midpoint' or 'nearest' (half to
    even) between the two values around rank q (n - 1). A slice holding a NaN gives NaN.
    Differentiable through ``sort`` (and in q, in linear mode). See :func:`_quantile`."""
    return _quantile("quantile", x, q, dim, keepdim, interpolation, False)


@op
def nanquantile(x, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile ignoring NaNs, as torch.nanquantile: the ranks count the non-NaN values of each
    slice; a slice of NaNs only gives NaN."""
    return _quantile("nanquantile", x, q, dim, keepdim, interpolation, True)


def _narrow(x, d, start, length):
    return S.GetItem.apply(x, index=(slice(None),) * d + (slice(start, start + length),))


@op
@numpy_aliases
def narrow(x, dim, start, length):
    """x[..., start:start + length, ...] along ``dim`` (a view, as torch.narrow); a negative
    start counts from the end."""
    d = _dim("narrow", dim, x.ndim)
    n = x.shape[d]
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start {start} and length {length} exceed dim {dim} of size "
                         f"{n}")
    return _narrow(x, d, start, length)


def _integer_product_dtype(x, dtype):
    """prod/cumprod compute in ``dtype`` if given, integers and bools in int64 (torch's rule)."""
    if dtype is not None:
        return to(x, dtype=dtype)
    if x.data.dtype.kind in "biu" and x.data.dtype != np.int64:
        return to(x, dtype=np.int64)
    return x


@op
@numpy_aliases
def prod(x, dim=None, keepdim=False, *, dtype=None):
    """The product of the elements (all, or along one ``dim``), as torch.prod. Computed as a
    tree of pairwise products (log2(n) multiplications of halves), so the gradient is exact
    where elements are zero and every order of derivative comes from Mul's backward. The
    rounding differs from a running product in the last bits."""
    x = _integer_product_dtype(x, dtype)
    if dim is None:
        y = prod(reshape(x, -1), 0)
        return reshape(y, (1,) * x.ndim) if keepdim else y
    d = _dim("prod", dim, x.ndim)
    if x.ndim == 0:
        return x
    n = x.shape[d]
    if n == 0:  # the empty product
        return sum(x, d, keepdim) + 1
    while n > 1:
        h = n // 2
        y = _narrow(x, d, 0, h) * _narrow(x, d, h, h)
        if n % 2:
            y = cat([y, _narrow(x, d, 2 * h, 1)], d)
        x, n = y, h + n % 2
    return x if keepdim else squeeze(x, d)


@op
@numpy_aliases
def cumprod(x, dim, *, dtype=None):
    """Running products along ``dim``: y[i] = x[0] * ... * x[i], as torch.cumprod. A scan of
    log2(n) multiplications (y[i] *= y[i - s] for s = 1, 2, 4, ...), so as with prod the
    gradient is exact at zeros and comes from Mul's backward at every order."""
    x = _integer_product_dtype(x, dtype)
    d = _dim("cumprod", dim, x.ndim)
    if x.ndim == 0:
        return x
    n, s = x.shape[d], 1
    while s < n:
        x = cat([_narrow(x, d, 0, s), _narrow(x, d, s, n - s) * _narrow(x, d, 0, n - s)], d)
        s *= 2
    return x


def _tri(op, x, diagonal, lower):
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor of at least 2 dims (a matrix or a batch of "
                         f"them), got shape {x.shape}")
    h, w = x.shape[-2:]
    keep = x.xp.tri(h, w, k=diagonal, dtype=bool)  # on and below the diagonal'th diagonal
    if not lower:
        keep = ~x.xp.tri(h, w, k=diagonal - 1, dtype=bool)
    return masked_fill(x, Tensor._wrap(~keep, False, None), 0)


@op
@numpy_aliases
def tril(x, diagonal=0):
    """The lower triangle of the last two dims (on and below the ``diagonal``-th diagonal:
    0 the main one, > 0 above it); the rest 0."""
    return _tri("tril", x, diagonal, True)


@op
@numpy_aliases
def triu(x, diagonal=0):
    """The upper triangle of the last two dims (on and above the ``diagonal``-th diagonal);
    the rest 0."""
    return _tri("triu", x, diagonal, False)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@op(methods=())
def einsum(equation, *operands):
    """Einstein summation, as torch.einsum: ``einsum("ij,jk->ik", a, b)`` is a @ b; a letter
    in several operands is multiplied along, one absent from the output summed over; without
    '->' the output is the letters that appear once, in alphabetical order; '...' stands for
    the leading dims, broadcast across operands. Operands may also come as one list. A letter
    repeated within an operand takes its diagonal ('ii->i'). The gradient of each operand is
    an einsum of the output's gradient with the others (ops/matmul.py: Einsum)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands or not builtins.all(isinstance(t, Tensor) for t in operands):
        raise TypeError("einsum: expects tensors after the equation")
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} names {len(subs)} operands, got "
                         f"{len(operands)}")
    bad = set(eq) - set(_LETTERS) - set(",.->")
    if bad:
        raise ValueError(f"einsum: subscripts must be letters a-z, A-Z, got {sorted(bad)} in "
                         f"{equation!r}")
    # '...': as many fresh letters as the most leading dims any operand has, right-aligned
    free = [c for c in _LETTERS if c not in eq]
    spans = []
    for s, t in zip(subs, operands):
        named = len(s.replace("...", ""))
        if s.count("...") > 1 or s.replace("...", "").count(".") or \
                ("..." not in s and named != t.ndim) or named > t.ndim:
            raise ValueError(f"einsum: subscripts {s!r} do not fit an operand of shape "
                             f"{tuple(t.shape)} (one letter per dim, '...' at most once)")
        spans.append(t.ndim - named if "..." in s else 0)
    ell = "".join(free[:builtins.max(spans, default=0)])
    subs = tuple(s.replace("...", ell[len(ell) - e:]) for s, e in zip(subs, spans))
    if arrow:
        if out.count("...") > 1 or out.replace("...", "").count("."):
            raise ValueError(f"einsum: bad output subscripts {out!r}")
        out = out.replace("...", ell)
        unknown = set(out) - set("".join(subs))
        if unknown or len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {out!r} must be distinct letters of the "
                             "inputs")
    else:  # implicit: the broadcast dims, then the letters that appear once, sorted
        counts = collections.Counter("".join(subs))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    for c in set("".join(subs)):
        sizes = {n for s, t in zip(subs, operands) for d, n in zip(s, t.shape) if d == c}
        if len(sizes - {1}) > 1:
            raise ValueError(f"einsum: subscript {c!r} has sizes {sorted(sizes)} in "
                             f"{equation!r}")
    if builtins.any(t.data.dtype != operands[0].data.dtype for t in operands):
        operands = _promote(*operands)
    return Einsum.apply(*operands, subscripts=subs, output=out)


@op
def bmm(a, b):
    """Batched matrix product of two 3-d tensors, (B, N, K) @ (B, K, M) -> (B, N, M), as
    torch.bmm (no broadcasting: use matmul for that)."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: expects two 3-d tensors, got shapes {getattr(a, 'shape', a)} "
                         f"and {getattr(b, 'shape', b)}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: shapes {a.shape} and {b.shape} do not fit (B, N, K) @ (B, K, M)")
    return matmul(a, b)


@op(methods=("outer", "ger"), export=("outer", "ger"))
def outer(a, b):
    """The outer product of two 1-d tensors: out[i, j] = a[i] * b[j]."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expects two 1-d tensors, got shapes {getattr(a, 'shape', a)} "
                         f"and {getattr(b, 'shape', b)}")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


ger = outer


def _two_tensors(op, a, b, same_dtype=True):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError(f"{op}: expects two tensors, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if same_dtype and a.data.dtype != b.data.dtype:
        raise TypeError(f"{op}: expects both tensors of one dtype, got {a.dtype} and {b.dtype}")


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


@op(methods=())
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of x1 and each row of x2, as torch.cdist:
    x1 (..., P, M), x2 (..., R, M) -> (..., P, R), batch dims broadcast; p >= 0 (0: the count
    of differing coordinates, inf: the largest difference).

    Gradients are torch's (ops/distance.py), also where the distance is not differentiable: 0 at
    coincident points and where a coordinate difference is 0 (p <= 1), and for p = inf the whole
    gradient to every coordinate tied for the largest difference. They are differentiable
    again (torch 2.13 has no second derivative of cdist).

    Always the exact differences: ``compute_mode`` is accepted for torch's signature, but the
    matrix-product form torch uses for p = 2 when P or R exceeds 25 (faster, with cancellation
    near coincident points) is not implemented."""
    _two_tensors("cdist", x1, x2)
    if x1.ndim < 2 or x2.ndim < 2:
        raise ValueError(f"cdist: expects tensors of at least 2 dims ((..., P, M) and "
                         f"(..., R, M)), got shapes {x1.shape} and {x2.shape}")
    if x1.data.dtype.kind != "f":
        raise TypeError(f"cdist: expects floating-point tensors, got {x1.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: x1 and x2 must have the same number of columns (last dim), "
                         f"got x1 {x1.shape} with {x1.shape[-1]} and x2 {x2.shape} with "
                         f"{x2.shape[-1]}")
    if not _is_number(p) or not p >= 0:  # NaN fails too
        raise ValueError(f"cdist: p must be a number >= 0, got {p!r}")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"cdist: compute_mode must be one of {_CDIST_MODES}, got "
                         f"{compute_mode!r}")
    try:
        batch = _broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise ValueError(f"cdist: the batch dims of shapes {x1.shape} and {x2.shape} cannot be "
                         "broadcast together") from None
    if x1.shape[:-2] != batch:
        x1 = expand(x1, *batch, *x1.shape[-2:])
    if x2.shape[:-2] != batch:
        x2 = expand(x2, *batch, *x2.shape[-2:])
    return Cdist.apply(x1, x2, p=float(p))


def _tensordot_dims(a, b, dims):
    """torch.tensordot's ``dims`` as two lists of non-negative dims of a and of b."""
    if isinstance(dims, Tensor):  # a 0-d count or a (2, n) tensor of dims
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        if dims < 0:
            raise ValueError(f"tensordot: dims must be >= 0, got {dims}")
        if dims > a.ndim or dims > b.ndim:
            raise ValueError(f"tensordot: dims={dims} contracts more dims than the operands "
                             f"have (shapes {a.shape} and {b.shape})")
        return list(range(a.ndim - dims, a.ndim)), list(range(dims))
    ok = isinstance(dims, (list, tuple)) and len(dims) == 2 and builtins.all(
        isinstance(d, (list, tuple)) for d in dims)
    if not ok:
        raise TypeError(f"tensordot: dims must be an int or a pair of lists of dims "
                        f"(([dims of a], [dims of b])), got {dims!r}")
    da, db = list(dims[0]), list(dims[1])
    if len(da) != len(db):
        raise ValueError(f"tensordot: the two lists of dims must be equally long, got {da} and "
                         f"{db}")
    da = [_dim("tensordot", d, a.ndim) for d in da]
    db = [_dim("tensordot", d, b.ndim) for d in db]
    for name, ds, orig in (("a", da, dims[0]), ("b", db, dims[1])):
        if len(set(ds)) != len(ds):
            raise ValueError(f"tensordot: a dim of {name} appears twice in {list(orig)}")
    return da, db


@op(methods=())
def tensordot(a, b, dims=2):
    """The sum over paired dims of a and b of their product, as torch.tensordot: ``dims`` an
    int n (a's last n dims with b's first n, in order) or two lists ``([dims of a], [dims of
    b])`` (also a tensor of them); the result's dims are a's others, then b's others. A size-1
    dim may pair with any size (summed), as in torch. An einsum, so its gradient is einsum's."""
    _two_tensors("tensordot", a, b)
    da, db = _tensordot_dims(a, b, dims)
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j] and a.shape[i] != 1 and b.shape[j] != 1:
            raise ValueError(f"tensordot: contracted dims must have one size, but dim {i} of a "
                             f"{a.shape} has {a.shape[i]} and dim {j} of b {b.shape} has "
                             f"{b.shape[j]}")
    if a.ndim + b.ndim - len(da) > len(_LETTERS):
        raise ValueError(f"tensordot: more than {len(_LETTERS)} dims in all are not supported")
    letters = iter(_LETTERS)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [None] * b.ndim
    for i, j in zip(da, db):
        sb[j] = sa[i]
    sb = [c if c is not None else next(letters) for c in sb]
    out = [c for i, c in enumerate(sa) if i not in da] + \
        [c for j, c in enumerate(sb) if j not in db]
    return Einsum.apply(a, b, subscripts=("".join(sa), "".join(sb)), output="".join(out))


@op
def kron(a, b):
    """The Kronecker product, as torch.kron: the operand with fewer dims gets leading 1s, and
    block (i_0, i_1, ...) of the result, of b's shape, is a[i_0, i_1, ...] * b; result shape
    (a_0 b_0, a_1 b_1, ...). A product of reshaped operands, so its gradients are Mul's."""
    _two_tensors("kron", a, b, same_dtype=False)
    if a.data.dtype != b.data.dtype:
        a, b = _promote(a, b)
    n = builtins.max(a.ndim, b.ndim)
    sa = (1,) * (n - a.ndim) + a.shape
    sb = (1,) * (n - b.ndim) + b.shape
    ea = reshape(a, tuple(v for m in sa for v in (m, 1)))  # (a_0, 1, a_1, 1, ...)
    eb = reshape(b, tuple(v for m in sb for v in (1, m)))  # (1, b_0, 1, b_1, ...)
    return reshape(ea * eb, tuple(m * k for m, k in zip(sa, sb)))


@op
def cross(a, b, dim=None):
    """The cross product of 3-vectors along ``dim``, as torch.cross: a and b of the same number
    of dims, broadcast along the others. ``dim=None`` is torch.cross's default, the first dim of
    a of size 3 (torch warns that it will become -1, torch.linalg.cross's; this warns too):
    pass dim=-1 for the last."""
    _two_tensors("cross", a, b)
    if a.ndim != b.ndim:
        raise ValueError(f"cross: expects tensors with the same number of dims, got shapes "
                         f"{a.shape} and {b.shape}")
    if dim is None:
        sizes = list(a.shape)
        if 3 not in sizes:
            raise ValueError(f"cross: no dim of size 3 in shape {a.shape} (dim=None takes the "
                             "first one)")
        warnings.warn("cross: dim=None takes the first dim of size 3, as torch.cross (which "
                      "deprecates it); pass dim explicitly, e.g. dim=-1", UserWarning,
                      stacklevel=2)
        dim = sizes.index(3)
    d = _dim("cross", dim, a.ndim)
    if a.ndim == 0 or a.shape[d] != 3 or b.shape[d] != 3:
        raise ValueError(f"cross: dim {dim} must have size 3 in both tensors, got shapes "
                         f"{a.shape} and {b.shape}")
    try:
        shape = _broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"cross: shapes {a.shape} and {b.shape} cannot be broadcast "
                         "together") from None
    a0, a1, a2 = (_narrow(a, d, i, 1) for i in range(3))
    b0, b1, b2 = (_narrow(b, d, i, 1) for i in range(3))
    y = cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)
    return y if y.shape == shape else expand(y, *shape)


@op
@numpy_aliases
def unbind(x, dim=0):
    """The slices of x along ``dim``, without it, as a tuple (views, as torch.unbind)."""
    d = _dim("unbind", dim, x.ndim)
    if x.ndim == 0:
        raise ValueError("unbind: a 0-d tensor has no dim to unbind")
    return tuple(S.GetItem.apply(x, index=(slice(None),) * d + (k,)) for k in range(x.shape[d]))


@op
@numpy_aliases
def diff(x, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim``: out[i] = x[i + 1] - x[i], n times, after
    joining ``prepend`` and ``append`` (tensors) on either side, as torch.diff."""
    d = _dim("diff", dim, x.ndim)
    if x.ndim == 0:
        raise ValueError("diff: expects a tensor of at least 1 dim")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"diff: n={n!r} must be a whole number >= 0")
    parts = [t for t in (prepend, x, append) if t is not None]
    if len(parts) > 1:
        x = cat(parts, d)
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        a, b = _narrow(x, d, 1, m - 1), _narrow(x, d, 0, m - 1)
        x = a != b if x.data.dtype.kind == "b" else a - b  # bool: torch's xor
    return x


@op
@numpy_aliases
def index_select(x, dim, index):
    """The slices of x at the positions in ``index`` (a 1-d int tensor) along ``dim``, in its
    order, repeats allowed; a copy, as torch.index_select. The gradient scatter-adds."""
    d = _dim("index_select", dim, x.ndim)
    i = _int_index("index_select", index)
    if i.ndim > 1:
        raise ValueError(f"index_select: index must be 0-d or 1-d, got shape {index.shape}")
    if x.ndim == 0:
        return reshape(index_select(reshape(x, 1), 0, index), () if i.ndim == 0 else (-1,))
    _check_range("index_select", i, x.shape[d], dim)
    return S.GetItem.apply(x, index=(slice(None),) * d + (i.reshape(-1),))


def _scatter_positions(op, x, d, i, src_shape=None):
    """The index tuple that puts the elements of an ``i``-shaped block (``i`` along d, their
    own positions elsewhere) into x, after torch's shape checks for scatter/scatter_add."""
    if i.ndim != x.ndim:
        raise ValueError(f"{op}: index of shape {i.shape} must have the rank of the tensor "
                         f"({x.shape})")
    for a, m in enumerate(i.shape):
        if (a != d and m > x.shape[a]) or (src_shape is not None and m > src_shape[a]):
            raise ValueError(f"{op}: index of shape {i.shape} is larger than the tensor "
                             f"{x.shape} or src {src_shape} at dim {a}")
    _check_range(op, i, x.shape[d], d)
    return _along(x.xp, d, i)


def _leading(src, shape):
    """src's leading block of ``shape`` (torch reads only as much of src as the index has)."""
    if src.shape == tuple(shape):
        return src
    return getitem(src, tuple(slice(0, m) for m in shape))


@op
@numpy_aliases
def scatter_add(x, dim, index, src):
    """A copy of x with src's elements added at ``index`` along ``dim``: for dim 0,
    out[index[a][b]][b] += src[a][b]; repeated indices add up. As torch.scatter_add."""
    d = _dim("scatter_add", dim, x.ndim)
    i = _int_index("scatter_add", index)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    where_ = _scatter_positions("scatter_add", x, d, i, src.shape)
    part = _leading(src, i.shape)
    _same_dtype("scatter_add", x, src)
    return x + S.IndexAdd.apply(part, shape=x.shape, index=where_)


def _same_dtype(op, x, src):
    if src.data.dtype != x.data.dtype:
        raise TypeError(f"{op}: the tensor ({x.dtype}) and the source ({src.dtype}) must have "
                        "the same dtype, as in torch: convert one first")


@op
@numpy_aliases
def scatter(x, dim, index, src=None, *, value=None, reduce=None):
    """A copy of x with the elements at ``index`` along ``dim`` replaced by src's (or by
    ``value``): for dim 0, out[index[a][b]][b] = src[a][b], as torch.scatter. An index that
    names one position twice is refused when src is a tensor (torch leaves which value wins
    undefined); ``reduce`` is not supported (use scatter_add)."""
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported; use scatter_add for sums")
    d = _dim("scatter", dim, x.ndim)
    i = _int_index("scatter", index)
    if src is not None and not isinstance(src, Tensor):
        if value is not None or not _is_number(src):
            raise TypeError(f"scatter: src must be a tensor or a number, got {src!r}")
        src, value = None, src  # torch's scatter(dim, index, 2.0)
    if (src is None) == (value is None):
        raise TypeError("scatter: give either src (a tensor) or value (a number)")
    where_ = _scatter_positions("scatter", x, d, i, None if src is None else src.shape)
    hit = x.xp.zeros(x.shape, dtype=bool)
    hit[where_] = True
    mask = Tensor._wrap(hit, False, None)
    if src is None:
        return masked_fill(x, mask, value)
    if int(hit.sum()) != i.size:
        raise ValueError("scatter: index names some positions more than once; which src value "
                         "lands there is undefined (torch's rule): use unique indices, or "
                         "scatter_add to add them")
    _same_dtype("scatter", x, src)
    part = _leading(src, i.shape)
    return masked_fill(x, mask, 0) + S.IndexAdd.apply(part, shape=x.shape, index=where_)


@op
@numpy_aliases
def index_add(x, dim, index, source, *, alpha=1):
    """A copy of x with ``alpha * source``'s slices added at the positions in ``index`` (1-d)
    along ``dim``; repeated positions add up. As torch.index_add."""
    d = _dim("index_add", dim, x.ndim)
    i = _int_index("index_add", index)
    if i.ndim != 1:
        raise ValueError(f"index_add: index must be 1-d, got shape {index.shape}")
    if not isinstance(source, Tensor):
        raise TypeError(f"index_add: source must be a tensor, got {type(source).__name__}")
    want = x.shape[:d] + (i.size,) + x.shape[d + 1:]
    if source.shape != want:
        raise ValueError(f"index_add: source has shape {source.shape}, expected {want} (x's "
                         f"shape with dim {dim} the index's length)")
    _check_range("index_add", i, x.shape[d], dim)
    _same_dtype("index_add", x, source)
    return x + S.IndexAdd.apply(_scaled(source, alpha), shape=x.shape,
                                index=(slice(None),) * d + (i,))


@op
def clamp_min(x, min):
    """clamp(x, min=min)."""
    return clamp(x, min=min)


@op
def clamp_max(x, max):
    """clamp(x, max=max)."""
    return clamp(x, max=max)


@op
def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes (offset > 0 above the main one), as a last dim;
    a copy (torch's is a view). The gradient goes back onto the diagonal."""
    a, b = _dim("diagonal", dim1, x.ndim), _dim("diagonal", dim2, x.ndim)
    if x.ndim < 2 or a == b:
        raise ValueError(f"diagonal: needs two different dims of a tensor of 2+ dims, got dims "
                         f"{dim1} and {dim2} of shape {x.shape}")
    rows = builtins.max(0, builtins.min(x.shape[a] + builtins.min(offset, 0),
                                        x.shape[b] - builtins.max(offset, 0)))
    k = x.xp.arange(rows)
    i, j = k - builtins.min(offset, 0), k + builtins.max(offset, 0)
    rest = [d for d in range(x.ndim) if d not in (a, b)]
    moved = permute(x, *rest, a, b)
    return S.GetItem.apply(moved, index=(Ellipsis, i, j))


_diagonal = diagonal  # (diag's argument is called diagonal, as torch's)


@op
def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """Matrices whose (offset) diagonal is x's last dim, zero elsewhere; the inverse of
    diagonal (for the default dims, the last two)."""
    if (dim1, dim2) not in ((-2, -1), (x.ndim - 1, x.ndim)):
        raise NotImplementedError("diag_embed: only the default dims (-2, -1) are supported")
    n = x.shape[-1] + builtins.abs(offset)
    k = x.xp.arange(x.shape[-1])
    i, j = k - builtins.min(offset, 0), k + builtins.max(offset, 0)
    return S.IndexAdd.apply(x, shape=x.shape[:-1] + (n, n), index=(Ellipsis, i, j))


@op
def diag(x, diagonal=0):
    """A 1-d x: the square matrix with x on its ``diagonal``-th diagonal; a 2-d x: that
    diagonal of it."""
    if x.ndim == 1:
        return diag_embed(x, diagonal)
    if x.ndim == 2:
        return _diagonal(x, diagonal)
    raise ValueError(f"diag: expects a 1-d or 2-d tensor, got shape {x.shape}")


@op
def trace(x):
    """The sum of a matrix's main diagonal."""
    if x.ndim != 2:
        raise ValueError(f"trace: expects a matrix, got shape {x.shape}")
    return sum(diagonal(x))


# ----------------------------------------------------------------------- linear algebra
# torch's top-level names (and Tensor methods) for functions of minigrad.linalg, which builds on
# this module: it is imported on first use.
@op
def inverse(x):
    """x^{-1} for x (..., n, n): ``minigrad.linalg.inv``."""
    from minigrad import linalg
    return linalg.inv(x)


@op
def det(x):
    """det(x) for x (..., n, n): ``minigrad.linalg.det`` (its gradient exact at singular x)."""
    from minigrad import linalg
    return linalg.det(x)


@op
def slogdet(x):
    """(sign, logabsdet) of det(x): ``minigrad.linalg.slogdet``."""
    from minigrad import linalg
    return linalg.slogdet(x)


@op
def logdet(x):
    """log det(x) for x (..., n, n), as torch.logdet: NaN where det(x) < 0, -inf where it is 0.
    Gradient x^{-T} (0 where the value is NaN; at a singular x, LinAlgError)."""
    from minigrad import linalg
    sign, logabsdet = linalg.slogdet(x)
    return where(sign.data < 0, math.nan, logabsdet)


@op
def repeat_interleave(x, repeats, dim=None):
    """Each element (of the flattened x, or each slice along ``dim``) repeated ``repeats``
    times in place: [1, 2] -> [1, 1, 2, 2]; ``repeats`` an int or one per element/slice."""
    if dim is None:
        x, d = reshape(x, -1), 0
    else:
        d = _dim("repeat_interleave", dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    r = repeats.data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if r.dtype.kind not in "iu" or r.ndim > 1 or (r.ndim == 1 and r.size != n) or \
            (r.size and int(r.min()) < 0):
        raise ValueError(f"repeat_interleave: repeats must be a whole number >= 0 or {n} of "
                         f"them, got {repeats!r}")
    index = x.xp.repeat(x.xp.arange(n), x.xp.asarray(r))
    return S.GetItem.apply(x, index=(slice(None),) * d + (index,))


@op(methods=())
def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 1-d tensors, each expanded to the grid's shape: 'ij' (torch's
    default: dims in the tensors' order) or 'xy' (the first two swapped, as numpy's)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not builtins.all(isinstance(t, Tensor) and t.ndim <= 1 for t in tensors):
        raise ValueError("meshgrid: expects 0-d or 1-d tensors")
    ts = [reshape(t, -1) for t in tensors]
    shape = tuple(t.shape[0] for t in ts)
    grids = [expand(reshape(t, tuple(-1 if k == i else 1 for k in range(len(ts)))), *shape)
             for i, t in enumerate(ts)]
    if indexing == "xy" and len(ts) >= 2:  # the same grids with their first two dims swapped
        grids = [transpose(g, 0, 1) for g in grids]
    return tuple(grids)


def _running(op, x, dim, bigger):
    """(values, indices) of the running max (min) along dim, as torch's cummax/cummin: on a tie
    the latest position; from a NaN on, the NaN (the latest one)."""
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:
        return _as_1d(x, lambda v: _running(op, v, 0, bigger))
    xp, a = x.xp, x.data
    shape = [1] * x.ndim
    shape[d] = x.shape[d]
    pos = xp.arange(x.shape[d]).reshape(shape)
    best = (xp.maximum if bigger else xp.minimum).accumulate(a, axis=d)  # NaN propagates
    i = xp.maximum.accumulate(xp.where(a == best, pos, 0), axis=d)
    if a.dtype.kind == "f":
        last_nan = xp.maximum.accumulate(xp.where(xp.isnan(a), pos, -1), axis=d)
        i = xp.where(last_nan >= 0, last_nan, i)
    i = i.astype(np.int64, copy=False)
    return SortResult(_take_along(x, d, i), _indices(i))


@op
@numpy_aliases
def cummax(x, dim):
    """(values, indices) of the running maximum along ``dim``, as torch.cummax."""
    return _running("cummax", x, dim, True)


@op
@numpy_aliases
def cummin(x, dim):
    """(values, indices) of the running minimum along ``dim``, as torch.cummin."""
    return _running("cummin", x, dim, False)


@op
@numpy_aliases
def nansum(x, dim=None, keepdim=False):
    """The sum with NaNs counted as 0."""
    return sum(where(isnan(x), 0.0, x), dim, keepdim)


@op
@numpy_aliases
def nanmean(x, dim=None, keepdim=False):
    """The mean of the non-NaN elements (NaN where there are none)."""
    keep = Tensor._wrap(~x.xp.isnan(x.data), False, None)
    count = sum(_cast(keep, x.data.dtype), dim, keepdim)
    return nansum(x, dim, keepdim) / count


@op
@numpy_aliases
def var_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean), as torch.var_mean."""
    return var(x, dim, unbiased, keepdim, correction=correction), mean(
        x, _correction("var_mean", dim, unbiased, correction)[0], keepdim)


@op
@numpy_aliases
def std_mean(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean), as torch.std_mean."""
    return std(x, dim, unbiased, keepdim, correction=correction), mean(
        x, _correction("std_mean", dim, unbiased, correction)[0], keepdim)


@op
@numpy_aliases
def count_nonzero(x, dim=None):
    """The number of non-zero elements (over ``dim``): int64, no gradient."""
    axes = _axes("count_nonzero", dim, x.ndim)
    return _indices(x.xp.asarray(x.xp.count_nonzero(x.data, axis=axes), dtype=np.int64))


@op
def bincount(x, weights=None, minlength=0):
    """How often each value 0, 1, ... occurs in the 1-d int tensor x (with ``weights``: their
    sums); no gradient."""
    if x.ndim != 1 or x.data.dtype.kind not in "iu":
        raise ValueError(f"bincount: expects a 1-d int tensor, got {x.dtype} of shape {x.shape}")
    if x.data.size and int(x.data.min()) < 0:
        raise ValueError("bincount: the values must be >= 0")
    w = None if weights is None else weights.data
    out = x.xp.bincount(x.data, weights=w, minlength=minlength)
    return Tensor._wrap(out if w is not None else out.astype(np.int64), False, None)


@op
def unique(x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of x, in ascending order (always sorted); with ``return_inverse``
    each element's position among them, with ``return_counts`` how often each occurs. No
    gradient (as torch's)."""
    if dim is not None:
        raise NotImplementedError("unique: dim is not supported")
    out = x.xp.unique(x.data, return_inverse=return_inverse, return_counts=return_counts)
    if not (return_inverse or return_counts):
        return Tensor._wrap(out, False, None)
    values, *rest = out
    result = [Tensor._wrap(values, False, None)]
    if return_inverse:
        result.append(_indices(rest.pop(0).reshape(x.shape).astype(np.int64)))
    if return_counts:
        result.append(_indices(rest.pop(0).astype(np.int64)))
    return tuple(result)


@op(methods=())
def searchsorted(sorted_sequence, values, *, right=False, side=None):
    """Where each of ``values`` would go in the sorted 1-d ``sorted_sequence`` to keep it sorted
    (the first such place, or the last with ``right``/side='right'); int64, no gradient."""
    if sorted_sequence.ndim != 1:
        raise NotImplementedError("searchsorted: only a 1-d sorted_sequence is supported")
    if side is None:
        side = "right" if right else "left"
    v = values.data if isinstance(values, Tensor) else sorted_sequence.xp.asarray(values)
    out = sorted_sequence.xp.searchsorted(sorted_sequence.data, v, side=side)
    return _indices(sorted_sequence.xp.asarray(out, dtype=np.int64))


@op
def nonzero(x, *, as_tuple=False):
    """The positions of the non-zero elements: an (n, ndim) int64 tensor, one row per element
    in row-major order, or with ``as_tuple`` one 1-d tensor per dim. No gradient (indices)."""
    found = x.xp.nonzero(x.data) if x.ndim else x.xp.nonzero(x.data.reshape(1))
    if as_tuple:
        return tuple(_indices(a.astype(np.int64, copy=False)) for a in found)
    if x.ndim == 0:
        return _indices(x.xp.zeros((found[0].size, 0), dtype=np.int64))
    return _indices(x.xp.stack(found, axis=1).astype(np.int64, copy=False))



# ------------------------------------------------------------ comparisons, logic, odds and ends
def _compare_op(name, fn):
    def compare(a, b):
        if not isinstance(a, Tensor):
            raise TypeError(f"{name}: the first argument must be a tensor, got "
                            f"{type(a).__name__}")
        return fn(a, b)
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"The elementwise comparison ``a {_COMPARE_SYMBOLS[name]} b``: a bool " \
                      "tensor (b a tensor or a number, broadcast), no gradient."
    return op(compare)


_COMPARE_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
eq = _compare_op("eq", lambda a, b: a == b)
ne = _compare_op("ne", lambda a, b: a != b)
lt = _compare_op("lt", lambda a, b: a < b)
le = _compare_op("le", lambda a, b: a <= b)
gt = _compare_op("gt", lambda a, b: a > b)
ge = _compare_op("ge", lambda a, b: a >= b)


def _data(x, like):
    return x.data if isinstance(x, Tensor) else like.xp.asarray(x)


@op
def logical_not(x):
    return Tensor._wrap(x.xp.logical_not(x.data), False, None)


@op
def logical_and(a, b):
    return Tensor._wrap(a.xp.logical_and(a.data, _data(b, a)), False, None)


@op
def logical_or(a, b):
    return Tensor._wrap(a.xp.logical_or(a.data, _data(b, a)), False, None)


@op
def logical_xor(a, b):
    return Tensor._wrap(a.xp.logical_xor(a.data, _data(b, a)), False, None)


@op
def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """|a - b| <= atol + rtol |b| elementwise: a bool tensor, as torch.isclose."""
    return Tensor._wrap(a.xp.isclose(a.data, _data(b, a), rtol=rtol, atol=atol,
                                     equal_nan=equal_nan), False, None)


@op
def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether isclose holds everywhere: a Python bool, as torch.allclose."""
    return bool(isclose(a, b, rtol, atol, equal_nan).data.all())


@op
def equal(a, b):
    """Whether a and b have one shape and equal elements: a Python bool, as torch.equal."""
    return isinstance(b, Tensor) and a.shape == b.shape and bool((a.data == b.data).all())


@op
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (the dtype's largest
    and lowest finite values by default); the gradient passes where x is finite, 0 elsewhere."""
    if x.data.dtype.kind != "f":
        return clone(x)
    info = np.finfo(x.data.dtype)
    hi, lo = info.max if posinf is None else posinf, info.min if neginf is None else neginf
    d = x.data
    fill = x.xp.where(x.xp.isnan(d), nan, x.xp.where(d > 0, hi, lo)).astype(d.dtype)
    return where(x.xp.isfinite(d), x, Tensor._wrap(fill, False, None))


@op
def masked_select(x, mask):
    """The elements of x where ``mask`` (a bool tensor broadcast with x) is True, as a 1-d
    tensor in row-major order; the gradient scatter-adds back."""
    m = _data(mask, x)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got {m.dtype}")
    shape = _broadcast_shapes(x.shape, m.shape)
    if x.shape != shape:
        x = expand(x, *shape)
    return S.GetItem.apply(x, index=x.xp.broadcast_to(m, shape))


@op
def select(x, dim, index):
    """x[..., index, ...] along ``dim`` (that dim removed), as torch.select."""
    d = _dim("select", dim, x.ndim)
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dim {dim} of size {n}")
    return S.GetItem.apply(x, index=(slice(None),) * d + (int(index),))


@op(methods=("movedim", "moveaxis"), export=("movedim", "moveaxis"))
def movedim(x, source, destination):
    """x with dims ``source`` (an int or a tuple) moved to ``destination``, the others in
    their order, as torch.movedim."""
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} must name "
                         "as many dims")
    src = [_dim("movedim", d, x.ndim) for d in src]
    dst = [_dim("movedim", d, x.ndim) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dim in {source} or {destination}")
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, *order)


moveaxis = movedim


@op(methods=("swapaxes", "swapdims"), export=("swapaxes", "swapdims"))
def swapaxes(x, axis0, axis1):
    """transpose(x, axis0, axis1) (numpy's name)."""
    return transpose(x, axis0, axis1)


swapdims = swapaxes


@op
def addcmul(x, tensor1, tensor2, *, value=1):
    """x + value * tensor1 * tensor2."""
    return x + tensor1 * tensor2 * value if value != 1 else x + tensor1 * tensor2


@op
def addcdiv(x, tensor1, tensor2, *, value=1):
    """x + value * tensor1 / tensor2."""
    return x + tensor1 / tensor2 * value if value != 1 else x + tensor1 / tensor2


@op
def mm(a, b):
    """The product of two matrices (2-d only, as torch.mm; matmul broadcasts)."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expects two matrices, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


@op
def mv(a, v):
    """A matrix times a vector."""
    if a.ndim != 2 or v.ndim != 1:
        raise ValueError(f"mv: expects a matrix and a vector, got shapes {a.shape} and {v.shape}")
    return matmul(a, v)


@op
def dot(a, b):
    """The dot product of two 1-d tensors of one length."""
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot: expects two 1-d tensors of one length, got shapes {a.shape} "
                         f"and {b.shape}")
    return sum(a * b)


@op(methods=())
def vstack(tensors):
    """cat along dim 0, 1-d tensors as rows first (torch.vstack)."""
    return cat([reshape(t, 1, -1) if t.ndim < 2 else t for t in tensors], 0)


@op(methods=())
def hstack(tensors):
    """cat along dim 1, or dim 0 for 1-d tensors (torch.hstack)."""
    tensors = list(tensors)
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


@op
def unflatten(x, dim, sizes):
    """Dim ``dim`` split into ``sizes`` (one may be -1), as torch.unflatten."""
    d = _dim("unflatten", dim, x.ndim)
    sizes = tuple(sizes)
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != x.shape[d]) or \
            (-1 in sizes and (known == 0 or x.shape[d] % known)):
        raise ValueError(f"unflatten: sizes {sizes} do not fill dim {dim} of size {x.shape[d]}")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


@op
def sinc(x):
    """sin(pi x) / (pi x), and 1 at 0 (where its gradient is 0)."""
    x = _float(x)
    zero = x.data == 0
    px = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, sin(px) / px)


@op
def fmod(a, b):
    """a - trunc(a / b) b, with the sign of the dividend a (C's fmod, torch.fmod; % follows
    the divisor's sign instead)."""
    a, b = (a, _tensor(b, a)) if isinstance(a, Tensor) else (_tensor(a, b), b)
    return a - trunc(a / b) * b if a.data.dtype.kind == "f" or b.data.dtype.kind == "f" else \
        Tensor._wrap(a.xp.fmod(a.data, b.data), False, None)


@op
def frac(x):
    """x - trunc(x): the fractional part, with x's sign (gradient 1)."""
    return x - trunc(x).detach()


@op
def sgn(x):
    """sign(x) (torch.sgn, its complex-aware name)."""
    return sign(x)


@op
def absolute(x):
    return abs(x)


@op
def negative(x):
    return neg(x)


@op(methods=("multiply", "mul"), export=("multiply",))
def multiply(a, b):
    """a * b (torch.multiply; also the method x.mul(b))."""
    return mul(a, b)


@op(methods=("divide", "div", "true_divide"), export=("divide", "true_divide"))
def divide(a, b, *, rounding_mode=None):
    """a / b, or rounded with ``rounding_mode`` 'trunc' or 'floor' (torch.divide; also the
    methods x.div(b), x.true_divide(b))."""
    if rounding_mode is None:
        return div(a, b)
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        a, b = (a, _tensor(b, a)) if isinstance(a, Tensor) else (_tensor(a, b), b)
        if a.data.dtype.kind in "iu" and b.data.dtype.kind in "iu":  # integers stay integers
            if not b.data.all():
                raise ZeroDivisionError("divide: integer division by zero")
            q = a.xp.trunc(a.data / b.data).astype(a.xp.result_type(a.data, b.data))
            return Tensor._wrap(q, False, None)
        return trunc(div(a, b))
    raise ValueError(f"divide: rounding_mode must be None, 'trunc' or 'floor', got "
                     f"{rounding_mode!r}")


true_divide = divide


@op(methods=("subtract", "sub"), export=("subtract",))
def subtract(a, b, *, alpha=1):
    """a - alpha * b (torch.subtract; also the method x.sub(b))."""
    return sub(a, b if alpha == 1 else b * alpha)


@op(methods=("add",), export=False)
def _add_method(a, b, *, alpha=1):
    """x.add(b, alpha=1): x + alpha * b."""
    return add(a, b if alpha == 1 else b * alpha)


@op(methods=())
def is_tensor(obj):
    """Whether obj is a minigrad Tensor."""
    return isinstance(obj, Tensor)


@op
def is_floating_point(x):
    """Whether x's dtype is a float."""
    return x.data.dtype.kind == "f"


# ---------------------------------------------------------------------- in-place versions
# torch's in-place methods, under the rule of Tensor.zero_/fill_/copy_: they record no op, so on
# a tensor that requires grad they need no_grad() (a leaf such as a parameter: an EMA update, an
# init); a backward that saved the old values raises (mark_modified). Each computes the result
# with the op it is named after (its promotion, broadcasting and checks), then writes it into
# the tensor's memory, which keeps its shape and dtype as in torch.
def _inplace(x, what, compute):
    x._check_inplace(what)
    with no_grad():
        y = compute()
    if y.shape != x.shape:
        raise ValueError(f"{what}: the result has shape {y.shape}, the tensor {x.shape}: in place, "
                         "only the other operands broadcast (to the tensor's shape)")
    if _category(y.data.dtype) > _category(x.data.dtype):
        raise TypeError(f"{what}: a {y.dtype} result cannot be written into a {x.dtype} tensor "
                        "(in place the tensor keeps its dtype, and torch casts no float to an "
                        "integer, nor a number to a bool): convert the tensor first")
    x.data[...] = y.data
    mark_modified((x,))
    return x


def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha


@op(export=False)
def add_(x, other, *, alpha=1):
    """x += alpha * other, in place; returns x."""
    return _inplace(x, "add_()", lambda: x + _scaled(other, alpha))


@op(export=False)
def sub_(x, other, *, alpha=1):
    """x -= alpha * other, in place; returns x."""
    return _inplace(x, "sub_()", lambda: x - _scaled(other, alpha))


@op(export=False)
def mul_(x, other):
    return _inplace(x, "mul_()", lambda: x * other)


@op(export=False)
def div_(x, other):
    """x /= other, in place (true division: refused on an integer tensor, as in torch)."""
    return _inplace(x, "div_()", lambda: x / other)


@op(methods=("clamp_", "clip_"), export=False)
def clamp_(x, min=None, max=None):
    return _inplace(x, "clamp_()", lambda: clamp(x, min, max))


@op(export=False)
def lerp_(x, end, weight):
    """x += weight * (end - x), in place (an exponential moving average of weights:
    ``ema.lerp_(p, 1 - decay)``)."""
    return _inplace(x, "lerp_()", lambda: lerp(x, end, weight))


@op(export=False)
def masked_fill_(x, mask, value):
    return _inplace(x, "masked_fill_()", lambda: masked_fill(x, mask, value))


@op(export=False)
def scatter_(x, dim, index, src=None, *, value=None, reduce=None):
    return _inplace(x, "scatter_()", lambda: scatter(x, dim, index, src, value=value,
                                                     reduce=reduce))


@op(export=False)
def scatter_add_(x, dim, index, src):
    return _inplace(x, "scatter_add_()", lambda: scatter_add(x, dim, index, src))


@op(export=False)
def index_add_(x, dim, index, source, *, alpha=1):
    return _inplace(x, "index_add_()", lambda: index_add(x, dim, index, source, alpha=alpha))


def _random_fill(x, what, draw):
    if x.data.dtype.kind != "f":
        raise TypeError(f"{what}: needs a floating-point tensor, got {x.dtype}")
    return _inplace(x, what, draw)


@op(export=False)
def uniform_(x, a=0.0, b=1.0, *, generator=None):
    """Fill with samples of U(a, b) from minigrad's generator (``manual_seed`` makes them
    reproducible; torch calls a and b ``from`` and ``to``); returns x. The draws are
    ``minigrad.rand``'s, not ``nn.init.uniform_``'s (which draws float64 on the host, the stream
    every published figure was made with), so the two differ for one seed, unlike torch's."""
    _no_generator("uniform_", generator)
    if not a <= b:
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    return _random_fill(x, "uniform_()", lambda: creation.rand(
        *x.shape, dtype=x.dtype, device=x.device) * (b - a) + a)


@op(export=False)
def normal_(x, mean=0.0, std=1.0, *, generator=None):
    """Fill with samples of N(mean, std^2) from minigrad's generator, the draws of
    ``minigrad.randn`` (``manual_seed`` makes them reproducible); returns x. Not the draws of
    ``nn.init.normal_`` (see ``uniform_``)."""
    _no_generator("normal_", generator)
    if not std >= 0:
        raise ValueError(f"normal_: expects std >= 0, got {std}")
    return _random_fill(x, "normal_()", lambda: creation.randn(
        *x.shape, dtype=x.dtype, device=x.device) * std + mean)


def _no_generator(op, generator):
    if generator is not None:
        raise NotImplementedError(f"{op}: generator= is not supported; minigrad has one "
                                  "generator per device, seeded by minigrad.manual_seed")
