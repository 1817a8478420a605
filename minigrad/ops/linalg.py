"""Linear algebra on batches of square matrices: inverse, determinant (and its gradient, the
cofactor matrix), sign and log of the determinant, linear solves and the Cholesky factor. Each
forward calls LAPACK through ``self.xp.linalg`` (numpy or cupy); each backward is written in
Tensor ops, these Functions included, so every gradient is differentiable again.

Notation: A (..., n, n) a batch of square matrices, B and X (..., n, k); ``.mT`` swaps the last
two dims; <G, H> = sum(G * H) over the last two dims; cof(A) = adj(A)^T, the matrix of cofactors,
which is d det(A) / dA (det(A) A^{-T} where A is invertible).
"""
from __future__ import annotations

import numpy as np

from minigrad.autograd.function import Function
from minigrad.ops.shape import Concat


class LinAlgError(RuntimeError):
    """A matrix is singular or not positive-definite: torch.linalg.LinAlgError (a RuntimeError,
    as there)."""


# ------------------------------------------------------------------------------ helpers
def _blew_up(xp, a, y):
    """Per matrix of the batch: y has a NaN or inf although a has none (CuPy reports no LAPACK
    failure by default: a singular matrix just gives inf and NaN)."""
    lead = a.shape[:-2]
    flat = (int(np.prod(lead)), -1)  # NOTE: reshape(lead + (-1,)) fails on empty batches
    fine_a = xp.isfinite(a).reshape(flat).all(1)
    fine_y = xp.isfinite(y).reshape(flat).all(1)
    return (fine_a & ~fine_y).reshape(lead)


def _lapack(xp, fn, op, what, a, *rest):
    """``fn(a, *rest)``, a numpy.linalg / cupy.linalg routine on a batch of matrices; a
    LinAlgError ``op: what`` (naming the failing batch element, as torch) where it fails, or
    where it gives NaN or inf for a finite input. NOTE: the check reads one bool back to the
    host, a synchronisation on a GPU, as torch's linalg functions make to report the same."""
    try:
        y = fn(a, *rest)
    except np.linalg.LinAlgError:  # NumPy's, which is also CuPy's class
        y = None
    if y is not None and (a.size == 0 or not bool(_blew_up(xp, a, y).any())):
        return y
    raise LinAlgError(f"{op}: {_failing_element(xp, fn, a, rest)}{what}")


def _failing_element(xp, fn, a, rest):
    """'(Batch element k): ' for the first matrix ``fn`` fails on ('' for one matrix); only ever
    run to word an error."""
    if a.ndim == 2:
        return ""
    n = a.shape[-2:]
    flat_a = a.reshape((-1,) + n)
    flat_rest = [r.reshape((-1,) + r.shape[-2:]) for r in rest]
    for k in range(flat_a.shape[0]):
        try:
            y = fn(flat_a[k], *(r[k] for r in flat_rest))
        except np.linalg.LinAlgError:
            return f"(Batch element {k}): "
        if bool(_blew_up(xp, flat_a[k], y)):
            return f"(Batch element {k}): "
    return ""


def _quiet():
    """IEEE results without NumPy's RuntimeWarnings (a NaN matrix's det), as in torch; the
    warnings minigrad's own modules raise are filtered once (minigrad/__init__.py), these come
    from numpy.linalg's."""
    return np.errstate(invalid="ignore", divide="ignore", over="ignore")


def _matrices(t, n):
    """t (..., n, n) as (batch, n, n): a 2-d t is a batch of one."""
    return t.reshape(-1, n, n)


_SINGULAR = "The input matrix is singular, so it has no inverse."


# ------------------------------------------------------------------------------ inverse
class Inv(Function):
    """Y = A^{-1}; gA = -Y^T gY Y^T, with Y the output (a Tensor, so its own gradient flows at
    the next order)."""

    def forward(self, a, op="linalg.inv", what=_SINGULAR):
        return _lapack(self.xp, self.xp.linalg.inv, op, what, a)

    def backward(self, gy):
        yt = self.output.mT
        return -(yt @ gy @ yt)


