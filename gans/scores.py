"""The scores as pure functions on NumPy arrays: class probabilities (N, n_classes) or features
(N, D) in, numbers out. No network, no files, no cache (gans/classifier.py makes the arrays,
gans/metrics.py the report), so each one is tested alone against a direct computation.

From class probabilities p(y|x):
    inception_score    exp(E_x KL(p(y|x) || p(y)))                       (Salimans et al. 2016)
    class_coverage     how many classes get at least 1% of the argmax predictions
    label_accuracy     how often the argmax is the label the sample was generated for

From features, fake (the samples) against real (the reference set):
    frechet_distance   |mu_f - mu_r|^2 + tr(S_f + S_r - 2 (S_f S_r)^(1/2))   (Heusel et al. 2017)
    intra_class_fid    the mean over classes of the FID of each class's samples
    kid                unbiased MMD^2, cubic polynomial kernel, over subsets (Binkowski et al. 2018)
    precision_recall   k-NN manifolds, k = 3                          (Kynkaanniemi et al. 2019)
    density_coverage   k-NN balls around the real points, k = 5            (Naeem et al. 2020)

The k-NN scores need all pairwise distances between up to 10000 x 10000 points; they are computed
in row blocks of at most ``_BLOCK`` entries (32 MB in float64), never as one matrix. A point's
k-NN radius is the distance to its k-th nearest *other* point of its own set, and the balls are
closed (a point exactly on the radius is inside).
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "inception_score", "class_coverage", "label_accuracy", "validate_labels",
    "feature_statistics", "frechet_distance", "intra_class_fid", "kid", "knn_radii",
    "precision_recall", "density_coverage",
]

# Entries of one block of a pairwise-distance matrix (float64: 32 MB).
_BLOCK = 4_000_000


# ------------------------------------------------------------------------------ validation
def validate_labels(labels, n: int, n_classes: int = 10, name: str = "labels") -> np.ndarray:
    """Check class labels of n samples: integer-valued, shape (n,), in [0, n_classes); int64."""
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == n_classes and n_classes > 1:
        raise ValueError(f"{name}: shape {y.shape} looks one-hot; pass integer class labels "
                         "(labels.argmax(1))")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name}: shape {y.shape} does not match the {n} images (want ({n},))")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name}: dtype {y.dtype} is not an integer type")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name}: non-integer values (dtype {y.dtype})")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name}: values in [{y.min()}, {y.max()}] outside 0..{n_classes - 1}")
    return y


def _validate_probs(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"probs: shape {p.shape} is not (N, n_classes)")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs: contains NaN or inf")
    if p.min() < -1e-6:
        raise ValueError(f"probs: negative entries (min {p.min():.3g}); pass softmax outputs, "
                         "not logits")
    sums = p.sum(1)
    if np.max(np.abs(sums - 1)) > 1e-3:
        raise ValueError(f"probs: rows must sum to 1 (found sums in [{sums.min():.4g}, "
                         f"{sums.max():.4g}]); pass softmax outputs, not logits")
    p = np.clip(p, 0, None)
    return p / p.sum(1, keepdims=True)


def _features(x, name: str, min_rows: int = 1) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 2 or len(f) < min_rows:
        raise ValueError(f"{name}: shape {f.shape}; need (N >= {min_rows}, D) features")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name}: contains NaN or inf")
    return f


def _two_sets(real, fake, min_rows: int = 1):
    r = _features(real, "real features", min_rows)
    f = _features(fake, "fake features", min_rows)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"real features have {r.shape[1]} dimensions, fake features "
                         f"{f.shape[1]}: not the same feature space")
    return r, f


# ------------------------------------------------------------------------------ from probabilities
def inception_score(probs, splits: int = 1, return_std: bool = False):
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities ``probs`` (N, n_classes).

    p(y) is the mean of p(y|x) over each split; with ``splits > 1`` the N rows are cut into that
    many consecutive parts (as in Salimans et al. 2016) and the mean score is returned
    (``return_std=True``: ``(mean, std)``). 1 when every row is the same, n_classes when the rows
    are one-hot and the classes equally frequent.
    """
    p = _validate_probs(probs)
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits={splits} must be in 1..N={len(p)}")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        # KL with 0 log 0 = 0: where p(y|x) = 0 the term vanishes; where it is > 0, p(y) > 0 too.
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0)
        scores.append(float(np.exp(terms.sum(1).mean())))
    mean = float(np.mean(scores))
    return (mean, float(np.std(scores))) if return_std else mean


def _argmax(pred) -> np.ndarray:
    p = np.asarray(pred)
    return p.argmax(1) if p.ndim == 2 else p


