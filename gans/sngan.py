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

Networks (``net`` in the config), with spectral normalisation on every layer of D and no
BatchNorm in D (the normalisation takes its place):

* ``standard_cnn`` (the default for images whose side is a multiple of 8, e.g. CIFAR-10's
  32x32x3): the "standard CNN" of Miyato et al. (Table 3), widths from the config
  (``g_features`` = 64 gives the paper's 512-256-128-64, ``d_features`` = 64 its 64-...-512):

      G: z -> Linear -> (8g, 4, 4) -> BN, ReLU -> ConvT 4x4/2 -> (4g, 8, 8) -> BN, ReLU
           -> ConvT 4x4/2 -> (2g, 16, 16) -> BN, ReLU -> ConvT 4x4/2 -> (g, 32, 32) -> BN, ReLU
           -> Conv 3x3/1 -> (3, 32, 32) -> Tanh
      D: (3, 32, 32) -> Conv 3x3/1 (d) -> Conv 4x4/2 (d) -> Conv 3x3/1 (2d) -> Conv 4x4/2 (2d)
           -> Conv 3x3/1 (4d) -> Conv 4x4/2 (4d) -> Conv 3x3/1 (8d) -> (8d, 4, 4) -> Linear -> 1,
           LeakyReLU(0.1) after every convolution

* ``dcgan``: the DCGAN pair of gans.dcgan (the default at 28x28: MNIST's side is not a multiple
  of 8).

Optimizer: Adam(2e-4, betas (0.5, 0.999)) and one D step per G step: setting C of Miyato et al.'s
Table 1 (Radford et al.'s setting; the paper's Table 1 has A-F, and finds spectral normalisation
robust across them), the same as the DCGAN here. The paper's z has 128 dimensions
(``--latent-dim 128``); 100 is kept as the default so every DCGAN-shaped model here shares it.
The train step is the DCGAN's; ``loss`` picks any of gans/losses.py, the Wasserstein one
included, since D is Lipschitz.
"""
from __future__ import annotations

from dataclasses import dataclass

from minigrad import nn
from gans import dcgan
from gans.common import Network, on
from gans.losses import LOSSES
from gans.protocol import option

NETS = ("auto", "standard_cnn", "dcgan")


@dataclass
class Config(dcgan.Config):
    loss: str = option("hinge", "or non_saturating, minimax, least_squares, wasserstein")
    n_power_iterations: int = option(1, "power-iteration steps per training forward")
    net: str = option("auto", "standard_cnn or dcgan; auto: standard_cnn if img_size is divisible "
                              "by 8")


class StandardGenerator(Network):
    """Miyato et al.'s standard-CNN generator (widths 8g, 4g, 2g, g; see the module docstring)."""

    def __init__(self, latent_dim=128, channels=3, features=64, img_size=32):
        super().__init__()
        lib = self.lib
        self.base = img_size // 8
        self.top = 8 * features
        self.fc = lib.Linear(latent_dim, self.top * self.base ** 2)
        layers = [lib.BatchNorm2d(self.top), lib.ReLU()]                   # (N, 8g, 4, 4)
        width = self.top
        for _ in range(3):                                                 # 8x8, 16x16, 32x32
            layers += [lib.ConvTranspose2d(width, width // 2, 4, 2, 1),
                       lib.BatchNorm2d(width // 2), lib.ReLU()]
            width //= 2
        layers += [lib.Conv2d(width, channels, 3, 1, 1), lib.Tanh()]       # (N, C, 32, 32)
        self.net = lib.Sequential(*layers)

    def forward(self, z):
        return self.net(self.fc(z).reshape(-1, self.top, self.base, self.base))


class StandardDiscriminator(Network):
    """Miyato et al.'s standard-CNN discriminator (see the module docstring); no normalisation
    here: SNGAN.constrain adds the spectral one to every layer."""

    def __init__(self, channels=3, features=64, img_size=32, slope=0.1):
        super().__init__()
        lib = self.lib
        d = features
        layers, width = [], channels
        for w in (d, 2 * d, 4 * d):
            layers += [lib.Conv2d(width, w, 3, 1, 1), lib.LeakyReLU(slope),
                       lib.Conv2d(w, w, 4, 2, 1), lib.LeakyReLU(slope)]   # side halves
            width = w
        layers += [lib.Conv2d(width, 8 * d, 3, 1, 1), lib.LeakyReLU(slope),  # (N, 8d, 4, 4)
                   lib.Flatten()]
        self.body = lib.Sequential(*layers)
        self.head = lib.Linear(8 * d * (img_size // 8) ** 2, 1)

    def forward(self, x):
        return self.head(self.body(x))  # (N, 1) logits


class SNGAN(dcgan.DCGAN):
    name = "sngan"
    losses = LOSSES  # every loss of gans/losses.py: D is 1-Lipschitz
    d_batch_norm = False  # the normalisation takes BatchNorm's place

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)

    def pair(self, lib=nn):
        """Miyato et al.'s standard CNN, or the DCGAN pair (``net``; see the docstring), built
        with ``lib``."""
        cfg = self.config
        if cfg.net not in NETS:
            raise ValueError(f"net must be one of {', '.join(NETS)}, got {cfg.net!r}")
        net = cfg.net
        if net == "auto":
            net = "standard_cnn" if cfg.img_size % 8 == 0 else "dcgan"
        if net == "dcgan":
            return super().pair(lib)
        if cfg.img_size % 8:
            raise ValueError(f"the standard CNN needs an image side divisible by 8, got "
                             f"{cfg.img_size} (use --net dcgan)")
        return (on(lib, StandardGenerator)(cfg.latent_dim, cfg.channels, cfg.g_features,
                                           cfg.img_size),
                on(lib, StandardDiscriminator)(cfg.channels, cfg.d_features, cfg.img_size))

    def constrain(self, D, lib=nn):
        """Every Conv2d and Linear of D spectrally normalised (after the N(0, 0.02) init, which
        then sets the raw weights ``weight_orig``); ``lib``: D's module library."""
        for m in D.modules():
            if isinstance(m, (lib.Conv2d, lib.Linear)):
                lib.utils.spectral_norm(m, n_power_iterations=self.config.n_power_iterations)
        return D