class Solve(Function):
    """X = A^{-1} B for A (..., n, n) and B (..., n, k) of one batch shape (the wrapper broadcasts
    them); gB = A^{-T} gX (a solve with A^T), gA = -gB X^T."""

    def forward(self, a, b):
        return _lapack(self.xp, self.xp.linalg.solve, "linalg.solve",
                       "The solver failed because the input matrix is singular.", a, b)

    def backward(self, gx):
        a = self.inputs[0]
        need_a, need_b = self.needs_input_grad
        gb = Solve.apply(a.mT, gx)
        ga = -(gb @ self.output.mT) if need_a else None
        return ga, gb if need_b else None


# -------------------------------------------------------------------------- determinant
class Det(Function):
    """y = det(A) (1 for a 0 x 0 matrix); gA = gy cof(A), the matrix of cofactors (``Cofactors``:
    exact at a singular A too, where det(A) A^{-T} would be 0 times infinity)."""

    def forward(self, a):
        with _quiet():
            return self.xp.linalg.det(a)

    def backward(self, gy):
        return gy.reshape(gy.shape + (1, 1)) * Cofactors.apply(self.inputs[0])


def _frobenius(xp, a):
    return xp.sqrt((a * a).sum((-2, -1)))


def _cofactors_svd(xp, a):
    """cof(A) for any A, singular included: with A = U diag(s) V^T,
    cof(A) = det(U) det(V) U diag(p) V^T where p_i = prod_{j != i} s_j (cof is multiplicative,
    cof(U) = det(U) U for an orthogonal U), torch's formula for singular matrices. The products
    leaving one factor out come from running products from both ends: no division by s_i = 0."""
    u, s, vh = xp.linalg.svd(a)
    one = xp.ones_like(s[..., :1])
    before = xp.cumprod(xp.concatenate([one, s[..., :-1]], -1), -1)          # prod_{j < i} s_j
    after = xp.cumprod(xp.concatenate([one, s[..., :0:-1]], -1), -1)[..., ::-1]  # prod_{j > i}
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((u * (before * after)[..., None, :]) @ vh)


class Cofactors(Function):
    """C = cof(A), the gradient of det: det(A) A^{-T} where A is well-conditioned, else (cond(A)
    > eps^{-1/3}, singular A included) through the SVD (``_cofactors_svd``), exact at singular A.

    With H the incoming gradient, gA = d<H, cof(A)>/dA (the second derivative of det), and gH is
    cof(A) itself (the map is linear in H), which autograd finds through the expressions below:
    - A well-conditioned: gA = (<H, C> C - C H^T C) / det(A)
      (from d(det A A^{-T}) = det A tr(A^{-1} dA) A^{-T} - det A A^{-T} dA^T A^{-T});
    - A ill-conditioned, where that divides ~0 by ~0: det is linear in each row, so
      <H, cof(A)> = sum_i det(A with row i replaced by H's row i) =: sum_i det(B_i), and
      gA = sum_i (1 - R_i) * cof(B_i), R_i the indicator of row i (B_i holds A's other rows).
      No division: exact at any A, for n times the work, so only used where needed. The B_i
      are rarely near singular themselves; where they are, the next order recurses the same way.
    C and det(A) are Tensors (C this node's output), so every order is differentiable again.
    """

    def forward(self, a):
        xp = self.xp
        with _quiet():
            det = xp.linalg.det(a)
        # A^{-1} where det(A) != 0 (then LAPACK's LU, the same as det's, meets no zero pivot)
        invertible = (det != 0) & xp.isfinite(det)
        if invertible.all():  # NOTE: one bool read back; torch's det backward reads one too
            inv = xp.linalg.inv(a)
        else:
            inv = xp.full_like(a, xp.nan)
            inv[invertible] = xp.linalg.inv(a[invertible])
        c = det[..., None, None] * inv.swapaxes(-1, -2)
        # NOTE: a raw mask of which formula runs: either is exact, so it is a constant to every
        # order. Where A is ill-conditioned (or singular) the formulas that use A^{-1} or divide
        # by det(A) lose about log10(cond) digits: past a third of them, the SVD's instead.
        cond = _frobenius(xp, a) * _frobenius(xp, inv)  # NaN where there is no inverse
        finite = xp.isfinite(a).all((-2, -1))            # (a NaN matrix has NaN cofactors)
        self.near = near = ~(cond <= np.finfo(a.dtype).eps ** (-1 / 3)) & finite
        if near.any():
            c[near] = _cofactors_svd(xp, a[near])
        return c

    def backward(self, h):
        a = self.inputs[0]
        xp, n = self.xp, a.shape[-1]
        near = self.near.reshape(-1)
        a2, h2, c2 = _matrices(a, n), _matrices(h, n), _matrices(self.output, n)
        if not near.any():
            g = _cofactors_grad_invertible(a2, h2, c2)
        elif near.all():
            g = _cofactors_grad_by_rows(a2, h2)
        else:  # each formula on its own matrices, then back in order
            far_i, near_i = xp.flatnonzero(~near), xp.flatnonzero(near)
            g = Concat.apply(_cofactors_grad_invertible(a2[far_i], h2[far_i], c2[far_i]),
                             _cofactors_grad_by_rows(a2[near_i], h2[near_i]), axis=0)
            g = g[xp.argsort(xp.concatenate([far_i, near_i]))]
        return g.reshape(a.shape)