def class_coverage(pred, n_classes: int = 10, min_fraction: float = 0.01) -> int:
    """How many of the ``n_classes`` classes receive at least ``min_fraction`` of the predictions
    ``pred`` (integer class indices (N,), or probabilities (N, n_classes) -> argmax)."""
    p = _argmax(pred)
    p = validate_labels(p, len(p), n_classes, name="pred")
    if len(p) == 0:
        return 0
    counts = np.bincount(p, minlength=n_classes)
    return int(np.sum(counts >= min_fraction * len(p)))


def label_accuracy(pred, labels) -> float:
    """Fraction of predictions (class indices, or probabilities -> argmax) equal to ``labels``."""
    p = _argmax(pred)
    y = np.asarray(labels).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"label_accuracy: {p.shape} predictions vs {y.shape} labels")
    if len(y) == 0:
        raise ValueError("label_accuracy: no labels")
    return float(np.mean(p == y))


# ------------------------------------------------------------------------------ FID
def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of (N, D) features, in float64 (covariance with N - 1)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features: shape {f.shape}; need (N >= 2, D)")
    if not np.isfinite(f).all():
        bad = ~np.isfinite(f).all(1)
        raise ValueError(f"features: {int(bad.sum())} of {len(f)} rows hold NaN or inf (the "
                         f"first is row {int(bad.argmax())}): the images or the network that "
                         "made the features went wrong")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2):

        d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2)).

    The square root comes from ``scipy.linalg.sqrtm``. As in the reference FID code: if it is not
    finite (a singular product, e.g. fewer samples than feature dimensions), ``eps`` is added to
    both diagonals and it is retried; a numerically complex result is reduced to its real part
    (a large imaginary part raises ValueError). The result is clipped at 0.
    """
    from scipy import linalg

    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"frechet_distance: means of shapes {mu1.shape} and {mu2.shape} differ "
                         "or are not vectors")
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"frechet_distance: covariances {sigma1.shape}, {sigma2.shape} do not "
                         f"match the mean's dimension {d}")
    for a, nm in ((mu1, "mu1"), (mu2, "mu2"), (sigma1, "sigma1"), (sigma2, "sigma2")):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"frechet_distance: {nm} contains NaN or inf")

    diff = mu1 - mu2
    with warnings.catch_warnings():          # a singular product is handled just below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)) or not _sqrtm_ok(covmean, sigma1 @ sigma2):
        offset = np.eye(d) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        scale = max(1.0, float(np.max(np.abs(covmean.real))))
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * scale):
            raise ValueError(f"frechet_distance: sqrtm has a large imaginary component "
                             f"{np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def _sqrtm_ok(root, target) -> bool:
    """Is root @ root close to target (sqrtm can return garbage for singular products)?"""
    err = np.linalg.norm(root @ root - target)
    return bool(err <= 1e-4 * max(np.linalg.norm(target), 1e-12))


def intra_class_fid(fake, fake_labels, real, real_labels, n_classes: int = 10):
    """Intra-class FID of a conditional model: for every class c among ``fake_labels`` (the labels
    the samples were generated for), the FID of the samples of class c against the real features
    of class c; returns (their mean, {c: FID_c}). Each of those classes needs at least 2 samples
    and 2 real points (a covariance)."""
    r, f = _two_sets(real, fake)
    yf = validate_labels(fake_labels, len(f), n_classes, name="fake labels")
    yr = validate_labels(real_labels, len(r), n_classes, name="real labels")
    per_class = {}
    for c in np.unique(yf):
        nf, nr = int(np.sum(yf == c)), int(np.sum(yr == c))
        if nf < 2 or nr < 2:
            raise ValueError(f"intra-class FID: class {c} has {nf} sample(s) and {nr} real "
                             "point(s); each class needs at least 2 of both")
        per_class[int(c)] = frechet_distance(*feature_statistics(f[yf == c]),
                                             *feature_statistics(r[yr == c]))
    if not per_class:
        raise ValueError("intra-class FID: no samples")
    return float(np.mean(list(per_class.values()))), per_class


# ------------------------------------------------------------------------------ KID
def _polynomial_kernel(x, y):
    """k(x, y) = (x.y / d + 1)^3, the kernel of Binkowski et al. (all pairs)."""
    k = x @ y.T
    k /= x.shape[1]
    k += 1.0
    return k * k * k                      # (a float power is several times slower)


def _mmd2_unbiased(x, y) -> float:
    """The unbiased estimate of MMD^2 between the sets x (m) and y (n): the means of k over the
    pairs i != j inside each set, minus twice the mean over all pairs across."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2.0 * kxy.mean())


