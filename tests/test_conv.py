"""The convolution trio (ops/conv.py): adjoint identities, gradcheck and gradgradcheck in float64
(meaningful without torch), and forward / first / second-order parity with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import Tensor
from minigrad.ops.conv import Conv2d, Conv2dGradWeight, ConvTranspose2d

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


# (N, C, H, W, OC, (KH, KW), stride, padding, dilation): non-square inputs and kernels, strides
# 1-2, paddings 0-2, dilations 1-2, in every direction.
CONFIGS = [
    (2, 3, 7, 6, 4, (3, 2), (1, 1), (0, 0), (1, 1)),
    (2, 2, 8, 7, 3, (3, 3), (2, 2), (1, 1), (1, 1)),
    (1, 3, 9, 8, 2, (2, 3), (2, 1), (2, 1), (1, 2)),
    (2, 2, 7, 9, 3, (3, 2), (1, 2), (0, 2), (2, 1)),
    (3, 1, 6, 6, 2, (4, 4), (2, 2), (1, 1), (1, 1)),  # DCGAN's block
    (2, 2, 5, 5, 2, (1, 1), (1, 1), (0, 0), (1, 1)),  # 1x1 conv
]
IDS = [f"k{c[5][0]}x{c[5][1]}-s{c[6][0]}{c[6][1]}-p{c[7][0]}{c[7][1]}-d{c[8][0]}{c[8][1]}"
       for c in CONFIGS]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(a, grad=False):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def _out_hw(h, w, k, s, p, d):
    return ((h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1,
            (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1)


def _conv(x, W, b=None, s=(1, 1), p=(0, 0), d=(1, 1)):
    args = (x, W) if b is None else (x, W, b)
    return Conv2d.apply(*args, stride=s, padding=p, dilation=d)


def _convT(x, W, b=None, s=(1, 1), p=(0, 0), d=(1, 1), size=None):
    args = (x, W) if b is None else (x, W, b)
    return ConvTranspose2d.apply(*args, stride=s, padding=p, dilation=d, output_size=size)


# ------------------------------------------------------------------------- adjointness
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_adjoint_identity(cfg, kernels):
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)>, and <conv2d(x, W), g> =
    <W, grad_weight(x, g)>: the three ops are the three faces of one bilinear form."""
    n, c, h, w, oc, k, s, p, d = cfg
    rng = _rng(1)
    oh, ow = _out_hw(h, w, k, s, p, d)
    x = rng.standard_normal((n, c, h, w))
    W = rng.standard_normal((oc, c) + k)
    y = rng.standard_normal((n, oc, oh, ow))
    lhs = float((_conv(_t(x), _t(W), s=s, p=p, d=d).data * y).sum())
    xt = _convT(_t(y), _t(W), s=s, p=p, d=d, size=(h, w)).data
    assert xt.shape == x.shape
    np.testing.assert_allclose(lhs, float((x * xt).sum()), rtol=1e-10)
    gW = Conv2dGradWeight.apply(_t(x), _t(y), kernel_size=k, stride=s, padding=p,
                                dilation=d).data
    np.testing.assert_allclose(lhs, float((W * gW).sum()), rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(4, 9), st.integers(4, 9),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 2), st.integers(0, 2), st.integers(0, 2), st.integers(1, 2),
       st.integers(1, 2), st.sampled_from([0, 4, 48]), st.sampled_from([0, 64]),
       st.booleans())
def test_adjoint_identity_random_geometry(n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw,
                                          thin_k, winograd, k4s2):
    """The adjoint identities on random geometries, with ops/conv.py's THIN_K at 0 (every
    product on channels-last rows), 4 (a mix: thin sides, and with stride 1 the flipped forms
    of _flip_padding where the thin side is the other one) and the default; and
    WINOGRAD_MIN_WIDTH at 0 with a 3x3 stride-1 kernel (every such product that is not thin
    by Winograd) or the default (none at these widths); with ``k4s2`` the kernel is 4x4,
    stride 2, and the 4x4/2 Winograd thresholds are off (every such product that is not thin
    takes it, the transposed one's forward included)."""
    from minigrad.ops import conv as conv_ops

    if k4s2:
        kh = kw = 4
        sh = sw = 2
        dh = dw = 1
    elif winograd == 0:
        kh = kw = 3
        sh = sw = dh = dw = 1
    k, s, p, d = (kh, kw), (sh, sw), (ph, pw), (dh, dw)
    oh, ow = _out_hw(h, w, k, s, p, d)
    if oh < 1 or ow < 1:
        return
    rng = _rng(n * 100 + h)
    x, W = rng.standard_normal((n, c, h, w)), rng.standard_normal((oc, c) + k)
    y = rng.standard_normal((n, oc, oh, ow))
    previous, conv_ops.THIN_K = conv_ops.THIN_K, thin_k
    previous_w, conv_ops.WINOGRAD_MIN_WIDTH = conv_ops.WINOGRAD_MIN_WIDTH, winograd
    previous_k4 = conv_ops.WINOGRAD_K4S2_MIN_C, conv_ops.WINOGRAD_K4S2_MIN_PIXELS
    previous_k4t = conv_ops.WINOGRAD_K4S2T_MAX_RATIO, conv_ops.WINOGRAD_K4S2T_MIN_TILES
    if k4s2:
        conv_ops.WINOGRAD_K4S2_MIN_C = conv_ops.WINOGRAD_K4S2_MIN_PIXELS = 0
        conv_ops.WINOGRAD_K4S2T_MAX_RATIO, conv_ops.WINOGRAD_K4S2T_MIN_TILES = 10 ** 9, 0
    try:
        lhs = float((_conv(_t(x), _t(W), s=s, p=p, d=d).data * y).sum())
        rhs = float((x * _convT(_t(y), _t(W), s=s, p=p, d=d, size=(h, w)).data).sum())
        gW = Conv2dGradWeight.apply(_t(x), _t(y), kernel_size=k, stride=s, padding=p,
                                    dilation=d).data
    finally:
        conv_ops.THIN_K = previous
        conv_ops.WINOGRAD_MIN_WIDTH = previous_w
        conv_ops.WINOGRAD_K4S2_MIN_C, conv_ops.WINOGRAD_K4S2_MIN_PIXELS = previous_k4
        conv_ops.WINOGRAD_K4S2T_MAX_RATIO, conv_ops.WINOGRAD_K4S2T_MIN_TILES = previous_k4t
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(lhs, float((W * gW).sum()), rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------- gradcheck / gradgradcheck
def _small(cfg):
    """The config with a batch of 1 and at most 2 channels: full Jacobians stay cheap."""
    n, c, h, w, oc, k, s, p, d = cfg
    return 1, min(c, 2), h, w, min(oc, 2), k, s, p, d


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_conv2d_gradcheck_gradgradcheck(cfg):
    n, c, h, w, oc, k, s, p, d = _small(cfg)
    rng = _rng(2)
    x = _t(rng.standard_normal((n, c, h, w)), True)
    W = _t(rng.standard_normal((oc, c) + k), True)
    b = _t(rng.standard_normal(oc), True)
    fn = lambda x, W, b: _conv(x, W, b, s, p, d)  # noqa: E731
    assert minigrad.gradcheck(fn, [x, W, b])
    assert minigrad.gradgradcheck(fn, [x, W, b], mode="fast")


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_conv_transpose2d_gradcheck_gradgradcheck(cfg):
    n, c, h, w, oc, k, s, p, d = _small(cfg)
    rng = _rng(3)
    oh, ow = _out_hw(h, w, k, s, p, d)
    x = _t(rng.standard_normal((n, oc, oh, ow)), True)  # the transpose maps (oh, ow) -> (h, w)
    W = _t(rng.standard_normal((oc, c) + k), True)
    b = _t(rng.standard_normal(c), True)
    fn = lambda x, W, b: _convT(x, W, b, s, p, d, (h, w))  # noqa: E731
    assert minigrad.gradcheck(fn, [x, W, b])
    assert minigrad.gradgradcheck(fn, [x, W, b], mode="fast")


@pytest.mark.parametrize("cfg", CONFIGS[:4], ids=IDS[:4])
def test_conv2d_grad_weight_gradgradcheck(cfg):
    """Conv2dGradWeight's own backward (DeZero used its output instead of the incoming ggW)."""
    n, c, h, w, oc, k, s, p, d = _small(cfg)
    rng = _rng(4)
    oh, ow = _out_hw(h, w, k, s, p, d)
    x = _t(rng.standard_normal((n, c, h, w)), True)
    gy = _t(rng.standard_normal((n, oc, oh, ow)), True)
    fn = lambda x, gy: Conv2dGradWeight.apply(  # noqa: E731
        x, gy, kernel_size=k, stride=s, padding=p, dilation=d)
    assert minigrad.gradcheck(fn, [x, gy])
    assert minigrad.gradgradcheck(fn, [x, gy])


def test_third_order_gradcheck():
    """The trio is closed under differentiation: third derivatives check too."""
    rng = _rng(5)
    x = _t(rng.standard_normal((1, 1, 5, 4)), True)
    W = _t(rng.standard_normal((2, 1, 3, 2)), True)

    def second(x, W):
        y = _conv(x, W, s=(2, 1), p=(1, 0))
        gx, = minigrad.grad((y * y).sum(), [x], create_graph=True)
        gW, = minigrad.grad((gx * gx).sum(), [W], create_graph=True)
        return gW

    assert minigrad.gradcheck(second, [x, W], mode="fast", atol=1e-4)


def test_gradcheck_bigger_inputs_fast_mode():
    rng = _rng(6)
    x = _t(rng.standard_normal((2, 4, 12, 12)), True)
    W = _t(rng.standard_normal((8, 4, 4, 4)) * 0.1, True)
    b = _t(rng.standard_normal(8), True)
    fn = lambda x, W, b: _conv(x, W, b, (2, 2), (1, 1))  # noqa: E731
    assert minigrad.gradcheck(fn, [x, W, b], mode="fast")
    assert minigrad.gradgradcheck(fn, [x, W, b], mode="fast")


# ---------------------------------------------------------------------- dtype and misc
def test_float32_stays_float32():
    x = minigrad.randn(2, 3, 8, 8, requires_grad=True)
    conv, deconv = nn.Conv2d(3, 4, 3, 2, 1), nn.ConvTranspose2d(4, 3, 4, 2, 1)
    y = deconv(conv(x))
    assert y.dtype == np.float32 and y.shape == (2, 3, 8, 8)
    gx, gW = minigrad.grad((y * y).sum(), [x, conv.weight], create_graph=True)
    assert gx.dtype == np.float32 and gW.dtype == np.float32
    g2, = minigrad.grad((gW * gW).sum(), [deconv.weight])
    assert g2.dtype == np.float32


def test_output_is_c_contiguous():
    y = F.conv2d(minigrad.randn(2, 3, 8, 8), minigrad.randn(4, 3, 3, 3), padding=1)
    assert y.data.flags.c_contiguous


def test_inconsistent_output_size_raises():
    with pytest.raises(ValueError, match="inconsistent"):
        _convT(_t(np.ones((1, 1, 3, 3))), _t(np.ones((1, 1, 3, 3))), size=(7, 7))


def test_functional_conv_errors():
    x, W = minigrad.randn(2, 3, 8, 8), minigrad.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d expects a 4-D input \(N, C, H, W\), got shape "
                                         r"\(3, 8, 8\)"):
        F.conv2d(minigrad.randn(3, 8, 8), W)
    with pytest.raises(ValueError, match="has 2 channels"):
        F.conv2d(minigrad.randn(2, 2, 8, 8), W)
    with pytest.raises(ValueError, match="must both be divisible by groups = 3"):
        F.conv2d(x, W, groups=3)
    with pytest.raises(ValueError, match="empty convolution output"):
        F.conv2d(minigrad.randn(1, 3, 2, 2), W)
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(minigrad.randn(1, 3, 4, 4), minigrad.randn(3, 2, 3, 3), stride=2,
                           output_padding=2)


def test_padding_same_and_valid():
    x, W = minigrad.randn(1, 2, 7, 6), minigrad.randn(3, 2, 4, 3)
    assert F.conv2d(x, W, padding="same").shape == (1, 3, 7, 6)
    assert F.conv2d(x, W, padding="valid").shape == (1, 3, 4, 4)


# ------------------------------------------------------------------------ torch parity
def _torch_pair(cfg, transpose, output_padding=(0, 0), bias=True):
    n, c, h, w, oc, k, s, p, d = cfg
    if transpose:
        m = nn.ConvTranspose2d(c, oc, k, s, p, output_padding, bias=bias, dilation=d).double()
        t = torch.nn.ConvTranspose2d(c, oc, k, s, p, output_padding, bias=bias,
                                     dilation=d).double()
    else:
        m = nn.Conv2d(c, oc, k, s, p, d, bias=bias).double()
        t = torch.nn.Conv2d(c, oc, k, s, p, d, bias=bias).double()
    t.load_state_dict({k_: torch.from_numpy(v) for k_, v in m.state_dict().items()})
    return m, t


def _second_order(m, t, x_np, r_np):
    """Gradient-penalty style check: S = ||dL/dx||^2 + sum ||dL/dtheta||^2 with L = <m(x), r>;
    compare dL/d(x, theta) and dS/d(x, theta) with torch."""
    x = Tensor(x_np, requires_grad=True)
    ps = list(m.parameters())
    L = (m(x) * Tensor(r_np)).sum()
    gs = minigrad.grad(L, [x] + ps, create_graph=True)
    S = sum((g * g).sum() for g in gs)
    dS = minigrad.grad(S, [x] + ps, allow_unused=True)

    xt = torch.tensor(x_np, requires_grad=True)
    pt = list(t.parameters())
    Lt = (t(xt) * torch.from_numpy(r_np)).sum()
    gts = torch.autograd.grad(Lt, [xt] + pt, create_graph=True)
    St = sum((g * g).sum() for g in gts)
    dSt = torch.autograd.grad(St, [xt] + pt, allow_unused=True)
    for g, gt in zip(gs, gts):
        np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=1e-9, atol=1e-9)
    for g, gt, ref in zip(dS, dSt, [x] + ps):
        a = np.zeros(ref.shape) if g is None else g.data
        b = np.zeros(ref.shape) if gt is None else gt.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)


@needs_torch
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_conv2d_layer_matches_torch(cfg):
    m, t = _torch_pair(cfg, transpose=False)
    n, c, h, w = cfg[:4]
    rng = _rng(7)
    x_np = rng.standard_normal((n, c, h, w))
    y = m(Tensor(x_np))
    yt = t(torch.from_numpy(x_np))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    _second_order(m, t, x_np, rng.standard_normal(y.shape))


@needs_torch
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_conv_transpose2d_layer_matches_torch(cfg):
    s = cfg[6]
    output_padding = (s[0] - 1, s[1] - 1)  # the largest allowed: (1, 1), (1, 0), (0, 1), ...
    m, t = _torch_pair(cfg, transpose=True, output_padding=output_padding)
    n, c, h, w = cfg[:4]
    rng = _rng(8)
    x_np = rng.standard_normal((n, c, h, w))
    y = m(Tensor(x_np))
    yt = t(torch.from_numpy(x_np))
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    _second_order(m, t, x_np, rng.standard_normal(y.shape))


@needs_torch
def test_conv_transpose2d_output_size_matches_torch():
    m, t = _torch_pair((2, 3, 5, 4, 2, (3, 3), (2, 2), (1, 1), (1, 1)), transpose=True)
    x_np = _rng(9).standard_normal((2, 3, 5, 4))
    for size in [(9, 7), (10, 8), (9, 8)]:
        y = m(Tensor(x_np), output_size=size)
        yt = t(torch.from_numpy(x_np), output_size=size)
        assert y.shape == tuple(yt.shape) == (2, 2) + size
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="valid sizes"):
        m(Tensor(x_np), output_size=(12, 8))


@needs_torch
def test_conv_without_bias_matches_torch():
    for transpose in (False, True):
        m, t = _torch_pair((2, 2, 6, 5, 3, (3, 3), (2, 1), (1, 1), (1, 1)), transpose,
                           bias=False)
        assert m.bias is None
        x_np = _rng(10).standard_normal((2, 2, 6, 5))
        y = m(Tensor(x_np))
        _second_order(m, t, x_np, _rng(11).standard_normal(y.shape))


@needs_torch
def test_float32_conv_close_to_torch_at_dcgan_shape():
    """float32 end to end (no drift to float64) and close to torch's float32 result."""
    rng = _rng(12)
    x_np = rng.standard_normal((8, 16, 16, 16)).astype(np.float32)
    m = nn.Conv2d(16, 32, 4, 2, 1)
    t = torch.nn.Conv2d(16, 32, 4, 2, 1)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    x = Tensor(x_np, requires_grad=True)
    y = m(x)
    assert y.dtype == np.float32
    xt = torch.tensor(x_np, requires_grad=True)
    yt = t(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    g_np = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(Tensor(g_np))
    yt.backward(torch.from_numpy(g_np))
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.weight.grad.data, t.weight.grad.numpy(), rtol=1e-4, atol=1e-3)
    assert x.grad.dtype == m.weight.grad.dtype == np.float32


@pytest.mark.parametrize("cache_bytes", [0, 1 << 30])
def test_forward_memo_does_not_change_gradients(cache_bytes, monkeypatch):
    """The forward's im2col(x) / rows(x) kept for the weight gradient (ops/conv.py
    CACHE_COLS_BYTES) give the same first and second derivatives as recomputing them."""
    from minigrad.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "CACHE_COLS_BYTES", cache_bytes)
    rng = _rng(13)
    x = _t(rng.standard_normal((2, 2, 6, 5)), True)
    W = _t(rng.standard_normal((3, 2, 3, 2)), True)
    V = _t(rng.standard_normal((3, 2, 2, 2)), True)

    def f(x, W, V):
        return _convT(_conv(x, W, s=(2, 1), p=(1, 0)), V, s=(1, 2), size=(4, 9)).tanh()

    assert minigrad.gradcheck(f, [x, W, V], mode="fast")
    assert minigrad.gradgradcheck(f, [x, W, V], mode="fast")
    y = f(x, W, V)
    g1 = minigrad.grad(y.sum(), [W, V], retain_graph=True)
    g2 = minigrad.grad(y.sum(), [W, V])  # a second pass through the same (retained) nodes
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a.data, b.data)


# ------------------------------------------------------- the trio against the reference kernels
_TRIO_GEOMETRIES = [  # (x shape, OC, kernel, stride, padding, dilation)
    ((3, 1, 12, 12), 8, (4, 4), (2, 2), (1, 1), (1, 1)),   # thin input (DCGAN's first layer)
    ((2, 8, 7, 7), 1, (4, 4), (2, 2), (1, 1), (1, 1)),     # thin output
    ((2, 16, 9, 8), 12, (3, 2), (2, 1), (1, 0), (1, 2)),
    ((2, 5, 6, 6), 7, (2, 3), (1, 2), (2, 1), (2, 1)),
    ((2, 8, 7, 6), 2, (3, 3), (1, 1), (1, 1), (1, 1)),     # thin output, stride 1: flipped
    ((2, 6, 9, 8), 3, (3, 3), (1, 1), (2, 1), (2, 2)),     # the same, dilated
    ((2, 8, 7, 7), 1, (3, 3), (1, 1), (3, 3), (1, 1)),     # p > K-1: no flipped form
]


def _reference_products(x, W, gy, s, p, d):
    """The three products written with the reference kernels, each a matrix product on the
    columns: y = cols @ W_rows^T, gx = col2im(rows(gy) @ W_rows), gW = rows(gy)^T @ cols."""
    from minigrad.kernels import reference as ref

    n, c, h, w = x.shape
    oc, _, kh, kw = W.shape
    _, _, oh, ow = gy.shape
    w_rows = W.transpose(0, 2, 3, 1).reshape(oc, -1)          # (OC, KH*KW*C), (i, j, c)
    cols = ref.im2col_hwc(x, kh, kw, s, p, d)                 # (N*OH*OW, KH*KW*C)
    gy_rows = gy.transpose(0, 2, 3, 1).reshape(-1, oc)
    y = (cols @ w_rows.T).reshape(n, oh, ow, oc).transpose(0, 3, 1, 2)
    gx = ref.col2im_hwc(gy_rows @ w_rows, x.shape, kh, kw, s, p, d)
    gW = (gy_rows.T @ cols).reshape(oc, kh, kw, c).transpose(0, 3, 1, 2)
    return y, gx, gW


def _assert_trio_matches_reference(geom, mode, seed, grad_weight=True):
    """Conv2d, ConvTranspose2d and (with ``grad_weight``) Conv2dGradWeight of random data on
    ``geom`` in kernel ``mode``: bitwise equal to numpy mode and equal to the products built
    from the reference im2col/col2im."""
    from minigrad import kernels

    if mode == "numba":
        pytest.importorskip("numba")
    x_shape, oc, k, s, p, d = geom
    rng = _rng(seed)
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((oc, x_shape[1]) + k)
    oh, ow = _out_hw(x_shape[2], x_shape[3], k, s, p, d)
    gy = rng.standard_normal((x_shape[0], oc, oh, ow))
    attrs = dict(stride=s, padding=p, dilation=d)

    def products():
        with minigrad.no_grad():
            out = [Conv2d.apply(_t(x), _t(W), **attrs).data,
                   ConvTranspose2d.apply(_t(gy), _t(W), output_size=x_shape[2:], **attrs).data]
            if grad_weight:
                out.append(Conv2dGradWeight.apply(_t(x), _t(gy), kernel_size=k, **attrs).data)
            return out

    previous = kernels.set_kernels(mode)
    try:
        got = products()
        kernels.set_kernels("numpy")
        spec = products()
    finally:
        kernels.set_kernels(previous)
    assert len(got) == (3 if grad_weight else 2)
    for a, b, e in zip(got, spec, _reference_products(x, W, gy, s, p, d)):
        assert a.shape == e.shape and a.flags.c_contiguous
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def _assert_same_to_second_order(f, inputs, switch):
    """f's values and gradients unchanged by ``switch()`` (when given), and gradcheck and
    gradgradcheck pass after it."""
    if switch is not None:
        expected = f(*inputs).data
        grads = [g.data for g in minigrad.grad(f(*inputs).sum(), inputs)]
        switch()
        np.testing.assert_allclose(f(*inputs).data, expected, rtol=1e-12, atol=1e-12)
        for a, b in zip(minigrad.grad(f(*inputs).sum(), inputs), grads):
            np.testing.assert_allclose(a.data, b, rtol=1e-12, atol=1e-12)
    assert minigrad.gradcheck(f, inputs, mode="fast")
    assert minigrad.gradgradcheck(f, inputs, mode="fast")


@pytest.mark.parametrize("mode", ["numpy", "numba"])
@pytest.mark.parametrize("geom", _TRIO_GEOMETRIES)
def test_conv_trio_matches_reference_kernels(geom, mode):
    """Conv2d, ConvTranspose2d and Conv2dGradWeight (on channels-last rows or, for a thin side,
    per image on NCHW arrays; in either kernel mode) against the same products built from the
    reference im2col/col2im; and numba mode bitwise equal to numpy mode (same kernels' output,
    same GEMM operands)."""
    _assert_trio_matches_reference(geom, mode, 21)


@pytest.mark.parametrize("thin_k", [None, 0, 10 ** 6])
@pytest.mark.parametrize("geom", _TRIO_GEOMETRIES)
def test_the_gpus_column_order_gives_the_same_convolutions(geom, thin_k, monkeypatch):
    """A GPU orders im2col's columns (c, i, j) (kernels.conv_columns: the weight's rows are a
    view of W there), the CPU (i, j, c). Run on the CPU in the GPU's order, with the reference
    kernels of that order, a conv, a transposed conv and both their gradients give the CPU's
    values, and gradcheck and gradgradcheck pass: on the thin paths, the rows paths
    (THIN_K 0 or huge) and the flipped forms alike."""
    from minigrad import kernels
    from minigrad.ops import conv as conv_ops

    (n, c, h, w), oc, k, s, p, d = geom
    rng = _rng(41)
    x = _t(rng.standard_normal((n, c, h, w)), True)
    W = _t(rng.standard_normal((oc, c) + k), True)
    b = _t(rng.standard_normal(oc), True)
    V = _t(rng.standard_normal((oc, 2) + k), True)
    if thin_k is not None:
        monkeypatch.setattr(conv_ops, "THIN_K", thin_k)
    monkeypatch.setattr(kernels, "winograd", lambda xp=None: False)  # the GPU's routes

    def f(x, W, b, V):
        h = _conv(x, W, b, s=s, p=p, d=d).tanh()
        return _convT(h, V, s=s, p=p, d=d, size=x.shape[2:])

    calls = {}
    real_get = kernels.get

    def get(name, xp=np):
        calls[name] = calls.get(name, 0) + 1
        return real_get(name, xp)
    _assert_same_to_second_order(f, [x, W, b, V], lambda: monkeypatch.setattr(
        kernels, "conv_columns", lambda xp=np: "chw"))
    monkeypatch.setattr(kernels, "get", get)
    minigrad.grad(f(x, W, b, V).sum(), [x, W, b, V])
    assert not any(name.endswith("_hwc") for name in calls), calls
    assert any(name.endswith("_chw") for name in calls), calls


@pytest.mark.parametrize("thin_k", [0, 10 ** 6])
def test_thin_and_rows_paths_agree_to_second_order(thin_k, monkeypatch):
    """ops/conv.py THIN_K picks per-image products on NCHW arrays (unfold/fold) or products on
    channels-last rows (im2col/col2im); forcing every conv onto one path or the other gives the
    same values, and gradcheck/gradgradcheck pass on both."""
    from minigrad.ops import conv as conv_ops

    rng = _rng(31)
    x = _t(rng.standard_normal((2, 1, 8, 7)), True)
    W = _t(rng.standard_normal((3, 1, 4, 3)), True)
    V = _t(rng.standard_normal((3, 1, 2, 2)), True)

    def f(x, W, V):
        h = _conv(x, W, s=(2, 1), p=(1, 1)).tanh()                 # 1 -> 3 channels
        return _convT(h, V, s=(2, 2), size=(8, 14))                 # 3 -> 1 channel

    # from the default THIN_K
    _assert_same_to_second_order(f, [x, W, V],
                                 lambda: monkeypatch.setattr(conv_ops, "THIN_K", thin_k))


def test_thin_side_backward_shares_one_unfold_and_makes_no_rows(monkeypatch):
    """A transposed conv onto a thin output (G's last layer): its backward unfolds gy once for
    both products (both take the thin-input paths) and makes no im2col; a conv from a thin
    input (D's first layer) makes no rows(gy), which neither of its products reads."""
    from minigrad.backend import counters
    from minigrad.ops import conv as conv_ops

    rows_made = []
    to_rows = conv_ops._to_rows
    monkeypatch.setattr(conv_ops, "_to_rows", lambda a: rows_made.append(a.shape) or to_rows(a))
    rng = _rng(32)
    x = _t(rng.standard_normal((2, 8, 7, 7)), True)
    V = _t(rng.standard_normal((8, 1, 4, 4)), True)
    y = _convT(x, V, s=(2, 2), p=(1, 1), size=(14, 14))
    with counters.count() as c:
        y.backward(_t(rng.standard_normal(y.shape)))
    assert c["kernel.unfold_hwc"] == 1 and c["kernel.im2col_hwc"] == 0, dict(c)
    assert x.grad is not None and V.grad is not None
    z = _t(rng.standard_normal((2, 1, 14, 14)), True)
    W = _t(rng.standard_normal((8, 1, 4, 4)), True)
    h = _conv(z, W, s=(2, 2), p=(1, 1))
    with counters.count() as c:
        h.backward(_t(rng.standard_normal(h.shape)))
    assert not rows_made and c["kernel.im2col_hwc"] == 0, (rows_made, dict(c))
    assert z.grad is not None and W.grad is not None
    # a conv onto a thin output at stride 1 (SNGAN's last layer): both products take the
    # flipped per-image forms, so no rows(gy) either
    f = _t(rng.standard_normal((2, 8, 9, 9)), True)
    F1 = _t(rng.standard_normal((1, 8, 3, 3)), True)
    out = _conv(f, F1, p=(1, 1))
    out.backward(_t(rng.standard_normal(out.shape)))
    assert not rows_made, rows_made
    assert f.grad is not None and F1.grad is not None


@pytest.mark.parametrize("thin_k", [0, None])
def test_flipped_forms_agree_to_second_order(thin_k, monkeypatch):
    """A stride-1 conv whose output is the thin side (6 -> 1 channels, 3x3: SNGAN's last layer
    in small) runs as the flipped transposed convolution, its input gradient (a transposed
    conv 1 -> 6) as the flipped conv, its weight gradient as the flipped one of the roles
    swapped (ops/conv.py _flip_padding); with THIN_K = 0 all three run on channels-last rows.
    Same values either way, and gradcheck/gradgradcheck pass through the flipped forms."""
    from minigrad.ops import conv as conv_ops

    rng = _rng(37)
    x = _t(rng.standard_normal((2, 6, 6, 5)), True)
    W = _t(rng.standard_normal((1, 6, 3, 3)), True)
    V = _t(rng.standard_normal((1, 6, 3, 3)), True)

    def f(x, W, V):
        h = _conv(x, W, p=(2, 1), d=(2, 1)).tanh()              # 6 -> 1 channel, dilated
        return _convT(h, V, p=(1, 1), size=(6, 5))               # 1 -> 6 channels

    switch = None if thin_k is None else lambda: monkeypatch.setattr(conv_ops, "THIN_K", thin_k)
    _assert_same_to_second_order(f, [x, W, V], switch)


_WINOGRAD_GEOMETRIES = [  # (x shape, OC, padding): 3x3, stride 1, not thin at THIN_K = 4
    ((2, 3, 6, 6), 2, (1, 1)),
    ((2, 2, 7, 5), 3, (0, 2)),     # odd outputs: the last tiles overhang
    ((1, 4, 5, 6), 4, (2, 1)),
    ((2, 3, 5, 4), 2, (0, 0)),     # a 3x2 output: F(2x2, 3x3) whatever WINOGRAD_TILE says
]


