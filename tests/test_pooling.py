"""Pooling (nn.functional.max_pool2d / avg_pool2d / adaptive_avg_pool2d / adaptive_max_pool2d
and their modules) against torch where the op table (tests/op_specs.py, which keeps max pooling
away from ties) does not reach: ties, return_indices, ceil mode's edges, the divisors, unbatched
and empty inputs, the modules and their reprs, and the argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.nn import _pool
from minigrad.nn import functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def _pair(a):
    """The same float64 values as a minigrad and a torch leaf."""
    return minigrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _ties(shape, seed=0):
    """Small integers: most windows hold their maximum more than once."""
    return np.random.default_rng(seed).integers(-1, 2, shape).astype(np.float64)


def _assert_like_torch(ours, theirs, x, t, seed=1):
    """Values (and indices) equal torch's, and so does the gradient for a random cotangent."""
    ours, theirs = (ours if isinstance(ours, tuple) else (ours,)), \
        (theirs if isinstance(theirs, tuple) else (theirs,))
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].detach().numpy())
    if len(ours) == 2:
        assert ours[1].dtype == np.int64 and not ours[1].requires_grad
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    g = np.random.default_rng(seed).standard_normal(ours[0].shape)
    (gx,) = minigrad.grad(ours[0], [x], minigrad.tensor(g))
    (gt,) = torch.autograd.grad(theirs[0], [t], torch.tensor(g))
    np.testing.assert_allclose(gx.numpy(), gt.numpy(), rtol=1e-12, atol=1e-12)


# (shape, kernel_size, stride, padding, dilation, ceil_mode): overlapping, padded, dilated,
# non-square, ceil-mode and tiling windows (the last two take the reshape fast path)
MAX_CASES = [
    ((2, 3, 6, 6), 3, 1, 1, 1, False),
    ((2, 3, 6, 5), (3, 2), (2, 1), (1, 1), 1, True),
    ((1, 2, 7, 7), 3, 2, 1, 2, True),
    ((1, 2, 5, 6), (2, 3), (3, 2), (1, 0), (2, 1), False),
    ((3, 5, 5), 2, 2, 1, 1, True),           # unbatched
    ((2, 2, 6, 4), 2, None, 0, 1, False),    # tiles the plane
    ((2, 2, 7, 5), 2, None, 0, 1, False),    # tiles, leaving a row and a column out
]


@pytest.mark.parametrize("shape, k, s, p, d, ceil", MAX_CASES)
def test_max_pool2d_on_ties_matches_torch_values_indices_and_gradient(shape, k, s, p, d, ceil):
    x, t = _pair(_ties(shape))
    _assert_like_torch(F.max_pool2d(x, k, s, p, d, ceil, return_indices=True),
                       tF.max_pool2d(t, k, s, p, d, ceil, return_indices=True), x, t)


def test_a_tied_window_sends_its_whole_gradient_to_its_first_maximum():
    x = minigrad.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0], [0.0, 0.0]]]])  # not 0.25 each
    x = minigrad.tensor([[[[0.0, 2.0, 2.0], [2.0, 1.0, 2.0]]]], requires_grad=True)
    values, indices = F.max_pool2d(x, 2, stride=1, return_indices=True)
    values.sum().backward()
    np.testing.assert_array_equal(indices.numpy(), [[[[1, 1]]]])  # both windows: (0, 1)
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]]])


def test_windows_of_minus_infinity_return_torchs_indices():
    # every window's maximum is -inf, tied with the padding: torch returns the first element of
    # the window inside the plane
    a = np.full((1, 1, 3, 4), -np.inf)
    a[0, 0, 2, 3] = 1.0
    x, t = _pair(a)
    _assert_like_torch(F.max_pool2d(x, 3, 2, 1, return_indices=True, ceil_mode=True),
                       tF.max_pool2d(t, 3, 2, 1, return_indices=True, ceil_mode=True), x, t)


@pytest.mark.parametrize("shape, size", [((2, 3, 7, 5), (3, 2)), ((2, 4, 4), 3),
                                         ((1, 2, 5, 6), (None, 4)), ((1, 1, 3, 2), (5, 4)),
                                         ((1, 2, 6, 4), (3, 2))])
def test_adaptive_max_pool2d_on_ties_matches_torch(shape, size):
    x, t = _pair(_ties(shape, seed=2))
    _assert_like_torch(F.adaptive_max_pool2d(x, size, return_indices=True),
                       tF.adaptive_max_pool2d(t, size, return_indices=True), x, t)


@pytest.mark.parametrize("shape, size", [((2, 3, 7, 5), (3, 2)), ((2, 4, 4), 3),
                                         ((1, 2, 5, 6), (None, 4)), ((1, 1, 3, 2), (5, 4)),
                                         ((2, 3, 8, 8), 1), ((1, 2, 6, 4), (3, 2))])
def test_adaptive_avg_pool2d_matches_torch(shape, size):
    x, t = _pair(np.random.default_rng(3).standard_normal(shape))
    y, yt = F.adaptive_avg_pool2d(x, size), tF.adaptive_avg_pool2d(t, size)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(4).standard_normal(y.shape)
    (gx,) = minigrad.grad(y, [x], minigrad.tensor(g))
    (gt,) = torch.autograd.grad(yt, [t], torch.tensor(g))
    np.testing.assert_allclose(gx.numpy(), gt.numpy(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------- ceil mode
@pytest.mark.parametrize("n, k, s, p, floor_size, ceil_size", [
    (5, 2, 2, 0, 2, 3),   # the last window hangs over the input's end
    (4, 2, 3, 1, 2, 2),   # a third window would start past the input and its padding: dropped
    (5, 2, 3, 1, 2, 2),   # a third window would start in the right padding: dropped
    (6, 3, 2, 1, 3, 4),   # the fourth starts on the last row, then padding and overhang: kept
    (7, 3, 3, 1, 3, 3),
    (8, 3, 3, 0, 2, 3),
])
def test_ceil_mode_output_sizes_and_values_match_torch(n, k, s, p, floor_size, ceil_size):
    x, t = _pair(np.random.default_rng(5).standard_normal((1, 2, n, n)))
    for ceil, size in ((False, floor_size), (True, ceil_size)):
        y = F.max_pool2d(x, k, s, p, ceil_mode=ceil)
        assert y.shape == (1, 2, size, size)
        _assert_like_torch(y, tF.max_pool2d(t, k, s, p, ceil_mode=ceil), x, t)
        for include in (True, False):
            a = F.avg_pool2d(x, k, s, p, ceil, count_include_pad=include)
            b = tF.avg_pool2d(t, k, s, p, ceil, count_include_pad=include)
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------- averages
def test_avg_pool2d_divisors():
    x = minigrad.tensor(np.ones((1, 1, 3, 3)))
    # count_include_pad: a corner window of 2x2 ones and five padding zeros, over 9
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 2, 1).numpy(), np.full((1, 1, 2, 2), 4 / 9))
    np.testing.assert_array_equal(F.avg_pool2d(x, 3, 2, 1, count_include_pad=False).numpy(),
                                  np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(F.avg_pool2d(x, 3, 2, 1, divisor_override=2).numpy(),
                                  np.full((1, 1, 2, 2), 2.0))
    # ceil mode: the overhang past the padding is not counted (the last window of a 4-wide
    # input, kernel 3, stride 2, padding 1 covers columns 3, 4 (padding) and 5 (past it))
    x, t = _pair(np.arange(16.0).reshape(1, 1, 4, 4))
    y = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)
    np.testing.assert_allclose(y.numpy()[0, 0, 2, 2], 15.0 / 4)
    _avg_like_torch(y, tF.avg_pool2d(t, 3, 2, 1, ceil_mode=True), x, t)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1), ceil_mode=True,
         count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=-3),
    dict(kernel_size=2, divisor_override=3),     # the tiling fast path
    dict(kernel_size=(2, 3), stride=1),
])
def test_avg_pool2d_matches_torch(kw):
    for shape in ((2, 3, 5, 6), (3, 5, 6)):
        x, t = _pair(np.random.default_rng(6).standard_normal(shape))
        _avg_like_torch(F.avg_pool2d(x, **kw), tF.avg_pool2d(t, **kw), x, t)


def _avg_like_torch(y, yt, x, t):
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(7).standard_normal(y.shape)
    (gx,) = minigrad.grad(y, [x], minigrad.tensor(g))
    (gt,) = torch.autograd.grad(yt, [t], torch.tensor(g))
    np.testing.assert_allclose(gx.numpy(), gt.numpy(), rtol=1e-12, atol=1e-12)


