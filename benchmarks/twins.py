"""PyTorch twins of the gans models: the same architecture, parameter names, initial weights,
hyperparameters and noise, trained with torch. They serve two purposes:

- the benchmarks time one training step of each framework on identical work;
- the results table compares each minigrad model with its twin after the same number of steps.

``Twin(mg_model, seed)`` copies the minigrad model's initial state dicts into torch modules built
with the same structure, so both start from the same point. Noise comes from a numpy Generator
seeded like minigrad's, drawn in the same order, so both see the same z sequence; dropout masks
differ (each framework has its own).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from minigrad.backend import to_device


def _mlp(sizes, dropout=0.0, out_act=None, batch_norm=False):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


# ----------------------------------------------------------------------------- networks
class MLPGenerator(nn.Module):
    def __init__(self, cfg, n_extra=0, embed=None):
        super().__init__()
        self.shape = (cfg.channels, cfg.img_size, cfg.img_size)
        if embed:
            self.embed = nn.Embedding(cfg.n_classes, cfg.embed_dim)
        self.net = _mlp((cfg.latent_dim + n_extra, *cfg.g_hidden, int(np.prod(self.shape))),
                        out_act=nn.Tanh(), batch_norm=getattr(cfg, "g_batch_norm", False))

    def forward(self, z, y=None):
        h = z if y is None else torch.cat([z, self.embed(y)], 1)
        return self.net(h).reshape(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, cfg, n_extra=0, embed=None):
        super().__init__()
        if embed:
            self.embed = nn.Embedding(cfg.n_classes, cfg.embed_dim)
        n_in = cfg.channels * cfg.img_size ** 2 + n_extra
        self.net = _mlp((n_in, *cfg.d_hidden, 1), dropout=cfg.dropout)

    def forward(self, x, y=None):
        h = x.reshape(x.shape[0], -1)
        if y is not None:
            h = torch.cat([h, self.embed(y)], 1)
        return self.net(h)


class ConvGenerator(nn.Module):
    def __init__(self, latent_dim=100, channels=1, features=64):
        super().__init__()
        self.f2 = 2 * features
        self.fc = nn.Linear(latent_dim, self.f2 * 49)
        self.net = nn.Sequential(
            nn.BatchNorm2d(self.f2), nn.ReLU(),
            nn.ConvTranspose2d(self.f2, features, 4, 2, 1), nn.BatchNorm2d(features), nn.ReLU(),
            nn.ConvTranspose2d(features, channels, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(self.fc(z).reshape(-1, self.f2, 7, 7))


class ConvDiscriminator(nn.Module):
    def __init__(self, channels=1, features=64, n_out=1, batch_norm=True):
        super().__init__()
        f2 = 2 * features
        self.body = nn.Sequential(
            nn.Conv2d(channels, features, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(features, f2, 4, 2, 1), nn.BatchNorm2d(f2) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2), nn.Flatten())
        self.n_features = f2 * 49
        self.head = nn.Linear(self.n_features, n_out) if n_out else nn.Identity()

    def forward(self, x):
        return self.head(self.body(x))


class ACGenerator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Embedding(cfg.n_classes, cfg.latent_dim)
        self.net = ConvGenerator(cfg.latent_dim, cfg.channels, cfg.g_features)

    def forward(self, z, y):
        return self.net(z * self.embed(y))


class ACDiscriminator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.body = ConvDiscriminator(cfg.channels, cfg.d_features, n_out=0)
        self.adv = nn.Linear(self.body.n_features, 1)
        self.cls = nn.Linear(self.body.n_features, cfg.n_classes)

    def forward(self, x):
        h = self.body(x)
        return self.adv(h), self.cls(h)


class ConvCritic(nn.Module):
    def __init__(self, channels=1, features=64, layer_norm=False):
        super().__init__()
        f2 = 2 * features
        self.net = nn.Sequential(
            nn.Conv2d(channels, features, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(features, f2, 4, 2, 1),
            nn.LayerNorm([f2, 7, 7]) if layer_norm else nn.Identity(), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(f2 * 49, 1))

    def forward(self, x):
        return self.net(x)


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _ls(scores, target):
    return F.mse_loss(scores, torch.full_like(scores, target))


def _d_loss(kind, r, f):
    """gans.losses.d_loss in torch."""
    if kind in ("minimax", "non_saturating"):
        return _bce(r, 1.0) + _bce(f, 0.0)
    if kind == "least_squares":
        return 0.5 * (_ls(r, 1.0) + _ls(f, 0.0))
    if kind == "hinge":
        return F.relu(1 - r).mean() + F.relu(1 + f).mean()
    return f.mean() - r.mean()  # wasserstein


def _g_loss(kind, f):
    """gans.losses.g_loss in torch."""
    if kind == "minimax":
        return -_bce(f, 0.0)
    if kind == "non_saturating":
        return _bce(f, 1.0)
    if kind == "least_squares":
        return 0.5 * _ls(f, 1.0)
    return -f.mean()  # hinge, wasserstein


# -------------------------------------------------------------------------------- twins
def copy_weights(mine, theirs) -> None:
    """Load a minigrad module's state dict (on any device) into its torch twin."""
    theirs.load_state_dict({k: torch.from_numpy(np.array(to_device(v, "cpu")))
                            for k, v in mine.state_dict().items()})


