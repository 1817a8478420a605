"""Variational autoencoder (Kingma and Welling, 2014): a likelihood model beside the GANs.

A decoder p(x|z) with prior p(z) = N(0, I) and an encoder q(x -> z) = N(mu(x), diag sigma^2(x))
trained together by maximising the evidence lower bound (ELBO) on log p(x):

    log p(x) >= ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z))
    loss = -ELBO = recon + kl, per image, averaged over the batch:
        recon = -log p(x|z) = sum_pixels BCE(decoder_logits(z), x)     (x in [0, 1])
        kl    = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)   (closed form, Gaussians)
    z = mu + sigma * eps,  eps ~ N(0, I)       (the reparameterisation trick: z is a
                                                differentiable function of mu, sigma)

The decoder is Bernoulli: pixel intensities in [0, 1] are the targets of a binary cross-entropy
on logits (exact for binarised MNIST, the usual choice for grey-level MNIST too). Samples and
``generate`` return the decoder's mean sigmoid(logits), mapped to [-1, 1] like the GANs' images,
so ``GANModel.sample``, the trainer's grids, ``gans.latent.interpolate`` and the metrics work
unchanged. Numbers are in nats per image.

Networks (the paper's MNIST MLPs, 500 hidden units, tanh):
    encoder: (1, 28, 28) -> 784 -> 500 -> tanh -> {mu (20), log sigma^2 (20)}
    decoder: z (20) -> 500 -> tanh -> 784 logits -> (1, 28, 28)
Adam(1e-3) instead of the paper's Adagrad; batch 100 as in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad import nn, optim
from minigrad.nn import functional as F
from gans.protocol import GANConfig, GANModel, eval_mode


@dataclass
class Config(GANConfig):
    latent_dim: int = 20
    batch_size: int = 100
    hidden: int = 500
    img_size: int = 28
    channels: int = 1
    lr: float = 1e-3


class Encoder(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        n_in = cfg.channels * cfg.img_size ** 2
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(n_in, cfg.hidden), nn.Tanh())
        self.mu = nn.Linear(cfg.hidden, cfg.latent_dim)
        self.logvar = nn.Linear(cfg.hidden, cfg.latent_dim)

    def forward(self, x):
        h = self.body(x)                    # (N, hidden)
        return self.mu(h), self.logvar(h)   # (N, latent), (N, latent)


class Decoder(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.shape = (cfg.channels, cfg.img_size, cfg.img_size)
        n_out = cfg.channels * cfg.img_size ** 2
        self.net = nn.Sequential(nn.Linear(cfg.latent_dim, cfg.hidden), nn.Tanh(),
                                 nn.Linear(cfg.hidden, n_out))

    def forward(self, z):
        return self.net(z).reshape(-1, *self.shape)  # (N, C, H, W) Bernoulli logits


def negative_elbo(model: "VAE", real):
    """(recon, kl), each a 0-d Tensor averaged over the batch, for images ``real`` in [-1, 1]."""
    n = real.shape[0]
    x01 = (real + 1) * 0.5                                       # Bernoulli targets in [0, 1]
    mu, logvar = model.encoder(x01)
    z = mu + (0.5 * logvar).exp() * minigrad.randn_like(mu)      # reparameterisation
    logits = model.decoder(z)
    recon = F.binary_cross_entropy_with_logits(logits, x01, reduction="sum") / n
    # -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2), summed over z's dims, batch mean
    kl = F.gaussian_kl(mu, logvar)
    return recon, kl


class VAE(GANModel):
    """Not a GAN, but the same protocol: two networks (roles ``encoder`` and ``decoder``) under
    one optimizer, one update per batch (``d_steps`` = 1, so ``update_g`` is always True and the
    trainer counts each batch as one step), ``generate`` decodes z."""

    name = "vae"

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        self.encoder, self.decoder = Encoder(cfg).to(device), Decoder(cfg).to(device)
        self.nets = {"encoder": self.encoder, "decoder": self.decoder}
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.optims = {"vae": optim.Adam(params, lr=cfg.lr)}

    def generate(self, z, labels=None):
        return self.decoder(z).sigmoid() * 2 - 1  # the Bernoulli mean, in [-1, 1]

    def reconstruct(self, images):
        """Decoder mean at the encoder mean, (N, C, H, W) in [-1, 1] (no graph, eval mode)."""
        with minigrad.no_grad():
            mu, _ = self.encoder((images + 1) * 0.5)
            return self.sample(mu.shape[0], z=mu)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        recon, kl = negative_elbo(self, real)
        loss = recon + kl  # -ELBO
        self.update("vae", loss)
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}


def elbo(model: VAE, dataset, batch_size: int = 1000, seed: int = 0) -> dict:
    """The ELBO on ``dataset`` (an ArrayDataset of images in [-1, 1], e.g. the MNIST test split),
    nats per image, one z sample per image: {'elbo', 'recon', 'kl', 'n'}; ELBO <= log p(x)."""
    images = dataset.arrays[0] if hasattr(dataset, "arrays") else np.asarray(dataset)
    from minigrad import backend

    saved = backend.get_rng_state()
    minigrad.manual_seed(seed)
    total_r = total_k = 0.0
    try:
        with eval_mode(*model.nets.values()), minigrad.no_grad():
            for s in range(0, len(images), batch_size):
                batch = minigrad.tensor(images[s:s + batch_size], device=model.device)
                recon, kl = negative_elbo(model, batch)
                total_r += recon.item() * len(batch)
                total_k += kl.item() * len(batch)
    finally:
        backend.set_rng_state(saved)
    n = len(images)
    return {"elbo": -(total_r + total_k) / n, "recon": total_r / n, "kl": total_k / n, "n": n}
