"""Lecture 1, the optimal discriminator (run by examples/optimal_discriminator.py, checked by
tests/test_theory.py).

**The optimal discriminator.** For a fixed generator distribution p_g, the D that maximises
    V(D, G) = E_{x~p_data}[log D(x)] + E_{x~p_g}[log(1 - D(x))]
is, pointwise (maximise  a log D + b log(1 - D)  over D in (0, 1): D = a / (a + b)),
    D*(x) = p_data(x) / (p_data(x) + p_g(x)),
and plugging it back in,
    V(D*, G) = -log 4 + 2 JSD(p_data || p_g),
so the generator's problem is to minimise the Jensen-Shannon divergence, whose minimum
(JSD = 0 at p_g = p_data, where D* = 1/2 everywhere) gives the value of the game, -log 4.
Here: 1-D Gaussians, a small MLP trained on samples, compared with the closed forms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import minigrad
from gans.lectures.schedule import linear_decay, set_lr
from gans.losses import d_loss
from minigrad import nn, optim


LOG4 = math.log(4.0)


def _softplus(x):
    """log(1 + e^x), exact for large |x| (NumPy)."""
    return np.logaddexp(0.0, x)


@dataclass(frozen=True)
class Gaussian1D:
    """N(mean, std^2) on the real line: log-density, density and sampling."""

    mean: float
    std: float

    def logpdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return -0.5 * z * z - math.log(self.std * math.sqrt(2.0 * math.pi))

    def pdf(self, x):
        return np.exp(self.logpdf(x))

    def sample(self, n: int, rng) -> np.ndarray:
        """``n`` samples as a float32 column (n, 1)."""
        return (self.mean + self.std * rng.standard_normal((n, 1))).astype(np.float32)


# p_data is minigrad.data.gaussian_1d's default, N(4, 0.5^2). The generator is frozen at
# N(2, 1): wider and shifted, so the densities overlap and D* sweeps the whole range (0, 1) --
# and because the variances differ, log p_data/p_g is a quadratic, so D* is not monotone: far
# right, where p_g's heavier tail wins again, D* comes back down. A linear D could not match it.
P_DATA = Gaussian1D(4.0, 0.5)
P_G = Gaussian1D(2.0, 1.0)


def optimal_logit(x, p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G):
    """logit D*(x) = log p_data(x) - log p_g(x), computed in log space (exact in the tails)."""
    return p_data.logpdf(x) - p_g.logpdf(x)


def optimal_discriminator(x, p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) = sigmoid(log p_data(x) - log p_g(x))."""
    return 1.0 / (1.0 + np.exp(-optimal_logit(x, p_data, p_g)))


def quadrature_grid(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G, n: int = 20001):
    """A grid covering both densities to +-12 standard deviations (for the integrals below)."""
    lo = min(p_data.mean - 12 * p_data.std, p_g.mean - 12 * p_g.std)
    hi = max(p_data.mean + 12 * p_data.std, p_g.mean + 12 * p_g.std)
    return np.linspace(lo, hi, n)


def value_of_game(logit_fn, p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G) -> float:
    """V(D, G) = int p_data log D + p_g log(1 - D) dx, by quadrature, for D = sigmoid(logit_fn).

    Uses log D = -softplus(-s) and log(1 - D) = -softplus(s) with s the logit, so a D that is
    (correctly) near 0 or 1 in a tail costs nothing in precision.
    """
    x = quadrature_grid(p_data, p_g)
    s = np.asarray(logit_fn(x), dtype=np.float64).reshape(-1)
    integrand = -p_data.pdf(x) * _softplus(-s) - p_g.pdf(x) * _softplus(s)
    return float(np.trapezoid(integrand, x))


def jensen_shannon(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G) -> float:
    """JSD(p_data || p_g) = 1/2 KL(p_data || m) + 1/2 KL(p_g || m), m = (p_data + p_g)/2, in nats.

    Computed by quadrature in log space; it lies in [0, log 2]."""
    x = quadrature_grid(p_data, p_g)
    lp, lq = p_data.logpdf(x), p_g.logpdf(x)
    lm = np.logaddexp(lp, lq) - math.log(2.0)
    integrand = 0.5 * np.exp(lp) * (lp - lm) + 0.5 * np.exp(lq) * (lq - lm)
    return float(np.trapezoid(integrand, x))


def bulk_interval(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G, mass: float = 0.98):
    """The central ``mass`` of the mixture (p_data + p_g)/2: where D is trained on enough samples.

    Outside it D has seen (almost) no data, so nothing pins it to D*; comparisons use this range.
    """
    x = quadrature_grid(p_data, p_g)
    cdf = np.cumsum(0.5 * (p_data.pdf(x) + p_g.pdf(x)))
    cdf /= cdf[-1]
    tail = (1.0 - mass) / 2
    return float(np.interp(tail, cdf, x)), float(np.interp(1.0 - tail, cdf, x))


class Discriminator1D(nn.Module):
    """A small MLP x -> logit, on the input standardised by fixed (centre, scale).

    Tanh hidden units: the optimal logit for two Gaussians is a smooth quadratic."""

    def __init__(self, hidden: int = 32, layers: int = 2, centre: float = 3.0, scale: float = 1.5):
        super().__init__()
        self.centre, self.scale = centre, scale
        sizes = [1] + [hidden] * layers + [1]
        mods = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods.append(nn.Tanh())
        self.net = nn.Sequential(*mods)

    def forward(self, x):
        return self.net((x - self.centre) / self.scale)  # (N, 1) logits


def discriminator_logits(D: nn.Module, x) -> np.ndarray:
    """D's logits on the points ``x`` (any shape), as float64 NumPy, without recording a graph."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, 1)
    with minigrad.no_grad():
        return D(minigrad.tensor(x)).numpy().reshape(-1).astype(np.float64)


def train_discriminator(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G, steps: int = 3000,
                        batch_size: int = 512, lr: float = 3e-3, hidden: int = 32,
                        seed: int = 0):
    """Train D to (near) convergence against a *frozen* generator p_g: the inner max of the game.

    Each step draws a fresh batch from both densities (so D sees the distributions, not a finite
    training set) and takes an Adam step on  -[mean log D(x_real) + mean log(1 - D(x_fake))],
    i.e. on -V(D, G) estimated on the batch. The learning rate decays linearly to 1% so the last
    iterates average out the batch noise.

    Returns (D, losses) with losses the per-step estimates of -V.
    """
    minigrad.manual_seed(seed)
    rng = np.random.default_rng(seed)
    centre = 0.5 * (p_data.mean + p_g.mean)
    scale = max(p_data.std, p_g.std, abs(p_data.mean - p_g.mean) / 2)
    D = Discriminator1D(hidden, centre=centre, scale=scale)
    opt = optim.Adam(D.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        set_lr([opt], linear_decay(lr, step, steps))
        real = minigrad.tensor(p_data.sample(batch_size, rng))
        fake = minigrad.tensor(p_g.sample(batch_size, rng))
        losses.append(discriminator_step(D, opt, real, fake))
    return D, np.asarray(losses)


def discriminator_step(D: nn.Module, opt, real, fake) -> float:
    """One optimizer step of D alone on -V(D, G) = -log D(x) - log(1 - D(G(z))), estimated on
    the batches ``real`` and ``fake``; returns that estimate."""
    loss = d_loss("minimax", D(real), D(fake))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()
