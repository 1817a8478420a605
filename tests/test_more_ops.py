"""Everyday torch ops beyond the op table's gradient checks: their argument errors (named, as
torch's are), the ops with no gradient (checked against torch's values), and the copies-not-views
rule where torch copies. The differentiable ones are in ``op_specs.SPECS``."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def _pair(values, dtype=np.float32):
    a = np.asarray(values, dtype=dtype)
    return mg.tensor(a), torch.tensor(a)


def _same(got, want):
    want = want.detach().numpy()
    assert got.dtype == want.dtype, f"dtype {got.dtype}, torch {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, torch {want.shape}"
    np.testing.assert_array_equal(got.numpy(), want)


# ------------------------------------------------------------------ flip, roll, repeat, t
@pytest.mark.parametrize("call,error,match", [
    (lambda x: x.t(), ValueError, r"t: expects a tensor with <= 2 dimensions, got 3"),
    (lambda x: x.flip(0, -3), ValueError, r"flip: dims \(0, -3\) name a dim more than once"),
    (lambda x: x.flip(3), IndexError, r"flip: dimension 3 is out of range for a tensor of rank 3"),
    (lambda x: x.flip(), TypeError, "flip: give the dims once"),
    (lambda x: mg.roll(x, (1, 2), 0), ValueError, "roll: shifts .* must have the same length"),
    (lambda x: mg.roll(x, (1, 2)), ValueError, "roll: 2 shifts need as many dims"),
    (lambda x: x.roll(1, 5), IndexError, "roll: dimension 5 is out of range"),
    (lambda x: x.repeat(2, 2), ValueError, r"repeat: 2 sizes \(2, 2\) for a tensor of 3 dims"),
    (lambda x: x.repeat(1, -1, 1), ValueError, "repeat: sizes must be ints >= 0"),
    (lambda x: x.view_as(mg.zeros(5)), ValueError, "reshape: cannot reshape"),
])
def test_shape_op_errors_name_the_problem(call, error, match):
    x = mg.ones(1, 2, 3)
    with pytest.raises(error, match=match):
        call(x)
    with pytest.raises(Exception):  # torch refuses the same calls
        call(torch.ones(1, 2, 3))


def test_flip_roll_repeat_copy_as_torch():
    """torch's flip, roll and repeat return new memory: changing the result leaves x alone."""
    for op in (lambda x: x.flip(0), lambda x: x.roll(1, 0), lambda x: x.repeat(1, 1),
               lambda x: mg.flip(x, ())):
        x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
        op(x).zero_()
        np.testing.assert_array_equal(x.numpy(), [[1, 2], [3, 4]])


@pytest.mark.parametrize("values", [[[1, 2, 3], [4, 5, 6]], [True, False], 7])
def test_shape_ops_keep_integer_and_bool_dtypes(values):
    x, xt = _pair(values, np.asarray(values).dtype)
    _same(x.flip(tuple(range(x.ndim))), xt.flip(tuple(range(xt.ndim))))
    _same(x.roll(1), xt.roll(1))
    _same(x.repeat(*(2,) * (x.ndim + 1)), xt.repeat((2,) * (xt.ndim + 1)))
    _same(x.t(), xt.t())


@pytest.mark.parametrize("name", ["log1p", "expm1", "rsqrt", "reciprocal", "square", "neg"])
def test_elementwise_dtypes_and_edges_as_torch(name):
    """Integer tensors give float32 for the float ops (square and neg keep int64); 0 and the
    extremes as torch has them."""
    x, xt = _pair([0, 1, 3])
    i, it = _pair([0, 1, 3], np.int64)
    with np.errstate(divide="ignore"):
        got, got_i = getattr(mg, name)(x), getattr(mg, name)(i)
    np.testing.assert_allclose(got.numpy(), getattr(torch, name)(xt).numpy(), rtol=1e-6)
    _same(got_i, getattr(torch, name)(it))


def test_log1p_and_expm1_are_exact_for_tiny_values():
    x = mg.tensor([1e-10, -1e-12], dtype="float64")
    np.testing.assert_allclose(x.log1p().numpy(), [1e-10 - 5e-21, -1e-12 - 5e-25], rtol=1e-15)
    np.testing.assert_allclose(x.expm1().numpy(), [1e-10 + 5e-21, -1e-12 + 5e-25], rtol=1e-15)


