"""Lecture 4, the vanishing gradient (run by examples/vanishing_gradient.py).

**The vanishing gradient.** With s the logit D gives a fake, D(G(z)) = sigmoid(s) and
    d/ds  log(1 - sigmoid(s)) = -sigmoid(s)          (minimax loss:  -> 0 as D(G(z)) -> 0)
    d/ds -log sigmoid(s)      = -(1 - sigmoid(s))    (non-saturating: -> -1)
Both losses send the same ds/dtheta_G back to G, scaled by D(G(z)) and 1 - D(G(z)): when D
confidently rejects the fakes the minimax gradient vanishes, the non-saturating one does not.
"""
from __future__ import annotations

import numpy as np

import minigrad
from gans.lectures.optimal_discriminator import P_DATA, Discriminator1D, discriminator_step
from gans.losses import check_loss, g_loss
from gans.protocol import frozen
from minigrad import nn, optim


class ToyGenerator1D(nn.Module):
    """z (N, 1) -> x (N, 1): a small MLP generator for the gradient experiment."""

    def __init__(self, hidden: int = 16, shift: float = 0.0):
        super().__init__()
        self.shift = shift
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, z):
        return self.net(z) + self.shift


def generator_gradient_norms(G: nn.Module, D, z, losses=("minimax", "non_saturating")):
    """For each loss: (||dL/dtheta_G||, mean_i ||dL/dx_i|| * N) with x = G(z), and mean D(G(z)).

    The losses are G's of :mod:`gans.losses`, on D's logits s for G's samples:
    'minimax'         mean log(1 - D(G(z)))  = -mean softplus(s)    (Goodfellow's objective)
    'non_saturating'  mean -log D(G(z))      =  mean softplus(-s)   (the paper's practical fix)

    ``D`` maps x to logits (any callable of Tensors). The per-sample output gradient is
    multiplied by N to undo the 1/N of the batch mean, so it reads as a per-sample gradient.
    Returns {'d_g_z': float, loss: {'param': float, 'output': float}}.
    """
    out = {}
    params = list(G.parameters())
    for loss in losses:
        check_loss(loss, ("minimax", "non_saturating"))
        x = G(z)
        logits = D(x)
        value = g_loss(loss, logits)
        grads = minigrad.grad(value, [x] + params)
        gx, gps = grads[0].numpy(), [g.numpy() for g in grads[1:]]
        out[loss] = {"param": float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in gps))),
                     "output": float(np.linalg.norm(gx, axis=1).mean() * len(gx))}
        out["d_g_z"] = float(minigrad.functional.sigmoid(logits.detach()).mean().item())
    return out


def vanishing_gradient_sweep(shifts=np.linspace(-16, 10, 53), hidden: int = 16, n: int = 256,
                             seed: int = 0):
    """Gradient norms reaching G as D's confidence that the fakes are fake is turned up.

    D is a fixed logistic discriminator on 1-D data around N(4, 0.5^2),
        D_b(x) = sigmoid(2 (x - 3) + b),
    and G a small random MLP whose samples sit around x ~ 0. Lowering the offset b makes D
    reject the fakes more and more confidently: D(G(z)) -> 0. The same ds/dtheta flows back
    for both losses; the minimax loss scales it by D(G(z)), the non-saturating by 1 - D(G(z)).

    Returns a dict of arrays over the shifts: d_g_z, and for each loss its parameter- and
    output-gradient norms ('minimax_param', 'minimax_output', 'non_saturating_param', ...).
    """
    minigrad.manual_seed(seed)
    G = ToyGenerator1D(hidden)
    z = minigrad.tensor(np.random.default_rng(seed).standard_normal((n, 1)).astype(np.float32))
    rows = []
    for b in shifts:
        def D(x, b=float(b)):
            return (x - 3.0) * 2.0 + b

        rows.append(generator_gradient_norms(G, D, z))
    out = {"shift": np.asarray(shifts, dtype=np.float64),
           "d_g_z": np.array([r["d_g_z"] for r in rows])}
    for loss in ("minimax", "non_saturating"):
        for kind in ("param", "output"):
            out[f"{loss}_{kind}"] = np.array([r[loss][kind] for r in rows])
    return out


def strengthening_discriminator(steps: int = 1500, record_every: int = 25, hidden: int = 32,
                                batch_size: int = 256, lr: float = 1e-3, seed: int = 0):
    """Train D (and only D) against a frozen, bad generator; watch the gradient G would get.

    The Arjovsky & Bottou (2017) experiment in 1-D: real data N(4, 0.5^2), G a small random MLP
    whose samples sit around 0. As D trains it separates the two ever more confidently,
    D(G(z)) -> 0, and the minimax gradient reaching G dies with it while the non-saturating
    one stays at order 1.

    Returns a dict of arrays over the recorded D steps: step, d_g_z and the gradient norms.
    """
    minigrad.manual_seed(seed)
    rng = np.random.default_rng(seed)
    G = ToyGenerator1D(16)
    D = Discriminator1D(hidden, centre=2.0, scale=2.0)
    opt = optim.Adam(D.parameters(), lr=lr)
    z_eval = minigrad.tensor(rng.standard_normal((batch_size, 1)).astype(np.float32))
    rows, recorded = [], []
    for step in range(steps + 1):
        if step % record_every == 0:
            with frozen(D):
                rows.append(generator_gradient_norms(G, D, z_eval))
            recorded.append(step)
        if step == steps:
            break
        real = minigrad.tensor(P_DATA.sample(batch_size, rng))
        with minigrad.no_grad():
            fake = G(minigrad.tensor(rng.standard_normal((batch_size, 1)).astype(np.float32)))
        discriminator_step(D, opt, real, fake)
    out = {"step": np.asarray(recorded), "d_g_z": np.array([r["d_g_z"] for r in rows])}
    for loss in ("minimax", "non_saturating"):
        for kind in ("param", "output"):
            out[f"{loss}_{kind}"] = np.array([r[loss][kind] for r in rows])
    return out
