"""Every op in ``op_specs.SPECS``, driven by hypothesis: forward against NumPy, first derivatives
with ``gradcheck``, second with ``gradgradcheck`` (float64), and values plus first- and
second-order gradients against PyTorch on the same inputs (where torch is installed).

float32 runs check the same forward against NumPy and the float32 gradients against the float64
ones minigrad computes on the same values (themselves gradchecked).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad
from op_specs import SPECS, as_tuple, draw_inputs

# The device/kernels fixtures are plain values, safe to share between hypothesis examples.
given_ops = settings(suppress_health_check=list(settings().suppress_health_check)
                     + [HealthCheck.function_scoped_fixture])

DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]
TOL = {np.float64: (1e-8, 1e-10), np.float32: (1e-4, 1e-5)}  # (rtol, atol per unit of scale)


def assert_close(actual, expected, dtype, what, slack=None):
    """|actual - expected| <= rtol |expected| + atol max(1, max|expected|) (+ ``slack``, an
    elementwise allowance: the reference's own rounding error, when it is known)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    rtol, atol = TOL[dtype]
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    if slack is None:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)
        return
    tol = rtol * np.abs(expected) + atol * scale + slack
    ok = (np.abs(actual - expected) <= tol) | (np.isnan(actual) & np.isnan(expected))
    assert ok.all(), (f"{what}: {int((~ok).sum())} of {ok.size} elements differ by more than "
                      f"rtol={rtol}, atol={atol}*{scale:.3g} plus the reference's own float32 "
                      f"error\n actual:    {actual}\n expected:  {expected}\n allowed:   {tol}")


def _numpy(t, shape):
    """A gradient as float64 numpy; None (not reached) is a zero gradient."""
    if t is None:
        return np.zeros(shape)
    if isinstance(t, minigrad.Tensor):
        return t.numpy().astype(np.float64)
    return t.detach().numpy(force=True).astype(np.float64)  # force: torch's ZeroTensor


def cotangents(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def minigrad_derivatives(spec, arrays, kw, dtype, device="cpu", seed=0):
    """Outputs, v-weighted first derivatives and w-weighted second derivatives (w.r.t. the
    inputs and v), as float64 numpy arrays."""
    xs = [minigrad.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
    outs = as_tuple(spec.fn(*xs, **kw))
    vs = [minigrad.tensor(v, device=device, requires_grad=True)
          for v in cotangents([o.shape for o in outs], dtype, seed)]
    g1 = minigrad.grad(list(outs), xs, vs, create_graph=True, allow_unused=True)
    res = ([o.numpy().astype(np.float64) for o in outs],
           [_numpy(g, x.shape) for g, x in zip(g1, xs)], None)
    if spec.second_order:
        ws = cotangents([x.shape for x in xs], dtype, seed + 1)
        terms = [(g * minigrad.tensor(w, device=device)).sum()
                 for g, w in zip(g1, ws) if g is not None and g.requires_grad]
        targets = xs + vs
        if terms:
            g2 = minigrad.grad(sum(terms[1:], terms[0]), targets, allow_unused=True)
        else:
            g2 = [None] * len(targets)
        res = res[:2] + ([_numpy(g, t.shape) for g, t in zip(g2, targets)],)
    return res


def torch_derivatives(torch, spec, arrays, kw, dtype, seed=0):
    """The same as minigrad_derivatives, computed by PyTorch."""
    xs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    outs = as_tuple(spec.torch_reference(*xs, **kw))
    vs = [torch.tensor(v, requires_grad=True)
          for v in cotangents([tuple(o.shape) for o in outs], dtype, seed)]
    g1 = torch.autograd.grad(list(outs), xs, vs, create_graph=True, allow_unused=True)
    res = ([o.detach().numpy().astype(np.float64) for o in outs],
           [_numpy(g, tuple(x.shape)) for g, x in zip(g1, xs)], None)
    if spec.second_order:
        ws = cotangents([tuple(x.shape) for x in xs], dtype, seed + 1)
        terms = [(g * torch.tensor(w)).sum() for g, w in zip(g1, ws)
                 if g is not None and g.requires_grad]
        targets = xs + vs
        if terms:
            g2 = torch.autograd.grad(sum(terms[1:], terms[0]), targets, allow_unused=True)
        else:
            g2 = [None] * len(targets)
        res = res[:2] + ([_numpy(g, tuple(t.shape)) for g, t in zip(g2, targets)],)
    return res


def assert_same_derivatives(got, want, dtype, name, want_exact=None):
    """``got`` matches ``want``; with ``want_exact`` (``want`` computed in float64), ``want``'s
    own rounding error, twice over, is allowed on top of the tolerance: where a float32 value is a
    cancellation (a second derivative that is 0 in exact arithmetic), the reference is noise too."""
    (o1, g1, gg1), (o2, g2, gg2) = got, want
    assert len(o1) == len(o2), f"{name}: {len(o1)} outputs, expected {len(o2)}"

    def slack(k, i):
        return None if want_exact is None else 2 * np.abs(want[k][i] - want_exact[k][i])

    for i, (a, b) in enumerate(zip(o1, o2)):
        assert_close(a, b, dtype, f"{name}: output {i}", slack(0, i))
    for i, (a, b) in enumerate(zip(g1, g2)):
        assert_close(a, b, dtype, f"{name}: first derivative w.r.t. input {i}", slack(1, i))
    if gg1 is not None:
        for i, (a, b) in enumerate(zip(gg1, gg2)):
            assert_close(a, b, dtype, f"{name}: second derivative w.r.t. input {i}",
                         slack(2, i))


# ----------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", SPECS, ids=repr)
@given_ops
@given(data=st.data())
def test_op(spec, device, dtype, data):
    arrays, kw = draw_inputs(data, spec, dtype)
    xs = [minigrad.tensor(a, device=device, requires_grad=True) for a in arrays]

    def fn(*ts):
        return spec.fn(*ts, **kw)

    outs = as_tuple(fn(*xs))
    refs = as_tuple(spec.numpy_reference(*[a.astype(np.float64) for a in arrays], **kw))
    assert len(outs) == len(refs)
    for i, (out, ref) in enumerate(zip(outs, refs)):
        assert out.dtype == dtype, f"output {i} is {out.dtype}, expected {dtype}"
        assert out.requires_grad
        assert_close(out.numpy(), ref, dtype, f"{spec.name}: forward output {i}")

    if device != "cpu":  # the CPU run is the gradchecked one: match it
        assert_same_derivatives(minigrad_derivatives(spec, arrays, kw, dtype, device),
                                minigrad_derivatives(spec, arrays, kw, dtype), dtype, spec.name)
    elif dtype == np.float64:
        minigrad.gradcheck(fn, xs)
        if spec.second_order:
            minigrad.gradgradcheck(fn, xs)
    else:  # float32 derivatives against float64 ones on the same values
        assert_same_derivatives(minigrad_derivatives(spec, arrays, kw, dtype),
                                minigrad_derivatives(spec, arrays, kw, np.float64), dtype,
                                f"{spec.name} (float32 vs float64)")


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", [s for s in SPECS if s.torch_reference is not None], ids=repr)
@given_ops
@given(data=st.data())
def test_op_matches_torch(spec, dtype, data):
    torch = pytest.importorskip("torch")
    arrays, kw = draw_inputs(data, spec, dtype)
    exact = None
    if dtype == np.float32:  # torch's own float32 error, measured against its float64 result
        exact = torch_derivatives(torch, spec, arrays, kw, np.float64)
    assert_same_derivatives(minigrad_derivatives(spec, arrays, kw, dtype),
                            torch_derivatives(torch, spec, arrays, kw, dtype), dtype,
                            f"{spec.name} vs torch", exact)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.uses_kernels], ids=repr)
@settings(given_ops, max_examples=max(3, settings().max_examples // 3))
@given(data=st.data())
def test_op_kernels(spec, kernels, data):
    """Ops built on minigrad.kernels give the same, correct results with each implementation."""
    arrays, kw = draw_inputs(data, spec)
    xs = [minigrad.tensor(a, requires_grad=True) for a in arrays]

    def fn(*ts):
        return spec.fn(*ts, **kw)

    for out, ref in zip(as_tuple(fn(*xs)), as_tuple(spec.numpy_reference(*arrays, **kw))):
        assert_close(out.numpy(), ref, np.float64, f"{spec.name} forward ({kernels})")
    minigrad.gradcheck(fn, xs)
    minigrad.gradgradcheck(fn, xs)


# ------------------------------------------------------------------------ targeted cases
def test_getitem_repeated_indices_accumulate():
    x = minigrad.tensor(np.arange(4.0), dtype="float64", requires_grad=True)
    x[np.array([0, 2, 2, -1, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 3, 1])


def test_getitem_mask_and_negative_step_gradient():
    x = minigrad.tensor(np.arange(6.0).reshape(2, 3), dtype="float64", requires_grad=True)
    w = minigrad.tensor([[1.0, 2.0, 3.0]], dtype="float64")
    (x[:, ::-1] * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 2, 1], [3, 2, 1]])
    x.grad = None
    x[x > 2.5].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [1, 1, 1]])


def test_max_with_dim_returns_indices():
    x = minigrad.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(1)
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert not indices.requires_grad
    values, indices = x.min(0, keepdim=True)
    np.testing.assert_array_equal(values.numpy(), [[1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(indices.numpy(), [[0, 1, 0]])


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, True), ((0, 1), False)])
def test_norm_is_safe_at_zero(dim, keepdim):
    """At x = 0 the 2-norm's gradient is 0 (not 0/0 = NaN), at first and second order."""
    x = minigrad.zeros(2, 3, dtype="float64", requires_grad=True)
    y = x.norm(2, dim, keepdim)
    assert np.all(y.numpy() == 0)
    g, = minigrad.grad(y.sum(), x, create_graph=True)
    assert np.all(g.numpy() == 0), g
    assert g.requires_grad  # a graph of its own
    gg, = minigrad.grad((g * g).sum() + g.sum(), x, allow_unused=True)
    assert gg is None or np.all(np.isfinite(gg.numpy())) and np.all(gg.numpy() == 0)


