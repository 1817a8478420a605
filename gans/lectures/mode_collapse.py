"""Lecture 3, mode collapse: the pure scoring functions of the two published protocols and the
toy mixtures they score (the toy GAN that is scored is in :mod:`gans.lectures.toy_gan`, the sweep
and its report in :mod:`gans.reports.mode_collapse`).

**Mode collapse.** On the 8-Gaussian ring and the 25-Gaussian grid, count the modes a GAN
captures, the fraction of its samples that are of high quality and (PacGAN's protocol) the
reverse KL divergence of its distribution over the modes to the uniform one, under VEEGAN's
and PacGAN's protocols (``protocol_metrics``), for the vanilla (non-saturating) GAN, PacGAN
(packing), WGAN-GP, SNGAN (spectral norm and hinge loss) and the best recipe found here (k = 2
D steps and BatchNorm in G); ten seeds each in docs/mode_collapse.md. With Algorithm 1's
k = 1 the vanilla GAN collapses (0-2 modes, hopping between them). The toy model
(``ToyGAN``) is written to the protocol of :mod:`gans.protocol`, with the losses of
:mod:`gans.losses`, and trained by :func:`gans.trainer.fit`, like every GAN of the zoo.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.data import grid_centres, ring_centres


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
