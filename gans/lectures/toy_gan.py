"""The toy GAN of lecture 3 on the 2-D mixtures: GAN, PacGAN, WGAN-GP and SNGAN, written to the
protocol of :mod:`gans.protocol` with the losses of :mod:`gans.losses` and trained by
:func:`gans.trainer.fit`, like every GAN of the zoo; scored by
:func:`gans.lectures.mode_collapse.protocol_metrics`. Its networks are built by
:func:`toy_generator` and :func:`toy_discriminator`, which take the module library (``lib``),
so the PyTorch twin (benchmarks/twins.py) builds the same ones."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import minigrad
from gans.lectures.mode_collapse import PROTOCOLS, TOY_DATASETS, mode_metrics, protocol_metrics
from gans.lectures.schedule import linear_decay, set_lr
from gans.losses import d_loss, g_loss
from gans.penalties import gradient_penalty
from gans.protocol import GANConfig, GANModel, frozen
from gans.trainer import fit
from minigrad import nn, optim


TOY_METHODS = ("gan", "pacgan", "wgan_gp", "sngan")


@dataclass
class ToyGANConfig(GANConfig):
    """One toy run. Defaults: the best plain-latent recipe (GAN, k = 2, BatchNorm G, batch 512;
    see docs/mode_collapse.md for it and the others).

    method   'gan'     the vanilla GAN, non-saturating G loss (Goodfellow et al. 2014)
             'pacgan'  the same, but D judges ``pack`` samples at once, concatenated (Lin et al.
                       2018): a collapsed G produces packs of near-identical points, which D
                       can tell from real packs, so collapse is penalised
             'wgan_gp' Wasserstein critic with gradient penalty (Gulrajani et al. 2017)
             'sngan'   spectral normalisation of every Linear of D and the hinge loss
                       (Miyato et al. 2018)
    G: z -> [Linear, BatchNorm1d, ReLU] x g_layers -> Linear -> 2   (BatchNorm: ``g_batchnorm``)
       latent_components = 0: z ~ N(0, I) of latent_dim; C > 0: z = (e, one_hot(c)), e ~ N(0, I)
       and c uniform over C components, a discrete part of the latent (as in DeLiGAN's mixture
       latent, Gurumurthy et al. 2017, with fixed components): a continuous G maps a connected
       latent onto connected sets, so with C = 0 it must draw bridges between separate modes;
       its C components can land on separate modes with none between them
    D: x -> [Linear, LeakyReLU(0.2)] x d_layers -> Linear -> 1 (no normalisation: the
       gradient penalty is per sample)
    Adam, learning rate decayed linearly to 1% over ``steps`` G updates, ``d_steps`` D steps
    per G step. The networks see the data divided by the dataset's ``scale`` (ring 1, grid 2).
    """

    latent_dim: int = 2
    latent_components: int = 0  # C > 0: a uniform discrete code joins the Gaussian one
    batch_size: int = 512
    d_steps: int = 2  # D steps per G step (Algorithm 1's k; WGAN-GP's n_critic)
    method: str = "gan"
    dataset: str = "ring"
    steps: int = 5000  # G steps
    g_hidden: int = 128
    g_layers: int = 3
    g_batchnorm: bool = True  # BatchNorm1d after each hidden Linear of G
    d_hidden: int = 128
    d_layers: int = 2
    lr: float = 1e-3
    betas: tuple = (0.5, 0.999)
    lr_decay: bool = True
    pack: int = 2  # PacGAN only
    gp_weight: float = 0.1  # WGAN-GP's lambda on the toy problems (0.1 in the authors' toy code)
    eval_every: int = 500  # G steps between two measurements
    n_eval: int = 2500
    snapshot_steps: tuple = ()
    seed: int = 0


def toy_generator(cfg: ToyGANConfig, lib=nn):
    """G: codes (N, latent_dim + latent_components) -> points (N, 2). ``lib`` is the module
    library that builds it: minigrad's ``nn``, or ``torch.nn`` for the PyTorch twin (the same
    layers under the same state-dict names)."""
    layers, width = [], cfg.latent_dim + cfg.latent_components
    for _ in range(cfg.g_layers):
        layers.append(lib.Linear(width, cfg.g_hidden))
        if cfg.g_batchnorm:
            layers.append(lib.BatchNorm1d(cfg.g_hidden))
        layers.append(lib.ReLU())
        width = cfg.g_hidden
    return lib.Sequential(*layers, lib.Linear(width, 2))


def toy_discriminator(cfg: ToyGANConfig, pack: int = 1, lib=nn):
    """Packs (N, pack, 2) -> (N, 1) scores: the pack's points concatenated, then an MLP (every
    Linear spectrally normalised for SNGAN). ``lib`` as for :func:`toy_generator`."""
    sn = lib.utils.spectral_norm if cfg.method == "sngan" else (lambda m: m)
    layers, width = [lib.Flatten()], 2 * pack
    for _ in range(cfg.d_layers):
        layers += [sn(lib.Linear(width, cfg.d_hidden)), lib.LeakyReLU(0.2)]
        width = cfg.d_hidden
    return lib.Sequential(*layers, sn(lib.Linear(width, 1)))


def toy_codes(cfg: ToyGANConfig, m: int, rng) -> np.ndarray:
    """``m`` latent codes (m, latent_dim + latent_components) float32 from the NumPy Generator
    ``rng``: Gaussian, then (with ``latent_components`` C > 0) one-hot codes of components drawn
    uniformly from C."""
    z = rng.standard_normal((m, cfg.latent_dim)).astype(np.float32)
    c = cfg.latent_components
    if not c:
        return z
    return np.concatenate([z, np.eye(c, dtype=np.float32)[rng.integers(c, size=m)]], axis=1)


class ToyMixture:
    """A loader of fresh samples from a 2-D Gaussian mixture of ``TOY_DATASETS``.

    Yields ``batches`` batches ``(points, None)``, points (batch_size, pack, 2) float32 in the
    networks' units (the data divided by the dataset's scale): ``batch_size`` packs of ``pack``
    points each. ``rng`` is its random stream (the trainer saves and restores it)."""

    def __init__(self, dataset: str, batch_size: int, batches: int, pack: int = 1,
                 seed: int = 0):
        if dataset not in TOY_DATASETS:
            raise ValueError(f"dataset must be one of {tuple(TOY_DATASETS)}, got {dataset!r}")
        make_centres, self.std, self.scale = TOY_DATASETS[dataset]
        self.centres = make_centres()
        self.batch_size, self.batches, self.pack = batch_size, batches, pack
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.batches

    def __iter__(self):
        for _ in range(self.batches):
            yield self.batch(), None

    def batch(self):
        n = self.batch_size * self.pack
        modes = self.rng.integers(len(self.centres), size=n)
        x = self.centres[modes] + self.std * self.rng.standard_normal((n, 2))
        x = (x / self.scale).astype(np.float32).reshape(self.batch_size, self.pack, 2)
        return minigrad.tensor(x)


class ToyGAN(GANModel):
    """A GAN on 2-D points, written to the protocol of :mod:`gans.protocol` and trained by
    :func:`gans.trainer.fit` like the zoo's image models.

    A sample is a pack of ``pack`` points for PacGAN, of one point for the other methods: real
    and generated batches are (N, pack, 2), latent codes (N, pack, latent_dim); G maps each code
    to its point alone, D scores a whole pack. Not in ``gans.REGISTRY``: its samples are points,
    not images, and its data a mixture drawn afresh, not a dataset.
    """

    name = "toy"

    def __init__(self, config: ToyGANConfig | None = None, device="cpu"):
        super().__init__(config or ToyGANConfig(), device)
        cfg = self.config
        if cfg.method not in TOY_METHODS:
            raise ValueError(f"method must be one of {TOY_METHODS}, got {cfg.method!r}")
        c = cfg.latent_components
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
            raise ValueError(f"latent_components must be a whole number >= 0, got {c!r}")
        self.pack = cfg.pack if cfg.method == "pacgan" else 1
        self.loss = {"wgan_gp": "wasserstein", "sngan": "hinge"}.get(cfg.method,
                                                                     "non_saturating")
        self.declare(G=toy_generator(cfg), D=toy_discriminator(cfg, self.pack),
                     optimizer=lambda params: optim.Adam(params, lr=cfg.lr, betas=cfg.betas))

    @property
    def code_dim(self) -> int:
        return self.config.latent_dim + self.config.latent_components

    def codes(self, m: int, rng=None):
        """``m`` codes for single points, (m, code_dim): Gaussian, then one-hot components when
        the config has them; from ``rng`` (numpy, :func:`toy_codes`) when given, else from
        minigrad's generator."""
        if rng is not None:
            return minigrad.tensor(toy_codes(self.config, m, rng), device=self.device)
        z, c = super().latent(m), self.config.latent_components
        if not c:
            return z
        k = minigrad.randint(0, c, (m,), device=self.device)
        return minigrad.cat([z, minigrad.nn.functional.one_hot(k, c).float()], dim=1)

    def latent(self, n: int, rng=None):
        """Codes for ``n`` packs, (n, pack, code_dim)."""
        return self.codes(n * self.pack, rng).reshape(n, self.pack, self.code_dim)

    def generate(self, z, labels=None):
        """Points (..., 2) from codes (..., code_dim)."""
        return self.G(z.reshape(-1, self.code_dim)).reshape(*z.shape[:-1], 2)

    def train_step(self, real, labels=None, update_g=True) -> dict:
        D, n, cfg = self.D, real.shape[0], self.config
        if cfg.lr_decay:  # by the G steps done so far (the trainer counts them)
            set_lr(self.optims.values(), linear_decay(cfg.lr, self.step, cfg.steps))

        # --- D step: -log D(x) - log(1 - D(G(z)));  WGAN-GP's critic step:
        #     E[D(G(z))] - E[D(x)] + lambda * E[(||grad D(x_hat)|| - 1)^2] ---------------------
        fake = self.generate(self.latent(n)).detach()
        loss_d = d_loss(self.loss, D(real), D(fake))
        if cfg.method == "wgan_gp":
            loss_d = loss_d + cfg.gp_weight * gradient_penalty(D, real, fake)
        self.update("D", loss_d)
        stats = {"loss_d": loss_d.detach()}

        # --- G step: D frozen -----------------------------------------------------------------
        if update_g:
            with frozen(D):
                loss_g = g_loss(self.loss, D(self.generate(self.latent(n))))
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.detach()
        return stats


