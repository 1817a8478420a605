"""PyTorch twins of the gans models: the same architecture, parameter names, initial weights,
hyperparameters and noise, trained with torch. They serve two purposes:

- the benchmarks time one training step of each framework on identical work;
- the results table compares each minigrad model with its twin after the same number of steps.

``Twin(mg_model, seed)`` builds the torch networks with the variant's own builder
(``mg_model.networks(lib=torch.nn)``: the variant's classes rebased on ``torch.nn``, see
``gans.common.on``), copies the minigrad model's initial state dicts into them and makes each
optimizer the torch class of the same name with the same settings, so both start from the same
point. The losses and the gradient penalty are gans.losses' and gans.penalties' own, called with
``lib=torch.nn``. Noise comes from a numpy Generator seeded like minigrad's, drawn in the same
order, so both see the same z sequence; dropout masks differ (each framework has its own).
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gans.losses import d_loss, g_loss, least_squares
from gans.penalties import gradient_penalty
from minigrad.backend import to_device


def copy_weights(mine, theirs) -> None:
    """Load a minigrad module's state dict (on any device) into its torch twin."""
    theirs.load_state_dict({k: torch.from_numpy(np.array(to_device(v, "cpu")))
                            for k, v in mine.state_dict().items()})


def _to_torch(x, device):
    """A batch as a torch tensor on ``device``: a torch tensor already there stays as it is (no
    copy), a NumPy array is copied over."""
    return x.to(device) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x),
                                                                           device=device)


def _optimizer(mine, params):
    """The torch optimizer of minigrad's ``mine`` (same class name, same settings)."""
    return getattr(torch.optim, type(mine).__name__)(params, **mine.defaults)


def _update(opt, loss) -> None:
    opt.zero_grad()
    loss.backward()
    opt.step()


@contextlib.contextmanager
def _frozen(D):
    """D's parameters constant for G's step, as gans.protocol.frozen."""
    D.requires_grad_(False)
    try:
        yield
    finally:
        D.requires_grad_(True)


# ------------------------------------------------------- each variant's losses, as its train_step
# (twin, real, labels, fake, y_fake) -> D's loss; (twin, fake, y_fake) -> G's loss.
def _plain_d(t, real, labels, fake, y_fake):
    return d_loss(t.cfg.loss, t.D(real), t.D(fake), lib=nn)


def _plain_g(t, fake, y_fake):
    return g_loss(t.cfg.loss, t.D(fake), lib=nn)


def _cgan_d(t, real, labels, fake, y_fake):
    return d_loss(t.cfg.loss, t.D(real, labels), t.D(fake, y_fake), lib=nn)


def _cgan_g(t, fake, y_fake):
    return g_loss(t.cfg.loss, t.D(fake, y_fake), lib=nn)


def _acgan_d(t, real, labels, fake, y_fake):
    (rs, rc), (fs, fc) = t.D(real), t.D(fake)
    loss_cls = F.cross_entropy(rc, labels)
    if t.cfg.fake_class_loss:
        loss_cls = loss_cls + F.cross_entropy(fc, y_fake)
    return d_loss(t.cfg.loss, rs, fs, lib=nn) + t.cfg.class_weight * loss_cls


def _acgan_g(t, fake, y_fake):
    s, c = t.D(fake)
    return g_loss(t.cfg.loss, s, lib=nn) + t.cfg.class_weight * F.cross_entropy(c, y_fake)


def _lsgan_d(t, real, labels, fake, y_fake):
    return (0.5 * least_squares(t.D(real), t.cfg.b, lib=nn)
            + 0.5 * least_squares(t.D(fake), t.cfg.a, lib=nn))


def _lsgan_g(t, fake, y_fake):
    return 0.5 * least_squares(t.D(fake), t.cfg.c, lib=nn)


LOSSES = {"vanilla": (_plain_d, _plain_g), "dcgan": (_plain_d, _plain_g),
          "sngan": (_plain_d, _plain_g), "cgan": (_cgan_d, _cgan_g),
          "acgan": (_acgan_d, _acgan_g), "lsgan": (_lsgan_d, _lsgan_g)}
#: The critics (WGAN, WGAN-GP): their own step, see Twin.critic_step.
CRITICS = ("wgan", "wgan_gp")


class Twin:
    """A torch copy of a gans model with the same train_step math (see module docstring)."""

    def __init__(self, mg_model, seed: int = 0):
        self.name, cfg = mg_model.name, mg_model.config
        if self.name not in LOSSES and self.name not in CRITICS:
            raise KeyError(f"no torch twin for {self.name!r}")
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.G, self.D = mg_model.networks(lib=nn)
        for mine, theirs in ((mg_model.G, self.G), (mg_model.D, self.D)):
            copy_weights(mine, theirs)
        # The twin lives where the minigrad model does ("cpu" or "cuda:N"); its noise is drawn
        # on the host by the same NumPy stream on every device and copied over.
        self.device = torch.device(str(getattr(mg_model, "device", "cpu")))
        self.G.to(self.device)
        self.D.to(self.device)
        self.opt_g = _optimizer(mg_model.optims["G"], self.G.parameters())
        self.opt_d = _optimizer(mg_model.optims["D"], self.D.parameters())
        self.conditional = mg_model.conditional
        self.g_steps, self.G_ema = 0, None

    @torch.no_grad()
    def update_ema(self):
        """The moving average of G that gans.protocol.GANModel keeps (config ema), same warm-up:
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

    def critic_step(self, real, update_g):
        """WGAN and WGAN-GP, as gans.wgan and gans.wgan_gp: L_D = E[D(G(z))] - E[D(x)] (plus
        the gradient penalty, double backprop), then WGAN clips the critic's weights; G
        minimises -E[D(G(z))] on fresh noise."""
        G, D, n = self.G, self.D, real.shape[0]
        with torch.no_grad():
            fake = G(self.latent(n))
        loss_d = d_loss("wasserstein", D(real), D(fake), lib=nn)
        stats = {"w_dist": -loss_d.item()}
        if self.name == "wgan_gp":
            eps = self._host(self.rng.random((n, 1, 1, 1), dtype=np.float32))
            gp = gradient_penalty(D, real, fake, eps, lib=nn)
            loss_d = loss_d + self.cfg.gp_lambda * gp
            stats["gp"] = gp.item()
        _update(self.opt_d, loss_d)
        if self.name == "wgan":  # weight clipping after every critic step
            with torch.no_grad():
                for p in D.parameters():
                    p.clamp_(-self.cfg.clip, self.cfg.clip)
        stats = {"loss_d": loss_d.item(), **stats}
        if update_g:
            with _frozen(D):
                loss_g = g_loss("wasserstein", D(G(self.latent(n))), lib=nn)
                _update(self.opt_g, loss_g)
            stats["loss_g"] = loss_g.item()
        return stats

    def train_step(self, real, labels=None, update_g=True) -> dict:
        real = _to_torch(real, self.device)
        if self.name in CRITICS:
            return self.critic_step(real, update_g)
        labels = None if labels is None else _to_torch(labels, self.device)
        d_loss_of, g_loss_of = LOSSES[self.name]
        n = real.shape[0]
        y_fake = self.labels(n) if self.conditional else None
        fake = self.generate(self.latent(n), y_fake)
        loss_d = d_loss_of(self, real, labels, fake.detach(), y_fake)
        _update(self.opt_d, loss_d)
        stats = {"loss_d": loss_d.item()}
        if update_g:
            with _frozen(self.D):
                if self.name == "vanilla":  # the vanilla model draws fresh noise for its G step
                    fake = self.G(self.latent(n))
                loss_g = g_loss_of(self, fake, y_fake)
                _update(self.opt_g, loss_g)
            stats["loss_g"] = loss_g.item()
            self.g_steps += 1
            self.update_ema()
        return stats

    @torch.no_grad()
    def sample(self, n, labels=None) -> np.ndarray:
        """From the moving average of G when there is one, as gans.protocol.GANModel.sample."""
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
