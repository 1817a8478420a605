"""lgamma/digamma/polygamma, cdist, tensordot, kron, cross and quantile/nanquantile beyond the op
table (``op_specs.SPECS``, which gradchecks them away from poles, ties and coincident points):
the poles and infinities, cdist at coincident points and ties for each p, the forms of
tensordot's dims, quantile's interpolation modes, NaN and q tensors, the argument errors, and
values with first and second derivatives against torch in float64.

The values torch 2.13 gives at the special points are written out (so they are checked without
torch too) and, where torch is installed, compared with torch's own."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import minigrad as mg

try:
    import torch
except ImportError:  # the written-out values and the errors are still checked
    torch = None

inf, nan = math.inf, math.nan


def assert_same(got, want, rtol=1e-12, atol=0.0, what=""):
    """Equal shapes, NaN where ``want`` is NaN, infinities equal, finite values close."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN")
    np.testing.assert_array_equal(np.isinf(got) * np.sign(got), np.isinf(want) * np.sign(want),
                                  err_msg=f"{what}: infinities")
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=rtol, atol=atol, err_msg=what)


def _np(t):
    if t is None:
        return None
    return t.numpy() if isinstance(t, mg.Tensor) else t.detach().numpy()


def derivatives(lib, fn, arrays, seed=0, second=True):
    """(outputs, first derivatives weighted by v, second derivatives of <first, w> w.r.t. the
    inputs) of ``fn`` on ``arrays`` (float64), by minigrad (lib=mg) or torch (lib=torch)."""
    rng = np.random.default_rng(seed)
    if lib is mg:
        xs = [mg.tensor(a, requires_grad=True) for a in arrays]
    else:
        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    v = rng.standard_normal(tuple(y.shape))
    if lib is mg:
        g = mg.grad([y], xs, [mg.tensor(v)], create_graph=second, allow_unused=True)
    else:
        g = torch.autograd.grad([y], xs, [torch.tensor(v)], create_graph=second,
                                allow_unused=True)
    firsts = [np.zeros(a.shape) if gi is None else _np(gi) for gi, a in zip(g, arrays)]
    out = (_np(y), firsts)
    if not second:
        return out
    ws = [rng.standard_normal(a.shape) for a in arrays]
    terms = [(gi * lib.tensor(w)).sum() for gi, w in zip(g, ws)
             if gi is not None and gi.requires_grad]
    if not terms:
        return out + ([np.zeros(a.shape) for a in arrays],)
    total = sum(terms[1:], terms[0])
    if lib is mg:
        gg = mg.grad(total, xs, allow_unused=True)
    else:
        gg = torch.autograd.grad(total, xs, allow_unused=True)
    return out + ([np.zeros(a.shape) if h is None else _np(h) for h, a in zip(gg, arrays)],)


def assert_like_torch(fn_mg, fn_torch, arrays, second=True, rtol=1e-10, atol=1e-12, what=""):
    got = derivatives(mg, fn_mg, arrays, second=second)
    want = derivatives(torch, fn_torch, arrays, second=second)
    assert_same(got[0], want[0], rtol, atol, f"{what} values")
    for i, (a, b) in enumerate(zip(got[1], want[1])):
        assert_same(a, b, rtol, atol, f"{what} first derivative, input {i}")
    if second:
        for i, (a, b) in enumerate(zip(got[2], want[2])):
            assert_same(a, b, rtol, atol, f"{what} second derivative, input {i}")


# =============================================================== lgamma, digamma, polygamma
# The special points: both zeros, negative integers, both infinities, NaN, and ordinary values.
SPECIAL = np.array([0.0, -0.0, -1.0, -2.0, -5.0, inf, -inf, nan, 1.0, -0.5, 2.5])

# torch 2.13's values there (CPU, float64). Of note: digamma(0.0) = -inf but digamma(-0.0) =
# +inf; lgamma(-inf) = +inf; polygamma(1, -1) is torch's finite pi^2 / sin^2(pi x) artefact;
# polygamma(1, -inf) = NaN; polygamma(n >= 2, +inf) = NaN. minigrad's finite values are
# SciPy's, exact to an ulp or two; torch's trigamma is off by up to 4.9e-10 relative (measured
# over [-10, 10] and up to 1e6; 1.6449340676 at x = 1, where pi^2 / 6 = 1.6449340668) and its
# digamma by 1.5e-12 near its root, hence TORCH_RTOL where torch's finite values are compared.
TORCH_RTOL = 1e-9
TORCH_VALUES = {
    "lgamma": [inf, inf, inf, inf, inf, inf, inf, nan, 0.0, 1.2655121234846454,
               0.2846828704729192],
    "digamma": [-inf, inf, nan, nan, nan, inf, nan, nan, -0.5772156649015328,
                0.03648997397857639, 0.7031566406452431],
    "polygamma1": [inf, inf, 6.580790147320947e+32, 1.6451975368302367e+32,
                   2.6323160589283783e+31, 0.0, nan, nan, 1.6449340676383375, 8.934802200117687,
                   0.4903577562398206],
    "polygamma2": [-inf, -inf, -inf, -inf, -inf, nan, -inf, nan, -2.404113806319188,
                   -0.82879664423432, -0.23620405164172736],
    "polygamma3": [inf, inf, inf, inf, inf, nan, inf, nan, 6.493939402266829,
                   193.40909103400242, 0.2239058488172521],
}


