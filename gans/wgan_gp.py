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

Critics (``critic`` in the config):
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

import minigrad
from minigrad import nn
from gans.common import mlp
from gans.dcgan import Generator as ConvGenerator, adam, dcgan_init, stages
from gans.protocol import GANConfig, GANModel, frozen


@dataclass
class Config(GANConfig):
    latent_dim: int = 100  # the paper's MNIST code uses 128; 100 matches the other DCGAN-28 models
    channels: int = 1
    img_size: int = 28
    critic: str = "mlp"  # or "conv"
    mlp_hidden: tuple = (512, 256)
    g_features: int = 64
    d_features: int = 64
    layer_norm: bool = False  # LayerNorm in the conv critic (never BatchNorm)
    gp_lambda: float = 10.0
    d_steps: int = 5  # critic steps per generator step (the paper's n_critic)
    lr: float = 1e-4
    betas: tuple = (0.0, 0.9)


def mlp_critic(cfg: Config) -> nn.Module:
    n_in = cfg.channels * cfg.img_size ** 2
    return nn.Sequential(nn.Flatten(), mlp((n_in, *cfg.mlp_hidden, 1)))  # (N, 1) scores


class ConvCritic(nn.Module):
    """DCGAN-shaped critic without BatchNorm (a per-sample function, as the penalty needs);
    one 4x4/2 convolution per halving of ``img_size`` (``gans.dcgan.stages``)."""

    def __init__(self, channels=1, features=64, layer_norm=False, img_size=28):
        super().__init__()
        base, k = stages(img_size)
        layers = [nn.Conv2d(channels, features, 4, 2, 1), nn.LeakyReLU(0.2)]  # (N, f, 14, 14)
        width, side = features, img_size // 2
        for _ in range(k - 1):
            width, side = 2 * width, side // 2
            layers += [nn.Conv2d(width // 2, width, 4, 2, 1),                # (N, 2f, 7, 7)
                       nn.LayerNorm([width, side, side]) if layer_norm else nn.Identity(),
                       nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Flatten(),
                                 nn.Linear(width * base * base, 1))          # (N, 1) scores

    def forward(self, x):
        return self.net(x)


def gradient_penalty(critic, real, fake, eps=None):
    """E[(||grad_{x_hat} critic(x_hat)||_2 - 1)^2] on x_hat = eps*real + (1-eps)*fake.

    real, fake: (N, ...) batches (treated as constants); eps: (N,) or None for U[0, 1] draws.
    Returns a 0-d Tensor whose graph reaches the critic's parameters (created with
    ``create_graph=True``), so ``penalty.backward()`` gives d penalty / d weights.
    """
    n = real.shape[0]
    shape = (n,) + (1,) * (real.ndim - 1)  # one eps per sample, broadcast over C, H, W
    if eps is None:
        eps = minigrad.rand(*shape, dtype=real.dtype, device=real.device)
    elif not isinstance(eps, minigrad.Tensor):
        eps = minigrad.tensor(eps, dtype=real.dtype, device=real.device)
    eps = eps.reshape(*shape)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).detach().requires_grad_()
    scores = critic(x_hat)                                                   # (N, 1)
    g, = minigrad.grad(scores.sum(), x_hat, create_graph=True)              # (N, C, H, W)
    g_norm = g.reshape(n, -1).norm(dim=1)                                   # (N,), safe at 0
    return ((g_norm - 1) ** 2).mean()


class WGANGP(GANModel):
    name = "wgan_gp"

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        G = ConvGenerator(cfg.latent_dim, cfg.channels, cfg.g_features, img_size=cfg.img_size)
        G.apply(dcgan_init)
        if cfg.critic == "mlp":
            D = mlp_critic(cfg)  # PyTorch's default (Kaiming-uniform) init
        elif cfg.critic == "conv":
            D = ConvCritic(cfg.channels, cfg.d_features, cfg.layer_norm, cfg.img_size)
            D.apply(dcgan_init)
        else:
            raise ValueError(f"critic must be 'mlp' or 'conv', got {cfg.critic!r}")
        self.declare(G=G, D=D, optimizer=adam(cfg))

    def generate(self, z, labels=None):
        return self.G(z)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        G, D, n, lam = self.G, self.D, real.shape[0], self.config.gp_lambda

        # --- critic step: E[D(G(z))] - E[D(x)] + lambda * (||grad D(x_hat)|| - 1)^2 ---------
        with minigrad.no_grad():  # G is a constant here
            fake = G(self.latent(n))
        d_real, d_fake = D(real).mean(), D(fake).mean()
        gp = gradient_penalty(D, real, fake)
        loss_d = d_fake - d_real + lam * gp
        self.update("D", loss_d)  # backward through the penalty's gradient graph: double backprop
        w_dist = (d_real - d_fake).item()
        stats = {"loss_d": loss_d.item(), "w_dist": w_dist, "gp": gp.item(),
                 "d_real": d_real.item(), "d_fake": d_fake.item()}

        # --- G step: minimise -E[D(G(z))], critic frozen -----------------------------------
        if update_g:
            with frozen(D):
                loss_g = -D(G(self.latent(n))).mean()
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.item()
        return stats