# ------------------------------------------------------- cumsum, gather, masked_fill, lerp
@pytest.mark.parametrize("call,error,match", [
    (lambda L, x: x.gather(1, L.tensor([[0.0]])), TypeError, "gather: index must be an int64"),
    (lambda L, x: x.gather(1, L.tensor([0, 1])), ValueError, "gather: index of shape .* must "
     "have the rank of the input"),
    (lambda L, x: x.gather(1, L.tensor([[0], [1], [0]])), ValueError,
     r"larger than the input \(2, 3\) at dimension 0"),
    (lambda L, x: x.gather(1, L.tensor([[0], [3]])), IndexError,
     "gather: index 3 is out of bounds for dimension 1 with size 3"),
    (lambda L, x: x.gather(1, L.tensor([[0], [-1]])), IndexError,
     "gather: index -1 is out of bounds for dimension 1 with size 3"),
    (lambda L, x: x.gather(2, L.tensor([[0]])), IndexError, "gather: dimension 2 is out of range"),
    (lambda L, x: x.masked_fill(L.tensor([1, 0, 1]), 0.0), TypeError,
     "masked_fill: the mask must be a bool tensor, got int64"),
    (lambda L, x: x.masked_fill(L.tensor([True, False, True]), L.tensor([1.0, 2.0])),
     ValueError, "masked_fill: the value must be a number or a 0-d tensor"),
    (lambda L, x: x.masked_fill(L.tensor([True, False]), 0.0), ValueError,
     "cannot be broadcast"),
    (lambda L, x: x.lerp(L.ones(2, 3, dtype=L.float64), 0.5), TypeError,
     "lerp: expected end of dtype float32"),
    (lambda L, x: x.lerp(L.ones(2, 3), L.ones(2, 3, dtype=L.float64)), TypeError,
     "lerp: expected a weight of dtype float32"),
    (lambda L, x: x.long().lerp(L.ones(2, 3).long(), 0.5), TypeError,
     "lerp: expected a floating-point tensor"),
    (lambda L, x: x.lerp(1.0, 0.5), TypeError, "lerp: end must be a tensor"),
    (lambda L, x: x.cumsum(2), IndexError, "cumsum: dimension 2 is out of range"),
])
def test_gather_masked_fill_lerp_cumsum_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(mg, mg.ones(2, 3))
    with pytest.raises(Exception):  # torch refuses the same calls
        call(torch, torch.ones(2, 3))


def test_gather_matches_torch_for_mixed_ranks_and_int32_and_repeats():
    x, xt = _pair([1.0, 2.0, 3.0])
    _same(mg.gather(x, 0, mg.tensor(2)), torch.gather(xt, 0, torch.tensor(2)))
    _same(x.gather(-1, mg.tensor([2, 2, 0], dtype="int32")),
          xt.gather(-1, torch.tensor([2, 2, 0], dtype=torch.int32)))
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    index = np.array([[0, 0, 3, 0, 2], [1, 1, 1, 1, 1]])
    x = mg.tensor(values, requires_grad=True)
    xt = torch.tensor(values, requires_grad=True)
    y, yt = x.gather(1, mg.tensor(index)), xt.gather(1, torch.tensor(index))
    _same(y, yt)
    w = np.arange(10, dtype=np.float32).reshape(2, 5)
    (y * mg.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    _same(x.grad, xt.grad)  # repeated indices add up; the unreached row gets 0


@pytest.mark.parametrize("values", [[1, 2, 3], [True, True, False], [1.5, -2.0]])
@pytest.mark.parametrize("dtype", [None, "int32", "float64"])
def test_cumsum_dtypes_as_torch(values, dtype):
    if dtype == "int32" and isinstance(values[0], float):
        values = [1, -2]
    x, xt = mg.tensor(values, dtype=dtype), torch.tensor(values, dtype=getattr(torch, dtype)
                                                          if dtype else None)
    _same(x.cumsum(0), xt.cumsum(0))
    _same(mg.cumsum(x, 0, dtype="float64"), torch.cumsum(xt, 0, dtype=torch.float64))
    _same(mg.cumsum(x[0], -1), torch.cumsum(xt[0], -1))  # 0-d


def test_masked_fill_values_and_dtypes_as_torch():
    x, xt = _pair([[0.5, -1.0, 2.0]])
    m = np.array([[True], [False]])
    _same(x.masked_fill(mg.tensor(m), float("-inf")),
          xt.masked_fill(torch.tensor(m), float("-inf")))  # the attention-mask idiom
    i, it = _pair([1, 2, 3], np.int64)
    mask = np.array([True, False, True])
    _same(i.masked_fill(mg.tensor(mask), 2.7), it.masked_fill(torch.tensor(mask), 2.7))
    _same(x.masked_fill(mg.tensor([True, False, False]), mg.tensor(4.0, dtype="float64")),
          xt.masked_fill(torch.tensor([True, False, False]), torch.tensor(4.0,
                                                                          dtype=torch.float64)))


def test_masked_fill_gradient_is_zero_where_filled():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = mg.tensor(0.0, requires_grad=True)
    (x.masked_fill(mg.tensor([True, False, True]), v) * mg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 2, 0])
    assert v.grad.item() == 4.0


