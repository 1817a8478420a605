"""Everyday torch names a newcomer reaches for: comparisons and logic as functions and methods,
isclose/allclose/equal, nan_to_num, masked_select, select, movedim/swapaxes, addcmul/addcdiv,
mm/mv/dot, vstack/hstack, unflatten, sinc/fmod/frac, the method aliases (x.mul, x.div(...,
rounding_mode=), x.add(..., alpha=)), the factories from_numpy/as_tensor/empty/randperm,
inference_mode, and the memory queries (contiguous, stride, new_*), each against torch."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

A = [[1.0, -2.0, 0.5], [3.0, float("nan"), -0.0]]
B = [[1.0, 2.0, 0.5], [-3.0, float("nan"), 0.0]]


def _pair(values, dtype=np.float64):
    a = np.asarray(values, dtype=dtype)
    return mg.tensor(a), torch.tensor(a)


def _same(got, want):
    if isinstance(want, torch.Tensor):
        want = want.detach().numpy()
        assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype)
        np.testing.assert_array_equal(got.numpy(), want)
    else:
        assert got == want


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "logical_and",
                                  "logical_or", "logical_xor", "isclose"])
def test_binary_comparisons_and_logic(name):
    (a, at), (b, bt) = _pair(A), _pair(B)
    _same(getattr(mg, name)(a, b), getattr(torch, name)(at, bt))
    _same(getattr(a, name)(b), getattr(at, name)(bt))
    if name in ("eq", "ne", "lt", "le", "gt", "ge"):
        _same(getattr(mg, name)(a, 0.5), getattr(torch, name)(at, 0.5))


def test_predicates_match_torch():
    (a, at), (b, bt) = _pair(A), _pair(B)
    _same(mg.logical_not(a), torch.logical_not(at))
    for x, y, xt, yt in ((a, a, at, at), (a, b, at, bt)):
        for eq_nan in (False, True):
            _same(mg.allclose(x, y, equal_nan=eq_nan), torch.allclose(xt, yt, equal_nan=eq_nan))
        _same(mg.equal(x, y), torch.equal(xt, yt))
    c, ct = _pair([[1.0, 2.0]])
    _same(mg.equal(c, c), torch.equal(ct, ct))
    _same(mg.equal(c, c[0]), torch.equal(ct, ct[0]))


def test_nan_to_num_and_its_gradient():
    a = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    x, xt = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for kw in ({}, dict(nan=1.5, posinf=9.0, neginf=-9.0)):
        _same(mg.nan_to_num(x, **kw), torch.nan_to_num(xt, **kw))
    mg.nan_to_num(x).sum().backward()
    torch.nan_to_num(xt).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_selection_and_moving_dims():
    a = np.arange(24.0).reshape(2, 3, 4)
    x, xt = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    _same(x.masked_select(x > 10), xt.masked_select(xt > 10))
    _same(mg.masked_select(x, mg.tensor([True, False, True, False])),
          torch.masked_select(xt, torch.tensor([True, False, True, False])))
    _same(x.select(1, -1), xt.select(1, -1))
    for src, dst in ((0, -1), ((0, 1), (2, 0)), (-1, 0)):
        _same(x.movedim(src, dst), xt.movedim(src, dst))
        _same(mg.moveaxis(x, src, dst), torch.moveaxis(xt, src, dst))
    _same(x.swapaxes(0, 2), xt.swapaxes(0, 2))
    _same(x.unflatten(2, (2, -1)), xt.unflatten(2, (2, -1)))
    (x.masked_select(x > 10).sum() + x.select(1, 0).sum()).backward()
    (xt.masked_select(xt > 10).sum() + xt.select(1, 0).sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_arithmetic_names_match_torch():
    (a, at), (b, bt) = _pair([[1.0, -2.0], [3.0, 4.0]]), _pair([[0.5, 2.0], [-1.0, 3.0]])
    _same(mg.addcmul(a, a, b, value=0.5), torch.addcmul(at, at, bt, value=0.5))
    _same(a.addcdiv(a, b, value=2), at.addcdiv(at, bt, value=2))
    _same(mg.mm(a, b), torch.mm(at, bt))
    _same(mg.mv(a, b[0]), torch.mv(at, bt[0]))
    _same(mg.dot(a[0], b[0]), torch.dot(at[0], bt[0]))
    _same(a.mul(b), at.mul(bt))
    _same(mg.multiply(a, 3), torch.multiply(at, 3))
    _same(a.div(b), at.div(bt))
    _same(a.add(b, alpha=2), at.add(bt, alpha=2))
    _same(a.sub(b, alpha=2), at.sub(bt, alpha=2))
    _same(mg.subtract(a, b), torch.subtract(at, bt))
    _same(mg.negative(a), torch.negative(at))
    _same(mg.absolute(a), torch.absolute(at))
    _same(mg.sgn(a), torch.sgn(at))
    for mode in ("trunc", "floor"):
        _same(mg.divide(a, b, rounding_mode=mode), torch.divide(at, bt, rounding_mode=mode))
        i, it = _pair([-7, 7, 5], np.int64)
        _same(mg.divide(i, 2, rounding_mode=mode), torch.divide(it, 2, rounding_mode=mode))
    f, ft = _pair([-5.5, 5.5, -0.25, 2.0])
    _same(mg.fmod(f, 2), torch.fmod(ft, 2))
    _same(mg.frac(f), torch.frac(ft))
    np.testing.assert_allclose(mg.sinc(f).numpy(), torch.sinc(ft).numpy(), rtol=1e-12)
    _same(mg.sinc(mg.tensor([0.0])), torch.sinc(torch.tensor([0.0])))


def test_stacking_matches_torch():
    (a, at), (b, bt) = _pair([1.0, 2.0]), _pair([3.0, 4.0])
    _same(mg.vstack([a, b]), torch.vstack([at, bt]))
    _same(mg.hstack([a, b]), torch.hstack([at, bt]))
    m, mt = _pair([[1.0], [2.0]])
    _same(mg.hstack([m, m]), torch.hstack([mt, mt]))


def test_factories_and_memory_queries():
    arr = np.arange(6, dtype=np.int32).reshape(2, 3)
    t = mg.from_numpy(arr)
    arr[0, 0] = 7  # shares memory, as torch.from_numpy
    assert t.dtype == np.int32 and int(t[0, 0].item()) == 7
    assert mg.as_tensor(t) is t
    assert mg.as_tensor(arr).data is arr
    assert mg.as_tensor([1, 2]).dtype == torch.as_tensor([1, 2]).numpy().dtype
    assert mg.empty(2, 3).shape == (2, 3) and mg.empty_like(t).dtype == np.int32
    mg.manual_seed(0)
    p = mg.randperm(10)
    assert p.dtype == np.int64 and sorted(p.numpy().tolist()) == list(range(10))
    x, xt = mg.zeros(2, 3), torch.zeros(2, 3)
    for y, yt in ((x, xt), (x.T, xt.T)):
        assert y.stride() == yt.stride() and y.is_contiguous() == yt.is_contiguous()
        assert y.contiguous().is_contiguous()
    assert (x.element_size(), x.nbytes, x.itemsize) == (xt.element_size(), xt.nbytes,
                                                       xt.itemsize)
    assert x.new_ones(2).dtype == np.float32 and x.new_full((2,), 7).numpy().tolist() == [7, 7]
    assert mg.tensor([1]).type_as(x).dtype == np.float32
    assert mg.is_tensor(x) and not mg.is_tensor(arr) and x.is_floating_point()
    with mg.inference_mode():
        assert not (mg.ones(1, requires_grad=True) * 2).requires_grad


@pytest.mark.parametrize("call,error,match", [
    (lambda x: mg.mm(x, x[0]), ValueError, r"mm: expects two matrices"),
    (lambda x: mg.dot(x, x), ValueError, r"dot: expects two 1-d tensors"),
    (lambda x: x.select(1, 3), IndexError, r"select: index 3 is out of range"),
    (lambda x: x.movedim((0, 1), 0), ValueError, r"movedim: source .* must name as many"),
    (lambda x: x.unflatten(1, (2, 2)), ValueError, r"unflatten: sizes \(2, 2\) do not fill"),
    (lambda x: x.masked_select(x), TypeError, r"masked_select: mask must be a bool tensor"),
    (lambda x: mg.divide(x, x, rounding_mode="round"), ValueError, r"rounding_mode must be"),
])
def test_errors_name_the_problem(call, error, match):
    x = mg.ones(2, 3)
    with pytest.raises(error, match=match):
        call(x)
    with pytest.raises(Exception):
        call(torch.ones(2, 3))
