"""DCGAN (Radford, Metz and Chintala, 2016), for 28x28 grey and 32x32 colour images.

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

The image size and channels come from the config (``img_size``, ``channels``): the networks
halve the image until its side would drop below 4 (28 -> 14 -> 7; 32 -> 16 -> 8 -> 4), one
4x4/2 (transposed) convolution per halving, doubling the width each time. At 32x32x3 this is
Radford et al.'s layout for CIFAR-10 (their 64x64 network less one stage):

    G: z(100) -> Linear -> (4f, 4, 4) -> BN, ReLU -> ConvT -> (2f, 8, 8) -> BN, ReLU -> ConvT
              -> (f, 16, 16) -> BN, ReLU -> ConvT -> (3, 32, 32) -> Tanh
    D: (3, 32, 32) -> Conv -> (f, 16, 16) -> LReLU -> Conv -> (2f, 8, 8) -> BN, LReLU -> Conv
              -> (4f, 4, 4) -> BN, LReLU -> Linear -> 1 logit
"""
from __future__ import annotations

from dataclasses import dataclass

from minigrad import nn, optim
from minigrad.nn import init
from gans.common import Network, on
from gans.losses import d_loss, g_loss, score_stats
from gans.penalties import r1_penalty
from gans.protocol import GANConfig, GANModel, frozen, option


@dataclass
class NetsConfig(GANConfig):
    """The fields the DCGAN pair's builders (:func:`generator`, :func:`discriminator`) read: the
    Config of each variant built on that pair derives from it."""
    channels: int = 1
    img_size: int = option(28, "28 or 32 (the networks of gans.dcgan at that size)")
    g_features: int = 64
    d_features: int = 64


@dataclass
class AdamConfig(GANConfig):
    """Adam's settings at Radford et al.'s values for GANs (lr 2e-4, beta1 = 0.5), the fields
    :func:`adam` reads: the Config of each variant trained with that optimizer derives from it."""
    lr: float = 2e-4
    betas: tuple = (0.5, 0.999)


@dataclass
class Config(NetsConfig, AdamConfig):
    img_size: int = option(28, "28 (MNIST) or 32 (CIFAR-10); any size n * 2^k with 4 <= n < 8")
    g_features: int = option(64, "2x this at 7x7, 1x at 14x14")
    loss: str = option("non_saturating", "or minimax, least_squares, hinge (gans/losses.py)")
    r1_gamma: float = option(0.0,
                             "R1 penalty weight, gamma/2 E||grad D(x)||^2 on real x (SNGAN's D)")


def stages(img_size: int) -> tuple[int, int]:
    """(base, k) with ``img_size = base * 2**k`` and 4 <= base < 8: the side of the smallest
    feature map and the number of 4x4/2 (transposed) convolutions (28: (7, 2); 32: (4, 3))."""
    base, k = int(img_size), 0
    while base % 2 == 0 and base // 2 >= 4:
        base, k = base // 2, k + 1
    if k == 0 or base >= 8:
        raise ValueError(f"img_size {img_size} is not n * 2^k with 4 <= n < 8 and k >= 1 "
                         "(28 and 32 are)")
    return base, k


class Generator(Network):
    """z -> Linear -> (f * 2^(k-1), base, base) -> [BN, ReLU, ConvT 4x4/2] x k -> Tanh
    (``stages(img_size)`` gives base and k; 28x28: the DCGAN-28 pair's layout)."""

    def __init__(self, latent_dim=100, channels=1, features=64, extra_inputs=0, img_size=28):
        super().__init__()
        lib = self.lib
        self.base, k = stages(img_size)
        widths = [features * 2 ** i for i in reversed(range(k))]       # (4f,) 2f, f
        self.f2 = widths[0]
        self.fc = lib.Linear(latent_dim + extra_inputs, widths[0] * self.base ** 2)
        layers = [lib.BatchNorm2d(widths[0]), lib.ReLU()]              # (N, 2f, 7, 7)
        for w_in, w_out in zip(widths[:-1], widths[1:]):              # side doubles each time
            layers += [lib.ConvTranspose2d(w_in, w_out, 4, 2, 1), lib.BatchNorm2d(w_out),
                       lib.ReLU()]                                     # (N, f, 14, 14)
        layers += [lib.ConvTranspose2d(widths[-1], channels, 4, 2, 1), lib.Tanh()]
        self.net = lib.Sequential(*layers)                             # (N, C, 28, 28)

    def forward(self, z):
        return self.net(self.fc(z).reshape(-1, self.f2, self.base, self.base))


class Discriminator(Network):
    """Convolutional body shared by DCGAN, AC-GAN and InfoGAN; ``features`` gives
    (N, 2f*7*7) at 28x28, (N, 4f*4*4) at 32x32."""

    def __init__(self, channels=1, features=64, n_out=1, batch_norm=True, img_size=28):
        super().__init__()
        lib = self.lib
        base, k = stages(img_size)
        layers = [lib.Conv2d(channels, features, 4, 2, 1), lib.LeakyReLU(0.2)]  # (N, f, 14, 14)
        width = features
        for _ in range(k - 1):                                       # side halves each time
            layers += [lib.Conv2d(width, 2 * width, 4, 2, 1),
                       lib.BatchNorm2d(2 * width) if batch_norm else lib.Identity(),
                       lib.LeakyReLU(0.2)]                           # (N, 2f, 7, 7)
            width *= 2
        self.body = lib.Sequential(*layers, lib.Flatten())           # (N, 2f*7*7)
        self.n_features = width * base * base
        self.head = lib.Linear(self.n_features, n_out) if n_out else lib.Identity()

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))  # (N, n_out) logits


def generator(cfg, lib=nn):
    """The DCGAN generator of a config (its ``latent_dim``, ``channels``, ``g_features`` and
    ``img_size``), built with ``lib`` (``torch.nn`` for the twin): G of DCGAN, LSGAN, the WGANs
    and AC-GAN."""
    return on(lib, Generator)(cfg.latent_dim, cfg.channels, cfg.g_features,
                              img_size=cfg.img_size)


def discriminator(cfg, lib=nn, n_out=1, batch_norm=True):
    """The DCGAN discriminator of a config (its ``channels``, ``d_features`` and ``img_size``),
    built with ``lib``: ``n_out`` logits (0: the flattened features, for a variant's own heads),
    BatchNorm or not (the WGAN critic)."""
    return on(lib, Discriminator)(cfg.channels, cfg.d_features, n_out=n_out,
                                  batch_norm=batch_norm, img_size=cfg.img_size)


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
    d_batch_norm = True  # BatchNorm in D (SNGAN: off)

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        if cfg.r1_gamma and self.d_batch_norm:
            raise ValueError("r1_gamma needs a discriminator without BatchNorm (the penalty is "
                             "per example; BatchNorm mixes the batch): use sngan")
        self.declare(optimizer=adam(cfg))

    def networks(self, lib=nn):
        """G and D as they start, built with ``lib`` (``torch.nn`` for the twin, where
        ``dcgan_init`` does nothing: the twin copies these weights)."""
        G, D = self.pair(lib)
        for net in (G, D):
            net.apply(dcgan_init)
        return G, self.constrain(D, lib)

    def pair(self, lib=nn):
        """(G, D) before init and constraint, built with ``lib``: the DCGAN pair at the
        config's ``img_size``."""
        return (generator(self.config, lib),
                discriminator(self.config, lib, batch_norm=self.d_batch_norm))

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
