"""sort/argsort/topk/kthvalue/median, prod/cumprod, scatter/scatter_add/index_add/index_select,
tril/triu, bmm/outer, unbind/diff/narrow and nonzero beyond the op table's gradient checks:
their indices (no gradient) against torch's, ties and NaN, zeros in products, integer dtypes,
and the argument errors (named, as torch's are). The differentiable values are in
``op_specs.SPECS``."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def _pair(values, dtype=np.float64):
    a = np.asarray(values, dtype=dtype)
    return mg.tensor(a), torch.tensor(a)


def _same(got, want, nan=False):
    want = want.detach().numpy()
    assert got.dtype == want.dtype, f"dtype {got.dtype}, torch {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, torch {want.shape}"
    if nan:
        np.testing.assert_array_equal(np.isnan(got.numpy()), np.isnan(want))
        np.testing.assert_array_equal(np.nan_to_num(got.numpy()), np.nan_to_num(want))
    else:
        np.testing.assert_array_equal(got.numpy(), want)


# Ties (two 0.5s, two 2s) and a NaN, which torch sorts as the largest value.
TIES = [[0.5, -1.0, 0.5, 2.0, np.nan, 2.0], [3.0, 3.0, -2.0, 0.0, 1.0, 0.0]]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_is_torchs_stable_sort_with_ties_and_nan(dim, descending):
    x, xt = _pair(TIES)
    got = x.sort(dim, descending)
    want = xt.sort(dim=dim, descending=descending, stable=True)
    _same(got.values, want.values, nan=True)
    _same(got.indices, want.indices)
    _same(x.argsort(dim, descending), xt.argsort(dim=dim, descending=descending, stable=True))
    _same(mg.sort(x, dim=dim, descending=descending).indices, want.indices)


def test_sort_gradient_follows_the_values_to_their_places():
    x = mg.tensor([3.0, -1.0, 2.0], requires_grad=True)
    (x.sort(descending=True).values * mg.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 100.0, 10.0])


@pytest.mark.parametrize("largest", [True, False])
def test_topk_values_and_indices_match_torch(largest):
    a = np.random.default_rng(0).standard_normal((4, 7))
    x, xt = _pair(a)
    for dim in (0, 1):
        for k in (0, 1, 3, a.shape[dim]):
            got, want = x.topk(k, dim, largest), xt.topk(k, dim, largest)
            _same(got.values, want.values)
            _same(got.indices, want.indices)


def test_topk_puts_nan_first_as_the_largest():
    x, xt = _pair([1.0, np.nan, 3.0])
    _same(x.topk(2).values, xt.topk(2).values, nan=True)
    _same(x.topk(2).indices, xt.topk(2).indices)


@pytest.mark.parametrize("k,dim", [(1, 0), (3, 1), (6, 1), (2, 0)])
def test_kthvalue_matches_torch(k, dim):
    a = np.random.default_rng(1).standard_normal((2, 6))
    x, xt = _pair(a)
    for keepdim in (False, True):
        got, want = x.kthvalue(k, dim, keepdim), xt.kthvalue(k, dim, keepdim)
        _same(got.values, want.values)
        _same(got.indices, want.indices)


def test_median_is_the_lower_middle_and_nan_wins_as_in_torch():
    even, even_t = _pair([4.0, 1.0, 3.0, 2.0])
    _same(even.median(), even_t.median())  # 2, where numpy's median is 2.5
    x, xt = _pair(TIES)
    _same(x.median(), xt.median(), nan=True)
    for dim in (0, 1):
        got, want = x.median(dim), xt.median(dim)
        _same(got.values, want.values, nan=True)
        _same(got.indices, want.indices)
    got, want = _pair(7.0)[0].median(0), _pair(7.0)[1].median(0)
    _same(got.values, want.values)
    _same(got.indices, want.indices)


def test_sorts_of_integer_tensors_keep_their_dtype():
    x, xt = _pair([[3, 1, 2], [0, 5, 5]], np.int64)
    _same(x.sort(1).values, xt.sort(1).values)
    _same(x.topk(2).values, xt.topk(2).values)
    _same(x.median(1).values, xt.median(1).values)


@pytest.mark.parametrize("call,error,match", [
    (lambda x: x.topk(4), ValueError, r"topk: k=4 must be a whole number in \[0, 3\]"),
    (lambda x: x.topk(-1), ValueError, r"topk: k=-1"),
    (lambda x: x.kthvalue(0), ValueError, r"kthvalue: k=0 must be a whole number in \[1, 3\]"),
    (lambda x: x.kthvalue(4, 1), ValueError, r"kthvalue: k=4"),
    (lambda x: x.sort(2), IndexError, r"sort: dimension 2 is out of range"),
    (lambda x: x.narrow(1, 2, 2), IndexError, r"narrow: start 2 and length 2 exceed dim 1"),
    (lambda x: x.tril()[0].tril(), ValueError, r"tril: needs a tensor of at least 2 dims"),
    (lambda x: mg.bmm(x, x), ValueError, r"bmm: expects two 3-d tensors"),
    (lambda x: mg.bmm(x[None], x[None]), ValueError, r"bmm: shapes \(1, 2, 3\) and \(1, 2, 3\)"),
    (lambda x: mg.outer(x, x[0]), ValueError, r"outer: expects two 1-d tensors"),
    (lambda x: x.diff(-1), ValueError, r"diff: n=-1 must be a whole number >= 0"),
    (lambda x: x.index_select(1, mg.tensor([3])), IndexError,
     r"index_select: index 3 is out of bounds for dimension 1 with size 3"),
    (lambda x: x.index_select(1, mg.tensor([[0]])), ValueError, r"index_select: index must be"),
    (lambda x: x.index_select(1, mg.tensor([0.0])), TypeError, r"int64 or int32"),
    (lambda x: x.scatter_add(1, mg.tensor([[3]]), x), IndexError, r"scatter_add: index 3"),
    (lambda x: x.scatter_add(1, mg.tensor([0]), x), ValueError, r"must have the rank"),
    (lambda x: x.scatter_add(1, mg.tensor([[0]]), x.double()), TypeError,
     r"scatter_add: the tensor \(float32\) and the source \(float64\) must have the same dtype"),
    (lambda x: x.scatter(1, mg.tensor([[0, 0]]), x), ValueError,
     r"scatter: index names some positions more than once"),
    (lambda x: x.scatter(1, mg.tensor([[0]])), TypeError, r"scatter: give either src"),
    (lambda x: x.index_add(0, mg.tensor([0]), mg.ones(2, 3)), ValueError,
     r"index_add: source has shape \(2, 3\), expected \(1, 3\)"),
])
def test_argument_errors_name_the_problem(call, error, match):
    x = mg.ones(2, 3)
    with pytest.raises(error, match=match):
        call(x)
    if "scatter: index names" not in match:  # torch leaves duplicate scatters undefined
        with pytest.raises(Exception):  # torch refuses the same calls
            call(torch.ones(2, 3))


def test_median_of_nothing_is_refused():
    with pytest.raises(ValueError, match="median: the tensor is empty"):
        mg.zeros(0).median()
    with pytest.raises(IndexError, match="median: dim 1 is empty"):
        mg.zeros(2, 0).median(1)


# ------------------------------------------------------------------------- prod, cumprod
ZEROS = [[2.0, 0.0, 3.0, -1.5], [0.0, 1.5, 0.0, 2.0], [1.0, -2.0, 0.5, 3.0]]


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_derivatives_at_zeros_match_torch(dim):
    """One zero in a row: the gradient at it is the product of the others; two zeros: all 0.
    Second derivatives too (torch handles zeros exactly in its own formula)."""
    x, xt = (t.requires_grad_() for t in _pair(ZEROS))
    y = x.prod() if dim is None else x.prod(dim)
    yt = xt.prod() if dim is None else xt.prod(dim)
    w = np.random.default_rng(2).standard_normal(yt.shape)
    g, = mg.grad((y * mg.tensor(w)).sum(), x, create_graph=True)
    gt, = torch.autograd.grad((yt * torch.tensor(w)).sum(), xt, create_graph=True)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-12, atol=1e-12)
    gg, = mg.grad((g * g).sum(), x)
    ggt, = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1])
def test_cumprod_derivatives_at_zeros_match_torch(dim):
    x, xt = (t.requires_grad_() for t in _pair(ZEROS))
    w = np.random.default_rng(3).standard_normal((3, 4))
    g, = mg.grad((x.cumprod(dim) * mg.tensor(w)).sum(), x, create_graph=True)
    gt, = torch.autograd.grad((xt.cumprod(dim) * torch.tensor(w)).sum(), xt, create_graph=True)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-12, atol=1e-12)
    gg, = mg.grad((g * g).sum(), x)
    ggt, = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("values,dtype", [([[1, 2], [3, 4]], np.int32), ([True, False], bool),
                                          ([True, True], bool), ([], np.float32)])
def test_prod_and_cumprod_dtypes_and_empty_match_torch(values, dtype):
    x, xt = _pair(values, dtype)
    _same(x.prod(), xt.prod())
    _same(x.cumprod(0), xt.cumprod(0))
    _same(x.prod(0, keepdim=True), xt.prod(0, keepdim=True))
    _same(x.prod(dtype=mg.float64), xt.prod(dtype=torch.float64))


# ------------------------------------------------------------------------------ scatter
def test_scatter_one_hot_and_in_place_forms_match_torch():
    labels = np.array([[2], [0], [3]])
    _same(mg.zeros(3, 4).scatter(1, mg.tensor(labels), 1.0),
          torch.zeros(3, 4).scatter(1, torch.tensor(labels), 1.0))
    x, xt = mg.zeros(3, 4), torch.zeros(3, 4)
    x.scatter_(1, mg.tensor(labels), value=2.0)
    xt.scatter_(1, torch.tensor(labels), value=2.0)
    _same(x, xt)
    idx = np.array([[0, 1, 1, 0], [2, 2, 0, 0]])
    src = np.arange(8, dtype=np.float32).reshape(2, 4)
    x.scatter_add_(0, mg.tensor(idx), mg.tensor(src))
    xt.scatter_add_(0, torch.tensor(idx), torch.tensor(src))
    _same(x, xt)
    x.index_add_(1, mg.tensor([3, 3]), mg.ones(3, 2), alpha=0.5)
    xt.index_add_(1, torch.tensor([3, 3]), torch.ones(3, 2), alpha=0.5)
    _same(x, xt)


def test_scatter_add_sends_the_gradient_back_to_each_source():
    x = mg.zeros(3, requires_grad=True)
    src = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x.scatter_add(0, mg.tensor([2, 0, 2, 1]), src)
    (y * mg.tensor([10.0, 20.0, 30.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(src.grad.numpy(), [30.0, 10.0, 30.0, 20.0])


# -------------------------------------------------------------- unbind, diff, nonzero, ...
def test_diff_with_prepend_append_and_bools_match_torch():
    x, xt = _pair([[1.0, 4.0, 9.0], [2.0, 0.0, -1.0]])
    p, pt = _pair([[0.0], [5.0]])
    _same(x.diff(2, 1, prepend=p, append=p), xt.diff(2, 1, prepend=pt, append=pt))
    b, bt = _pair([True, True, False, True], bool)
    _same(b.diff(), bt.diff())


@pytest.mark.parametrize("values", [[[0, 1, 0], [2, 0, 3]], [0.0, 1.5, 0.0], 3.0, 0.0, []])
def test_nonzero_matches_torch(values):
    x, xt = _pair(values)
    _same(x.nonzero(), xt.nonzero())
    for got, want in zip(x.nonzero(as_tuple=True), xt.nonzero(as_tuple=True)):
        _same(got, want)


def test_unbind_narrow_tril_outer_bmm_match_torch():
    a = np.arange(24.0).reshape(2, 3, 4)
    x, xt = _pair(a)
    for got, want in zip(x.unbind(1), xt.unbind(1)):
        _same(got, want)
    _same(x.narrow(2, -3, 2), xt.narrow(2, -3, 2))
    _same(x.tril(-1), xt.tril(-1))
    _same(mg.triu(x, 2), torch.triu(xt, 2))
    _same(mg.outer(x[0, 0], x[1, 1]), torch.outer(xt[0, 0], xt[1, 1]))
    _same(mg.ger(x[0, 0], x[1, 1]), torch.ger(xt[0, 0], xt[1, 1]))
    _same(mg.bmm(x, x.transpose(1, 2)), torch.bmm(xt, xt.transpose(1, 2)))
    _same(x.index_select(0, mg.tensor(1)), xt.index_select(0, torch.tensor(1)))


def test_gradcheck_handles_empty_outputs():
    """An op may return nothing (topk with k = 0): the Jacobian is empty, not an error."""
    x = mg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    assert mg.gradcheck(lambda t: t.topk(0).values, [x])
    assert mg.gradgradcheck(lambda t: t.topk(0).values, [x])


# -------------------------------------------------------------------------------- einsum
@pytest.mark.parametrize("equation,shapes,match", [
    ("ij,jk->ik", [(2, 3), (4, 5)], r"subscript 'j' has sizes \[3, 4\]"),
    ("ij,jk->ik", [(2, 3)], r"names 2 operands, got 1"),
    ("ijk->i", [(2, 3)], r"subscripts 'ijk' do not fit an operand of shape \(2, 3\)"),
    ("ij->ii", [(2, 2)], r"output subscripts 'ii' must be distinct letters"),
    ("ij->k", [(2, 2)], r"output subscripts 'k' must be distinct letters of the inputs"),
    ("i1->i", [(2, 2)], r"subscripts must be letters"),
    ("....i->i", [(2, 2)], r"do not fit"),
])
def test_einsum_errors_name_the_problem(equation, shapes, match):
    xs = [mg.ones(*s) for s in shapes]
    with pytest.raises(ValueError, match=match):
        mg.einsum(equation, *xs)
    with pytest.raises(Exception):  # torch refuses the same calls
        torch.einsum(equation, *[torch.ones(*s) for s in shapes])


def test_einsum_takes_a_list_and_promotes_dtypes_as_matmul_does():
    """float64 with float32 computes in float64, as minigrad's matmul (torch refuses both)."""
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3, dtype=np.float32)
    got = mg.einsum("ij,j->i", [mg.tensor(a), mg.tensor(b)])
    _same(got, torch.einsum("ij,j->i", [torch.tensor(a), torch.tensor(b, dtype=torch.float64)]))
    _same(mg.tensor(a) @ mg.tensor(b), torch.tensor(a) @ torch.tensor(b, dtype=torch.float64))
