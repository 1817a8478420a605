"""The 2-D and 1-D toy distributions of the GAN experiments (moved here from
``minigrad.data.datasets``, issue 25; ``minigrad.data.ring_of_gaussians`` and the others still
resolve, to these): a 1-D Gaussian, and the ring and grid mixtures of the VEEGAN/PacGAN
benchmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian_1d", "ring_centres", "grid_centres", "ring_of_gaussians",
           "grid_of_gaussians"]


def gaussian_1d(n: int, mean: float = 4.0, std: float = 0.5, rng=None) -> np.ndarray:
    """``n`` samples of the 1-D Gaussian N(mean, std^2), default N(4, 0.5^2).

    Args:
        rng: ``np.random.Generator``, an int seed or None.

    Returns:
        float32 array of shape ``(n, 1)``.
    """
    rng = np.random.default_rng(rng)
    return (mean + std * rng.standard_normal((n, 1))).astype(np.float32)


def ring_centres(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres ``radius * (cos 2 pi k/K, sin 2 pi k/K)``, k = 0..K-1; float32 ``(K, 2)``."""
    angles = 2.0 * np.pi * np.arange(n_modes) / n_modes
    return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def grid_centres(values=(-4, -2, 0, 2, 4)) -> np.ndarray:
    """All points ``(x, y)`` with x, y in ``values``, x-major; float32 ``(len(values)**2, 2)``."""
    v = np.asarray(values, dtype=np.float32)
    xx, yy = np.meshgrid(v, v, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def _mixture(n: int, centres: np.ndarray, std: float, rng) -> np.ndarray:
    rng = np.random.default_rng(rng)
    modes = rng.integers(len(centres), size=n)
    return (centres[modes] + std * rng.standard_normal((n, 2))).astype(np.float32)


def ring_of_gaussians(n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      rng=None):
    """The 2-D ring of the VEEGAN/PacGAN benchmarks: 8 Gaussians, radius 2.0, std 0.02.

    A mode is picked uniformly among ``n_modes`` centres evenly spaced on the circle of radius
    ``radius`` (the first at ``(radius, 0)``), then isotropic noise of std ``std`` is added.

    Returns:
        samples float32 ``(n, 2)`` and mode centres float32 ``(n_modes, 2)``.
    """
    centres = ring_centres(n_modes, radius)
    return _mixture(n, centres, std, rng), centres


def grid_of_gaussians(n: int, values=(-4, -2, 0, 2, 4), std: float = 0.05, rng=None):
    """The 2-D grid of the VEEGAN/PacGAN benchmarks: 25 Gaussians on {-4,-2,0,2,4}^2, std 0.05.

    A mode is picked uniformly among the ``len(values)**2`` grid points, then isotropic noise of
    std ``std`` is added.

    Returns:
        samples float32 ``(n, 2)`` and mode centres float32 ``(len(values)**2, 2)``.
    """
    centres = grid_centres(values)
    return _mixture(n, centres, std, rng), centres
