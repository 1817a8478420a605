"""The WGAN-GP gradient penalty, double backprop's real use case, on a small MLP critic built from
raw leaf tensors:

    D(x)    = leaky(leaky(x W1 + b1) W2 + b2) W3 + b3          (slope 0.2)
    x_hat   = eps * real + (1 - eps) * fake
    penalty = mean_i (||dD(x_hat)/dx_hat_i||_2 - 1)^2          (the gradient via create_graph=True)

The gradient of the penalty w.r.t. the critic's parameters must match PyTorch's (float32) and
central finite differences (float64, gradcheck on params -> penalty).

dD/dx = W1 diag(m1) W2 diag(m2) W3 with leaky_relu's slope masks m1, m2, which the biases only move
piecewise-constantly: the penalty's gradient w.r.t. b1 and b2 is 0 and b3 does not reach it at all
(None from grad/backward, as in torch). The weights carry the signal.
"""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
import minigrad.functional as F

N, D_IN, H = 6, 5, 8
SLOPE = 0.2
SHAPES = [(D_IN, H), (H,), (H, H), (H,), (H, 1), (1,)]
NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"]


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) / np.sqrt(s[0] if len(s) == 2 else 4) for s in SHAPES]
    real = rng.standard_normal((N, D_IN))
    fake = rng.standard_normal((N, D_IN)) * 0.5 + 1.0
    eps = rng.random((N, 1))
    return params, eps * real + (1 - eps) * fake


def critic(x, W1, b1, W2, b2, W3, b3, lib=F):
    h = lib.leaky_relu(x @ W1 + b1, SLOPE)
    h = lib.leaky_relu(h @ W2 + b2, SLOPE)
    return h @ W3 + b3                                   # (N, 1)


def penalty(params, x_hat_data, dtype):
    """minigrad: the penalty as a function of the critic's parameters (x_hat a fresh leaf)."""
    x_hat = minigrad.tensor(x_hat_data, dtype=dtype, requires_grad=True)
    out = critic(x_hat, *params)
    g, = minigrad.grad(out.sum(), x_hat, create_graph=True)   # (N, D_IN), itself differentiable
    return ((g.norm(2, dim=1) - 1) ** 2).mean()


def torch_penalty(torch, params, x_hat_data):
    import torch.nn.functional as tF

    x_hat = torch.tensor(x_hat_data, dtype=torch.float32, requires_grad=True)
    out = critic(x_hat, *params, lib=type("L", (), {"leaky_relu": staticmethod(tF.leaky_relu)}))
    g, = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((g.norm(2, dim=1) - 1) ** 2).mean()


def grad_or_zeros(g, shape):
    if g is None:
        return np.zeros(shape)
    return g.numpy() if isinstance(g, minigrad.Tensor) else g.detach().numpy()


def test_preactivations_are_away_from_the_kink():
    """Finite differences need every leaky_relu input away from 0 for this data."""
    p, x = make_data()
    h1 = x @ p[0] + p[1]
    h2 = np.where(h1 > 0, h1, SLOPE * h1) @ p[2] + p[3]
    assert np.abs(h1).min() > 1e-3 and np.abs(h2).min() > 1e-3


def test_gradient_penalty_matches_finite_differences():
    params_np, x_hat = make_data()
    params = [minigrad.tensor(p, dtype="float64", requires_grad=True) for p in params_np]
    gp = penalty(params, x_hat, "float64")
    assert gp.dtype == np.float64 and gp.requires_grad
    minigrad.gradcheck(lambda *ps: penalty(ps, x_hat, "float64"), params)


def test_gradient_penalty_matches_torch(kernels):
    torch = pytest.importorskip("torch")
    params_np, x_hat = make_data()
    params = [minigrad.tensor(p, dtype="float32", requires_grad=True) for p in params_np]
    gp = penalty(params, x_hat, "float32")
    gp.backward()

    tparams = [torch.tensor(p, dtype=torch.float32, requires_grad=True) for p in params_np]
    gp_t = torch_penalty(torch, tparams, x_hat)
    gp_t.backward()

    assert gp.dtype == np.float32
    np.testing.assert_allclose(gp.item(), gp_t.item(), rtol=1e-5)
    for name, p, pt in zip(NAMES, params, tparams):
        assert p.grad is None or p.grad.dtype == np.float32, name
        want = grad_or_zeros(pt.grad, p.shape)
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(grad_or_zeros(p.grad, p.shape), want, rtol=1e-4,
                                   atol=1e-5 * scale, err_msg=f"d penalty / d {name}")
    for name, p in zip(NAMES[::2], params[::2]):
        assert np.abs(p.grad.numpy()).max() > 1e-3, f"d penalty / d {name} should not vanish"


def test_gradient_penalty_with_grad_and_backward_agree():
    """minigrad.grad(penalty, params) and penalty.backward() give the same gradients."""
    params_np, x_hat = make_data(1)
    params = [minigrad.tensor(p, dtype="float64", requires_grad=True) for p in params_np]
    gs = minigrad.grad(penalty(params, x_hat, "float64"), params, allow_unused=True)
    penalty(params, x_hat, "float64").backward()
    for name, g, p in zip(NAMES, gs, params):
        np.testing.assert_allclose(grad_or_zeros(g, p.shape), grad_or_zeros(p.grad, p.shape),
                                   rtol=1e-12, err_msg=name)
    assert gs[5] is None and params[5].grad is None   # b3 never reaches the penalty


def test_gradient_penalty_when_the_critic_gradient_vanishes():
    """W3 = 0: dD/dx_hat = 0 for every sample, the norm is at its kink; the penalty is 1 and its
    gradients are finite (0 where torch gives 0), never NaN."""
    params_np, x_hat = make_data()
    params_np[4] = np.zeros_like(params_np[4])
    params = [minigrad.tensor(p, dtype="float64", requires_grad=True) for p in params_np]
    gp = penalty(params, x_hat, "float64")
    assert gp.item() == pytest.approx(1.0)
    gp.backward()
    for name, p in zip(NAMES, params):
        assert np.all(np.isfinite(grad_or_zeros(p.grad, p.shape))), name
    torch = pytest.importorskip("torch")
    tparams = [torch.tensor(p, dtype=torch.float32, requires_grad=True) for p in params_np]
    torch_penalty(torch, tparams, x_hat).backward()
    for name, p, pt in zip(NAMES, params, tparams):
        np.testing.assert_allclose(grad_or_zeros(p.grad, p.shape), grad_or_zeros(pt.grad, p.shape),
                                   atol=1e-6, err_msg=name)