def kid(real, fake, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
    """Kernel Inception Distance (Binkowski et al. 2018): the unbiased estimate of MMD^2 between
    fake and real features with the kernel k(x, y) = (x.y / d + 1)^3, averaged over ``subsets``
    random subsets of ``min(subset_size, N_fake, N_real)`` points from each set (drawn without
    replacement, fake first, from ``np.random.default_rng(seed)``). Returns (mean, std over the
    subsets). 0 in expectation when both sets come from one distribution (so it can be slightly
    negative); unlike FID it has no bias that depends on the sample count."""
    r, f = _two_sets(real, fake, min_rows=2)
    if subsets < 1:
        raise ValueError(f"kid: subsets={subsets} must be >= 1")
    m = min(int(subset_size), len(f), len(r))
    if m < 2:
        raise ValueError(f"kid: subset_size={subset_size} must be >= 2")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        fi = rng.choice(len(f), m, replace=False)
        ri = rng.choice(len(r), m, replace=False)
        values.append(_mmd2_unbiased(f[fi], r[ri]))
    return float(np.mean(values)), float(np.std(values))


# ------------------------------------------------------------------------------ k-NN scores
def _distance_blocks(a, b):
    """Yield (start, squared distances of a[start:start + rows] to every row of b), in blocks
    of at most _BLOCK entries: |a|^2 + |b|^2 - 2 a.b, clipped at 0."""
    bb = np.einsum("ij,ij->i", b, b)
    rows = max(1, _BLOCK // max(len(b), 1))
    for start in range(0, len(a), rows):
        blk = a[start:start + rows]
        d2 = blk @ b.T                            # one block-sized array, updated in place
        d2 *= -2.0
        d2 += np.einsum("ij,ij->i", blk, blk)[:, None]
        d2 += bb[None, :]
        yield start, np.maximum(d2, 0.0, out=d2)


def knn_radii(features, k: int) -> np.ndarray:
    """The distance of every point of ``features`` (N, D) to its k-th nearest other point."""
    return np.sqrt(_knn_sq_radii(_features(features, "features"), k))


def _knn_sq_radii(x, k: int) -> np.ndarray:
    # Squared: the balls below compare squared distances, and sqrt(d)^2 is not always d.
    if not 1 <= k < len(x):
        raise ValueError(f"knn_radii: k={k} must be in 1..N-1 = {len(x) - 1}")
    out = np.empty(len(x))
    for start, d2 in _distance_blocks(x, x):
        rows = np.arange(len(d2))
        d2[rows, start + rows] = np.inf           # a point is not its own neighbour
        out[start:start + len(d2)] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return out


def _in_any_ball(points, centres, sq_radii) -> np.ndarray:
    """For each point: is it inside (<=) the ball of squared radius sq_radii[j] around some
    centres[j]?"""
    inside = np.zeros(len(points), dtype=bool)
    for start, d2 in _distance_blocks(points, centres):
        inside[start:start + len(d2)] = np.any(d2 <= sq_radii[None, :], axis=1)
    return inside


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019). Each set's manifold is the union
    of the balls around its points with radius the distance to their k-th nearest neighbour in
    the set. precision = the fraction of fake points inside the real manifold (how many samples
    look real), recall = the fraction of real points inside the fake manifold (how much of the
    data the samples cover)."""
    r, f = _two_sets(real, fake, min_rows=k + 1)
    precision = _in_any_ball(f, r, _knn_sq_radii(r, k)).mean()
    recall = _in_any_ball(r, f, _knn_sq_radii(f, k)).mean()
    return float(precision), float(recall)


def density_coverage(real, fake, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), both from balls around the *real* points only
    (radius: the distance to their k-th nearest real neighbour), which makes them robust to fake
    outliers. density = (1 / (k M)) sum_j #{real balls holding fake point j} (about 1 when the
    sets match; above 1 when samples crowd into dense regions), coverage = the fraction of real
    balls that hold at least one fake point (N real, M fake)."""
    r, f = _two_sets(real, fake, min_rows=k + 1)
    r2 = _knn_sq_radii(r, k)
    counts = np.zeros(len(f))
    covered = np.zeros(len(r), dtype=bool)
    for start, d2 in _distance_blocks(r, f):
        inside = d2 <= r2[start:start + len(d2), None]     # (real block, fake)
        counts += inside.sum(0)
        covered[start:start + len(d2)] = inside.any(1)
    return float(counts.sum() / (k * len(f))), float(covered.mean())
