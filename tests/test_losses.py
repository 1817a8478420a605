"""Losses of minigrad.nn.functional against PyTorch (values and gradients for every
reduction), float64 gradcheck/gradgradcheck (meaningful without torch), the numerically hard
cases (|logit| >= 100), and the error messages."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import Tensor

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
REDUCTIONS = ["mean", "sum", "none"]



def _rng(seed=0):
    return np.random.default_rng(seed)


def _check(mg_fn, t_fn, inputs, diff=(0,), rtol=1e-10, atol=1e-12):
    """Compare value and gradients (w.r.t. the inputs listed in ``diff``) with torch."""
    xs = [Tensor(a, requires_grad=(i in diff)) for i, a in enumerate(inputs)]
    ts = [torch.tensor(a, requires_grad=(i in diff)) for i, a in enumerate(inputs)]
    y, yt = mg_fn(*xs), t_fn(*ts)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol)
    g_np = _rng(42).standard_normal(y.shape)
    gs = minigrad.grad(y, [xs[i] for i in diff], Tensor(g_np))
    gts = torch.autograd.grad(yt, [ts[i] for i in diff], torch.from_numpy(g_np))
    for g, gt in zip(gs, gts):
        np.testing.assert_allclose(g.data, gt.numpy(), rtol=rtol * 100, atol=atol * 100)


def _probs(shape, seed=0):
    return _rng(seed).uniform(0.02, 0.98, shape)


# ============================================================================ regression
@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_l1_match_torch(reduction):
    rng = _rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    _check(lambda x, y: F.mse_loss(x, y, reduction), lambda x, y: TF.mse_loss(x, y,
           reduction=reduction), [a, b], diff=(0, 1))
    _check(lambda x, y: F.l1_loss(x, y, reduction), lambda x, y: TF.l1_loss(x, y,
           reduction=reduction), [a, b], diff=(0, 1))
    _check(lambda x, y: nn.MSELoss(reduction=reduction)(x, y),
           lambda x, y: torch.nn.MSELoss(reduction=reduction)(x, y), [a, b])


# ======================================================================= binary losses
@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch(reduction):
    p, t = _probs((5, 3)), _rng(2).uniform(0, 1, (5, 3))
    w = _rng(3).uniform(0.5, 2, (5, 3))
    _check(lambda p, t: F.binary_cross_entropy(p, t, reduction=reduction),
           lambda p, t: TF.binary_cross_entropy(p, t, reduction=reduction), [p, t], diff=(0, 1))
    _check(lambda p, t, w: F.binary_cross_entropy(p, t, w, reduction),
           lambda p, t, w: TF.binary_cross_entropy(p, t, w, reduction=reduction), [p, t, w])
    _check(lambda p, t: nn.BCELoss(reduction=reduction)(p, t),
           lambda p, t: torch.nn.BCELoss(reduction=reduction)(p, t), [p, t])


@needs_torch
def test_bce_clamps_log_like_torch():
    p = np.array([0.0, 1.0, 1e-50, 0.5])
    t = np.array([1.0, 0.0, 1.0, 1.0])
    y = F.binary_cross_entropy(Tensor(p), Tensor(t), reduction="none")
    yt = TF.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(t), reduction="none")
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=1e-12)
    assert y.data[0] == 100.0


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_gradients_at_the_ends_match_torch(dtype):
    """At p = 0 or 1, and within 1e-12 of them, BCE's value, its gradients in p and in the
    target, and their gradients in turn are torch's: the gradient floors p (1 - p) at 1e-12
    (+-1e12 where p = 0 or 1 meets the other label, 0 where it meets its own, as torch gives,
    where the clamped logs alone would give 0 or -1), the target's gradient is infinite there,
    and the second derivative has torch's own floors."""
    p = np.array([0.0, 1e-8, 0.3, 1 - 1e-7, 1.0, 1.0, 0.0, 1e-13, 0.5, 1e-12, 2e-12], dtype)
    t = np.array([1.0, 0.0, 0.6, 0.0, 0.0, 1.0, 0.0, 1.0, 0.2, 0.3, 0.9], dtype)
    w, gg = np.linspace(1, 2, p.size, dtype=dtype), np.linspace(0.5, 1.5, p.size, dtype=dtype)
    # float32: at p = 1 - 1e-7, 1 - p keeps only a few bits, and torch orders the second
    # derivative's operations differently (1.7e-5 apart there); float64: a few ulp of the
    # floors' 1e12-sized values
    rtol = 1e-4 if dtype == "float32" else 1e-8

    def derivatives(lib, tensor, bce, grad):
        P, T = tensor(p, requires_grad=True), tensor(t, requires_grad=True)
        loss = bce(P, T, reduction="none")
        gp, gt = grad((loss * tensor(w)).sum(), [P, T], create_graph=True)
        return [loss, gp, gt] + list(grad((gp * tensor(gg)).sum(), [P, T]))

    ours = derivatives(minigrad, Tensor, F.binary_cross_entropy, minigrad.grad)
    theirs = derivatives(torch, torch.tensor, TF.binary_cross_entropy, torch.autograd.grad)
    for name, a, b in zip(["loss", "d/dp", "d/dt", "d2/dp2", "d2/dpdt"], ours, theirs):
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=rtol, atol=0, err_msg=name)
    assert ours[1].data[0] == -1e12 and ours[1].data[5] == 0   # p = 0 with t = 1; p = t = 1


