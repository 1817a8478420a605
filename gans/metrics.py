"""How good are a GAN's samples? The report: every score of a set of samples, beside the same
scores of real data, measured with the project's own classifier.

    from gans import metrics
    scores = metrics.score_samples(images, "mnist")             # images (N, 1, 28, 28) in [-1, 1]
    print(metrics.format_scores(scores, metrics.real_ceiling("mnist")))

or from the shell: ``python -m gans score samples.npy --dataset mnist [--json]``
(samples.labels.npy beside samples.npy is used as the labels the samples were generated for).

Three modules, one job each: gans/classifier.py trains and caches the classifier and turns images
into its features and class probabilities; gans/scores.py holds the math, pure functions on
arrays; this module checks the input, keeps the real data's statistics and writes the report.
:func:`score_samples` returns a dict with the keys

    n          the number of samples
    is         Inception Score from the classifier's softmax: between 1 and 10, higher is better
    fid        Frechet distance between Gaussians fitted to the classifier's 128-d penultimate
               features of the samples and of the real test set (lower is better, 0 = same)
    kid, kid_std   Kernel Inception Distance in the same features: mean and std over 100 subsets
               of 1000 (lower is better, about 0 for real data)
    precision, recall   (k = 3): the share of samples that fall on the real data's manifold, and
               the share of real data that falls on the samples' manifold (higher is better)
    density, coverage   (k = 5): how many real neighbourhoods hold a sample, on average (about 1
               for real data), and the share of real neighbourhoods holding at least one sample
    classes    how many classes receive at least 1% of the samples (collapse shows here first);
               class_histogram holds the fraction of samples per class
    label_acc, intra_fid   given the labels the samples were generated for (conditional models):
               how often the classifier agrees with them, and the mean over classes of the
               FID of each class's samples against that class's real test images

(docs/metrics.md has the formulas). Every score is printed beside the same score of real data
(:func:`real_ceiling`), the best a generator can hope for. These numbers are only comparable with
each other (same classifier, same sample count), not with published Inception-network numbers.

The real test set's features, labels and statistics and the ceiling scores are cached in
``minigrad.data.cache_dir() / "classifiers" / "{dataset}_stats.npz"`` beside the classifier, tied
to its weights, so scoring 10000 samples takes seconds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gans import scores as S
# Re-exported: the callers that score with the classifier directly import them from here too.
from gans.classifier import (DATASETS, N_CLASSES, canonical_dataset, evaluate_accuracy,
                             features_and_probs, get_classifier, load_split, to_numpy,
                             train_classifier)
from gans.scores import validate_labels
from minigrad import data as mdata
from minigrad.utils import io

__all__ = [
    "validate_images", "validate_labels", "reference_statistics", "real_ceiling",
    "score_samples", "score_file", "format_scores",
    # from gans.classifier, for the callers that score with the classifier directly
    "DATASETS", "canonical_dataset", "get_classifier", "features_and_probs", "train_classifier",
    "evaluate_accuracy",
]

IMAGE_SHAPE = (1, 28, 28)
# Bump when what the stats file holds changes: a cached file of another version is recomputed.
STATS_VERSION = 2
# How many real training images stand in for "samples" in the ceiling's feature-space scores (the
# same size as a typical sample file, since FID depends on the sample count).
CEILING_TRAIN_SUBSET = 10000
# The scores' settings: the papers' defaults (see gans/scores.py and docs/metrics.md).
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_K, DC_K = 3, 5


def image_shape(dataset: str) -> tuple:
    """(C, H, W) of ``dataset``'s images: (1, 28, 28), or (3, 32, 32) for CIFAR-10."""
    return tuple(DATASETS[canonical_dataset(dataset)].get("shape", IMAGE_SHAPE))


# ------------------------------------------------------------------------------ input checks
def validate_images(images, name: str = "images", shape=IMAGE_SHAPE) -> np.ndarray:
    """Check generated images and return them as float32 (N, 1, 28, 28) in [-1, 1] (``shape``:
    the (C, H, W) wanted, (3, 32, 32) for CIFAR-10).

    Raises ValueError naming the problem: not floating point (e.g. uint8 0..255), the wrong
    shape (e.g. (N, 28, 28) or (N, 784)), fewer than 2 images, NaN/inf, values outside [-1, 1]
    (e.g. 0..255) or images that look like [0, 1] (no negative value at all).
    """
    x = to_numpy(images)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number) or np.issubdtype(
            x.dtype, np.complexfloating):
        raise ValueError(f"{name}: dtype {x.dtype} is not a real floating-point type; "
                         "expected float32 in [-1, 1]")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name}: integer dtype {x.dtype} (0..255 pixels?); expected float32 in "
                         "[-1, 1], e.g. images.astype(np.float32) / 127.5 - 1")
    shape = tuple(shape)
    if x.ndim != 4 or x.shape[1:] != shape:
        hint = ""
        want = ", ".join(map(str, shape))
        if x.ndim == 3 and x.shape[1:] == shape[1:] and shape[0] == 1:
            hint = " (add the channel axis: images[:, None])"
        elif x.ndim == 2 and x.shape[1] == int(np.prod(shape)):
            hint = f" (reshape flat images: images.reshape(-1, {want}))"
        elif x.ndim == 4 and x.shape[-1] == shape[0] and x.shape[1:3] == shape[1:]:
            hint = " (channels-last: images.transpose(0, 3, 1, 2))"
        raise ValueError(f"{name}: shape {x.shape} is not (N, {want}){hint}")
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


# ------------------------------------------------------------------------------ the scores
def _class_scores(probs, labels=None, splits: int = 1) -> dict:
    """The scores read from the class probabilities: n, is, classes, class_histogram (and
    label_acc when the intended labels are given)."""
    pred = probs.argmax(1)
    counts = np.bincount(pred, minlength=probs.shape[1])
    out = {
        "n": int(len(probs)),
        "is": S.inception_score(probs, splits=min(splits, len(probs))),
        "classes": S.class_coverage(pred, probs.shape[1]),
        "class_histogram": [float(c) / len(pred) for c in counts],
    }
    if labels is not None:
        out["label_acc"] = S.label_accuracy(pred, labels)
    return out


def _feature_scores(feats, ref: dict, labels=None) -> dict:
    """The scores of features against the real test set's (``ref``: mu, sigma, features,
    labels): fid, kid, kid_std, precision, recall, density, coverage (and intra_fid with its
    per-class values when the intended labels are given)."""
    real = ref["features"]
    out = {"fid": S.frechet_distance(*S.feature_statistics(feats), ref["mu"], ref["sigma"])}
    out["kid"], out["kid_std"] = S.kid(real, feats, subsets=KID_SUBSETS,
                                       subset_size=KID_SUBSET_SIZE)
    out["precision"], out["recall"] = S.precision_recall(real, feats, k=PR_K)
    out["density"], out["coverage"] = S.density_coverage(real, feats, k=DC_K)
    if labels is not None:
        out["intra_fid"], per_class = S.intra_class_fid(feats, labels, real, ref["labels"],
                                                        n_classes=N_CLASSES)
        out["intra_fid_per_class"] = {str(c): v for c, v in per_class.items()}
    return out


# ------------------------------------------------------------------------------ real data
def _stats_path(dataset: str) -> Path:
    return mdata.cache_dir() / "classifiers" / f"{canonical_dataset(dataset)}_stats.npz"


def _real_stats(dataset: str) -> dict:
    """The cached dict: the test set's features, labels, feature mean and covariance, and the
    ceiling scores (computed on first use, recomputed when the classifier changes)."""
    dataset = canonical_dataset(dataset)
    model = get_classifier(dataset, verbose=False)
    path = _stats_path(dataset)
    if path.exists():
        try:
            stats = io.load(path)
            if (stats.get("fingerprint") == model.fingerprint
                    and stats.get("version") == STATS_VERSION):
                return stats
        except (io.CheckpointError, KeyError, ValueError, TypeError):
            pass
    x_test, y_test = load_split(dataset, "test")
    x_train, y_train = load_split(dataset, "train")
    subset = np.sort(np.random.default_rng(0).choice(
        len(x_train), size=min(CEILING_TRAIN_SUBSET, len(x_train)), replace=False))
    f_test, p_test = features_and_probs(model, x_test)
    f_train, _ = features_and_probs(model, x_train[subset])
    mu, sigma = S.feature_statistics(f_test)
    ref = {"mu": mu, "sigma": sigma, "features": f_test, "labels": y_test}
    ceiling = _class_scores(p_test, labels=y_test)
    ceiling.update(_feature_scores(f_train, ref, labels=y_train[subset]))
    del ceiling["intra_fid_per_class"]
    ceiling["reference"] = (f"feature scores: {len(subset)} real training images vs the "
                            "test set")
    ceiling["source"] = f"real {dataset} test set"
    stats = dict(ref, version=STATS_VERSION, fingerprint=model.fingerprint, ceiling=ceiling)
    path.parent.mkdir(parents=True, exist_ok=True)
    io.save(stats, path)
    return stats


def reference_statistics(dataset: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of the classifier's features on the real test set (cached)."""
    stats = _real_stats(dataset)
    return np.asarray(stats["mu"]), np.asarray(stats["sigma"])


def real_ceiling(dataset: str = "mnist") -> dict:
    """The scores of real data, the best a generator can reach. Read from the test set itself:
    its Inception Score, classes covered and class histogram, and the classifier's accuracy on
    it (label_acc). The feature-space scores (fid, kid, precision, recall, density, coverage,
    intra_fid) compare 10000 real *training* images with the test set: the test set against
    itself would score a perfect 0 or 1 that says nothing about sampling noise."""
    return dict(_real_stats(dataset)["ceiling"])


# ------------------------------------------------------------------------------ entry points
def score_samples(images, dataset: str = "mnist", labels=None, splits: int = 1,
                  batch_size: int = 500, verbose: bool = True) -> dict:
    """Score generated images (float32 (N, 1, 28, 28) in [-1, 1]) with ``dataset``'s classifier.

    Returns the dict described in this module's docstring (plus ``dataset``): n, is, fid, kid,
    kid_std, precision, recall, density, coverage, classes, class_histogram and, if the intended
    ``labels`` (N,) are given, label_acc, intra_fid and intra_fid_per_class.
    """
    dataset = canonical_dataset(dataset)
    x = validate_images(images, shape=image_shape(dataset))
    y = validate_labels(to_numpy(labels), len(x)) if labels is not None else None
    model = get_classifier(dataset, verbose=verbose)
    ref = _real_stats(dataset)
    feats, probs = features_and_probs(model, x, batch_size=batch_size)
    out = _class_scores(probs, labels=y, splits=splits)
    out.update(_feature_scores(feats, ref, labels=y))
    out["dataset"] = dataset
    return out


def labels_file(samples) -> Path:
    """Where the labels of the samples file ``NAME.npy`` go: ``NAME.labels.npy`` beside it."""
    return Path(samples).with_suffix(".labels.npy")


def labels_beside(samples) -> Path | None:
    """The labels file of a samples file, if it has one: its :func:`labels_file`, or the older
    name ``labels.npy`` beside a ``samples.npy`` (what sweeps and twin runs wrote before they
    took the new name too) written with or after it (an older one was not written for these
    samples)."""
    samples = Path(samples)
    if labels_file(samples).exists():
        return labels_file(samples)
    old = samples.with_name("labels.npy")
    if (samples.name == "samples.npy" and samples.exists() and old.exists()
            and old.stat().st_mtime >= samples.stat().st_mtime):
        return old
    return None


def score_file(path, dataset: str = "mnist", labels_path=None, verbose: bool = True) -> dict:
    """Score a ``.npy`` of samples; when ``labels_path`` is not given, the labels file beside
    it (:func:`labels_beside`: ``NAME.labels.npy``, which ``sample`` writes for conditional
    models) is used as the intended labels."""
    path = Path(path)
    images = _load_npy(path, "samples file", "`python -m gans sample` writes one")
    if labels_path is None:
        labels_path = labels_beside(path)
    labels = None
    if labels_path is not None:
        labels = _load_npy(labels_path, "labels file", "`python -m gans sample` writes one "
                           "beside a conditional model's samples")
        if verbose:
            print(f"[metrics] intended labels from {labels_path}")
    scores = score_samples(validate_images(images, name=str(path),
                                           shape=image_shape(dataset)), dataset,
                           labels=None if labels is None else validate_labels(
                               labels, len(images), name=str(labels_path)),
                           verbose=verbose)
    scores["file"] = str(path)
    if labels_path is not None:
        scores["labels_file"] = str(labels_path)
    return scores


def _load_npy(path, what: str, hint: str) -> np.ndarray:
    """The array in the .npy file ``path``; one line naming the file when it is missing, not a
    .npy file, or an array of Python objects (never unpickled)."""
    from gans.protocol import check_file

    check_file(path, b"\x93NUMPY", f"{what} (.npy)", hint)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path}: not a plain .npy array ({exc})") from None


def format_scores(scores: dict, ceiling: dict | None = None) -> str:
    """A small table of ``scores`` with real data's ``ceiling`` beside (returned as a string,
    ready to print)."""
    rows = [("metric", "samples", "real data")]

    def col(d, key, fmt):
        if d is None or d.get(key) is None:
            return "-"
        return fmt(d[key], d)

    n_cls = len((scores or ceiling or {}).get("class_histogram", [0] * N_CLASSES)) or N_CLASSES
    spec = [
        ("n", "n", lambda v, d: f"{v}"),
        ("Inception Score (higher)", "is", lambda v, d: f"{v:.3f}"),
        ("FID, classifier features (lower)", "fid", lambda v, d: f"{v:.3f}"),
        ("KID +- std over subsets (lower)", "kid",
         lambda v, d: f"{v:.3f} +- {d.get('kid_std', float('nan')):.3f}"),
        (f"precision, k={PR_K} (higher)", "precision", lambda v, d: f"{v:.3f}"),
        (f"recall, k={PR_K} (higher)", "recall", lambda v, d: f"{v:.3f}"),
        (f"density, k={DC_K} (about 1)", "density", lambda v, d: f"{v:.3f}"),
        (f"coverage, k={DC_K} (higher)", "coverage", lambda v, d: f"{v:.3f}"),
        ("classes covered (>=1%)", "classes", lambda v, d: f"{v}/{n_cls}"),
    ]
    if "label_acc" in scores:
        spec.append(("label accuracy", "label_acc", lambda v, d: f"{v:.2%}"))
    if "intra_fid" in scores:
        spec.append(("intra-class FID (lower)", "intra_fid", lambda v, d: f"{v:.3f}"))
    for title, key, fmt in spec:
        rows.append((title, col(scores, key, fmt), col(ceiling, key, fmt)))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}" for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    hist = scores.get("class_histogram")
    if hist is not None:
        lines.append("class histogram (% of samples): " + " ".join(
            f"{k}:{100 * v:.1f}" for k, v in enumerate(hist)))
    if ceiling is not None and "source" in ceiling:
        lines.append(f"(real data: the {ceiling['source']}; {ceiling.get('reference', '')})")
    return "\n".join(lines)
