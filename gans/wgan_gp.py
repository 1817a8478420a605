"""WGAN-GP (Gulrajani, Ahmed, Arjovsky, Dumoulin and Courville, 2017): WGAN with a gradient penalty.

WGAN keeps its critic Lipschitz by clipping weights, which biases the critic towards overly
simple functions and explodes or vanishes gradients unless c is tuned. An optimal 1-Lipschitz
critic has gradient norm 1 almost everywhere on lines between real and generated points, so
WGAN-GP asks for that directly, with a soft penalty:

    L_D = E[D(G(z))] - E[D(x)]  +  lambda * E[(||grad_{x_hat} D(x_hat)||_2 - 1)^2]
    x_hat = eps * x + (1 - eps) * G(z),   eps ~ U[0, 1], one per sample
    L_G = -E[D(G(z))]

lambda = 10, n_critic = 5, Adam(lr 1e-4, betas (0.0, 0.9)) (Algorithm 1 of the paper).

The penalty is a function of a gradient, so minimising it needs the gradient of a gradient:
``minigrad.grad(D(x_hat).sum(), x_hat, create_graph=True)`` returns grad_{x_hat} D as a Tensor
*with a graph*, and ``L_D.backward()`` then differentiates through it into the critic's weights
(double backprop). ``grad`` (not ``backward``) is used so D's ``.grad`` fields are left alone.
Summing D over the batch before differentiating is exact: sample i's score depends only on x_hat_i,
so row i of grad(sum_j D(x_hat_j)) is grad D(x_hat_i) -- one reason the critic must not use
BatchNorm, which couples the samples of a batch (the paper uses LayerNorm or nothing).

Critics (``critic`` in the config; the default, auto, picks conv for colour images and mlp for
grey ones):
    'mlp'   (1, 28, 28) -> 784 -> 512 -> 256 -> 1, LeakyReLU(0.2)                cheap on a CPU
    'conv'  (1, 28, 28) -> Conv 4x4/2 -> (64, 14, 14) -> LReLU -> Conv 4x4/2 -> (128, 7, 7)
            -> [LayerNorm] -> LReLU -> Linear -> 1                 DCGAN-shaped, double backprop
                                                                   through Conv2d
            at 32x32x3 (CIFAR-10, ``img_size`` 32, ``channels`` 3) one more stage: (3, 32, 32)
            -> (f, 16, 16) -> (2f, 8, 8) -> (4f, 4, 4) -> Linear -> 1, the layout of the
            paper's CIFAR-10 DCGAN critic (its code: 5x5 kernels, DIM = 128; here 4x4, f = 64)
G is the DCGAN generator (BatchNorm, ReLU, Tanh) from gans.dcgan at ``img_size``.
"""
from __future__ import annotations

from dataclasses import dataclass

from minigrad import nn
from gans import dcgan
from gans.common import Network, mlp, on
from gans.dcgan import adam, dcgan_init, stages
from gans.losses import d_loss
from gans.penalties import gradient_penalty
from gans.protocol import GANConfig, option
from gans.wgan import WassersteinGAN


@dataclass
class Config(GANConfig):
    latent_dim: int = option(
        100, "the paper's MNIST code uses 128; 100 matches the other DCGAN-28 models")
    channels: int = 1
    img_size: int = option(28, "28 or 32 (the networks of gans.dcgan at that size)")
    critic: str = option("auto", '"mlp" or "conv"; auto: conv for colour images (channels > '
                                 '1), mlp for grey ones')
    mlp_hidden: tuple = (512, 256)
    g_features: int = 64
    d_features: int = 64
    layer_norm: bool = option(False, "LayerNorm in the conv critic (never BatchNorm)")
    gp_lambda: float = 10.0
    d_steps: int = option(5, "critic steps per generator step (the paper's n_critic)")
    lr: float = 1e-4
    betas: tuple = (0.0, 0.9)

    def __post_init__(self):
        super().__post_init__()  # the ranges of the fields (gans.protocol.RANGES)
        if self.critic == "auto":  # resolved here, so a run's config.json names the critic
            self.critic = "conv" if self.channels > 1 else "mlp"


def mlp_critic(cfg: Config, lib=nn):
    """The 'mlp' critic, built with the module library ``lib`` (``torch.nn`` for the twin)."""
    n_in = cfg.channels * cfg.img_size ** 2
    return lib.Sequential(lib.Flatten(), mlp((n_in, *cfg.mlp_hidden, 1), lib=lib))  # (N, 1)


class ConvCritic(Network):
    """DCGAN-shaped critic without BatchNorm (a per-sample function, as the penalty needs);
    one 4x4/2 convolution per halving of ``img_size`` (``gans.dcgan.stages``)."""

    def __init__(self, channels=1, features=64, layer_norm=False, img_size=28):
        super().__init__()
        lib = self.lib
        base, k = stages(img_size)
        layers = [lib.Conv2d(channels, features, 4, 2, 1), lib.LeakyReLU(0.2)]  # (N, f, 14, 14)
        width, side = features, img_size // 2
        for _ in range(k - 1):
            width, side = 2 * width, side // 2
            layers += [lib.Conv2d(width // 2, width, 4, 2, 1),               # (N, 2f, 7, 7)
                       lib.LayerNorm([width, side, side]) if layer_norm else lib.Identity(),
                       lib.LeakyReLU(0.2)]
        self.net = lib.Sequential(*layers, lib.Flatten(),
                                  lib.Linear(width * base * base, 1))         # (N, 1) scores

    def forward(self, x):
        return self.net(x)


class WGANGP(WassersteinGAN):
    name = "wgan_gp"

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        self.declare(optimizer=adam(self.config))

    def networks(self, lib=nn):
        """G and the critic of the config, initialised, built with ``lib`` (``torch.nn`` for the
        twin, where ``dcgan_init`` does nothing: the twin copies these weights)."""
        cfg = self.config
        G = dcgan.generator(cfg, lib)
        G.apply(dcgan_init)
        if cfg.critic == "mlp":
            return G, mlp_critic(cfg, lib)  # PyTorch's default (Kaiming-uniform) init
        if cfg.critic == "conv":
            return G, on(lib, ConvCritic)(cfg.channels, cfg.d_features, cfg.layer_norm,
                                          cfg.img_size).apply(dcgan_init)
        raise ValueError(f"critic must be 'mlp' or 'conv', got {cfg.critic!r}")

    def critic_loss(self, D, real, fake, d_real, d_fake):
        """E[D(G(z))] - E[D(x)] + lambda * (||grad D(x_hat)|| - 1)^2, and the penalty's value;
        the critic's update backpropagates through the penalty's gradient graph (double
        backprop)."""
        gp = gradient_penalty(D, real, fake)
        loss_d = d_loss("wasserstein", d_real, d_fake) + self.config.gp_lambda * gp
        return loss_d, {"gp": gp.detach()}