def test_lerp_ends_are_exact():
    """weight 0 gives start and weight 1 gives end bit for bit, as torch's two-sided formula
    (in between torch fuses the multiply-add: equal to rounding)."""
    a, at = _pair([0.1, 1e8, -3.3])
    b, bt = _pair([0.7, 1.0, 1e-8])
    for w in (0.0, 1.0, 0.3, 0.9):
        for got, want in [(a.lerp(b, w), at.lerp(bt, w)),
                          (a.lerp(b, mg.full((3,), w)), at.lerp(bt, torch.full((3,), w)))]:
            if w in (0.0, 1.0):
                _same(got, want)
            else:
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


# --------------------------------------------------- rounding, tests, remainder, floor_divide
SPECIAL = [1.5, -2.5, 0.5, -0.5, -0.0, 2.7, -3.2, 1e30, float("nan"), float("inf"), float("-inf")]


def _same_bits(got, want):
    """Values, dtype and signed zeros as torch's (NaN where torch has NaN)."""
    want = want.detach().numpy()
    got = got.numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    same = ((got == want) & (np.signbit(got) == np.signbit(want))) | (np.isnan(got) &
                                                                      np.isnan(want))
    assert same.all(), f"minigrad {got[~same]}, torch {want[~same]}"


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc", "isnan",
                                  "isfinite", "isinf"])
def test_rounding_and_tests_match_torch(name):
    for dtype in (np.float32, np.float64):
        x, xt = _pair(SPECIAL, dtype)
        _same_bits(getattr(mg, name)(x), getattr(torch, name)(xt))
        _same_bits(getattr(x, name)(), getattr(xt, name)())
    for values in ([3, -2, 0], [True, False]):  # integer and bool tensors, as torch has them
        i, it = _pair(values, np.asarray(values).dtype)
        want = _run(lambda: getattr(torch, name)(it))
        got = _run(lambda: getattr(mg, name)(i))
        if isinstance(want, Exception):
            assert isinstance(got, Exception), f"torch raised {want!r}"
        else:
            _same(got, want)


def _run(f):
    try:
        return f()
    except Exception as e:  # noqa: BLE001 - compared with torch's
        return e


@pytest.mark.parametrize("decimals", [1, 2, 3, -1, -2])
def test_round_decimals_matches_torch(decimals):
    values = np.random.default_rng(decimals + 5).standard_normal(1000) * 300
    for dtype in (np.float32, np.float64):
        x, xt = _pair(values, dtype)
        _same_bits(x.round(decimals=decimals), xt.round(decimals=decimals))


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc"])
def test_rounding_gradient_is_zero_as_torch(name):
    x = mg.tensor([0.3, -1.7, 2.5], requires_grad=True)
    xt = torch.tensor([0.3, -1.7, 2.5], requires_grad=True)
    (getattr(x, name)() * 3).sum().backward()
    (getattr(xt, name)() * 3).sum().backward()
    _same(x.grad, xt.grad)


def test_isnan_isfinite_carry_no_gradient():
    x = mg.tensor([1.0, float("nan")], requires_grad=True)
    for y in (x.isnan(), mg.isfinite(x), x.isinf()):
        assert y.dtype == np.bool_ and not y.requires_grad


# a, b pairs for % and //: tensors, numbers on either side, mixed dtypes
DIVISION_CASES = {
    "f32 % f32": lambda L: (L.tensor([5.0, -5.0, 5.0, -5.0, 0.5, -0.5]),
                            L.tensor([3.0, 3.0, -3.0, -3.0, -0.25, 0.25])),
    "f32 % 1.5": lambda L: (L.tensor([-2.0, -0.0, 0.7, 4.5]), 1.5),
    "f32 % -2": lambda L: (L.tensor([-3.0, 0.0, 3.0, 4.0]), -2),
    "7 % f32": lambda L: (7, L.tensor([2.0, -2.0, 0.5])),
    "int % int": lambda L: (L.tensor([7, -7, 7, -7]), L.tensor([3, 3, -3, -3])),
    "int % 2.5": lambda L: (L.tensor([7, -7]), 2.5),
    "-7 % int": lambda L: (-7, L.tensor([3, -3])),
    "f32 % 0": lambda L: (L.tensor([1.0, -1.0, 0.0]), 0.0),
    "f64 % f32": lambda L: (L.tensor([5.5, -1.0], dtype=L.float64), L.tensor([2.0, 2.0])),
    "bcast": lambda L: (L.tensor([[5.5], [-1.0]]), L.tensor([2.0, -3.0, 0.5])),
}


