"""CycleGAN (Zhu, Park, Isola and Efros, 2017): unpaired image-to-image translation.

Two generators G: X -> Y and F: Y -> X and two discriminators D_X, D_Y. With no pairs (x, y) to
supervise against, each mapping is only asked to produce images the other domain's discriminator
accepts, and the two mappings are asked to undo each other (cycle consistency):

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y) + L_GAN(F, D_X) + lambda_cyc * L_cyc(G, F)
                        [+ lambda_id * L_id(G, F)]
    L_GAN (least squares, Mao et al. 2017):
        D_Y minimises  1/2 E_y[(D_Y(y) - 1)^2] + 1/2 E_x[D_Y(G(x))^2]     (same for D_X, F)
        G   minimises  E_x[(D_Y(G(x)) - 1)^2]
    L_cyc = E_x[||F(G(x)) - x||_1] + E_y[||G(F(y)) - y||_1]          lambda_cyc = 10
    L_id  = E_y[||G(y) - y||_1] + E_x[||F(x) - x||_1]                 lambda_id = 0.5 * lambda_cyc
D is updated on a history of generated images (an :class:`gans.common.ImagePool` of 50) rather
than only the latest ones, which damps oscillation. Adam(2e-4, (0.5, 0.999)) for all four nets,
the same lr for 100 epochs, then decayed linearly to 0 over the next 100. The decay is the
trainer's, for any variant (:meth:`gans.protocol.GANModel.lr_factor`), and off by default here,
where a few epochs of MNIST already translate well: ``--lr-decay-start 100 --lr-decay-epochs
100 --epochs 200`` is the paper's schedule, or any shorter one in its proportions.

The domains (:func:`domain_datasets`, :func:`unpaired_dataset`):
    X = MNIST digits: white strokes on black.
    Y = other MNIST digits, colour-inverted and thickened: black strokes, about 2 px wider (a
        morphological dilation with a 3x3 cross), on white.
Why this pair: it is offline; the gap is real -- every pixel changes value and the stroke width
changes, so no per-pixel map does the job: G must learn a spatial operation (dilation) and F its
inverse (erosion + inversion, which loses information the cycle loss makes F restore); an X-domain
classifier does not work on Y. And the transform keeps the digit, so whether translation
preserves the content is *measurable* (:func:`translation_metrics`), which scikit-learn's 8x8
digits (1797 blurry images, too few for a reliable domain-Y judge) would make much weaker.
Unpaired: X and Y are built from *disjoint* halves of MNIST (a seeded permutation), and each X image
is matched with an unrelated Y image (another permutation), so no image is ever seen with its own
transform and a pair's labels are independent.

It follows the GAN protocol (:mod:`gans.protocol`) as an image-to-image model: its loader yields
pairs of unrelated batches (x, y), so ``train_step(x, y, update_g)`` gets one batch of each
domain; there is no noise to sample from, so ``sample(n)`` translates n test images of X
(``translate`` goes either way).

Networks, sized down for 28x28 (the paper's are for 128/256 px: ngf = ndf = 64, 6-9 blocks);
with ngf = 16, ndf = 32 a step of 16 pairs takes about 0.27 s on 2 CPU cores (a Zen 4 EPYC,
2026-12-07), and 600 steps already translate well (see translation_metrics):
    G, F (ResNet generator; c7s1-k = ReflectionPad 3, Conv 7x7, InstanceNorm, ReLU):
        (1, 28, 28) -> c7s1-16 -> (16, 28, 28) -> Conv 3x3/2, IN, ReLU -> (32, 14, 14)
        -> 3 residual blocks [ReflectionPad 1, Conv 3x3, IN, ReLU, ReflectionPad 1, Conv 3x3, IN]
        -> ConvT 3x3/2 (output_padding 1), IN, ReLU -> (16, 28, 28)
        -> ReflectionPad 3, Conv 7x7 -> (1, 28, 28) -> Tanh
    D_X, D_Y (PatchGAN): (1, 28, 28) -> Conv 4x4/2 -> (32, 14, 14), LReLU -> Conv 4x4/2
        -> (64, 7, 7), IN, LReLU -> Conv 4x4/1 pad 1 -> (1, 6, 6): one real/fake score per
        22x22 patch
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad import backend, nn, optim
from minigrad.data import ArrayDataset, mnist_dataset
from minigrad.nn import functional as F
from gans.common import ImagePool
from gans.dcgan import AdamConfig, dcgan_init
from gans.losses import least_squares
from gans.protocol import GANModel, frozen, option


@dataclass
class Config(AdamConfig):
    latent_dim: int = option(0, "none: G's input is an image of domain X")
    batch_size: int = option(16, "the paper uses 1; a few images per step is far faster here")
    channels: int = 1
    ngf: int = 16
    ndf: int = 32
    n_residual: int = 3
    lambda_cyc: float = 10.0
    lambda_id: float = option(0.5, "identity weight as a fraction of lambda_cyc; 0 switches it off")
    pool_size: int = 50

    ranges = {"latent_dim": "[0, inf)"}  # unused: G's input is an image


# ------------------------------------------------------------------------------- domains
def thicken_and_invert(images: np.ndarray) -> np.ndarray:
    """Domain Y's look: (N, C, H, W) in [-1, 1] -> dilated with a 3x3 cross, then inverted."""
    x = np.asarray(images, dtype=np.float32)
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-1.0)
    h, w = x.shape[-2:]
    dilated = np.maximum.reduce([p[..., 1:h + 1, 1:w + 1], p[..., :h, 1:w + 1],
                                 p[..., 2:h + 2, 1:w + 1], p[..., 1:h + 1, :w],
                                 p[..., 1:h + 1, 2:w + 2]])
    return -dilated