def _special_fn(name):
    if name == "lgamma":
        return lambda x: x.lgamma()
    if name == "digamma":
        return lambda x: mg.digamma(x)
    n = int(name[-1])
    return lambda x: mg.polygamma(n, x)


@pytest.mark.parametrize("name", sorted(TORCH_VALUES))
def test_gamma_family_values_at_poles_and_infinities_are_torchs(name):
    got = _special_fn(name)(mg.tensor(SPECIAL)).numpy()
    assert_same(got, TORCH_VALUES[name], rtol=TORCH_RTOL, what=name)
    # the artefacts at the negative integers are torch's to the last bits, not just close
    if name == "polygamma1":
        np.testing.assert_array_equal(got[2:5], TORCH_VALUES[name][2:5])


@pytest.mark.parametrize("name", sorted(TORCH_VALUES))
def test_gamma_family_gradients_at_poles_follow_the_next_member(name):
    """d/dx lgamma = digamma, d/dx digamma = polygamma(1), d/dx polygamma(n) = polygamma(n + 1),
    at the poles too (-inf, NaN and torch's finite trigamma there), and the second derivative
    is the member after that."""
    order = ["lgamma", "digamma", "polygamma1", "polygamma2", "polygamma3"]
    nxt = {"lgamma": lambda x: mg.digamma(x), "digamma": lambda x: mg.polygamma(1, x)}
    x = mg.tensor(SPECIAL, requires_grad=True)
    ones = mg.ones(*x.shape, dtype=mg.float64)  # (a sum of inf and -inf would warn)
    g, = mg.grad(_special_fn(name)(x), x, ones, create_graph=True)
    k = order.index(name)
    first = nxt[name](x) if name in nxt else mg.polygamma(k, x)
    assert_same(g.numpy(), first.numpy(), rtol=0, what=f"{name}'")
    if k + 1 < len(order):
        assert_same(g.numpy(), TORCH_VALUES[order[k + 1]], rtol=TORCH_RTOL, what=f"{name}'")
    gg, = mg.grad(g, x, ones)
    assert_same(gg.numpy(), mg.polygamma(k + 1 if k else 1, x).numpy(), rtol=0,
                what=f"{name}''")


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [-1, 0, 1, 2, 3, 4])
def test_gamma_family_matches_torch_at_special_and_negative_points(n, dtype):
    x = np.concatenate([SPECIAL, [-3.7, -2.5, -1.2, -0.3, -1e-30, 1e-30, 0.3, 7.1, 30.0, 1e10,
                                  -1e30]]).astype(dtype)
    if n == -1:
        got, want = mg.lgamma(mg.tensor(x)), torch.lgamma(torch.tensor(x))
    else:
        got, want = mg.tensor(x).polygamma(n), torch.tensor(x).polygamma(n)
    assert got.dtype == dtype
    # float32: torch computes in float32, SciPy in float64 (rounded once): a few ulp apart,
    # more where the function is steep (polygamma(4) near 0), so compare with torch's own error
    exact = (torch.lgamma(torch.tensor(x.astype(np.float64))) if n == -1 else
             torch.tensor(x.astype(np.float64)).polygamma(n)).numpy()
    want = want.numpy().astype(np.float64)
    both = np.isfinite(want) & np.isfinite(exact)
    slack = np.where(both, np.abs(np.where(both, want, 0) - np.where(both, exact, 0)), 0)
    rtol = TORCH_RTOL if dtype == np.float64 else 1e-6
    got = got.numpy().astype(np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"n={n}: NaN")
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin], want[~fin], err_msg=f"n={n}: infinities")
    err, allowed = np.abs(got[fin] - want[fin]), rtol * np.abs(want[fin]) + 2 * slack[fin]
    assert (err <= allowed).all(), (x[fin][err > allowed], got[fin][err > allowed],
                                    want[fin][err > allowed])


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("n", [-2, -1, 0, 1, 2, 3])
def test_gamma_family_derivatives_match_torch_in_float64(n):
    """Values, first and second derivatives against torch, negative non-integers included."""
    x = np.array([-3.7, -2.5, -1.2, -0.3, 0.3, 1.0, 2.5, 7.1, 30.0])
    if n == -2:
        fm, ft = (lambda t: t.lgamma()), (lambda t: t.lgamma())
    elif n == -1:
        fm, ft = (lambda t: t.digamma()), (lambda t: t.digamma())
    else:
        fm, ft = (lambda t: mg.polygamma(n, t)), (lambda t: torch.polygamma(n, t))
    assert_like_torch(fm, ft, [x], rtol=TORCH_RTOL, atol=1e-13, what=f"order {n}")