def _to_torch(x, device):
    """A batch as a torch tensor on ``device``: a torch tensor already there stays as it is (no
    copy), a NumPy array is copied over."""
    return x.to(device) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x),
                                                                           device=device)


class Twin:
    """A torch copy of a gans model with the same train_step math (see module docstring)."""

    def __init__(self, mg_model, seed: int = 0):
        self.name, cfg = mg_model.name, mg_model.config
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        name = self.name
        if name == "vanilla":
            self.G, self.D = MLPGenerator(cfg), MLPDiscriminator(cfg)
        elif name == "cgan":
            self.G = MLPGenerator(cfg, cfg.embed_dim, embed=True)
            self.D = MLPDiscriminator(cfg, cfg.embed_dim, embed=True)
        elif name in ("dcgan", "lsgan"):
            self.G = ConvGenerator(cfg.latent_dim, cfg.channels, cfg.g_features)
            self.D = ConvDiscriminator(cfg.channels, cfg.d_features)
        elif name == "sngan":
            self.G = ConvGenerator(cfg.latent_dim, cfg.channels, cfg.g_features)
            self.D = ConvDiscriminator(cfg.channels, cfg.d_features, batch_norm=False)
            for m in self.D.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.utils.spectral_norm(m, n_power_iterations=cfg.n_power_iterations)
        elif name == "acgan":
            self.G, self.D = ACGenerator(cfg), ACDiscriminator(cfg)
        elif name == "wgan":
            self.G = ConvGenerator(cfg.latent_dim, cfg.channels, cfg.g_features)
            self.D = ConvDiscriminator(cfg.channels, cfg.d_features,
                                       batch_norm=cfg.critic_batch_norm)
        elif name == "wgan_gp":
            self.G = ConvGenerator(cfg.latent_dim, cfg.channels, cfg.g_features)
            n_in = cfg.channels * cfg.img_size ** 2
            self.D = (nn.Sequential(nn.Flatten(), _mlp((n_in, *cfg.mlp_hidden, 1)))
                      if cfg.critic == "mlp" else
                      ConvCritic(cfg.channels, cfg.d_features, cfg.layer_norm))
        else:
            raise KeyError(f"no torch twin for {name!r}")
        for mine, theirs in ((mg_model.G, self.G), (mg_model.D, self.D)):
            copy_weights(mine, theirs)
        # The twin lives where the minigrad model does ("cpu" or "cuda:N"); its noise is drawn
        # on the host by the same NumPy stream on every device and copied over.
        self.device = torch.device(str(getattr(mg_model, "device", "cpu")))
        self.G.to(self.device)
        self.D.to(self.device)
        if name == "vanilla" and cfg.optimizer == "sgd":
            make = lambda p: torch.optim.SGD(p, lr=cfg.lr, momentum=cfg.momentum)  # noqa: E731
        elif name == "wgan":
            make = lambda p: torch.optim.RMSprop(p, lr=cfg.lr)  # noqa: E731
        else:
            make = lambda p: torch.optim.Adam(p, lr=cfg.lr, betas=cfg.betas)  # noqa: E731
        self.opt_g, self.opt_d = make(self.G.parameters()), make(self.D.parameters())
        self.conditional = name in ("cgan", "acgan")
        self.g_steps, self.G_ema = 0, None

    @torch.no_grad()
    def update_ema(self):
        """The moving average of G that gans.common.GANModel keeps (config ema), same warm-up:
        decay min(ema, (1 + t) / (10 + t)) after t G steps, buffers averaged too."""
        ema = getattr(self.cfg, "ema", 0.0)
        if not ema:
            return
        if self.G_ema is None:
            self.G_ema = copy.deepcopy(self.G)
        t = self.g_steps
        decay = min(ema, (1 + t) / (10 + t))
        pairs = list(zip(self.G_ema.parameters(), self.G.parameters()))
        pairs += list(zip(self.G_ema.buffers(), self.G.buffers()))
        for a, p in pairs:
            if a.dtype.is_floating_point:
                a.sub_((1 - decay) * (a - p))
            else:
                a.copy_(p)

    def _host(self, array):
        return torch.from_numpy(array).to(self.device)

    def latent(self, n):
        return self._host(self.rng.standard_normal((n, self.cfg.latent_dim), dtype=np.float32))

    def labels(self, n):
        return self._host(self.rng.integers(0, self.cfg.n_classes, n).astype(np.int64))

    def generate(self, z, y=None):
        return self.G(z) if y is None else self.G(z, y)

    def _critic_g_step(self, loss_d, n, stats, update_g):
        """The WGAN family's shared tail: a critic step, then (maybe) G minimises -E[D(G(z))]."""
        G, D = self.G, self.D
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        if self.name == "wgan":  # weight clipping after every critic step, as gans.wgan
            with torch.no_grad():
                for p in D.parameters():
                    p.clamp_(-self.cfg.clip, self.cfg.clip)
        stats = {"loss_d": loss_d.item(), **stats}
        if update_g:
            for p in D.parameters():
                p.requires_grad_(False)
            loss_g = -D(G(self.latent(n))).mean()
            self.opt_g.zero_grad()
            loss_g.backward()
            self.opt_g.step()
            for p in D.parameters():
                p.requires_grad_(True)
            stats["loss_g"] = loss_g.item()
        return stats

    def _wgan_step(self, real, update_g):
        """WGAN, as gans.wgan: L_D = E[D(G(z))] - E[D(x)], then clip the critic's weights."""
        n = real.shape[0]
        with torch.no_grad():
            fake = self.G(self.latent(n))
        loss_d = self.D(fake).mean() - self.D(real).mean()
        return self._critic_g_step(loss_d, n, {"w_dist": -loss_d.item()}, update_g)

    def _wgan_gp_step(self, real, update_g):
        """WGAN-GP, as gans.wgan_gp: critic loss with the gradient penalty (double backprop)."""
        G, D, n, lam = self.G, self.D, real.shape[0], self.cfg.gp_lambda
        with torch.no_grad():
            fake = G(self.latent(n))
        d_real, d_fake = D(real).mean(), D(fake).mean()
        eps = self._host(self.rng.random((n, 1, 1, 1), dtype=np.float32))
        x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_()
        g, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        gp = ((g.reshape(n, -1).norm(dim=1) - 1) ** 2).mean()
        loss_d = d_fake - d_real + lam * gp
        return self._critic_g_step(loss_d, n, {"gp": gp.item()}, update_g)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        real = _to_torch(real, self.device)
        if self.name in ("wgan", "wgan_gp"):
            step = self._wgan_step if self.name == "wgan" else self._wgan_gp_step
            return step(real, update_g)
        labels = None if labels is None else _to_torch(labels, self.device)
        n = real.shape[0]
        G, D = self.G, self.D
        y_fake = self.labels(n) if self.conditional else None
        fake = self.generate(self.latent(n), y_fake)
        if self.name == "acgan":
            (rs, rc), (fs, fc) = D(real), D(fake.detach())
            loss_cls = F.cross_entropy(rc, labels)
            if self.cfg.fake_class_loss:
                loss_cls = loss_cls + F.cross_entropy(fc, y_fake)
            loss_d = _d_loss(self.cfg.loss, rs, fs) + self.cfg.class_weight * loss_cls
        elif self.name == "cgan":
            rs, fs = D(real, labels), D(fake.detach(), y_fake)
            loss_d = _d_loss(self.cfg.loss, rs, fs)
        elif self.name == "lsgan":
            rs, fs = D(real), D(fake.detach())
            loss_d = 0.5 * _ls(rs, self.cfg.b) + 0.5 * _ls(fs, self.cfg.a)
        else:
            rs, fs = D(real), D(fake.detach())
            loss_d = _d_loss(self.cfg.loss, rs, fs)
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        stats = {"loss_d": loss_d.item()}
        if update_g:
            for p in D.parameters():
                p.requires_grad_(False)
            if self.name == "vanilla":  # the vanilla model draws fresh noise for its G step
                fake = G(self.latent(n))
            if self.name == "acgan":
                s, c = D(fake)
                loss_g = _g_loss(self.cfg.loss, s) + self.cfg.class_weight * F.cross_entropy(
                    c, y_fake)
            elif self.name == "cgan":
                loss_g = _g_loss(self.cfg.loss, D(fake, y_fake))
            elif self.name == "lsgan":
                loss_g = 0.5 * _ls(D(fake), self.cfg.c)
            else:
                loss_g = _g_loss(self.cfg.loss, D(fake))
            self.opt_g.zero_grad()
            loss_g.backward()
            self.opt_g.step()
            for p in D.parameters():
                p.requires_grad_(True)
            stats["loss_g"] = loss_g.item()
            self.g_steps += 1
            self.update_ema()
        return stats

    @torch.no_grad()
    def sample(self, n, labels=None) -> np.ndarray:
        """From the moving average of G when there is one, as gans.common.GANModel.sample."""
        G = self.G_ema if self.G_ema is not None else self.G
        G.eval()
        try:
            y = None if labels is None else _to_torch(np.asarray(labels, dtype=np.int64),
                                                      self.device)
            return (G(self.latent(n)) if y is None else G(self.latent(n), y)).cpu().numpy()
        finally:
            G.train()


# ------------------------------------------------------------------ the 2-D toy GANs' twin
def train_toy_twin(cfg):
    """The PyTorch twin of ``gans.theory.train_toy_gan`` for the GAN and PacGAN methods.

    G and D start from the weights of minigrad's ``ToyGAN(cfg)`` (built after
    ``minigrad.manual_seed(cfg.seed)``, as ``train_toy_gan`` builds it), see the same data stream
    (``ToyMixture`` seeded alike) and train with the same schedule: Adam, the learning rate
    decayed linearly to 1%, ``d_steps`` D steps (one batch each) per G step, the non-saturating
    loss, D frozen for G's step. The latent codes come from a NumPy Generator of the same layout
    (minigrad's run draws its own), so the two runs share their start and data, not their noise;
    GAN training amplifies float rounding anyway, so compare the two over seeds, not per seed.
    The scores are taken as ``train_toy_gan`` takes them: G in eval mode on the same 2500 codes.

    Returns (metrics {protocol: protocol_metrics}, the n_eval samples (N, 2), seconds).
    """
    import time

    import minigrad
    from gans import theory as T

    if cfg.method not in ("gan", "pacgan"):
        raise ValueError(f"the toy twin covers the methods 'gan' and 'pacgan', not {cfg.method!r}")
    minigrad.manual_seed(cfg.seed)
    mine = T.ToyGAN(cfg)
    pack, n = mine.pack, cfg.batch_size
    G, D = T.toy_generator(cfg, lib=nn), T.toy_discriminator(cfg, pack, lib=nn)
    copy_weights(mine.G, G)
    copy_weights(mine.D, D)
    data = T.ToyMixture(cfg.dataset, n, cfg.steps * cfg.d_steps, pack, seed=cfg.seed)
    noise = np.random.default_rng(cfg.seed + 20_000)

    def fake():
        return G(torch.from_numpy(T.toy_codes(cfg, n * pack, noise))).reshape(n, pack, 2)

    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
    start, g_steps = time.perf_counter(), 0
    for i, (real, _) in enumerate(data):
        lr = T.linear_decay(cfg.lr, g_steps, cfg.steps) if cfg.lr_decay else cfg.lr
        for opt in (opt_d, opt_g):
            for group in opt.param_groups:
                group["lr"] = lr
        real = torch.from_numpy(real.numpy())
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake().detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if (i + 1) % cfg.d_steps == 0:
            D.requires_grad_(False)
            loss_g = F.softplus(-D(fake())).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            D.requires_grad_(True)
            g_steps += 1
    seconds = time.perf_counter() - start
    G.eval()
    codes = T.toy_codes(cfg, cfg.n_eval, np.random.default_rng(cfg.seed + 10_000))
    with torch.no_grad():
        samples = G(torch.from_numpy(codes)).numpy() * data.scale
    metrics = {p: T.protocol_metrics(samples, data.centres, data.std, p) for p in T.PROTOCOLS}
    return metrics, samples, seconds
