"""Tests of minigrad.kernels: reference semantics, Numba == reference, registry.

Numba tests skip when numba is missing; torch comparisons skip without torch.
"""


import numpy as np
import pytest

from minigrad import kernels
from minigrad.kernels import reference as ref
from minigrad.kernels import reference_winograd

from fresh_python import run_python

try:
    import hypothesis
    from hypothesis import given, settings, strategies as st
except ImportError:  # pragma: no cover
    hypothesis = None

DTYPES = [np.float32, np.float64]


@pytest.fixture(scope="module")
def nb():
    """The numba_cpu module (skips the test if numba is not installed)."""
    pytest.importorskip("numba", reason="numba not installed: numba kernels are not tested")
    from minigrad.kernels import numba_cpu
    return numba_cpu


@pytest.fixture
def restore_mode():
    previous = kernels.get_mode()
    yield
    kernels.set_kernels(previous)


def _randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# =========================================================================== im2col / col2im

# (x shape, kh, kw, stride, padding, dilation); C < 4 exercises numba's scatter col2im, C >= 4
# its gather, C = 1 the reference's im2col.
CONV_CASES = [
    ((2, 1, 5, 5), 3, 3, (1, 1), (0, 0), (1, 1)),
    ((2, 3, 7, 6), 3, 2, (2, 1), (1, 2), (1, 1)),
    ((1, 2, 8, 9), 2, 3, (1, 2), (2, 0), (2, 1)),
    ((3, 1, 28, 28), 4, 4, (2, 2), (1, 1), (1, 1)),
    ((2, 4, 9, 7), 1, 3, (2, 2), (0, 1), (1, 2)),
    ((2, 8, 14, 14), 4, 4, (2, 2), (1, 1), (1, 1)),
    ((1, 16, 6, 5), 3, 2, (1, 1), (2, 2), (2, 2)),
    ((2, 9, 5, 8), 2, 4, (2, 1), (0, 2), (1, 2)),
    ((1, 1, 12, 11), 7, 7, (1, 1), (3, 3), (1, 1)),  # CycleGAN's 7x7 one-channel layer
    # planes of >= 1024 pixels: numba's blocked channels-last copy, full 8 x 8 blocks and edges
    ((1, 16, 32, 32), 4, 4, (2, 2), (1, 1), (1, 1)),
    ((1, 11, 33, 35), 3, 3, (1, 1), (1, 2), (1, 1)),
]
CONV_IDS = [f"x{c[0]}-k{c[1]}x{c[2]}-s{c[3]}-p{c[4]}-d{c[5]}".replace(" ", "") for c in CONV_CASES]


def _out_hw(x_shape, kh, kw, stride, padding, dilation):
    h, w = x_shape[2:]
    return (ref.conv_output_size(h, kh, stride[0], padding[0], dilation[0]),
            ref.conv_output_size(w, kw, stride[1], padding[1], dilation[1]))


def _im2col_naive(x, kh, kw, stride, padding, dilation):
    """Direct definition of im2col_hwc, one element at a time."""
    n, c, h, w = x.shape
    oh, ow = _out_hw(x.shape, kh, kw, stride, padding, dilation)
    cols = np.zeros((n * oh * ow, kh * kw * c), x.dtype)
    for b in range(n):
        for y in range(oh):
            for xo in range(ow):
                for i in range(kh):
                    for j in range(kw):
                        hi = y * stride[0] - padding[0] + i * dilation[0]
                        wi = xo * stride[1] - padding[1] + j * dilation[1]
                        if 0 <= hi < h and 0 <= wi < w:
                            cols[(b * oh + y) * ow + xo, (i * kw + j) * c:(i * kw + j + 1) * c] \
                                = x[b, :, hi, wi]
    return cols


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_im2col_matches_naive_definition(case, dtype):
    x_shape, kh, kw, s, p, d = case
    x = _randn(np.random.default_rng(0), x_shape, dtype)
    cols = ref.im2col_hwc(x, kh, kw, s, p, d)
    assert cols.dtype == dtype and cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, _im2col_naive(x, kh, kw, s, p, d))


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_col2im_is_adjoint_of_im2col(case):
    x_shape, kh, kw, s, p, d = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape)
    cols = ref.im2col_hwc(x, kh, kw, s, p, d)
    g = rng.standard_normal(cols.shape)
    back = ref.col2im_hwc(g, x_shape, kh, kw, s, p, d)
    assert back.shape == x_shape and back.flags.c_contiguous
    assert np.vdot(cols, g) == pytest.approx(np.vdot(x, back), rel=1e-12, abs=1e-12)


def test_col2im_counts_window_overlaps():
    # col2im(ones) = how many windows cover each pixel (0 for pixels never covered).
    x_shape, kh, kw, s, p, d = (1, 2, 5, 5), 3, 3, (2, 2), (0, 0), (1, 1)
    counts = ref.col2im_hwc(np.ones((4, 18)), x_shape, kh, kw, s, p, d)[0]
    row = np.array([1, 1, 2, 1, 1])
    np.testing.assert_array_equal(counts, [np.outer(row, row)] * 2)


def test_im2col_rejects_empty_output():
    with pytest.raises(ValueError, match="empty convolution output"):
        ref.im2col_hwc(np.zeros((1, 1, 2, 2)), 3, 3, (1, 1), (0, 0), (1, 1))