def test_norm_partly_zero_rows():
    """Zero rows get gradient 0, the others x/||x||; second order stays finite."""
    data = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    x = minigrad.tensor(data, dtype="float64", requires_grad=True)
    y = x.norm(dim=1)
    np.testing.assert_allclose(y.numpy(), [0.0, 5.0])
    g, = minigrad.grad(((y - 1) ** 2).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [[0, 0, 0], [2 * 4 * 0.6, 2 * 4 * 0.8, 0]])
    g.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_norm_gradient_penalty_at_zero_matches_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[0.0, 0.0], [1.0, -2.0]])
    x = minigrad.tensor(data, dtype="float64", requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    loss = ((x.norm(dim=1) - 1) ** 2).sum()
    loss_t = ((torch.linalg.vector_norm(xt, dim=1) - 1) ** 2).sum()
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_scalar_operands_on_both_sides():
    x = minigrad.tensor([1.0, 2.0, 4.0], dtype="float64", requires_grad=True)
    y = 2 + x - 1 - (3 - x) * 2 / x + 1 / x - x / 4 + 2 ** x + x ** 2
    y.sum().backward()
    xv = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(y.numpy(), 2 + xv - 1 - (3 - xv) * 2 / xv + 1 / xv - xv / 4
                               + 2 ** xv + xv ** 2)
    np.testing.assert_allclose(x.grad.numpy(), 1 + 6 / xv ** 2 - 1 / xv ** 2 - 0.25
                               + np.log(2) * 2 ** xv + 2 * xv)


def test_pow_tensor_mixed_second_derivative_at_zero_exponent():
    """d2(a ** b)/(da db) = a^(b-1) (1 + b log a): 1 at a = 1, b = 0 (torch's masked formula says
    0 there, which is why the torch comparison keeps b away from 0)."""
    a = minigrad.tensor(1.0, dtype="float64", requires_grad=True)
    b = minigrad.tensor(0.0, dtype="float64", requires_grad=True)
    ga, = minigrad.grad(a ** b, a, create_graph=True)
    gab, = minigrad.grad(ga, b)
    assert gab.item() == pytest.approx(1.0)
    minigrad.gradgradcheck(lambda a, b: a ** b, [a, b])


def test_var_without_degrees_of_freedom_is_nan():
    """One element per reduction with correction=1: NaN (torch, numpy), not a ZeroDivisionError."""
    x = minigrad.tensor([[1.0, 2.0, 4.0]], dtype="float64", requires_grad=True)
    assert np.all(np.isnan(x.var(0).numpy())) and np.isnan(x[:, :1].std().item())
    np.testing.assert_allclose(x.var(0, correction=0).numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(x.var(1).numpy(), [np.var([1.0, 2.0, 4.0], ddof=1)])


# ----------------------------------------------- at the kinks: the conventions torch uses
KINK_CASES = [
    # (name, fn taking (lib, x) -> output, input values)
    ("relu at 0", lambda lib, x: lib.relu(x), [-1.0, 0.0, 2.0]),
    ("leaky_relu at 0", lambda lib, x: _leaky(lib)(x, 0.1), [-1.0, 0.0, 2.0]),
    ("abs at 0", lambda lib, x: x.abs(), [-1.0, 0.0, 2.0]),
    ("clamp at the bounds", lambda lib, x: x.clamp(-1.0, 1.0), [-2.0, -1.0, 0.5, 1.0, 3.0]),
    # tensor bounds: x on a bound, lo == hi, lo > hi, NaN in x or in a bound
    ("clamp at tensor bounds", lambda lib, x: x[:8].clamp(x[8:16], x[16:]),
     [-2.0, 0.5, 3.0, 1.0, 2.0, 1.0, np.nan, 0.0,
      1.0, 1.0, 1.0, 1.0, 0.0, np.nan, 0.0, 0.0,
      0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 1.0, 0.0]),
    ("clamp(min=tensor)", lambda lib, x: x[:4].clamp(min=x[4:]), [0.0, 1.0, np.nan, 2.0,
                                                                  0.0, 2.0, 0.0, np.nan]),
    ("clamp(max=tensor)", lambda lib, x: x[:4].clamp(max=x[4:]), [0.0, 1.0, np.nan, 2.0,
                                                                  0.0, 2.0, 0.0, np.nan]),
    ("amax ties", lambda lib, x: x.reshape(2, 3).amax(1), [1.0, 3.0, 3.0, 2.0, 2.0, 2.0]),
    ("amin ties", lambda lib, x: x.reshape(2, 3).amin(0), [1.0, 3.0, 3.0, 1.0, 2.0, 3.0]),
    ("max ties", lambda lib, x: x.max(), [1.0, 3.0, 3.0, 3.0]),
    ("min ties", lambda lib, x: x.min(), [0.0, 3.0, 0.0, 3.0]),
    # max/min along a dim: all of the gradient to the returned index (a NaN is the max and min)
    ("max(dim) ties", lambda lib, x: lib.max(x.reshape(2, 3), 1)[0],
     [1.0, 3.0, 3.0, 2.0, 2.0, 2.0]),
    ("min(dim) ties keepdim", lambda lib, x: x.reshape(2, 3).min(0, keepdim=True).values,
     [1.0, 3.0, 3.0, 1.0, 2.0, 3.0]),
    ("max(dim) NaN", lambda lib, x: x.reshape(2, 3).max(-1).values,
     [1.0, float("nan"), 3.0, 2.0, 2.0, 2.0]),
    ("min(dim) NaN", lambda lib, x: x.reshape(3, 2).min(0).values,
     [1.0, 2.0, float("nan"), 2.0, 1.0, 2.0]),
    ("maximum ties", lambda lib, x: lib.maximum(x[:3], x[3:]), [1.0, 2.0, 3.0, 1.0, 0.0, 3.0]),
    ("minimum ties", lambda lib, x: lib.minimum(x[:3], x[3:]), [1.0, 2.0, 3.0, 1.0, 0.0, 3.0]),
    ("norm at 0", lambda lib, x: x.norm(), [0.0, 0.0]),
    ("std at zero variance", lambda lib, x: x.std(), [2.0, 2.0, 2.0]),
    ("std(dim) of a constant row", lambda lib, x: x.reshape(2, 3).std(1, keepdim=True),
     [2.0, 2.0, 2.0, 1.0, 2.0, 4.0]),
]


def _leaky(lib):
    return lib.leaky_relu if hasattr(lib, "leaky_relu") else lib.nn.functional.leaky_relu


@pytest.mark.torch
@pytest.mark.parametrize("name,fn,values", KINK_CASES, ids=[c[0] for c in KINK_CASES])
def test_gradient_conventions_at_kinks_match_torch(name, fn, values):
    """Exactly at a kink or a tie the derivative is a convention: take torch's (ties share the
    gradient equally, relu'(0) = 0, leaky_relu'(0) = slope, clamp passes at the bounds; but
    max/min along a dim send it all to the index they return)."""
    torch = pytest.importorskip("torch")
    x = minigrad.tensor(values, dtype="float64", requires_grad=True)
    xt = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    y, yt = fn(minigrad, x), fn(torch, xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy())
    w = np.linspace(1.0, 2.0, y.numel()).reshape(y.shape)
    (y * minigrad.tensor(w, dtype="float64")).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), err_msg=name)


