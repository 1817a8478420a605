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