def test_polygamma_argument_errors_and_method():
    x = mg.tensor([0.5, 1.5])
    with pytest.raises(ValueError, match=r"polygamma: n must be >= 0"):
        mg.polygamma(-1, x)
    with pytest.raises(TypeError, match=r"polygamma: n must be an int .*n first"):
        mg.polygamma(x, 1)  # torch's order is (n, x)
    with pytest.raises(TypeError, match="polygamma: n must be an int"):
        mg.polygamma(1.0, x)
    with pytest.raises(TypeError, match="polygamma: n must be an int"):
        mg.polygamma(True, x)
    with pytest.raises(TypeError, match="polygamma: x must be a tensor"):
        mg.polygamma(1, 0.5)
    np.testing.assert_array_equal(x.polygamma(2).numpy(), mg.polygamma(2, x).numpy())
    np.testing.assert_array_equal(x.polygamma(0).numpy(), x.digamma().numpy())
    # integers become float32, as in torch
    for y in (mg.lgamma(mg.tensor([1, 2, 3])), mg.tensor([1, 2]).digamma(),
              mg.polygamma(1, mg.tensor([1, 2]))):
        assert y.dtype == np.float32
    np.testing.assert_allclose(mg.lgamma(mg.tensor([1, 2, 3, 4])).numpy(),
                               [0, 0, math.log(2), math.log(6)], atol=1e-6)


def test_gamma_kernels_are_registered_and_keep_the_dtype():
    from minigrad import kernels
    from minigrad.kernels import cupy_gpu, reference
    for name in ("lgamma", "digamma", "polygamma"):
        assert name in reference.__all__ and name in cupy_gpu.__all__ and \
            name in kernels.KERNEL_NAMES
    x32 = np.array([0.5, -0.0, -1.0, 3.0], dtype=np.float32)
    for y in (reference.lgamma(x32), reference.digamma(x32), reference.polygamma(1, x32),
              reference.polygamma(3, x32)):
        assert y.dtype == np.float32  # SciPy's polygamma computes in float64
    # float32 trigamma at a negative integer: torch's float32 artefact pi^2 / sin^2(pi x)
    pi = np.float32(np.pi)
    s = np.sin(pi * np.float32(-1.0))
    assert reference.polygamma(1, x32)[2] == pytest.approx(float(pi * pi / (s * s)), rel=1e-6)


# ====================================================================================== cdist
PS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, inf]


def _coincident_batch(seed=0):
    """x1 (2, 4, 3), x2 (2, 5, 3) with coincident rows, rows equal in one coordinate, and (for
    p = inf) a pair whose two largest coordinate differences tie."""
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal((2, 4, 3))
    x2 = rng.standard_normal((2, 5, 3))
    x2[0, 0] = x1[0, 0]              # coincident
    x2[0, 3] = x1[0, 2]              # coincident
    x2[1, 1, :2] = x1[1, 3, :2]      # two coordinates equal, one not
    x2[1, 2] = x1[1, 0] + [0.5, -0.5, 0.25]  # |d| ties between coordinates 0 and 1
    x2[1, 4] = x1[1, 1] + [1.0, 1.0, -1.0]   # a three-way tie
    return x1, x2


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("p", PS)
def test_cdist_at_coincident_points_and_ties_matches_torch(p):
    """Values and first derivatives against torch.cdist (which has no second derivative) at
    coincident points (torch's gradient is 0 there, not NaN), zero coordinate differences and,
    for p = inf, tied coordinates (torch gives each all of the gradient)."""
    x1, x2 = _coincident_batch()
    for a, b in ((x1, x2), (x1[0], x2[0]), (x1[:1], x2)):  # batched, 2-d, broadcast batch
        got = derivatives(mg, lambda u, w: mg.cdist(u, w, p), [a, b], second=False)
        want = derivatives(torch, lambda u, w: torch.cdist(u, w, p), [a, b], second=False)
        assert np.isfinite(got[1][0]).all() and np.isfinite(got[1][1]).all()
        assert_same(got[0], want[0], rtol=1e-13, atol=1e-15, what=f"p={p} values")
        for i in range(2):
            assert_same(got[1][i], want[1][i], rtol=1e-12, atol=1e-14,
                        what=f"p={p} gradient {i}")


