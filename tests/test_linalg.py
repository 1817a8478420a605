"""minigrad.linalg beyond the op table (tests/op_specs.py runs gradcheck, gradgradcheck, float32
and torch parity on small well-conditioned matrices): batched and empty shapes, slogdet's sign,
logdet's NaN, solve's broadcasting, the norms' orders and dims, the error messages, gradients
against torch on larger batches, and det's gradients at singular matrices, checked against an
exact polynomial (the Leibniz formula, differentiated by torch) to the third order."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import minigrad
from minigrad import linalg as LA

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def mg(a, requires_grad=True):
    return minigrad.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def th(a, requires_grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def well_conditioned(rng, *shape):
    """Random matrices (*shape, n, n) with singular values in [1, 3]: cond <= 3."""
    n = shape[-1]
    q1 = np.linalg.qr(rng.standard_normal(shape))[0]
    q2 = np.linalg.qr(rng.standard_normal(shape))[0]
    s = rng.uniform(1.0, 3.0, shape[:-1])
    return q1 @ (s[..., :, None] * q2) * np.where(rng.random(shape[:-2] + (1, 1)) < 0.5, 1, -1) \
        if n else np.zeros(shape)


def derivatives(lib, fn, arrays, seed=0):
    """fn's outputs, v-weighted first derivatives and w-weighted second derivatives w.r.t. the
    inputs, as float64 numpy (a gradient that does not reach an input: zeros), computed by
    minigrad (lib=minigrad) or torch (lib=torch)."""
    rng = np.random.default_rng(seed)
    if lib is minigrad:
        make, grad, shape = mg, minigrad.grad, lambda t: t.shape
        numpy = lambda t: t.numpy()  # noqa: E731
    else:
        make, grad, shape = th, torch.autograd.grad, lambda t: tuple(t.shape)
        numpy = lambda t: t.detach().numpy(force=True)  # noqa: E731  (force: a ZeroTensor)
    xs = [make(a) for a in arrays]
    outs = fn(*xs)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    vs = [make(rng.standard_normal(shape(o)), False) for o in outs]
    g1 = grad(outs, xs, vs, create_graph=True, allow_unused=True)
    ws = [make(rng.standard_normal(shape(x)), False) for x in xs]
    terms = [(g * w).sum() for g, w in zip(g1, ws) if g is not None and g.requires_grad]
    g2 = grad(sum(terms[1:], terms[0]), xs, allow_unused=True) if terms else [None] * len(xs)

    def dense(gs):
        return [np.zeros(shape(x)) if g is None else numpy(g) for g, x in zip(gs, xs)]
    return [numpy(o) for o in outs], dense(g1), dense(g2)


def assert_same(got, want, rtol=1e-9, atol=1e-10):
    for kind, a_list, b_list in zip(("output", "first derivative", "second derivative"),
                                    got, want):
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            assert np.shape(a) == np.shape(b), f"{kind} {i}: shape {np.shape(a)} != {np.shape(b)}"
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{kind} {i}")


# ------------------------------------------------------------ batched shapes, against torch
BATCHES = [(), (3,), (2, 3)]


@pytest.mark.parametrize("batch", BATCHES, ids=str)
def test_inv_det_slogdet_cholesky_batched_match_torch_to_second_order(batch):
    rng = np.random.default_rng(1)
    a = well_conditioned(rng, *batch, 4, 4)
    spd = a @ np.swapaxes(a, -1, -2)
    cases = [
        (lambda A: LA.inv(A), lambda A: torch.linalg.inv(A), a),
        (lambda A: LA.det(A), lambda A: torch.linalg.det(A), a),
        (lambda A: tuple(LA.slogdet(A)), lambda A: tuple(torch.linalg.slogdet(A)), a),
        (lambda A: minigrad.logdet(A), lambda A: torch.logdet(A), spd),
        (lambda A: LA.cholesky(A), lambda A: torch.linalg.cholesky(A), spd),
        (lambda A: LA.cholesky(A, upper=True), lambda A: torch.linalg.cholesky(A, upper=True),
         spd),
    ]
    for ours, theirs, x in cases:
        assert_same(derivatives(minigrad, ours, [x]), derivatives(torch, theirs, [x]))


def test_float32_results_and_gradients_stay_float32_and_match_torch():
    rng = np.random.default_rng(2)
    a = well_conditioned(rng, 2, 4, 4).astype(np.float32)
    b = rng.standard_normal((2, 4, 3)).astype(np.float32)
    for name, fn in [("inv", lambda A, B: LA.inv(A)), ("det", lambda A, B: LA.det(A)),
                     ("solve", lambda A, B: LA.solve(A, B)),
                     ("slogdet", lambda A, B: LA.slogdet(A).logabsdet),
                     ("cholesky", lambda A, B: LA.cholesky(A @ A.mT)),
                     ("matrix_norm", lambda A, B: LA.matrix_norm(A, 1)),
                     ("norm", lambda A, B: LA.norm(B, math.inf, dim=-1))]:
        A = minigrad.tensor(a, requires_grad=True)
        B = minigrad.tensor(b, requires_grad=True)
        y = fn(A, B)
        assert y.dtype == np.float32, name
        gA, gB = minigrad.grad(y.sum(), [A, B], create_graph=True, allow_unused=True)
        for g in (gA, gB):
            assert g is None or g.dtype == np.float32, name
        tA, tB = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        ty = {"inv": lambda: torch.linalg.inv(tA), "det": lambda: torch.linalg.det(tA),
              "solve": lambda: torch.linalg.solve(tA, tB),
              "slogdet": lambda: torch.linalg.slogdet(tA).logabsdet,
              "cholesky": lambda: torch.linalg.cholesky(tA @ tA.mT),
              "matrix_norm": lambda: torch.linalg.matrix_norm(tA, 1),
              "norm": lambda: torch.linalg.norm(tB, math.inf, dim=-1)}[name]()
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=2e-5, atol=2e-5,
                                   err_msg=name)


def test_empty_batches_and_empty_matrices_follow_torch():
    for shape in [(0, 3, 3), (2, 0, 0), (0, 0)]:
        a = np.zeros(shape)
        A, tA = mg(a), th(a)
        assert LA.inv(A).shape == tuple(torch.linalg.inv(tA).shape)
        np.testing.assert_array_equal(LA.det(A).numpy(), torch.linalg.det(tA).detach().numpy())
        sign, logabsdet = LA.slogdet(A)
        tsign, tlog = torch.linalg.slogdet(tA)
        np.testing.assert_array_equal(sign.numpy(), tsign.detach().numpy())
        np.testing.assert_array_equal(logabsdet.numpy(), tlog.detach().numpy())
        g, = minigrad.grad(LA.det(A).sum(), A)
        assert g.shape == shape


# -------------------------------------------------------------------- slogdet and logdet
def test_slogdet_sign_and_a_determinant_beyond_float_range():
    rng = np.random.default_rng(3)
    a = well_conditioned(rng, 5, 3, 3)
    sign, logabsdet = LA.slogdet(mg(a))
    np.testing.assert_array_equal(sign.numpy(), np.sign(np.linalg.det(a)))
    assert set(sign.numpy()) == {-1.0, 1.0}  # both signs were drawn
    np.testing.assert_allclose(logabsdet.numpy(), np.log(np.abs(np.linalg.det(a))), rtol=1e-12)
    # 0.1 I of size 400: det = 1e-400 underflows, slogdet does not
    big = 0.1 * np.eye(400)
    big[0, 0] = -0.1
    assert LA.det(mg(big)).item() == 0.0
    s, l = LA.slogdet(mg(big))
    assert s.item() == -1.0 and l.item() == pytest.approx(400 * math.log(0.1), rel=1e-12)
    # a singular matrix: sign 0, log|det| = -inf, as torch
    s, l = minigrad.slogdet(mg([[1.0, 2.0], [2.0, 4.0]]))
    ts, tl = torch.slogdet(th([[1.0, 2.0], [2.0, 4.0]]))
    assert (s.item(), l.item()) == (ts.item(), tl.item()) == (0.0, -math.inf)
    # the result is a named tuple, as torch's
    res = mg(a).slogdet()
    assert res.sign is res[0] and res.logabsdet is res[1]


def test_slogdet_sign_has_zero_gradient_and_requires_grad():
    A = mg([[0.0, 2.0], [1.0, 0.5]])
    sign, _ = LA.slogdet(A)
    assert sign.requires_grad and sign.item() == -1.0
    g, = minigrad.grad(sign, A)
    np.testing.assert_array_equal(g.numpy(), np.zeros((2, 2)))


def test_logdet_negative_determinant_is_nan_with_torchs_zero_gradient():
    a = np.array([[[0.0, 1.0], [1.0, 0.0]], [[2.0, 1.0], [1.0, 3.0]]])  # det -1 and 5
    A, tA = mg(a), th(a)
    y, ty = minigrad.logdet(A), torch.logdet(tA)
    assert math.isnan(y.numpy()[0]) and y.numpy()[1] == pytest.approx(math.log(5))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    g, = minigrad.grad(y.sum(), A)
    tg, = torch.autograd.grad(ty.sum(), tA)
    np.testing.assert_array_equal(g.numpy()[0], np.zeros((2, 2)))
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
    assert A.logdet().numpy()[1] == y.numpy()[1]


def test_logdet_of_a_singular_matrix_is_minus_inf_and_its_gradient_raises():
    A = mg([[1.0, 2.0], [2.0, 4.0]])
    y = minigrad.logdet(A)
    assert y.item() == -math.inf == torch.logdet(th([[1.0, 2.0], [2.0, 4.0]])).item()
    # torch's plain backward gives +-inf, its create_graph backward raises; minigrad raises
    with pytest.raises(LA.LinAlgError, match="slogdet.*singular.*-inf"):
        y.backward()


# ------------------------------------------------------------------------------- solve
SOLVE_SHAPES = [  # (A, B, left)
    ((3, 3), (3,), True), ((3, 3), (3, 2), True), ((3, 3), (4, 3, 2), True),
    ((2, 3, 3), (3,), True), ((2, 3, 3), (2, 3), True), ((2, 3, 3), (3, 4), True),
    ((2, 3, 3), (1, 3, 4), True), ((2, 3, 3), (5, 2, 3, 4), True), ((2, 3, 3), (5, 1, 3, 3), True),
    ((2, 3, 3), (2, 3, 1), True), ((4, 1, 3, 3), (2, 3, 2), True), ((1, 3, 3), (4, 3, 1), True),
    ((3, 3), (4, 3), False), ((2, 3, 3), (2, 5, 3), False), ((2, 1, 3, 3), (4, 2, 3), False),
]


@pytest.mark.parametrize("a_shape,b_shape,left", SOLVE_SHAPES, ids=str)
def test_solve_broadcasting_matches_torch_to_second_order(a_shape, b_shape, left):
    rng = np.random.default_rng(4)
    a = well_conditioned(rng, *a_shape)
    b = rng.standard_normal(b_shape)
    got = derivatives(minigrad, lambda A, B: LA.solve(A, B, left=left), [a, b])
    want = derivatives(torch, lambda A, B: torch.linalg.solve(A, B, left=left), [a, b])
    assert_same(got, want)


@pytest.mark.parametrize("a_shape,b_shape,left", [
    ((3, 3), (4, 3), True), ((2, 3, 3), (1, 2, 3), True), ((4, 2, 3, 3), (4, 1, 3), True),
    ((3, 3), (3,), False), ((3, 3), (3, 4), False), ((2, 3, 3), (3, 3, 2), True)], ids=str)
def test_solve_refuses_what_torch_refuses(a_shape, b_shape, left):
    a, b = np.eye(a_shape[-1]) + np.zeros(a_shape), np.ones(b_shape)
    with pytest.raises(RuntimeError):
        torch.linalg.solve(th(a), th(b), left=left)
    with pytest.raises(ValueError, match="linalg.solve: (Incompatible shapes|the batch dims)"):
        LA.solve(mg(a), mg(b), left=left)


def test_solve_promotes_float32_with_float64():
    A = minigrad.tensor(np.eye(2, dtype=np.float32) * 2)
    B = minigrad.tensor(np.ones(2))
    X = LA.solve(A, B)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(X.numpy(), [0.5, 0.5])


# ------------------------------------------------------------------------------- norms
VECTOR_ORDS = [2, 1, 3, 0.5, 1.5, -1, -0.5, 0, math.inf, -math.inf]
VECTOR_DIMS = [None, 0, -1, (0, 2), (-1, 1), ()]


@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
@pytest.mark.parametrize("dim", VECTOR_DIMS, ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_vector_norm_orders_and_dims_match_torch_to_second_order(ord, dim, keepdim):
    x = np.random.default_rng(5).standard_normal((3, 2, 4))
    got = derivatives(minigrad, lambda t: LA.vector_norm(t, ord, dim, keepdim), [x])
    want = derivatives(torch, lambda t: torch.linalg.vector_norm(t, ord, dim, keepdim), [x])
    assert_same(got, want)  # (ord 0: torch's has no gradient, minigrad's is 0)


@pytest.mark.parametrize("ord", [2, 1, 0.5, -1, 3, math.inf, -math.inf])
def test_vector_norm_at_zeros_has_torchs_first_derivative(ord):
    x = np.array([[0.0, 1.5, -2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    X, tX = mg(x), th(x)
    y = LA.vector_norm(X, ord, dim=1)
    ty = torch.linalg.vector_norm(tX, ord, dim=1)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    g, = minigrad.grad(y.sum(), X)
    tg, = torch.autograd.grad(ty.sum(), tX)
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
    assert np.isfinite(g.numpy()).all()


def test_vector_norm_dtype_and_empty_inputs_follow_torch():
    x = minigrad.tensor(np.ones(3, dtype=np.float32))
    assert LA.vector_norm(x, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="without narrowing"):
        LA.vector_norm(minigrad.tensor(np.ones(3)), dtype=np.float32)
    with pytest.raises(TypeError, match="floating point"):
        LA.vector_norm(x, dtype=np.int64)
    empty = np.zeros((0, 3))
    for ord, dim in [(2, None), (1, 1), (math.inf, 1), (-math.inf, 1), (3, 0)]:
        got = LA.vector_norm(mg(empty), ord, dim)
        want = torch.linalg.vector_norm(th(empty), ord, dim)
        np.testing.assert_array_equal(got.numpy(), want.detach().numpy())
    for ord, dim in [(math.inf, None), (-1, None), (-math.inf, 0), (math.inf, (0, 1))]:
        with pytest.raises(RuntimeError, match="does not have an identity"):
            torch.linalg.vector_norm(th(empty), ord, dim)
        with pytest.raises(ValueError, match="does not have an identity"):
            LA.vector_norm(mg(empty), ord, dim)


MATRIX_ORDS = ["fro", 1, -1, math.inf, -math.inf]


@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=str)
@pytest.mark.parametrize("dim", [(-2, -1), (0, 2), (2, 0), (-1, 1)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm_orders_and_dims_match_torch_to_second_order(ord, dim, keepdim):
    x = np.random.default_rng(6).standard_normal((3, 2, 4))
    got = derivatives(minigrad, lambda t: LA.matrix_norm(t, ord, dim, keepdim), [x])
    want = derivatives(torch, lambda t: torch.linalg.matrix_norm(t, ord, dim, keepdim), [x])
    assert_same(got, want)


def test_matrix_norm_of_empty_matrices_follows_torch():
    for ord, shape in itertools.product([1, -1, math.inf, -math.inf, "fro"], [(3, 0), (0, 3)]):
        try:
            want = torch.linalg.matrix_norm(torch.zeros(shape, dtype=torch.float64), ord)
        except (RuntimeError, IndexError):
            with pytest.raises(ValueError, match="matrix_norm"):
                LA.matrix_norm(mg(np.zeros(shape)), ord)
            continue
        np.testing.assert_array_equal(LA.matrix_norm(mg(np.zeros(shape)), ord).numpy(),
                                      want.numpy())


@pytest.mark.parametrize("shape,ord,dim", [
    ((5,), None, None), ((5,), 1, None), ((5,), math.inf, None), ((5,), "fro", None),
    ((3, 4), None, None), ((3, 4), "fro", None), ((3, 4), 1, None), ((3, 4), -math.inf, None),
    ((3, 4), 3, 1), ((3, 4), None, 0), ((2, 3, 4), None, None), ((2, 3, 4), 1, (0, 2)),
    ((2, 3, 4), "fro", (1, 2)), ((2, 3, 4), 0.5, -1), ((2, 3, 4), None, (0, 1)),
    ((2, 3, 4), 2, (0, 2, 1)), ((2, 3, 4), 1, None), ((2, 3, 4), "fro", None),
    ((5,), "fro", 0), ((3, 4), "nuc", None), ((3, 4), 2, None)], ids=str)
def test_linalg_norm_dispatches_as_torch(shape, ord, dim):
    x = np.random.default_rng(7).standard_normal(shape)
    try:
        want = derivatives(torch, lambda t: torch.linalg.norm(t, ord, dim), [x])
    except RuntimeError:
        with pytest.raises(ValueError, match="linalg\\.(matrix_)?norm"):
            LA.norm(mg(x), ord, dim)
        return
    if ord in ("nuc", 2) and dim is None and len(shape) == 2:  # the spectral norms: not here
        with pytest.raises(NotImplementedError, match="singular values"):
            LA.norm(mg(x), ord, dim)
        return
    assert_same(derivatives(minigrad, lambda t: LA.norm(t, ord, dim), [x]), want)


def test_matrix_norm_refuses_bad_orders_and_dims():
    A = mg(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Order 3 not supported"):
        LA.matrix_norm(A, 3)
    with pytest.raises(ValueError, match="Order bad not supported"):
        LA.matrix_norm(A, "bad")
    with pytest.raises(NotImplementedError, match="'nuc' needs singular values"):
        LA.matrix_norm(A, "nuc")
    with pytest.raises(ValueError, match="dim must be a 2-tuple"):
        LA.matrix_norm(A, dim=(0,))
    with pytest.raises(ValueError, match="dims must be different"):
        LA.matrix_norm(A, dim=(1, -1))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        LA.matrix_norm(mg(np.ones(3)))
    with pytest.raises(TypeError, match="ord must be a real number"):
        LA.vector_norm(A, "fro")


# ------------------------------------------------------------------------ error messages
def test_errors_name_the_function_and_the_problem():
    with pytest.raises(ValueError, match=r"linalg.inv: A must be batches of square matrices, "
                                         r"but they are 2 by 3 matrices"):
        LA.inv(mg(np.ones((2, 3))))
    with pytest.raises(ValueError, match="linalg.det: The input tensor A must have at least 2 "):
        minigrad.det(mg(np.ones(3)))
    with pytest.raises(TypeError, match="linalg.slogdet: expected a float32 or float64 tensor"):
        LA.slogdet(minigrad.tensor(np.eye(2, dtype=np.int64)))
    with pytest.raises(TypeError, match="linalg.cholesky: expected a float32 or float64"):
        LA.cholesky(minigrad.tensor(np.eye(2, dtype=np.float16)))
    with pytest.raises(TypeError, match="linalg.inv: A must be a Tensor"):
        LA.inv(np.eye(2))
    with pytest.raises(TypeError, match="linalg.vector_norm: expected a floating-point tensor"):
        LA.vector_norm(minigrad.tensor([1, 2]))
    with pytest.raises(ValueError, match="linalg.solve: B must have at least 1 dimension"):
        LA.solve(mg(np.eye(2)), mg(1.0))
    with pytest.raises(TypeError, match="linalg.solve: expected a floating-point B"):
        LA.solve(mg(np.eye(2)), minigrad.tensor([1, 2]))


def test_singular_and_non_positive_definite_inputs_raise_linalg_error_as_torch():
    assert issubclass(LA.LinAlgError, RuntimeError)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    batch = np.stack([np.eye(2), singular])
    for fn, tfn, match in [
            (LA.inv, torch.linalg.inv, "linalg.inv: .*singular"),
            (lambda A: LA.solve(A, mg(np.ones((2, 2)))),
             lambda A: torch.linalg.solve(A, th(np.ones((2, 2)))), "linalg.solve: .*singular"),
            (LA.cholesky, torch.linalg.cholesky, "linalg.cholesky: .*not positive-definite")]:
        with pytest.raises(torch.linalg.LinAlgError):
            tfn(th(singular))
        with pytest.raises(LA.LinAlgError, match=match) as info:
            fn(mg(singular))
        assert "Batch element" not in str(info.value)
        with pytest.raises(LA.LinAlgError, match=r"\(Batch element 1\)"):
            fn(mg(batch))
    with pytest.raises(LA.LinAlgError, match="not positive-definite"):
        LA.cholesky(mg(-np.eye(3)))


# ----------------------------------------------------------------------------- cholesky
def test_cholesky_reads_the_lower_triangle_and_its_gradient_is_symmetric_as_torchs():
    rng = np.random.default_rng(8)
    a = well_conditioned(rng, 2, 3, 3)
    spd = a @ np.swapaxes(a, -1, -2)
    lopsided = np.tril(spd) + np.triu(rng.standard_normal((2, 3, 3)), 1)  # upper is noise
    A, tA = mg(lopsided), th(lopsided)
    L, tL = LA.cholesky(A), torch.linalg.cholesky(tA)
    np.testing.assert_allclose(L.numpy(), tL.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(L.numpy(), np.linalg.cholesky(spd), rtol=1e-12)
    w = rng.standard_normal((2, 3, 3))
    g, = minigrad.grad((L * mg(w, False)).sum(), A)
    tg, = torch.autograd.grad((tL * th(w, False)).sum(), tA)
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.numpy(), np.swapaxes(g.numpy(), -1, -2), rtol=1e-12)


def test_cholesky_third_order_gradient_through_a_symmetric_input():
    rng = np.random.default_rng(9)
    A = mg(well_conditioned(rng, 3, 3) + 3 * np.eye(3))
    V = mg(rng.standard_normal((3, 3)), False)

    def grad_of_cholesky(A):
        S = A @ A.mT
        g, = minigrad.grad((LA.cholesky(S) * V).sum(), A, create_graph=True)
        return g
    minigrad.gradgradcheck(grad_of_cholesky, [A])


# ----------------------------------------------------- det's gradients at singular matrices
def leibniz_det(A):
    """det(A) = sum over permutations s of sign(s) prod_i A[i, s(i)], in torch ops: a
    polynomial, so torch differentiates it exactly at singular matrices, to any order."""
    n = A.shape[-1]
    total = 0
    for perm in itertools.permutations(range(n)):
        sign = np.linalg.det(np.eye(n)[list(perm)])
        total = total + sign * torch.stack([A[..., i, p] for i, p in enumerate(perm)]).prod(0)
    return total


SINGULAR = {
    "rank 2 of 3": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
    "rank 1 of 3": [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]],
    "zero 3 x 3": np.zeros((3, 3)),
    "rank 1 of 2": [[1.0, 2.0], [2.0, 4.0]],
    "rank 3 of 4": [[2.0, -1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0], [3.0, 0.0, 1.0, 1.0],
                    [0.0, 2.0, 1.0, -1.0]],
    "rank 2 of 4": [[1.0, 0.0, 2.0, 1.0], [0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 3.0, 2.0],
                    [2.0, 1.0, 5.0, 3.0]],
}


def _det_derivatives(lib, det, a, order, seed=0):
    """det's derivatives up to ``order``: the gradient, then gradients of <W_k, previous>."""
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(np.shape(a)) for _ in range(order - 1)]
    if lib is minigrad:
        A = mg(a)
        g, = minigrad.grad(det(A).sum(), A, create_graph=True)
        out = [g.numpy()]
        for w in ws:
            g, = minigrad.grad((g * mg(w, False)).sum(), A, create_graph=True)
            out.append(g.numpy())
        return out
    A = th(a)
    g, = torch.autograd.grad(det(A).sum(), A, create_graph=True)
    out = [g.detach().numpy()]
    for w in ws:
        g, = torch.autograd.grad((g * th(w, False)).sum(), A, create_graph=True)
        out.append(g.detach().numpy())
    return out


