"""How good are a GAN's samples? Scores measured with a small CNN classifier trained with minigrad.

The standard scores (Inception Score, FID) use an ImageNet Inception-v3 network, which means
nothing on 28x28 digits. As in much of the MNIST GAN literature, we use a classifier trained on
the dataset itself instead, and report, for a set of samples:

    inception_score   exp(E_x KL(p(y|x) || p(y))): high when every sample is classified
                      confidently (sharp p(y|x)) *and* the classes are used evenly (broad p(y)).
                      Between 1 and n_classes (10).
    fid               the Frechet distance between Gaussians fitted to the classifier's
                      penultimate-layer features (128-d) on the samples and on the real test set:
                      |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)). Lower is better, 0 = same.
    classes_covered   how many classes receive at least 1% of the samples (mode collapse shows
                      here first); class_histogram holds the fraction of samples per class.
    label_accuracy    conditional models only: how often the classifier agrees with the label
                      the sample was generated for.

Every score is printed beside the same score of the real test set (:func:`real_ceiling`), the
best a generator can hope for. These numbers are only comparable with each other (same
classifier, same sample count), not with published Inception-network numbers.

The classifier (:class:`Classifier`, ~0.43 M parameters: three 3x3 convolutions, two of them
with stride 2, then Linear(3136, 128) - ReLU - Dropout - Linear(128, 10)) is trained once per
dataset with a fixed seed (:func:`train_classifier`) and cached with its test accuracy in
``minigrad.data.cache_dir() / "classifiers" / "{dataset}.npz"``; the real-data statistics
(feature mean/covariance of the test set, the ceiling scores) are cached beside it in
``{dataset}_stats.npz``, so scoring 10000 samples takes a few seconds.

    from gans import metrics
    scores = metrics.score_samples(images, "mnist")             # images (N, 1, 28, 28) in [-1, 1]
    print(metrics.format_scores(scores, metrics.real_ceiling("mnist")))

or from the shell: ``python -m gans score samples.npy --dataset mnist`` (labels.npy beside
samples.npy is used for the label accuracy).
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from pathlib import Path

import numpy as np

import minigrad
from minigrad import backend, nn, optim
from minigrad import data as mdata
from minigrad.nn import functional as F
from minigrad.utils import io

__all__ = [
    "Classifier", "DATASETS", "canonical_dataset", "classifier_path", "train_classifier",
    "evaluate_accuracy", "get_classifier", "features_and_probs", "inception_score",
    "frechet_distance", "feature_statistics", "class_coverage", "label_accuracy",
    "validate_images", "validate_labels", "reference_statistics", "real_ceiling",
    "score_samples", "score_file", "format_scores", "random_shift",
]

# Bump when the architecture or the training code changes: a cached classifier of another
# version (or trained with another recipe than DATASETS') is retrained instead of loaded.
CLASSIFIER_VERSION = 1
N_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)

# Per dataset: the loader, the accuracy the cached classifier must reach, and its training recipe.
DATASETS = {
    "mnist": dict(load=mdata.mnist_dataset, min_accuracy=0.99,
                  recipe=dict(epochs=4, batch_size=128, lr=2e-3, max_shift=2, seed=0)),
    "fashion_mnist": dict(load=mdata.fashion_mnist_dataset, min_accuracy=0.90,
                          recipe=dict(epochs=5, batch_size=128, lr=2e-3, max_shift=0, seed=0)),
}
_ALIASES = {"fashion": "fashion_mnist", "fashion-mnist": "fashion_mnist",
            "fashionmnist": "fashion_mnist"}

# How many real training images stand in for "samples" in the ceiling's FID (the same size as a
# typical sample file, since FID depends on the sample count).
CEILING_TRAIN_SUBSET = 10000


def canonical_dataset(dataset: str) -> str:
    """'mnist' or 'fashion_mnist' (accepts 'fashion', 'fashion-mnist'); ValueError otherwise."""
    name = _ALIASES.get(str(dataset).lower(), str(dataset).lower())
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: the metrics know "
                         f"{', '.join(DATASETS)} (a classifier is trained per dataset)")
    return name


# ------------------------------------------------------------------------------ classifier
class Classifier(nn.Module):
    """A small CNN: conv3x3(1->w) - ReLU - conv3x3/2(w->2w) - ReLU - conv3x3/2(2w->4w) - ReLU -
    Linear(4w * (s/4)^2, hidden) - ReLU - Dropout - Linear(hidden, n_classes).

    ``embed(x)`` is the ReLU'd ``hidden``-d penultimate activation (the FID feature space),
    ``forward(x)`` the logits. ``image_size`` only sets the size of the first Linear (28 for
    MNIST; the tests use 8 for scikit-learn's 8x8 digits).
    """

    def __init__(self, n_classes: int = N_CLASSES, width: int = 16, hidden: int = 128,
                 dropout: float = 0.3, image_size: int = 28, in_channels: int = 1):
        super().__init__()
        self.config = dict(n_classes=n_classes, width=width, hidden=hidden, dropout=dropout,
                           image_size=image_size, in_channels=in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1)
        side = (image_size + 1) // 2
        side = (side + 1) // 2
        self.fc1 = nn.Linear(4 * width * side * side, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def embed(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        h = F.relu(self.conv3(h))
        return F.relu(self.fc1(h.reshape(h.shape[0], -1)))

    def head(self, features):
        return self.fc2(self.drop(features))

    def forward(self, x):
        return self.head(self.embed(x))


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator,
                 fill: float = -1.0) -> np.ndarray:
    """Translate every image by its own random (dy, dx) in [-max_shift, max_shift]^2 pixels;
    uncovered pixels get ``fill`` (the background, -1 in [-1, 1] images). (N, C, H, W) -> same."""
    if max_shift <= 0:
        return images
    n, c, h, w = images.shape
    s = int(max_shift)
    padded = np.full((n, c, h + 2 * s, w + 2 * s), fill, dtype=images.dtype)
    padded[:, :, s:s + h, s:s + w] = images
    dy = rng.integers(-s, s + 1, size=n)
    dx = rng.integers(-s, s + 1, size=n)
    out = np.empty_like(images)
    for oy in range(-s, s + 1):          # at most (2s+1)^2 slices per batch, not one per image
        for ox in range(-s, s + 1):
            sel = np.flatnonzero((dy == oy) & (dx == ox))
            if sel.size:
                out[sel] = padded[sel, :, s - oy:s - oy + h, s - ox:s - ox + w]
    return out


def _predict_logits(model, images: np.ndarray, batch_size: int = 500):
    """(features, logits) as float64 arrays, under no_grad() and eval()."""
    was_training = model.training
    model.eval()
    feats, logits = [], []
    try:
        with minigrad.no_grad():
            for start in range(0, len(images), batch_size):
                x = minigrad.Tensor(np.ascontiguousarray(images[start:start + batch_size]))
                f = model.embed(x)
                z = model.head(f)
                feats.append(np.asarray(backend.to_device(f.data, "cpu"), dtype=np.float64))
                logits.append(np.asarray(backend.to_device(z.data, "cpu"), dtype=np.float64))
    finally:
        model.train(was_training)
    if not feats:
        return np.zeros((0, 0)), np.zeros((0, 0))
    return np.concatenate(feats), np.concatenate(logits)


def evaluate_accuracy(model, images: np.ndarray, labels: np.ndarray,
                      batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` on (images, labels), in eval mode."""
    _, logits = _predict_logits(model, images, batch_size)
    return float(np.mean(logits.argmax(1) == np.asarray(labels)))


def train_classifier(train_images: np.ndarray, train_labels: np.ndarray, *, epochs: int = 4,
                     batch_size: int = 128, lr: float = 2e-3, max_shift: int = 2, seed: int = 0,
                     test=None, model_kwargs=None, log=print):
    """Train a :class:`Classifier` on (N, C, H, W) float32 images in [-1, 1] and int labels.

    Adam (lr, betas 0.9/0.999) with a cosine learning-rate decay to 2% over all steps,
    cross-entropy, random shifts of up to ``max_shift`` pixels on every batch, a fixed ``seed``
    (weights, dropout, shuffling and shifts); minigrad's global generator is restored afterwards,
    so training a classifier in the middle of a GAN run does not change that run.

    Args:
        test: optional (images, labels) evaluated after every epoch (logged).
        model_kwargs: passed to :class:`Classifier` (the image size is taken from the images).
        log: a print-like function, or None for silence.

    Returns:
        (model in eval mode, info dict with 'train_seconds' (without the per-epoch test
        evaluations), 'epochs', 'history').
    """
    train_images = np.ascontiguousarray(train_images, dtype=np.float32)
    train_labels = np.asarray(train_labels, dtype=np.int64)
    if train_images.ndim != 4 or len(train_images) != len(train_labels):
        raise ValueError(f"train_classifier wants (N, C, H, W) images and N labels, got "
                         f"{train_images.shape} and {train_labels.shape}")
    log = log or (lambda *a, **k: None)
    kwargs = dict(image_size=train_images.shape[-1], in_channels=train_images.shape[1])
    kwargs.update(model_kwargs or {})

    saved_rng = backend.get_rng_state()
    minigrad.manual_seed(seed)
    try:
        model = Classifier(**kwargs)
        model.train()
        opt = optim.Adam(model.parameters(), lr=lr)
        loader = mdata.DataLoader((train_images, train_labels), batch_size=batch_size,
                                  shuffle=True, seed=seed, to_tensor=False)
        shift_rng = np.random.default_rng(seed + 1)
        total = epochs * len(loader)
        step = 0
        history = []
        t0, eval_seconds = time.perf_counter(), 0.0
        for epoch in range(epochs):
            loss_sum, correct, seen = 0.0, 0, 0
            for xb, yb in loader:
                for g in opt.param_groups:
                    g["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / total)))
                xb = random_shift(xb, max_shift, shift_rng)
                logits = model(minigrad.Tensor(xb))
                loss = F.cross_entropy(logits, minigrad.Tensor(yb))
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                loss_sum += float(loss.item()) * len(yb)
                correct += int((np.asarray(backend.to_device(logits.data, "cpu")).argmax(1)
                                == yb).sum())
                seen += len(yb)
            row = dict(epoch=epoch + 1, loss=loss_sum / seen, train_acc=correct / seen,
                       seconds=time.perf_counter() - t0 - eval_seconds)
            if test is not None:
                t_eval = time.perf_counter()
                row["test_acc"] = evaluate_accuracy(model, *test)
                eval_seconds += time.perf_counter() - t_eval
            history.append(row)
            log(f"  epoch {epoch + 1}/{epochs}: loss {row['loss']:.4f}, train acc "
                f"{row['train_acc']:.2%}" + (f", test acc {row['test_acc']:.2%}"
                                             if "test_acc" in row else "")
                + f" ({row['seconds']:.0f} s)")
        model.eval()
        return model, dict(train_seconds=time.perf_counter() - t0 - eval_seconds,
                           epochs=epochs, history=history)
    finally:
        backend.set_rng_state(saved_rng)


def classifier_path(dataset: str) -> Path:
    """Where the classifier of ``dataset`` is cached."""
    return mdata.cache_dir() / "classifiers" / f"{canonical_dataset(dataset)}.npz"


def _stats_path(dataset: str) -> Path:
    return mdata.cache_dir() / "classifiers" / f"{canonical_dataset(dataset)}_stats.npz"


def _fingerprint(model) -> str:
    """A short hash of the weights: ties the cached real-data statistics to one classifier."""
    h = hashlib.sha1()
    for name, value in sorted(model.state_dict().items()):
        arr = np.ascontiguousarray(backend.to_device(getattr(value, "data", value), "cpu"))
        h.update(name.encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


_LOADED: dict[str, "Classifier"] = {}


def _load_split(dataset: str, split: str):
    ds = DATASETS[dataset]["load"](split)
    images, labels = ds.arrays
    return np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def get_classifier(dataset: str = "mnist", retrain: bool = False, verbose: bool = True):
    """The cached classifier of ``dataset`` (trained on its training split on first use, a few
    minutes on 2 CPU cores, then loaded from disk and kept in memory). Prints its test accuracy.

    The model has ``.test_accuracy``, ``.train_seconds`` and ``.fingerprint`` attributes.
    """
    dataset = canonical_dataset(dataset)
    say = print if verbose else (lambda *a, **k: None)
    path = classifier_path(dataset)
    if not retrain and dataset in _LOADED:
        model = _LOADED[dataset]
        say(f"[metrics] {dataset} classifier: test accuracy {model.test_accuracy:.2%} ({path})")
        return model

    model = None
    if not retrain and path.exists():
        try:
            ckpt = io.load(path)
            if (ckpt.get("version") == CLASSIFIER_VERSION
                    and ckpt.get("recipe") == DATASETS[dataset]["recipe"]):
                model = Classifier(**ckpt["config"])
                model.load_state_dict(ckpt["model"])
                model.eval()
                model.test_accuracy = float(ckpt["test_accuracy"])
                model.train_seconds = float(ckpt.get("train_seconds", float("nan")))
            else:
                say(f"[metrics] {path} holds another classifier version or recipe "
                    f"({ckpt.get('version')}, {ckpt.get('recipe')}): retraining")
        except (io.CheckpointError, KeyError, ValueError, TypeError) as exc:
            say(f"[metrics] cannot use {path} ({exc}): retraining")
            model = None

    if model is None:
        spec = DATASETS[dataset]
        recipe = spec["recipe"]
        say(f"[metrics] training the {dataset} classifier (once; cached at {path}) with {recipe}")
        x_train, y_train = _load_split(dataset, "train")
        x_test, y_test = _load_split(dataset, "test")
        model, info = train_classifier(x_train, y_train, **recipe, log=say,
                                       test=(x_test, y_test))
        acc = evaluate_accuracy(model, x_test, y_test)
        model.test_accuracy = acc
        model.train_seconds = info["train_seconds"]
        path.parent.mkdir(parents=True, exist_ok=True)
        io.save({"version": CLASSIFIER_VERSION, "dataset": dataset, "config": model.config,
                 "recipe": recipe, "model": model.state_dict(), "test_accuracy": acc,
                 "train_seconds": info["train_seconds"],
                 "history": info["history"]}, path)
        if acc < spec["min_accuracy"]:
            say(f"[metrics] WARNING: the {dataset} classifier reaches only {acc:.2%} test "
                f"accuracy (wanted >= {spec['min_accuracy']:.0%})")
        stale = _stats_path(dataset)
        if stale.exists():
            stale.unlink()
    model.fingerprint = _fingerprint(model)
    _LOADED[dataset] = model
    say(f"[metrics] {dataset} classifier: test accuracy {model.test_accuracy:.2%} ({path})")
    return model


# ------------------------------------------------------------------------------ validation
def _to_numpy(a):
    if isinstance(a, minigrad.Tensor):
        a = a.data
    return np.asarray(backend.to_device(a, "cpu")) if isinstance(
        a, backend.array_types()) else np.asarray(a)


def validate_images(images, name: str = "images") -> np.ndarray:
    """Check generated images and return them as float32 (N, 1, 28, 28) in [-1, 1].

    Raises ValueError naming the problem: not floating point (e.g. uint8 0..255), the wrong
    shape (e.g. (N, 28, 28) or (N, 784)), fewer than 2 images, NaN/inf, values outside [-1, 1]
    (e.g. 0..255) or images that look like [0, 1] (no negative value at all).
    """
    x = _to_numpy(images)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number) or np.issubdtype(
            x.dtype, np.complexfloating):
        raise ValueError(f"{name}: dtype {x.dtype} is not a real floating-point type; "
                         "expected float32 in [-1, 1]")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: integer dtype {x.dtype} (0..255 pixels?); expected float32 in "
                         "[-1, 1], e.g. images.astype(np.float32) / 127.5 - 1")
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        hint = ""
        if x.ndim == 3 and x.shape[1:] == IMAGE_SHAPE[1:]:
            hint = " (add the channel axis: images[:, None])"
        elif x.ndim == 2 and x.shape[1] == int(np.prod(IMAGE_SHAPE)):
            hint = " (reshape flat images: images.reshape(-1, 1, 28, 28))"
        elif x.ndim == 4 and x.shape[-1] == 1 and x.shape[1:3] == IMAGE_SHAPE[1:]:
            hint = " (channels-last: images.transpose(0, 3, 1, 2))"
        raise ValueError(f"{name}: shape {x.shape} is not (N, 1, 28, 28){hint}")
    if len(x) < 2:
        raise ValueError(f"{name}: {len(x)} image(s); scoring needs at least 2 (FID fits a "
                         "covariance), better thousands")
    bad = ~np.isfinite(x)
    if bad.any():
        n_bad = int(bad.reshape(len(x), -1).any(1).sum())
        raise ValueError(f"{name}: {n_bad} of {len(x)} images contain NaN or inf values")
    lo, hi = float(x.min()), float(x.max())
    tol = 1e-3
    if lo < -1 - tol or hi > 1 + tol:
        hint = (" (looks like 0..255 pixels: use x / 127.5 - 1)" if hi > 2 and lo >= 0 else "")
        raise ValueError(f"{name}: values in [{lo:.4g}, {hi:.4g}] fall outside [-1, 1]{hint}")
    if lo >= 0:
        raise ValueError(f"{name}: values in [{lo:.4g}, {hi:.4g}] with no negative value look "
                         "like [0, 1] images; expected [-1, 1] (background -1): use 2 * x - 1")
    return np.ascontiguousarray(np.clip(x, -1, 1), dtype=np.float32)


def validate_labels(labels, n: int, n_classes: int = N_CLASSES, name: str = "labels"):
    """Check intended labels of n samples: integer-valued, shape (n,), in [0, n_classes)."""
    y = _to_numpy(labels)
    if y.ndim == 2 and y.shape[1] == n_classes and n_classes > 1:
        raise ValueError(f"{name}: shape {y.shape} looks one-hot; pass integer class labels "
                         "(labels.argmax(1))")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name}: shape {y.shape} does not match the {n} images (want ({n},))")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name}: dtype {y.dtype} is not an integer type")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name}: non-integer values (dtype {y.dtype})")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name}: values in [{y.min()}, {y.max()}] outside 0..{n_classes - 1}")
    return y


