"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever and Abbeel, 2016): GAN + mutual information.

G's input is split into incompressible noise z and a structured code c; InfoGAN asks that c be
recoverable from G(z, c), i.e. that the mutual information I(c; G(z, c)) be high:

    min_{G,Q} max_D  V(D, G) - lambda * L_I(G, Q)
    L_I(G, Q) = E_{c~p(c), x~G(z,c)}[log Q(c | x)] + H(c)   <=  I(c; G(z, c))

L_I is a variational lower bound (Q(c|x) approximates the intractable posterior P(c|x)); H(c) is a
constant. For MNIST (the paper's setup):
    z ~ N(0, I_62),  c_cat ~ Cat(10) (one-hot),  c_1, c_2 ~ U(-1, 1)
    -log Q(c_cat | x) = cross_entropy(Q's 10 logits, c_cat)                       weight 1
    -log Q(c_k | x)   = 0.5 log(2 pi sigma^2) + (c_k - mu_k)^2 / (2 sigma^2)      weight 0.1
with sigma = 1 fixed (the paper's code; ``learn_variance=True`` predicts log sigma^2 too). The
info loss  lambda_cat * CE + lambda_cont * NLL  is added to both D/Q's loss (Q shares D's body,
so the body learns features that identify the codes) and G's loss (so G makes them identifiable).
Nothing tells the model that c_cat should be the digit class; on MNIST it mostly becomes it,
and c_1, c_2 become slant and stroke width.

Networks (paper appendix, MNIST; Tanh output instead of sigmoid to match the [-1, 1] data):
    G: [z(62), c_cat(10), c(2)] -> Linear 1024 -> BN, ReLU -> DCGAN-28 generator
       (Linear -> (128, 7, 7) -> BN, ReLU -> ConvT -> (64, 14, 14) -> BN, ReLU -> ConvT -> Tanh)
    D: Conv 4x4/2 -> (64, 14, 14) -> LReLU -> Conv 4x4/2 -> (128, 7, 7) -> BN, LReLU
       -> Linear 1024 -> BN, LReLU =: h
       D head: Linear(h) -> 1 logit
       Q head: Linear(h) -> 128 -> BN, LReLU -> Linear -> 10 logits, 2 means (, 2 log-variances)
Adam, lr 2e-4 for D/Q and 1e-3 for G, beta1 = 0.5 (paper appendix).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad import nn, optim
from minigrad.nn import functional as F
from gans.common import image_grid
from gans import dcgan
from gans.dcgan import dcgan_init
from gans.losses import d_loss, g_loss, score_stats
from gans.protocol import GANConfig, GANModel, frozen, option


@dataclass
class Config(GANConfig):
    latent_dim: int = option(62, "incompressible noise z")
    n_categories: int = option(10, "one categorical code")
    n_continuous: int = option(2, "continuous codes, U(-1, 1)")
    lambda_cat: float = 1.0
    lambda_cont: float = 0.1
    learn_variance: bool = option(False, "False: Q's Gaussians have unit variance (paper's code)")
    channels: int = 1
    img_size: int = option(28, "28 or 32 (the networks of gans.dcgan at that size)")
    g_features: int = 64
    d_features: int = 64
    g_fc_features: int = option(1024,
                                "G's first hidden layer (paper); 0: straight into the DCGAN G")
    fc_features: int = 1024
    q_features: int = 128
    lr_g: float = 1e-3
    lr_d: float = 2e-4
    betas: tuple = (0.5, 0.999)
    loss: str = option("non_saturating", "the adversarial loss: or minimax, least_squares, hinge")
    sweep: float = option(2.0, "grids sweep a continuous code over [-sweep, sweep] (paper: 2)")


class Generator(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        n_in = cfg.latent_dim + cfg.n_categories + cfg.n_continuous
        if cfg.g_fc_features:
            self.fc = nn.Sequential(nn.Linear(n_in, cfg.g_fc_features),
                                    nn.BatchNorm1d(cfg.g_fc_features), nn.ReLU())  # (N, 1024)
            n_in = cfg.g_fc_features
        else:
            self.fc = nn.Identity()
        self.net = dcgan.Generator(n_in, cfg.channels, cfg.g_features,
                                   img_size=cfg.img_size)                 # (N, C, 28, 28)

    def forward(self, z):
        return self.net(self.fc(z))


class Discriminator(nn.Module):
    """Shared body, a real/fake head and the Q head predicting the codes."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        body = dcgan.discriminator(cfg, n_out=0)
        self.body = nn.Sequential(
            body,                                                                 # (N, 2f*7*7)
            nn.Linear(body.n_features, cfg.fc_features), nn.BatchNorm1d(cfg.fc_features),
            nn.LeakyReLU(0.2),                                                    # (N, 1024)
        )
        self.adv = nn.Linear(cfg.fc_features, 1)
        n_q = cfg.n_categories + cfg.n_continuous * (2 if cfg.learn_variance else 1)
        self.q = nn.Sequential(
            nn.Linear(cfg.fc_features, cfg.q_features), nn.BatchNorm1d(cfg.q_features),
            nn.LeakyReLU(0.2), nn.Linear(cfg.q_features, n_q),                   # (N, n_q)
        )

    def forward(self, x):
        """(N, 1) real/fake logits and Q's raw outputs (N, n_q)."""
        h = self.body(x)
        return self.adv(h), self.q(h)


def split_q(q_out, n_categories: int, n_continuous: int):
    """Q's raw output -> (categorical logits (N, K), means (N, L), log-variances (N, L) or None)."""
    k, l = n_categories, n_continuous
    logits, mean = q_out[:, :k], q_out[:, k:k + l]
    logvar = q_out[:, k + l:k + 2 * l] if q_out.shape[1] > k + l else None
    return logits, mean, logvar


def info_loss(q_out, c_cat, c_cont, cfg: Config):
    """lambda_cat * CE(logits, c_cat) + lambda_cont * Gaussian NLL(c_cont | mean, var).

    The negative of the mutual-information lower bound L_I (up to the constant H(c)).
    q_out (N, n_q); c_cat (N,) ints; c_cont (N, L). Returns (total, ce, nll) 0-d Tensors."""
    logits, mean, logvar = split_q(q_out, cfg.n_categories, cfg.n_continuous)
    ce = F.cross_entropy(logits, c_cat)
    sq = (c_cont - mean) ** 2
    if logvar is None:  # sigma = 1
        nll_elem = 0.5 * sq + 0.5 * math.log(2 * math.pi)
    else:
        nll_elem = 0.5 * (logvar + sq * (-logvar).exp()) + 0.5 * math.log(2 * math.pi)
    nll = nll_elem.sum(dim=1).mean()  # sum over the codes, mean over the batch
    return cfg.lambda_cat * ce + cfg.lambda_cont * nll, ce, nll


class InfoGAN(GANModel):
    name = "infogan"

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        self.code_dim = cfg.n_categories + cfg.n_continuous
        self.declare(G=Generator(cfg), D=Discriminator(cfg), init=dcgan_init, optimizer={
            "G": lambda params: optim.Adam(params, lr=cfg.lr_g, betas=cfg.betas),
            "D": lambda params: optim.Adam(params, lr=cfg.lr_d, betas=cfg.betas)})

    # ---------------------------------------------------------------------------- codes
    def sample_codes(self, n: int, rng=None):
        """z (n, 62) ~ N(0, I), c_cat (n,) ~ Cat(K), c_cont (n, L) ~ U(-1, 1): Tensors on the
        model's device from minigrad's generator (seeded by manual_seed, saved in checkpoints;
        on a GPU the device's own, so a step copies nothing from the host and a captured one
        draws fresh codes on every replay), or NumPy arrays from ``rng``."""
        cfg = self.config
        if rng is None:
            z = minigrad.randn(n, cfg.latent_dim, device=self.device)
            c_cat = minigrad.randint(0, cfg.n_categories, (n,), device=self.device)
            c_cont = minigrad.rand(n, cfg.n_continuous, device=self.device) * 2 - 1
            return z, c_cat, c_cont
        z = rng.standard_normal((n, cfg.latent_dim)).astype(np.float32)
        c_cat = rng.integers(0, cfg.n_categories, n).astype(np.int64)
        c_cont = rng.uniform(-1, 1, (n, cfg.n_continuous)).astype(np.float32)
        return z, c_cat, c_cont

    def join(self, z, c_cat, c_cont) -> minigrad.Tensor:
        """G's input [z, one_hot(c_cat), c_cont] as one (n, 62 + K + L) Tensor on the model's
        device, from Tensors there (sample_codes) or NumPy arrays."""
        z, c_cat, c_cont = (v if isinstance(v, minigrad.Tensor) else
                            minigrad.tensor(v, device=self.device) for v in (z, c_cat, c_cont))
        one_hot = minigrad.eye(self.config.n_categories, device=self.device)[c_cat]
        return minigrad.cat([z, one_hot, c_cont], dim=1)

    def latent(self, n: int, rng=None):
        return self.join(*self.sample_codes(n, rng))

    def sample_fixed(self, n: int | None = None) -> minigrad.Tensor:
        """The progress grid: row k = categorical value k, 8 columns sweeping c_1 (the trainer
        tiles 8 per row), one fixed z for the whole grid; the first ``n`` of those K * 8 images
        (default: all)."""
        z = code_latents(self, 0, 8)[:n]
        return self.sample(z.shape[0], z=z)

    def generate(self, z, labels=None):
        return self.G(z)

    # ------------------------------------------------------------------------- training
    def train_step(self, real, labels=None, update_g=True) -> dict:
        G, D, n, loss = self.G, self.D, real.shape[0], self.config.loss
        z, c_cat_t, c_cont_t = self.sample_codes(n)
        fake = G(self.join(z, c_cat_t, c_cont_t))

        # --- D/Q step: -log D(x) - log(1 - D(G(z,c))) + lambda * (-L_I) -------------------
        real_scores, _ = D(real)
        fake_scores, q_out = D(fake.detach())
        loss_info, ce, nll = info_loss(q_out, c_cat_t, c_cont_t, self.config)
        loss_d = d_loss(loss, real_scores, fake_scores) + loss_info
        self.update("D", loss_d)
        stats = {"loss_d": loss_d.detach(), "loss_info": loss_info.detach(), "ce_cat": ce.detach(),
                 "nll_cont": nll.detach(), **score_stats(loss, real_scores, fake_scores)}

        # --- G step: -log D(G(z,c)) + lambda * (-L_I), D and Q frozen -----------------------
        if update_g:
            with frozen(D):
                fake_scores, q_out = D(fake)
                loss_info_g, _, _ = info_loss(q_out, c_cat_t, c_cont_t, self.config)
                loss_g = g_loss(loss, fake_scores) + loss_info_g
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats


# ------------------------------------------------------------------------- grids and metric
def code_latents(model: InfoGAN, continuous_index: int = 0, n: int = 10, seed: int = 1234):
    """G inputs for a (K x n) grid: row k has c_cat = k, column j has
    c_{continuous_index} = linspace(-sweep, sweep, n)[j], the other codes 0 and one fixed z."""
    cfg = model.config
    k = cfg.n_categories
    z = np.random.default_rng(seed).standard_normal((1, cfg.latent_dim)).astype(np.float32)
    c_cat = np.repeat(np.arange(k), n)                                 # row-major: row = code
    c_cont = np.zeros((k * n, cfg.n_continuous), np.float32)
    c_cont[:, continuous_index] = np.tile(np.linspace(-cfg.sweep, cfg.sweep, n), k)
    return model.join(np.repeat(z, k * n, axis=0), c_cat, c_cont)


def code_grid(model: InfoGAN, continuous_index: int = 0, n: int = 10) -> np.ndarray:
    """One image (H', W', C) in [0, 1]: rows = categorical code, columns = a sweep of
    continuous code ``continuous_index`` over [-sweep, sweep] (the paper's Figure 2)."""
    z = code_latents(model, continuous_index, n)
    images = model.sample(z.shape[0], z=z).numpy()
    return image_grid(images, nrow=n)


def categorical_code_accuracy(model: InfoGAN, predict, n_per_code: int = 100, seed: int = 0):
    """How well c_cat alone determines the digit: the paper's "5% error" experiment.

    For each categorical value k, generate ``n_per_code`` samples (random z and continuous
    codes), classify them with ``predict`` (images (N, 1, 28, 28) in [-1, 1] -> class ints, e.g.
    gans.metrics' MNIST classifier), and map k to the majority class among its samples. Returns
    {'accuracy': fraction of samples whose class equals their code's mapped class,
     'mapping': [class per code], 'distinct': number of different classes in the mapping}.
    The mapping need not be one-to-one; 'distinct' < 10 shows two codes sharing a digit.
    """
    rng = np.random.default_rng(seed)
    k = model.config.n_categories
    hits, mapping = 0, []
    for code in range(k):
        z, _, c_cont = model.sample_codes(n_per_code, rng)
        c_cat = np.full(n_per_code, code)
        images = model.sample(n_per_code, z=model.join(z, c_cat, c_cont))
        pred = np.asarray(predict(images.numpy())).astype(np.int64)
        counts = np.bincount(pred, minlength=10)
        majority = int(counts.argmax())
        mapping.append(majority)
        hits += int(counts[majority])
    return {"accuracy": hits / (k * n_per_code), "mapping": mapping,
            "distinct": len(set(mapping))}
