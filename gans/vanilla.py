"""Vanilla GAN (Goodfellow et al., 2014) with the MLPs of the lecture.

The game:  min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]

- D step: ascend V, i.e. minimise  -log D(x) - log(1 - D(G(z)))  (BCE with targets 1 and 0).
- G step, two choices:
    'minimax'         minimise  log(1 - D(G(z)))  -- the objective as written. When D wins
                      early on, D(G(z)) ~ 0 and this loss is flat: G's gradient vanishes.
    'non_saturating'  minimise -log D(G(z))       -- same fixed point, strong gradients early
                      (the paper's recommended practice, and the default).
- k D steps per G step (Algorithm 1; ``d_steps`` in the config): the trainer counts them and
  sets ``update_g``.

D outputs a logit; D(x) = sigmoid(logit). Losses are computed from logits with
binary_cross_entropy_with_logits, which is exact where sigmoid + log would overflow
(gans/losses.py, which also has the least-squares and hinge losses: ``--loss least_squares``).

Networks (lecture code):
    G: z(100) -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2), Tanh
    D: 784 -> 1024 -> 512 -> 256 -> 1, LeakyReLU(0.2), Dropout(0.3)

Beyond the lecture, the defaults add what measurably helped a short run (docs/vanilla_recipe.md):
Adam's beta1 = 0.5 and a learning rate of 4e-4, BatchNorm after G's hidden layers, samples
drawn from an exponential moving average of G's weights (``ema``; the trainer updates it after
every G step and the checkpoint keeps it), and the same MLPs a quarter as wide (G: 100-64-128-
256-784, D: 784-256-128-64-1): a step takes about a third of the time at two threads, and in a
fixed time the narrower pair ends ahead. ``Config(**LECTURE)`` is the lecture's recipe exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

from minigrad import optim
from gans.common import Network, mlp
from gans.losses import d_loss, g_loss, score_stats
from gans.protocol import GANConfig, GANModel, frozen, option


@dataclass
class Config(GANConfig):
    img_size: int = 28
    channels: int = 1
    g_hidden: tuple = option((64, 128, 256), "the lecture's (256, 512, 1024), a quarter as wide")
    d_hidden: tuple = option((256, 128, 64), "the lecture's (1024, 512, 256)")
    dropout: float = 0.3
    loss: str = option("non_saturating",
                       "or minimax (G's loss); least_squares, hinge (both players')")
    optimizer: str = option("adam", 'or "sgd" (momentum, as in the original paper)')
    lr: float = option(4e-4,
                       "the lecture's 2e-4 reached the same scores ~1.5x later (with BatchNorm)")
    # NOTE: the lecture's code uses Adam's default betas (0.9, 0.999). In our runs that collapsed
    # to one or two digits within 5 epochs, in minigrad and in its PyTorch twin alike (README,
    # results table); beta1 = 0.5, Radford et al.'s choice for GANs, trains reliably.
    # `--betas 0.9,0.999` restores the lecture's setting.
    betas: tuple = (0.5, 0.999)
    lr_g: float | None = option(None,
                                "G's learning rate when it differs from D's (None: lr for both)")
    momentum: float = option(0.5, "for SGD")
    batch_size: int = 100
    g_batch_norm: bool = option(True, "BatchNorm1d after each hidden layer of G")
    ema: float = option(0.999,
                        "sample from a moving average of G's weights with this decay (0: off)")


# The lecture's MLPs, four times as wide as the default ones.
LECTURE_MLPS = dict(g_hidden=(256, 512, 1024), d_hidden=(1024, 512, 256))
# The lecture's code as written: its MLPs, Adam's default betas, no BatchNorm in G, no average.
LECTURE = dict(LECTURE_MLPS, lr=2e-4, betas=(0.9, 0.999), g_batch_norm=False, ema=0.0)


class Generator(Network):
    def __init__(self, cfg: Config):
        super().__init__()
        lib = self.lib
        self.shape = (cfg.channels, cfg.img_size, cfg.img_size)
        n_out = cfg.channels * cfg.img_size ** 2
        self.net = mlp((cfg.latent_dim, *cfg.g_hidden, n_out), out_act=lib.Tanh(),
                       batch_norm=cfg.g_batch_norm, lib=lib)

    def forward(self, z):
        return self.net(z).reshape(-1, *self.shape)  # (N, C, H, W)


class Discriminator(Network):
    def __init__(self, cfg: Config):
        super().__init__()
        n_in = cfg.channels * cfg.img_size ** 2
        self.net = mlp((n_in, *cfg.d_hidden, 1), dropout=cfg.dropout, lib=self.lib)

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], -1))  # (N, 1) logits


def make_optimizer(params, cfg: Config, lr: float | None = None):
    """The config's optimizer over ``params``, with learning rate ``lr`` (default: ``cfg.lr``)."""
    lr = cfg.lr if lr is None else lr
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=lr, betas=cfg.betas)
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=cfg.momentum)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}: 'adam' or 'sgd'")


class VanillaGAN(GANModel):
    name = "vanilla"
    Generator, Discriminator = Generator, Discriminator  # built by GANModel.networks

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        self.declare(optimizer={"G": lambda params: make_optimizer(params, cfg, cfg.lr_g),
                                "D": lambda params: make_optimizer(params, cfg)})

    def generate(self, z, labels=None):
        return self.G(z)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        G, D, n, loss = self.G, self.D, real.shape[0], self.config.loss

        # --- D step: maximise log D(x) + log(1 - D(G(z))) -----------------------------
        fake = G(self.latent(n)).detach()  # no gradient into G here
        real_logits, fake_logits = D(real), D(fake)
        loss_d = d_loss(loss, real_logits, fake_logits)  # -log D(x) - log(1 - D(G(z)))
        self.update("D", loss_d)  # zero_grad, backward, step
        stats = {"loss_d": loss_d.detach(), **score_stats(loss, real_logits, fake_logits)}

        # --- G step: D frozen, gradient flows through D into G ------------------------
        if update_g:
            with frozen(D):
                fake_logits = D(G(self.latent(n)))
                loss_g = g_loss(loss, fake_logits)  # -log D(G(z)), or log(1 - D(G(z)))
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats
