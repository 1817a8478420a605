"""The adversarial losses, one copy each, on D's raw scores (logits; no sigmoid layer in D).

With s = D(x) a real image's score and s' = D(G(z)) a generated one's, each to be *minimised*:

    name              D's loss                                   G's loss
    minimax           -log sig(s) - log(1 - sig(s'))              log(1 - sig(s'))
                      (Goodfellow et al. 2014, the game as written: flat for G when D wins)
    non_saturating    the same                                    -log sig(s')
                      (the same paper's practical choice: strong gradients early)
    least_squares     1/2 (s - 1)^2 + 1/2 s'^2                    1/2 (s' - 1)^2
                      (LSGAN, Mao et al. 2017, with a = 0, b = c = 1)
    hinge             relu(1 - s) + relu(1 + s')                  -s'
                      (Lim and Ye 2017; Miyato et al. 2018's SNGAN)
    wasserstein       s' - s                                      -s'
                      (WGAN, Arjovsky et al. 2017; needs a Lipschitz D: clipping, a penalty
                      or spectral normalisation)
each averaged over the batch. -log sig(s) and -log(1 - sig(s)) are computed as
binary_cross_entropy_with_logits, which stays exact where sigmoid then log would overflow.

``lib`` (default minigrad's ``nn``; ``torch.nn`` for the PyTorch twins of benchmarks/twins.py)
names the framework of the scores, so both frameworks compute each loss from this one copy.
"""
from __future__ import annotations

from minigrad import nn
from minigrad.nn import functional as F
from gans.common import package

LOSSES = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")
#: The losses that need no Lipschitz constraint on D (all but the Wasserstein one).
UNCONSTRAINED = LOSSES[:4]


def bce_real(logits, lib=nn):
    """-log D(x) with D = sigmoid(logits): the loss for calling ``logits`` real."""
    return lib.functional.binary_cross_entropy_with_logits(
        logits, package(lib).full_like(logits, 1.0))


def bce_fake(logits, lib=nn):
    """-log(1 - D(x)): the loss for calling ``logits`` fake."""
    return lib.functional.binary_cross_entropy_with_logits(
        logits, package(lib).full_like(logits, 0.0))


def least_squares(scores, target: float, lib=nn):
    """mean (scores - target)^2: LSGAN's loss for pushing ``scores`` towards ``target``."""
    return lib.functional.mse_loss(scores, package(lib).full_like(scores, target))


def prob(logits):
    """Mean of sigmoid(logits): the D(x) or D(G(z)) shown in logs (a 0-d tensor on the
    scores' device; no copy to the host)."""
    return F.sigmoid(logits.detach()).mean()


def d_loss(kind: str, real_scores, fake_scores, lib=nn):
    """D's loss of the family ``kind`` (see the table above) on a real and a generated batch."""
    if kind in ("minimax", "non_saturating"):
        return bce_real(real_scores, lib) + bce_fake(fake_scores, lib)
    if kind == "least_squares":
        return 0.5 * (least_squares(real_scores, 1.0, lib) + least_squares(fake_scores, 0.0, lib))
    if kind == "hinge":
        relu = lib.functional.relu
        return relu(1 - real_scores).mean() + relu(1 + fake_scores).mean()
    if kind == "wasserstein":
        return fake_scores.mean() - real_scores.mean()
    raise ValueError(f"unknown loss {kind!r}: choose from {', '.join(LOSSES)}")


def g_loss(kind: str, fake_scores, lib=nn):
    """G's loss of the family ``kind`` on D's scores of a generated batch."""
    if kind == "minimax":
        return -bce_fake(fake_scores, lib)
    if kind == "non_saturating":
        return bce_real(fake_scores, lib)
    if kind == "least_squares":
        return 0.5 * least_squares(fake_scores, 1.0, lib)
    if kind in ("hinge", "wasserstein"):
        return -fake_scores.mean()
    raise ValueError(f"unknown loss {kind!r}: choose from {', '.join(LOSSES)}")


def score_stats(kind: str, real_scores, fake_scores) -> dict:
    """What the log shows of D's scores: D(x) and D(G(z)) as probabilities (``d_x``, ``d_g_z``)
    for the two cross-entropy losses, the mean raw scores (``d_real``, ``d_fake``) otherwise.
    Detached 0-d tensors on the scores' device: the trainer fetches them with the losses."""
    if kind in ("minimax", "non_saturating"):
        return {"d_x": prob(real_scores), "d_g_z": prob(fake_scores)}
    return {"d_real": real_scores.detach().mean(), "d_fake": fake_scores.detach().mean()}


def check_loss(kind: str, allowed=LOSSES) -> str:
    """``kind`` if it is one of ``allowed``, else a ValueError naming the choices."""
    if kind not in allowed:
        raise ValueError(f"loss must be one of {', '.join(allowed)}; got {kind!r}")
    return kind