@dataclass
class ToyGANResult:
    config: ToyGANConfig
    history: list = field(default_factory=list)  # (step, modes covered, high-quality fraction)
    snapshots: dict = field(default_factory=dict)  # step -> samples (n_eval, 2)
    seconds: float = 0.0
    model: ToyGAN = None  # the trained model
    metrics: dict = field(default_factory=dict)  # protocol -> protocol_metrics at the end

    @property
    def final(self):
        """(modes covered, high-quality fraction) at the end of training."""
        return self.history[-1][1], self.history[-1][2]


def train_toy_gan(cfg: ToyGANConfig, progress=None) -> ToyGANResult:
    """Train one GAN on a 2-D mixture with :func:`gans.trainer.fit`, measuring ``mode_metrics``
    every ``eval_every`` G steps (and at the ``snapshot_steps``, whose samples are kept); at the
    end, ``result.metrics`` holds both protocols' scores (:func:`protocol_metrics`).

    Everything (models, data, evaluation noise) is seeded by ``cfg.seed``. The evaluation
    samples ``n_eval`` points with G in eval mode (BatchNorm's running statistics).
    ``progress(cfg, step, modes, high_quality)`` is called after each measurement.
    """
    if cfg.steps < 1:
        raise ValueError(f"steps must be >= 1, got {cfg.steps}")
    minigrad.manual_seed(cfg.seed)
    model = ToyGAN(cfg)
    data = ToyMixture(cfg.dataset, cfg.batch_size, cfg.steps * cfg.d_steps, model.pack,
                      seed=cfg.seed)
    eval_z = model.codes(cfg.n_eval, rng=np.random.default_rng(cfg.seed + 10_000))
    due = sorted({*range(0, cfg.steps, cfg.eval_every), cfg.steps,
                  *(s for s in cfg.snapshot_steps if 0 <= s <= cfg.steps)})
    result = ToyGANResult(cfg, model=model)

    def evaluate(model, stats=None):  # after every D step; measures once per due G step
        if not due or model.step != due[0]:
            return
        step = due.pop(0)
        samples = model.sample(cfg.n_eval, z=eval_z).numpy() * data.scale
        modes, hq = mode_metrics(samples, data.centres, data.std)
        result.history.append((step, modes, hq))
        if step == cfg.steps:
            result.metrics = {p: protocol_metrics(samples, data.centres, data.std, p)
                              for p in PROTOCOLS}
        if step in cfg.snapshot_steps:
            result.snapshots[step] = samples
        if progress:
            progress(cfg, step, modes, hq)

    start = time.perf_counter()
    evaluate(model)  # step 0: the untrained G
    fit(model, data, out_dir=None, progress=False, on_step=evaluate)
    result.seconds = time.perf_counter() - start
    return result
