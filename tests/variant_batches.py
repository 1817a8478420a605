"""A random batch for any variant's ``train_step``, for the tests that run every variant."""
from __future__ import annotations

import numpy as np

import minigrad


def random_batch(model, n: int, rng, device="cpu") -> tuple:
    """``n`` images of the model's shape, uniform in [-1, 1], then a second domain's (CycleGAN)
    or class labels (a conditional model): the arguments of ``model.train_step``."""
    cfg = model.config
    shape = (n, getattr(cfg, "channels", 1), getattr(cfg, "img_size", 28),
             getattr(cfg, "img_size", 28))

    def images():
        return minigrad.tensor(rng.uniform(-1, 1, shape).astype(np.float32), device=device)
    if model.image_to_image:
        return images(), images()
    if model.conditional:
        return images(), minigrad.tensor(rng.integers(0, cfg.n_classes, n), device=device)
    return (images(),)


def small_config(name: str, **overrides):
    """Variant ``name``'s config with narrow networks where it has the knobs (the emulated GPU
    computes every launch on the host), and CycleGAN without its image pool (which a CUDA
    graph cannot record); ``overrides`` on top."""
    import gans

    cls = gans.get_config(name)
    small = {"pool_size": 0, "ngf": 4, "ndf": 4, "n_residual": 1} if name == "cyclegan" else \
        {"g_features": 8, "d_features": 8} if hasattr(cls, "g_features") else {}
    return cls(**{**small, **overrides})


def random_dataset(model, n: int, seed: int = 0):
    """An ArrayDataset of ``n`` random images for ``model``: with a second domain's images
    (CycleGAN) or class labels as its second array."""
    from minigrad.data import ArrayDataset

    cfg = model.config
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, getattr(cfg, "channels", 1), getattr(cfg, "img_size", 28),
                            getattr(cfg, "img_size", 28))).astype(np.float32)
    y = x[::-1].copy() if model.image_to_image else rng.integers(0, cfg.n_classes or 10, n)
    return ArrayDataset(x, y)
