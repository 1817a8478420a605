"""``minigrad.linalg``: torch.linalg's names and semantics for the common cases::

    A = minigrad.randn(4, 3, 3, dtype="float64", requires_grad=True)   # a batch of 4 matrices
    minigrad.linalg.det(A)                       # (4,); its gradient is the cofactor matrix
    sign, logabsdet = minigrad.linalg.slogdet(A)
    X = minigrad.linalg.solve(A, B)              # A X = B, for B (4, 3) or (..., 3, k)
    minigrad.linalg.vector_norm(x, ord=3, dim=-1), minigrad.linalg.matrix_norm(A, ord=1)

Every function works on batches over the leading dims and is differentiable to any order: the
primitives are in ``minigrad/ops/linalg.py`` (inv, det, slogdet, solve, cholesky), the norms are
compositions. The matrix functions take float32 or float64 tensors (LAPACK's real types); a
singular (or, for cholesky, not positive-definite) input raises ``LinAlgError``, a RuntimeError,
as torch's. Top-level aliases, as in torch: ``minigrad.inverse``, ``det``, ``logdet``,
``slogdet``, and the methods ``x.inverse()``, ``x.det()``, ``x.logdet()``, ``x.slogdet()``.

Not here: svd, svdvals, eig, eigh and what is built on them (matrix_norm's 'nuc', 2 and -2,
pinv, matrix_rank, cond), qr, lstsq, the *_ex variants.
"""
from __future__ import annotations

import collections
import math
import numbers

import numpy as np

from minigrad import functional as F
from minigrad.ops.linalg import Cholesky, Det, Inv, LinAlgError, Slogdet, Solve
from minigrad.tensor import Tensor, _dim

__all__ = ["LinAlgError", "inv", "det", "slogdet", "solve", "cholesky", "vector_norm",
           "matrix_norm", "norm"]

#: torch.return_types.linalg_slogdet: ``sign, logabsdet = slogdet(A)`` or ``.sign``, ``.logabsdet``
SlogdetResult = collections.namedtuple("SlogdetResult", ["sign", "logabsdet"])

_LAPACK_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ------------------------------------------------------------------------------ checks
def _tensor_arg(op, x, name="A"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def _matrix(op, a, name="A"):
    """Check that ``a`` is a float32/float64 tensor of (batches of) square matrices."""
    _tensor_arg(op, a, name)
    if a.data.dtype not in _LAPACK_TYPES:
        raise TypeError(f"{op}: expected a float32 or float64 tensor as input (LAPACK's real "
                        f"types), got {a.dtype}" + (": convert it first, A.double()"
                                                    if a.data.dtype.kind in "biu" else ""))
    if a.ndim < 2:
        raise ValueError(f"{op}: The input tensor {name} must have at least 2 dimensions, got "
                         f"shape {a.shape}")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{op}: {name} must be batches of square matrices, but they are "
                         f"{a.shape[-2]} by {a.shape[-1]} matrices")


def _floating(op, x):
    _tensor_arg(op, x, "x")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor as input, got {x.dtype}: "
                        "convert it first, x.float()")


# ---------------------------------------------------------------------- inverse, det, solve
def inv(A: Tensor) -> Tensor:
    """A^{-1} for A (..., n, n); LinAlgError where a matrix is singular.
    Gradient: -A^{-T} gY A^{-T}."""
    _matrix("linalg.inv", A)
    return Inv.apply(A)


def det(A: Tensor) -> Tensor:
    """det(A), shape (...) for A (..., n, n). Its gradient is the cofactor matrix
    (det(A) A^{-T} where A is invertible), exact at singular matrices too, and so are the
    gradients of every higher order (``ops/linalg.py``: Cofactors)."""
    _matrix("linalg.det", A)
    return Det.apply(A)