def test_an_infinite_element_next_to_the_padding_averages_to_inf_not_nan():
    a = np.zeros((1, 1, 2, 2))
    a[0, 0, 0, 0] = -np.inf
    x, t = _pair(a)
    np.testing.assert_array_equal(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False).numpy(),
                                  tF.avg_pool2d(t, 3, 1, 1, count_include_pad=False).detach())


# --------------------------------------------------------------- the tiling fast path
@pytest.mark.parametrize("pool", [
    lambda x: F.max_pool2d(x, 2, return_indices=True),
    lambda x: F.max_pool2d(x, (3, 2), return_indices=True),
    lambda x: F.avg_pool2d(x, 2),
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    lambda x: F.adaptive_max_pool2d(x, 3, return_indices=True),
])
def test_the_tiling_fast_path_equals_the_gather_at_every_order(pool, monkeypatch):
    a = _ties((2, 2, 6, 6), seed=8)

    def run():
        x = minigrad.tensor(a, requires_grad=True)
        out = pool(x)
        out = out if isinstance(out, tuple) else (out,)
        v = minigrad.tensor(np.random.default_rng(9).standard_normal(out[0].shape),
                            requires_grad=True)
        (g,) = minigrad.grad(out[0], [x], v, create_graph=True)
        gg = minigrad.grad((g * g).sum(), [v])[0]
        return [o.numpy() for o in out] + [g.numpy(), gg.numpy()]

    fast = run()
    monkeypatch.setattr(_pool, "_tiles", lambda pos, valid: False)
    for a_, b_ in zip(fast, run()):
        np.testing.assert_array_equal(a_, b_)


# ------------------------------------------------------------ batches, dtypes, modules
def test_empty_batches_and_empty_adaptive_outputs_as_torch():
    x = minigrad.zeros(0, 2, 5, 5)
    assert F.max_pool2d(x, 2).shape == tuple(tF.max_pool2d(torch.zeros(0, 2, 5, 5), 2).shape)
    assert F.avg_pool2d(x, 3, 1, 1).shape == (0, 2, 5, 5)
    y = minigrad.randn(1, 2, 5, 5)
    assert F.adaptive_avg_pool2d(y, 0).shape == (1, 2, 0, 0)
    assert F.adaptive_max_pool2d(y, (0, 3)).shape == (1, 2, 0, 3)


def test_dtypes_float32_stays_float32_and_max_pools_integers_as_torch():
    x = minigrad.randn(1, 2, 4, 4)
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 1, 1), F.adaptive_avg_pool2d(x, 3),
              F.adaptive_max_pool2d(x, 3)):
        assert y.dtype == np.float32
    a = np.arange(25).reshape(1, 1, 5, 5)
    values, indices = F.max_pool2d(minigrad.tensor(a), 2, return_indices=True)
    expected = tF.max_pool2d(torch.tensor(a), 2, return_indices=True)
    assert values.dtype == np.int64
    np.testing.assert_array_equal(values.numpy(), expected[0].numpy())
    np.testing.assert_array_equal(indices.numpy(), expected[1].numpy())


def test_modules_compute_their_functional_and_print_like_torch():
    pairs = [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.MaxPool2d((3, 2), 1, 1, 2, ceil_mode=True),
         torch.nn.MaxPool2d((3, 2), 1, 1, 2, ceil_mode=True)),
        (nn.MaxPool2d(3, (2, 1), return_indices=True),
         torch.nn.MaxPool2d(3, (2, 1), return_indices=True)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False, divisor_override=2),
         torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False,
                            divisor_override=2)),
        (nn.AdaptiveAvgPool2d(3), torch.nn.AdaptiveAvgPool2d(3)),
        (nn.AdaptiveAvgPool2d((None, 2)), torch.nn.AdaptiveAvgPool2d((None, 2))),
        (nn.AdaptiveMaxPool2d((2, 3), return_indices=True),
         torch.nn.AdaptiveMaxPool2d((2, 3), return_indices=True)),
    ]
    a = _ties((2, 3, 7, 6), seed=10)
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert list(ours.parameters()) == [] and ours.state_dict() == {}
        for shape in ((2, 3, 7, 6), (3, 7, 6)):
            x, t = _pair(a.reshape(-1)[:np.prod(shape)].reshape(shape))
            y, yt = ours(x), theirs(t)
            assert isinstance(y, tuple) == isinstance(yt, tuple)
            if isinstance(y, tuple):
                _assert_like_torch(y, yt, x, t)
            else:
                _avg_like_torch(y, yt, x, t)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
    assert m(minigrad.randn(2, 3, 8, 8)).shape == (2, 4)


