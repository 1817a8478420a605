"""The theory, made visible: four small experiments behind the lecture's claims about GANs.

Everything here runs on minigrad in seconds to minutes on a laptop CPU; ``examples/`` turns each
part into a picture and ``tests/test_theory.py`` checks each claim.

1. **The optimal discriminator.** For a fixed generator distribution p_g, the D that maximises
       V(D, G) = E_{x~p_data}[log D(x)] + E_{x~p_g}[log(1 - D(x))]
   is, pointwise (maximise  a log D + b log(1 - D)  over D in (0, 1): D = a / (a + b)),
       D*(x) = p_data(x) / (p_data(x) + p_g(x)),
   and plugging it back in,
       V(D*, G) = -log 4 + 2 JSD(p_data || p_g),
   so the generator's problem is to minimise the Jensen-Shannon divergence, whose minimum
   (JSD = 0 at p_g = p_data, where D* = 1/2 everywhere) gives the value of the game, -log 4.
   Here: 1-D Gaussians, a small MLP trained on samples, compared with the closed forms.

2. **Non-convergence.** Simultaneous gradient descent-ascent on the bilinear game
   min_x max_y f(x, y) = x y spirals *away* from the unique equilibrium (0, 0): the update is
   z <- (I - eta A) z with A a 90-degree rotation, so |z| grows by sqrt(1 + eta^2) every step.
   Extragradient and optimistic gradient descent look one step ahead and spiral in.

3. **Mode collapse.** On the 8-Gaussian ring and the 25-Gaussian grid, count the modes a GAN
   captures, the fraction of its samples that are of high quality and (PacGAN's protocol) the
   reverse KL divergence of its distribution over the modes to the uniform one, under VEEGAN's
   and PacGAN's protocols (``protocol_metrics``), for the vanilla (non-saturating) GAN, PacGAN
   (packing), WGAN-GP, SNGAN (spectral norm and hinge loss) and the best recipe found here (k = 2
   D steps and BatchNorm in G); ten seeds each in docs/mode_collapse.md. With Algorithm 1's
   k = 1 the vanilla GAN collapses (0-2 modes, hopping between them). The toy model
   (``ToyGAN``) is written to the protocol of :mod:`gans.protocol`, with the losses of
   :mod:`gans.losses`, and trained by :func:`gans.trainer.fit`, like every GAN of the zoo.

4. **The vanishing gradient.** With s the logit D gives a fake, D(G(z)) = sigmoid(s) and
       d/ds  log(1 - sigmoid(s)) = -sigmoid(s)          (minimax loss:  -> 0 as D(G(z)) -> 0)
       d/ds -log sigmoid(s)      = -(1 - sigmoid(s))    (non-saturating: -> -1)
   Both losses send the same ds/dtheta_G back to G, scaled by D(G(z)) and 1 - D(G(z)): when D
   confidently rejects the fakes the minimax gradient vanishes, the non-saturating one does not.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

import minigrad
from gans.losses import check_loss, d_loss, g_loss
from gans.protocol import GANConfig, GANModel, frozen
from gans.trainer import fit
from gans.penalties import gradient_penalty
from minigrad import nn, optim
from minigrad.data import grid_centres, ring_centres

LOG4 = math.log(4.0)


def _softplus(x):
    """log(1 + e^x), exact for large |x| (NumPy)."""
    return np.logaddexp(0.0, x)


def set_lr(optimizers, lr: float) -> None:
    """Set the learning rate of every parameter group of ``optimizers``."""
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = lr


def linear_decay(lr: float, step: int, steps: int) -> float:
    """``lr`` decayed linearly from step 0 to 1% of it at ``steps`` (and kept there)."""
    return lr * max(1.0 - step / steps, 0.01)


# =========================================================================== 1. D* and -log 4
@dataclass(frozen=True)
class Gaussian1D:
    """N(mean, std^2) on the real line: log-density, density and sampling."""

    mean: float
    std: float

    def logpdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return -0.5 * z * z - math.log(self.std * math.sqrt(2.0 * math.pi))

    def pdf(self, x):
        return np.exp(self.logpdf(x))

    def sample(self, n: int, rng) -> np.ndarray:
        """``n`` samples as a float32 column (n, 1)."""
        return (self.mean + self.std * rng.standard_normal((n, 1))).astype(np.float32)


# p_data is minigrad.data.gaussian_1d's default, N(4, 0.5^2). The generator is frozen at
# N(2, 1): wider and shifted, so the densities overlap and D* sweeps the whole range (0, 1) --
# and because the variances differ, log p_data/p_g is a quadratic, so D* is not monotone: far
# right, where p_g's heavier tail wins again, D* comes back down. A linear D could not match it.
P_DATA = Gaussian1D(4.0, 0.5)
P_G = Gaussian1D(2.0, 1.0)


def optimal_logit(x, p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G):
    """logit D*(x) = log p_data(x) - log p_g(x), computed in log space (exact in the tails)."""
    return p_data.logpdf(x) - p_g.logpdf(x)


def optimal_discriminator(x, p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) = sigmoid(log p_data(x) - log p_g(x))."""
    return 1.0 / (1.0 + np.exp(-optimal_logit(x, p_data, p_g)))


def quadrature_grid(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G, n: int = 20001):
    """A grid covering both densities to +-12 standard deviations (for the integrals below)."""
    lo = min(p_data.mean - 12 * p_data.std, p_g.mean - 12 * p_g.std)
    hi = max(p_data.mean + 12 * p_data.std, p_g.mean + 12 * p_g.std)
    return np.linspace(lo, hi, n)


def value_of_game(logit_fn, p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G) -> float:
    """V(D, G) = int p_data log D + p_g log(1 - D) dx, by quadrature, for D = sigmoid(logit_fn).

    Uses log D = -softplus(-s) and log(1 - D) = -softplus(s) with s the logit, so a D that is
    (correctly) near 0 or 1 in a tail costs nothing in precision.
    """
    x = quadrature_grid(p_data, p_g)
    s = np.asarray(logit_fn(x), dtype=np.float64).reshape(-1)
    integrand = -p_data.pdf(x) * _softplus(-s) - p_g.pdf(x) * _softplus(s)
    return float(np.trapezoid(integrand, x))


def jensen_shannon(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G) -> float:
    """JSD(p_data || p_g) = 1/2 KL(p_data || m) + 1/2 KL(p_g || m), m = (p_data + p_g)/2, in nats.

    Computed by quadrature in log space; it lies in [0, log 2]."""
    x = quadrature_grid(p_data, p_g)
    lp, lq = p_data.logpdf(x), p_g.logpdf(x)
    lm = np.logaddexp(lp, lq) - math.log(2.0)
    integrand = 0.5 * np.exp(lp) * (lp - lm) + 0.5 * np.exp(lq) * (lq - lm)
    return float(np.trapezoid(integrand, x))


def bulk_interval(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G, mass: float = 0.98):
    """The central ``mass`` of the mixture (p_data + p_g)/2: where D is trained on enough samples.

    Outside it D has seen (almost) no data, so nothing pins it to D*; comparisons use this range.
    """
    x = quadrature_grid(p_data, p_g)
    cdf = np.cumsum(0.5 * (p_data.pdf(x) + p_g.pdf(x)))
    cdf /= cdf[-1]
    tail = (1.0 - mass) / 2
    return float(np.interp(tail, cdf, x)), float(np.interp(1.0 - tail, cdf, x))


class Discriminator1D(nn.Module):
    """A small MLP x -> logit, on the input standardised by fixed (centre, scale).

    Tanh hidden units: the optimal logit for two Gaussians is a smooth quadratic."""

    def __init__(self, hidden: int = 32, layers: int = 2, centre: float = 3.0, scale: float = 1.5):
        super().__init__()
        self.centre, self.scale = centre, scale
        sizes = [1] + [hidden] * layers + [1]
        mods = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                mods.append(nn.Tanh())
        self.net = nn.Sequential(*mods)

    def forward(self, x):
        return self.net((x - self.centre) / self.scale)  # (N, 1) logits


