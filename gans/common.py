"""Plumbing shared by the GAN variants: nothing here is specific to one algorithm.

- :class:`GANModel`, the small base every variant derives from: it owns the networks and
  optimizers, turns them into one state dict for checkpoints, and samples under
  ``no_grad()`` + ``eval()``.
- noise, one-hot labels, DCGAN-style weight init, the MLP block, adversarial losses on logits,
  the image-history pool (CycleGAN) and image grids.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
from pathlib import Path

import numpy as np

import minigrad
from minigrad import nn
from minigrad.nn import functional as F


# ------------------------------------------------------------------------------ helpers
def noise(n: int, dim: int, device=None) -> minigrad.Tensor:
    """z ~ N(0, I), shape (n, dim), from minigrad's generator (seeded by manual_seed)."""
    return minigrad.randn(n, dim, device=device)


def mlp(sizes, act=lambda: nn.LeakyReLU(0.2), dropout=0.0, out_act=None,
        batch_norm=False) -> nn.Sequential:
    """Linear layers of the given sizes with ``act`` (and Dropout) between them; with
    ``batch_norm``, a BatchNorm1d after every hidden Linear (before ``act``)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(act())
            if dropout:
                layers.append(nn.Dropout(dropout))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


@contextlib.contextmanager
def frozen(*nets):
    """Inside, no parameter of ``nets`` requires grad (G's step backpropagates through D without
    computing D's gradients); after, even on an error, each parameter has its own flag back, so a
    partial freeze a user set survives."""
    flags = [(p, p.requires_grad) for net in nets for p in net.parameters()]
    for p, _ in flags:
        p.requires_grad = False
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad = flag


@contextlib.contextmanager
def eval_mode(*nets):
    """Inside, ``nets`` are in eval mode (Dropout off, BatchNorm on running statistics); after,
    each module is back in its own mode."""
    modes = [(m, m.training) for net in nets for m in net.modules()]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def ones_like_logits(x):
    return minigrad.ones(*x.shape, dtype=x.dtype, device=x.device)


def zeros_like_logits(x):
    return minigrad.zeros(*x.shape, dtype=x.dtype, device=x.device)


def bce_real(logits):
    """-log D(x) with D = sigmoid(logits): the loss for calling ``logits`` real."""
    return F.binary_cross_entropy_with_logits(logits, ones_like_logits(logits))


def bce_fake(logits):
    """-log(1 - D(x)): the loss for calling ``logits`` fake."""
    return F.binary_cross_entropy_with_logits(logits, zeros_like_logits(logits))


def prob(logits) -> float:
    """Mean of sigmoid(logits): the D(x) or D(G(z)) shown in logs."""
    return float(minigrad.functional.sigmoid(logits.detach()).mean().item())


class ImagePool:
    """A history of generated images (Shrivastava et al. 2017, used by CycleGAN).

    D is updated with a mix of fresh fakes and older ones, which damps oscillation. Each new image
    enters the pool; with probability 1/2 the one returned is a random older image instead.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        self.size = size
        self.images: list[np.ndarray] = []
        self.rng = np.random.default_rng(seed)

    def query(self, batch: minigrad.Tensor) -> minigrad.Tensor:
        if self.size == 0:
            return batch.detach()
        out = []
        for img in batch.detach().data:
            if len(self.images) < self.size:
                self.images.append(img.copy())
                out.append(img)
            elif self.rng.random() < 0.5:
                i = self.rng.integers(self.size)
                out.append(self.images[i])
                self.images[i] = img.copy()
            else:
                out.append(img)
        xp = batch.xp
        return minigrad.Tensor(xp.stack(out))


# --------------------------------------------------------------------------- the model base
class GANModel:
    """What every variant shares: named networks and optimizers, checkpoints and sampling.

    A variant sets ``self.nets`` (name -> Module) and ``self.optims`` (name -> Optimizer) in its
    ``__init__`` and writes its math in ``train_step``. Class attributes:
        name         registry name
        conditional  True when ``sample`` takes labels
    """

    name = "gan"
    conditional = False

    def __init__(self, config, device="cpu"):
        self.config = config
        self.device = minigrad.device(device)
        self.nets: dict[str, nn.Module] = {}
        self.optims: dict = {}
        self.step = 0  # generator updates done
        self.d_step = 0  # discriminator updates done
        self.ema: dict[str, nn.Module] = {}  # name -> moving average of that network

    # ------------------------------------------------------------- moving average of G
    def ema_decay(self) -> float:
        """The config's ``ema`` (0: no average), warmed up as (1 + t) / (10 + t) after t G
        steps, so that a short run is not dominated by the initial weights (0.999 ** 1000 is
        still 0.37)."""
        decay = float(getattr(self.config, "ema", 0.0) or 0.0)
        t = self.step
        return min(decay, (1 + t) / (10 + t)) if decay else 0.0

    def _ema_copy(self, name: str) -> nn.Module:
        if name not in self.ema:
            net = copy.deepcopy(self.nets[name])
            net.requires_grad_(False)
            self.ema[name] = net
        return self.ema[name]

    def update_ema(self) -> None:
        """After a G step: G_ema <- decay * G_ema + (1 - decay) * G, parameters and floating
        buffers (BatchNorm's running statistics) alike; integer buffers are copied."""
        if not getattr(self.config, "ema", 0.0) or "G" not in self.nets:
            return
        decay = self.ema_decay()
        live = self.nets["G"]
        avg = self._ema_copy("G")
        pairs = list(zip(avg.parameters(), live.parameters()))
        pairs += list(zip(avg.buffers(), live.buffers()))
        for a, p in pairs:
            if a.data.dtype.kind == "f":
                a.data -= (1 - decay) * (a.data - p.data)
            else:
                a.data[...] = p.data

    @contextlib.contextmanager
    def _sampling_generator(self):
        """Inside: ``self.G`` is the moving average of G when there is one (``generate`` of
        every variant reads ``self.G``)."""
        if "G" not in self.ema:
            yield
            return
        live = self.G
        self.G = self.ema["G"]
        try:
            yield
        finally:
            self.G = live

    # The trainer asks this before each batch: how many D steps per G step right now.
    def d_steps_per_g(self) -> int:
        return getattr(self.config, "k", 1)

    def train_step(self, real, labels=None, update_g=True) -> dict:  # pragma: no cover
        raise NotImplementedError

    def generate(self, z, labels=None):  # pragma: no cover - per variant
        """Images (N, C, H, W) in [-1, 1] from latent codes ``z`` (and ``labels``)."""
        raise NotImplementedError

    def latent(self, n: int, rng=None):
        """``n`` latent codes for ``generate`` (a Tensor); from ``rng`` (numpy) when given."""
        dim = self.config.latent_dim
        if rng is None:
            return noise(n, dim, device=self.device)
        return minigrad.tensor(rng.standard_normal((n, dim)).astype(np.float32),
                               device=self.device)

    def sample(self, n: int, labels=None, z=None) -> minigrad.Tensor:
        """``n`` images (N, C, H, W) in [-1, 1], made in eval mode with no graph recorded.

        Conditional models take ``labels`` (ints, default: 0..9 repeated)."""
        if self.conditional and labels is None:
            labels = np.arange(n) % self.config.n_classes
        if labels is not None and not isinstance(labels, minigrad.Tensor):
            labels = minigrad.tensor(np.asarray(labels, dtype=np.int64), device=self.device)
        nets = list(self.nets.values()) + list(self.ema.values())
        with eval_mode(*nets), minigrad.no_grad(), self._sampling_generator():
            return self.generate(self.latent(n) if z is None else z, labels)

    def sample_fixed(self, n: int = 64) -> minigrad.Tensor:
        """Samples from the same latent codes every time (seeded apart from training), so grids
        taken during training show the progress of one set of images."""
        z = self.latent(n, rng=np.random.default_rng(1234))
        labels = np.arange(n) % self.config.n_classes if self.conditional else None
        return self.sample(n, labels, z)

    def to(self, device):
        self.device = minigrad.device(device)
        for m in list(self.nets.values()) + list(self.ema.values()):
            m.to(device)
        return self

    def state_dict(self) -> dict:
        return {
            "name": self.name,
            "nets": {k: m.state_dict() for k, m in self.nets.items()},
            "optims": {k: o.state_dict() for k, o in self.optims.items()},
            "ema": {k: m.state_dict() for k, m in self.ema.items()},
            "step": self.step,
            "d_step": self.d_step,
            "config": config_dict(self.config),
        }

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.nets.items():
            m.load_state_dict(state["nets"][k])
        for k, o in self.optims.items():
            o.load_state_dict(state["optims"][k])
        for k, sd in state.get("ema", {}).items():
            self._ema_copy(k).load_state_dict(sd)
        self.step = int(state["step"])
        self.d_step = int(state["d_step"])

    def num_parameters(self) -> dict:
        return {k: sum(p.numel() for p in m.parameters()) for k, m in self.nets.items()}


def config_dict(config) -> dict:
    """A dataclass config as plain JSON-able values (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(config).items()}


def config_from_dict(cls, values: dict):
    """Rebuild a config dataclass, turning lists back into tuples where the default is one."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k not in fields:
            continue
        default = fields[k].default
        kwargs[k] = tuple(v) if isinstance(default, tuple) and isinstance(v, list) else v
    return cls(**kwargs)


# ------------------------------------------------------------------------------ pictures
def image_grid(images: np.ndarray, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (H', W', C) float array in [0, 1]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[:, None]
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    grid = np.ones((nrows * (h + pad) + pad, ncol * (w + pad) + pad, c), dtype=np.float32)
    for i, img in enumerate(images):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = np.clip((img.transpose(1, 2, 0) + 1) / 2, 0, 1)
    return grid


def save_image_grid(images, path, nrow: int = 8) -> Path:
    """Write images (N, C, H, W) in [-1, 1] (Tensor or array) as one PNG grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(images, minigrad.Tensor):
        images = images.numpy()
    grid = image_grid(images, nrow)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if grid.shape[2] == 1:
        plt.imsave(path, grid[:, :, 0], cmap="gray", vmin=0, vmax=1)
    else:
        plt.imsave(path, grid)
    return path
