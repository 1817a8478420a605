"""Walking the latent space of a trained generator: interpolation and z-vector arithmetic.

Radford et al. (2016) showed that a DCGAN's latent space is smooth (interpolating between two
codes morphs one image into another) and roughly linear (averaged codes can be added and
subtracted: "smiling woman - neutral woman + neutral man = smiling man").
"""
from __future__ import annotations

import numpy as np

import minigrad


def slerp(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: stays near the shell where Gaussian codes concentrate."""
    a, b = z0 / np.linalg.norm(z0), z1 / np.linalg.norm(z1)
    omega = np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * z0 + t * z1
    return (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


def interpolate(model, z0, z1, steps: int = 10, spherical: bool = True, labels=None):
    """Images G(z_t) for ``steps`` codes from z0 to z1 (each 1-D, length latent_dim).

    Returns (steps, C, H, W) in [-1, 1]; row t is t/(steps-1) of the way."""
    z0, z1 = np.asarray(z0, np.float32).ravel(), np.asarray(z1, np.float32).ravel()
    ts = np.linspace(0.0, 1.0, steps)
    zs = np.stack([slerp(z0, z1, t) if spherical else (1 - t) * z0 + t * z1 for t in ts])
    if labels is not None and np.ndim(labels) == 0:
        labels = np.full(steps, int(labels))
    return model.sample(steps, labels, z=minigrad.tensor(zs.astype(np.float32)))


def vector_arithmetic(model, z_a, z_b, z_c, labels=None):
    """G(mean(z_a) - mean(z_b) + mean(z_c)): each argument is (n, latent_dim) codes of images
    that share a property; averaging several codes makes the result stable."""
    z = (np.mean(z_a, 0) - np.mean(z_b, 0) + np.mean(z_c, 0)).astype(np.float32)[None]
    return model.sample(1, labels, z=minigrad.tensor(z))
