"""DCGAN (Radford, Metz and Chintala, 2016), sized for 28x28 images.

Same game as the vanilla GAN (non-saturating G loss; ``loss`` in the config picks another from
gans/losses.py), with the architecture guidelines that made convolutional GANs train reliably:
- strided convolutions in D and transposed (fractionally strided) convolutions in G, no pooling;
- BatchNorm in both networks (not on G's output or D's input layer);
- ReLU in G with Tanh on the output, LeakyReLU(0.2) in D;
- weights from N(0, 0.02), Adam with lr 2e-4 and beta1 = 0.5.

    G: z(100) -> Linear -> (128, 7, 7) -> BN, ReLU -> ConvT 4x4/2 -> (64, 14, 14) -> BN, ReLU
              -> ConvT 4x4/2 -> (1, 28, 28) -> Tanh
    D: (1, 28, 28) -> Conv 4x4/2 -> (64, 14, 14) -> LReLU -> Conv 4x4/2 -> (128, 7, 7) -> BN,
              LReLU -> Linear -> 1 logit
"""
from __future__ import annotations

from dataclasses import dataclass

from minigrad import nn, optim
from minigrad.nn import init
from gans.common import on
from gans.losses import UNCONSTRAINED, check_loss, d_loss, g_loss, score_stats
from gans.penalties import r1_penalty
from gans.protocol import GANConfig, GANModel, frozen, option


@dataclass
class Config(GANConfig):
    channels: int = 1
    g_features: int = option(64, "2x this at 7x7, 1x at 14x14")
    d_features: int = 64
    lr: float = 2e-4
    betas: tuple = (0.5, 0.999)
    loss: str = option("non_saturating", "or minimax, least_squares, hinge (gans/losses.py)")
    r1_gamma: float = option(0.0,
                             "R1 penalty weight, gamma/2 E||grad D(x)||^2 on real x (SNGAN's D)")


class Generator(nn.Module):
    lib = nn  # the module library; gans.common.on(torch.nn, Generator) is the torch twin's

    def __init__(self, latent_dim=100, channels=1, features=64, extra_inputs=0):
        lib = self.lib
        lib.Module.__init__(self)
        f2 = 2 * features
        self.f2 = f2
        self.fc = lib.Linear(latent_dim + extra_inputs, f2 * 7 * 7)
        self.net = lib.Sequential(
            lib.BatchNorm2d(f2), lib.ReLU(),                             # (N, 2f, 7, 7)
            lib.ConvTranspose2d(f2, features, 4, 2, 1), lib.BatchNorm2d(features), lib.ReLU(),
            #                                                              (N, f, 14, 14)
            lib.ConvTranspose2d(features, channels, 4, 2, 1), lib.Tanh(),  # (N, C, 28, 28)
        )

    def forward(self, z):
        return self.net(self.fc(z).reshape(-1, self.f2, 7, 7))


class Discriminator(nn.Module):
    """Convolutional body shared by DCGAN, AC-GAN and InfoGAN; ``features`` gives (N, 2f*7*7)."""

    lib = nn  # as for Generator

    def __init__(self, channels=1, features=64, n_out=1, batch_norm=True):
        lib = self.lib
        lib.Module.__init__(self)
        f2 = 2 * features
        self.body = lib.Sequential(
            lib.Conv2d(channels, features, 4, 2, 1), lib.LeakyReLU(0.2),    # (N, f, 14, 14)
            lib.Conv2d(features, f2, 4, 2, 1),
            lib.BatchNorm2d(f2) if batch_norm else lib.Identity(), lib.LeakyReLU(0.2),
            lib.Flatten(),                                                  # (N, 2f*7*7)
        )
        self.n_features = f2 * 7 * 7
        self.head = lib.Linear(self.n_features, n_out) if n_out else lib.Identity()

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))  # (N, n_out) logits


def dcgan_init(module):
    """Radford et al.'s init: conv weights N(0, 0.02), BatchNorm weight N(1, 0.02), bias 0.
    Apply with ``model.apply(dcgan_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        init.normal_(module.weight, 1.0, 0.02)
        init.zeros_(module.bias)


def adam(cfg):
    """Adam(lr, betas) of the config, for :meth:`GANModel.declare`: Radford et al.'s optimizer,
    shared by the DCGAN-shaped variants."""
    return lambda params: optim.Adam(params, lr=cfg.lr, betas=cfg.betas)


class DCGAN(GANModel):
    name = "dcgan"
    losses = UNCONSTRAINED  # the losses ``loss`` may name (see gans/losses.py)
    d_batch_norm = True  # BatchNorm in D (SNGAN: off)

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        check_loss(cfg.loss, self.losses)
        if cfg.r1_gamma and self.d_batch_norm:
            raise ValueError("r1_gamma needs a discriminator without BatchNorm (the penalty is "
                             "per example; BatchNorm mixes the batch): use sngan")
        G, D = self.networks()
        self.declare(G=G, D=D, optimizer=adam(cfg))

    def networks(self, lib=nn):
        """G and D as they start, built with ``lib`` (``torch.nn`` for the twin, where
        ``dcgan_init`` does nothing: the twin copies these weights)."""
        cfg = self.config
        G = on(lib, Generator)(cfg.latent_dim, cfg.channels, cfg.g_features)
        D = on(lib, Discriminator)(cfg.channels, cfg.d_features, batch_norm=self.d_batch_norm)
        for net in (G, D):
            net.apply(dcgan_init)
        return G, self.constrain(D, lib)

    def constrain(self, D, lib=nn):
        """D as trained: unchanged here; SNGAN normalises its layers."""
        return D

    def generate(self, z, labels=None):
        return self.G(z)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        G, D, n, loss = self.G, self.D, real.shape[0], self.config.loss

        # --- D step: -log D(x) - log(1 - D(G(z))) (the default loss) ----------------------
        fake = G(self.latent(n))
        real_scores, fake_scores = D(real), D(fake.detach())
        loss_d = d_loss(loss, real_scores, fake_scores)
        stats = score_stats(loss, real_scores, fake_scores)
        if self.config.r1_gamma:  # Mescheder et al. 2018: keep D flat on the data
            r1 = r1_penalty(D, real)
            loss_d = loss_d + self.config.r1_gamma / 2 * r1
            stats["r1"] = r1.detach()
        self.update("D", loss_d)
        stats["loss_d"] = loss_d.detach()

        # --- G step: -log D(G(z)) (non-saturating), reusing this step's fakes -------------
        if update_g:
            with frozen(D):
                loss_g = g_loss(loss, D(fake))
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats
