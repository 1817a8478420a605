"""nn.functional's other activations (gelu, elu, selu, celu, silu, mish, hardtanh, relu6,
hardsigmoid, hardswish, logsigmoid, softsign, glu, prelu), normalize/cosine_similarity, the
robust losses and their layers, beyond the op table's gradient checks: the derivative torch
picks at each kink, the layers against torch's (parameters, reprs), and the argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def _grads(fn, tfn, values):
    x = mg.tensor(values, dtype="float64", requires_grad=True)
    fn(x).sum().backward()
    xt = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    tfn(xt).sum().backward()
    return x.grad.numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name,fn,tfn,kinks", [
    ("hardtanh", F.hardtanh, tF.hardtanh, [-1.0, 1.0]),
    ("hardtanh(-2, 0.5)", lambda x: F.hardtanh(x, -2, 0.5), lambda x: tF.hardtanh(x, -2, 0.5),
     [-2.0, 0.5]),
    ("relu6", F.relu6, tF.relu6, [0.0, 6.0]),
    ("hardsigmoid", F.hardsigmoid, tF.hardsigmoid, [-3.0, 3.0]),
    ("hardswish", F.hardswish, tF.hardswish, [-3.0, 3.0]),
    ("elu", F.elu, tF.elu, [0.0]),
    ("elu(0.5)", lambda x: F.elu(x, 0.5), lambda x: tF.elu(x, 0.5), [0.0]),
    ("selu", F.selu, tF.selu, [0.0]),
    ("celu(2)", lambda x: F.celu(x, 2.0), lambda x: tF.celu(x, 2.0), [0.0]),
    ("softsign", F.softsign, tF.softsign, [0.0]),
    ("prelu", lambda x: F.prelu(x, mg.tensor([0.3], dtype="float64")),
     lambda x: tF.prelu(x, torch.tensor([0.3], dtype=torch.float64)), [0.0]),
])
def test_derivatives_at_the_kinks_are_torchs(name, fn, tfn, kinks):
    """At a kink torch takes one side's derivative (hardtanh's corners 0 where clamp's are 1):
    the values there and either side match torch's."""
    points = [k + d for k in kinks for d in (-1e-3, 0.0, 1e-3)]
    got, want = _grads(fn, tfn, points)
    # torch's float64 hardsigmoid gradient is its float32 constant 1/6 (0.16666667163)
    rtol = 1e-7 if name == "hardsigmoid" else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12, err_msg=name)
    if name == "hardsigmoid":
        np.testing.assert_array_equal(got, [0, 0, 1 / 6, 1 / 6, 0, 0])
    x = mg.tensor(points, dtype="float64")
    np.testing.assert_allclose(fn(x).numpy(), tfn(torch.tensor(points, dtype=torch.float64)),
                               rtol=1e-12, atol=1e-15, err_msg=name)


def test_gelu_float32_is_accurate_on_both_tails():
    """x Phi(x) in float32 to a few ulps of the float64 value, the left tail included (torch's
    own float32 gelu, 1 + erf(x / sqrt 2), loses digits there: off by 2e-3 relative at x = -4,
    so it is not the reference here). Down to x = -6 (Phi = 1e-9): further out, rounding x / sqrt 2
    to float32 alone moves erfc by more than 3e-6 relative (its condition number is ~x^2)."""
    from scipy import special
    a = np.linspace(-6, 6, 121, dtype=np.float32)
    exact = a.astype(np.float64) * 0.5 * special.erfc(-a.astype(np.float64) / np.sqrt(2))
    np.testing.assert_allclose(F.gelu(mg.tensor(a)).numpy(), exact, rtol=3e-6, atol=1e-37)
    tanh_form = tF.gelu(torch.tensor(a), approximate="tanh").numpy()
    np.testing.assert_allclose(F.gelu(mg.tensor(a), "tanh").numpy(), tanh_form, rtol=2e-6,
                               atol=2e-7)


def test_tails_stay_finite_as_torchs():
    a = np.array([-200.0, -50.0, 50.0, 200.0])
    for fn, tfn in ((F.logsigmoid, tF.logsigmoid), (F.mish, tF.mish), (F.silu, tF.silu),
                    (F.elu, tF.elu)):
        got, want = _grads(fn, tfn, a)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(fn(mg.tensor(a)).numpy(), tfn(torch.tensor(a)).numpy(),
                                   rtol=1e-12)