@pytest.mark.parametrize("name", list(SINGULAR))
def test_det_gradients_at_singular_matrices_are_exact_to_third_order(name):
    a = np.asarray(SINGULAR[name], dtype=np.float64)
    assert np.linalg.matrix_rank(a) < len(a)
    ours = _det_derivatives(minigrad, LA.det, a, 3)
    exact = _det_derivatives(torch, leibniz_det, a, 3)
    for k, (got, want) in enumerate(zip(ours, exact), 1):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=f"order {k}")
    A = mg(a)
    minigrad.gradcheck(LA.det, [A])
    minigrad.gradgradcheck(LA.det, [A])
    minigrad.gradgradcheck(lambda A: minigrad.grad(LA.det(A), A, create_graph=True)[0], [A])


@pytest.mark.parametrize("name", list(SINGULAR))
def test_det_gradient_at_singular_matrices_against_torchs(name):
    """minigrad's gradient is the cofactor matrix at every matrix. torch's create_graph
    backward gives the same (its SVD path), and so does its second derivative where the
    matrix has rank n - 1; with rank n - 2 or less torch's second derivative is NaN (its SVD
    backward meets repeated zero singular values). torch's plain backward gives 0 at an exactly
    singular matrix (det(A) A^{-T} with det(A) = 0): a difference, checked here so that a
    change in torch shows."""
    a = np.asarray(SINGULAR[name], dtype=np.float64)
    ours = _det_derivatives(minigrad, LA.det, a, 2)
    theirs = _det_derivatives(torch, torch.linalg.det, a, 2)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9, atol=1e-9)
    assert np.abs(ours[0]).max() > 0 or np.linalg.matrix_rank(a) < len(a) - 1
    if np.linalg.matrix_rank(a) == len(a) - 1:
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-8, atol=1e-8)
    A = th(a)
    det = torch.linalg.det(A)
    plain, = torch.autograd.grad(det, A)
    if det.item() == 0:
        np.testing.assert_array_equal(plain.numpy(), np.zeros_like(a))


def test_det_gradients_of_a_batch_mixing_singular_and_invertible_matrices():
    rng = np.random.default_rng(10)
    a = rng.standard_normal((2, 3, 3, 3))
    a[0, 1] = SINGULAR["rank 2 of 3"]
    a[1, 2] = SINGULAR["rank 1 of 3"]
    a[1, 0] = 1e-9 * rng.standard_normal((3, 3)) + np.asarray(SINGULAR["rank 1 of 3"])
    ours = _det_derivatives(minigrad, LA.det, a, 3)
    exact = _det_derivatives(torch, leibniz_det, a, 3)
    for k, (got, want) in enumerate(zip(ours, exact), 1):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8, err_msg=f"order {k}")


def test_det_fourth_order_of_a_four_by_four_is_the_constant_it_must_be():
    """det of a 4 x 4 is a quartic: its fourth derivative is the same at every matrix."""
    rng = np.random.default_rng(11)
    at = [np.zeros((4, 4)), np.asarray(SINGULAR["rank 2 of 4"]), rng.standard_normal((4, 4))]
    fourth = [_det_derivatives(minigrad, LA.det, a, 4)[-1] for a in at]
    np.testing.assert_allclose(fourth[0], fourth[2], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fourth[1], fourth[2], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fourth[2], _det_derivatives(torch, leibniz_det, at[2], 4)[-1],
                               rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ names, as in torch
def test_top_level_aliases_methods_and_the_submodule():
    import minigrad.linalg as linalg_module
    assert minigrad.linalg is linalg_module
    rng = np.random.default_rng(12)
    a = well_conditioned(rng, 2, 3, 3)
    A = mg(a)
    for ours, want in [(minigrad.inverse(A), np.linalg.inv(a)), (A.inverse(), np.linalg.inv(a)),
                       (minigrad.det(A), np.linalg.det(a)), (A.det(), np.linalg.det(a)),
                       (minigrad.slogdet(A).logabsdet, np.linalg.slogdet(a)[1]),
                       (A.slogdet().sign, np.linalg.slogdet(a)[0])]:
        np.testing.assert_allclose(ours.numpy(), want, rtol=1e-12)
    spd = a @ np.swapaxes(a, -1, -2)
    np.testing.assert_allclose(mg(spd).logdet().numpy(), np.linalg.slogdet(spd)[1], rtol=1e-12)
    for name in ("inv", "det", "slogdet", "solve", "cholesky", "vector_norm", "matrix_norm",
                 "norm", "LinAlgError"):
        assert hasattr(torch.linalg, name) and name in LA.__all__, name