# ------------------------------------------------ calls that mean what they mean in torch
VAR_CALLS = [  # (call, as text for the test id); each applied to var and to std
    (lambda f, x: f(x, 1, False), "(1, False)"),
    (lambda f, x: f(x, 1, True), "(1, True)"),
    (lambda f, x: f(x, 1, False, True), "(1, False, True)"),
    (lambda f, x: f(x, 0, False, keepdim=True), "(0, False, keepdim=True)"),
    (lambda f, x: f(x, False), "(False)"),
    (lambda f, x: f(x, (0, 1), False), "((0, 1), False)"),
    (lambda f, x: f(x, None, False), "(None, False)"),
    (lambda f, x: f(x, 1, keepdim=True), "(1, keepdim=True)"),
    (lambda f, x: f(x, dim=1, unbiased=False), "(dim=1, unbiased=False)"),
    (lambda f, x: f(x, 1, correction=0), "(1, correction=0)"),
    (lambda f, x: f(x, 1, correction=0.5, keepdim=True), "(1, correction=0.5, keepdim=True)"),
    (lambda f, x: f(x, unbiased=False), "(unbiased=False)"),
]


@pytest.mark.torch
@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("call,text", VAR_CALLS, ids=[c[1] for c in VAR_CALLS])
def test_var_std_arguments_match_torch(name, call, text):
    """torch's order is (dim, unbiased, keepdim): a second positional argument is unbiased."""
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    want = call(getattr(torch, name), torch.tensor(data)).numpy()
    for fn in (getattr(minigrad, name), getattr(minigrad.Tensor, name)):
        got = call(fn, minigrad.tensor(data, dtype="float64")).numpy()
        assert got.shape == want.shape, text
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"{name}{text}")


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_refuse_what_torch_refuses(name):
    """A non-bool second argument (an old keepdim=1 written positionally) and unbiased together
    with correction are errors, not a silent reading."""
    x = minigrad.ones(2, 3)
    for call in (lambda f: f(1, 1), lambda f: f(1, 0.0),
                 lambda f: f(1, False, correction=0), lambda f: f(False, True)):
        with pytest.raises(TypeError, match=name):
            call(getattr(x, name))


EMPTY_DIM_REDUCTIONS = {  # name: (minigrad call, torch call), each given (x, dim, keepdim)
    "sum": (lambda x, d, k: x.sum(d, k), lambda x, d, k: x.sum(d, k)),
    "mean": (lambda x, d, k: x.mean(d, k), lambda x, d, k: x.mean(d, k)),
    "amax": (lambda x, d, k: x.amax(d, k), lambda x, d, k: x.amax(d, k)),
    "amin": (lambda x, d, k: minigrad.amin(x, d, k), lambda x, d, k: x.amin(d, k)),
    # torch's var/std reduce everything over dim=() but their gradients are then inf (they
    # divide by n - 1 with n = 1): compare with the all-dims reduction
    "var": (lambda x, d, k: x.var(d, keepdim=k),
            lambda x, d, k: x.var(tuple(range(x.ndim)), keepdim=k)),
    "std": (lambda x, d, k: x.std(d, False, k),
            lambda x, d, k: x.std(tuple(range(x.ndim)), False, k)),
    "norm": (lambda x, d, k: x.norm(2, d, k),
             lambda x, d, k: x.norm(2, d, k)),
    "norm1": (lambda x, d, k: x.norm(1, d, k), lambda x, d, k: x.norm(1, d, k)),
    # torch's logsumexp raises on dim=() (a bug): compare with its all-dims reduction
    "logsumexp": (lambda x, d, k: x.logsumexp(d, k),
                  lambda x, d, k: x.logsumexp(tuple(range(x.ndim)), k)),
}