def _cofactors_grad_invertible(a, h, c):
    """(<H, C> C - C H^T C) / det(A) for invertible A (batch, n, n)."""
    det = Det.apply(a).reshape(-1, 1, 1)
    inner = (h * c).sum((-2, -1), keepdim=True)
    return (inner * c - c @ h.mT @ c) / det


def _cofactors_grad_by_rows(a, h):
    """sum_i (1 - R_i) * cof(A + R_i (H - A)) for A, H (batch, n, n): see Cofactors."""
    n = a.shape[-1]
    xp = a.xp
    rows = xp.broadcast_to(xp.eye(n, dtype=a.dtype)[:, :, None], (n, n, n))  # (i, n, n): R_i
    r, others = a._wrap(rows, False, None), a._wrap(1 - rows, False, None)
    b = a.reshape(-1, 1, n, n) + r * (h - a).reshape(-1, 1, n, n)  # (batch, i, n, n): B_i
    return (others * Cofactors.apply(b)).sum(1)


class Slogdet(Function):
    """y = stack(sign(det A), log|det A|) along a new first dim (one LAPACK call for both; the
    wrapper splits them); gA = gy[1] A^{-T}. The sign is piecewise constant: its gradient is 0,
    as torch's for real A. At a singular A, log|det A| = -inf has no gradient: the inverse in
    the backward raises (torch's create_graph backward raises too; its other backward gives inf)."""

    def forward(self, a):
        with _quiet():
            sign, logabsdet = self.xp.linalg.slogdet(a)
        return self.xp.stack([sign, logabsdet])

    def backward(self, gy):
        g = gy[1]
        inv = Inv.apply(self.inputs[0], op="the gradient of linalg.slogdet",
                        what=_SINGULAR + " log|det A| is -inf there, with no finite gradient.")
        return g.reshape(g.shape + (1, 1)) * inv.mT


# ---------------------------------------------------------------------------- Cholesky
class Cholesky(Function):
    """L = cholesky(A), lower triangular with L L^T = A, for a symmetric positive-definite A (its
    lower triangle is what is read, as LAPACK and torch read it);
    gA = L^{-T} S L^{-1}, S = (P + tril(P, -1)^T) / 2, P = tril(L^T gL): Murray (2016),
    arXiv:1602.07527, in torch's form; symmetric, as the gradient of a function of a symmetric
    matrix. L is the output and L^{-1} an Inv, so the next order differentiates through both."""

    def forward(self, a):
        return _lapack(self.xp, self.xp.linalg.cholesky, "linalg.cholesky",
                       "The factorization could not be completed because the input is not "
                       "positive-definite.", a)

    def backward(self, gl):
        l = self.output
        p = (l.mT @ gl).tril()
        s = (p + p.tril(-1).mT) * 0.5
        li = Inv.apply(l, op="the gradient of linalg.cholesky")
        return li.mT @ s @ li