def slogdet(A: Tensor) -> SlogdetResult:
    """(sign, logabsdet): det(A) = sign * exp(logabsdet), without overflow or underflow; sign is
    -1, 0 or 1 (gradient 0), logabsdet -inf for a singular A (where it has no gradient: the
    backward raises LinAlgError). Gradient of logabsdet: A^{-T}."""
    _matrix("linalg.slogdet", A)
    both = Slogdet.apply(A)
    return SlogdetResult(both[0], both[1])


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B (``left=False``: X A = B), as torch.linalg.solve.

    A is (*, n, n); B is a batch of vectors (*, n) when it is 1-d or has exactly A's shape
    without its last dim, otherwise a batch of matrices (*, n, k); the batch dims of A and B
    broadcast. A vector B with ``left=False`` is refused, as in torch. Operands of two float
    dtypes are promoted (torch refuses them). Gradients: gB = A^{-T} gX, gA = -gB X^T.
    """
    _matrix("linalg.solve", A)
    _tensor_arg("linalg.solve", B, "B")
    if B.data.dtype.kind != "f":
        raise TypeError(f"linalg.solve: expected a floating-point B, got {B.dtype}")
    if B.ndim == 0:
        raise ValueError("linalg.solve: B must have at least 1 dimension, got a 0-d tensor")
    if A.data.dtype != B.data.dtype:
        A, B = F._promote(A, B)
    n = A.shape[-1]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if vector:
        B = F.unsqueeze(B, -1)
    if B.shape[-2 if left else -1] != n:
        raise ValueError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                         f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                         f"{B.shape[-2]}x{B.shape[-1]})")
    if not left:  # X A = B  <=>  A^T X^T = B^T
        A, B = A.mT, B.mT
    try:
        batch = F._broadcast_shapes(A.shape[:-2], B.shape[:-2])
    except ValueError:
        raise ValueError(f"linalg.solve: the batch dims of A {A.shape[:-2]} and B "
                         f"{B.shape[:-2]} cannot be broadcast together") from None
    if A.shape[:-2] != batch:
        A = F.expand(A, *batch, n, n)
    if B.shape[:-2] != batch:
        B = F.expand(B, *batch, *B.shape[-2:])
    X = Solve.apply(A, B)
    if not left:
        X = X.mT
    return F.squeeze(X, -1) if vector else X


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor L (lower triangular, L L^T = A) of a symmetric positive-definite A
    (..., n, n); ``upper=True`` gives U = L^T (U^T U = A). Only A's lower triangle is read, as in
    torch, and the gradient is symmetric, as torch's (Murray 2016). LinAlgError where A is not
    positive-definite."""
    _matrix("linalg.cholesky", A)
    L = Cholesky.apply(A)
    return L.mT if upper else L


# -------------------------------------------------------------------------------- norms
def _order(op, ord):
    if isinstance(ord, (bool, np.bool_)) or not isinstance(ord, numbers.Real) or \
            math.isnan(ord):
        raise TypeError(f"{op}: ord must be a real number, got {ord!r}")
    return float(ord)