@pytest.mark.torch
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [(), []], ids=["tuple", "list"])
@pytest.mark.parametrize("name", list(EMPTY_DIM_REDUCTIONS))
def test_reductions_over_an_empty_dim_list_reduce_everything(name, dim, keepdim):
    """dim=() or [] is every dim, as in torch (it reduced nothing: x came back unchanged)."""
    torch = pytest.importorskip("torch")
    ours, theirs = EMPTY_DIM_REDUCTIONS[name]
    data = np.array([[1.0, -2.0, 4.0], [3.0, 5.0, -9.0]])
    x = minigrad.tensor(data, dtype="float64", requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    y, yt = ours(x, dim, keepdim), theirs(xt, dim, keepdim)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_squeeze_of_an_empty_dim_list_squeezes_nothing():
    assert minigrad.ones(2, 1, 3).squeeze(()).shape == (2, 1, 3)  # as torch


def test_std_at_zero_variance_second_order_is_finite():
    """std's zero-variance gradient (0) is itself differentiable: finite second derivatives,
    and the true ones where the variance is positive (gradgradcheck)."""
    x = minigrad.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], dtype="float64", requires_grad=True)
    g, = minigrad.grad(x.std(1).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy()[0], 0.0)
    gg, = minigrad.grad((g * g).sum() + g.sum(), x)
    assert np.all(np.isfinite(gg.numpy()))
    minigrad.gradgradcheck(lambda t: t.std(1), [x[1:].detach().requires_grad_()])


# Where x ** p's formulas meet 0 * inf, log of 0 or of a negative base: torch's values.
POW_BASES = [-2.0, -2.0, -2.0, -2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 2.0, -0.0, np.inf, np.nan, 1.0]
POW_EXPONENTS = [2.0, 0.0, 0.5, -1.0, 0.0, 1.0, 0.5, -1.0, 2.0, 0.0, -0.5, 0.0, 0.0, 0.0, np.nan]


def _same(got, want, what):
    np.testing.assert_array_equal(got.numpy(), want.detach().numpy(), err_msg=what)


@pytest.mark.torch
def test_pow_tensor_exponent_values_and_gradients_match_torch():
    """a ** b with a tensor b is xp.power (it was exp(log(a) b): NaN for a <= 0), with torch's
    gradients at the edges: 0 wrt a where b = 0, 0 wrt b where a = 0 and b >= 0."""
    torch = pytest.importorskip("torch")
    a = minigrad.tensor(POW_BASES, dtype="float64", requires_grad=True)
    b = minigrad.tensor(POW_EXPONENTS, dtype="float64", requires_grad=True)
    at = torch.tensor(POW_BASES, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(POW_EXPONENTS, dtype=torch.float64, requires_grad=True)
    y, yt = a ** b, at ** bt
    _same(y, yt, "a ** b")
    for g, gt, name in zip(minigrad.grad(y.sum(), [a, b]), torch.autograd.grad(yt.sum(), [at, bt]),
                           "ab"):
        _same(g, gt, f"d(a ** b)/d{name}")


@pytest.mark.torch
@pytest.mark.parametrize("base", [0.0, -2.0, 2.0, 1.0, 0.5, 0])
def test_number_to_a_tensor_power_matches_torch(base):
    torch = pytest.importorskip("torch")
    exps = [0.0, 1.0, 0.5, -1.0, 2.0, -2.0]
    x = minigrad.tensor(exps, dtype="float64", requires_grad=True)
    xt = torch.tensor(exps, dtype=torch.float64, requires_grad=True)
    y, yt = base ** x, base ** xt
    _same(y, yt, f"{base} ** x")
    _same(minigrad.grad(y.sum(), x)[0], torch.autograd.grad(yt.sum(), xt)[0], f"d({base} ** x)")
    _same(minigrad.pow(base, x), torch.pow(base, xt), f"pow({base}, x)")


@pytest.mark.torch
@pytest.mark.parametrize("p", [0, 0.0])
def test_pow_zero_gradient_at_zero_matches_torch(p):
    """d(x ** 0)/dx is 0 everywhere (it was 0 * 0 ** -1 = NaN at x = 0)."""
    torch = pytest.importorskip("torch")
    x = minigrad.tensor([0.0, 2.0], requires_grad=True)
    xt = torch.tensor([0.0, 2.0], requires_grad=True)
    (x ** p).sum().backward()
    (xt ** p).sum().backward()
    _same(x.grad, xt.grad, "d(x ** 0)/dx")


@pytest.mark.torch
def test_pow_result_dtypes_match_torch():
    torch = pytest.importorskip("torch")
    for base in (2.5, 2):
        got, want = base ** minigrad.tensor([1, 2]), base ** torch.tensor([1, 2])
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), base
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    _pow_tensor_dtypes(torch)