@pytest.mark.parametrize("p", PS)
def test_cdist_second_derivatives_at_coincident_points_are_finite(p):
    x1, x2 = _coincident_batch()
    a, b = mg.tensor(x1, requires_grad=True), mg.tensor(x2, requires_grad=True)
    g = mg.grad(mg.cdist(a, b, p).sum(), [a, b], create_graph=True)
    s = (g[0] * g[0]).sum() + (g[1] * g[1]).sum()
    if not s.requires_grad:  # p in (0, 1, inf): piecewise constant gradients
        assert p in (0.0, 1.0, inf)
        return
    gg = mg.grad(s, [a, b])
    assert all(np.isfinite(t.numpy()).all() for t in (*g, *gg)), p


@pytest.mark.parametrize("p", PS)
def test_cdist_at_one_coincident_pair_gradients_are_zero(p):
    """Two equal points: distance 0, gradient 0 (torch's), second derivative 0."""
    a = mg.tensor([[0.5, -1.0]], requires_grad=True)
    b = mg.tensor([[0.5, -1.0]], requires_grad=True)
    y = mg.cdist(a, b, p)
    assert y.item() == 0
    ga, gb = mg.grad(y.sum(), [a, b], create_graph=True)
    np.testing.assert_array_equal(ga.numpy(), [[0.0, 0.0]])
    np.testing.assert_array_equal(gb.numpy(), [[0.0, 0.0]])
    if ga.requires_grad:
        h = mg.grad(ga.sum() + gb.sum(), [a, b], allow_unused=True)
        for t in h:
            assert t is None or not t.numpy().any()