def test_bce_gradients_pass_gradcheck():
    """float64, p away from the floors: the one op's first and second derivatives are the
    composite's (finite differences)."""
    p = Tensor(_probs((4, 3), seed=5), requires_grad=True)
    t = Tensor(_rng(6).uniform(0, 1, (4, 3)), requires_grad=True)
    f = lambda p, t: F.binary_cross_entropy(p, t, reduction="sum")  # noqa: E731
    assert minigrad.gradcheck(f, [p, t])
    assert minigrad.gradgradcheck(f, [p, t])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction):
    rng = _rng(4)
    z, t = rng.standard_normal((6, 3)) * 3, rng.uniform(0, 1, (6, 3))
    w, pw = rng.uniform(0.5, 2, (6, 3)), rng.uniform(0.5, 3, (3,))
    _check(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction),
           lambda z, t: TF.binary_cross_entropy_with_logits(z, t, reduction=reduction), [z, t],
           diff=(0, 1))
    _check(lambda z, t, w, pw: F.binary_cross_entropy_with_logits(z, t, w, reduction, pw),
           lambda z, t, w, pw: TF.binary_cross_entropy_with_logits(
               z, t, w, reduction=reduction, pos_weight=pw), [z, t, w, pw], diff=(0, 1))
    _check(lambda z, t: nn.BCEWithLogitsLoss(reduction=reduction)(z, t),
           lambda z, t: torch.nn.BCEWithLogitsLoss(reduction=reduction)(z, t), [z, t])


@needs_torch
def test_bce_with_logits_is_stable_for_huge_logits():
    z = np.array([-1000.0, -150.0, -100.0, -30.0, 0.0, 30.0, 100.0, 150.0, 1000.0])
    for dtype in (np.float64, np.float32):
        for tv in (0.0, 1.0, 0.3):
            t = np.full_like(z, tv)
            x = Tensor(z.astype(dtype), requires_grad=True)
            loss = F.binary_cross_entropy_with_logits(x, Tensor(t.astype(dtype)),
                                                      reduction="sum")
            gx, = minigrad.grad(loss, [x], create_graph=True)
            ggx, = minigrad.grad(gx.sum(), [x])
            xt = torch.tensor(z.astype(dtype), requires_grad=True)
            lt = TF.binary_cross_entropy_with_logits(xt, torch.from_numpy(t.astype(dtype)),
                                                     reduction="sum")
            gt, = torch.autograd.grad(lt, [xt], create_graph=True)
            ggt, = torch.autograd.grad(gt.sum(), [xt])
            for a, b in [(loss.data, lt.detach().numpy()), (gx.data, gt.detach().numpy()),
                         (ggx.data, ggt.numpy())]:
                assert np.isfinite(a).all()
                np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                           atol=1e-30)
    # exact values: the gradient is sigmoid(z) - t, even at |z| = 1000
    x = Tensor(np.array([1000.0, -1000.0]), requires_grad=True)
    F.binary_cross_entropy_with_logits(x, Tensor(np.array([0.0, 1.0])), reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, -1.0])