def domain_datasets(split: str = "train", seed: int = 0):
    """(X, Y) as two ArrayDatasets of (images (N, 1, 28, 28) in [-1, 1], labels (N,)).

    X = MNIST digits of one half of a seeded permutation of ``split``; Y = the other half, made to
    look different by :func:`thicken_and_invert`. The halves are disjoint."""
    images, labels = mnist_dataset(split).arrays
    perm = np.random.default_rng(seed).permutation(len(images))
    ix, iy = np.sort(perm[: len(perm) // 2]), np.sort(perm[len(perm) // 2:])
    x = ArrayDataset(images[ix], labels[ix])
    y = ArrayDataset(thicken_and_invert(images[iy]), labels[iy])
    return x, y


def unpaired_dataset(split: str = "train", seed: int = 0) -> ArrayDataset:
    """Unpaired training batches for ``fit``: (x, y), two (N, 1, 28, 28) arrays, x an X image
    and y an unrelated Y image (a random matching)."""
    (xi, _), (yi, _) = (d.arrays for d in domain_datasets(split, seed))
    n = min(len(xi), len(yi))
    match = np.random.default_rng(seed + 1).permutation(len(yi))[:n]
    return ArrayDataset(xi[:n], np.ascontiguousarray(yi[match]))


# ------------------------------------------------------------------------------ networks
class ResidualBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c),
        )

    def forward(self, x):
        return x + self.block(x)  # (N, c, H, W)


class ResnetGenerator(nn.Module):
    def __init__(self, channels=1, ngf=16, n_residual=3):
        super().__init__()
        f2 = 2 * ngf
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(channels, ngf, 7), nn.InstanceNorm2d(ngf),
            nn.ReLU(),                                                        # (N, ngf, 28, 28)
            nn.Conv2d(ngf, f2, 3, 2, 1), nn.InstanceNorm2d(f2), nn.ReLU(),    # (N, 2ngf, 14, 14)
            *[ResidualBlock(f2) for _ in range(n_residual)],                  # (N, 2ngf, 14, 14)
            nn.ConvTranspose2d(f2, ngf, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ngf),
            nn.ReLU(),                                                        # (N, ngf, 28, 28)
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, channels, 7), nn.Tanh(),    # (N, C, 28, 28)
        )

    def forward(self, x):
        return self.net(x)


class PatchDiscriminator(nn.Module):
    def __init__(self, channels=1, ndf=32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2),             # (N, ndf, 14, 14)
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), nn.InstanceNorm2d(2 * ndf),
            nn.LeakyReLU(0.2),                                                # (N, 2ndf, 7, 7)
            nn.Conv2d(2 * ndf, 1, 4, 1, 1),                                   # (N, 1, 6, 6)
        )

    def forward(self, x):
        return self.net(x)


# ------------------------------------------------------------------------------ losses
def cycle_loss(G, F_, x, y):
    """||F(G(x)) - x||_1 + ||G(F(y)) - y||_1 (means over pixels): each mapping undone."""
    return F.l1_loss(F_(G(x)), x) + F.l1_loss(G(F_(y)), y)