@pytest.mark.parametrize("op", ["%", "//", "remainder", "floor_divide"])
@pytest.mark.parametrize("case", list(DIVISION_CASES))
def test_remainder_and_floor_divide_match_torch(case, op):
    def call(L):
        a, b = DIVISION_CASES[case](L)
        if op == "%":
            return a % b
        if op == "//":
            return a // b
        return getattr(L, op)(a, b)
    with np.errstate(all="ignore"):
        got = call(mg)
    _same_bits(got, call(torch))


@pytest.mark.parametrize("op", ["%", "//"])
def test_integer_division_by_zero_raises_as_torch(op):
    # torch raises RuntimeError("ZeroDivisionError"), minigrad Python's ZeroDivisionError
    for L, error in ((torch, RuntimeError), (mg, ZeroDivisionError)):
        a, b = L.tensor([1, 2]), L.tensor([1, 0])
        with pytest.raises(error, match="ZeroDivisionError" if L is torch else "by zero"):
            a % b if op == "%" else a // b
        with pytest.raises(error):
            a % 0 if op == "%" else a // 0


def test_remainder_gradients_match_torch():
    a0, b0 = np.array([5.0, -7.0, 0.5]), np.array([3.0, 2.0, -0.2])
    grads = {}
    for L in (torch, mg):
        a = L.tensor(a0, requires_grad=True)
        b = L.tensor(b0, requires_grad=True)
        (L.remainder(a, b) * L.tensor([1.0, 2.0, 3.0], dtype=L.float64)).sum().backward()
        grads[L] = (a.grad, b.grad)
    for got, want in zip(grads[mg], grads[torch]):
        _same(got, want)  # 1 for a; -floor(a / b) for b


def test_floor_divide_has_no_gradient_as_torch():
    for L in (torch, mg):
        x = L.tensor([1.5, -2.0], requires_grad=True)
        y = x // 2
        assert y.requires_grad  # torch records it, and refuses the backward
        with pytest.raises(RuntimeError, match="floor_divide"):
            y.sum().backward()
    x = mg.tensor([1.5, -2.0], requires_grad=True)
    (x.detach() // 2 + x).sum().backward()  # detached operands: fine
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1])


# -------------------------------------------- all/any, trigonometry's edges, logaddexp, ...
@pytest.mark.parametrize("values", [[[1, 0], [1, 1]], [[0.0, 0.0]], [True], 3, []])
def test_all_and_any_are_bool_tensors_with_dims_as_torch(values):
    x, xt = _pair(values, np.asarray(values).dtype if np.size(values) else np.float32)
    _same(x.all(), xt.all())
    _same(mg.any(x), torch.any(xt))
    if x.ndim:
        _same(x.all(dim=0), xt.all(dim=0))
        _same(x.any(-1, keepdim=True), xt.any(-1, keepdim=True))


def test_edges_match_torch():
    inf, nan = float("inf"), float("nan")
    a, at = _pair([-inf, inf, 1000.0, 1.0, -inf])
    b, bt = _pair([-inf, 1.0, 1000.0, nan, 5.0])
    for fn in ("logaddexp", "atan2", "hypot"):  # infinities and NaN where torch has them;
        got, want = getattr(mg, fn)(a, b), getattr(torch, fn)(at, bt)  # finite values to an ulp
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1.2e-7, err_msg=fn)
    x, xt = _pair([0.0, 0.0, 2.0, -1.0])
    y, yt = _pair([0.0, nan, 3.0, 0.0])
    np.testing.assert_array_equal(mg.xlogy(x, y).numpy(), torch.xlogy(xt, yt).numpy())
    p, pt = _pair([0.0, 1e-9, 0.5, 1.0])
    np.testing.assert_allclose(mg.logit(p, eps=1e-6).numpy(), torch.logit(pt, eps=1e-6).numpy(),
                               rtol=1e-6)
    np.testing.assert_array_equal(mg.logit(p).numpy(), torch.logit(pt).numpy())
    v, vt = _pair([1.0, 8.0, 1024.0, 0.0, -1.0])
    for fn in ("log2", "exp2"):  # exact at powers of two, as torch's
        np.testing.assert_array_equal(getattr(mg, fn)(v).numpy(), getattr(torch, fn)(vt).numpy())
    v, vt = _pair([1.0, 8.0, 1000.0, 0.0, -1.0])  # NumPy's float32 log10(1000) is an ulp off
    np.testing.assert_allclose(mg.log10(v).numpy(), torch.log10(vt).numpy(), rtol=1.2e-7)


