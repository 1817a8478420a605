"""dtype rules.

- A float32 model computes in float32 through every op, gradients (of any order) included: no
  float64 tensor appears anywhere in the forward graph or in the graph of its gradients.
- Mixed dtypes promote by torch's rule (``torch.result_type``), implemented once in
  ``functional._result_dtype``: categories bool < integer < float, the result in the highest
  category present; within it, dimensioned tensors decide over 0-d tensors, and those over
  Python numbers (numpy scalars count as numbers). A number of a *higher* category gives that
  category's default dtype (float32, int64), a 0-d tensor its own (int64 with a 0-d float64
  tensor is float64, as in torch). So a float32 tensor stays float32 with a Python float, a
  numpy float64 scalar or a 0-d float64 tensor (``loss.sum() / mask.sum()``); an int64 tensor
  with 0.5, with a float32 tensor or in true division is float32; float32 with a dimensioned
  float64 tensor is float64 (each input's gradient has that input's dtype: the engine casts a
  gradient back with the differentiable ``Cast`` op, so this holds under ``create_graph=True``
  as well).
- Float ops (exp, log, sqrt, sin, cos, tanh, sigmoid) give float32 for integer or bool tensors.
- Factories infer as torch: ``tensor`` of Python floats float32, ints int64, bools bool, of a
  numpy scalar its dtype; ``full`` takes its fill value's (bool, int64, float32).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minigrad
from op_specs import SPECS, SPEC_BY_NAME, as_tuple, draw_inputs

try:
    import torch
except ImportError:  # the rules below are still checked; only the comparisons with torch skip
    torch = None

f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
few_examples = settings(max_examples=max(3, settings().max_examples // 3))


def graph_tensors(roots):
    """Every tensor reachable from ``roots`` through recorded nodes (roots included)."""
    seen_nodes, seen, stack, out = set(), set(), list(roots), []
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        out.append(t)
        node = t._ctx
        if node is not None and id(node) not in seen_nodes:
            seen_nodes.add(id(node))
            stack.extend(node.inputs)
    return out


def assert_float_tensors_are(roots, dtype, what):
    bad = [(type(t._ctx).__name__ if t._ctx is not None else "leaf", t.shape, t.dtype)
           for t in graph_tensors(roots) if t.dtype.kind == "f" and t.dtype != dtype]
    assert not bad, f"{what}: tensors of another float dtype in the graph: {bad}"


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@few_examples
@given(data=st.data())
def test_float32_stays_float32(spec, data):
    arrays, kw = draw_inputs(data, spec, np.float32)
    xs = [minigrad.tensor(a, requires_grad=True) for a in arrays]
    assert all(x.dtype == f32 for x in xs)
    outs = as_tuple(spec.fn(*xs, **kw))
    for o in outs:
        assert o.dtype == f32, f"{spec.name}: output is {o.dtype}"
    assert_float_tensors_are(outs, f32, f"{spec.name} forward")

    # first order, with a graph: the gradients and every tensor of their graph are float32
    vs = [minigrad.ones(*o.shape) for o in outs]
    gs = minigrad.grad(list(outs), xs, vs, create_graph=True, allow_unused=True)
    for x, g in zip(xs, gs):
        if g is not None:
            assert g.dtype == x.dtype, f"{spec.name}: grad is {g.dtype} for a {x.dtype} input"
    live = [g for g in gs if g is not None and g.requires_grad]
    assert_float_tensors_are(live, f32, f"{spec.name} gradient graph")

    # second order
    if live:
        gg = minigrad.grad(sum(((g * g).sum() for g in live[1:]), (live[0] * live[0]).sum()),
                           xs, allow_unused=True)
        for x, g in zip(xs, gg):
            assert g is None or g.dtype == f32, f"{spec.name}: second-order grad is {g.dtype}"

    # backward() accumulates .grad in the input's dtype
    outs = as_tuple(spec.fn(*xs, **kw))
    sum((o.sum() for o in outs[1:]), outs[0].sum()).backward()
    for x in xs:
        assert x.grad is None or x.grad.dtype == f32


# ------------------------------------------------------------------------- Python scalars
SCALARS = [2, 2.5, np.float64(2.5), np.float32(2.5), np.int64(2), np.float64(-0.5)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("c", SCALARS, ids=lambda c: f"{type(c).__name__}({c})")
def test_scalars_take_the_tensor_dtype(c, dtype):
    x = minigrad.tensor([0.5, 1.0, 2.0], dtype=dtype, requires_grad=True)
    results = {
        "x + c": x + c, "c + x": c + x, "x - c": x - c, "c - x": c - x, "x * c": x * c,
        "c * x": c * x, "x / c": x / c, "c / x": c / x, "x ** c": x ** c,
        "abs(c) ** x": abs(c) ** x,
        "maximum(x, c)": minigrad.maximum(x, c), "minimum(c, x)": minigrad.minimum(c, x),
        "where(m, x, c)": minigrad.where(x.detach() > 1, x, c),
        "clamp(x, -c, c)": x.clamp(-abs(c), abs(c)), "clamp(x, min=c)": x.clamp(min=c),
        "pad(x, value=c)": minigrad.functional.pad(x, (1, 1), value=c),
    }
    for what, y in results.items():
        assert y.dtype == dtype, f"{what} with c={c!r} ({type(c).__name__}) gave {y.dtype}"
        x.grad = None
        y.sum().backward()
        assert x.grad.dtype == dtype, f"{what}: grad is {x.grad.dtype}"


# --------------------------------------------------------------------- float32 with float64
MIXED = ["add", "sub", "mul", "div", "pow_tensor", "maximum", "minimum", "where", "matmul",
         "cat", "stack"]


@pytest.mark.parametrize("order", ["32-64", "64-32"])
@pytest.mark.parametrize("spec", [SPEC_BY_NAME[n] for n in MIXED], ids=repr)
@few_examples
@given(data=st.data())
def test_mixed_float32_float64_promotes(spec, order, data):
    arrays, kw = draw_inputs(data, spec)
    assume(len(arrays) >= 2)
    dts = [f32, f64] if order == "32-64" else [f64, f32]
    dts = (dts * len(arrays))[:len(arrays)]
    xs = [minigrad.tensor(a, dtype=d, requires_grad=True) for a, d in zip(arrays, dts)]
    out = as_tuple(spec.fn(*xs, **kw))[0]
    # float64 when a dimensioned operand is float64, or when all are 0-d (torch.result_type);
    # a 0-d float64 tensor leaves float32 as it is (cat and stack: every operand counts)
    decide = [x for x in xs if x.ndim] or xs
    if spec.name in ("cat", "stack"):
        decide = xs
    want = f64 if any(x.dtype == f64 for x in decide) else f32
    assert out.dtype == want, f"{spec.name}: {[x.dtype for x in xs]} gave {out.dtype}"
    if torch is not None and spec.name != "matmul":  # torch's matmul refuses mixed dtypes
        t_out = as_tuple(spec.torch_reference(*[torch.tensor(x.numpy()) for x in xs], **kw))
        assert t_out[0].dtype == getattr(torch, want.name), f"{spec.name}: torch disagrees"
    if want == f32:  # computed in float32
        ref = spec.numpy_reference(*[x.numpy().astype(f32).astype(f64) for x in xs], **kw)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)
    else:
        ref = spec.numpy_reference(*[x.numpy() for x in xs], **kw)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-8, atol=1e-10)

    out.sum().backward()
    for x in xs:
        assert x.grad.dtype == x.dtype, f"{spec.name}: {x.dtype} input got a {x.grad.dtype} grad"

    # the same under create_graph: the cast back to float32 is differentiable
    for x in xs:
        x.grad = None
    out = as_tuple(spec.fn(*xs, **kw))[0]
    gs = minigrad.grad(out.sum(), xs, create_graph=True)
    for x, g in zip(xs, gs):
        assert g.dtype == x.dtype
    live = [g for g in gs if g.requires_grad]
    if live:
        gg = minigrad.grad(sum(((g * g).sum() for g in live[1:]), (live[0] * live[0]).sum()),
                           xs, allow_unused=True)
        for x, g in zip(xs, gg):
            assert g is None or g.dtype == x.dtype


def test_cast_gradients_keep_each_dtype():
    x = minigrad.tensor([1.0, -2.0, 3.0], requires_grad=True)              # float32
    y = x.double()
    assert y.dtype == f64 and y.requires_grad
    z = (y * y).to(dtype=np.float32).double().float()
    assert z.dtype == f32
    g, = minigrad.grad(z.sum(), x, create_graph=True)
    assert g.dtype == f32
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())
    gg, = minigrad.grad(g.sum(), x)
    assert gg.dtype == f32
    np.testing.assert_allclose(gg.numpy(), [2.0, 2.0, 2.0])
    # float64 -> float32 -> float64 loses precision only in the forward value
    w = minigrad.tensor([1 / 3], dtype="float64", requires_grad=True)
    w.float().double().sum().backward()
    assert w.grad.dtype == f64 and w.grad.item() == 1.0


def test_factories_default_to_float32_and_respect_dtype():
    assert minigrad.tensor([1.0]).dtype == f32
    assert minigrad.tensor([1]).dtype == np.int64
    assert minigrad.randn(2, 3).dtype == f32
    assert minigrad.zeros(2, dtype="float64").dtype == f64
    assert minigrad.ones_like(minigrad.zeros(2, dtype="float64")).dtype == f64
    with pytest.raises(TypeError, match="floating-point"):
        minigrad.tensor([1, 2], requires_grad=True)


# ----------------------------------------------------- torch's promotion, call for call
def _loss(name):
    return lambda L: getattr(torch.nn.functional if L is torch else minigrad.nn.functional, name)


def _f64(L):
    return torch.float64 if L is torch else "float64"


def _i32(L):
    return torch.int32 if L is torch else "int32"


# Each case runs as ``case(L)`` with L the module, torch or minigrad; both must give the same
# dtype, shape and values, or both raise.
PROMOTION_CASES = {
    # a Python float with an integer or bool tensor: float32, never truncated
    "where(c, int, 0.5)": lambda L: L.where(L.tensor([True, False]), L.tensor([1, 2]), 0.5),
    "where(c, 0.5, int)": lambda L: L.where(L.tensor([True, False]), 0.5, L.tensor([1, 2])),
    "maximum(int, 0.5)": lambda L: L.maximum(L.tensor([0, 1]), 0.5 if L is minigrad
                                             else L.tensor(0.5)),
    "minimum(0.5, int)": lambda L: L.minimum(0.5 if L is minigrad else L.tensor(0.5),
                                             L.tensor([0, 1])),
    "int * 0.5": lambda L: L.tensor([1, 2]) * 0.5,
    "0.5 * int": lambda L: 0.5 * L.tensor([1, 2]),
    "int + 0.5": lambda L: L.tensor([1, 2]) + 0.5,
    "int - 0.5": lambda L: L.tensor([1, 2]) - 0.5,
    "0.5 - int": lambda L: 0.5 - L.tensor([1, 2]),
    "bool * 0.5": lambda L: L.tensor([True, False]) * 0.5,
    "int + np.float64": lambda L: L.tensor([1, 2]) + np.float64(0.5),
    "0-d int * 0.5": lambda L: L.tensor(3) * 0.5,
    "bool + 1": lambda L: L.tensor([True, False]) + 1,
    "int + np.bool_": lambda L: L.tensor([1, 2]) + np.bool_(True),  # torch: a float
    "int + True": lambda L: L.tensor([1, 2]) + True,
    "int32 * 5": lambda L: L.tensor([1, 2], dtype=_i32(L)) * 5,
    # tensors of two categories: the higher category's dtype, not numpy's wider one
    "int * f32": lambda L: L.tensor([1, 2]) * L.tensor([0.5, 0.5]),
    "int / int": lambda L: L.tensor([1, 2]) / L.tensor([2, 2]),
    "int / 2": lambda L: L.tensor([1, 2]) / 2,
    "2 / int": lambda L: 2 / L.tensor([1, 2]),
    "2 ** int": lambda L: 2 ** L.tensor([1, 2]),
    "int ** int": lambda L: L.tensor([2, 3]) ** L.tensor([1, 2]),
    "where(c, int, f32)": lambda L: L.where(L.tensor([True, False]), L.tensor([1, 2]),
                                            L.tensor([0.5, 0.5])),
    "cat(f32, int)": lambda L: L.cat([L.tensor([1.0, 2.0]), L.tensor([3])]),
    "cat(int, f32)": lambda L: L.cat([L.tensor([3]), L.tensor([1.0, 2.0])]),
    "stack(f32, int)": lambda L: L.stack([L.tensor([1.0, 2.0]), L.tensor([3, 4])]),
    "stack(0-d f32, 0-d f64)": lambda L: L.stack([L.tensor(1.0), L.tensor(2.0, dtype=_f64(L))]),
    # 0-d tensors do not raise the dtype within a category
    "f32 * 0-d int64": lambda L: L.tensor([1.0, 2.0]) * L.tensor(3),
    "f32 * 0-d f64": lambda L: L.tensor([1.0, 2.0]) * L.tensor(3.0, dtype=_f64(L)),
    "f32.sum() / int.sum()": lambda L: L.tensor([1.0, 2.0]).sum() / L.tensor([1, 1]).sum(),
    "int32 * 0-d int64": lambda L: L.tensor([1, 2], dtype=_i32(L)) * L.tensor(3),
    "where(c, f32, 0-d f64)": lambda L: L.where(L.tensor([True, False]), L.tensor([1.0, 2.0]),
                                                L.tensor(0.5, dtype=_f64(L))),
    # ... but a higher category from a 0-d tensor does, with its own dtype
    "int * 0-d f64": lambda L: L.tensor([1, 2]) * L.tensor(3.0, dtype=_f64(L)),
    "0-d f32 * 0-d f64": lambda L: L.tensor(1.0) * L.tensor(3.0, dtype=_f64(L)),
    # float ops on integer and bool tensors: float32
    "int.exp()": lambda L: L.tensor([1, 2]).exp(),
    "int.log()": lambda L: L.tensor([1, 2]).log(),
    "int.sqrt()": lambda L: L.tensor([1, 2]).sqrt(),
    "int.sin()": lambda L: L.tensor([1, 2]).sin(),
    "int.cos()": lambda L: L.tensor([1, 2]).cos(),
    "int.tanh()": lambda L: L.tensor([1, 2]).tanh(),
    "int.sigmoid()": lambda L: L.tensor([0, 1]).sigmoid(),
    "bool.exp()": lambda L: L.tensor([True, False]).exp(),
    "int.abs()": lambda L: L.tensor([-1, 2]).abs(),  # not a float op: int64
    "leaky_relu(int)": lambda L: (torch.nn.functional if L is torch
                                  else minigrad.functional).leaky_relu(L.tensor([-1, 2]), 0.5),
    # factories
    "full((1,), 3)": lambda L: L.full((1,), 3),
    "full((1,), True)": lambda L: L.full((1,), True),
    "full((1,), 2.5)": lambda L: L.full((1,), 2.5),
    "full((1,), np.int32)": lambda L: L.full((1,), np.int32(3)),
    "tensor(np.float64)": lambda L: L.tensor(np.float64(1.5)),
    "tensor(np.int32)": lambda L: L.tensor(np.int32(1)),
    "tensor(np.float16)": lambda L: L.tensor(np.float16(1.5)),
    "tensor([np.float64])": lambda L: L.tensor([np.float64(1.5)]),
    "tensor([1, np.float64])": lambda L: L.tensor([1, np.float64(2.5)]),
    "tensor([np.int64, 2.5])": lambda L: L.tensor([np.int64(1), 2.5]),
    "tensor([[np.float32], [2.0]])": lambda L: L.tensor([[np.float32(1)], [2.0]]),
    "tensor((np.int32, np.int32))": lambda L: L.tensor((np.int32(1), np.int32(2))),
    "tensor([1, True])": lambda L: L.tensor([1, True]),
    "tensor([])": lambda L: L.tensor([]),
    # losses promote input and target as torch's do
    "mse_loss(f32, f64)": lambda L: _loss("mse_loss")(L)(L.tensor([1.0, 2.0]),
                                                         L.tensor([1.0, 3.5], dtype=_f64(L))),
    "mse_loss(f64, f32)": lambda L: _loss("mse_loss")(L)(L.tensor([1.0, 2.0], dtype=_f64(L)),
                                                         L.tensor([1.0, 3.5])),
    "mse_loss(f32, int)": lambda L: _loss("mse_loss")(L)(L.tensor([1.0, 2.0]), L.tensor([1, 3])),
    "l1_loss(f32, f64)": lambda L: _loss("l1_loss")(L)(L.tensor([1.0, 2.0]),
                                                       L.tensor([1.0, 3.5], dtype=_f64(L))),
    "bce_with_logits(f32, f64)": lambda L: _loss("binary_cross_entropy_with_logits")(L)(
        L.tensor([0.5, -1.0]), L.tensor([1.0, 0.0], dtype=_f64(L))),
    "cross_entropy(f32, f64 probabilities)": lambda L: _loss("cross_entropy")(L)(
        L.tensor([[0.5, -1.0]]), L.tensor([[0.25, 0.75]], dtype=_f64(L))),
    "kl_div(f32, f64)": lambda L: _loss("kl_div")(L)(L.tensor([-1.0, -0.5]),
                                                     L.tensor([0.3, 0.7], dtype=_f64(L)),
                                                     reduction="sum"),
    "clamp(int, 1.5)": lambda L: L.clamp(L.tensor([0, 1, 2]), 1.5),
    "int ** 0.5": lambda L: L.tensor([1, 2]) ** 0.5,
    # mean, var and std of integers or booleans: refused, as torch refuses them (not float64)
    "mean(int)": lambda L: L.tensor([1, 2]).mean(),
    "mean(bool)": lambda L: L.tensor([True, False]).mean(),
    "var(int, dim)": lambda L: L.tensor([[1, 2]]).var(1),
    "std(int)": lambda L: L.tensor([1, 2, 4]).std(),
}


def _run(case, L):
    try:
        return case(L)
    except Exception as e:  # noqa: BLE001 - compared: both must raise
        return e


def _assert_like_torch(case):
    want, got = _run(case, torch), _run(case, minigrad)
    if isinstance(want, Exception) or isinstance(got, Exception):
        assert isinstance(want, Exception) and isinstance(got, Exception), \
            f"torch gave {want!r}, minigrad {got!r}"
        return
    want = want.detach().numpy()
    assert got.dtype == want.dtype, f"dtype {got.dtype}, torch {want.dtype}"
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy().astype(f64), want.astype(f64), rtol=1e-6)


@pytest.mark.parametrize("name", list(PROMOTION_CASES))
def test_promotion_matches_torch(name):
    if torch is None:
        pytest.skip("torch is the oracle here")
    _assert_like_torch(PROMOTION_CASES[name])


def test_mixed_dtype_gradients_match_torch():
    """A float32 tensor with a 0-d float64 one (both recorded) computes in float32; each
    gradient comes back in its input's dtype, with torch's values."""
    if torch is None:
        pytest.skip("torch is the oracle here")
    x, s = np.array([0.5, -1.5, 2.0], np.float32), np.array(0.25)
    outs = {}
    for L in (torch, minigrad):
        xt = L.tensor(x, requires_grad=True)
        st_ = L.tensor(s, requires_grad=True)
        y = (xt * st_ + xt / st_ - L.where(xt > 0, xt, st_)).sum() / L.tensor([1, 1]).sum()
        y.backward()
        outs[L] = [np.asarray(t.detach().numpy() if L is torch else t.numpy())
                   for t in (y, xt.grad, st_.grad)]
    for got, want in zip(outs[minigrad], outs[torch]):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_int_tensor_with_a_float_loses_nothing():
    """Without torch too: the audit's examples, which truncated or widened."""
    m = minigrad.where(minigrad.tensor([True, False]), minigrad.tensor([1, 2]), 0.5)
    assert m.dtype == f32 and m.tolist() == [1.0, 0.5]
    assert minigrad.maximum(minigrad.tensor([0, 1]), 0.5).tolist() == [0.5, 1.0]
    assert minigrad.tensor([0, 1]).sigmoid().dtype == f32
    assert (minigrad.tensor([1.0]).sum() / minigrad.tensor([1, 1]).sum()).dtype == f32
    with pytest.raises(TypeError, match="floating-point"):
        minigrad.functional.leaky_relu(minigrad.tensor([-1, 2]), 0.5)


def test_reference_sigmoid_kernel_of_integers_is_float32():
    from minigrad.kernels import reference
    y = reference.sigmoid_fwd(np.array([0, 1]))
    assert y.dtype == f32
    np.testing.assert_allclose(y, [0.5, 1 / (1 + np.exp(-1))], rtol=1e-6)


@pytest.mark.parametrize("method", ["long", "int", "bool", "float", "double"])
def test_dtype_conversion_methods_match_torch(method):
    if torch is None:
        pytest.skip("torch is the oracle here")
    values = [-1.5, 0.0, 2.7]
    want = getattr(torch.tensor(values), method)().numpy()
    got = getattr(minigrad.tensor(values), method)()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want)