def test_cosine_similarity_and_normalize_at_zero_vectors_match_torch():
    """The eps clamps: a zero vector gives 0 (not NaN), with torch's gradient (its clamp of the
    norm is invisible to autograd in cosine_similarity, a real clamp in normalize)."""
    a = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [1e-9, 0.0, 0.0]])
    b = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0], [1.0, 0.0, 0.0]])
    x, y = (mg.tensor(v, requires_grad=True) for v in (a, b))
    xt, yt = (torch.tensor(v, requires_grad=True) for v in (a, b))
    (F.cosine_similarity(x, y) * mg.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    (tF.cosine_similarity(xt, yt) * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum() \
        .backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), yt.grad.numpy(), rtol=1e-10, atol=1e-12)
    x.grad = None
    xt.grad = None
    (F.normalize(x) * mg.tensor(b)).sum().backward()
    (tF.normalize(xt) * torch.tensor(b)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_layers_equal_torchs():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    for mine, theirs in [(nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
                         (nn.ELU(0.7), torch.nn.ELU(0.7)), (nn.SELU(), torch.nn.SELU()),
                         (nn.CELU(1.5), torch.nn.CELU(1.5)), (nn.SiLU(), torch.nn.SiLU()),
                         (nn.Mish(), torch.nn.Mish()), (nn.Hardtanh(-0.5, 2), torch.nn.Hardtanh(
                             -0.5, 2)), (nn.ReLU6(), torch.nn.ReLU6()),
                         (nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
                         (nn.Hardswish(), torch.nn.Hardswish()),
                         (nn.LogSigmoid(), torch.nn.LogSigmoid()),
                         (nn.Softsign(), torch.nn.Softsign()), (nn.GLU(1), torch.nn.GLU(1)),
                         (nn.PReLU(), torch.nn.PReLU()), (nn.PReLU(4, 0.1), torch.nn.PReLU(4, 0.1)),
                         (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
                         (nn.GroupNorm(4, 4, affine=False), torch.nn.GroupNorm(4, 4,
                                                                               affine=False))]:
        np.testing.assert_allclose(mine(mg.tensor(a)).numpy(),
                                   theirs(torch.tensor(a)).detach().numpy(), rtol=2e-6,
                                   atol=2e-6, err_msg=repr(mine))
        assert [tuple(p.shape) for p in mine.parameters()] == \
            [tuple(p.shape) for p in theirs.parameters()], repr(mine)
    assert repr(nn.ELU(0.5)) == "ELU(alpha=0.5)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Hardtanh(-2, 2)) == repr(torch.nn.Hardtanh(-2, 2))


def test_prelu_learns_its_slopes():
    layer = nn.PReLU(2)
    x = mg.tensor([[[-1.0, 2.0]], [[-3.0, -4.0]]]).reshape(1, 2, 2)  # channels -1,2 and -3,-4
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), [-1.0, -7.0])


@pytest.mark.parametrize("name,beta", [("smooth_l1", 1.0), ("smooth_l1", 0.3), ("smooth_l1", 0.0),
                                       ("huber", 1.0), ("huber", 2.5)])
def test_robust_losses_and_layers_match_torch(name, beta):
    a = np.array([[0.1, -2.0, 3.0], [0.5, 0.0, -0.25]])
    b = np.array([[0.0, 0.0, 0.0], [0.5, 1.0, 0.0]])
    for reduction in ("mean", "sum", "none"):
        if name == "smooth_l1":
            got = nn.SmoothL1Loss(reduction, beta)(mg.tensor(a), mg.tensor(b))
            want = tF.smooth_l1_loss(torch.tensor(a), torch.tensor(b), reduction=reduction,
                                     beta=beta)
        else:
            got = nn.HuberLoss(reduction, beta)(mg.tensor(a), mg.tensor(b))
            want = tF.huber_loss(torch.tensor(a), torch.tensor(b), reduction=reduction,
                                 delta=beta)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call,error,match", [
    (lambda x: F.glu(x, 1), ValueError, r"glu: halving dim 1 needs an even size"),
    (lambda x: F.gelu(x, "erf"), ValueError, r"gelu: approximate must be 'none' or 'tanh'"),
    (lambda x: F.gelu(x.long()), TypeError, r"gelu: expected a floating-point tensor"),
    (lambda x: F.prelu(x, mg.ones(2)), ValueError, r"prelu: weight has 2 elements; expected 1 "
                                                   r"or the 3 channels"),
    (lambda x: nn.GroupNorm(2, 3), ValueError, r"num_channels \(3\) must be divisible"),
    (lambda x: nn.GroupNorm(1, 4)(x), ValueError, r"expects input \(N, 4, \*\)"),
    (lambda x: F.smooth_l1_loss(x, x, beta=-1.0), ValueError, r"beta must be >= 0"),
    (lambda x: F.huber_loss(x, x, delta=0.0), ValueError, r"delta must be > 0"),
])
def test_argument_errors_name_the_problem(call, error, match):
    x = mg.ones(2, 3)
    with pytest.raises(error, match=match):
        call(x)