# ================================================================== classification losses
@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices_match_torch(reduction, label_smoothing, weighted):
    rng = _rng(5)
    logits = rng.standard_normal((7, 4)) * 2
    target = np.array([0, 3, 1, 1, 2, 3, 0])
    w = rng.uniform(0.5, 2.0, 4) if weighted else None
    wt = None if w is None else torch.from_numpy(w)
    _check(lambda z: F.cross_entropy(z, target, w, reduction=reduction,
                                     label_smoothing=label_smoothing),
           lambda z: TF.cross_entropy(z, torch.from_numpy(target), wt, reduction=reduction,
                                      label_smoothing=label_smoothing), [logits])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_ignore_index_and_spatial_match_torch(reduction, label_smoothing):
    rng = _rng(6)
    logits = rng.standard_normal((2, 3, 4, 5))  # (N, C, H, W): per-pixel classes
    target = rng.integers(0, 3, (2, 4, 5))
    target[0, 1, :2] = -100
    w = rng.uniform(0.5, 2.0, 3)
    _check(lambda z: F.cross_entropy(z, Tensor(target), Tensor(w), reduction=reduction,
                                     label_smoothing=label_smoothing),
           lambda z: TF.cross_entropy(z, torch.from_numpy(target), torch.from_numpy(w),
                                      reduction=reduction, label_smoothing=label_smoothing),
           [logits])
    target = np.where(target < 0, 1, target)
    _check(lambda z: nn.CrossEntropyLoss(ignore_index=2, reduction=reduction,
                                         label_smoothing=label_smoothing)(z, target),
           lambda z: torch.nn.CrossEntropyLoss(ignore_index=2, reduction=reduction,
                                               label_smoothing=label_smoothing)(
               z, torch.from_numpy(target)), [logits])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_torch(reduction, label_smoothing):
    rng = _rng(7)
    logits = rng.standard_normal((5, 4))
    probs = rng.dirichlet(np.ones(4), 5)
    w = rng.uniform(0.5, 2.0, 4)
    _check(lambda z, p: F.cross_entropy(z, p, reduction=reduction,
                                        label_smoothing=label_smoothing),
           lambda z, p: TF.cross_entropy(z, p, reduction=reduction,
                                         label_smoothing=label_smoothing), [logits, probs],
           diff=(0, 1))
    _check(lambda z: F.cross_entropy(z, probs, w, reduction=reduction),
           lambda z: TF.cross_entropy(z, torch.from_numpy(probs), torch.from_numpy(w),
                                      reduction=reduction), [logits])


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction):
    rng = _rng(8)
    logp = np.log(rng.dirichlet(np.ones(5), 6))
    target = np.array([4, 0, 0, 2, -100, 1])
    w = rng.uniform(0.5, 2.0, 5)
    _check(lambda x: F.nll_loss(x, target, reduction=reduction),
           lambda x: TF.nll_loss(x, torch.from_numpy(target), reduction=reduction), [logp])
    _check(lambda x: nn.NLLLoss(Tensor(w), reduction=reduction)(x, target),
           lambda x: TF.nll_loss(x, torch.from_numpy(target), torch.from_numpy(w),
                                 reduction=reduction), [logp])


# ============================================================================ divergences
@needs_torch
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    rng = _rng(9)
    q = np.log(rng.dirichlet(np.ones(4), 3))
    p = rng.dirichlet(np.ones(4), 3)
    if not log_target:
        p[0, 1] = 0.0  # a zero target probability contributes 0 (not nan)
    tgt = np.log(p) if log_target else p
    _check(lambda x, t: F.kl_div(x, t, reduction, log_target),
           lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target),
           [q, tgt], diff=(0,))
    if not log_target:
        _check(lambda x, t: F.kl_div(x, t, reduction), lambda x, t: TF.kl_div(
            x, t, reduction=reduction), [q, np.clip(p, 0.05, None)], diff=(0, 1))


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_kl_matches_torch_distributions(reduction):
    rng = _rng(10)
    mu, logvar = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)) * 0.5
    tD = torch.distributions

    def torch_kl(mu, logvar):
        q = tD.Normal(mu, torch.exp(0.5 * logvar))
        per = tD.kl_divergence(q, tD.Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
        return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]

    _check(lambda m, lv: F.gaussian_kl(m, lv, reduction), torch_kl, [mu, logvar], diff=(0, 1),
           rtol=1e-9)


