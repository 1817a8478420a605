"""LSGAN (Mao, Li, Xie, Lau, Wang and Smolley, 2017): least squares in place of the log loss.

With the sigmoid cross-entropy, a generated sample that D already scores on the real side of the
boundary gives G almost no gradient, however far from the data it lies. LSGAN asks D to output
codes, b for real and a for fake, and G to have its samples scored c, all by least squares:

    D minimises  1/2 E_x[(D(x) - b)^2] + 1/2 E_z[(D(G(z)) - a)^2]
    G minimises  1/2 E_z[(D(G(z)) - c)^2]

so a sample's penalty grows with its distance from the code, even on the right side of the
boundary. With b - c = 1 and b - a = 2 (a = -1, b = 1, c = 0), minimising this objective
minimises the Pearson chi^2 divergence between p_data + p_g and 2 p_g (the paper's Theorem 1);
the 0-1 coding a = 0, b = c = 1 (the default, the paper's other scheme) behaves alike in
practice. D has no sigmoid: its raw score is compared with the codes.

Networks: the DCGAN-28 pair of gans.dcgan, with its init and Adam(2e-4, beta1 = 0.5).

This module is the worked example of docs/new_variant.md: a new variant is one file like this
one plus one line in gans.REGISTRY.
"""
from __future__ import annotations

from dataclasses import dataclass

from minigrad import nn
from gans.dcgan import AdamConfig, NetsConfig, adam, dcgan_init, discriminator, generator
from gans.losses import least_squares
from gans.protocol import GANModel, frozen, option


@dataclass
class Config(NetsConfig, AdamConfig):
    a: float = option(0.0, "D's target for generated images")
    b: float = option(1.0, "D's target for real images")
    c: float = option(1.0, "the score G wants D to give its images")


class LSGAN(GANModel):
    name = "lsgan"

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        self.declare(init=dcgan_init, optimizer=adam(self.config))

    def networks(self, lib=nn):
        """The DCGAN pair, built with ``lib`` (``torch.nn`` for the twin)."""
        return generator(self.config, lib), discriminator(self.config, lib)

    def generate(self, z, labels=None):
        return self.G(z)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        G, D, n, cfg = self.G, self.D, real.shape[0], self.config

        # --- D step: 1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2 ------------------------------
        fake = G(self.latent(n))
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = 0.5 * least_squares(d_real, cfg.b) + 0.5 * least_squares(d_fake, cfg.a)
        self.update("D", loss_d)
        stats = {"loss_d": loss_d.detach(), "d_real": d_real.detach().mean(),
                 "d_fake": d_fake.detach().mean()}

        # --- G step: 1/2 (D(G(z)) - c)^2, reusing this step's fakes -----------------------
        if update_g:
            with frozen(D):
                loss_g = 0.5 * least_squares(D(fake), cfg.c)
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats
