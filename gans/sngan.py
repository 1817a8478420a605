"""SNGAN (Miyato, Kataoka, Koyama and Yoshida, 2018): spectral normalisation of the discriminator.

A GAN's D can become arbitrarily steep, and then G's gradient is useless. Spectral normalisation
divides every weight matrix W of D by its largest singular value sigma(W), so each layer is
1-Lipschitz and, with 1-Lipschitz activations (LeakyReLU), so is D:

    W_SN = W / sigma(W),   sigma(W) = max_{h != 0} |W h| / |h|  ~  u^T W v

sigma is estimated by one step of the power iteration per training forward, with u and v kept
from step to step (``minigrad.nn.utils.spectral_norm``, PyTorch's semantics); the gradient flows
through sigma(W) (u and v are constants). Unlike weight clipping it keeps the layer's other
singular values, and unlike the gradient penalty it costs one matrix-vector product per layer.
The paper pairs it with the hinge loss (Lim and Ye 2017):

    D minimises  E_x[relu(1 - D(x))] + E_z[relu(1 + D(G(z)))]       G minimises  -E_z[D(G(z))]

Networks: the DCGAN-28 pair of gans.dcgan with spectral normalisation on every layer of D and no
BatchNorm in D (the normalisation takes its place); Adam(2e-4, betas (0.5, 0.999)) and one D step
per G step, as the DCGAN here (Miyato et al. compare several such settings and find spectral
normalisation robust across them). The train step is the DCGAN's; ``loss`` picks any of
gans/losses.py, the Wasserstein one included, since D is Lipschitz.
"""
from __future__ import annotations

from dataclasses import dataclass

from minigrad import nn
from gans import dcgan
from gans.losses import LOSSES
from gans.protocol import option


@dataclass
class Config(dcgan.Config):
    loss: str = option("hinge", "or non_saturating, minimax, least_squares, wasserstein")
    n_power_iterations: int = option(1, "power-iteration steps per training forward")


class SNGAN(dcgan.DCGAN):
    name = "sngan"
    losses = LOSSES  # every loss of gans/losses.py: D is 1-Lipschitz
    d_batch_norm = False  # the normalisation takes BatchNorm's place

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)

    def constrain(self, D, lib=nn):
        """Every Conv2d and Linear of D spectrally normalised (after the N(0, 0.02) init, which
        then sets the raw weights ``weight_orig``); ``lib``: D's module library."""
        for m in D.modules():
            if isinstance(m, (lib.Conv2d, lib.Linear)):
                lib.utils.spectral_norm(m, n_power_iterations=self.config.n_power_iterations)
        return D