def test_im2col_matches_torch_unfold():
    """torch's unfold columns are ordered (c, i, j); permuted to (i, j, c) they are ours."""
    torch = pytest.importorskip("torch")
    x_shape, kh, kw, s, p, d = CONV_CASES[2]
    x = np.random.default_rng(2).standard_normal(x_shape)
    n, c = x_shape[:2]
    unf = torch.nn.functional.unfold(torch.from_numpy(x), (kh, kw), dilation=d, padding=p,
                                     stride=s).numpy()              # (N, C*KH*KW, L)
    expected = unf.reshape(n, c, kh * kw, -1).transpose(0, 3, 2, 1).reshape(-1, kh * kw * c)
    np.testing.assert_array_equal(ref.im2col_hwc(x, kh, kw, s, p, d), expected)


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_chw_kernels_are_torchs_unfold_and_fold(case):
    """The (c, i, j) column order a GPU takes (kernels.conv_columns): unfold_chw and fold_chw
    are torch's unfold and fold, float for float; im2col_chw/col2im_chw are the same per image,
    transposed; all four the (i, j, c) kernels with the columns permuted; the sums in fold and
    col2im bitwise those of the (i, j, c) ones (the same order per pixel)."""
    torch = pytest.importorskip("torch")
    x_shape, kh, kw, s, p, d = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape)
    n, c = x_shape[:2]
    tx = torch.from_numpy(x)
    u = ref.unfold_chw(x, kh, kw, s, p, d)
    assert u.flags.c_contiguous
    np.testing.assert_array_equal(
        u, torch.nn.functional.unfold(tx, (kh, kw), dilation=d, padding=p, stride=s).numpy())
    cols = ref.im2col_chw(x, kh, kw, s, p, d)
    assert cols.flags.c_contiguous and cols.shape == (u.shape[0] * u.shape[2], u.shape[1])
    np.testing.assert_array_equal(cols, u.transpose(0, 2, 1).reshape(cols.shape))
    hwc = ref.im2col_hwc(x, kh, kw, s, p, d)
    np.testing.assert_array_equal(
        cols, hwc.reshape(-1, kh, kw, c).transpose(0, 3, 1, 2).reshape(cols.shape))
    g = rng.standard_normal(u.shape)
    back = ref.fold_chw(g, x_shape, kh, kw, s, p, d)
    np.testing.assert_array_equal(back, torch.nn.functional.fold(
        torch.from_numpy(g), x_shape[2:], (kh, kw), dilation=d, padding=p, stride=s).numpy())
    g_hwc = np.ascontiguousarray(g.reshape(n, c, kh, kw, -1).transpose(0, 2, 3, 1, 4))
    np.testing.assert_array_equal(back, ref.fold_hwc(g_hwc.reshape(g.shape), x_shape, kh, kw,
                                                     s, p, d))
    g_cols = np.ascontiguousarray(g.transpose(0, 2, 1)).reshape(cols.shape)
    np.testing.assert_array_equal(ref.col2im_chw(g_cols, x_shape, kh, kw, s, p, d), back)
    with pytest.raises(ValueError, match="u has shape"):
        ref.fold_chw(g[:, :-1], x_shape, kh, kw, s, p, d)
    with pytest.raises(ValueError, match="cols has shape"):
        ref.col2im_chw(g_cols[:-1], x_shape, kh, kw, s, p, d)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_numba_conv_kernels_bitwise_equal_reference(nb, case, dtype):
    x_shape, kh, kw, s, p, d = case
    rng = np.random.default_rng(7)
    x = _randn(rng, x_shape, dtype)
    cols = nb.im2col_hwc(x, kh, kw, s, p, d)
    assert cols.dtype == dtype and cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, ref.im2col_hwc(x, kh, kw, s, p, d))
    g = _randn(rng, cols.shape, dtype)
    back = nb.col2im_hwc(g, x_shape, kh, kw, s, p, d)
    assert back.dtype == dtype and back.flags.c_contiguous
    np.testing.assert_array_equal(back, ref.col2im_hwc(g, x_shape, kh, kw, s, p, d))


def test_numba_conv_kernels_non_contiguous_inputs(nb):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5, 9, 4)).astype(np.float32).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(nb.im2col_hwc(x, 2, 3, (1, 2), (1, 1), (2, 1)),
                                  ref.im2col_hwc(x, 2, 3, (1, 2), (1, 1), (2, 1)))
    g = np.asfortranarray(rng.standard_normal((3 * 4 * 4, 2 * 2 * 4)).astype(np.float32))
    np.testing.assert_array_equal(nb.col2im_hwc(g, (3, 4, 5, 5), 2, 2, 1, 0, 1),
                                  ref.col2im_hwc(g, (3, 4, 5, 5), 2, 2, 1, 0, 1))
    with pytest.raises(ValueError, match="cols has shape"):
        nb.col2im_hwc(g[:-1], (3, 4, 5, 5), 2, 2, 1, 0, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_unfold_fold_are_im2col_col2im_per_image_transposed(case, dtype):
    x_shape, kh, kw, s, p, d = case
    rng = np.random.default_rng(9)
    x = _randn(rng, x_shape, dtype)
    n = x_shape[0]
    cols = ref.im2col_hwc(x, kh, kw, s, p, d)
    u = ref.unfold_hwc(x, kh, kw, s, p, d)
    assert u.dtype == dtype and u.flags.c_contiguous
    np.testing.assert_array_equal(u, cols.reshape(n, -1, cols.shape[1]).transpose(0, 2, 1))
    g = _randn(rng, u.shape, dtype)
    back = ref.fold_hwc(g, x_shape, kh, kw, s, p, d)
    assert back.shape == x_shape and back.dtype == dtype and back.flags.c_contiguous
    g_rows = np.ascontiguousarray(g.transpose(0, 2, 1)).reshape(cols.shape)
    np.testing.assert_array_equal(back, ref.col2im_hwc(g_rows, x_shape, kh, kw, s, p, d))
    with pytest.raises(ValueError, match="u has shape"):
        ref.fold_hwc(g[:, :-1], x_shape, kh, kw, s, p, d)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_numba_unfold_fold_bitwise_equal_reference(nb, case, dtype):
    x_shape, kh, kw, s, p, d = case
    rng = np.random.default_rng(10)
    x = _randn(rng, x_shape, dtype)
    u = nb.unfold_hwc(x, kh, kw, s, p, d)
    assert u.dtype == dtype and u.flags.c_contiguous
    np.testing.assert_array_equal(u, ref.unfold_hwc(x, kh, kw, s, p, d))
    g = _randn(rng, u.shape, dtype)
    back = nb.fold_hwc(g, x_shape, kh, kw, s, p, d)
    assert back.shape == x_shape and back.dtype == dtype and back.flags.c_contiguous
    np.testing.assert_array_equal(back, ref.fold_hwc(g, x_shape, kh, kw, s, p, d))
    with pytest.raises(ValueError, match="u has shape"):
        nb.fold_hwc(g[:, :-1], x_shape, kh, kw, s, p, d)


if hypothesis is not None:
    @settings(max_examples=40, deadline=None)
    @given(n=st.integers(1, 2), c=st.sampled_from([1, 2, 5, 16]), h=st.integers(1, 9),
           w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4),
           sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2),
           pw=st.integers(0, 2), dh=st.integers(1, 2), dw=st.integers(1, 2))
    def test_numba_conv_kernels_random_geometry(n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw):
        pytest.importorskip("numba", reason="numba not installed")
        from minigrad.kernels import numba_cpu
        x_shape, s, p, d = (n, c, h, w), (sh, sw), (ph, pw), (dh, dw)
        hypothesis.assume(min(_out_hw(x_shape, kh, kw, s, p, d)) >= 1)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(x_shape).astype(np.float32)
        cols = ref.im2col_hwc(x, kh, kw, s, p, d)
        np.testing.assert_array_equal(numba_cpu.im2col_hwc(x, kh, kw, s, p, d), cols)
        g = rng.standard_normal(cols.shape).astype(np.float32)
        np.testing.assert_array_equal(numba_cpu.col2im_hwc(g, x_shape, kh, kw, s, p, d),
                                      ref.col2im_hwc(g, x_shape, kh, kw, s, p, d))
        np.testing.assert_array_equal(numba_cpu.unfold_hwc(x, kh, kw, s, p, d),
                                      ref.unfold_hwc(x, kh, kw, s, p, d))
        gu = g.reshape(n, -1, g.shape[1]).transpose(0, 2, 1).copy()
        np.testing.assert_array_equal(numba_cpu.fold_hwc(gu, x_shape, kh, kw, s, p, d),
                                      ref.fold_hwc(gu, x_shape, kh, kw, s, p, d))


