"""The classifier the scores are measured with: a small CNN trained with minigrad, once per dataset,
and cached.

The standard scores (Inception Score, FID) use an ImageNet Inception-v3 network, which means
nothing on 28x28 digits. As in much of the MNIST GAN literature, this project uses a classifier
trained on the dataset itself instead: its softmax gives the Inception Score and class counts, its
128-d penultimate activations are the feature space of FID, KID, precision/recall and
density/coverage (see gans/scores.py for the math, gans/metrics.py for the report). The networks
are in gans/classifier_nets.py (re-exported here); this module trains, caches and applies them.

:class:`Classifier` (~0.43 M parameters: three 3x3 convolutions, two of them with stride 2, then
Linear(3136, 128) - ReLU - Dropout - Linear(128, 10)) is trained once per dataset with a fixed
seed (:func:`train_classifier`, recipe in :data:`DATASETS`) and cached with its test accuracy in
``minigrad.data.cache_dir() / "classifiers" / "{dataset}.npz"`` (:func:`get_classifier`).

CIFAR-10 gets :class:`ColourClassifier` (~0.29 M parameters: three conv - pool - BN - ReLU -
conv - BN - ReLU blocks of widths 32, 64, 128, a global max pool giving the 128-d features, one
Linear), trained by :func:`train_colour_classifier` (SGD, one-cycle, crop + flip; resumable per
epoch). Neither is the Inception network: these scores compare runs of this project only
(docs/metrics.md, docs/colour.md).

    from gans import classifier
    model = classifier.get_classifier("mnist")
    feats, probs = classifier.features_and_probs(model, images)   # (N, 128), (N, 10) float64
"""
from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import numpy as np

import minigrad
from minigrad import backend, optim
from minigrad import data as mdata
from minigrad.nn import functional as F
from minigrad.utils import io
from gans import mnist as gmnist
from gans.classifier_nets import (N_CLASSES, Classifier, ColourClassifier,  # noqa: F401
                                  make_model, random_flip, random_shift)

__all__ = [
    "Classifier", "ColourClassifier", "train_colour_classifier", "random_flip", "DATASETS",
    "canonical_dataset", "classifier_path", "train_classifier",
    "evaluate_accuracy", "get_classifier", "features_and_probs", "load_split", "random_shift",
    "to_numpy",
]

# Bump when the architecture or the training code changes: a cached classifier of another
# version (or trained with another recipe than DATASETS') is retrained instead of loaded.
CLASSIFIER_VERSION = 1



def _cifar10(split):
    from gans.cifar import cifar10_dataset   # GAN-side data; imported when first needed

    return cifar10_dataset(split)


# Per dataset: the loader, the accuracy the cached classifier must reach, and its training recipe
# (a recipe with "arch": "colour" trains a ColourClassifier with train_colour_classifier).
DATASETS = {
    "mnist": dict(load=gmnist.mnist_dataset, min_accuracy=0.99,
                  recipe=dict(epochs=4, batch_size=128, lr=2e-3, max_shift=2, seed=0)),
    "fashion_mnist": dict(load=gmnist.fashion_mnist_dataset, min_accuracy=0.90,
                          recipe=dict(epochs=5, batch_size=128, lr=2e-3, max_shift=0, seed=0)),
    # ~110 s per epoch on one idle core of this project's 2-core machine (docs/metrics.md)
    "cifar10": dict(load=_cifar10, min_accuracy=0.85, shape=(3, 32, 32),
                    recipe=dict(arch="colour", widths=(32, 64, 128), epochs=18, batch_size=256,
                                lr=0.1, momentum=0.9, weight_decay=5e-4, warmup_epochs=2,
                                label_smoothing=0.1, pad=4, flip=True, seed=0)),
}


def canonical_dataset(dataset: str) -> str:
    """'mnist', 'fashion_mnist' (accepts 'fashion', 'fashion-mnist') or 'cifar10' (accepts
    'cifar-10'); ValueError otherwise."""
    from gans.datasets import canonical_name

    name = canonical_name(dataset)
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: the metrics know "
                         f"{', '.join(DATASETS)} (a classifier is trained per dataset)")
    return name


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


def _training_set(images, labels, caller: str):
    """(images as contiguous float32, labels as int64), or a ValueError naming ``caller`` unless
    they are (N, C, H, W) images and N labels."""
    images = np.ascontiguousarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if images.ndim != 4 or len(images) != len(labels):
        raise ValueError(f"{caller} wants (N, C, H, W) images and N labels, got "
                         f"{images.shape} and {labels.shape}")
    return images, labels


def _train_batch(model, opt, xb, yb, totals, **loss_kwargs):
    """One optimizer step on the batch (xb, yb) by cross-entropy (``loss_kwargs``: e.g. label
    smoothing); adds the batch's summed loss, correct predictions and size to ``totals``, a
    [loss, correct, seen] list."""
    logits = model(minigrad.Tensor(xb))
    loss = F.cross_entropy(logits, minigrad.Tensor(yb), **loss_kwargs)
    opt.zero_grad()
    loss.backward()
    opt.step()
    totals[0] += float(loss.item()) * len(yb)
    totals[1] += int((np.asarray(backend.to_device(logits.data, "cpu")).argmax(1) == yb).sum())
    totals[2] += len(yb)


def _epoch_row(model, epoch, totals, seconds, test):
    """The history row of an epoch (its ``totals`` as in :func:`_train_batch`) and, with ``test``
    (images, labels), the test accuracy; returns (row, seconds the test evaluation took)."""
    loss_sum, correct, seen = totals
    row = dict(epoch=epoch + 1, loss=loss_sum / seen, train_acc=correct / seen, seconds=seconds)
    if test is None:
        return row, 0.0
    t_eval = time.perf_counter()
    row["test_acc"] = evaluate_accuracy(model, *test)
    return row, time.perf_counter() - t_eval


def _resume(checkpoint, key, model, opt, log):
    """(start epoch, history, seconds so far) of the run saved in ``checkpoint``, its model and
    optimizer states loaded, when it is a run of the recipe ``key``; else (0, [], 0.0)."""
    if checkpoint is not None and Path(checkpoint).is_file():
        ck = io.load(checkpoint)
        if ck.get("key") == key:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            log(f"  resuming from {checkpoint} after epoch {int(ck['epoch'])}")
            return int(ck["epoch"]), list(ck["history"]), float(ck["seconds"])
        log(f"  {checkpoint} is from another recipe: starting afresh")
    return 0, [], 0.0


def _log_epoch(log, row, epochs):
    log(f"  epoch {row['epoch']}/{epochs}: loss {row['loss']:.4f}, train acc "
        f"{row['train_acc']:.2%}" + (f", test acc {row['test_acc']:.2%}"
                                     if "test_acc" in row else "")
        + f" ({row['seconds']:.0f} s)")


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
    train_images, train_labels = _training_set(train_images, train_labels, "train_classifier")
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
            totals = [0.0, 0, 0]
            for xb, yb in loader:
                for g in opt.param_groups:
                    g["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / total)))
                _train_batch(model, opt, random_shift(xb, max_shift, shift_rng), yb, totals)
                step += 1
            row, seconds = _epoch_row(model, epoch, totals,
                                      time.perf_counter() - t0 - eval_seconds, test)
            eval_seconds += seconds
            history.append(row)
            _log_epoch(log, row, epochs)
        model.eval()
        return model, dict(train_seconds=time.perf_counter() - t0 - eval_seconds,
                           epochs=epochs, history=history)
    finally:
        backend.set_rng_state(saved_rng)


def train_colour_classifier(train_images: np.ndarray, train_labels: np.ndarray, *,
                            widths=(32, 64, 128), epochs: int = 18, batch_size: int = 256,
                            lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 5e-4,
                            warmup_epochs: float = 2, label_smoothing: float = 0.1, pad: int = 4,
                            flip: bool = True, seed: int = 0, test=None, checkpoint=None,
                            log=print, arch: str = "colour"):
    """Train a :class:`ColourClassifier` on (N, 3, H, W) float32 images in [-1, 1].

    SGD with Nesterov momentum and weight decay, a one-cycle learning rate (linear from 0 to
    ``lr`` over ``warmup_epochs``, then linearly back to 0 at the end), cross-entropy with label
    smoothing, and the standard CIFAR augmentation on every batch: a random 32x32 crop of the
    image padded by ``pad`` pixels (black, -1) and a random horizontal flip.

    Every epoch's shuffling and augmentation come from generators seeded by (seed, epoch), so
    ``checkpoint`` (a path) makes a run resumable: the model, the optimizer and the history are
    saved there after every epoch, and a run started with the same arguments continues from
    the last saved epoch (the file is deleted when training ends).

    Returns:
        (model in eval mode, info dict with 'train_seconds' (summed over resumed runs, without
        the per-epoch test evaluations), 'epochs', 'history').
    """
    train_images, train_labels = _training_set(train_images, train_labels, "train_colour_classifier")
    log = log or (lambda *a, **k: None)
    n = len(train_images)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    warmup = max(1, int(warmup_epochs * steps_per_epoch))

    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        return lr * max(0.0, (total - step) / max(1, total - warmup))

    saved_rng = backend.get_rng_state()
    minigrad.manual_seed(seed)
    try:
        model = ColourClassifier(widths=widths, in_channels=train_images.shape[1],
                                 image_size=train_images.shape[-1])
        model.train()
        opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=True,
                        weight_decay=weight_decay)
        ckpt_key = dict(widths=list(widths), epochs=epochs, batch_size=batch_size, lr=lr,
                        momentum=momentum, weight_decay=weight_decay,
                        warmup_epochs=warmup_epochs, label_smoothing=label_smoothing, pad=pad,
                        flip=bool(flip), seed=seed, n=n)
        start_epoch, history, seconds_before = _resume(checkpoint, ckpt_key, model, opt, log)
        t0, eval_seconds = time.perf_counter(), 0.0
        for epoch in range(start_epoch, epochs):
            rng = np.random.default_rng([seed, epoch])
            order = rng.permutation(n)
            totals = [0.0, 0, 0]
            for b in range(steps_per_epoch):
                step = epoch * steps_per_epoch + b
                for g in opt.param_groups:
                    g["lr"] = lr_at(step)
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb, yb = train_images[idx], train_labels[idx]
                xb = random_shift(xb, pad, rng, fill=-1.0)
                if flip:
                    xb = random_flip(xb, rng)
                _train_batch(model, opt, xb, yb, totals, label_smoothing=label_smoothing)
            row, seconds = _epoch_row(model, epoch, totals,
                                      seconds_before + time.perf_counter() - t0 - eval_seconds,
                                      test)
            eval_seconds += seconds
            history.append(row)
            if checkpoint is not None and epoch + 1 < epochs:
                Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
                io.save({"key": ckpt_key, "model": model.state_dict(),
                         "opt": opt.state_dict(), "epoch": epoch + 1, "history": history,
                         "seconds": row["seconds"]}, checkpoint)
            _log_epoch(log, row, epochs)
        model.eval()
        seconds = seconds_before + time.perf_counter() - t0 - eval_seconds
        return model, dict(train_seconds=seconds, epochs=epochs, history=history)
    finally:
        backend.set_rng_state(saved_rng)


def classifier_path(dataset: str) -> Path:
    """Where the classifier of ``dataset`` is cached."""
    return mdata.cache_dir() / "classifiers" / f"{canonical_dataset(dataset)}.npz"


def _fingerprint(model) -> str:
    """A short hash of the weights: ties the cached real-data statistics (gans/metrics.py) to
    one classifier, so retraining it invalidates them."""
    h = hashlib.sha1()
    for name, value in sorted(model.state_dict().items()):
        arr = np.ascontiguousarray(backend.to_device(getattr(value, "data", value), "cpu"))
        h.update(name.encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


def _plain(value):
    """Tuples as lists, recursively: a recipe compares equal to itself after a save/load."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_LOADED: dict[str, "Classifier"] = {}


def load_split(dataset: str, split: str):
    """(images float32 (N, C, H, W) in [-1, 1], labels int64 (N,)) of a split of ``dataset``."""
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
                    and _plain(ckpt.get("recipe")) == _plain(DATASETS[dataset]["recipe"])):
                model = make_model(ckpt["config"])
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
        x_train, y_train = load_split(dataset, "train")
        x_test, y_test = load_split(dataset, "test")
        if recipe.get("arch") == "colour":
            model, info = train_colour_classifier(
                x_train, y_train, **recipe, log=say, test=(x_test, y_test),
                checkpoint=path.with_name(f"{dataset}.partial.npz"))
        else:
            model, info = train_classifier(x_train, y_train, **recipe, log=say,
                                           test=(x_test, y_test))
        acc = evaluate_accuracy(model, x_test, y_test)
        model.test_accuracy = acc
        model.train_seconds = info["train_seconds"]
        path.parent.mkdir(parents=True, exist_ok=True)
        Path(path.with_name(f"{dataset}.partial.npz")).unlink(missing_ok=True)
        io.save({"version": CLASSIFIER_VERSION, "dataset": dataset, "config": model.config,
                 "recipe": recipe, "model": model.state_dict(), "test_accuracy": acc,
                 "train_seconds": info["train_seconds"],
                 "history": info["history"]}, path)
        if acc < spec["min_accuracy"]:
            say(f"[metrics] WARNING: the {dataset} classifier reaches only {acc:.2%} test "
                f"accuracy (wanted >= {spec['min_accuracy']:.0%})")
    model.fingerprint = _fingerprint(model)
    _LOADED[dataset] = model
    say(f"[metrics] {dataset} classifier: test accuracy {model.test_accuracy:.2%} ({path})")
    return model


# ------------------------------------------------------------------------------ features
def to_numpy(a):
    """A minigrad Tensor, a CuPy array or an array-like as a NumPy array (on the host)."""
    if isinstance(a, minigrad.Tensor):
        a = a.data
    return np.asarray(backend.to_device(a, "cpu")) if isinstance(
        a, backend.array_types()) else np.asarray(a)


def features_and_probs(classifier, images, batch_size: int = 500):
    """The classifier's penultimate features (N, 128) and softmax probabilities (N, 10), both
    float64, computed in batches under ``no_grad()`` and ``eval()`` (its mode is restored)."""
    x = np.ascontiguousarray(to_numpy(images), dtype=np.float32)
    feats, logits = _predict_logits(classifier, x, batch_size)
    z = logits - logits.max(1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(1, keepdims=True)
    return feats, probs


