"""Conditional GAN (Mirza and Osindero, 2014): both players see the class label y.

    min_G max_D  E_{x,y}[log D(x | y)] + E_{z,y}[log(1 - D(G(z | y) | y))]

The label enters each network as a learned embedding concatenated with its input, so G learns
one distribution per class and sampling can be steered: ``model.sample(10, labels=range(10))``.
D must judge whether x is a real image *of class y*, which is what forces G to respect y.

    G: [z(100), emb(y)(10)] -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2), Tanh
    D: [x(784), emb(y)(10)] -> 1024 -> 512 -> 256 -> 1, LeakyReLU(0.2), Dropout(0.3)
"""
from __future__ import annotations

from dataclasses import dataclass

import minigrad
from gans.common import Network, mlp, package
from gans.dcgan import AdamConfig, adam
from gans.losses import d_loss, g_loss, score_stats
from gans.protocol import GANModel, frozen, option


@dataclass
class Config(AdamConfig):
    n_classes: int = 10
    embed_dim: int = 10
    img_size: int = 28
    channels: int = 1
    g_hidden: tuple = (256, 512, 1024)
    d_hidden: tuple = (1024, 512, 256)
    dropout: float = 0.3
    loss: str = option("non_saturating", "or minimax, least_squares, hinge (gans/losses.py)")


class Generator(Network):
    def __init__(self, cfg: Config):
        super().__init__()
        lib = self.lib
        self.shape = (cfg.channels, cfg.img_size, cfg.img_size)
        self.embed = lib.Embedding(cfg.n_classes, cfg.embed_dim)
        self.net = mlp((cfg.latent_dim + cfg.embed_dim, *cfg.g_hidden,
                        cfg.channels * cfg.img_size ** 2), out_act=lib.Tanh(), lib=lib)

    def forward(self, z, y):
        h = package(self.lib).cat([z, self.embed(y)], dim=1)  # (N, latent + embed)
        return self.net(h).reshape(-1, *self.shape)           # (N, C, H, W)


class Discriminator(Network):
    def __init__(self, cfg: Config):
        super().__init__()
        lib = self.lib
        self.embed = lib.Embedding(cfg.n_classes, cfg.embed_dim)
        self.net = mlp((cfg.channels * cfg.img_size ** 2 + cfg.embed_dim, *cfg.d_hidden, 1),
                       dropout=cfg.dropout, lib=lib)

    def forward(self, x, y):
        h = package(self.lib).cat([x.reshape(x.shape[0], -1), self.embed(y)], dim=1)
        return self.net(h)  # (N, 1) logits


class ConditionalGAN(GANModel):
    name = "cgan"
    Generator, Discriminator = Generator, Discriminator  # built by GANModel.networks

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        self.declare(optimizer=adam(self.config))

    def generate(self, z, labels=None):
        return self.G(z, labels)

    def random_labels(self, n):
        return minigrad.randint(0, self.config.n_classes, (n,), device=self.device)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        if labels is None:
            raise ValueError("ConditionalGAN.train_step needs the labels of the real batch")
        G, D, n, loss = self.G, self.D, real.shape[0], self.config.loss

        # --- D step: real (x, y) pairs vs generated (G(z|y'), y') pairs -----------------
        y_fake = self.random_labels(n)
        fake = G(self.latent(n), y_fake)
        real_scores, fake_scores = D(real, labels), D(fake.detach(), y_fake)
        loss_d = d_loss(loss, real_scores, fake_scores)
        self.update("D", loss_d)
        stats = {"loss_d": loss_d.detach(), **score_stats(loss, real_scores, fake_scores)}

        # --- G step: make D call (G(z|y'), y') real ----------------------------------------
        if update_g:
            with frozen(D):
                loss_g = g_loss(loss, D(fake, y_fake))
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats
