"""The autograd engine: graph traversal, grad() vs backward(), grad modes, graph lifetime,
higher-order gradients, error messages."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest

import minigrad
from minigrad import Tensor
from minigrad.autograd.function import Function


def t64(data, requires_grad=True):
    return minigrad.tensor(data, dtype="float64", requires_grad=requires_grad)


class CountingIdentity(Function):
    """y = x; counts its backward calls (a node must run once per backward pass)."""
    calls = 0

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        type(self).calls += 1
        return gy


class OnceSquare(Function):
    """y = x^2 with a backward that leaves the graph (raw numpy), hence once_differentiable."""
    once_differentiable = True

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * Tensor(2 * self.inputs[0].data)


class WrongShapeGrad(Function):
    """A broken op: its backward returns a gradient of the wrong shape."""

    def forward(self, x):
        return x.sum()

    def backward(self, gy):
        return gy.reshape(1)


# ------------------------------------------------------------------------ graph shapes
def test_diamond_graph():
    x = t64([1.0, 2.0, -3.0])
    a = x * 2
    b = x.exp()
    y = (a * b + a.sin() * b).sum()       # x -> {a, b} -> y, a and b used twice
    y.backward()
    xv = x.numpy()
    want = 2 * np.exp(xv) + 2 * xv * np.exp(xv) + 2 * np.cos(2 * xv) * np.exp(xv) \
        + np.sin(2 * xv) * np.exp(xv)
    np.testing.assert_allclose(x.grad.numpy(), want)
    minigrad.gradcheck(lambda x: (x * 2 * x.exp() + (x * 2).sin() * x.exp()).sum(), [x])


def test_shared_node_backward_runs_once():
    CountingIdentity.calls = 0
    x = t64([1.0, 2.0])
    h = CountingIdentity.apply(x)
    y = (h * h + h * 3 + h.exp()).sum()   # three consumers of h
    y.backward()
    assert CountingIdentity.calls == 1
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3 + np.exp(x.numpy()))


def test_tensor_used_many_times():
    x = t64(0.5)
    y = x
    for _ in range(50):
        y = y + x                          # 51 x
    z = x * x * x - x                      # the same leaf on both sides
    (y + z).backward()
    assert x.grad.item() == pytest.approx(51 + 3 * 0.25 - 1)
    x.grad = None
    sum([x] * 100).backward()
    assert x.grad.item() == pytest.approx(100)


def test_leaf_gradients_never_alias():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    (x + y).sum().backward()
    assert x.grad is not y.grad and x.grad.data is not y.grad.data
    x.grad.data += 1
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    # through views: a reshape's gradient is a view of the upstream one
    a, b = t64([[0.0], [0.0]]), t64([0.0, 0.0])
    (a.reshape(2) + b).backward(t64([1.0, 2.0], requires_grad=False))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    b.grad.data += 10
    np.testing.assert_array_equal(a.grad.numpy(), [[1.0], [2.0]])


def test_leaf_gradient_does_not_alias_the_callers_gradient():
    x = t64([1.0, 2.0])
    g = t64([1.0, 1.0], requires_grad=False)
    (x + 1.0).backward(g)                 # AddConst passes g through unchanged
    x.grad.data *= 3                      # e.g. an in-place weight decay or clipping
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])
    x.grad = None
    x.backward(g)
    assert not np.shares_memory(x.grad.data, g.data)


def test_leaf_gradients_take_the_leafs_layout_and_no_other_arrays_memory():
    """What a leaf's .grad may be without a copy: the gradient array itself or a reshape of an
    array nothing else holds (a conv's weight gradient, an (OC, C, KH, KW) view of its product:
    no copy kernel on a GPU). Copied: a slice of a larger gradient (a concatenation's, whose
    other slices reach other leaves), a view of the caller's gradient, and a transposed view
    (.grad is C-contiguous like the leaf, torch's gradient layout contract)."""
    a, b = t64([1.0, 2.0]), t64([3.0])
    minigrad.cat([a, b]).backward(t64([5.0, 6.0, 7.0], requires_grad=False))
    assert a.grad.data.base is None and b.grad.data.base is None
    assert not np.shares_memory(a.grad.data, b.grad.data)
    m = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    m.T.backward(t64(np.arange(6.0).reshape(3, 2), requires_grad=False) * 1.0)
    assert m.grad.data.flags.c_contiguous
    np.testing.assert_array_equal(m.grad.numpy(), np.arange(6.0).reshape(3, 2).T)
    users = np.arange(8.0)
    x = t64([0.0, 0.0, 0.0, 0.0])
    x.reshape(2, 2).backward(minigrad.tensor(users[:4].reshape(2, 2)))
    assert not np.shares_memory(x.grad.data, users)

    from benchmarks.cupy_launches import emulated_cuda
    from minigrad.backend import counters

    with emulated_cuda():  # DCGAN's first layer: its weight gradient is a view of a product
        xc = minigrad.randn(4, 1, 12, 12, device="cuda")
        w = minigrad.randn(8, 1, 4, 4, device="cuda", requires_grad=True)
        y = minigrad.nn.functional.conv2d(xc, w, None, 2, 1)
        gy = minigrad.randn(*y.shape, device="cuda")
        with counters.count() as c:
            y.backward(gy)
    assert c["launch.cupy_copy__float32_float32"] == 0, dict(c)
    assert w.grad.shape == (8, 1, 4, 4) and w.grad.data.flags.c_contiguous


def test_leaf_gradients_are_writable_arrays():
    """A sum's backward broadcasts (a read-only, stride-0 view); .grad must own its memory
    (optimizers and gradient clipping update it in place)."""
    w = t64([1.0, 2.0, 3.0])
    w.sum().backward()
    assert w.grad.data.flags.writeable and w.grad.data.flags.c_contiguous
    w.grad.data *= 0.5
    np.testing.assert_array_equal(w.grad.numpy(), [0.5, 0.5, 0.5])


# ----------------------------------------------------------------------- grad() vs .grad
def test_grad_leaves_dot_grad_alone():
    x = t64([1.0, 2.0])
    sentinel = t64([7.0, 7.0], requires_grad=False)
    x.grad = sentinel
    gx, = minigrad.grad((x * x).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])
    assert x.grad is sentinel and np.all(sentinel.numpy() == 7.0)
    w = t64([1.0])
    minigrad.grad((x * w).sum(), [x])
    assert w.grad is None                 # not asked for, not touched