def test_gaussian_kl_closed_form():
    mu = Tensor(np.zeros((4, 8)))
    assert F.gaussian_kl(mu, Tensor(np.zeros((4, 8)))).item() == 0.0
    mu = Tensor(np.full((2, 3), 2.0))
    # KL(N(2, 1) || N(0, 1)) = 2^2 / 2 = 2 per dimension, 3 dims summed
    assert F.gaussian_kl(mu, Tensor(np.zeros((2, 3)))).item() == pytest.approx(6.0)


# ============================================================== float64 gradgradchecks
def _gg(fn, *arrays, diff=(0,)):
    xs = [Tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    assert minigrad.gradcheck(fn, xs)
    assert minigrad.gradgradcheck(fn, xs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_gradcheck_gradgradcheck(reduction):
    rng = _rng(11)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    _gg(lambda x, y: F.mse_loss(x, y, reduction), a, b, diff=(0, 1))
    _gg(lambda x, y: F.l1_loss(x, y, reduction), a, b + 0.5, diff=(0, 1))
    _gg(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction,
                                                        pos_weight=Tensor(np.array([2.0, 0.5]))),
        a * 3, rng.uniform(0, 1, (3, 2)), diff=(0, 1))
    _gg(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction),  # fused op
        a * 3, rng.uniform(0, 1, (3, 2)), diff=(0, 1))
    _gg(lambda p, t: F.binary_cross_entropy(p, t, reduction=reduction), _probs((3, 2)),
        rng.uniform(0, 1, (3, 2)), diff=(0, 1))
    target = np.array([1, 0, 2])
    _gg(lambda z: F.cross_entropy(z, target, reduction=reduction, label_smoothing=0.1),
        rng.standard_normal((3, 3)))
    _gg(lambda z, p: F.cross_entropy(z, p, reduction=reduction), rng.standard_normal((3, 3)),
        rng.dirichlet(np.ones(3), 3), diff=(0, 1))
    _gg(lambda x: F.nll_loss(x, target, reduction=reduction), rng.standard_normal((3, 3)))
    ignoring = np.array([1, 0, -100, 2])  # the fused rows op (CrossEntropyRows), one row ignored
    _gg(lambda z: F.cross_entropy(z, ignoring, reduction=reduction), rng.standard_normal((4, 3)))
    _gg(lambda q, p: F.kl_div(q, p, reduction), rng.standard_normal((3, 3)),
        rng.dirichlet(np.ones(3), 3), diff=(0, 1))
    _gg(lambda m, lv: F.gaussian_kl(m, lv, reduction), a, b, diff=(0, 1))


def test_fused_cross_entropy_equals_the_composed_one_on_hard_logits():
    """cross_entropy on (N, C) logits and class indices runs as one op per row (and its gradient
    as one); it equals nll_loss(log_softmax) in value and gradient, at logits of +-1000 (where a
    plain exp overflows), -inf (a class that cannot be) and an ignored row."""
    z = np.array([[1000.0, -1000.0, 0.0], [-np.inf, 2.0, 1.0], [3.0, 1.0, -2.0],
                  [0.5, 0.5, 0.5]])
    target = np.array([0, 1, -100, 2])
    g = np.array([0.3, -1.2, 2.0, 0.7])
    for reduction in REDUCTIONS:
        fused, composed = Tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
        a = F.cross_entropy(fused, target, reduction=reduction)
        b = F.nll_loss(F.log_softmax(composed, 1), target, reduction=reduction)
        assert a._ctx is not None and type(a._ctx).__name__ != "NLLLoss"
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)
        gy = Tensor(g if reduction == "none" else np.array(1.0))
        (ga,), (gb,) = minigrad.grad(a, [fused], gy), minigrad.grad(b, [composed], gy)
        np.testing.assert_allclose(ga.data, gb.data, rtol=1e-12, atol=1e-12)
        assert np.isfinite(ga.data).all() and (ga.data[2] == 0).all()


def test_cross_entropy_names_a_target_out_of_range():
    z = minigrad.randn(3, 4)
    for bad in (4, -2):
        with pytest.raises(IndexError, match=f"cross_entropy: target {bad} is out of bounds "
                                             "for 4 classes"):
            F.cross_entropy(z, np.array([0, bad, 1]))
    F.cross_entropy(z, np.array([0, -100, 3]))  # the ignored index is not a class