def _spy_winograd_kernels(monkeypatch):
    """The names of the 3x3 Winograd kernels (winograd_f2x3_*, winograd_f4x3_*) the
    convolutions ask for, in order."""
    from minigrad import kernels

    used = []
    real = kernels.get

    def get(name, *a, **k):
        if name.startswith("winograd_f"):
            used.append(name)
        return real(name, *a, **k)

    monkeypatch.setattr(kernels, "get", get)
    return used


def _tilings(used, kind="output"):
    """The tilings ('f2x3', 'f4x3') of the ``kind`` transforms among ``used`` kernel names."""
    return [n.split("_")[1] for n in used if n.split("_", 2)[2] == kind]


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("mode", ["numpy", "numba"])
@pytest.mark.parametrize("geom", _WINOGRAD_GEOMETRIES)
def test_conv_trio_winograd_matches_reference_kernels(geom, mode, tile, monkeypatch):
    """With WINOGRAD_MIN_WIDTH = 0, Conv2d's forward and ConvTranspose2d's (by its flipped
    form) run Winograd, F(4x4, 3x3) where WINOGRAD_TILE is 4 and the output is at least 4x4,
    else F(2x2, 3x3), and Conv2dGradWeight on F(4x4, 3x3)'s tiles where the forward would;
    against the reference im2col products, in both kernel modes, numba bitwise equal to numpy
    (the transforms are bitwise equal)."""
    from minigrad.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "WINOGRAD_MIN_WIDTH", 0)
    monkeypatch.setattr(conv_ops, "WINOGRAD_TILE", tile)
    monkeypatch.setattr(conv_ops, "THIN_K", 4)
    used = _spy_winograd_kernels(monkeypatch)
    x_shape, oc, p = geom
    _assert_trio_matches_reference((x_shape, oc, (3, 3), (1, 1), p, (1, 1)), mode, 23)
    # the forward's output is y, the transposed product's (by the flipped conv) is x
    sides = (_out_hw(x_shape[2], x_shape[3], (3, 3), (1, 1), p, (1, 1)), x_shape[2:])
    expected = ["f4x3" if tile == 4 and min(hw) >= 4 else "f2x3" for hw in sides]
    assert _tilings(used) == expected * 2   # in the mode tested, then in numpy's for the spec
    assert _tilings(used, "grad_output") == ["f4x3"] * 2 * (expected[0] == "f4x3")


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_paths_agree_to_second_order(tile, monkeypatch):
    """Every 3x3 stride-1 product by Winograd (WINOGRAD_MIN_WIDTH = 0, THIN_K = 0: the forward
    conv, the transposed conv's forward by its flipped form, and the same inside every
    backward; F(4x4, 3x3) with tile 4, the outputs being 5x8) gives the values and gradients
    of the im2col products, and gradcheck and gradgradcheck pass through it."""
    from minigrad.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "WINOGRAD_TILE", tile)
    used = _spy_winograd_kernels(monkeypatch)

    rng = _rng(41)
    x = _t(rng.standard_normal((2, 2, 5, 6)), True)
    W = _t(rng.standard_normal((3, 2, 3, 3)), True)
    V = _t(rng.standard_normal((3, 2, 3, 3)), True)

    def f(x, W, V):
        h = _conv(x, W, p=(1, 2)).tanh()                         # 2 -> 3 channels, (5, 8)
        return _convT(h, V, p=(1, 1), size=(5, 8))                # 3 -> 2 channels

    monkeypatch.setattr(conv_ops, "THIN_K", 0)
    _assert_same_to_second_order(
        f, [x, W, V], lambda: monkeypatch.setattr(conv_ops, "WINOGRAD_MIN_WIDTH", 0))
    assert used and set(_tilings(used)) == {"f4x3" if tile == 4 else "f2x3"}
    assert bool(_tilings(used, "grad_output")) == (tile == 4)


def test_winograd_weight_gradient_reuses_the_forwards_transform(monkeypatch):
    """A recorded Conv2d on the F(4x4, 3x3) route keeps its transformed input for the weight
    gradient (two input transforms in forward and backward: x's, and gy's for the input
    gradient's flipped product, not a third), and the gradients are the im2col route's."""
    from minigrad.ops import conv as conv_ops

    rng = _rng(43)
    x = _t(rng.standard_normal((2, 32, 6, 5)), True)     # width 16: Winograd by default
    W = _t(rng.standard_normal((32, 32, 3, 3)), True)

    def grads():
        return [g.data for g in minigrad.grad((_conv(x, W, p=(1, 1)) ** 2).sum(), [x, W])]

    monkeypatch.setattr(conv_ops, "WINOGRAD_MIN_WIDTH", 10 ** 6)
    expected = grads()
    monkeypatch.setattr(conv_ops, "WINOGRAD_MIN_WIDTH", 16)
    used = _spy_winograd_kernels(monkeypatch)
    got = grads()
    assert _tilings(used, "input") == ["f4x3", "f4x3"]
    assert _tilings(used, "grad_output") == ["f4x3"]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


_K4S2_GEOMETRIES = [  # (x shape, OC, padding): 4x4, stride 2
    ((2, 3, 8, 8), 2, (1, 1)),     # a 4x4 output: F(4x4, 2x2) where K4S2_TILE is 4
    ((2, 2, 9, 7), 3, (1, 0)),     # odd outputs; 4x2, F(2x2, 2x2) whatever K4S2_TILE says
    ((1, 4, 7, 10), 2, (2, 1)),
    ((1, 2, 16, 14), 3, (1, 1)),   # 8x7: the last F(4x4, 2x2) tiles overhang
]


def _force_winograd_k4s2(monkeypatch, tile=None):
    """Every 4x4/2 conv product that is not thin (none is: THIN_K = 0) by Winograd on its
    polyphase components, on ``tile`` x ``tile`` output tiles (K4S2_TILE, where given) where
    they make fewer products."""
    from minigrad.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2_MIN_C", 0)
    monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2_MIN_PIXELS", 0)
    monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2F4_FEW_TILES_MIN_C", 0)
    if tile is not None:
        monkeypatch.setattr(conv_ops, "K4S2_TILE", tile)
    monkeypatch.setattr(conv_ops, "THIN_K", 0)