def identity_loss(G, F_, x, y):
    """||G(y) - y||_1 + ||F(x) - x||_1: a generator fed its own target domain changes nothing."""
    return F.l1_loss(G(y), y) + F.l1_loss(F_(x), x)


class CycleGAN(GANModel):
    name = "cyclegan"
    image_to_image = True  # batches are (x, y): see the module docstring

    def __init__(self, config: Config | None = None, device="cpu"):
        super().__init__(config or Config(), device)
        cfg = self.config
        self.G = ResnetGenerator(cfg.channels, cfg.ngf, cfg.n_residual)  # X -> Y
        self.F = ResnetGenerator(cfg.channels, cfg.ngf, cfg.n_residual)  # Y -> X
        self.D_X, self.D_Y = PatchDiscriminator(cfg.channels, cfg.ndf), \
            PatchDiscriminator(cfg.channels, cfg.ndf)
        self.nets = {"G": self.G, "F": self.F, "D_X": self.D_X, "D_Y": self.D_Y}
        for net in self.nets.values():
            net.apply(dcgan_init)  # N(0, 0.02), as in the paper's code
            net.to(device)
        gen_params = list(self.G.parameters()) + list(self.F.parameters())
        disc_params = list(self.D_X.parameters()) + list(self.D_Y.parameters())
        self.optims = {"G": optim.Adam(gen_params, lr=cfg.lr, betas=cfg.betas),
                       "D": optim.Adam(disc_params, lr=cfg.lr, betas=cfg.betas)}
        self.pool_x, self.pool_y = ImagePool(cfg.pool_size, seed=1), ImagePool(cfg.pool_size, 2)
        self._test_domains = None

    @property
    def capture_refusal(self):
        if self.config.pool_size:
            return (f"CycleGAN's image pool (--pool-size {self.config.pool_size}) chooses on the "
                    "host, each step, which fakes D sees, and a replayed step would repeat one "
                    "step's choices (--pool-size 0 can be recorded)")
        return None

    # ---------------------------------------------------------------- translating
    def test_domains(self):
        """The test-split (X, Y) datasets, loaded once (for sampling and grids)."""
        if self._test_domains is None:
            self._test_domains = domain_datasets("test")
        return self._test_domains

    def translate(self, images, direction: str = "xy") -> minigrad.Tensor:
        """G(images) (X -> Y) or, with ``direction="yx"``, F(images), in eval mode, no graph."""
        with self.sampling():
            return {"xy": self.G, "yx": self.F}[direction](images)

    def generate(self, z, labels=None):
        return self.G(z)  # X -> Y

    def sample(self, n: int, labels=None, z=None) -> minigrad.Tensor:
        """Image to image: G(x) for ``n`` random test images x of domain X (or for the X images
        ``z`` when given); there is no noise to sample from."""
        if z is None:
            images = self.test_domains()[0].arrays[0]
            z = images[minigrad.randint(0, len(images), (n,)).numpy()]
        return self.translate(minigrad.tensor(z, device=self.device))

    def sample_fixed(self, n: int = 64) -> minigrad.Tensor:
        """Rows (8 each): x, G(x), F(G(x)), y, F(y), G(F(y)) for fixed test images."""
        (xi, _), (yi, _) = (d.arrays for d in self.test_domains())
        x = minigrad.tensor(xi[:8], device=self.device)
        y = minigrad.tensor(yi[:8], device=self.device)
        gx, fy = self.translate(x), self.translate(y, "yx")
        rows = [x, gx, self.translate(gx, "yx"), y, fy, self.translate(fy)]
        return minigrad.cat(rows, dim=0)

    # ------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """The base state plus both image pools (images and RNG), so a resumed run feeds D the
        same history it would have without the interruption."""
        state = super().state_dict()
        state["pools"] = {}
        for k, pool in (("x", self.pool_x), ("y", self.pool_y)):
            images = [backend.to_device(im, "cpu") for im in pool.images]
            state["pools"][k] = {"images": np.stack(images) if images else np.zeros((0,)),
                                 "rng": pool.rng.bit_generator.state}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        for k, pool in (("x", self.pool_x), ("y", self.pool_y)):
            saved = state.get("pools", {}).get(k)
            if saved is None:
                continue
            images = np.asarray(saved["images"])
            pool.images = [backend.to_device(im.copy(), self.device) for im in images] \
                if images.ndim > 1 else []
            pool.rng.bit_generator.state = saved["rng"]

    # ---------------------------------------------------------------------- training
    def train_step(self, x, y, update_g=True) -> dict:
        """One step on a batch x of domain X and an unrelated batch y of domain Y."""
        if x.shape != y.shape:
            raise ValueError(f"CycleGAN trains on unpaired batches (x, y) of one shape, got x "
                             f"{tuple(x.shape)} and y {tuple(y.shape)}: build the data with "
                             "gans.cyclegan.unpaired_dataset() (command line: --dataset mnist_xy)")
        G, F_, D_X, D_Y, cfg = self.G, self.F, self.D_X, self.D_Y, self.config
        stats = {}

        # --- generators: fool D_Y and D_X, undo each other, (leave own domain alone) ------
        if update_g:
            with frozen(D_X, D_Y):
                fake_y, fake_x = G(x), F_(y)                                  # G(x), F(y)
                loss_gan = least_squares(D_Y(fake_y), 1.0) + least_squares(D_X(fake_x), 1.0)
                loss_cyc = F.l1_loss(F_(fake_y), x) + F.l1_loss(G(fake_x), y)  # reuse G(x), F(y)
                loss_g = loss_gan + cfg.lambda_cyc * loss_cyc
                if cfg.lambda_id > 0:
                    loss_id = identity_loss(G, F_, x, y)
                    loss_g = loss_g + cfg.lambda_id * cfg.lambda_cyc * loss_id
                    stats["loss_id"] = loss_id.detach()
                self.update("G", loss_g)
            stats.update(loss_g=loss_g.detach(), loss_gan=loss_gan.detach(),
                         loss_cyc=loss_cyc.detach())
        else:
            with minigrad.no_grad():
                fake_y, fake_x = G(x), F_(y)

        # --- discriminators: real -> 1, fakes from the history pools -> 0 -------------------
        fy, fx = self.pool_y.query(fake_y), self.pool_x.query(fake_x)
        loss_dy = 0.5 * (least_squares(D_Y(y), 1.0) + least_squares(D_Y(fy), 0.0))
        loss_dx = 0.5 * (least_squares(D_X(x), 1.0) + least_squares(D_X(fx), 0.0))
        loss_d = loss_dx + loss_dy
        self.update("D", loss_d)
        stats.update(loss_d=loss_d.detach(), loss_d_x=loss_dx.detach(), loss_d_y=loss_dy.detach())
        return stats


# ------------------------------------------------------------------------------ metrics
def domain_classifier(split_seed: int = 0, epochs: int = 2, log=print):
    """A classifier of domain Y (gans.metrics' recipe, trained on Y's training half)."""
    from gans import metrics

    _, y_train = domain_datasets("train", split_seed)
    _, y_test = domain_datasets("test", split_seed)
    model, info = metrics.train_classifier(*y_train.arrays, epochs=epochs, test=y_test.arrays,
                                           log=log)
    model.test_accuracy = metrics.evaluate_accuracy(model, *y_test.arrays)
    return model


def translation_metrics(model: CycleGAN, classifier_y, n: int | None = None,
                        batch_size: int = 500) -> dict:
    """How well G: X -> Y keeps the digit, on the test split of X.

    Returns {'accuracy': fraction of G(x) that ``classifier_y`` (a domain-Y classifier, e.g.
    :func:`domain_classifier`) labels as x's digit, 'cycle_l1': mean |F(G(x)) - x| per pixel,
    'n': images used}."""
    from gans import metrics

    images, labels = model.test_domains()[0].arrays
    if n is not None:
        images, labels = images[:n], labels[:n]
    hits, err = 0, 0.0
    for s in range(0, len(images), batch_size):
        x = minigrad.tensor(images[s:s + batch_size], device=model.device)
        gx = model.translate(x)
        rec = model.translate(gx, "yx")
        _, probs = metrics.features_and_probs(classifier_y, gx.numpy())
        hits += int((probs.argmax(1) == labels[s:s + batch_size]).sum())
        err += float(np.abs(rec.numpy() - x.numpy()).sum())
    return {"accuracy": hits / len(images), "cycle_l1": err / images.size, "n": len(images)}