# =========================================================================== Winograd

# (x shape, OC, padding): even and odd outputs (the last tiles overhang), paddings 0-2, one
# tile, non-square images, an input row and column a 4x4/2 conv never reads (7 wide, no
# padding); each a case of every tiling, 3x3 stride-1 (f2x3, f4x3) and 4x4 stride-2 (k4s2), where
# its output is not empty.
WINOGRAD_GEOMETRIES = [
    ((2, 3, 6, 6), 4, (1, 1)),
    ((2, 5, 7, 9), 3, (1, 1)),
    ((1, 4, 5, 8), 2, (0, 2)),
    ((3, 2, 3, 3), 5, (0, 0)),
    ((2, 6, 4, 5), 3, (2, 1)),
    ((1, 16, 8, 8), 8, (1, 1)),
    ((2, 3, 8, 8), 4, (1, 1)),
    ((2, 2, 9, 7), 3, (1, 0)),
    ((1, 3, 6, 10), 2, (2, 1)),
    ((2, 2, 4, 4), 2, (0, 0)),
    ((1, 2, 7, 7), 2, (0, 0)),
    ((1, 8, 16, 16), 5, (1, 1)),
]
TILINGS = {"f2x3": reference_winograd.F2X3, "f4x3": reference_winograd.F4X3,
           "k4s2": reference_winograd.K4S2, "k4s2f4": reference_winograd.K4S2F4}
WINOGRAD_CASES = [(name, x_shape, oc, p) for name, t in TILINGS.items()
                  for x_shape, oc, p in WINOGRAD_GEOMETRIES
                  if min(_out_hw(x_shape, t.kernel, t.kernel, (t.stride,) * 2, p, (1, 1))) >= 1]
WINOGRAD_IDS = [f"{c[0]}-x{c[1]}-oc{c[2]}-p{c[3]}".replace(" ", "") for c in WINOGRAD_CASES]


def _winograd(mod, name, kind):
    """Kernel winograd_<name>_<kind> of ``mod``, the reference's where mod has none."""
    kernel = f"winograd_{name}_{kind}"
    return getattr(mod, kernel, None) or getattr(ref, kernel)


def _winograd_data(rng, name, x_shape, oc, padding, dtype):
    """x, W and an output gradient gy of a ``name`` convolution (random normal)."""
    k, s = TILINGS[name][:2]
    x, W = _randn(rng, x_shape, dtype), _randn(rng, (oc, x_shape[1], k, k), dtype)
    oh, ow = _out_hw(x_shape, k, k, (s, s), padding, (1, 1))
    return x, W, _randn(rng, (x_shape[0], oc, oh, ow), dtype)


def _winograd_products(mod, name, x, W, gy, padding):
    """y = output(weight(W) @ input(x)) by ``mod``'s kernels, and for k4s2 and f4x3 the weight
    gradient grad_weight(grad_output(gy) @ input(x)^T) (the reference's kernels where ``mod``
    has none)."""
    v = _winograd(mod, name, "input")(x, padding)
    y = _winograd(mod, name, "output")(_winograd(mod, name, "weight")(W) @ v, gy.shape)
    if name == "f2x3":
        return (y,)
    gu = _winograd(mod, name, "grad_output")(gy) @ v.transpose(0, 2, 1)
    return y, _winograd(mod, name, "grad_weight")(gu)


def _direct(x, W, gy, stride, p):
    """y = conv(x, W) and gW = conv^*(x, gy), as im2col products in float64."""
    n = x.shape[0]
    oc, _, kh, kw = W.shape
    cols = ref.im2col_hwc(x.astype(np.float64), kh, kw, stride, p, 1)
    w_rows = W.astype(np.float64).transpose(0, 2, 3, 1).reshape(oc, -1)
    oh, ow = gy.shape[2:]
    y = (cols @ w_rows.T).reshape(n, oh, ow, oc).transpose(0, 3, 1, 2)
    gy_rows = gy.astype(np.float64).transpose(0, 2, 3, 1).reshape(-1, oc)
    gW = (gy_rows.T @ cols).reshape(oc, kh, kw, -1).transpose(0, 3, 1, 2)
    return y, gW


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, x_shape, oc, p", WINOGRAD_CASES, ids=WINOGRAD_IDS)
def test_winograd_reference_is_the_convolution(name, x_shape, oc, p, dtype):
    """output(weight(W) @ input(x)) is the convolution (the im2col product, in float64) and,
    for 4x4 stride-2 convs and F(4x4, 3x3), grad_weight(grad_output(gy) @ input(x)^T) its
    weight gradient, to float rounding."""
    rng = np.random.default_rng(11)
    x, W, gy = _winograd_data(rng, name, x_shape, oc, p, dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for got, expected in zip(_winograd_products(ref, name, x, W, gy, p),
                             _direct(x, W, gy, TILINGS[name].stride, p)):
        assert got.shape == expected.shape and got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())


def _assert_numba_equal_reference(nb, name, x, W, p, m, gy):
    """Every Numba transform (input, output; the weight and the weight gradient's where Numba
    has them) bitwise equal to the reference, C-contiguous, of the input's dtype."""
    y_shape = gy.shape
    kinds = [("input", (x, p)), ("output", (m, y_shape))]
    if hasattr(nb, f"winograd_{name}_weight"):
        kinds.append(("weight", (W,)))
    if name != "f2x3":  # the weight gradient's last transform (gu: any (side^2, OC, C') products)
        gu = np.random.default_rng(3).standard_normal((m.shape[0], m.shape[1],
                                                       TILINGS[name].phases * x.shape[1]))
        kinds.append(("grad_weight", (gu.astype(x.dtype),)))
    if name != "f2x3":
        kinds.append(("grad_output", (gy,)))
    for kind, args in kinds:
        assert hasattr(nb, f"winograd_{name}_{kind}"), kind  # a Numba twin, not the fallback
        got = _winograd(nb, name, kind)(*args)
        assert got.dtype == x.dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got, _winograd(ref, name, kind)(*args))
        assert kind != "output" or got.shape == y_shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, x_shape, oc, p", WINOGRAD_CASES, ids=WINOGRAD_IDS)
def test_numba_winograd_kernels_bitwise_equal_reference(nb, name, x_shape, oc, p, dtype):
    rng = np.random.default_rng(12)
    x, W, gy = _winograd_data(rng, name, x_shape, oc, p, dtype)
    v = _winograd(ref, name, "input")(x, p)
    m = _randn(rng, (v.shape[0], oc, v.shape[2]), dtype)
    _assert_numba_equal_reference(nb, name, x, W, p, m, gy)


