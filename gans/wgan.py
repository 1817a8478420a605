"""WGAN (Arjovsky, Chintala and Bottou, 2017): a critic estimates the Wasserstein-1 distance.

By the Kantorovich-Rubinstein duality

    W(P_r, P_g) = sup_{||f||_L <= 1}  E_{x~P_r}[f(x)] - E_{z~p(z)}[f(G(z))]

so a critic D (a real-valued score: no sigmoid, no log) trained to maximise
E[D(x)] - E[D(G(z))] over a family of K-Lipschitz functions gives K * W(P_r, P_g), and G follows
its gradient. Unlike the JS divergence of the original GAN, W is continuous in G's parameters even
when the two distributions have disjoint supports, so the critic can be trained to optimality
without G's gradient vanishing.

- critic step (n_critic = 5 per G step, ``d_steps`` in the config; RMSprop lr 5e-5):
      minimise  L_D = E[D(G(z))] - E[D(x)]
  then clip every critic weight into [-c, c] (c = 0.01): a crude way to keep D K-Lipschitz for
  some K (the paper's own words: "a clearly terrible way to enforce a Lipschitz constraint").
- G step:  minimise  L_G = -E[D(G(z))]
- logged:  w_dist = E[D(x)] - E[D(G(z))] = -L_D, the (scaled) Wasserstein estimate; it should fall
  as samples improve (the paper's Figure 3).
- ``warmup_critic``: the reference code trains the critic for 100 iterations instead of 5 during
  the first 25 generator iterations and every 500th one, so the critic is near-optimal when G
  starts (and periodically after). Off by default (Algorithm 1 of the paper has a fixed n_critic).

RMSprop rather than Adam: the paper reports that momentum-based optimisers made the critic
unstable (its loss is non-stationary), so Algorithm 1 uses RMSprop.

Networks: DCGAN-28 (gans.dcgan), weights N(0, 0.02) as in the reference code.
    G: z(100) -> Linear -> (128, 7, 7) -> BN, ReLU -> ConvT -> (64, 14, 14) -> BN, ReLU
              -> ConvT -> (1, 28, 28) -> Tanh
    D: (1, 28, 28) -> Conv 4x4/2 -> (64, 14, 14) -> LReLU -> Conv 4x4/2 -> (128, 7, 7) -> LReLU
              -> Linear -> 1 score (no sigmoid)
The critic has *no* BatchNorm by default (``critic_batch_norm=True`` restores the paper's DCGAN
critic). Why: the duality is a statement about a function of one sample, f(x). With BatchNorm the
score of an image depends on the rest of its batch, and the reference code pushes real and fake
batches through separately, so each is normalised with its own statistics -- the critic can then
compare batch statistics rather than images, and "||f||_L <= 1" no longer describes what is being
trained. Clipping also clamps BatchNorm's scale gamma into [-0.01, 0.01] along with the weights,
which is an odd constraint on a normaliser. Gulrajani et al. drop BatchNorm from the critic for
the same reason; G keeps it, as in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import minigrad
from minigrad import nn, optim
from minigrad.nn.utils import clamp_
from gans import dcgan
from gans.dcgan import NetsConfig, dcgan_init
from gans.losses import d_loss, g_loss
from gans.protocol import GANModel, frozen, option


@dataclass
class Config(NetsConfig):
    critic_batch_norm: bool = option(False, "True: the paper's DCGAN critic (see the docstring)")
    lr: float = option(5e-5, "RMSprop, both players")
    clip: float = option(0.01, "critic weights live in [-clip, clip]")
    d_steps: int = option(5, "critic steps per generator step (the paper's n_critic)")
    warmup_critic: bool = option(False, "reference code: 100 critic steps early on and every 500th")
    warmup_iters: int = 100


class WassersteinGAN(GANModel):
    """What WGAN and WGAN-GP share: the critic step on E[D(G(z))] - E[D(x)] with G a constant,
    and G's step on -E[D(G(z))]. They differ in how the critic is kept Lipschitz, one hook each:
    WGAN clips its weights after every step (:meth:`constrain_critic`), WGAN-GP adds the
    gradient penalty to its loss (:meth:`critic_loss`)."""

    def critic_loss(self, D, real, fake, d_real, d_fake):
        """The critic's loss from its mean scores, and the stats it adds to the log: here the
        Wasserstein loss alone."""
        return d_loss("wasserstein", d_real, d_fake), {}  # the means' means: the same numbers

    def constrain_critic(self, D) -> None:
        """Runs after each critic update: nothing here."""

    def generate(self, z, labels=None):
        return self.G(z)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        G, D, n = self.G, self.D, real.shape[0]

        # --- critic step: minimise E[D(G(z))] - E[D(x)], then clip (WGAN) ------------------
        with minigrad.no_grad():  # G is a constant here
            fake = G(self.latent(n))
        d_real, d_fake = D(real).mean(), D(fake).mean()
        loss_d, extra = self.critic_loss(D, real, fake, d_real, d_fake)
        self.update("D", loss_d)
        self.constrain_critic(D)
        stats = {"loss_d": loss_d.detach(), "w_dist": (d_real - d_fake).detach(), **extra,
                 "d_real": d_real.detach(), "d_fake": d_fake.detach()}

        # --- G step: minimise -E[D(G(z))], critic frozen -----------------------------------
        if update_g:
            with frozen(D):
                loss_g = g_loss("wasserstein", D(G(self.latent(n))))
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats


class WGAN(WassersteinGAN):
    name = "wgan"

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        self.declare(init=dcgan_init, optimizer=lambda params: optim.RMSprop(params, lr=cfg.lr))
        self.constrain_critic(self.D)  # start inside the constraint set

    def networks(self, lib=nn):
        """G and the critic (the DCGAN pair), built with ``lib`` (``torch.nn`` for the twin)."""
        cfg = self.config
        return (dcgan.generator(cfg, lib),
                dcgan.discriminator(cfg, lib, batch_norm=cfg.critic_batch_norm))

    def constrain_critic(self, D) -> None:
        """Every critic weight clipped into [-clip, clip]."""
        clamp_(D.parameters(), -self.config.clip, self.config.clip)

    def d_steps_per_g(self) -> int:
        cfg = self.config
        # self.step counts generator iterations (gen_iterations in the reference code).
        if cfg.warmup_critic and (self.step < 25 or self.step % 500 == 0):
            return cfg.warmup_iters
        return cfg.d_steps
