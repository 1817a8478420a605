"""The scores of gans/scores.py against the published reference code and hand-computed cases.

The hand-computed cases run everywhere. The comparisons with the reference implementations
(``prdc``, Naeem et al.'s own precision/recall/density/coverage; ``torchmetrics``' FID, KID and
Inception Score formulas) run only where those packages are installed and are skipped otherwise
(the CI has neither).

Conventions that differ from a reference on purpose (and why the comparisons avoid exact ties):

* k-NN balls are closed here (a point exactly on the radius is inside), as in Kynkaanniemi et
  al.'s code; prdc uses open balls (``<``). The two agree unless a distance equals a radius
  exactly, e.g. a set scored against itself: density (k + 1) / k here, 1 in prdc.
* The std of the Inception Score over splits is NumPy's (ddof = 0, as in Salimans et al.'s code);
  torchmetrics reports ddof = 1 and shuffles the rows before splitting.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from gans import scores


# ------------------------------------------------------------------ hand-computed cases
def test_precision_recall_density_coverage_hand_computed_1d():
    # k = 1 radii: real 0 -> 1, 1 -> 1, 3 -> 2, 7 -> 4, 20.9 -> 13.9; fake 0.5, 0.6 -> 0.1,
    # 20, 21 -> 1. Every fake point is in a real ball (precision 1); only 20.9 is in a fake ball
    # (recall 1/5); real balls holding each fake point: 2, 2, 1, 1 (density 6 / 4); real balls
    # holding a fake point: those of 0, 1 and 20.9 (coverage 3/5).
    real = np.array([0.0, 1.0, 3.0, 7.0, 20.9])[:, None]
    fake = np.array([0.5, 0.6, 20.0, 21.0])[:, None]
    assert scores.precision_recall(real, fake, k=1) == pytest.approx((1.0, 0.2), abs=1e-12)
    assert scores.density_coverage(real, fake, k=1) == pytest.approx((1.5, 0.6), abs=1e-12)
    np.testing.assert_allclose(scores.knn_radii(real, 1), [1, 1, 2, 4, 13.9], rtol=1e-12)
    np.testing.assert_allclose(scores.knn_radii(real, 2), [3, 2, 3, 6, 17.9], rtol=1e-12)


def test_knn_ball_is_closed():
    # real 0, 1, 5 with k = 1: radii 1, 1, 4. The fake point 2 lies exactly on the ball of 1
    # (distance 1 = radius): inside, as in Kynkaanniemi et al.'s code (prdc's "<" leaves it out)
    real = np.array([[0.0], [1.0], [5.0]])
    fake = np.array([[2.0], [2.0], [100.0]])
    precision, _ = scores.precision_recall(real, fake, k=1)
    density, coverage = scores.density_coverage(real, fake, k=1)
    # 2 is in the balls of 1 (on the edge) and of 5 (distance 3 < 4); 100 in none
    assert precision == pytest.approx(2 / 3)
    assert density == pytest.approx(4 / 3) and coverage == pytest.approx(2 / 3)


def test_kid_hand_computed_1d():
    # d = 1: k(a, b) = (a b + 1)^3. x = {0, 1}, y = {0, -1}: k(0, 1) = k(0, -1) = 1, so both
    # within-set means are 1; across: k = 1, 1, 1, 0, mean 3/4. MMD^2 = 1 + 1 - 2 * 3/4 = 1/2
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [-1.0]])
    mean, std = scores.kid(y, x, subsets=3, subset_size=2)
    assert mean == pytest.approx(0.5, abs=1e-15) and std == 0.0


def test_frechet_closed_form_from_features():
    # features whose mean and covariance (ddof = 1) are known exactly: +-1 on each axis
    a = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])   # mean 0, cov I * 2/3
    b = 3.0 * a + np.array([1.0, 2.0])                                # mean (1, 2), cov I * 6
    (m1, s1), (m2, s2) = scores.feature_statistics(a), scores.feature_statistics(b)
    np.testing.assert_allclose(s1, np.eye(2) * 2 / 3, atol=1e-15)
    expect = 5.0 + 2 * (np.sqrt(2 / 3) - np.sqrt(6)) ** 2
    assert scores.frechet_distance(m1, s1, m2, s2) == pytest.approx(expect, rel=1e-12)


# ------------------------------------------------------------------ against the references
def _feature_sets(dtype):
    rng = np.random.default_rng(123)
    n, d = 1000, 32
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((n, d)) @ mix + 0.3
    return real.astype(dtype), fake.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prdc_matches_naeem_reference(dtype):
    prdc = pytest.importorskip("prdc")
    real, fake = _feature_sets(dtype)
    for k, (r, f) in ((3, (real, fake)), (5, (real, fake)), (5, (real[:700], fake[:400]))):
        with contextlib.redirect_stdout(io.StringIO()):       # compute_prdc prints the sizes
            ref = prdc.compute_prdc(r, f, nearest_k=k)
        got = scores.precision_recall(r, f, k=k) + scores.density_coverage(r, f, k=k)
        want = (ref["precision"], ref["recall"], ref["density"], ref["coverage"])
        assert got == pytest.approx(tuple(float(w) for w in want), abs=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fid_matches_torchmetrics(dtype):
    torch = pytest.importorskip("torch")
    fid = pytest.importorskip("torchmetrics.image.fid")
    real, fake = _feature_sets(dtype)
    for n in (1000, 20):                   # 20 < 32 dimensions: singular covariances
        f = torch.tensor(np.asarray(fake[:n], np.float64))
        r = torch.tensor(np.asarray(real[:n], np.float64))
        want = fid._compute_fid(f.mean(0), torch.cov(f.T), r.mean(0), torch.cov(r.T)).item()
        got = scores.frechet_distance(*scores.feature_statistics(fake[:n]),
                                      *scores.feature_statistics(real[:n]))
        assert got == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kid_matches_torchmetrics_on_the_same_subsets(dtype):
    torch = pytest.importorskip("torch")
    kid = pytest.importorskip("torchmetrics.image.kid")
    real, fake = _feature_sets(dtype)
    r64, f64 = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    rng = np.random.default_rng(4)           # the draws scores.kid documents: fake, then real
    values = []
    for _ in range(5):
        fi = rng.choice(len(f64), 300, replace=False)
        ri = rng.choice(len(r64), 300, replace=False)
        values.append(kid.poly_mmd(torch.tensor(r64[ri]), torch.tensor(f64[fi])).item())
    mean, std = scores.kid(real, fake, subsets=5, subset_size=300, seed=4)
    assert mean == pytest.approx(np.mean(values), rel=1e-9)
    assert std == pytest.approx(np.std(values), rel=1e-7)      # torchmetrics: unbiased=False


def test_inception_score_matches_torchmetrics_formula():
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchmetrics.image.inception")
    rng = np.random.default_rng(5)
    logits = torch.tensor(rng.standard_normal((1000, 10)) * 3)
    # torchmetrics' per-split formula on the same (unshuffled) splits of 100 rows
    per_split = []
    for part in logits.chunk(10):
        p, log_p = part.softmax(1), part.log_softmax(1)
        per_split.append((p * (log_p - p.mean(0, keepdim=True).log())).sum(1).mean().exp().item())
    mean, std = scores.inception_score(logits.softmax(1).numpy(), splits=10, return_std=True)
    assert mean == pytest.approx(np.mean(per_split), rel=1e-12)
    assert std == pytest.approx(np.std(per_split), rel=1e-9)


def test_feature_statistics_names_non_finite_features():
    f = np.ones((4, 3))
    f[2, 1] = np.nan
    with pytest.raises(ValueError, match="1 of 4 rows hold NaN or inf .* row 2"):
        scores.feature_statistics(f)