def _pow_tensor_dtypes(torch):
    cases = [([1.0, 2.0], "float32", 2, "int64"), ([1.0, 2.0], "float32", [2, 3], "int64"),
             ([1.0, 2.0], "float64", [2, 3], "int32"), ([1.0, 2.0], "float32", [2.0], "float64"),
             ([1, 2], "int64", [2, 3], "int64")]
    for base, bdt, exp, edt in cases:
        got = minigrad.tensor(base, dtype=bdt) ** minigrad.tensor(exp, dtype=edt)
        want = torch.tensor(base, dtype=getattr(torch, bdt)) ** torch.tensor(
            exp, dtype=getattr(torch, edt))
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (bdt, exp, edt)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_pow_tensor_edges_second_order_is_finite():
    """The conventions' points keep NaN out of second derivatives (where the true ones exist)."""
    a = minigrad.tensor([-2.0, 0.0, 0.0, 2.0], dtype="float64", requires_grad=True)
    b = minigrad.tensor([2.0, 0.0, 2.0, 0.0], dtype="float64", requires_grad=True)
    ga, gb = minigrad.grad((a ** b).sum(), [a, b], create_graph=True)
    gga, = minigrad.grad(ga.sum(), [a])
    np.testing.assert_allclose(gga.numpy(), [2.0, 0.0, 2.0, 0.0])
    minigrad.gradgradcheck(lambda x: x ** minigrad.tensor([2.0, 3.0], dtype="float64"),
                           [minigrad.tensor([-1.5, -0.7], dtype="float64", requires_grad=True)])


@pytest.mark.torch
@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 4.0), (0.5, 1.0)])
def test_softplus_threshold_matches_torch(beta, threshold):
    """Past beta x > threshold softplus is x, gradient 1, exactly (the stable form was used
    everywhere: x = 2.5, beta = 2, threshold = 4 gave 2.5034); nn.Softplus passes both on."""
    torch = pytest.importorskip("torch")
    values = [-30.0, -1.0, 0.0, 1.5, 2.5, 5.0, 19.0, 21.0, 60.0]
    for dtype in ("float32", "float64"):
        x = minigrad.tensor(values, dtype=dtype, requires_grad=True)
        xt = torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=True)
        for y, yt in [(minigrad.nn.functional.softplus(x, beta, threshold),
                       torch.nn.functional.softplus(xt, beta, threshold)),
                      (minigrad.nn.Softplus(beta, threshold)(x),
                       torch.nn.Softplus(beta, threshold)(xt))]:
            np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-6, atol=0)
            past = beta * np.array(values) > threshold
            np.testing.assert_array_equal(y.numpy()[past], np.array(values, dtype)[past])
            g, = minigrad.grad(y.sum(), x)
            gt, = torch.autograd.grad(yt.sum(), xt)
            np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-6, atol=0)
            assert np.all(g.numpy()[past] == 1)