@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("mode", ["numpy", "numba"])
@pytest.mark.parametrize("geom", _K4S2_GEOMETRIES)
def test_conv_trio_winograd_k4s2_matches_reference_kernels(geom, mode, tile, monkeypatch):
    """With the 4x4/2 Winograd thresholds at 0, Conv2d's forward and Conv2dGradWeight run on the
    polyphase components, by F(4x4, 2x2) where K4S2_TILE is 4 and it makes fewer products than
    F(2x2, 2x2), else by F(2x2, 2x2); against the reference im2col products in both kernel
    modes, numba bitwise equal to numpy."""
    from minigrad import kernels
    from minigrad.ops import conv as conv_ops

    _force_winograd_k4s2(monkeypatch, tile)
    used = []
    real = kernels.get
    monkeypatch.setattr(kernels, "get", lambda name, *a: used.append(name) or real(name, *a))
    x_shape, oc, p = geom
    _assert_trio_matches_reference((x_shape, oc, (4, 4), (2, 2), p, (1, 1)), mode, 29)
    out_hw = _out_hw(x_shape[2], x_shape[3], (4, 4), (2, 2), p, (1, 1))
    f4 = 25 * -(-out_hw[0] // 4) * -(-out_hw[1] // 4) < 9 * -(-out_hw[0] // 2) * -(-out_hw[1] // 2)
    name = "k4s2f4" if tile == 4 and f4 else "k4s2"
    assert conv_ops._k4s2_tiling(out_hw) == name
    assert f"winograd_{name}_output" in used and f"winograd_{name}_grad_weight" in used


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_k4s2_paths_agree_to_second_order(tile, monkeypatch):
    """DCGAN's block in small, conv 4x4/2 then its transpose, with every 4x4/2 conv product that
    can by Winograd (the forward, the memo of the transformed input for the weight gradient,
    the transform of gy shared by a transposed conv's two gradients): the values and gradients
    of the im2col products, and gradcheck/gradgradcheck pass through it."""
    from minigrad.ops import conv as conv_ops

    rng = _rng(43)
    x = _t(rng.standard_normal((2, 2, 8, 6)), True)
    W = _t(rng.standard_normal((3, 2, 4, 4)), True)
    V = _t(rng.standard_normal((3, 2, 4, 4)), True)

    def f(x, W, V):
        h = _conv(x, W, s=(2, 2), p=(1, 1)).tanh()                # 2 -> 3 channels, (4, 3)
        return _convT(h, V, s=(2, 2), p=(1, 1), size=(8, 6))       # 3 -> 2 channels

    monkeypatch.setattr(conv_ops, "THIN_K", 0)
    calls = []
    real = conv_ops.kernels.get

    def counting_get(name, *a):
        if name.startswith("winograd_k4s2"):
            calls.append(name)
        return real(name, *a)

    def switch():
        _force_winograd_k4s2(monkeypatch, tile)
        monkeypatch.setattr(conv_ops.kernels, "get", counting_get)

    _assert_same_to_second_order(f, [x, W, V], switch)
    name = "k4s2f4" if tile == 4 else "k4s2"   # the (4, 3) output: 1 tile of 4x4 or 4 of 2x2
    assert f"winograd_{name}_grad_weight" in calls and f"winograd_{name}_output" in calls
    assert "winograd_k4s2t_output" not in calls   # the transposed conv's forward: not forced


# (x shape, OC, padding, extra output rows/columns): a transposed 4x4/2 conv from x; DCGAN's
# padding 1 (even output, and odd), paddings 0 and 2 (the row phases share their patch), 3, and
# mixed; batch 1.
_K4S2T_GEOMETRIES = [
    ((2, 3, 4, 4), 2, (1, 1), (0, 0)),
    ((2, 2, 5, 3), 3, (1, 1), (1, 0)),
    ((1, 3, 3, 4), 2, (0, 2), (0, 1)),
    ((2, 2, 4, 5), 2, (3, 1), (1, 1)),
]


def _force_winograd_k4s2t(monkeypatch, chunk_tiles=None, tile=None):
    """Every transposed 4x4/2 product that is not thin by Winograd on its output phases (and
    none thin: THIN_K = 0), in numpy mode too; ``chunk_tiles``: the route's batch chunks, in
    tiles; ``tile``: K4S2_TILE, where given (4: F(4x4, 2x2) where it makes fewer
    products)."""
    from minigrad.ops import conv as conv_ops

    if tile is not None:
        monkeypatch.setattr(conv_ops, "K4S2_TILE", tile)
    monkeypatch.setattr(conv_ops.kernels, "compiled", lambda *a: True)
    monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2T_MAX_RATIO", 10 ** 9)
    monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2T_MIN_TILES", 0)
    monkeypatch.setattr(conv_ops, "THIN_K", 0)
    if chunk_tiles is not None:
        monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2T_CHUNK_TILES", chunk_tiles)


@pytest.mark.parametrize("tile, chunk_tiles", [(2, None), (2, 5), (4, None), (4, 2)])
@pytest.mark.parametrize("mode", ["numpy", "numba"])
@pytest.mark.parametrize("geom", _K4S2T_GEOMETRIES)
def test_conv_transpose_winograd_k4s2t_matches_im2col_route(geom, mode, tile, chunk_tiles,
                                                             monkeypatch):
    """ConvTranspose2d's forward by Winograd on its four output phases, by F(2x2, 2x2) and by
    F(4x4, 2x2) (every geometry here makes fewer products that way), each in one chunk and in
    chunks of a few tiles (whole images, the last chunk short where the batch does not divide),
    against the im2col route (rows(x) @ W_rows, col2im) and the reference-kernel product, in
    both kernel modes, numba bitwise equal to numpy; with a bias."""
    from minigrad import kernels
    from minigrad.ops import conv as conv_ops

    if mode == "numba":
        pytest.importorskip("numba")
    x_shape, oc, p, extra = geom
    size = tuple(2 * x_shape[2 + i] + 2 - 2 * p[i] + extra[i] for i in range(2))
    rng = _rng(47)
    x, W = rng.standard_normal(x_shape), rng.standard_normal((x_shape[1], oc, 4, 4))
    b = rng.standard_normal(oc)
    attrs = dict(stride=(2, 2), padding=p, dilation=(1, 1), output_size=size)

    def forward():
        with minigrad.no_grad():
            return ConvTranspose2d.apply(_t(x), _t(W), _t(b), **attrs).data

    monkeypatch.setattr(conv_ops, "THIN_K", 0)
    im2col = forward()
    _force_winograd_k4s2t(monkeypatch, chunk_tiles, tile)
    assert conv_ops._k4s2t_f4(size) == (tile == 4)
    calls = []
    real = conv_ops._conv_transpose_k4s2
    monkeypatch.setattr(conv_ops, "_conv_transpose_k4s2", lambda *a: calls.append(1) or real(*a))
    previous = kernels.set_kernels(mode)
    try:
        got = forward()
        kernels.set_kernels("numpy")
        spec = forward()
    finally:
        kernels.set_kernels(previous)
    assert len(calls) == 2 and got.shape == (x_shape[0], oc) + size and got.flags.c_contiguous
    np.testing.assert_array_equal(got, spec)
    np.testing.assert_allclose(got, im2col, rtol=1e-12, atol=1e-12)
    # the transposed conv of x is the input gradient of the conv of a `size` image
    _, gx, _ = _reference_products(np.zeros((x_shape[0], oc) + size), W, x, (2, 2), p, (1, 1))
    np.testing.assert_allclose(got - b.reshape(1, oc, 1, 1), gx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_k4s2t_paths_agree_to_second_order(tile, monkeypatch):
    """DCGAN's block in small (conv 4x4/2, its transpose, another transpose: odd padding and
    even), with every transposed 4x4/2 product by Winograd on its output phases (the transposed
    convs' forwards, the conv's input gradient, and the transposed products inside the
    backwards of the backwards), with the 4x4/2 conv route's too, and in 1-image chunks: the
    values and gradients of the im2col products, and gradcheck/gradgradcheck pass through it."""
    from minigrad.ops import conv as conv_ops

    rng = _rng(53)
    x = _t(rng.standard_normal((2, 2, 8, 6)), True)
    W = _t(rng.standard_normal((3, 2, 4, 4)), True)
    V = _t(rng.standard_normal((3, 2, 4, 4)), True)
    Z = _t(rng.standard_normal((2, 2, 4, 4)), True)

    def f(x, W, V, Z):
        h = _conv(x, W, s=(2, 2), p=(1, 1)).tanh()                 # 2 -> 3 channels, (4, 3)
        g = _convT(h, V, s=(2, 2), p=(1, 1), size=(8, 6)).tanh()    # 3 -> 2 channels
        return _convT(g, Z, s=(2, 2), p=(2, 0), size=(15, 14))      # 2 -> 2, padding 2 and 0

    monkeypatch.setattr(conv_ops, "THIN_K", 0)
    calls = []
    real = conv_ops.kernels.get

    def counting_get(name, *a):
        if name.startswith("winograd_k4s2t"):
            calls.append(name)
        return real(name, *a)

    def switch():
        _force_winograd_k4s2(monkeypatch, tile)
        _force_winograd_k4s2t(monkeypatch, chunk_tiles=1, tile=tile)
        monkeypatch.setattr(conv_ops.kernels, "get", counting_get)

    _assert_same_to_second_order(f, [x, W, V, Z], switch)
    name = "k4s2tf4" if tile == 4 else "k4s2t"   # every output here: fewer products by F(4x4)
    assert f"winograd_{name}_output" in calls and f"winograd_{name}_weight" in calls


def test_conv_precision_picks_the_winograd_tiles(monkeypatch):
    """minigrad.set_conv_precision: "high" (the default) runs the wide 3x3 and 4x4/2 products on
    4x4 Winograd tiles, "highest" on 2x2 ones, and both give the convolution (float64, to
    rounding); an unknown level is an error that names the levels."""
    from minigrad import kernels
    from minigrad.ops import conv as conv_ops

    for tile in ("WINOGRAD_TILE", "K4S2_TILE"):   # restored after the test
        monkeypatch.setattr(conv_ops, tile, getattr(conv_ops, tile))
    assert minigrad.get_conv_precision() == "high"
    monkeypatch.setattr(conv_ops, "WINOGRAD_MIN_WIDTH", 0)
    monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2_MIN_C", 0)
    monkeypatch.setattr(conv_ops, "WINOGRAD_K4S2_MIN_PIXELS", 0)
    monkeypatch.setattr(conv_ops, "THIN_K", 0)
    used = []
    real = kernels.get
    monkeypatch.setattr(kernels, "get", lambda name, *a: used.append(name) or real(name, *a))
    rng = _rng(61)
    x = rng.standard_normal((2, 3, 16, 16))
    w3, w4 = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal((4, 3, 4, 4))
    outputs = {}
    for precision, names in (("high", ("f4x3", "k4s2f4")), ("highest", ("f2x3", "k4s2"))):
        minigrad.set_conv_precision(precision)
        assert minigrad.get_conv_precision() == precision
        used.clear()
        outputs[precision] = [minigrad.nn.functional.conv2d(_t(x), _t(w), None, s, 1).numpy()
                              for w, s in ((w3, 1), (w4, 2))]
        assert [n for n in used if n.endswith("_output")] == [f"winograd_{n}_output" for n in names]
    for a, b in zip(outputs["high"], outputs["highest"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="'high', 'highest'"):
        minigrad.set_conv_precision("medium")


def test_conv_precision_from_the_environment():
    """MINIGRAD_CONV_PRECISION sets the initial precision of every entry point; a bad value
    stops the import with an error that names the variable and the levels."""
    import os
    import subprocess
    import sys

    code = "import minigrad; print(minigrad.get_conv_precision())"
    for value, expected in (("highest", "highest"), (" High ", "high"), ("", "high")):
        env = dict(os.environ, MINIGRAD_CONV_PRECISION=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout
        assert out.strip() == expected, value
    env = dict(os.environ, MINIGRAD_CONV_PRECISION="fast")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert res.returncode != 0
    assert "MINIGRAD_CONV_PRECISION: conv precision must be one of ['high', 'highest']" in \
        res.stderr