def discriminator_logits(D: nn.Module, x) -> np.ndarray:
    """D's logits on the points ``x`` (any shape), as float64 NumPy, without recording a graph."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, 1)
    with minigrad.no_grad():
        return D(minigrad.tensor(x)).numpy().reshape(-1).astype(np.float64)


def train_discriminator(p_data: Gaussian1D = P_DATA, p_g: Gaussian1D = P_G, steps: int = 3000,
                        batch_size: int = 512, lr: float = 3e-3, hidden: int = 32,
                        seed: int = 0):
    """Train D to (near) convergence against a *frozen* generator p_g: the inner max of the game.

    Each step draws a fresh batch from both densities (so D sees the distributions, not a finite
    training set) and takes an Adam step on  -[mean log D(x_real) + mean log(1 - D(x_fake))],
    i.e. on -V(D, G) estimated on the batch. The learning rate decays linearly to 1% so the last
    iterates average out the batch noise.

    Returns (D, losses) with losses the per-step estimates of -V.
    """
    minigrad.manual_seed(seed)
    rng = np.random.default_rng(seed)
    centre = 0.5 * (p_data.mean + p_g.mean)
    scale = max(p_data.std, p_g.std, abs(p_data.mean - p_g.mean) / 2)
    D = Discriminator1D(hidden, centre=centre, scale=scale)
    opt = optim.Adam(D.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        set_lr([opt], linear_decay(lr, step, steps))
        real = minigrad.tensor(p_data.sample(batch_size, rng))
        fake = minigrad.tensor(p_g.sample(batch_size, rng))
        losses.append(discriminator_step(D, opt, real, fake))
    return D, np.asarray(losses)


def discriminator_step(D: nn.Module, opt, real, fake) -> float:
    """One optimizer step of D alone on -V(D, G) = -log D(x) - log(1 - D(G(z))), estimated on
    the batches ``real`` and ``fake``; returns that estimate."""
    loss = d_loss("minimax", D(real), D(fake))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


# ===================================================================== 2. the bilinear game
def bilinear(x, y):
    """f(x, y) = x y: x minimises, y maximises; the only equilibrium is (0, 0)."""
    return x * y


def game_gradients(x: float, y: float, f=bilinear) -> tuple[float, float]:
    """(df/dx, df/dy) at (x, y), by minigrad's reverse mode (``minigrad.grad``)."""
    xt = minigrad.tensor(x, dtype=minigrad.float64, requires_grad=True)
    yt = minigrad.tensor(y, dtype=minigrad.float64, requires_grad=True)
    gx, gy = minigrad.grad(f(xt, yt), [xt, yt])
    return gx.item(), gy.item()


GAME_METHODS = ("simultaneous", "alternating", "extragradient", "optimistic")


def play_bilinear(method: str = "simultaneous", steps: int = 300, lr: float = 0.1,
                  start=(1.0, 1.0), f=bilinear) -> np.ndarray:
    """Iterates of gradient descent (on x) / ascent (on y) on min_x max_y f(x, y).

    With g(z) = (df/dx, df/dy) and step eta:

    - ``simultaneous``   x <- x - eta df/dx(x, y),  y <- y + eta df/dy(x, y).  On f = x y this is
      z <- (I - eta A) z with A = [[0, 1], [-1, 0]]: |z| grows by sqrt(1 + eta^2) per step.
    - ``alternating``    y uses the *new* x. On x y it conserves x^2 + y^2 - eta x y: a closed
      orbit around (0, 0) that neither diverges nor converges.
    - ``extragradient``  take a look-ahead step to z', then step from z with the gradient at z'
      (Korpelevich 1976): z <- (I - eta A + eta^2 A^2) z, |z| shrinks by
      sqrt(1 - eta^2 + eta^4) < 1 per step.
    - ``optimistic``     z <- z - 2 eta g_t + eta g_{t-1} (Daskalakis et al. 2018): the
      gradient extrapolated from the last two, one gradient per step; converges for small eta.

    Returns the (steps + 1, 2) array of iterates (x_t, y_t), starting at ``start``.
    """
    if method not in GAME_METHODS:
        raise ValueError(f"method must be one of {GAME_METHODS}, got {method!r}")
    x, y = map(float, start)
    path = [(x, y)]
    prev = game_gradients(x, y, f)
    for _ in range(steps):
        if method == "simultaneous":
            gx, gy = game_gradients(x, y, f)
            x, y = x - lr * gx, y + lr * gy
        elif method == "alternating":
            gx, _ = game_gradients(x, y, f)
            x = x - lr * gx
            _, gy = game_gradients(x, y, f)
            y = y + lr * gy
        elif method == "extragradient":
            gx, gy = game_gradients(x, y, f)
            xh, yh = x - lr * gx, y + lr * gy  # look ahead ...
            gx, gy = game_gradients(xh, yh, f)
            x, y = x - lr * gx, y + lr * gy  # ... and step from where we were
        else:  # optimistic
            gx, gy = game_gradients(x, y, f)
            x, y = x - lr * (2 * gx - prev[0]), y + lr * (2 * gy - prev[1])
            prev = (gx, gy)
        path.append((x, y))
    return np.asarray(path)