@pytest.mark.parametrize("name", list(TILINGS))
def test_winograd_kernels_errors_and_non_contiguous_inputs(nb, name):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 6, 9, 3)).astype(np.float32).transpose(0, 3, 1, 2)
    k = TILINGS[name].kernel
    W = rng.standard_normal((k, k, 2, 3)).astype(np.float32).transpose(2, 3, 0, 1)
    tile = TILINGS[name].tile
    tiles = 2 * -(-4 // tile) * -(-3 // tile)   # of the (2, 2, 4, 3) output below
    m = np.asfortranarray(rng.standard_normal((TILINGS[name].side ** 2, 2, tiles))
                          .astype(np.float32))
    for mod in (ref, nb):
        for kind, args in (("input", (x, (1, 0))), ("weight", (W,)), ("output", (m, (2, 2, 4, 3)))):
            contiguous = tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a
                               for a in args)
            np.testing.assert_array_equal(_winograd(mod, name, kind)(*args),
                                          _winograd(ref, name, kind)(*contiguous))
        with pytest.raises(ValueError, match="empty convolution output"):
            _winograd(mod, name, "input")(x[:, :, :k - 1], (0, 0))
        with pytest.raises(ValueError, match="m has shape"):
            _winograd(mod, name, "output")(np.zeros((m.shape[0], 2, 5), np.float32), (1, 2, 4, 4))


if hypothesis is not None:
    @settings(max_examples=60, deadline=None)
    @given(name=st.sampled_from(list(TILINGS)), n=st.integers(1, 2),
           c=st.integers(1, 5),
           oc=st.integers(1, 4), h=st.integers(1, 11), w=st.integers(1, 11),
           ph=st.integers(0, 2), pw=st.integers(0, 2))
    def test_winograd_random_geometry(name, n, c, oc, h, w, ph, pw):
        """Numba == reference bitwise, and both the convolution (and for 4x4 stride-2 convs and
        F(4x4, 3x3) its weight gradient), on random geometries."""
        pytest.importorskip("numba", reason="numba not installed")
        from minigrad.kernels import numba_cpu
        k, s = TILINGS[name][:2]
        x_shape, p = (n, c, h, w), (ph, pw)
        hypothesis.assume(min(_out_hw(x_shape, k, k, (s, s), p, (1, 1))) >= 1)
        x, W, gy = _winograd_data(np.random.default_rng(0), name, x_shape, oc, p, np.float64)
        products = _winograd_products(ref, name, x, W, gy, p)
        m = _winograd(ref, name, "weight")(W) @ _winograd(ref, name, "input")(x, p)
        _assert_numba_equal_reference(numba_cpu, name, x, W, p, m, gy)
        for got, expected in zip(products, _direct(x, W, gy, s, p)):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------- Winograd for transposed 4x4 stride-2 convolutions

# (x shape, OC, padding, extra output rows/columns (output_padding)): DCGAN's padding 1 with
# even outputs (tiles of 4 output rows fill them: 4x4 and 8x8 inputs) and not (3x3, 5x7:
# the last tiles overhang), paddings 0, 2 (the two row phases share their patch), 3 (odd
# again, the patches start inside x) and mixed, odd output sizes, batch 1, one pixel.
K4S2T_GEOMETRIES = [
    ((2, 3, 4, 4), 5, (1, 1), (0, 0)),
    ((1, 4, 8, 8), 3, (1, 1), (0, 0)),
    ((2, 2, 3, 3), 2, (1, 1), (0, 0)),
    ((1, 3, 5, 7), 4, (1, 1), (1, 1)),
    ((2, 3, 4, 5), 2, (0, 0), (0, 1)),
    ((1, 2, 6, 3), 3, (2, 2), (1, 0)),
    ((2, 2, 5, 5), 2, (3, 3), (0, 1)),
    ((1, 3, 7, 4), 2, (1, 2), (0, 0)),
    ((2, 2, 3, 6), 3, (0, 3), (1, 1)),
    ((1, 1, 1, 1), 2, (0, 1), (0, 0)),
    ((3, 6, 2, 9), 4, (2, 1), (1, 0)),
]
K4S2T_IDS = [f"x{g[0]}-oc{g[1]}-p{g[2]}-e{g[3]}".replace(" ", "") for g in K4S2T_GEOMETRIES]


def _k4s2t_output_size(x_shape, padding, extra):
    return tuple(2 * x_shape[2 + i] + 2 - 2 * padding[i] + extra[i] for i in range(2))


def _k4s2t_by_winograd(mod, x, W, padding, output_size, xp_matmul=np.matmul):
    """conv_transpose(x, W) by ``mod``'s winograd_k4s2t_* kernels (the reference's where mod has
    none) and one product per transformed position (ops/conv.py's route, in one chunk)."""
    n, c = x.shape[:2]
    oc = W.shape[1]
    u = _winograd(mod, "k4s2t", "weight")(W, padding)
    v = _winograd(mod, "k4s2t", "input")(x, padding, output_size)
    offsets = reference_winograd.k4s2t_layout(padding).offsets
    assert u.shape == (36, oc, c) and v.shape[:2] == (len(offsets) - 1, c)
    m = np.empty((36, oc, v.shape[2]), dtype=np.result_type(u, v))
    for q in range(v.shape[0]):
        a, b = offsets[q], offsets[q + 1]
        xp_matmul(u[a:b].reshape((b - a) * oc, c), v[q], out=m[a:b].reshape((b - a) * oc, -1))
    return _winograd(mod, "k4s2t", "output")(m, (n, oc) + tuple(output_size), padding), m


def _k4s2t_direct(x, W, padding, output_size):
    """conv_transpose(x, W) as ops/conv.py's im2col route writes it: col2im(rows(x) @ W_rows)."""
    n, c = x.shape[:2]
    oc = W.shape[1]
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
    w_rows = W.transpose(0, 2, 3, 1).reshape(c, -1)
    return ref.col2im_hwc(rows @ w_rows, (n, oc) + tuple(output_size), 4, 4, (2, 2), padding,
                          (1, 1))