def test_cdist_inf_gives_each_tied_coordinate_the_whole_gradient():
    a = mg.tensor([[0.0, 0.0, 0.0]], requires_grad=True)
    b = mg.tensor([[1.0, -1.0, 0.5]], requires_grad=True)
    y = mg.cdist(a, b, inf)
    assert y.item() == 1.0
    ga, gb = mg.grad(y.sum(), [a, b])
    np.testing.assert_array_equal(ga.numpy(), [[-1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(gb.numpy(), [[1.0, -1.0, 0.0]])


def test_cdist_gradient_is_zero_along_a_zero_difference():
    """torch's: 0 (p <= 1: where the derivative of |d|^p does not exist; p > 1: its value)."""
    for p in (0.5, 1.0, 1.5, 2.0, 3.0, inf):
        a = mg.tensor([[0.0, 1.0]], dtype=mg.float64, requires_grad=True)
        ga, = mg.grad(mg.cdist(a, mg.tensor([[0.0, 3.0]], dtype=mg.float64), p).sum(), [a])
        assert ga.numpy()[0, 0] == 0.0
        np.testing.assert_allclose(ga.numpy()[0, 1], -1.0, rtol=1e-15)


@pytest.mark.parametrize("p", PS)
def test_cdist_gradgradcheck_away_from_ties(p):
    """Every p, batched with broadcast batch dims; random normal points (no ties, no
    coincident points)."""
    rng = np.random.default_rng(3)
    a = mg.tensor(rng.standard_normal((2, 1, 3, 4)), requires_grad=True)
    b = mg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)

    def f(u, w):
        return mg.cdist(u, w, p)
    assert mg.gradcheck(f, [a, b])
    assert mg.gradgradcheck(f, [a, b])


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("p", [0.5, 1.5, 2.0, 3.0])
def test_cdist_second_derivatives_match_torchs_composite(p):
    """torch.cdist has no second derivative; the same distance written in torch's ops has."""
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    assert_like_torch(lambda u, w: mg.cdist(u, w, p),
                      lambda u, w: (u.unsqueeze(-2) - w.unsqueeze(-3)).abs().pow(p).sum(-1)
                      .pow(1 / p), [x1, x2], rtol=1e-10, what=f"p={p}")


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("p", PS)
def test_cdist_float32_matches_torch(p):
    x1, x2 = _coincident_batch(5)
    x1, x2 = x1.astype(np.float32), x2.astype(np.float32)
    got = mg.cdist(mg.tensor(x1), mg.tensor(x2), p)
    want = torch.cdist(torch.tensor(x1), torch.tensor(x2), p)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-6, atol=1e-6)


def test_cdist_shapes_and_empty_sizes():
    rng = np.random.default_rng(0)
    assert mg.cdist(mg.tensor(rng.standard_normal((3, 2))),
                    mg.tensor(rng.standard_normal((4, 2)))).shape == (3, 4)
    assert mg.cdist(mg.tensor(rng.standard_normal((2, 1, 3, 2))),
                    mg.tensor(rng.standard_normal((5, 4, 2)))).shape == (2, 5, 3, 4)
    assert mg.cdist(mg.zeros(0, 2), mg.zeros(4, 2)).shape == (0, 4)
    for p in PS:  # no coordinates: every distance 0, as torch's
        y = mg.cdist(mg.zeros(2, 0), mg.zeros(3, 0), p)
        assert y.shape == (2, 3) and not y.numpy().any()
    y = mg.cdist(mg.tensor([[0.0, 0.0]]), mg.tensor([[3.0, 4.0], [0.0, 1.0]]), 0)
    np.testing.assert_array_equal(y.numpy(), [[2.0, 1.0]])  # p = 0: differing coordinates


@pytest.mark.parametrize("call, error, message", [
    (lambda: mg.cdist(mg.zeros(3), mg.zeros(4, 3)), ValueError, "at least 2 dims"),
    (lambda: mg.cdist(mg.zeros(3, 2), mg.zeros(4, 3)), ValueError,
     r"same number of columns \(last dim\)"),
    (lambda: mg.cdist(mg.tensor([[1, 2]]), mg.tensor([[1, 2]])), TypeError, "floating-point"),
    (lambda: mg.cdist(mg.zeros(3, 2), mg.zeros(4, 2, dtype=mg.float64)), TypeError,
     "one dtype"),
    (lambda: mg.cdist(mg.zeros(3, 2), mg.zeros(4, 2), p=-1), ValueError, "p must be a number >= 0"),
    (lambda: mg.cdist(mg.zeros(3, 2), mg.zeros(4, 2), p=nan), ValueError, "p must be"),
    (lambda: mg.cdist(mg.zeros(2, 3, 2), mg.zeros(5, 4, 2)), ValueError, "batch dims"),
    (lambda: mg.cdist(mg.zeros(3, 2), mg.zeros(4, 2), compute_mode="fast"), ValueError,
     "compute_mode"),
    (lambda: mg.cdist(np.zeros((3, 2)), mg.zeros(4, 2)), TypeError, "expects two tensors"),
])
def test_cdist_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ================================================================================= tensordot
@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("sa, sb, dims", [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (3, 4, 5), 0),
    ((2, 3), (3, 4), 1),
    ((), (), 0),
    ((2, 3, 4), (3, 4, 5), ([1, 2], [0, 1])),
    ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),   # pairs in another order
    ((2, 3, 4), (3, 4, 5), ([1, -1], [0, -2])),  # negative dims
    ((2, 3, 4), (3, 4, 5), ((1, 2), (0, 1))),    # tuples
    ((2, 3, 4), (3, 4, 5), [[1, 2], [0, 1]]),    # a list of lists
    ((2, 3, 4), (5, 3), ([1], [1])),
    ((2, 3), (4, 5), ([], [])),                  # nothing contracted: an outer product
    ((2, 1, 4), (3, 4, 5), ([1, 2], [0, 1])),    # a size-1 dim pairs with 3 (torch sums it)
    ((2, 3, 4), (1, 4, 5), ([1, 2], [0, 1])),
])
def test_tensordot_dims_forms_match_torch(sa, sb, dims):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    assert_like_torch(lambda u, w: mg.tensordot(u, w, dims),
                      lambda u, w: torch.tensordot(u, w, dims), [a, b], what=str(dims))