# =========================================================================== 3. mode collapse
# Two published ways of scoring a generator on a 2-D mixture of K Gaussians with known centres
# and a common standard deviation std, from n generated samples (docs/mode_collapse.md has the
# sources). Both assign each sample to its nearest centre (Euclidean) and call it *high quality*
# when that distance is within 3 std; a mode is *captured* when it is the nearest centre of at
# least one high-quality sample.
#   VEEGAN (Srivastava et al. 2017): modes captured and the fraction of high-quality samples;
#       "within" is <= 3 std.
#   PacGAN (Lin et al. 2018): the same two numbers, with < 3 std (the authors' code), plus the
#       reverse KL divergence KL(p_hat || uniform) between the histogram p_hat of the high-quality
#       samples over the K modes and the true, uniform distribution over the modes.
# Both use n = 2500 samples.
N_EVAL = 2500
HQ_STDS = 3.0
PROTOCOLS = ("veegan", "pacgan")


def mode_counts(samples, centres, std: float, strict: bool = False) -> np.ndarray:
    """How many high-quality samples each mode has: an int array (K,).

    A sample belongs to its nearest centre (Euclidean) and counts when its distance to it is
    <= ``3 * std`` (``< 3 * std`` with ``strict``)."""
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    centres = np.asarray(centres, dtype=np.float64).reshape(len(centres), -1)
    if samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples have {samples.shape[1]} coordinates, the centres "
                         f"{centres.shape[1]}")
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    d2 = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # (N, K)
    nearest = d2.argmin(1)
    dist = np.sqrt(d2[np.arange(len(samples)), nearest])
    good = dist < HQ_STDS * std if strict else dist <= HQ_STDS * std
    return np.bincount(nearest[good], minlength=len(centres))


def reverse_kl(counts) -> float:
    """KL(p_hat || uniform) = sum_k p_k log(K p_k), in nats, with p_hat = counts / counts.sum()
    over K = len(counts) modes (terms with p_k = 0 are 0). 0 when every mode has the same count,
    log K when all the mass is on one mode; with no count at all it is taken as log K too (the
    worst value: nothing of the generator lands on any mode)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) == 0 or (counts < 0).any():
        raise ValueError("counts must be a non-empty 1-D array of non-negative numbers")
    k, total = len(counts), counts.sum()
    if total == 0:
        return math.log(k)
    p = counts[counts > 0] / total
    return float((p * np.log(k * p)).sum())


def protocol_metrics(samples, centres, std: float, protocol: str = "pacgan") -> dict:
    """One protocol's scores of ``samples``: {'modes': modes captured, 'high_quality': fraction
    of high-quality samples} and, for 'pacgan', 'reverse_kl' (see :func:`reverse_kl`)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    counts = mode_counts(samples, centres, std, strict=protocol == "pacgan")
    out = {"modes": int((counts > 0).sum()),
           "high_quality": float(counts.sum() / len(samples)) if len(samples) else 0.0}
    if protocol == "pacgan":
        out["reverse_kl"] = reverse_kl(counts)
    return out


def mode_metrics(samples, centres, std: float) -> tuple[int, float]:
    """(modes captured, fraction of high-quality samples) under VEEGAN's protocol (see
    :func:`protocol_metrics`)."""
    m = protocol_metrics(samples, centres, std, "veegan")
    return m["modes"], m["high_quality"]


TOY_DATASETS = {
    # name: (centres, std, scale). The centres and stds of both protocols' published code (the
    # PacGAN authors', and GDPP's for VEEGAN's protocol): the ring has radius 1 and std 0.01, the
    # grid spacing 2 and std 0.05. The networks see data / scale: a ring of radius 2, a grid on
    # {-2, -1, 0, 1, 2}^2.
    "ring": (lambda: ring_centres(8, 1.0), 0.01, 0.5),
    "grid": (lambda: grid_centres((-4, -2, 0, 2, 4)), 0.05, 2.0),
}

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
        stats = {"loss_d": loss_d.item()}

        # --- G step: D frozen -----------------------------------------------------------------
        if update_g:
            with frozen(D):
                loss_g = g_loss(self.loss, D(self.generate(self.latent(n))))
                self.update("G", loss_g)
            stats["loss_g"] = loss_g.item()
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


# ================================================================== 4. the vanishing gradient
class ToyGenerator1D(nn.Module):
    """z (N, 1) -> x (N, 1): a small MLP generator for the gradient experiment."""

    def __init__(self, hidden: int = 16, shift: float = 0.0):
        super().__init__()
        self.shift = shift
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, z):
        return self.net(z) + self.shift


