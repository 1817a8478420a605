"""minigrad.nn.functional against torch.nn.functional on edge cases (empty batches, ignored
targets, argument shapes) where the two once differed; each test names what torch does."""
from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F
from minigrad import Tensor


def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("channels", [(3, 4), (64, 1), (1, 64)])
def test_conv_on_an_empty_batch_has_zero_weight_gradients(transposed, channels):
    # torch: an (0, C, H, W) batch convolves to (0, OC, OH, OW), and its weight and bias
    # gradients are zeros. The thin-input weight gradient reshaped (0, OC, -1) and raised.
    torch, TF = _torch()
    c, oc = channels
    rng = np.random.default_rng(0)
    x = np.zeros((0, c, 8, 8))
    w = rng.standard_normal((c, oc, 3, 3) if transposed else (oc, c, 3, 3))
    b = rng.standard_normal(oc)
    f, tf = (F.conv_transpose2d, TF.conv_transpose2d) if transposed else (F.conv2d, TF.conv2d)
    xs = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y, yt = f(*xs, padding=1), tf(*ts, padding=1)
    assert y.shape == tuple(yt.shape)
    for g, gt in zip(minigrad.grad(y.sum(), xs), torch.autograd.grad(yt.sum(), ts)):
        assert g.shape == tuple(gt.shape)
        np.testing.assert_array_equal(g.data, gt.numpy())


@pytest.mark.parametrize("bias_shape", [(3,), (4, 1), ()])
@pytest.mark.parametrize("fn", ["linear", "conv2d", "conv_transpose2d"])
def test_a_bias_of_the_wrong_shape_is_refused(fn, bias_shape):
    # torch's conv2d and conv_transpose2d raise "expected bias to be 1-dimensional with 4
    # elements". minigrad raised NumPy's "cannot reshape array of size 3" or broadcast a (4, 1)
    # bias into the output; linear broadcast a 0-d bias and then failed in its backward.
    rng = np.random.default_rng(0)
    x, w = {"linear": ((2, 3), (4, 3)), "conv2d": ((2, 3, 5, 5), (4, 3, 3, 3)),
            "conv_transpose2d": ((2, 3, 5, 5), (3, 4, 3, 3))}[fn]
    x, w = Tensor(rng.standard_normal(x)), Tensor(rng.standard_normal(w), requires_grad=True)
    b = Tensor(rng.standard_normal(bias_shape), requires_grad=True)
    with pytest.raises(ValueError, match=rf"{fn}: weight of shape .* expects a bias of shape "
                                         rf"\(4,\), got shape {re.escape(str(bias_shape))}"):
        getattr(F, fn)(x, w, b)


@pytest.mark.parametrize("fn, probabilities", [("nll_loss", False), ("cross_entropy", False),
                                               ("cross_entropy", True)])
def test_a_class_weight_of_the_wrong_length_is_refused(fn, probabilities):
    # torch: "weight tensor should be defined either for all 4 classes or no classes". minigrad
    # raised NumPy's "index 3 is out of bounds for axis 0 with size 3" (class indices) or
    # "cannot reshape array" (class probabilities).
    rng = np.random.default_rng(0)
    z = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    target = rng.dirichlet(np.ones(4), 5) if probabilities else np.array([0, 3, 1, 3, 2])
    with pytest.raises(ValueError, match=rf"{fn}: weight must hold one value per class, shape "
                                         r"\(4,\) for input of shape \(5, 4\), got shape \(3,\)"):
        getattr(F, fn)(z, target, weight=Tensor(np.ones(3)))


@pytest.mark.parametrize("case", ["nll_loss", "nll_loss weight", "cross_entropy weight",
                                  "cross_entropy smoothing"])
def test_every_target_ignored_gives_nan_mean_and_zero_gradient(case):
    # torch: 'mean' over no targets is 0 / 0 = NaN, and the gradient is 0 (no target
    # contributes). minigrad divided by the 0 total, and inf * 0 made every gradient NaN
    # (not plain cross_entropy, whose fused rows op masks the ignored rows).
    torch, TF = _torch()
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4))
    target = np.array([-100, -100, -100])
    kw = {"weight": rng.uniform(0.5, 2, 4)} if "weight" in case else {}
    if "smoothing" in case:
        kw["label_smoothing"] = 0.2
    name = case.split()[0]
    x, xt = Tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    y = getattr(F, name)(x, target, **{k: Tensor(v) if k == "weight" else v
                                       for k, v in kw.items()})
    yt = getattr(TF, name)(xt, torch.tensor(target), **{
        k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()})
    assert np.isnan(y.item()) and np.isnan(yt.item())
    y.backward()
    yt.backward()
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())
    np.testing.assert_array_equal(x.grad.data, 0.0)