def test_tensordot_takes_dims_as_a_tensor():
    rng = np.random.default_rng(1)
    a, b = mg.tensor(rng.standard_normal((2, 3, 4))), mg.tensor(rng.standard_normal((3, 4, 5)))
    want = mg.tensordot(a, b, ([1, 2], [0, 1])).numpy()
    np.testing.assert_allclose(mg.tensordot(a, b, mg.tensor([[1, 2], [0, 1]])).numpy(), want)
    np.testing.assert_allclose(mg.tensordot(a, b, mg.tensor(2)).numpy(), want)
    np.testing.assert_allclose(want, np.tensordot(a.numpy(), b.numpy(), 2), rtol=1e-6)
    ints = mg.tensordot(mg.tensor([[1, 2], [3, 4]]), mg.tensor([[1, 0], [0, 1]]), 1)
    assert ints.dtype == np.int64 and ints.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("dims, error, message", [
    (-1, ValueError, "dims must be >= 0"),
    (4, ValueError, "contracts more dims than the operands have"),
    (([1, 2], [0]), ValueError, "equally long"),
    (([1, 1], [0, 1]), ValueError, "appears twice"),
    (([1], [1]), ValueError, r"dim 1 of a \(2, 3, 4\) has 3 and dim 1 of b \(3, 4, 5\) has 4"),
    (2.0, TypeError, "dims must be an int or a pair of lists"),
    (([1, 2],), TypeError, "dims must be an int or a pair of lists"),
    (([3], [0]), IndexError, "out of range"),
])
def test_tensordot_errors(dims, error, message):
    a, b = mg.zeros(2, 3, 4), mg.zeros(3, 4, 5)
    with pytest.raises(error, match=message):
        mg.tensordot(a, b, dims)


def test_tensordot_refuses_two_dtypes():
    with pytest.raises(TypeError, match="one dtype"):
        mg.tensordot(mg.zeros(2, 3), mg.zeros(3, 2, dtype=mg.float64), 1)


# ====================================================================================== kron
@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("sa, sb", [((2, 3), (4,)), ((2, 3), (4, 1, 2)), ((), (3,)), ((), ()),
                                    ((2, 1, 3), (1, 2, 2)), ((0, 2), (3,))])
def test_kron_matches_torch(sa, sb):
    rng = np.random.default_rng(2)
    assert_like_torch(lambda u, w: mg.kron(u, w), lambda u, w: torch.kron(u, w),
                      [rng.standard_normal(sa), rng.standard_normal(sb)], what=f"{sa} {sb}")


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
def test_kron_promotes_as_torch():
    for a, b in ((np.ones(2, np.float32), np.ones(2, np.float64)),
                 (np.ones(2, np.float32), np.arange(2)), (np.arange(2), np.arange(3))):
        got = mg.kron(mg.tensor(a), mg.tensor(b))
        want = torch.kron(torch.tensor(a), torch.tensor(b))
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
        np.testing.assert_array_equal(got.numpy(), want.numpy())


# ===================================================================================== cross
@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("sa, sb, dim", [((4, 3), (4, 3), -1), ((4, 3), (1, 3), 1),
                                          ((3, 2, 5), (3, 1, 5), 0), ((2, 3, 3), (2, 3, 3), 1)])
def test_cross_matches_torch(sa, sb, dim):
    rng = np.random.default_rng(3)
    assert_like_torch(lambda u, w: mg.cross(u, w, dim),
                      lambda u, w: torch.linalg.cross(u, w, dim=dim),
                      [rng.standard_normal(sa), rng.standard_normal(sb)], what=f"{sa} {sb}")


