"""dtype rules.

- A float32 model computes in float32 through every op, gradients (of any order) included: no
  float64 tensor appears anywhere in the forward graph or in the graph of its gradients.
- Python scalars (int, float, and numpy scalars, which numpy would otherwise promote) take the
  tensor's dtype.
- Mixing float32 and float64 tensors promotes to float64 (like numpy and torch); each input's
  gradient has that input's dtype: the engine casts a gradient back to its input's dtype with the
  differentiable ``Cast`` op, so this holds under ``create_graph=True`` as well.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minigrad
from op_specs import SPECS, SPEC_BY_NAME, as_tuple, draw_inputs

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
    assert out.dtype == f64, f"{spec.name}: float32 with float64 gave {out.dtype}"
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
