"""AC-GAN (Odena, Olah and Shlens, 2017): the discriminator also classifies.

D has two heads on one convolutional body: a real/fake logit and class logits. With
L_S = log-likelihood of the right source (real/fake) and L_C = log-likelihood of the right class,
    D maximises  L_S + L_C        G maximises  L_C - L_S   (non-saturating form below)
so G is rewarded for images D recognises as the class they were asked to be. Unlike the
conditional GAN, D is *not* given the label: it has to infer it, which pushes G towards
clearly class-identifiable samples.

    G: [z(100), emb(y)] -> DCGAN generator (Linear -> 128x7x7 -> ConvT -> ConvT -> 1x28x28, Tanh)
    D: DCGAN body (Conv 4x4/2, Conv 4x4/2, BN, LeakyReLU) -> {Linear -> 1, Linear -> 10}
The class head is trained with cross_entropy on *logits* (no softmax layer before it).

Which samples teach D's class head. In the paper L_C is the log-likelihood of the right class on
real *and* generated images, so D also learns to recognise the class G was asked for in G's own
samples. Early in training G and D can then agree on class cues that are not digits at all (a
stroke here, a blob there): D reads them, G is rewarded for them, and a classifier trained on real
digits sees little of the intended class. ``fake_class_loss=False`` (the default here) trains the
class head on real images only, so it stays a classifier of real digits and G is rewarded only for
images that look like the class to such a classifier; G's loss is unchanged. Measured with the
project's MNIST classifier on the PyTorch twin, same seed: after 1 epoch the share of samples
classified as their intended label was 34% with the paper's loss and 74% with real-only class
training; after 5 epochs the paper's loss reached 55% (minigrad 53.6%, PyTorch 55.0%), and
after 8 epochs real-only class training reached 98.5% (minigrad; PyTorch 98.9%).
``--fake-class-loss true`` restores the paper's objective.
"""
from __future__ import annotations

from dataclasses import dataclass

import minigrad
from minigrad.nn import functional as F
from gans import dcgan
from gans.common import Network
from gans.dcgan import AdamConfig, NetsConfig, adam, dcgan_init
from gans.losses import d_loss, g_loss, score_stats
from gans.protocol import GANModel, frozen, option


@dataclass
class Config(NetsConfig, AdamConfig):
    n_classes: int = 10
    class_weight: float = option(1.0, "weight of L_C in both players' losses")
    fake_class_loss: bool = option(False, "True: D also learns the class of fakes (the paper)")
    loss: str = option("non_saturating", "the source loss: or minimax, least_squares, hinge")


class Generator(Network):
    def __init__(self, cfg: Config):
        super().__init__()
        lib = self.lib
        self.embed = lib.Embedding(cfg.n_classes, cfg.latent_dim)
        self.net = dcgan.generator(cfg, lib)

    def forward(self, z, y):
        return self.net(z * self.embed(y))  # label-modulated code -> (N, C, 28, 28)


class Discriminator(Network):
    def __init__(self, cfg: Config):
        super().__init__()
        lib = self.lib
        self.body = dcgan.discriminator(cfg, lib, n_out=0)
        self.adv = lib.Linear(self.body.n_features, 1)
        self.cls = lib.Linear(self.body.n_features, cfg.n_classes)

    def forward(self, x):
        h = self.body(x)                 # (N, 2f*7*7), (N, 4f*4*4) at 32x32
        return self.adv(h), self.cls(h)  # (N, 1) source logit, (N, n_classes) class logits


class ACGAN(GANModel):
    name = "acgan"
    Generator, Discriminator = Generator, Discriminator  # built by GANModel.networks

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        self.declare(init=dcgan_init, optimizer=adam(self.config))

    def generate(self, z, labels=None):
        return self.G(z, labels)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        if labels is None:
            raise ValueError("ACGAN.train_step needs the labels of the real batch")
        G, D, n, w, loss = self.G, self.D, real.shape[0], self.config.class_weight, self.config.loss

        # --- D step: source loss on both batches + class loss on both ----------------------
        y_fake = minigrad.randint(0, self.config.n_classes, (n,), device=self.device)
        fake = G(self.latent(n), y_fake)
        (real_src, real_cls), (fake_src, fake_cls) = D(real), D(fake.detach())
        loss_src = d_loss(loss, real_src, fake_src)
        loss_cls = F.cross_entropy(real_cls, labels)
        if self.config.fake_class_loss:
            loss_cls = loss_cls + F.cross_entropy(fake_cls, y_fake)
        loss_d = loss_src + w * loss_cls
        self.update("D", loss_d)
        # the share of real images D classes right, a float64 mean where the scores live
        hits = real_cls.data.argmax(1) == labels.data
        acc = minigrad.Tensor(real_cls.xp.asarray(hits.mean()))
        stats = {"loss_d": loss_d.detach(), "loss_cls": loss_cls.detach(), "d_acc": acc,
                 **score_stats(loss, real_src, fake_src)}

        # --- G step: look real (non-saturating) and look like class y ----------------------
        if update_g:
            with frozen(D):
                src, cls = D(fake)
                loss_g = g_loss(loss, src) + w * F.cross_entropy(cls, y_fake)
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats
