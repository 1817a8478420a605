"""End to end: a 3-layer CNN trained with minigrad on scikit-learn's bundled 8x8 digits reaches
>= 97% held-out accuracy in well under a minute on 2 cores.

Exercises Conv2d (+ its backward trio), BatchNorm2d in train and eval mode, LeakyReLU, Dropout,
Linear, cross_entropy on logits, Module.train/eval, state_dict and minigrad.optim.Adam together.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F

pytest.importorskip("sklearn", reason="the 8x8 digits ship with scikit-learn")


def _digits():
    from minigrad.data import load_digits8x8

    images, labels = load_digits8x8()
    x = (images.astype(np.float32) / 16.0 - 0.5)[:, None]  # (1797, 1, 8, 8) in [-0.5, 0.5]
    perm = np.random.default_rng(0).permutation(len(x))
    test, train = perm[:450], perm[450:]
    return x[train], labels[train], x[test], labels[test]


def _model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False),   # (N, 32, 8, 8)
        nn.BatchNorm2d(32),
        nn.LeakyReLU(0.1),
        nn.Conv2d(32, 64, 3, stride=2, padding=1),    # (N, 64, 4, 4)
        nn.LeakyReLU(0.1),
        nn.Flatten(),                                 # (N, 1024)
        nn.Dropout(0.2),
        nn.Linear(64 * 4 * 4, 10),                    # (N, 10) logits
    )


def _accuracy(model, x, y):
    model.eval()
    with minigrad.no_grad():
        pred = model(minigrad.tensor(x)).data.argmax(1)
    model.train()
    return float((pred == y).mean())


@pytest.fixture
def _one_blas_thread():
    """These matrices are tiny (at most 4096 x 288): a second BLAS thread cannot help, and on a
    busy 2-core machine (numba's threads, other processes) OpenBLAS's waiting for it made each
    small GEMM ~500x slower (25 ms instead of 0.05 ms)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_cnn_reaches_97_percent_on_digits(_one_blas_thread):
    from minigrad.optim import Adam

    start = time.perf_counter()
    minigrad.manual_seed(0)
    xtr, ytr, xte, yte = _digits()
    model = _model()
    opt = Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    batch, epochs = 64, 10
    for epoch in range(epochs):
        for group in opt.param_groups:  # cosine decay: ~0.98 at the end across seeds
            group["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        perm = rng.permutation(len(xtr))
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            logits = model(minigrad.tensor(xtr[idx]))
            loss = F.cross_entropy(logits, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    acc = _accuracy(model, xte, yte)
    elapsed = time.perf_counter() - start
    assert acc >= 0.97, f"test accuracy {acc:.3f}"
    assert elapsed < 60, f"training took {elapsed:.1f}s"
    assert np.isfinite(loss.item())

    # The trained weights survive a state_dict round trip into a fresh model.
    clone = _model()
    clone.load_state_dict(model.state_dict())
    assert _accuracy(clone, xte, yte) == acc