@pytest.mark.parametrize("case", ["nll_loss", "cross_entropy", "cross_entropy weight smoothing",
                                  "cross_entropy probabilities"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_an_unbatched_sample_is_a_batch_of_one(case, reduction):
    # torch takes one sample of logits (C,) with a 0-d class index (or (C,) probabilities);
    # 'none' gives a 0-d loss. minigrad refused it ("expects logits (N, C, *)").
    torch, TF = _torch()
    rng = np.random.default_rng(0)
    z = rng.standard_normal(4)
    target = rng.dirichlet(np.ones(4)) if "probabilities" in case else np.array(2)
    kw = {"reduction": reduction}
    if "weight" in case:
        kw.update(weight=rng.uniform(0.5, 2, 4), label_smoothing=0.1)
    name = case.split()[0]
    xs = [Tensor(z, requires_grad=True), Tensor(target, requires_grad=target.dtype.kind == "f")]
    ts = [torch.tensor(z, requires_grad=True),
          torch.tensor(target, requires_grad=target.dtype.kind == "f")]
    y = getattr(F, name)(*xs, **{k: Tensor(v) if k == "weight" else v for k, v in kw.items()})
    yt = getattr(TF, name)(*ts, **{k: torch.tensor(v) if k == "weight" else v
                                   for k, v in kw.items()})
    assert y.shape == tuple(yt.shape) == ()
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    diff = [i for i in range(2) if ts[i].requires_grad]
    gs = minigrad.grad(y, [xs[i] for i in diff])
    gts = torch.autograd.grad(yt, [ts[i] for i in diff])
    for g, gt in zip(gs, gts):
        np.testing.assert_allclose(g.data, gt.numpy(), rtol=1e-10, atol=1e-14)


def test_kl_div_batchmean_of_an_empty_batch_is_nan():
    # torch: sum / N = 0 / 0 = NaN. minigrad raised Python's ZeroDivisionError.
    torch, TF = _torch()
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    y = F.kl_div(x, np.zeros((0, 3)), reduction="batchmean")
    assert np.isnan(y.item())
    assert np.isnan(TF.kl_div(torch.zeros(0, 3), torch.zeros(0, 3), reduction="batchmean").item())
    y.backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("fn, param", [
    ("batch_norm", "weight"), ("batch_norm", "bias"), ("batch_norm", "running_mean"),
    ("batch_norm", "running_var"), ("instance_norm", "weight"), ("instance_norm", "running_var"),
    ("group_norm", "weight"), ("group_norm", "bias")])
def test_norm_parameters_of_the_wrong_length_are_refused(fn, param):
    # torch: "weight should contain 3 elements not 4" (and the like for bias and the running
    # statistics). minigrad failed in NumPy ("operands could not be broadcast", "cannot
    # reshape array of size 4 into shape (3,)") or in a reshape of its own.
    x = minigrad.randn(4, 3, 5, dtype="float64")
    kw = {"running_mean": Tensor(np.zeros(3)), "running_var": Tensor(np.ones(3)),
          "training": True} if fn == "batch_norm" else {}
    kw[param] = Tensor(np.ones(4))
    args = (1,) if fn == "group_norm" else ()
    with pytest.raises(ValueError, match=rf"{fn}: {param} must hold one value per channel, "
                                         r"shape \(3,\) for input of shape \(4, 3, 5\), got "
                                         r"shape \(4,\)"):
        getattr(F, fn)(x, *args, **kw)


@pytest.mark.parametrize("shape", [(4,), (1,)])
def test_layer_norm_weight_must_have_the_normalized_shape(shape):
    # torch: "Expected weight to be of same shape as normalized_shape". minigrad broadcast a
    # (1,) weight silently and refused a (4,) one only in the multiplication.
    x = minigrad.randn(2, 5)
    with pytest.raises(ValueError, match=r"layer_norm: weight must have the shape "
                                         r"normalized_shape = \(5,\), got shape "
                                         + re.escape(str(shape))):
        F.layer_norm(x, 5, minigrad.ones(*shape))


def test_group_norm_of_a_1d_input_is_refused():
    # torch: "Expected at least 2 dimensions for input tensor". minigrad: Python's "not enough
    # values to unpack".
    with pytest.raises(ValueError, match=r"group_norm expects an input \(N, C, \*\), got shape "
                                         r"\(6,\)"):
        F.group_norm(minigrad.randn(6), 2)


def test_group_norm_of_an_empty_batch():
    # torch: an empty (0, C, *) batch normalises to an empty output (and gradient). minigrad's
    # reshape to (0, groups, -1) could not infer the -1 and raised.
    x = Tensor(np.zeros((0, 6, 3)), requires_grad=True)
    y = F.group_norm(x, 2, Tensor(np.ones(6)), Tensor(np.zeros(6)))
    assert y.shape == (0, 6, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 6, 3)


@pytest.mark.parametrize("padding_idx", [6, -7])
def test_embedding_padding_idx_out_of_range_is_refused(padding_idx):
    # torch: "Padding_idx must be within num_embeddings" (as minigrad's nn.Embedding says). The
    # functional form wrapped it modulo num_embeddings silently (6 -> row 0, -7 -> row 5).
    with pytest.raises(ValueError, match=r"embedding: padding_idx must be within "
                                         rf"num_embeddings = 6, got {padding_idx}"):
        F.embedding(np.array([0, 1]), minigrad.randn(6, 4), padding_idx=padding_idx)


def test_embedding_weight_must_be_2d():
    # torch: "'weight' must be 2-D". minigrad indexed a 1-D weight and returned its elements.
    with pytest.raises(ValueError, match=r"embedding: weight must be 2-D \(num_embeddings, "
                                         r"embedding_dim\), got shape \(4,\)"):
        F.embedding(np.array([1]), minigrad.randn(4))


@pytest.mark.parametrize("case", ["bce weight", "bce_with_logits weight",
                                  "bce_with_logits pos_weight"])
def test_a_float64_loss_weight_keeps_a_float32_loss_float32(case):
    # torch: the weight and pos_weight of the binary losses take the input's dtype, so a
    # float32 model's loss stays float32. minigrad promoted the loss (and so every gradient
    # tensor after it) to float64.
    torch, TF = _torch()
    rng = np.random.default_rng(0)
    p, t = rng.uniform(0.1, 0.9, (2, 3)).astype(np.float32), rng.uniform(0, 1, (2, 3))
    t, w = t.astype(np.float32), rng.uniform(0.5, 2, 3)
    name, arg = case.split()
    fn = "binary_cross_entropy" if name == "bce" else "binary_cross_entropy_with_logits"
    x = Tensor(p, requires_grad=True)
    y = getattr(F, fn)(x, Tensor(t), **{arg: Tensor(w)})
    yt = getattr(TF, fn)(torch.tensor(p), torch.tensor(t), **{arg: torch.tensor(w)})
    assert yt.dtype == torch.float32 and y.dtype == np.float32
    np.testing.assert_allclose(y.item(), yt.item(), rtol=1e-6)
    y.backward()
    assert x.grad.dtype == np.float32


def test_cross_entropy_refuses_ignore_index_with_probability_targets():
    # torch: "ignore_index is not supported for floating point target" (for an ignore_index
    # >= 0; negative ones are accepted and do nothing). minigrad dropped it silently.
    z = minigrad.randn(3, 4)
    p = F.softmax(minigrad.randn(3, 4), 1)
    with pytest.raises(ValueError, match=r"cross_entropy: ignore_index \(1\) is not supported "
                                         r"for class-probability \(float\) targets"):
        F.cross_entropy(z, p, ignore_index=1)
    F.cross_entropy(z, p, ignore_index=-5)


def test_interpolate_nearest_picks_torchs_source_pixels():
    # torch (aten UpSample.h) computes src = min(floor(dst * scale), in - 1) in float32, with
    # scale = float32(1 / scale_factor) or float32(in) / out, and copies where the size is
    # unchanged. minigrad computed in float64, which moves some outputs by one pixel (26 rows
    # resized to 22: output row 11 read row 11 * 26 / 22 = 13, torch's float32 product reads
    # row 12), and shifted an unchanged size (8 rows at scale_factor 1.1 came back as rows
    # 0, 0, 1, ..., 6).
    torch, TF = _torch()
    wrong = []
    for h in range(1, 41):
        x = np.arange(h, dtype=np.float64).reshape(1, 1, h, 1)
        resized = [dict(size=(out, 1)) for out in range(1, 3 * h + 2)]
        resized += [dict(scale_factor=(s, 1)) for s in (0.3, 0.6, 0.7, 0.9, 1.1, 1.3, 1.5, 2.5,
                                                        2.9, 1 / 3, 2 / 3, 4 / 3) if h * s >= 1]
        for kw in resized:
            got = F.interpolate(Tensor(x), **kw).data.ravel()
            want = TF.interpolate(torch.from_numpy(x), **kw).numpy().ravel()
            if got.shape != want.shape or not np.array_equal(got, want):
                wrong.append((h, kw))
    assert not wrong, f"{len(wrong)} resizes differ from torch, e.g. {wrong[:3]}"