def test_cross_dim_none_takes_the_first_dim_of_size_3_and_warns():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 4, 3)), rng.standard_normal((3, 4, 3))
    with pytest.warns(UserWarning, match="first dim of size 3") as record:
        y = mg.tensor(a).cross(mg.tensor(b))
    assert record[0].filename == __file__  # points at the caller
    np.testing.assert_allclose(y.numpy(), np.cross(a, b, axis=0), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit dim does not warn
        np.testing.assert_allclose(mg.cross(mg.tensor(a), mg.tensor(b), dim=-1).numpy(),
                                   np.cross(a, b), rtol=1e-12)
    if torch is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = torch.cross(torch.tensor(a), torch.tensor(b)).numpy()
        np.testing.assert_allclose(y.numpy(), want, rtol=1e-12)
    ints = mg.cross(mg.tensor([1, 0, 0]), mg.tensor([0, 1, 0]), 0)
    assert ints.dtype == np.int64 and ints.tolist() == [0, 0, 1]


@pytest.mark.parametrize("a, b, dim, error, message", [
    ((4, 2), (4, 2), None, ValueError, "no dim of size 3"),
    ((4, 3), (4, 3), 0, ValueError, "dim 0 must have size 3 in both"),
    ((3, 4), (1, 4), 0, ValueError, "dim 0 must have size 3 in both"),
    ((4, 3), (3,), -1, ValueError, "same number of dims"),
    ((2, 3), (4, 3), 1, ValueError, "cannot be broadcast"),
    ((4, 3), (4, 3), 2, IndexError, "out of range"),
])
def test_cross_errors(a, b, dim, error, message):
    with pytest.raises(error, match=message):
        mg.cross(mg.zeros(*a), mg.zeros(*b), dim)


def test_cross_refuses_two_dtypes():
    with pytest.raises(TypeError, match="one dtype"):
        mg.cross(mg.zeros(3), mg.zeros(3, dtype=mg.float64), 0)


# ================================================================================== quantile
MODES = ["linear", "lower", "higher", "midpoint", "nearest"]

# torch 2.13's quantiles of [0, 1, 2, 3] at q = 0, 1/6, 1/4, 1/2, 5/6, 1: 'nearest' rounds the
# rank half to even (q = 1/2: rank 1.5 -> 2), 'midpoint' averages the neighbours even at rank
# 0.75 (q = 1/4)
QUANTILES_0123 = {
    "linear": [0.0, 0.5, 0.75, 1.5, 2.5, 3.0],
    "lower": [0.0, 0.0, 0.0, 1.0, 2.0, 3.0],
    "higher": [0.0, 1.0, 1.0, 2.0, 3.0, 3.0],
    "midpoint": [0.0, 0.5, 0.5, 1.5, 2.5, 3.0],
    "nearest": [0.0, 0.0, 1.0, 2.0, 2.0, 3.0],
}
QS = [0.0, 1 / 6, 0.25, 0.5, 5 / 6, 1.0]


@pytest.mark.parametrize("mode", MODES)
def test_quantile_interpolation_modes_with_a_1d_q(mode):
    x = mg.tensor([3.0, 0.0, 2.0, 1.0], dtype=mg.float64)  # unsorted
    q = mg.tensor(QS, dtype=mg.float64)
    y = x.quantile(q, interpolation=mode)
    assert y.shape == (6,)
    np.testing.assert_allclose(y.numpy(), QUANTILES_0123[mode], rtol=1e-15, atol=1e-15)
    for qi, want in zip(QS, QUANTILES_0123[mode]):  # a number q: a 0-d result
        yi = mg.quantile(x, qi, interpolation=mode)
        assert yi.shape == () and yi.item() == pytest.approx(want, abs=1e-15)
    if torch is not None:
        want = torch.quantile(torch.tensor(x.numpy()), torch.tensor(QS, dtype=torch.float64),
                              interpolation=mode).numpy()
        np.testing.assert_array_equal(y.numpy(), want)


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", ["quantile", "nanquantile"])
def test_quantile_shapes_values_and_gradients_match_torch(fn, mode, dtype):
    """Every dim and keepdim, q a number, a 0-d and a 1-d tensor (with q like 0.3 and 0.7 whose
    ranks round in float32 as torch's do), ties (the gradient goes where torch's stable sort
    puts it), for float32 and float64."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    x[0, 0, :2] = x[0, 0, 2]  # ties
    x[1, :3, 1] = 0.25
    qs = [0.3, 0.7, 0.0, 1.0, np.array(0.45, dtype), np.array([0.1, 0.3, 0.5, 0.7, 0.9], dtype)]
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            for q in qs:
                xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
                qm = mg.tensor(q) if isinstance(q, np.ndarray) else q
                qt = torch.tensor(q) if isinstance(q, np.ndarray) else q
                y = getattr(mg, fn)(xm, qm, dim, keepdim, interpolation=mode)
                yt = getattr(torch, fn)(xt, qt, dim, keepdim, interpolation=mode)
                assert y.shape == tuple(yt.shape) and y.dtype == dtype
                np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-7)
                v = rng.standard_normal(y.shape).astype(dtype)
                g, = mg.grad(y, xm, mg.tensor(v))
                gt, = torch.autograd.grad(yt, xt, torch.tensor(v))
                g, gt = g.numpy(), gt.numpy()
                what = f"dim={dim} keepdim={keepdim} q={q}"
                if dim is None:
                    # torch's quantile sorts with its unstable sort, whose order of equal values
                    # past 16 of them is std::sort's (minigrad's sort is stable: torch's order
                    # up to 16): the gradient a tie gets in all agrees, not its share of it
                    _, group = np.unique(x, return_inverse=True)
                    g, gt = (np.bincount(group.ravel(), weights=a.ravel().astype(np.float64))
                             for a in (g, gt))
                np.testing.assert_allclose(g, gt, rtol=1e-6, atol=1e-7, err_msg=what)


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("mode", MODES)
def test_quantile_nan_and_nanquantile_match_torch(mode):
    x = np.array([[1.0, nan, 2.0, 3.0], [nan, nan, nan, nan], [4.0, 1.0, 2.0, 0.0]])
    q = np.array([0.3, 0.6])
    for fn in ("quantile", "nanquantile"):
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y = getattr(mg, fn)(xm, mg.tensor(q), 1, interpolation=mode)
        yt = getattr(torch, fn)(xt, torch.tensor(q), 1, interpolation=mode)
        assert_same(y.numpy(), yt.detach().numpy(), rtol=1e-15, what=f"{fn} values")
        g, = mg.grad(y.sum(), xm)
        gt, = torch.autograd.grad(yt.sum(), xt)
        assert_same(g.numpy(), gt.numpy(), rtol=1e-15, what=f"{fn} gradient")
    # a slice with a NaN: NaN (quantile); the NaN-free rows are the nanquantile's
    y = mg.quantile(mg.tensor(x), 0.5, dim=1).numpy()
    assert np.isnan(y[:2]).all() and y[2] == 1.5
    y = mg.nanquantile(mg.tensor(x), 0.5, dim=1).numpy()
    assert y[0] == 2.0 and np.isnan(y[1]) and y[2] == 1.5


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="needs torch")
def test_quantile_linear_gradient_in_q_and_second_derivatives_match_torch():
    """In linear mode q is differentiable (the weight is rank - floor(rank)); second
    derivatives (x with q) against torch, and gradgradcheck, with q off the kinks (integer
    ranks)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 6))
    q = np.array([0.13, 0.5 + 1e-3, 0.77])
    for dim in (None, 1, 0):
        assert_like_torch(lambda u, w: mg.quantile(u, w, dim),
                          lambda u, w: torch.quantile(u, w, dim), [x, q], rtol=1e-12,
                          atol=1e-14, what=f"dim={dim}")
        assert_like_torch(lambda u, w: mg.nanquantile(u, w, dim),
                          lambda u, w: torch.nanquantile(u, w, dim), [x, q], rtol=1e-12,
                          atol=1e-14, what=f"nan, dim={dim}")
    xs, qt = mg.tensor(x, requires_grad=True), mg.tensor(q, requires_grad=True)
    assert mg.gradcheck(lambda u, w: mg.quantile(u, w, 1), [xs, qt])
    assert mg.gradgradcheck(lambda u, w: mg.quantile(u, w, 1), [xs, qt])
    for mode in MODES[1:]:  # no gradient in q, as torch's
        y = mg.quantile(xs, qt, 1, interpolation=mode)
        assert mg.grad(y.sum(), qt, allow_unused=True)[0] is None