def _validate_probs(probs) -> np.ndarray:
    p = np.asarray(_to_numpy(probs), dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"probs: shape {p.shape} is not (N, n_classes)")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs: contains NaN or inf")
    if p.min() < -1e-6:
        raise ValueError(f"probs: negative entries (min {p.min():.3g}); pass softmax outputs, "
                         "not logits")
    sums = p.sum(1)
    if np.max(np.abs(sums - 1)) > 1e-3:
        raise ValueError(f"probs: rows must sum to 1 (found sums in [{sums.min():.4g}, "
                         f"{sums.max():.4g}]); pass softmax outputs, not logits")
    p = np.clip(p, 0, None)
    return p / p.sum(1, keepdims=True)


# ------------------------------------------------------------------------------ the scores
def inception_score(probs, splits: int = 1, return_std: bool = False):
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities ``probs`` (N, n_classes).

    p(y) is the mean of p(y|x) over each split; with ``splits > 1`` the N rows are cut into that
    many consecutive parts (as in Salimans et al. 2016) and the mean score is returned
    (``return_std=True``: ``(mean, std)``). 1 when every row is the same, n_classes when the rows
    are one-hot and the classes equally frequent.
    """
    p = _validate_probs(probs)
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits={splits} must be in 1..N={len(p)}")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        # KL with 0 log 0 = 0: where p(y|x) = 0 the term vanishes; where it is > 0, p(y) > 0 too.
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0)
        scores.append(float(np.exp(terms.sum(1).mean())))
    mean = float(np.mean(scores))
    return (mean, float(np.std(scores))) if return_std else mean


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of (N, D) features, in float64 (covariance with N - 1)."""
    f = np.asarray(_to_numpy(features), dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features: shape {f.shape}; need (N >= 2, D)")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2):

        d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2)).

    The square root comes from ``scipy.linalg.sqrtm``. As in the reference FID code: if it is not
    finite (a singular product, e.g. fewer samples than feature dimensions), ``eps`` is added to
    both diagonals and it is retried; a numerically complex result is reduced to its real part
    (a large imaginary part raises ValueError). The result is clipped at 0.
    """
    from scipy import linalg

    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"frechet_distance: means of shapes {mu1.shape} and {mu2.shape} differ "
                         "or are not vectors")
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"frechet_distance: covariances {sigma1.shape}, {sigma2.shape} do not "
                         f"match the mean's dimension {d}")
    for a, nm in ((mu1, "mu1"), (mu2, "mu2"), (sigma1, "sigma1"), (sigma2, "sigma2")):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"frechet_distance: {nm} contains NaN or inf")

    diff = mu1 - mu2
    with warnings.catch_warnings():          # a singular product is handled just below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)) or not _sqrtm_ok(covmean, sigma1 @ sigma2):
        offset = np.eye(d) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        scale = max(1.0, float(np.max(np.abs(covmean.real))))
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * scale):
            raise ValueError(f"frechet_distance: sqrtm has a large imaginary component "
                             f"{np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def _sqrtm_ok(root, target) -> bool:
    """Is root @ root close to target (sqrtm can return garbage for singular products)?"""
    err = np.linalg.norm(root @ root - target)
    return bool(err <= 1e-4 * max(np.linalg.norm(target), 1e-12))


def class_coverage(pred, n_classes: int = N_CLASSES, min_fraction: float = 0.01) -> int:
    """How many of the ``n_classes`` classes receive at least ``min_fraction`` of the predictions
    ``pred`` (integer class indices (N,), or probabilities (N, n_classes) -> argmax)."""
    p = _to_numpy(pred)
    if p.ndim == 2:
        p = p.argmax(1)
    p = validate_labels(p, len(p), n_classes, name="pred")
    if len(p) == 0:
        return 0
    counts = np.bincount(p, minlength=n_classes)
    return int(np.sum(counts >= min_fraction * len(p)))


def label_accuracy(pred, labels) -> float:
    """Fraction of predictions equal to the intended labels."""
    p = _to_numpy(pred)
    if p.ndim == 2:
        p = p.argmax(1)
    y = _to_numpy(labels).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"label_accuracy: {p.shape} predictions vs {y.shape} labels")
    if len(y) == 0:
        raise ValueError("label_accuracy: no labels")
    return float(np.mean(p == y))


def features_and_probs(classifier, images, batch_size: int = 500):
    """The classifier's penultimate features (N, 128) and softmax probabilities (N, 10), both
    float64, computed in batches under ``no_grad()`` and ``eval()`` (its mode is restored)."""
    x = np.ascontiguousarray(_to_numpy(images), dtype=np.float32)
    feats, logits = _predict_logits(classifier, x, batch_size)
    z = logits - logits.max(1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(1, keepdims=True)
    return feats, probs


# ------------------------------------------------------------------------------ real data
def _scores_from(feats, probs, mu_ref, sigma_ref, labels=None, splits=1) -> dict:
    pred = probs.argmax(1)
    counts = np.bincount(pred, minlength=probs.shape[1])
    mu, sigma = feature_statistics(feats)
    out = {
        "n_samples": int(len(probs)),
        "inception_score": inception_score(probs, splits=min(splits, len(probs))),
        "fid": frechet_distance(mu, sigma, mu_ref, sigma_ref),
        "classes_covered": class_coverage(pred, probs.shape[1]),
        "class_histogram": [float(c) / len(pred) for c in counts],
    }
    if labels is not None:
        out["label_accuracy"] = label_accuracy(pred, labels)
    return out


def _real_stats(dataset: str):
    """The cached dict: test-feature mean/cov and the ceiling scores (computed on first use)."""
    dataset = canonical_dataset(dataset)
    model = get_classifier(dataset, verbose=False)
    path = _stats_path(dataset)
    if path.exists():
        try:
            stats = io.load(path)
            if stats.get("fingerprint") == model.fingerprint:
                return stats
        except (io.CheckpointError, KeyError, ValueError, TypeError):
            pass
    x_test, y_test = _load_split(dataset, "test")
    x_train, _ = _load_split(dataset, "train")
    subset = np.random.default_rng(0).choice(len(x_train), size=min(CEILING_TRAIN_SUBSET,
                                                                   len(x_train)), replace=False)
    f_test, p_test = features_and_probs(model, x_test)
    f_train, _ = features_and_probs(model, x_train[np.sort(subset)])
    mu, sigma = feature_statistics(f_test)
    ceiling = _scores_from(f_test, p_test, mu, sigma, labels=y_test)
    ceiling["fid"] = frechet_distance(*feature_statistics(f_train), mu, sigma)
    ceiling["fid_reference"] = f"{len(subset)} real training images vs the test set"
    ceiling["source"] = f"real {dataset} test set"
    stats = {"fingerprint": model.fingerprint, "mu": mu, "sigma": sigma, "ceiling": ceiling}
    path.parent.mkdir(parents=True, exist_ok=True)
    io.save(stats, path)
    return stats


def reference_statistics(dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of the classifier's features on the real test set (cached)."""
    stats = _real_stats(dataset)
    return np.asarray(stats["mu"]), np.asarray(stats["sigma"])


def real_ceiling(dataset: str = "mnist") -> dict:
    """The scores of the real test set, the best a generator can reach: its Inception Score,
    classes covered and class histogram, the classifier's accuracy on it (label accuracy), and
    as FID the distance of 10000 real *training* images to the test statistics (FID of the test
    set against itself would be 0 and says nothing about sampling noise)."""
    return dict(_real_stats(dataset)["ceiling"])


# ------------------------------------------------------------------------------ entry points
def score_samples(images, dataset: str = "mnist", labels=None, splits: int = 1,
                  batch_size: int = 500, verbose: bool = True) -> dict:
    """Score generated images (float32 (N, 1, 28, 28) in [-1, 1]) with ``dataset``'s classifier.

    Returns a dict: n_samples, inception_score, fid (against the real test set's features),
    classes_covered (classes with >= 1% of the samples), class_histogram (fraction per class)
    and, if the intended ``labels`` (N,) are given, label_accuracy.
    """
    dataset = canonical_dataset(dataset)
    x = validate_images(images)
    y = validate_labels(labels, len(x)) if labels is not None else None
    model = get_classifier(dataset, verbose=verbose)
    mu_ref, sigma_ref = reference_statistics(dataset)
    feats, probs = features_and_probs(model, x, batch_size=batch_size)
    out = _scores_from(feats, probs, mu_ref, sigma_ref, labels=y, splits=splits)
    out["dataset"] = dataset
    return out


def score_file(path, dataset: str = "mnist", labels_path=None, verbose: bool = True) -> dict:
    """Score a ``.npy`` of samples; ``labels.npy`` in the same folder is used as the intended
    labels when ``labels_path`` is not given (conditional models)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no samples file at {path}")
    try:
        images = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path}: not a plain .npy array ({exc})") from exc
    if labels_path is None:
        beside = path.with_name("labels.npy")
        if beside.exists() and beside.resolve() != path.resolve():
            labels_path = beside
    labels = None
    if labels_path is not None:
        labels = np.load(labels_path, allow_pickle=False)
        if verbose:
            print(f"[metrics] intended labels from {labels_path}")
    scores = score_samples(validate_images(images, name=str(path)), dataset,
                           labels=None if labels is None else validate_labels(
                               labels, len(images), name=str(labels_path)),
                           verbose=verbose)
    scores["file"] = str(path)
    if labels_path is not None:
        scores["labels_file"] = str(labels_path)
    return scores


def format_scores(scores: dict, ceiling: dict | None = None) -> str:
    """A small table of ``scores`` with the real test set's ``ceiling`` beside (returned as a
    string, ready to print)."""
    rows = [("metric", "samples", "real test set")]

    def col(d, key, fmt):
        if d is None or key not in d or d[key] is None:
            return "-"
        return fmt(d[key])

    n_cls = len((scores or ceiling or {}).get("class_histogram", [0] * N_CLASSES)) or N_CLASSES
    spec = [
        ("n", "n_samples", lambda v: f"{v}"),
        ("Inception Score (higher)", "inception_score", lambda v: f"{v:.3f}"),
        ("FID, classifier features (lower)", "fid", lambda v: f"{v:.3f}"),
        ("classes covered (>=1%)", "classes_covered", lambda v: f"{v}/{n_cls}"),
    ]
    if "label_accuracy" in scores:
        spec.append(("label accuracy", "label_accuracy", lambda v: f"{v:.2%}"))
    for title, key, fmt in spec:
        rows.append((title, col(scores, key, fmt), col(ceiling, key, fmt)))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}" for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    hist = scores.get("class_histogram")
    if hist is not None:
        lines.append("class histogram (% of samples): " + " ".join(
            f"{k}:{100 * v:.1f}" for k, v in enumerate(hist)))
    if ceiling is not None and "fid_reference" in ceiling:
        lines.append(f"(real-set FID: {ceiling['fid_reference']})")
    return "\n".join(lines)


def _main(argv) -> int:
    import argparse
    import json

    from gans import cli

    parser = cli.ArgumentParser(prog="python -m gans.metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples", nargs="?")
    parser.add_argument("--dataset", default="mnist", type=_dataset_option)
    parser.add_argument("--labels", default=None)
    parser.add_argument("--retrain", action="store_true", help="retrain the classifier")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON too")
    args = parser.parse_args(argv)
    if args.samples is not None and not Path(args.samples).is_file():
        raise FileNotFoundError(f"no samples file at {args.samples}")  # before any training
    model = get_classifier(args.dataset, retrain=args.retrain)
    ceiling = real_ceiling(args.dataset)
    if args.samples is None:
        print(f"trained in {getattr(model, 'train_seconds', float('nan')):.0f} s")
        print(format_scores(ceiling, ceiling))
        return 0
    scores = score_file(args.samples, args.dataset, labels_path=args.labels)
    print(format_scores(scores, ceiling))
    if args.json:
        print(json.dumps(scores))
    return 0


def _dataset_option(text: str) -> str:
    import argparse

    try:
        return canonical_dataset(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv=None) -> int:
    """``python -m gans.metrics samples.npy [--dataset mnist] [--labels labels.npy]
    [--retrain]``; also trains and reports the classifiers with ``--train-only``. A mistake
    prints one line (see gans/cli.py)."""
    from gans import cli

    return cli.run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