# ================================================================================ errors
def test_shape_mismatch_is_an_error():
    x = minigrad.randn(8, 1)
    for fn in (F.mse_loss, F.l1_loss, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"input shape \(8, 1\) and target shape \(8,\)"):
            fn(x, minigrad.zeros(8))
    with pytest.raises(ValueError, match="must match"):
        F.binary_cross_entropy(minigrad.rand(8, 1), minigrad.zeros(8))
    with pytest.raises(TypeError, match="full_like"):
        F.mse_loss(x, 1.0)
    with pytest.raises(ValueError, match="does not match input"):
        F.cross_entropy(minigrad.randn(4, 3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="mu shape"):
        F.gaussian_kl(minigrad.zeros(2, 3), minigrad.zeros(2, 4))


def test_bce_on_logits_suggests_the_logits_version():
    # Checked always, as PyTorch does (it raises "all elements of input should be between 0 and
    # 1"), inside detect_anomaly() or not.
    logits = minigrad.randn(16, 1) * 3
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(logits, minigrad.ones(16, 1))
    with minigrad.detect_anomaly():
        with pytest.raises(ValueError, match="binary_cross_entropy_with_logits"):
            F.binary_cross_entropy(logits, minigrad.ones(16, 1))
        with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
            nn.BCELoss()(minigrad.full((2,), 1.5), minigrad.ones(2))
        with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
            F.binary_cross_entropy(Tensor(np.array([0.5, np.nan])), Tensor(np.array([0.0, 1.0])))
        # probabilities at the boundary are fine
        F.binary_cross_entropy(Tensor(np.array([0.0, 1.0])), Tensor(np.array([0.0, 1.0])))


def test_bce_at_the_boundary_takes_the_clamped_path():
    # p = 0 and 1 give torch's clamped values (log clamped at -100) and torch's gradients (p (1 -
    # p) floored at 1e-12), without evaluating log 0; a p outside [0, 1] is an error, as in
    # torch.
    with pytest.raises(ValueError, match=r"in \[0, 1\] as input, got values in \[0, 1.5\]"):
        F.binary_cross_entropy(Tensor(np.array([1.5, 0.0])), Tensor(np.array([0.0, 1.0])))
    p = Tensor(np.array([0.0, 0.0, 1.0, 0.25]), requires_grad=True)
    t = Tensor(np.array([0.0, 1.0, 0.0, 1.0]))
    with np.errstate(all="raise"):  # no log(0) is evaluated
        loss = F.binary_cross_entropy(p, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0.0, 100.0, 100.0, -np.log(0.25)])
    np.testing.assert_allclose(p.grad.data, [0.0, -1e12, 1e12, -1 / 0.25])
    if torch is not None:  # the in-range elements agree with torch's clamped BCE
        tp = torch.tensor([0.0, 1.0, 0.25], dtype=torch.float64, requires_grad=True)
        want = TF.binary_cross_entropy(tp, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64),
                                       reduction="none")
        np.testing.assert_allclose(loss.data[1:], want.detach().numpy())