def _root(s, p):
    """s ** (1 / p) for sums s >= 0, with value and gradient 0 where s = 0 (not 0 ** -x = inf
    times 0), as torch's norms."""
    positive = s.data > 0
    return F.where(positive, F.where(positive, s, 1.0) ** (1.0 / p), 0.0)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The ord-norm of x over ``dim`` (int or tuple; None: all elements), as
    torch.linalg.vector_norm: inf max|x|, -inf min|x|, 0 the number of nonzeros, any other p
    (sum |x|^p)^(1/p). Gradients are torch's: 0 at a norm of 0, 0 at zero entries for p < 1,
    split evenly between ties for +-inf. ``dtype`` computes in that float dtype (no narrowing).
    """
    op = "linalg.vector_norm"
    _floating(op, x)
    p = _order(op, ord)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{op}: dtype should be floating point, got {dtype}")
        if not np.can_cast(x.data.dtype, dtype, "safe"):
            raise TypeError(f"{op}: the dtype of the input ({x.dtype}) should be convertible "
                            f"without narrowing to the specified dtype ({dtype})")
        x = F.to(x, dtype=dtype)
    if x.data.size == 0 and (p < 0 or p == math.inf):  # max or min over nothing: as torch
        axes = F._axes(op, dim, x.ndim)
        if axes is None or any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{op} cannot compute the {ord} norm on an empty tensor because "
                             "the operation does not have an identity")
    if p == 0:  # counts nonzeros: gradient 0, but connected to x as torch's output is
        nonzero = x.data != 0
        return F.sum(F.where(nonzero, 1.0, x * 0.0), dim, keepdim)
    ax = F.abs(x)
    if math.isinf(p):
        return (F.amax if p > 0 else F.amin)(ax, dim, keepdim)
    if p == 1:
        return F.sum(ax, dim, keepdim)
    if p == 2:
        return _root(F.sum(x * x, dim, keepdim), 2)
    if p < 1:  # |x|^(p-1) is infinite at 0: torch's gradient is 0 there
        nonzero = ax.data > 0
        powers = F.where(nonzero, F.where(nonzero, ax, 1.0) ** p, math.inf if p < 0 else 0.0)
    else:
        powers = ax ** p
    return _root(F.sum(powers, dim, keepdim), p)


def _two_dims(op, dim, ndim):
    try:
        d0, d1 = dim
    except (TypeError, ValueError):
        raise ValueError(f"{op}: dim must be a 2-tuple, got {dim!r}") from None
    d0, d1 = _dim(op, d0, ndim), _dim(op, d1, ndim)
    if d0 == d1:
        raise ValueError(f"{op}: dims must be different, got {dim!r}")
    return d0, d1


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """The ord-norm of the matrices in the two dims ``dim``, as torch.linalg.matrix_norm:
    'fro' sqrt(sum a_ij^2); 1 / -1 the largest / smallest column sum of |a_ij|; inf / -inf the
    largest / smallest row sum. 'nuc', 2 and -2 need singular values (not here)."""
    op = "linalg.matrix_norm"
    _floating(op, A)
    if A.ndim < 2:
        raise ValueError(f"{op}: The input tensor A must have at least 2 dimensions, got shape "
                         f"{A.shape}")
    d0, d1 = _two_dims(op, dim, A.ndim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim, dtype=dtype)
    if ord == "nuc" or (not isinstance(ord, str) and ord in (2, -2)):
        raise NotImplementedError(f"{op}: ord={ord!r} needs singular values, whose gradient "
                                  "minigrad does not have (no differentiable SVD)")
    if isinstance(ord, str) or _order(op, ord) not in (1, -1, math.inf, -math.inf):
        raise ValueError(f"{op}: Order {ord} not supported (use 'fro', 1, -1, inf or -inf)")
    if math.isinf(ord):  # row sums, then across rows
        d0, d1 = d1, d0
    sums = vector_norm(A, 1, d0, keepdim=True, dtype=dtype)  # column sums of |A| (ord +-1)
    if sums.shape[d1] == 0:  # torch: the largest of no sums is 0, the smallest is an error
        if ord < 0:
            raise ValueError(f"{op}: cannot compute the {ord} norm of matrices of shape "
                             f"{A.shape[d0], A.shape[d1]}: the minimum over no sums")
        y = F.sum(sums, d1, keepdim=True)
    else:
        y = (F.amax if ord > 0 else F.amin)(sums, d1, keepdim=True)
    return y if keepdim else F.reshape(y, tuple(n for i, n in enumerate(y.shape)
                                                 if i not in (d0, d1)))


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.norm: a matrix norm when ``dim`` names two dims (or, with ``ord`` given and
    no ``dim``, for a 2-d A), a vector norm otherwise; ord None is the 2-norm of the flattened
    input or the Frobenius norm."""
    op = "linalg.norm"
    _floating(op, A)
    if dim is not None:
        dim = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        if len(dim) not in (1, 2):
            raise ValueError(f"{op}: If dim is specified, it must be of length 1 or 2. Got "
                             f"{list(dim)}")
    elif ord is not None and A.ndim not in (1, 2):
        raise ValueError(f"{op}: If dim is not specified but ord is, the input must be 1D or "
                         f"2D. Got {A.ndim}D.")
    if isinstance(ord, str) or (ord is not None and (len(dim) == 2 if dim is not None
                                                      else A.ndim == 2)):
        return matrix_norm(A, ord, dim if dim is not None else (0, 1), keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