def test_k4s2t_layout_names_every_phase_product_once():
    """36 slots, one per (phase, position); grouped by the transformed position they read
    (5 values per axis for an odd padding, 3 for an even one); minus signs only on phase 1's
    first position along an odd-padded axis."""
    for p, values in (((1, 1), (5, 5)), ((0, 2), (3, 3)), ((1, 0), (5, 3)), ((2, 3), (3, 5))):
        lay = reference_winograd.k4s2t_layout(p)
        assert lay.values == values and lay.offsets[0] == 0 and lay.offsets[-1] == 36
        assert len(lay.offsets) == values[0] * values[1] + 1
        slots = sorted(z for rs in lay.slots for row in rs for z in row)
        assert slots == list(range(36))
        for r in range(2):
            for s in range(2):
                for a in range(3):
                    for b in range(3):
                        neg = (p[0] % 2 and r == 1 and a == 0) != (p[1] % 2 and s == 1 and b == 0)
                        assert lay.signs[lay.slots[r][s][3 * a + b]] == (-1 if neg else 1)
    with pytest.raises(ValueError, match="negative"):
        reference_winograd.k4s2t_layout((1, -1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, oc, p, extra", K4S2T_GEOMETRIES, ids=K4S2T_IDS)
def test_winograd_k4s2t_reference_is_the_transposed_convolution(x_shape, oc, p, extra, dtype):
    """output(weight(W) @ input(x)) per transformed position is col2im(rows(x) @ W_rows), the
    im2col route's transposed convolution, to float rounding."""
    rng = np.random.default_rng(14)
    x, W = _randn(rng, x_shape, dtype), _randn(rng, (x_shape[1], oc, 4, 4), dtype)
    size = _k4s2t_output_size(x_shape, p, extra)
    got, _ = _k4s2t_by_winograd(ref, x, W, p, size)
    expected = _k4s2t_direct(x.astype(np.float64), W.astype(np.float64), p, size)
    assert got.shape == expected.shape and got.dtype == dtype and got.flags.c_contiguous
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())


def _assert_numba_k4s2t_equal_reference(nb, x, W, p, size, m):
    """The three Numba transforms bitwise equal to the reference's, C-contiguous, of the input's
    dtype, and the same written into ``out`` arrays."""
    y_shape = (x.shape[0], W.shape[1]) + tuple(size)
    for kind, args in (("weight", (W, p)), ("input", (x, p, size)), ("output", (m, y_shape, p))):
        got, expected = (getattr(mod, "winograd_k4s2t_" + kind)(*args) for mod in (nb, ref))
        assert got.dtype == x.dtype and got.flags.c_contiguous and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        if kind != "weight":
            for mod in (nb, ref):
                out = np.full_like(expected, np.nan)
                assert getattr(mod, "winograd_k4s2t_" + kind)(*args, out=out) is out
                np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, oc, p, extra", K4S2T_GEOMETRIES, ids=K4S2T_IDS)
def test_numba_winograd_k4s2t_kernels_bitwise_equal_reference(nb, x_shape, oc, p, extra, dtype):
    rng = np.random.default_rng(15)
    x, W = _randn(rng, x_shape, dtype), _randn(rng, (x_shape[1], oc, 4, 4), dtype)
    size = _k4s2t_output_size(x_shape, p, extra)
    th, tw = -(-size[0] // 4), -(-size[1] // 4)
    m = _randn(rng, (36, oc, x_shape[0] * th * tw), dtype)
    _assert_numba_k4s2t_equal_reference(nb, x, W, p, size, m)


@pytest.mark.parametrize("name, products, tiles, out_args", [
    ("k4s2t", 36, 2 * 2 * 2, ((1, 1),)),   # F(2x2, 2x2) per phase; its output takes the padding
    ("k4s2tf4", 100, 2 * 1 * 1, ()),       # F(4x4, 2x2) per phase
])
def test_winograd_transposed_errors_and_non_contiguous_inputs(nb, name, products, tiles,
                                                               out_args):
    """The transposed 4x4/2 routes' transforms (reference and Numba) take non-contiguous inputs
    as their contiguous copies, and name what is wrong with a bad size, padding, m or out."""
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 5, 3, 4)).astype(np.float32).transpose(0, 3, 1, 2)  # (2, 4, 5, 3)
    W = rng.standard_normal((4, 4, 4, 3)).astype(np.float32).transpose(2, 3, 0, 1)  # (4, 3, 4, 4)
    m = np.asfortranarray(rng.standard_normal((products, 3, tiles)).astype(np.float32))
    for mod in (ref, nb):
        def kernel(kind, mod=mod):
            return getattr(mod, f"winograd_{name}_{kind}")
        for kind, args in (("input", (x, (1, 1), (10, 6))), ("weight", (W, (1, 1))),
                           ("output", (m, (2, 3, 7, 6)) + out_args)):
            contiguous = tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a
                               for a in args)
            np.testing.assert_array_equal(kernel(kind)(*args),
                                          getattr(ref, f"winograd_{name}_{kind}")(*contiguous))
        with pytest.raises(ValueError, match="empty transposed convolution output"):
            kernel("input")(x, (1, 1), (0, 6))
        with pytest.raises(ValueError, match="negative"):
            kernel("weight")(W, (-1, 0))
        with pytest.raises(ValueError, match="m has shape"):
            kernel("output")(m[:, :, :tiles - 1], (2, 3, 7, 6), *out_args)
        with pytest.raises(ValueError, match="out must be"):
            kernel("output")(m, (2, 3, 7, 6), *out_args, out=np.empty((2, 3, 6, 7), np.float32))
        if name == "k4s2t":  # (its input transform writes into a caller's buffer too)
            with pytest.raises(ValueError, match="out must be"):
                kernel("input")(x, (1, 1), (10, 6), out=np.empty((25, 4, 9), np.float32))


if hypothesis is not None:
    @settings(max_examples=60, deadline=None)
    @given(n=st.integers(1, 3), c=st.integers(1, 5), oc=st.integers(1, 4), h=st.integers(1, 9),
           w=st.integers(1, 9), ph=st.integers(0, 3), pw=st.integers(0, 3),
           eh=st.integers(0, 1), ew=st.integers(0, 1))
    def test_winograd_k4s2t_random_geometry(n, c, oc, h, w, ph, pw, eh, ew):
        """The transposed convolution by the reference's transforms (float64, to rounding) and
        the Numba ones bitwise equal to them, on random geometries."""
        pytest.importorskip("numba", reason="numba not installed")
        from minigrad.kernels import numba_cpu
        x_shape, p = (n, c, h, w), (ph, pw)
        size = _k4s2t_output_size(x_shape, p, (eh, ew))
        hypothesis.assume(min(size) >= 1)
        rng = np.random.default_rng(0)
        x, W = rng.standard_normal(x_shape), rng.standard_normal((c, oc, 4, 4))
        got, m = _k4s2t_by_winograd(ref, x, W, p, size)
        np.testing.assert_allclose(got, _k4s2t_direct(x, W, p, size), rtol=1e-12, atol=1e-12)
        _assert_numba_k4s2t_equal_reference(numba_cpu, x, W, p, size, m)


# ------------------------- Winograd F(4x4, 2x2) for transposed 4x4 stride-2 convolutions