def test_softplus_without_threshold_is_the_stable_form():
    x = minigrad.tensor([25.0], dtype="float64")
    assert minigrad.nn.functional.softplus(x, threshold=None).item() == np.logaddexp(0, 25.0)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_division_by_a_number_is_torchs_to_the_bit(dtype):
    """x / c divides (it multiplied by 1 / c: tensor([25.]) / 3 was 8.333334, torch 8.333333);
    c / x is torch's own (1 / x) * c."""
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(0).uniform(-10, 10, 1000).astype(dtype)
    x, xt = minigrad.tensor(data), torch.tensor(data)
    for c in (3, 7.0, 0.1, -3.3, 1e-3):
        np.testing.assert_array_equal((x / c).numpy(), (xt / c).numpy(), err_msg=f"x / {c}")
        np.testing.assert_array_equal((c / x).numpy(), (c / xt).numpy(), err_msg=f"{c} / x")
    assert (minigrad.tensor([25.0]) / 3).item() == (torch.tensor([25.0]) / 3).item()


@pytest.mark.torch
@pytest.mark.parametrize("c", [0, 0.0, -0.0])
def test_division_by_zero_is_ieee_as_torch(c):
    """x / 0 is inf, -inf or NaN (it raised ZeroDivisionError), its gradient inf."""
    torch = pytest.importorskip("torch")
    values = [1.0, 0.0, -1.0]
    x = minigrad.tensor(values, requires_grad=True)
    xt = torch.tensor(values, requires_grad=True)
    y, yt = x / c, xt / c
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


@pytest.mark.torch
def test_division_of_integer_tensors_by_numbers_is_float32_as_torch():
    """2 / int_tensor works (it raised 'Integers to negative integer powers are not allowed')."""
    torch = pytest.importorskip("torch")
    for call in (lambda t: 2 / t, lambda t: 2.5 / t, lambda t: t / 2, lambda t: t / 2.5,
                 lambda t: t / 0, lambda t: 1 / t):
        got, want = call(minigrad.tensor([1, 0, 3])), call(torch.tensor([1, 0, 3]))
        assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("shape,dim", [((0,), None), ((0, 3), 0), ((3, 0), 1), ((0, 3), 1),
                                       ((2, 0), ())])
def test_mean_of_nothing_is_nan_with_an_empty_gradient(shape, dim):
    """As torch (the backward raised ZeroDivisionError: n = 0)."""
    torch = pytest.importorskip("torch")
    x = minigrad.zeros(*shape, requires_grad=True)
    xt = torch.zeros(*shape, requires_grad=True)
    y, yt = (x.mean(), xt.mean()) if dim is None else (x.mean(dim), xt.mean(dim))
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    y.sum().backward()
    yt.sum().backward()
    assert x.grad.shape == tuple(xt.grad.shape)


@pytest.mark.parametrize("sizes", [(-1, 3), (-1, -1), (2, -1, 3), (-2, 3)])
def test_expand_minus_one_only_keeps_an_existing_dim(sizes):
    """torch: -1 is not allowed in a new leading dim (minigrad took the size of x's last dim)."""
    with pytest.raises(ValueError, match="expand: sizes"):
        minigrad.ones(3).expand(*sizes)
    assert minigrad.ones(1, 3).expand(2, -1, -1).shape == (2, 1, 3)


@pytest.mark.torch
def test_pow_and_clamp_promote_as_torch():
    """An integer tensor with a float number is float32; clamp's tensor bounds promote with x
    by torch's rule (a 0-d float64 bound leaves a float32 x float32)."""
    torch = pytest.importorskip("torch")
    for call in (lambda L: L.tensor([1, 4]) ** 0.5, lambda L: L.tensor([1, 4]) ** 2,
                 lambda L: L.tensor([1, 4]).clamp(min=1.5), lambda L: L.tensor([1, 4]).clamp(0, 3),
                 lambda L: L.tensor([1, 4]).clamp(max=2.5),
                 lambda L: L.tensor([1.0, 4.0]).clamp(min=L.tensor(1.5, dtype=L.float64)),
                 lambda L: L.tensor([1.0, 4.0]).clamp(L.tensor([1.5], dtype=L.float64)),
                 lambda L: L.tensor([1, 4]).clamp(max=L.tensor(2.5)),
                 lambda L: L.tensor([1, 4]).clamp(L.tensor(0), L.tensor([3]))):
        got, want = call(minigrad), call(torch)
        assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.numpy(), want.numpy())