def test_quantile_of_0d_and_keepdim_shapes():
    x = mg.tensor(2.0)
    assert mg.quantile(x, 0.3).shape == () and mg.quantile(x, 0.3).item() == 2.0
    assert mg.quantile(x, 0.3, dim=0, keepdim=True).shape == ()
    y = mg.zeros(2, 3, 4)
    q = mg.tensor([0.2, 0.8])
    assert mg.quantile(y, 0.5, keepdim=True).shape == (1, 1, 1)
    assert mg.quantile(y, q, keepdim=True).shape == (2, 1, 1, 1)
    assert mg.quantile(y, q, dim=1).shape == (2, 2, 4)
    assert mg.quantile(y, q, dim=1, keepdim=True).shape == (2, 2, 1, 4)
    assert mg.quantile(y, mg.tensor(0.5), dim=-1).shape == (2, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: mg.quantile(mg.tensor([1, 2, 3]), 0.5), TypeError, "float32 or float64"),
    (lambda: mg.quantile(mg.zeros(3), 1.5), ValueError, r"q must be in \[0, 1\], got 1.5"),
    (lambda: mg.quantile(mg.zeros(3), -0.1), ValueError, r"q must be in \[0, 1\]"),
    (lambda: mg.quantile(mg.zeros(3), nan), ValueError, r"q must be in \[0, 1\]"),
    (lambda: mg.quantile(mg.zeros(3), mg.tensor([0.5, 1.5])), ValueError,
     r"q values must be in \[0, 1\]"),
    (lambda: mg.quantile(mg.zeros(3), mg.tensor([[0.5]])), ValueError, "1-d tensor"),
    (lambda: mg.quantile(mg.zeros(3), mg.tensor([0.5], dtype=mg.float64)), TypeError,
     "q must have the input's dtype"),
    (lambda: mg.quantile(mg.zeros(3), [0.1, 0.5]), TypeError, "q must be a number or a tensor"),
    (lambda: mg.quantile(mg.zeros(3), 0.5, interpolation="cubic"), ValueError,
     "interpolation must be one of linear, lower, higher, midpoint, nearest"),
    (lambda: mg.quantile(mg.zeros(0), 0.5), ValueError, "empty"),
    (lambda: mg.nanquantile(mg.zeros(3, 0), 0.5, dim=0), ValueError, "empty"),
    (lambda: mg.quantile(mg.zeros(2, 3), 0.5, dim=2), IndexError, "out of range"),
])
def test_quantile_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