def _k4s2tf4_by_winograd(mod, x, W, padding, output_size):
    """conv_transpose(x, W) by ``mod``'s winograd_k4s2tf4_* kernels: one product per phase and
    position, (OC, C) @ (C, tiles), as ops/conv.py's route; and the products."""
    n, c = x.shape[:2]
    oc = W.shape[1]
    u = getattr(mod, "winograd_k4s2tf4_weight")(W, padding)
    v = getattr(mod, "winograd_k4s2tf4_input")(x, padding, output_size)
    th, tw = -(-output_size[0] // 8), -(-output_size[1] // 8)
    assert u.shape == (100, oc, c) and v.shape == (100, c, th * tw * n)
    m = u @ v
    return getattr(mod, "winograd_k4s2tf4_output")(m, (n, oc) + tuple(output_size)), m


def _assert_k4s2tf4(x, W, p, size, tol):
    """The reference's transposed convolution against col2im(rows(x) @ W_rows) in float64, and
    every Numba transform bitwise equal to the reference's (C-contiguous, of x's dtype)."""
    from minigrad.kernels import numba_cpu

    got, m = _k4s2tf4_by_winograd(ref, x, W, p, size)
    expected = _k4s2t_direct(x.astype(np.float64), W.astype(np.float64), p, size)
    assert got.shape == expected.shape and got.dtype == x.dtype and got.flags.c_contiguous
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())
    y_shape = (x.shape[0], W.shape[1]) + tuple(size)
    for kind, args in (("weight", (W, p)), ("input", (x, p, size)), ("output", (m, y_shape))):
        got, expected = (getattr(mod, "winograd_k4s2tf4_" + kind)(*args)
                         for mod in (numba_cpu, ref))
        assert got.dtype == x.dtype and got.flags.c_contiguous and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    for mod in (numba_cpu, ref):   # the output into a given array (the route's batch chunks)
        out = np.full_like(expected, np.nan)
        assert mod.winograd_k4s2tf4_output(m, y_shape, out=out) is out
        np.testing.assert_array_equal(out, expected)
        with pytest.raises(ValueError, match="out must be"):
            mod.winograd_k4s2tf4_output(m, y_shape, out=out[:, :, :, :-1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, oc, p, extra", K4S2T_GEOMETRIES, ids=K4S2T_IDS)
def test_winograd_k4s2tf4_is_the_transposed_convolution(nb, x_shape, oc, p, extra, dtype):
    """output(weight(W) @ input(x)) per phase and position is the im2col route's transposed
    convolution to float rounding (F(4x4, 2x2)'s, held to F(2x2, 2x2)'s bound), and the Numba
    kernels are bitwise the reference's."""
    rng = np.random.default_rng(17)
    x, W = _randn(rng, x_shape, dtype), _randn(rng, (x_shape[1], oc, 4, 4), dtype)
    _assert_k4s2tf4(x, W, p, _k4s2t_output_size(x_shape, p, extra),
                    1e-12 if dtype == np.float64 else 1e-5)


if hypothesis is not None:
    @settings(max_examples=40, deadline=None)
    @given(n=st.integers(1, 3), c=st.integers(1, 5), oc=st.integers(1, 4), h=st.integers(1, 10),
           w=st.integers(1, 10), ph=st.integers(0, 3), pw=st.integers(0, 3),
           eh=st.integers(0, 1), ew=st.integers(0, 1))
    def test_winograd_k4s2tf4_random_geometry(n, c, oc, h, w, ph, pw, eh, ew):
        """The F(4x4, 2x2) transposed convolution on random geometries (float64, to rounding),
        the Numba kernels bitwise equal to the reference's."""
        pytest.importorskip("numba", reason="numba not installed")
        x_shape, p = (n, c, h, w), (ph, pw)
        size = _k4s2t_output_size(x_shape, p, (eh, ew))
        hypothesis.assume(min(size) >= 1)
        rng = np.random.default_rng(0)
        _assert_k4s2tf4(rng.standard_normal(x_shape), rng.standard_normal((c, oc, 4, 4)), p, size,
                        1e-12)


# =========================================================================== scatter-add

def _scatter_cases(rng, dtype):
    """(target shape, index, values shape) covering the fast path and fallbacks."""
    idx = np.array([0, 3, 3, 1, 0, 3])
    return [
        ((5, 4), idx, (6, 4)),                                  # x[idx], repeats
        ((5,), idx, (6,)),                                      # 1-D target
        ((6, 2, 3), rng.integers(-6, 6, (4, 5)), (4, 5, 2, 3)),  # 2-D idx, negatives
        ((5, 4), (idx, slice(None)), (6, 4)),                   # x[idx, :]
        ((5, 4), (idx, Ellipsis), (6, 4)),                      # x[idx, ...]
        ((5, 4), idx.astype(np.int32), (6, 4)),                 # int32 index
        ((5, 4), (slice(None), idx[:3]), (5, 3)),               # axis 1
        ((2, 3, 5, 4), (slice(None), slice(None), idx), (2, 3, 6, 4)),  # axis 2: reflect pad
        ((2, 3, 5, 4), (slice(None),) * 3 + (np.array([2, 0, 1, 2, 3, 2, 1]),),
         (2, 3, 5, 7)),                                         # last axis, repeats
        ((2, 5, 4), (slice(None), idx, Ellipsis), (2, 6, 4)),    # x[:, idx, ...]
        ((2, 5, 4), (slice(None), idx.reshape(2, 3)), (2, 2, 3, 4)),  # fallback: 2-D, axis 1
        ((2, 5, 4), (slice(1, None), idx), (1, 6, 4)),          # fallback: a slice before
        ((5, 4), (idx, idx % 4), (6,)),                         # fallback: two arrays
        ((5, 4), idx, (4,)),                                    # fallback: broadcast values
        ((5, 4), np.array([True, False, True, False, True]), (3, 4)),  # fallback: mask
        ((5, 4), slice(1, 4), (3, 4)),                          # fallback: basic slice
    ]


@pytest.mark.parametrize("a_shape, b_shape", [((5, 1), (1, 7)), ((3, 5, 1), (1, 7)),
                                              ((2, 1, 4, 1), (3, 1, 6)), ((1,), (1, 4)),
                                              ((5, 1), (1,)), ((5, 2), (2, 7))])
def test_matmul_kernel_is_numpy_matmul_outer_products_included(a_shape, b_shape):
    """The registry's matmul (an outer product, inner dimension 1, runs as an elementwise
    product) equals NumPy's matmul bitwise in values, shape and dtype, batch broadcasting and
    1-d operands included; mismatched inner dimensions still raise NumPy's error."""
    rng = np.random.default_rng(5)
    for da, db in ((np.float32, np.float32), (np.float32, np.float64)):
        a, b = rng.standard_normal(a_shape).astype(da), rng.standard_normal(b_shape).astype(db)
        got, expected = ref.matmul(a, b), np.matmul(a, b)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="mismatch"):
        ref.matmul(np.ones((3, 1)), np.ones((2, 4)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_add_reference_is_np_add_at(dtype):
    rng = np.random.default_rng(5)
    for t_shape, index, v_shape in _scatter_cases(rng, dtype):
        target = _randn(rng, t_shape, dtype)
        values = _randn(rng, v_shape, dtype)
        expected = target.copy()
        np.add.at(expected, index, values)
        out = ref.scatter_add(target, index, values)
        assert out is target
        np.testing.assert_array_equal(target, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_scatter_add_equals_reference(nb, dtype):
    rng = np.random.default_rng(6)
    for t_shape, index, v_shape in _scatter_cases(rng, dtype):
        target = _randn(rng, t_shape, dtype)
        values = _randn(rng, v_shape, dtype)
        expected = ref.scatter_add(target.copy(), index, values)
        out = nb.scatter_add(target, index, values)
        assert out is target and target.dtype == dtype
        np.testing.assert_array_equal(target, expected)


def test_numba_scatter_add_runs_along_any_axis_without_add_at(nb, monkeypatch):
    """An integer array along a later axis (reflect/replicate padding's backward, CycleGAN's
    ReflectionPad2d: np.add.at was a fifth of its CPU step) takes the Numba kernel, not the
    reference's np.add.at; the floats are add.at's (each element's values in index order)."""
    rng = np.random.default_rng(7)
    idx = np.array([3, 2, 1, 0, 1, 2, 3, 2])
    target = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    values = rng.standard_normal((2, 3, 4, 8)).astype(np.float32)
    expected = target.copy()
    np.add.at(expected, (slice(None),) * 3 + (idx,), values)
    monkeypatch.setattr(nb.ref, "scatter_add", lambda *a: pytest.fail("fell back to add.at"))
    nb.scatter_add(target, (slice(None),) * 3 + (idx,), values)
    np.testing.assert_array_equal(target, expected)


def test_numba_scatter_add_out_of_bounds(nb):
    with pytest.raises(IndexError):
        nb.scatter_add(np.zeros((3, 2)), np.array([0, 3]), np.ones((2, 2)))
    with pytest.raises(IndexError):
        nb.scatter_add(np.zeros((3, 2)), np.array([-4]), np.ones((1, 2)))


# =========================================================================== elementwise

def _elementwise_inputs(rng, shape, dtype):
    x = _randn(rng, shape, dtype) * dtype(3)
    x.flat[:3] = 0  # exercise the x > 0 boundary
    return {"x": x, "gy": _randn(rng, shape, dtype)}


def _call(fn_module, name, a, slope=0.2):
    return {
        "leaky_relu_fwd": lambda m: m.leaky_relu_fwd(a["x"], slope),
        "leaky_relu_bwd": lambda m: m.leaky_relu_bwd(a["x"], a["gy"], slope),
    }[name](fn_module)


ELEMENTWISE = ["leaky_relu_fwd", "leaky_relu_bwd"]


def test_elementwise_reference_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    gy = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(ref.leaky_relu_fwd(x, 0.1), [-0.2, -0.05, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(ref.leaky_relu_bwd(x, gy, 0.1), [0.1, 0.2, 0.3, 4.0, 5.0])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_reference_preserves_float32(name):
    a = _elementwise_inputs(np.random.default_rng(7), (4, 3), np.float32)
    out = _call(ref, name, a, slope=np.float64(0.2))  # a float64 scalar must not promote
    assert out.dtype == np.float32 and out.shape == (4, 3)


@pytest.mark.parametrize("shape", [(7,), (64, 1), (13, 17, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_numba_elementwise_equals_reference(nb, name, dtype, shape):
    a = _elementwise_inputs(np.random.default_rng(8), shape, dtype)
    got = _call(nb, name, a, slope=np.float64(0.2))
    expected = _call(ref, name, a, slope=np.float64(0.2))
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, expected)  # no libm calls: bit for bit


def test_numba_elementwise_falls_back_on_broadcasting_and_non_contiguous(nb):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    gy = np.float32(2.0) * np.ones((1, 5), np.float32)                 # broadcasts
    np.testing.assert_array_equal(nb.leaky_relu_bwd(x, gy, 0.2), ref.leaky_relu_bwd(x, gy, 0.2))
    xt = x.T                                                           # F-contiguous
    np.testing.assert_array_equal(nb.leaky_relu_fwd(xt, 0.2), ref.leaky_relu_fwd(xt, 0.2))
    xh = x.astype(np.float16)                                          # unsupported dtype
    out = nb.leaky_relu_fwd(xh, 0.2)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, ref.leaky_relu_fwd(xh, 0.2))


# =========================================================================== optimizers

ADAM_CONFIGS = [
    dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False),
    dict(lr=2e-4, beta1=0.5, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False),
    dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.05, amsgrad=True),
]
RMSPROP_CONFIGS = [
    dict(lr=5e-5, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False),
    dict(lr=1e-3, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.9, centered=False),
    dict(lr=1e-3, alpha=0.95, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=True),
    dict(lr=2e-3, alpha=0.9, eps=1e-8, weight_decay=0.1, momentum=0.5, centered=True),
]
N_STEPS = 5
SHAPES = [(17, 5), (300,)]


def _grads(rng, shape, dtype):
    return [_randn(rng, shape, dtype) for _ in range(N_STEPS)]


def _run_adam(module, p0, grads, cfg):
    p = p0.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    vmax = np.zeros_like(p) if cfg["amsgrad"] else None
    for step, g in enumerate(grads, start=1):
        module.adam_update(p, g, m, v, vmax, step=step, **cfg)
    return p, m, v


def _run_rmsprop(module, p0, grads, cfg):
    p = p0.copy()
    sq = np.zeros_like(p)
    ga = np.zeros_like(p) if cfg["centered"] else None
    buf = np.zeros_like(p) if cfg["momentum"] > 0 else None
    for g in grads:
        module.rmsprop_update(p, g, sq, ga, buf, **cfg)
    return p, sq


_RUNNERS = {"adam": _run_adam, "rmsprop": _run_rmsprop}
OPTIMIZER_CASES = [("adam", c) for c in ADAM_CONFIGS] + [("rmsprop", c) for c in RMSPROP_CONFIGS]


def _run_torch(opt_cls, p0, grads, **cfg):
    import torch
    p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = opt_cls([p], **cfg)
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    return p.detach().numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, cfg", OPTIMIZER_CASES)
def test_adam_rmsprop_reference_match_torch(name, cfg, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    p0, grads = _randn(rng, (7, 3), dtype), _grads(rng, (7, 3), dtype)
    got = _RUNNERS[name](ref, p0, grads, cfg)[0]
    if name == "adam":
        expected = _run_torch(torch.optim.Adam, p0, grads, lr=cfg["lr"],
                              betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"],
                              weight_decay=cfg["weight_decay"], amsgrad=cfg["amsgrad"],
                              foreach=False)
    else:
        expected = _run_torch(torch.optim.RMSprop, p0, grads, foreach=False, **cfg)
    assert got.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13  # torch uses lerp/FMA for the moments
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("cfg", [dict(momentum=0.0), dict(momentum=0.9, dampening=0.1),
                                 dict(momentum=0.9, nesterov=True, weight_decay=0.01)])
def test_sgd_reference_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    p0, grads = rng.standard_normal((6, 2)), _grads(rng, (6, 2), np.float64)
    p, buf = p0.copy(), np.zeros_like(p0)
    for k, g in enumerate(grads):
        ref.sgd_update(p, g, buf, lr=0.1, first_step=(k == 0), **cfg)
    expected = _run_torch(torch.optim.SGD, p0, grads, lr=0.1, foreach=False, **cfg)
    np.testing.assert_allclose(p, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_reference_preserves_float32(dtype):
    rng = np.random.default_rng(13)
    p, g = _randn(rng, (5,), dtype), _randn(rng, (5,), dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    ref.adam_update(p, g, m, v, None, lr=np.float64(1e-3), beta1=np.float64(0.9),
                    beta2=0.999, eps=1e-8, weight_decay=np.float64(0.1), step=1, amsgrad=False)
    ref.rmsprop_update(p, g, v, None, None, lr=np.float64(1e-3), alpha=np.float64(0.9),
                       eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)
    assert p.dtype == m.dtype == v.dtype == dtype


def _assert_ulp_close(got, expected, maxulp=2):
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype
        np.testing.assert_array_max_ulp(a, b, maxulp=maxulp)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, cfg", OPTIMIZER_CASES)
def test_numba_adam_rmsprop_equal_reference(nb, name, cfg, dtype, shape):
    rng = np.random.default_rng(14)
    p0, grads = _randn(rng, shape, dtype), _grads(rng, shape, dtype)
    run = _RUNNERS[name]
    _assert_ulp_close(run(nb, p0, grads, cfg), run(ref, p0, grads, cfg))


def test_numba_optimizers_fall_back_on_non_contiguous(nb):
    rng = np.random.default_rng(16)
    p0 = rng.standard_normal((6, 4)).astype(np.float32)
    g = rng.standard_normal((4, 6)).astype(np.float32).T  # non-contiguous grad
    results = []
    for module in (nb, ref):
        p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
        module.adam_update(p, g, m, v, None, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                           weight_decay=0.0, step=1, amsgrad=False)
        results.append(p)
    np.testing.assert_array_equal(*results)


# =========================================================================== registry

def test_registry_numpy_mode_returns_reference(restore_mode):
    kernels.set_kernels("numpy")
    for name in kernels.KERNEL_NAMES:
        assert kernels.get(name) is getattr(ref, name)


def test_registry_numba_and_auto_modes(nb, restore_mode):
    assert "numba" in kernels.available_modes()
    kernels.set_kernels("numba")
    for name in kernels.KERNEL_NAMES:
        expected = getattr(nb if name in kernels.NUMBA_KERNELS else ref, name)
        assert kernels.get(name) is expected
    kernels.set_kernels("auto")
    for name in kernels.KERNEL_NAMES:
        expected = getattr(nb if name in kernels.AUTO_NUMBA else ref, name)
        assert kernels.get(name) is expected


def test_registry_compiled_says_which_kernels_are_numbas(nb, restore_mode):
    """kernels.compiled(name): whether get(name) is not the reference's, in every mode, without
    counting a kernel call."""
    from minigrad.backend import counters

    for mode, fast in (("numpy", set()), ("numba", kernels.NUMBA_KERNELS),
                       ("auto", kernels.AUTO_NUMBA)):
        kernels.set_kernels(mode)
        with counters.count() as c:
            answers = {name: kernels.compiled(name) for name in kernels.KERNEL_NAMES}
        assert answers == {name: name in fast for name in kernels.KERNEL_NAMES}
        assert c["kernel"] == 0
    with pytest.raises(KeyError):
        kernels.compiled("no_such_kernel")


def test_registry_errors(restore_mode):
    with pytest.raises(ValueError):
        kernels.set_kernels("fortran")
    with pytest.raises(KeyError):
        kernels.get("no_such_kernel")
    assert kernels.AUTO_NUMBA <= kernels.NUMBA_KERNELS <= kernels.KERNEL_NAMES
    assert set(kernels.available_modes()) <= {"numpy", "numba", "auto"}


def test_xp_helper_returns_numpy_for_numpy_arrays():
    assert ref._xp(np.zeros(3)) is np


def test_import_is_lazy_and_env_var_selects_mode():
    code = ("import sys, minigrad.kernels as k; "
            "print(k.get_mode(), 'numba' in sys.modules, 'cupy' in sys.modules); "
            "k.get('leaky_relu_fwd'); print('numba' in sys.modules)")
    first, second = run_python(code, MINIGRAD_KERNELS="numpy").splitlines()
    assert first == "numpy False False"
    assert second == "False"  # numpy mode never imports numba
    assert run_python("import minigrad.kernels as k; print(k.get_mode())").strip() == "auto"


# =========================================================================== batch norm

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 8, 49), (2, 3, 4), (1, 5, 7), (5, 1, 300)])
def test_numba_batch_norm_matches_reference(nb, shape, dtype):
    """Forward and input gradient of the Numba BatchNorm equal the reference to float rounding
    (its per-channel sums accumulate in float64, the reference's in the dtype), including a
    channel with one value (var 0) and an offset far from zero (cancellation in the var)."""
    rng = np.random.default_rng(21)
    x = (rng.standard_normal(shape) * 3 + 50).astype(dtype)
    weight, bias = _randn(rng, shape[1:2], dtype), _randn(rng, shape[1:2], dtype)
    gy = _randn(rng, shape, dtype)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    got, expected = nb.batch_norm_fwd(x, weight, bias, 1e-5), ref.batch_norm_fwd(x, weight,
                                                                                  bias, 1e-5)
    for g, e in zip(got, expected):
        assert g.dtype == dtype and g.shape == e.shape and g.flags.c_contiguous
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
    xhat, r = expected[1], expected[4]
    got = nb.batch_norm_grad_input(gy, xhat, weight, r)
    expected = ref.batch_norm_grad_input(gy, xhat, weight, r)
    for g, e in zip(got, expected):
        assert g.dtype == dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol * max(1.0, np.abs(e).max()))


def test_numba_batch_norm_falls_back_outside_its_fast_path(nb):
    """Non-contiguous x, mixed dtypes, BatchNorm1d's (N, C, 1), 4-d input: the reference's
    result (and its errors)."""
    rng = np.random.default_rng(22)
    x = rng.standard_normal((4, 3, 6)).astype(np.float32)
    w, b = np.ones(3, np.float32), np.zeros(3, np.float32)
    strided = np.asfortranarray(x)
    rows = rng.standard_normal((4, 3, 1)).astype(np.float32)
    for args in ((strided, w, b, 1e-5), (x, w.astype(np.float64), b, 1e-5), (rows, w, b, 1e-5)):
        for g, e in zip(nb.batch_norm_fwd(*args), ref.batch_norm_fwd(*args)):
            np.testing.assert_array_equal(g, e)