def test_cross_entropy_target_errors():
    z = minigrad.randn(3, 4)
    with minigrad.detect_anomaly(), \
            pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with minigrad.detect_anomaly(), \
            pytest.raises(IndexError, match="target -2 is out of bounds for 4 classes"):
        F.nll_loss(z, np.array([0, -2, 1]))
    with pytest.raises(IndexError):  # unchecked, numpy's own indexing still refuses it on CPU
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(z, np.array([0, 1, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="logits"):
        F.cross_entropy(minigrad.randn(3), np.array([0]))


def test_integer_targets_are_accepted_for_binary_losses():
    z = minigrad.randn(4, requires_grad=True)
    a = F.binary_cross_entropy_with_logits(z, Tensor(np.array([0, 1, 1, 0])))
    b = F.binary_cross_entropy_with_logits(z, Tensor(np.array([0.0, 1.0, 1.0, 0.0])))
    assert a.dtype == np.float32 and a.item() == pytest.approx(b.item())


def test_one_hot():
    oh = F.one_hot(Tensor(np.array([0, 2, 1])), 4)
    assert oh.dtype == np.int64
    np.testing.assert_array_equal(oh.data, np.eye(4, dtype=np.int64)[[0, 2, 1]])
    assert F.one_hot(np.array([[1], [3]])).shape == (2, 1, 4)
    with minigrad.detect_anomaly(), pytest.raises(ValueError, match="class values"):
        F.one_hot(np.array([5]), 3)
    with pytest.raises(ValueError, match="class values"):  # always checked on the CPU
        F.one_hot(np.array([5]), 3)
    with pytest.raises(ValueError, match="class values"):
        F.one_hot(Tensor(np.array([0, -1])), 3)
    if torch is not None:
        np.testing.assert_array_equal(
            F.one_hot(np.array([3, 0, 1]), 5).data,
            TF.one_hot(torch.tensor([3, 0, 1]), 5).numpy())


def test_loss_modules_validate_reduction():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


# ====================================================== no device-to-host reads per call
class _OnDevice(np.ndarray):
    """An array of a pretend GPU: reading its values back to the host (bool(), float(), item(),
    what a value check does) raises, as a synchronisation would cost a real device."""

    def _host(self, *args, **kwargs):
        raise AssertionError("a device-to-host read on the hot path")

    __bool__ = __float__ = __int__ = item = tolist = _host


def _on_device(a):
    return np.asarray(a).view(_OnDevice) if isinstance(a, (np.ndarray, np.generic)) else a


class _DeviceXP:
    """numpy whose results stay on the pretend device."""

    def __getattr__(self, name):
        f = getattr(np, name)
        if not callable(f) or isinstance(f, type):
            return f
        return lambda *args, **kwargs: _on_device(f(*args, **kwargs))


@pytest.fixture
def pretend_gpu(monkeypatch):
    from minigrad import backend
    real, xp = backend.get_array_module, _DeviceXP()
    monkeypatch.setattr(backend, "get_array_module", lambda *arrays: xp if any(
        isinstance(a, _OnDevice) for a in arrays) else real(*arrays))

    def make(values, requires_grad=False):
        return Tensor._wrap(_on_device(np.asarray(values)), requires_grad, None)
    return make


def test_losses_do_not_read_values_back(pretend_gpu):
    p = pretend_gpu([[0.2, 1.0], [0.0, 0.7]], requires_grad=True)
    t = pretend_gpu([[0.0, 1.0], [1.0, 1.0]])
    z = pretend_gpu([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]], requires_grad=True)
    labels = pretend_gpu(np.array([2, -100]))
    weight = pretend_gpu(np.array([1.0, 2.0, 0.5]))
    losses = [
        F.binary_cross_entropy(p, t),
        F.binary_cross_entropy(p, t, reduction="sum"),
        F.kl_div(z, F.softmax(z.detach(), 1), reduction="batchmean"),
        F.kl_div(z, pretend_gpu([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])),
        F.cross_entropy(z, labels),
        F.cross_entropy(z, labels, weight=weight, label_smoothing=0.1),
        F.nll_loss(F.log_softmax(z, 1), labels, weight=weight),
        minigrad.norm(z, dim=1).sum(),   # a zero row: the eps-safe path
        F.embedding(pretend_gpu(np.array([1, 0, 1])), z).sum(),
        (F.one_hot(pretend_gpu(np.array([0, 2])), 3) * z).sum(),
    ]
    total = losses[0]
    for loss in losses[1:]:
        assert isinstance(loss.data, _OnDevice)
        total = total + loss
    total.backward()
    assert isinstance(p.grad.data, _OnDevice) and isinstance(z.grad.data, _OnDevice)
    for g in (p.grad, z.grad):
        assert np.isfinite(np.asarray(g.data)).all()


def test_the_pretend_device_catches_a_value_check(pretend_gpu):
    p, t = pretend_gpu([0.2, 0.4]), pretend_gpu([0.0, 1.0])
    with minigrad.detect_anomaly(check_forward=False), pytest.raises(AssertionError,
                                                                     match="device-to-host"):
        F.binary_cross_entropy(p, t)


def test_bce_with_logits_gradient_op_gradcheck_gradgradcheck():
    """BCEWithLogitsGrad (gz = gy (sigmoid(z) - t), the fused loss's gradient in z as one op):
    its own first and second derivatives in all three inputs, so the loss is exact to third
    order; and its value is the composed expression's."""
    from minigrad.ops.elementwise import BCEWithLogitsGrad

    rng = _rng(12)
    gy, z = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)) * 3
    t = rng.uniform(0, 1, (3, 2))
    _gg(lambda a, b, c: BCEWithLogitsGrad.apply(a, b, c), gy, z, t, diff=(0, 1, 2))
    got = BCEWithLogitsGrad.apply(Tensor(gy), Tensor(z), Tensor(t)).data
    np.testing.assert_allclose(got, gy * (1 / (1 + np.exp(-z)) - t), rtol=1e-12)