def test_grad_of_intermediate_and_multiple_outputs():
    x = t64([1.0, 2.0])
    h = x * x
    y1, y2 = h.sum(), (h * 3).sum()
    gh, gx = minigrad.grad([y1, y2], [h, x], retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(gx.numpy(), 8 * x.numpy())
    v = t64([1.0, -1.0], requires_grad=False)
    gx, = minigrad.grad(h, x, grad_outputs=v)
    np.testing.assert_allclose(gx.numpy(), [2.0, -4.0])


def test_allow_unused():
    x, z = t64([1.0]), t64([2.0])
    y = (x * 3).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        minigrad.grad(y, [x, z], retain_graph=True)
    gx, gz = minigrad.grad(y, [x, z], allow_unused=True)
    assert gx.item() == 3.0 and gz is None


# ---------------------------------------------------------------------- graph lifetime
def test_second_backward_needs_retain_graph():
    x = t64([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True") as info:
        y.backward()
    assert "second time" in str(info.value)

    x.grad = None
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()                           # works, and accumulates
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_grad_also_frees_the_graph_unless_retained():
    x = t64([1.0])
    y = (x * x).sum()
    minigrad.grad(y, x, retain_graph=True)
    minigrad.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        minigrad.grad(y, x)


def test_gradients_accumulate_across_backward_calls():
    x = t64([1.0, -2.0])
    for k in range(1, 4):
        (x * x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), k * 2 * x.numpy())
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


# -------------------------------------------------------------------------- grad modes
def test_no_grad_records_nothing():
    x = t64([1.0, 2.0])
    with minigrad.no_grad():
        assert not minigrad.is_grad_enabled()
        y = (x * 2).exp().sum()
        assert y._ctx is None and not y.requires_grad
    assert minigrad.is_grad_enabled()
    z = x * 2
    assert z._ctx is not None and z.requires_grad


def test_no_grad_as_decorator_and_restored_after_exceptions():
    @minigrad.no_grad()
    def f(x):
        assert not minigrad.is_grad_enabled()
        return x * 2

    x = t64([1.0])
    y = f(x)
    assert y._ctx is None and not y.requires_grad
    assert minigrad.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with minigrad.no_grad():
            1 / 0
    assert minigrad.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = t64([1.0])
    with minigrad.no_grad():
        with minigrad.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and y._ctx is not None
    assert not z.requires_grad

    @minigrad.enable_grad()
    def g(x):
        return x * 2

    with minigrad.no_grad():
        assert g(x).requires_grad


def test_set_grad_enabled_forms():
    x = t64([1.0])
    with minigrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with minigrad.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert minigrad.is_grad_enabled()

    @minigrad.set_grad_enabled(False)
    def f(x):
        return x * 2

    assert minigrad.is_grad_enabled()   # decorating does not switch the mode
    assert not f(x).requires_grad
    assert minigrad.is_grad_enabled()

    try:
        minigrad.set_grad_enabled(False)  # plain call: sets the mode until changed
        assert not minigrad.is_grad_enabled()
    finally:
        minigrad.set_grad_enabled(True)
    assert minigrad.is_grad_enabled()


def test_detach_and_requires_grad_flags():
    x = t64([1.0, 2.0])
    d = (x * 2).detach()
    assert d._ctx is None and not d.requires_grad
    assert not (d * 2).requires_grad
    c = t64([1.0], requires_grad=False)
    assert not (c * 2).requires_grad and (c * 2)._ctx is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        (c * 2).sum().backward()


# ------------------------------------------------------------------ higher order
def test_create_graph_gradients_have_a_graph():
    x = t64([0.5, -1.0])
    gx, = minigrad.grad((x ** 3).sum(), x)
    assert gx._ctx is None and not gx.requires_grad
    gx, = minigrad.grad((x ** 3).sum(), x, create_graph=True)
    assert gx._ctx is not None and gx.requires_grad
    ggx, = minigrad.grad(gx.sum(), x)
    np.testing.assert_allclose(ggx.numpy(), 6 * x.numpy())


def test_backward_create_graph_then_backward_through_grad():
    x = t64([0.5, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


@pytest.mark.parametrize("x0", [-1.3, 0.0, 0.4, 2.0])
def test_third_derivative_of_tanh(x0):
    x = t64(x0)
    y = x.tanh()
    g1, = minigrad.grad(y, x, create_graph=True)
    g2, = minigrad.grad(g1, x, create_graph=True)
    g3, = minigrad.grad(g2, x, create_graph=True)
    g4, = minigrad.grad(g3, x)
    t = math.tanh(x0)
    assert g1.item() == pytest.approx(1 - t * t, abs=1e-12)
    assert g2.item() == pytest.approx(-2 * t * (1 - t * t), abs=1e-12)
    assert g3.item() == pytest.approx(-2 * (1 - t * t) * (1 - 3 * t * t), abs=1e-12)
    assert g4.item() == pytest.approx(8 * t * (1 - t * t) * (2 - 3 * t * t), abs=1e-12)


def test_once_differentiable_raises_under_create_graph():
    x = t64([1.0, 3.0])
    gx, = minigrad.grad(OnceSquare.apply(x).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [2.0, 6.0])
    with pytest.raises(RuntimeError, match="once_differentiable"):
        minigrad.grad(OnceSquare.apply(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="OnceSquare"):
        OnceSquare.apply(x).sum().backward(create_graph=True)


def test_retain_grad_on_a_non_leaf():
    x = t64([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    other = x * 2                           # a non-leaf without retain_grad
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    assert other.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.numpy() + 2)


def test_long_chain_has_no_recursion_error():
    assert sys.getrecursionlimit() < 10_000 * 2  # a recursive engine would fail here
    x = t64([0.5, -0.25])
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000] * 2, rtol=1e-10)
    y = x
    for _ in range(10_000):
        y = y.tanh() * 0.5 + x
    gx, = minigrad.grad(y.sum(), x, create_graph=True)
    assert np.all(np.isfinite(gx.numpy()))


# --------------------------------------------------------------------------- messages
def test_backward_on_non_scalar_needs_a_gradient():
    x = t64([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"non-scalar.*\(3,\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"non-scalar.*\(3,\).*\.sum\(\)"):
        minigrad.grad(y, x)
    y.backward(gradient=t64([1.0, 0.0, -1.0], requires_grad=False))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, -2.0])
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        (x * 2).backward(gradient=t64([1.0, 2.0], requires_grad=False))


@pytest.mark.parametrize("op,name,sa,sb", [
    (lambda a, b: a + b, "add", (2, 3), (4,)),
    (lambda a, b: a - b, "sub", (2, 3), (2, 2)),
    (lambda a, b: a * b, "mul", (3,), (2,)),
    (lambda a, b: a / b, "div", (2, 1, 3), (2, 4, 2)),
    (lambda a, b: minigrad.maximum(a, b), "maximum", (2,), (3,)),
    (lambda a, b: a @ b, "matmul", (2, 3), (4,)),
    (lambda a, b: a @ b, "matmul", (2, 2, 3), (3, 3, 4)),
    (lambda a, b: minigrad.cat([a, b], 0), "cat", (2, 3), (2, 4)),
    (lambda a, b: minigrad.stack([a, b]), "stack", (2, 3), (3, 2)),
    (lambda a, b: minigrad.where(a > 0, a, b), "where", (2, 3), (4,)),
])
def test_shape_mismatch_errors_name_op_and_shapes(op, name, sa, sb):
    a, b = minigrad.ones(*sa, requires_grad=True), minigrad.ones(*sb)
    with pytest.raises(ValueError) as info:
        op(a, b)
    msg = str(info.value)
    assert name in msg and str(sa) in msg and str(sb) in msg, msg


def test_shape_errors_of_one_input_ops():
    x = minigrad.ones(2, 3)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(5,\)"):
        x.reshape(5)
    with pytest.raises(ValueError, match=r"expand.*\(2, 3\).*\(3, 3\)"):
        x.expand(3, 3)


def test_backward_gradient_of_wrong_shape_is_reported():
    x = t64([[1.0, 2.0]])
    with pytest.raises(RuntimeError, match=r"WrongShapeGrad.*\(1,\).*\(1, 2\)"):
        (WrongShapeGrad.apply(x) * 2).backward()


def test_cuda_unavailable_message():
    if minigrad.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="cuda"):
        minigrad.zeros(2, device="cuda")


def test_ops_on_device(device):
    """The same small graph on each device gives the CPU's values and gradients."""
    data = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    x = minigrad.tensor(data, dtype="float64", device=device, requires_grad=True)
    y = (x.tanh() @ x.T).softmax(1).log().sum() + x.norm()
    gx, = minigrad.grad(y, x, create_graph=True)
    ggx, = minigrad.grad((gx * gx).sum(), x)
    xc = t64(data)
    yc = (xc.tanh() @ xc.T).softmax(1).log().sum() + xc.norm()
    gc, = minigrad.grad(yc, xc, create_graph=True)
    ggc, = minigrad.grad((gc * gc).sum(), xc)
    assert str(gx.device).startswith(device)
    np.testing.assert_allclose(y.numpy(), yc.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gx.numpy(), gc.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ggx.numpy(), ggc.numpy(), rtol=1e-10)


def test_no_grad_as_bare_decorator():
    @minigrad.no_grad
    def double(x):
        return x * 2

    x = minigrad.ones(2, requires_grad=True)
    assert not double(x).requires_grad
    assert (x * 2).requires_grad  # the mode is restored after the call


def test_fan_in_sums_keep_arrays_and_dtypes():
    """Without create_graph the engine sums fan-in gradients on the arrays: 0-d gradients must
    stay arrays (numpy adds two 0-d arrays into a scalar), and a float64 gradient reaching a
    float32 leaf is cast before it is summed."""
    x = minigrad.tensor(np.float64(1.5), requires_grad=True)
    y = x * x + x * 3.0 + x  # three gradients into x
    y.backward()
    assert type(x.grad.data) is np.ndarray and x.grad.shape == ()
    assert x.grad.item() == 2 * 1.5 + 3 + 1
    z = minigrad.tensor(np.float32([1.0, 2.0]), requires_grad=True)
    w = minigrad.tensor(np.float64([3.0, 4.0]), requires_grad=True)
    (z * w + z).sum().backward()  # z * w is float64: its gradient into z is cast back
    assert z.grad.dtype == np.float32
    np.testing.assert_array_equal(z.grad.data, [4.0, 5.0])


# ------------------------------------------------------------------ backward(inputs=)
def test_backward_with_inputs_fills_only_their_grad_as_torch():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    w = minigrad.tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    out = (h * h).sum()
    out.backward(inputs=[x], retain_graph=True)
    np.testing.assert_allclose(x.grad.data, [18.0, 64.0])  # 2 x w^2
    assert w.grad is None
    out.backward(inputs=h)                    # a non-leaf: its .grad, as in torch
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    assert w.grad is None
    np.testing.assert_allclose(x.grad.data, [18.0, 64.0])  # unchanged by the second backward


def test_backward_with_inputs_refuses_an_empty_list_and_a_tensor_without_grad():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    out = (x * x).sum()
    with pytest.raises(RuntimeError, match="inputs= is empty"):
        out.backward(inputs=[])
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.backward(inputs=[minigrad.tensor([1.0])])
    assert x.grad is None


# ------------------------------------------------------------------ Tensor.register_hook
def _hooked_run(lib, make):
    """A backward through a hooked intermediate (whose hook replaces its gradient) and a hooked
    leaf; returns (x.grad, y.grad (retained), the gradients the first hook saw)."""
    x = make([1.0, 2.0, 3.0])
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().tolist()) or g * 10)
    y.retain_grad()
    x.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    return x.grad.numpy().tolist(), y.grad.numpy().tolist(), seen


def test_register_hook_runs_and_replaces_gradients_as_torchs():
    torch = pytest.importorskip("torch")
    got = _hooked_run(minigrad, lambda v: minigrad.tensor(v, requires_grad=True))
    want = _hooked_run(torch, lambda v: torch.tensor(v, requires_grad=True))
    assert got == want == ([81.0, 161.0, 241.0], [40.0, 80.0, 120.0], [[4.0, 8.0, 12.0]])


def test_register_hook_in_grad_removal_and_errors():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 3)
    g, = minigrad.grad((x * x).sum(), x)  # grad() runs tensor hooks too, as torch's
    np.testing.assert_array_equal(g.numpy(), [6.0, 12.0])
    handle.remove()
    g, = minigrad.grad((x * x).sum(), x)
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])
    x.register_hook(lambda g: minigrad.ones(3))
    with pytest.raises(RuntimeError, match=r"a gradient hook returned .* for a gradient of shape"):
        (x * x).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        minigrad.ones(2).register_hook(lambda g: g)