def test_pooling_is_exported_like_the_other_layers():
    for name in ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        assert name in nn.__all__ and getattr(nn, name) is getattr(nn.layers, name)
    for name in ("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"):
        assert name in F.__all__ and hasattr(tF, name)


# ------------------------------------------------------------------------------ errors
X = np.zeros((1, 2, 5, 5))


@pytest.mark.parametrize("call, shape, error, match", [
    (lambda f, x: f.max_pool2d(x, 2), (5, 5), ValueError, r"3-D \(C, H, W\) or 4-D"),
    (lambda f, x: f.max_pool2d(x, 2), (1, 1, 1, 5, 5), ValueError, r"got shape \(1, 1, 1, 5, 5"),
    (lambda f, x: f.max_pool2d(x, 2), (1, 0, 5, 5), ValueError, "non-empty C, H and W"),
    (lambda f, x: f.avg_pool2d(x, 2), (1, 2, 0, 5), ValueError, "non-empty C, H and W"),
    (lambda f, x: f.avg_pool2d(x, 2), (5, 5), ValueError, r"3-D \(C, H, W\) or 4-D"),
    (lambda f, x: f.max_pool2d(x, 0), X.shape, ValueError, "kernel_size must be >= 1, got 0"),
    (lambda f, x: f.max_pool2d(x, 2, 0), X.shape, ValueError, "stride must be >= 1, got 0"),
    (lambda f, x: f.max_pool2d(x, 2, dilation=(1, 0)), X.shape, ValueError,
     r"dilation must be >= 1, got \(1, 0\)"),
    (lambda f, x: f.avg_pool2d(x, 2, padding=-1), X.shape, ValueError,
     "padding must be >= 0, got -1"),
    (lambda f, x: f.max_pool2d(x, 3, padding=2), X.shape, ValueError,
     r"padding \(2, 2\) must be at most half the kernel size \(3, 3\)"),
    (lambda f, x: f.max_pool2d(x, 3, padding=2, dilation=3), X.shape, ValueError,
     "at most half the kernel size"),
    (lambda f, x: f.avg_pool2d(x, (4, 2), padding=(1, 2)), X.shape, ValueError,
     "at most half the kernel size"),
    (lambda f, x: f.max_pool2d(x, 6), X.shape, ValueError,
     r"output size \(0, 0\) is too small: a \(6, 6\) kernel"),
    (lambda f, x: f.avg_pool2d(x, (2, 8), padding=(0, 1)), X.shape, ValueError,
     "is too small"),
    (lambda f, x: f.max_pool2d(x, 3, dilation=3), X.shape, ValueError, "is too small"),
    (lambda f, x: f.max_pool2d(x, (2, 2, 2)), X.shape, ValueError,
     "kernel_size must be an int or a pair"),
    (lambda f, x: f.max_pool2d(x, 2.5), X.shape, TypeError, "kernel_size must be an int"),
    (lambda f, x: f.avg_pool2d(x, 2, divisor_override=0), X.shape, ValueError,
     "divisor_override must not be zero"),
    (lambda f, x: f.avg_pool2d(x, 2, divisor_override=2.5), X.shape, TypeError,
     "divisor_override must be an int"),
    (lambda f, x: f.adaptive_avg_pool2d(x, -1), X.shape, ValueError,
     "output_size must be >= 0"),
    (lambda f, x: f.adaptive_max_pool2d(x, (1, 2, 3)), X.shape, ValueError,
     "output_size must be an int or a pair"),
    (lambda f, x: f.adaptive_avg_pool2d(x, 2), (5, 5), ValueError, r"3-D \(C, H, W\) or 4-D"),
    (lambda f, x: f.adaptive_max_pool2d(x, 2), (1, 2, 0, 5), ValueError, "non-empty C, H and W"),
])
def test_bad_arguments_are_named_and_torch_refuses_them_too(call, shape, error, match):
    with pytest.raises(error, match=match):
        call(F, minigrad.zeros(*shape))
    with pytest.raises((RuntimeError, ValueError, TypeError, IndexError)):
        call(tF, torch.zeros(shape))


def test_layers_check_their_arguments_when_built():
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size must be >= 1, got 0"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match=r"AvgPool2d: padding \(2, 2\) must be at most half"):
        nn.AvgPool2d(3, padding=2)
    with pytest.raises(ValueError, match=r"MaxPool2d expects a 3-D input \(C, H, W\) or 4-D"):
        nn.MaxPool2d(2)(minigrad.zeros(4, 4))
    with pytest.raises(TypeError, match="AvgPool2d.forward expects a minigrad Tensor"):
        nn.AvgPool2d(2)(np.zeros((1, 1, 4, 4)))


def test_integer_averages_are_refused_where_torch_truncates():
    # torch's avg_pool2d of an int64 tensor rounds each mean toward zero; minigrad refuses
    # integer means everywhere (see functional.mean)
    with pytest.raises(TypeError, match=r"avg_pool2d: needs a floating-point input.*x.float\(\)"):
        F.avg_pool2d(minigrad.tensor(np.arange(16).reshape(1, 1, 4, 4)), 2)


def test_a_window_wholly_in_the_padding_is_refused_where_torch_returns_minus_inf():
    # a dilated window starting in the padding can skip the whole input: torch then returns
    # -inf with an index outside the plane
    v, i = tF.max_pool2d(torch.zeros(1, 1, 1, 3), (2, 1), 1, (1, 0), (2, 1), return_indices=True)
    assert torch.isinf(v).all() and (i >= 3).all()
    with pytest.raises(ValueError, match="holds no input element"):
        F.max_pool2d(minigrad.zeros(1, 1, 1, 3), (2, 1), 1, (1, 0), (2, 1))


# ============================================================================ one-dimensional
@pytest.mark.parametrize("name,args,kw", [
    ("MaxPool1d", (3,), dict(stride=2, padding=1, return_indices=True)),
    ("MaxPool1d", (2,), dict(dilation=2, ceil_mode=True)),
    ("AvgPool1d", (3, 2, 1), dict(count_include_pad=False, ceil_mode=True)),
    ("AvgPool1d", (2,), {}),
    ("AdaptiveAvgPool1d", (4,), {}),
    ("AdaptiveMaxPool1d", (4,), dict(return_indices=True)),
])
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 9)])
def test_1d_pooling_layers_match_torch(name, args, kw, shape):
    """Values, indices and gradients (a tie in the first window) against torch's layers."""
    a = np.random.default_rng(5).standard_normal(shape)
    a[..., 0, 1] = a[..., 0, 0]
    mine, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(mine) == repr(theirs)
    xm, xt = minigrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ym, yt = mine(xm), theirs(xt)
    if kw.get("return_indices"):
        (ym, im), (yt, it) = ym, yt
        np.testing.assert_array_equal(im.numpy(), it.numpy())
    np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), rtol=1e-12)
    (ym * ym).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("fn,args", [("max_pool1d", (2, 1)), ("avg_pool1d", (3, 2, 1)),
                                     ("adaptive_avg_pool1d", (3,)),
                                     ("adaptive_max_pool1d", (2,))])
def test_1d_pooling_functionals_pass_gradgradcheck(fn, args):
    x = minigrad.tensor(np.random.default_rng(6).permutation(np.arange(10.0)).reshape(1, 2, 5),
                        requires_grad=True)
    call = lambda t: getattr(F, fn)(t, *args)  # noqa: E731
    assert minigrad.gradcheck(call, [x])
    assert minigrad.gradgradcheck(call, [x])


def test_1d_pooling_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"max_pool1d expects a 2-D \(C, L\) or 3-D \(N, C, L\)"):
        F.max_pool1d(minigrad.ones(1, 1, 2, 2), 2)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a 1-tuple"):
        nn.AvgPool1d((2, 2))
    with pytest.raises(ValueError, match=r"padding .* must be at most half the kernel"):
        nn.MaxPool1d(2, padding=2)
    with pytest.raises(ValueError, match=r"MaxPool1d expects a 2-D input \(C, L\) or 3-D input"):
        nn.MaxPool1d(2)(minigrad.ones(1, 1, 2, 2))
