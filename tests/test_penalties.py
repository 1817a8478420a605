"""The R1 penalty (``gans.penalties.r1_penalty``) against torch, finite differences and a closed
form; and the WGAN-GP penalty (``gans.wgan_gp.gradient_penalty``) shown to take one norm per
example, not per pixel or over the whole batch.

Closed form: for D(x) = 1/2 sum_p a_p x_p^2 (per sample), grad_x D(x) = a * x, so
    R1 = mean_i sum_p (a_p x_ip)^2,   GP = mean_i (||a * x_hat_i||_2 - 1)^2.
"""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad import Tensor, nn
from gans.penalties import r1_penalty
from gans.penalties import gradient_penalty

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test dependency
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

TOL = {"float64": dict(rtol=1e-9, atol=1e-9), "float32": dict(rtol=1e-4, atol=1e-5)}


def _mlp(lib, act):
    return lib.Sequential(lib.Flatten(), lib.Linear(2 * 3 * 3, 8), act(lib),
                          lib.Linear(8, 1))                                         # (N, 1)


def _conv(lib, act):
    return lib.Sequential(lib.Conv2d(2, 3, 3, 2, 1), act(lib),                      # (N, 3, 2, 2)
                          lib.Conv2d(3, 4, 2), act(lib), lib.Flatten(),             # (N, 4)
                          lib.Linear(4, 1))                                         # (N, 1)


def _leaky(lib):
    return lib.LeakyReLU(0.2)


def _tanh(lib):
    return lib.Tanh()


D_KINDS = {"mlp": _mlp, "conv": _conv}
X_SHAPE = (5, 2, 3, 3)


def _or_zeros(g, shape):
    if g is None:
        return np.zeros(shape)
    return g.numpy() if isinstance(g, Tensor) else g.detach().numpy()


def _torch_r1(D, real):
    x = real.detach().requires_grad_()
    g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return g.pow(2).reshape(len(x), -1).sum(1).mean()


# ====================================================================================== R1
@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_r1_value_and_parameter_gradients_match_torch(kind, dtype):
    minigrad.manual_seed(0)
    D = D_KINDS[kind](nn, _leaky).to(dtype=dtype)
    Dt = D_KINDS[kind](torch.nn, _leaky).to(getattr(torch, dtype))
    Dt.load_state_dict({k: torch.from_numpy(v) for k, v in D.state_dict().items()})
    real = np.random.default_rng(1).standard_normal(X_SHAPE).astype(dtype)

    r1 = r1_penalty(D, Tensor(real))
    r1_t = _torch_r1(Dt, torch.from_numpy(real))
    tol = TOL[dtype]
    assert r1.shape == () and r1.dtype == np.dtype(dtype) and r1.requires_grad
    np.testing.assert_allclose(r1.item(), r1_t.item(), **tol)
    r1.backward()
    r1_t.backward()
    named_t = dict(Dt.named_parameters())
    for name, p in D.named_parameters():
        # The biases move grad_x D only through LeakyReLU's piecewise-constant slopes: their
        # gradient is 0, which minigrad reports as None (torch: zeros, or None for the last).
        want = _or_zeros(named_t[name].grad, p.shape)
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(_or_zeros(p.grad, p.shape), want, rtol=tol["rtol"],
                                   atol=tol["atol"] * scale, err_msg=f"d R1 / d {name}")
        if name.endswith("weight"):
            assert np.abs(p.grad.numpy()).max() > 1e-3, name


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_r1_gradient_matches_finite_differences(kind):
    minigrad.manual_seed(2)
    D = D_KINDS[kind](nn, _tanh).double()
    real = Tensor(np.random.default_rng(3).standard_normal((3, 2, 3, 3)))
    params = list(D.parameters())
    assert minigrad.gradcheck(lambda *ps: r1_penalty(D, real), params)


def _quadratic_critic(a):
    """D(x)_i = 1/2 sum_p a_p x_ip^2, one score per sample (N,)."""
    a_t = Tensor(a)
    return lambda x: (0.5 * a_t * x * x).reshape(x.shape[0], -1).sum(dim=1)


def test_r1_is_a_per_example_squared_norm_averaged_over_the_batch():
    r = np.random.default_rng(4)
    a = r.uniform(0.5, 2.0, X_SHAPE[1:])
    x = r.standard_normal(X_SHAPE)
    n, n_pix = X_SHAPE[0], int(np.prod(X_SHAPE[1:]))
    g = a * x                                                     # grad_x D, (N, C, H, W)
    expected = (g ** 2).reshape(n, -1).sum(1).mean()
    r1 = r1_penalty(_quadratic_critic(a), Tensor(x)).item()
    np.testing.assert_allclose(r1, expected, rtol=1e-12)
    # what a per-pixel mean or a whole-batch norm would give: far from the right value here
    for wrong in ((g ** 2).mean(), (g ** 2).sum(), np.linalg.norm(g.reshape(n, -1), axis=1).mean()):
        assert abs(wrong - expected) > 0.1 * expected
    # and the batch value is the mean of the single-example values
    singles = [r1_penalty(_quadratic_critic(a), Tensor(x[i:i + 1])).item() for i in range(n)]
    np.testing.assert_allclose(r1, np.mean(singles), rtol=1e-12)
    assert n > 1 and n_pix > 1


def test_r1_leaves_grad_fields_alone_and_checks_the_scores():
    minigrad.manual_seed(5)
    D = _mlp(nn, _leaky)
    real = minigrad.randn(*X_SHAPE, requires_grad=True)
    r1_penalty(D, real)
    assert all(p.grad is None for p in D.parameters()) and real.grad is None
    with pytest.raises(ValueError, match="one score per sample"):
        r1_penalty(nn.Flatten(), real)
    with pytest.raises(ValueError, match="non-empty batch"):
        r1_penalty(D, minigrad.zeros(0, 2, 3, 3))


# ================================================================================ WGAN-GP
def test_wgan_gp_gradient_penalty_is_per_example():
    """One norm per sample over all of C, H, W. A popular bug takes the norm over dim 1 only
    (per pixel, for images): that would give a different value here."""
    r = np.random.default_rng(6)
    shape = (4, 2, 3, 3)
    a = r.uniform(0.05, 0.4, shape[1:])
    real, fake = r.standard_normal(shape), r.standard_normal(shape)
    eps = r.random(shape[0])
    x_hat = eps[:, None, None, None] * real + (1 - eps[:, None, None, None]) * fake
    g = a * x_hat                                                 # grad D at x_hat
    expected = ((np.linalg.norm(g.reshape(shape[0], -1), axis=1) - 1) ** 2).mean()
    critic = _quadratic_critic(a)
    gp = gradient_penalty(critic, Tensor(real), Tensor(fake), eps=eps).item()
    np.testing.assert_allclose(gp, expected, rtol=1e-12)
    per_pixel = ((np.linalg.norm(g, axis=1) - 1) ** 2).mean()
    whole_batch = (np.linalg.norm(g) - 1) ** 2
    assert abs(per_pixel - expected) > 0.1 * expected
    assert abs(whole_batch - expected) > 0.1 * expected
    singles = [gradient_penalty(critic, Tensor(real[i:i + 1]), Tensor(fake[i:i + 1]),
                                eps=eps[i:i + 1]).item() for i in range(shape[0])]
    np.testing.assert_allclose(gp, np.mean(singles), rtol=1e-12)
