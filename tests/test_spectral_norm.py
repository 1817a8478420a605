"""Forward pre-hooks and ``nn.utils.spectral_norm`` / ``remove_spectral_norm`` against
``torch.nn.utils.spectral_norm`` (the hook-based version), finite differences and the math.

Parity starts both frameworks from the same state dict (so the same weight_orig, u and v); from
there the power iteration, the normalised weight, the output and every gradient must agree,
including through a WGAN-GP penalty (double backprop through the normalised weight).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad
from minigrad import Tensor, nn
from gans.penalties import gradient_penalty

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test dependency
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

TOL = {"float64": dict(rtol=1e-9, atol=1e-9), "float32": dict(rtol=1e-4, atol=1e-5)}



def _np(t):
    return t.detach().numpy() if torch is not None and isinstance(t, torch.Tensor) else t.numpy()


def _to_torch(m, t):
    t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()})
    return t


# ======================================================================= forward pre-hooks
class _Echo(nn.Module):
    def forward(self, *args):
        return args


def test_forward_pre_hook_sees_and_replaces_the_inputs():
    m, seen = _Echo(), []
    h1 = m.register_forward_pre_hook(lambda mod, args: seen.append(("first", mod, args)))
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 10, args[1]))
    m.register_forward_pre_hook(lambda mod, args: args[0] + 1)  # a non-tuple becomes a 1-tuple
    assert m(1, 2) == (11,)
    assert seen == [("first", m, (1, 2))]
    h1.remove()
    h1.remove()  # a second remove is harmless
    assert m(1, 2) == (11,) and len(seen) == 1


def test_forward_pre_hook_order_prepend_and_context_manager():
    m, order = _Echo(), []
    m.register_forward_pre_hook(lambda mod, args: order.append("a"))
    m.register_forward_pre_hook(lambda mod, args: order.append("b"), prepend=True)
    with m.register_forward_pre_hook(lambda mod, args: order.append("c")):
        m()
    m()
    assert order == ["b", "a", "c", "b", "a"]
    with pytest.raises(TypeError, match="callable"):
        m.register_forward_pre_hook(3)


# ============================================================================ construction
def _layers():
    return {
        "linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
        "conv2d": (lambda: nn.Conv2d(2, 3, 3, 2, 1), lambda: torch.nn.Conv2d(2, 3, 3, 2, 1),
                   (2, 2, 5, 5)),
        "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 4, 2, 1),
                             lambda: torch.nn.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 3, 3)),
    }


LAYERS = ["linear", "conv2d", "conv_transpose2d"]


def _pair(kind, dtype="float64", n_power_iterations=1, seed=0):
    make_m, make_t, x_shape = _layers()[kind]
    minigrad.manual_seed(seed)
    m = nn.utils.spectral_norm(make_m().to(dtype=dtype), n_power_iterations=n_power_iterations)
    t = torch.nn.utils.spectral_norm(make_t().to(getattr(torch, dtype)),
                                     n_power_iterations=n_power_iterations)
    return m, _to_torch(m, t), x_shape


@needs_torch
@pytest.mark.parametrize("kind", LAYERS)
def test_state_dict_keys_and_shapes_match_torch(kind):
    m, t, _ = _pair(kind)
    sd, sdt = m.state_dict(), t.state_dict()
    assert list(sd) == list(sdt) == ["bias", "weight_orig", "weight_u", "weight_v"]
    for k in sd:
        assert sd[k].shape == tuple(sdt[k].shape), k
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in m.named_buffers()] == ["weight_u", "weight_v"]
    # u and v start as unit vectors; dim is 1 for ConvTranspose2d (weight (in, out, KH, KW))
    w = m.weight_orig.shape
    assert m.weight_u.shape == ((w[1],) if kind == "conv_transpose2d" else (w[0],))
    for b in (m.weight_u, m.weight_v):
        np.testing.assert_allclose(np.linalg.norm(b.numpy()), 1.0, rtol=1e-12)
    assert isinstance(m.weight_orig, nn.Parameter) and not isinstance(m.weight, nn.Parameter)


def test_u_and_v_come_from_minigrad_generator():
    minigrad.manual_seed(3)
    a = nn.utils.spectral_norm(nn.Linear(4, 6))
    minigrad.manual_seed(3)
    b = nn.utils.spectral_norm(nn.Linear(4, 6))
    c = nn.utils.spectral_norm(nn.Linear(4, 6))
    np.testing.assert_array_equal(a.weight_u.numpy(), b.weight_u.numpy())
    assert not np.allclose(b.weight_u.numpy(), c.weight_u.numpy())
    assert a.weight_u.dtype == a.weight_v.dtype == np.float32


# ================================================================================ parity
@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", LAYERS)
def test_training_forward_and_gradients_match_torch(kind, dtype):
    m, t, x_shape = _pair(kind, dtype)
    tol = TOL[dtype]
    r = np.random.default_rng(1)
    x_np = r.standard_normal(x_shape).astype(dtype)
    for step in range(3):  # one power iteration per training forward, identical in both
        x = Tensor(x_np, requires_grad=True)
        xt = torch.tensor(x_np, requires_grad=True)
        y, yt = m(x), t(xt)
        np.testing.assert_allclose(m.weight.numpy(), _np(t.weight), **tol)
        np.testing.assert_allclose(y.numpy(), _np(yt), **tol)
        w_out = r.standard_normal(y.shape).astype(dtype)
        (y * Tensor(w_out)).sum().backward()
        (yt * torch.from_numpy(w_out)).sum().backward()
        for name in ("weight_orig", "bias"):
            a, b = getattr(m, name), getattr(t, name)
            assert a.grad.dtype == np.dtype(dtype)
            np.testing.assert_allclose(a.grad.numpy(), _np(b.grad), **tol, err_msg=name)
            a.grad, b.grad = None, None
        np.testing.assert_allclose(x.grad.numpy(), _np(xt.grad), **tol)
        for name in ("weight_u", "weight_v"):
            np.testing.assert_allclose(getattr(m, name).numpy(), _np(getattr(t, name)), **tol,
                                       err_msg=f"{name} after {step + 1} training forwards")


@needs_torch
def test_gradient_goes_through_sigma():
    """d(W / sigma(W)) / dW is not 1 / sigma: a hook that detached sigma would fail here."""
    m, t, x_shape = _pair("linear")
    x = Tensor(np.ones(x_shape))
    m(x).sum().backward()
    with minigrad.no_grad():
        sigma = float((m.weight_orig.numpy() / m.weight.numpy()).flat[0])
    naive = np.ones((3, 1)) @ np.ones((1, 5)) * x_shape[0] / sigma
    assert np.abs(m.weight_orig.grad.numpy() - naive).max() > 1e-3


@needs_torch
def test_graph_keeps_the_u_and_v_of_its_own_forward():
    """A second training forward updates the buffers in place; the first forward's graph must
    still differentiate with the u and v it was built with (torch clones them too)."""
    m, t, x_shape = _pair("conv2d")
    x_np = np.random.default_rng(2).standard_normal(x_shape)
    y1, y1t = m(Tensor(x_np)), t(torch.from_numpy(x_np))
    m(Tensor(x_np)), t(torch.from_numpy(x_np))
    y1.sum().backward()
    y1t.sum().backward()
    np.testing.assert_allclose(m.weight_orig.grad.numpy(), _np(t.weight_orig.grad),
                               **TOL["float64"])


@needs_torch
@pytest.mark.parametrize("kind", LAYERS)
def test_several_power_iterations_match_torch(kind):
    m, t, x_shape = _pair(kind, n_power_iterations=3)
    x_np = np.random.default_rng(2).standard_normal(x_shape)
    for _ in range(2):
        np.testing.assert_allclose(m(Tensor(x_np)).numpy(), _np(t(torch.from_numpy(x_np))),
                                   **TOL["float64"])
    for name in ("weight_u", "weight_v"):
        np.testing.assert_allclose(getattr(m, name).numpy(), _np(getattr(t, name)),
                                   **TOL["float64"])


@needs_torch
@pytest.mark.parametrize("kind", LAYERS)
def test_eval_mode_does_not_update_u_and_v(kind):
    m, t, x_shape = _pair(kind)
    m.eval(), t.eval()
    u0, v0 = m.weight_u.numpy().copy(), m.weight_v.numpy().copy()
    x_np = np.random.default_rng(3).standard_normal(x_shape)
    for _ in range(2):
        y = m(Tensor(x_np))
        np.testing.assert_allclose(y.numpy(), _np(t(torch.from_numpy(x_np))), **TOL["float64"])
    np.testing.assert_array_equal(m.weight_u.numpy(), u0)
    np.testing.assert_array_equal(m.weight_v.numpy(), v0)
    # sigma = u^T W v with the stored vectors
    w_mat = m.weight_orig.numpy()
    if kind == "conv_transpose2d":
        w_mat = np.swapaxes(w_mat, 0, 1)
    w_mat = w_mat.reshape(w_mat.shape[0], -1)
    sigma = u0 @ w_mat @ v0
    np.testing.assert_allclose(m.weight.numpy(), m.weight_orig.numpy() / sigma, rtol=1e-12)
    m.train()
    m(Tensor(x_np))
    assert not np.allclose(m.weight_v.numpy(), v0)


def test_normalised_weight_has_spectral_norm_one():
    """After enough power iterations sigma is the largest singular value of W."""
    minigrad.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Conv2d(3, 4, 3).double(), n_power_iterations=200)
    m(minigrad.zeros(1, 3, 3, 3, dtype="float64"))
    s_orig = np.linalg.svd(m.weight_orig.numpy().reshape(4, -1), compute_uv=False)
    s = np.linalg.svd(m.weight.numpy().reshape(4, -1), compute_uv=False)
    np.testing.assert_allclose(s[0], 1.0, rtol=1e-9)
    np.testing.assert_allclose(s, s_orig / s_orig[0], rtol=1e-9)


@needs_torch
@pytest.mark.parametrize("kind", LAYERS)
def test_state_dict_loads_both_ways(kind):
    # torch -> minigrad, straight from torch tensors, after torch has trained u and v a little
    make_m, make_t, x_shape = _layers()[kind]
    t = torch.nn.utils.spectral_norm(make_t().double())
    x_np = np.random.default_rng(4).standard_normal(x_shape)
    for _ in range(3):
        t(torch.from_numpy(x_np))
    m = nn.utils.spectral_norm(make_m().double())
    m.load_state_dict(t.state_dict())
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k], v.numpy(), err_msg=k)
    for mod in (m, t):
        mod.eval()
    np.testing.assert_allclose(m(Tensor(x_np)).numpy(), _np(t(torch.from_numpy(x_np))),
                               **TOL["float64"])
    # minigrad -> torch
    m.train()
    m(Tensor(x_np))
    t2 = _to_torch(m, torch.nn.utils.spectral_norm(make_t().double()))
    for k, v in t2.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k], v.numpy(), err_msg=k)
    t2.eval(), m.eval()
    np.testing.assert_allclose(m(Tensor(x_np)).numpy(), _np(t2(torch.from_numpy(x_np))),
                               **TOL["float64"])


# ============================================================== finite differences, 2nd order
@pytest.mark.parametrize("kind", ["linear", "conv2d"])
def test_gradcheck_and_gradgradcheck_wrt_weight_and_input(kind):
    """Eval mode (u, v fixed): W -> W / (u^T W v) is a smooth function; its first and second
    derivatives w.r.t. weight_orig and the input must match central differences."""
    minigrad.manual_seed(5)
    if kind == "linear":
        m, x_shape = nn.Linear(4, 3), (2, 4)
    else:
        m, x_shape = nn.Conv2d(2, 2, 2), (1, 2, 3, 3)
    m = nn.utils.spectral_norm(m.double()).eval()
    x = minigrad.randn(*x_shape, dtype="float64", requires_grad=True)

    def f(w, x):
        assert w is m.weight_orig  # gradcheck perturbs w's array in place
        return m(x).tanh()  # tanh makes the second derivative w.r.t. x non-trivial

    assert minigrad.gradcheck(f, [m.weight_orig, x])
    assert minigrad.gradgradcheck(f, [m.weight_orig, x])


@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_wgan_gp_penalty_through_spectral_norm_matches_torch(dtype):
    """Double backprop: the penalty's gradient w.r.t. weight_orig runs through d sigma / dW
    inside a gradient. Training mode, so each framework also runs its power iteration."""
    minigrad.manual_seed(6)

    def critic(lib):
        sn = lib.utils.spectral_norm
        return lib.Sequential(sn(lib.Conv2d(2, 3, 3, 2, 1)), lib.Tanh(), lib.Flatten(),
                              sn(lib.Linear(3 * 3 * 3, 4)), lib.Tanh(), sn(lib.Linear(4, 1)))

    m = critic(nn).to(dtype=dtype)
    t = _to_torch(m, critic(torch.nn).to(getattr(torch, dtype)))
    r = np.random.default_rng(7)
    real, fake = (r.standard_normal((5, 2, 6, 6)).astype(dtype) for _ in range(2))
    eps = r.random(5).astype(dtype)

    gp = gradient_penalty(m, Tensor(real), Tensor(fake), eps=eps)
    gp.backward()
    e = torch.from_numpy(eps).reshape(5, 1, 1, 1)
    x_hat = (e * torch.from_numpy(real) + (1 - e) * torch.from_numpy(fake)).requires_grad_()
    g, = torch.autograd.grad(t(x_hat).sum(), x_hat, create_graph=True)
    gp_t = ((g.reshape(5, -1).norm(dim=1) - 1) ** 2).mean()
    gp_t.backward()

    tol = TOL[dtype]
    np.testing.assert_allclose(gp.item(), gp_t.item(), **tol)
    named_t = dict(t.named_parameters())
    for name, p in m.named_parameters():
        if named_t[name].grad is None:  # the last bias does not reach the penalty
            assert p.grad is None and name == "5.bias"
            continue
        np.testing.assert_allclose(p.grad.numpy(), _np(named_t[name].grad), **tol,
                                   err_msg=f"d penalty / d {name}")
    assert np.abs(m[0].weight_orig.grad.numpy()).max() > 1e-3
    named_bt = dict(t.named_buffers())
    for name, b in m.named_buffers():
        np.testing.assert_allclose(b.numpy(), _np(named_bt[name]), **tol, err_msg=name)


# ======================================================================== removal, errors
@needs_torch
@pytest.mark.parametrize("kind", LAYERS)
def test_remove_spectral_norm_restores_a_plain_parameter(kind):
    m, t, x_shape = _pair(kind)
    x_np = np.random.default_rng(8).standard_normal(x_shape)
    for _ in range(2):
        m(Tensor(x_np)), t(torch.from_numpy(x_np))
    with minigrad.no_grad():
        y_before = m.eval()(Tensor(x_np)).numpy()
    w_sn = m.weight.numpy().copy()
    assert nn.utils.remove_spectral_norm(m) is m
    torch.nn.utils.remove_spectral_norm(t)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    np.testing.assert_array_equal(m.weight.numpy(), w_sn)
    np.testing.assert_allclose(m.weight.numpy(), _np(t.weight), **TOL["float64"])
    assert list(m.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    assert not hasattr(m, "weight_orig") and not hasattr(m, "weight_u")
    assert not m._forward_pre_hooks
    m.train()
    np.testing.assert_array_equal(m(Tensor(x_np)).numpy(), y_before)  # no more iterations
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(m)


def test_bad_arguments_raise_clear_errors():
    m = nn.utils.spectral_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="no parameter 'kernel'"):
        nn.utils.spectral_norm(nn.Linear(3, 2), name="kernel")
    with pytest.raises(ValueError, match="parameter `bias` is None"):
        nn.utils.spectral_norm(nn.Linear(3, 2, bias=False), name="bias")
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        nn.utils.spectral_norm(nn.Linear(3, 2), dim=2)


def test_spectral_norm_of_a_bias_and_a_negative_dim():
    """Any parameter: a 1-D bias is a (n, 1) matrix; dim=-1 counts from the end."""
    minigrad.manual_seed(9)
    m = nn.utils.spectral_norm(nn.Linear(3, 2).double(), name="bias")
    m(minigrad.zeros(1, 3, dtype="float64"))
    np.testing.assert_allclose(np.linalg.norm(m.bias.numpy()), 1.0, rtol=1e-12)
    assert list(m.state_dict()) == ["weight", "bias_orig", "bias_u", "bias_v"]
    c = nn.utils.spectral_norm(nn.Conv2d(2, 3, (2, 4)), dim=-1)
    assert c.weight_u.shape == (4,) and c.weight_v.shape == (3 * 2 * 2,)


def test_dtype_conversion_deepcopy_and_optimizer():
    minigrad.manual_seed(10)
    m = nn.utils.spectral_norm(nn.Linear(3, 2)).double()
    assert m.weight_u.dtype == m.weight_v.dtype == np.float64
    with minigrad.no_grad():  # (after a forward that records a graph, m.weight holds that
        y = m(minigrad.ones(4, 3, dtype="float64"))  # graph and cannot be deep-copied, as in torch)
    assert y.dtype == np.float64 and m.weight.dtype == np.float64
    c = copy.deepcopy(m)
    c(minigrad.randn(4, 3, dtype="float64"))  # the copy's hook updates the copy's buffers only
    assert not np.allclose(c.weight_u.numpy(), m.weight_u.numpy())
    opt = minigrad.optim.SGD(m.parameters(), lr=0.1)
    w0 = m.weight_orig.numpy().copy()
    m(minigrad.ones(4, 3, dtype="float64")).sum().backward()
    opt.step()
    assert not np.allclose(m.weight_orig.numpy(), w0)
