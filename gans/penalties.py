"""Gradient penalties on the discriminator, through ``minigrad.grad(..., create_graph=True)``.

The WGAN-GP penalty (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017) asks the
critic's gradient to have norm 1 on lines between real and generated points, where an optimal
1-Lipschitz critic has it:

    GP = E[(||grad_{x_hat} D(x_hat)||_2 - 1)^2],   x_hat = eps x + (1 - eps) G(z),  eps ~ U[0, 1]

R1 (Mescheder, Geiger and Nowozin, "Which Training Methods for GANs do actually Converge?",
2018) penalises D's gradient on the real data only:

    R1 = E_{x ~ p_data}[ ||grad_x D(x)||_2^2 ],      L_D += (gamma / 2) * R1

It keeps D flat on the data manifold, which makes the simultaneous gradient descent of the GAN
game locally convergent (Theorem 4.2 of the paper). The norm is per example: each image's
gradient is squared and summed over all its pixels, then the squared norms are averaged over
the batch.
"""
from __future__ import annotations

import minigrad
from minigrad import nn
from gans.common import package


def gradient_penalty(critic, real, fake, eps=None, lib=nn):
    """E[(||grad_{x_hat} critic(x_hat)||_2 - 1)^2] on x_hat = eps*real + (1-eps)*fake.

    real, fake: (N, ...) batches (treated as constants); eps: (N,) or None for U[0, 1] draws.
    Returns a 0-d Tensor whose graph reaches the critic's parameters (created with
    ``create_graph=True``), so ``penalty.backward()`` gives d penalty / d weights.
    ``lib``: the critic's module library (``torch.nn`` for the PyTorch twin's critic).
    """
    pkg = package(lib)
    n = real.shape[0]
    shape = (n,) + (1,) * (real.ndim - 1)  # one eps per sample, broadcast over C, H, W
    if eps is None:
        eps = pkg.rand(*shape, dtype=real.dtype, device=real.device)
    elif not isinstance(eps, pkg.Tensor):
        eps = pkg.tensor(eps, dtype=real.dtype, device=real.device)
    eps = eps.reshape(*shape)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).detach().requires_grad_()
    scores = critic(x_hat)                                                   # (N, 1)
    g, = pkg.autograd.grad(scores.sum(), x_hat, create_graph=True)          # (N, C, H, W)
    g_norm = g.reshape(n, -1).norm(dim=1)                                   # (N,), safe at 0
    return ((g_norm - 1) ** 2).mean()


def r1_penalty(D, real) -> minigrad.Tensor:
    """E[||grad_x D(x)||^2] over the real batch (without gamma / 2, which the caller applies).

    D: a discriminator mapping (N, ...) to N scores ((N,) or (N, 1)); its samples must not
    interact (no BatchNorm in training mode), so that row i of grad_x sum_j D(x_j) is
    grad D(x_i). real: (N, ...) real samples (treated as constants).

    Returns a 0-d Tensor whose graph reaches D's parameters, so ``(gamma / 2 * r1).backward()``
    gives d R1 / d weights; D's ``.grad`` fields are left alone by the inner gradient.
    """
    if real.ndim < 1 or real.shape[0] == 0:
        raise ValueError(f"r1_penalty: expected a non-empty batch (N, ...), got shape "
                         f"{tuple(real.shape)}")
    n = real.shape[0]
    x = real.detach().requires_grad_()
    scores = D(x)
    if scores.shape not in ((n,), (n, 1)):
        raise ValueError(f"r1_penalty: D must give one score per sample, shape ({n},) or "
                         f"({n}, 1); got {tuple(scores.shape)}")
    g, = minigrad.grad(scores.sum(), x, create_graph=True)                 # (N, ...)
    return (g * g).reshape(n, -1).sum(dim=1).mean()                        # per example, mean


__all__ = ["gradient_penalty", "r1_penalty"]