def test_numpy_names_of_the_inverse_functions_are_the_same_ops():
    for short, long in (("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"),
                        ("atan2", "arctan2"), ("asinh", "arcsinh"), ("acosh", "arccosh"),
                        ("atanh", "arctanh")):
        assert getattr(mg, short) is getattr(mg, long)
        assert getattr(mg.Tensor, short) is getattr(mg.Tensor, long)


# ------------------------------- running extremes, counting, unique, searchsorted, diagonals
def test_cummax_cummin_indices_are_torchs_on_ties_and_nan():
    nan = float("nan")
    x, xt = _pair([[1.0, 3.0, 3.0, 2.0, nan, 5.0, nan, 0.0], [2.0, 2.0, 1.0, 4.0, 4.0, 0.0, 9.0,
                                                               9.0]])
    for fn in ("cummax", "cummin"):
        got, want = getattr(x, fn)(1), getattr(xt, fn)(1)
        _same(got.indices, want.indices)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())


def test_counting_and_searching_match_torch():
    x, xt = _pair([[0, 3, 3], [1, 0, 3]], np.int64)
    _same(x.count_nonzero(), xt.count_nonzero())
    _same(mg.count_nonzero(x, dim=1), torch.count_nonzero(xt, dim=1))
    _same(mg.bincount(x[0]), torch.bincount(xt[0]))
    _same(mg.bincount(x[1], minlength=6), torch.bincount(xt[1], minlength=6))
    w, wt = _pair([0.5, 1.0, 2.0], np.float64)
    _same(mg.bincount(x[0], weights=w), torch.bincount(xt[0], weights=wt))
    for got, want in zip(x.unique(return_inverse=True, return_counts=True),
                         xt.unique(return_inverse=True, return_counts=True)):
        _same(got, want)
    s, st = _pair([1.0, 3.0, 3.0, 5.0])
    v, vt = _pair([[0.0, 3.0], [4.0, 9.0]])
    _same(mg.searchsorted(s, v), torch.searchsorted(st, vt))
    _same(mg.searchsorted(s, v, right=True), torch.searchsorted(st, vt, right=True))


def test_diagonal_helpers_and_repeats_match_torch():
    a = np.arange(24.0).reshape(2, 3, 4)
    x, xt = _pair(a)
    for args in ((0, 1, 2), (1, 2, 0), (-1, 0, 2), (2, -1, -2)):
        _same(x.diagonal(*args), xt.diagonal(*args))
    _same(mg.diag(x[0], 1), torch.diag(xt[0], 1))
    _same(mg.diag_embed(x[:, 0], -1), torch.diag_embed(xt[:, 0], -1))
    _same(x[0].trace(), xt[0].trace())
    _same(x.repeat_interleave(2), xt.repeat_interleave(2))
    _same(x.repeat_interleave(mg.tensor([0, 2, 1]), dim=1),
          xt.repeat_interleave(torch.tensor([0, 2, 1]), dim=1))


@pytest.mark.parametrize("call,error,match", [
    (lambda x: x.diagonal(0, 1, 1), ValueError, r"diagonal: needs two different dims"),
    (lambda x: mg.diag(x[None]), ValueError, r"diag: expects a 1-d or 2-d tensor"),
    (lambda x: x.repeat_interleave(mg.tensor([1, 2])), ValueError,
     r"repeat_interleave: repeats must be a whole number >= 0 or 6 of them"),
    (lambda x: x.repeat_interleave(-1), ValueError, r"repeat_interleave: repeats must be"),
    (lambda x: mg.bincount(x.long()), ValueError, r"bincount: expects a 1-d int tensor"),
    (lambda x: mg.bincount(mg.tensor([1, -1])), ValueError, r"bincount: the values must be"),
    (lambda x: mg.meshgrid(x, x), ValueError, r"meshgrid: expects 0-d or 1-d tensors"),
    (lambda x: mg.meshgrid(x[0], indexing="yx"), ValueError, r"indexing must be 'ij' or 'xy'"),
])
def test_more_errors_name_the_problem(call, error, match):
    x = mg.ones(2, 3)
    with pytest.raises(error, match=match):
        call(x)
    with pytest.raises(Exception):
        call(torch.ones(2, 3))