def generator_gradient_norms(G: nn.Module, D, z, losses=("minimax", "non_saturating")):
    """For each loss: (||dL/dtheta_G||, mean_i ||dL/dx_i|| * N) with x = G(z), and mean D(G(z)).

    The losses are G's of :mod:`gans.losses`, on D's logits s for G's samples:
    'minimax'         mean log(1 - D(G(z)))  = -mean softplus(s)    (Goodfellow's objective)
    'non_saturating'  mean -log D(G(z))      =  mean softplus(-s)   (the paper's practical fix)

    ``D`` maps x to logits (any callable of Tensors). The per-sample output gradient is
    multiplied by N to undo the 1/N of the batch mean, so it reads as a per-sample gradient.
    Returns {'d_g_z': float, loss: {'param': float, 'output': float}}.
    """
    out = {}
    params = list(G.parameters())
    for loss in losses:
        check_loss(loss, ("minimax", "non_saturating"))
        x = G(z)
        logits = D(x)
        value = g_loss(loss, logits)
        grads = minigrad.grad(value, [x] + params)
        gx, gps = grads[0].numpy(), [g.numpy() for g in grads[1:]]
        out[loss] = {"param": float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in gps))),
                     "output": float(np.linalg.norm(gx, axis=1).mean() * len(gx))}
        out["d_g_z"] = float(minigrad.functional.sigmoid(logits.detach()).mean().item())
    return out


def vanishing_gradient_sweep(shifts=np.linspace(-16, 10, 53), hidden: int = 16, n: int = 256,
                             seed: int = 0):
    """Gradient norms reaching G as D's confidence that the fakes are fake is turned up.

    D is a fixed logistic discriminator on 1-D data around N(4, 0.5^2),
        D_b(x) = sigmoid(2 (x - 3) + b),
    and G a small random MLP whose samples sit around x ~ 0. Lowering the offset b makes D
    reject the fakes more and more confidently: D(G(z)) -> 0. The same ds/dtheta flows back
    for both losses; the minimax loss scales it by D(G(z)), the non-saturating by 1 - D(G(z)).

    Returns a dict of arrays over the shifts: d_g_z, and for each loss its parameter- and
    output-gradient norms ('minimax_param', 'minimax_output', 'non_saturating_param', ...).
    """
    minigrad.manual_seed(seed)
    G = ToyGenerator1D(hidden)
    z = minigrad.tensor(np.random.default_rng(seed).standard_normal((n, 1)).astype(np.float32))
    rows = []
    for b in shifts:
        def D(x, b=float(b)):
            return (x - 3.0) * 2.0 + b

        rows.append(generator_gradient_norms(G, D, z))
    out = {"shift": np.asarray(shifts, dtype=np.float64),
           "d_g_z": np.array([r["d_g_z"] for r in rows])}
    for loss in ("minimax", "non_saturating"):
        for kind in ("param", "output"):
            out[f"{loss}_{kind}"] = np.array([r[loss][kind] for r in rows])
    return out


def strengthening_discriminator(steps: int = 1500, record_every: int = 25, hidden: int = 32,
                                batch_size: int = 256, lr: float = 1e-3, seed: int = 0):
    """Train D (and only D) against a frozen, bad generator; watch the gradient G would get.

    The Arjovsky & Bottou (2017) experiment in 1-D: real data N(4, 0.5^2), G a small random MLP
    whose samples sit around 0. As D trains it separates the two ever more confidently,
    D(G(z)) -> 0, and the minimax gradient reaching G dies with it while the non-saturating
    one stays at order 1.

    Returns a dict of arrays over the recorded D steps: step, d_g_z and the gradient norms.
    """
    minigrad.manual_seed(seed)
    rng = np.random.default_rng(seed)
    G = ToyGenerator1D(16)
    D = Discriminator1D(hidden, centre=2.0, scale=2.0)
    opt = optim.Adam(D.parameters(), lr=lr)
    z_eval = minigrad.tensor(rng.standard_normal((batch_size, 1)).astype(np.float32))
    rows, recorded = [], []
    for step in range(steps + 1):
        if step % record_every == 0:
            with frozen(D):
                rows.append(generator_gradient_norms(G, D, z_eval))
            recorded.append(step)
        if step == steps:
            break
        real = minigrad.tensor(P_DATA.sample(batch_size, rng))
        with minigrad.no_grad():
            fake = G(minigrad.tensor(rng.standard_normal((batch_size, 1)).astype(np.float32)))
        discriminator_step(D, opt, real, fake)
    out = {"step": np.asarray(recorded), "d_g_z": np.array([r["d_g_z"] for r in rows])}
    for loss in ("minimax", "non_saturating"):
        for kind in ("param", "output"):
            out[f"{loss}_{kind}"] = np.array([r[loss][kind] for r in rows])
    return out
