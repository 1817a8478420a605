"""Attention: ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` against torch's
(values, gradients w.r.t. every input, mask and parameter), gradcheck/gradgradcheck of the
functional in float64, the rows whose keys are all masked (0 in the functional, NaN in the
module's weights path, as torch 2.13 gives), dropout, state dicts both ways, init, repr and the
errors."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _pair(a, dtype, grad=True):
    """(minigrad tensor, torch tensor) of the same values; bool arrays stay bool."""
    a = np.asarray(a)
    if a.dtype != np.bool_:
        a = a.astype(dtype)
    g = grad and a.dtype != np.bool_
    return (minigrad.tensor(a, requires_grad=g),
            torch.tensor(a).requires_grad_(g))


def _close(mine, theirs, dtype, what=""):
    assert mine.shape == tuple(theirs.shape), what
    np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), err_msg=what,
                               **TOL[dtype])


# ========================================================== scaled_dot_product_attention
# name -> (query, key, value shapes, mask: None / ("bool"|"float", shape), keyword arguments)
SDPA_CASES = {
    "plain": ((2, 3, 4), (2, 5, 4), (2, 5, 6), None, {}),
    "unbatched": ((3, 4), (5, 4), (5, 2), None, {}),
    "bool_mask_broadcast": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("bool", (3, 5)), {}),
    "bool_mask_over_heads": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2), ("bool", (2, 1, 4, 6)),
                             {}),
    "float_mask_broadcast": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("float", (1, 5)), {}),
    "float_mask_full": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("float", (2, 3, 5)), {}),
    "causal": ((2, 5, 4), (2, 5, 4), (2, 5, 3), None, {"is_causal": True}),
    "causal_L_lt_S": ((2, 3, 4), (2, 6, 4), (2, 6, 3), None, {"is_causal": True}),
    "causal_L_gt_S": ((2, 6, 4), (2, 3, 4), (2, 3, 3), None, {"is_causal": True}),
    "scale": ((2, 3, 4), (2, 5, 4), (2, 5, 6), ("bool", (3, 5)), {"scale": 0.3}),
    "batch_dims": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2), None, {}),
    "batch_broadcast": ((2, 3, 4, 5), (3, 6, 5), (1, 3, 6, 2), ("float", (4, 6)), {}),
    "gqa": ((2, 4, 3, 4), (2, 2, 5, 4), (2, 1, 5, 6), None, {"enable_gqa": True}),
}


def _sdpa_inputs(case, dtype, seed=0):
    qs, ks, vs, mask, kw = SDPA_CASES[case]
    rng = _rng(seed)
    q, k, v = (_pair(rng.standard_normal(s), dtype) for s in (qs, ks, vs))
    m = None
    if mask is not None:
        kind, shape = mask
        if kind == "bool":
            a = rng.random(shape) > 0.4
            a[..., 0] = True  # every query keeps a key (the all-masked rows have their own test)
            m = _pair(a, dtype)
        else:
            m = _pair(rng.standard_normal(shape), dtype)
    return q, k, v, m, kw


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", sorted(SDPA_CASES))
def test_sdpa_values_and_gradients_match_torch(case, dtype):
    q, k, v, m, kw = _sdpa_inputs(case, dtype)
    kwm = dict(kw, attn_mask=None if m is None else m[0])
    kwt = dict(kw, attn_mask=None if m is None else m[1])
    out = F.scaled_dot_product_attention(q[0], k[0], v[0], **kwm)
    ref = tF.scaled_dot_product_attention(q[1], k[1], v[1], **kwt)
    _close(out, ref, dtype, "output")
    assert out.dtype == dtype
    g = _rng(9).standard_normal(out.shape).astype(dtype)
    out.backward(minigrad.tensor(g))
    ref.backward(torch.tensor(g))
    pairs = {"query": q, "key": k, "value": v}
    if m is not None and m[1].requires_grad:  # a float mask is differentiable
        pairs["mask"] = m
    for name, (a, b) in pairs.items():
        _close(a.grad, b.grad, dtype, f"gradient w.r.t. {name}")
        assert a.grad.dtype == dtype


def test_sdpa_default_scale_is_one_over_sqrt_E_and_the_mask_counts():
    """Not only torch agreeing with us: the formula written out, and a mask changes it."""
    rng = _rng(1)
    q, k, v = (rng.standard_normal(s) for s in ((3, 4), (5, 4), (5, 2)))
    s = q @ k.T / 2.0
    w = np.exp(s - s.max(-1, keepdims=True))
    want = (w / w.sum(-1, keepdims=True)) @ v
    got = F.scaled_dot_product_attention(*map(minigrad.tensor, (q, k, v)))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    mask = np.ones((3, 5), bool)
    mask[:, 2] = False
    masked = F.scaled_dot_product_attention(*map(minigrad.tensor, (q, k, v)),
                                            attn_mask=minigrad.tensor(mask)).numpy()
    keep = [0, 1, 3, 4]
    w = np.exp(s[:, keep] - s[:, keep].max(-1, keepdims=True))
    np.testing.assert_allclose(masked, (w / w.sum(-1, keepdims=True)) @ v[keep], rtol=1e-12)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_row_with_every_key_masked_is_zero_with_zero_gradient_as_torch(kind):
    rng = _rng(2)
    q, k, v = (_pair(rng.standard_normal(s), np.float64) for s in ((2, 3, 4), (2, 5, 4),
                                                                   (2, 5, 6)))
    keep = rng.random((3, 5)) > 0.3
    keep[:, 0] = True
    keep[1] = False  # query 1 sees no key
    if kind == "bool":
        mask = _pair(keep, np.float64)
    else:
        mask = _pair(np.where(keep, rng.standard_normal((3, 5)), -np.inf), np.float64, grad=False)
    out = F.scaled_dot_product_attention(q[0], k[0], v[0], attn_mask=mask[0])
    ref = tF.scaled_dot_product_attention(q[1], k[1], v[1], attn_mask=mask[1])
    assert np.all(out.numpy()[:, 1] == 0) and np.isfinite(out.numpy()).all()
    _close(out, ref, np.float64)
    out.sum().backward()
    ref.sum().backward()
    assert np.all(q[0].grad.numpy()[:, 1] == 0)
    for a, b in (q, k, v):
        assert np.isfinite(a.grad.numpy()).all()
        _close(a.grad, b.grad, np.float64)


def test_sdpa_gradgradcheck_through_a_row_with_every_key_masked():
    rng = _rng(3)
    q, k, v = (minigrad.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((1, 3, 2), (1, 4, 2), (1, 4, 2)))
    keep = np.ones((3, 4), bool)
    keep[0] = False
    keep[2, 1:] = False
    mask = minigrad.tensor(keep)
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # noqa: E731
    assert minigrad.gradcheck(fn, [q, k, v])
    assert minigrad.gradgradcheck(fn, [q, k, v])


def _checkable(case):
    """The case's inputs in float64 as minigrad tensors, and the call taking them."""
    q, k, v, m, kw = _sdpa_inputs(case, np.float64, seed=4)
    inputs = [q[0], k[0], v[0]]
    if m is not None and m[0].requires_grad:  # a float mask is an input too
        inputs.append(m[0])
        return inputs, lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m, **kw)
    mask = None if m is None else m[0]
    return inputs, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask, **kw)


@pytest.mark.parametrize("case", ["plain", "bool_mask_broadcast", "float_mask_broadcast",
                                  "causal_L_gt_S", "scale", "batch_broadcast", "gqa"])
def test_sdpa_gradcheck_and_gradgradcheck(case):
    inputs, fn = _checkable(case)
    assert minigrad.gradcheck(fn, inputs)
    assert minigrad.gradgradcheck(fn, inputs)


def test_sdpa_second_derivatives_match_torch():
    q, k, v, m, kw = _sdpa_inputs("float_mask_broadcast", np.float64, seed=5)
    outs = []
    for i, lib in ((0, minigrad), (1, torch)):
        out = (F if i == 0 else tF).scaled_dot_product_attention(q[i], k[i], v[i], m[i])
        gq, = lib.autograd.grad((out ** 2).sum(), [q[i]], create_graph=True)
        outs.append(lib.autograd.grad((gq ** 3).sum(), [q[i], k[i], v[i], m[i]]))
    for a, b in zip(*outs):
        _close(a, b, np.float64)


def test_sdpa_dropout_drops_attention_weights_from_minigrads_generator():
    rng = _rng(6)
    q, k, v = (minigrad.tensor(rng.standard_normal(s)) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    minigrad.manual_seed(11)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    minigrad.manual_seed(11)
    w = F.dropout(F.softmax(q @ k.transpose(-2, -1) / 2.0, -1), 0.5)  # the same draw
    assert (w.numpy() == 0).any() and (w.numpy() != 0).any()
    np.testing.assert_allclose(out.numpy(), (w @ v).numpy(), rtol=1e-12)
    plain = F.scaled_dot_product_attention(q, k, v)
    assert not np.allclose(out.numpy(), plain.numpy())
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)


def test_sdpa_no_keys_and_no_queries_like_torch():
    for shapes in (((2, 3, 4), (2, 0, 4), (2, 0, 5)), ((2, 0, 4), (2, 3, 4), (2, 3, 5))):
        q, k, v = (_pair(np.ones(s), np.float64) for s in shapes)
        out = F.scaled_dot_product_attention(q[0], k[0], v[0])
        _close(out, tF.scaled_dot_product_attention(q[1], k[1], v[1]), np.float64)


# name -> (call, the error, what its message must say); torch refuses each of these too
def _ones(*s, dtype="float32"):
    return minigrad.ones(*s, dtype=dtype)


def _tones(*s, dtype=torch.float32):
    return torch.ones(*s, dtype=dtype)


SDPA_ERRORS = {
    "rank": (lambda lib, o: lib(o(4), o(4), o(4)), ValueError, "at least 2 dims"),
    "E": (lambda lib, o: lib(o(2, 3, 4), o(2, 5, 3), o(2, 5, 6)), ValueError,
          "same embedding size E"),
    "S": (lambda lib, o: lib(o(2, 3, 4), o(2, 5, 4), o(2, 6, 6)), ValueError,
          "same sequence length S"),
    "batch": (lambda lib, o: lib(o(2, 3, 4), o(3, 5, 4), o(3, 5, 6)), ValueError,
              "cannot be broadcast together"),
    "mask_shape": (lambda lib, o: lib(o(2, 3, 4), o(2, 5, 4), o(2, 5, 6),
                                      attn_mask=o(3, 4)), ValueError,
                   re.escape("attn_mask of shape (3, 4) cannot be broadcast to the attention "
                             "scores' shape (2, 3, 5)")),
    "mask_grows": (lambda lib, o: lib(o(2, 3, 4), o(2, 5, 4), o(2, 5, 6),
                                      attn_mask=o(7, 2, 3, 5)), ValueError,
                   "cannot be broadcast to the attention scores"),
    "causal_and_mask": (lambda lib, o: lib(o(2, 3, 4), o(2, 5, 4), o(2, 5, 6),
                                           attn_mask=o(3, 5), is_causal=True), ValueError,
                        "attn_mask and is_causal=True are exclusive"),
    "dropout": (lambda lib, o: lib(o(2, 3, 4), o(2, 5, 4), o(2, 5, 6), dropout_p=1.5),
                ValueError, "dropout probability has to be between 0 and 1"),
}


@pytest.mark.parametrize("name", sorted(SDPA_ERRORS))
def test_sdpa_errors_name_the_problem_where_torch_refuses_too(name):
    call, error, match = SDPA_ERRORS[name]
    with pytest.raises(error, match=match):
        call(F.scaled_dot_product_attention, _ones)
    with pytest.raises((RuntimeError, ValueError)):
        call(tF.scaled_dot_product_attention, _tones)


def test_sdpa_dtype_errors():
    q, k = _ones(2, 3, 4), _ones(2, 5, 4)
    with pytest.raises(TypeError, match="same floating-point dtype, got float32, float64"):
        F.scaled_dot_product_attention(q, _ones(2, 5, 4, dtype="float64"), _ones(2, 5, 6))
    with pytest.raises(TypeError, match="same floating-point dtype, got int64"):
        i = minigrad.ones(2, 3, 4, dtype="int64")
        F.scaled_dot_product_attention(i, i, i)
    with pytest.raises(TypeError, match="attn_mask must be bool or of the query's dtype float32, "
                                        "got dtype float64"):
        F.scaled_dot_product_attention(q, k, _ones(2, 5, 6),
                                       attn_mask=_ones(3, 5, dtype="float64"))
    with pytest.raises(TypeError, match="attn_mask must be bool .* got dtype int64"):
        F.scaled_dot_product_attention(q, k, _ones(2, 5, 6),
                                       attn_mask=minigrad.ones(3, 5, dtype="int64"))
    with pytest.raises(TypeError, match="attn_mask must be a minigrad Tensor"):
        F.scaled_dot_product_attention(q, k, _ones(2, 5, 6), attn_mask=np.ones((3, 5), bool))
    with pytest.raises(TypeError, match="key must be a minigrad Tensor"):
        F.scaled_dot_product_attention(q, np.ones((2, 5, 4)), _ones(2, 5, 6))
    with pytest.raises(ValueError, match=r"number of heads \(dim -3\) of key \(3\) and value "
                                         r"\(3\) must divide the query's \(4\)"):
        F.scaled_dot_product_attention(_ones(4, 3, 2), _ones(3, 5, 2), _ones(3, 5, 2),
                                       enable_gqa=True)


# ===================================================================== MultiheadAttention
def _modules(E=8, H=2, dtype=np.float64, seed=0, **kw):
    """(minigrad MHA, torch MHA) with torch's random weights (and random biases, which torch
    initialises to 0) loaded into minigrad's."""
    torch.manual_seed(seed)
    t = torch.nn.MultiheadAttention(E, H, dtype=TORCH_DTYPE[dtype], **kw)
    with torch.no_grad():
        for name, p in t.named_parameters():
            if "bias" in name:
                p.normal_()
    m = nn.MultiheadAttention(E, H, **kw).to(dtype=dtype)
    m.load_state_dict(t.state_dict())
    return m, t


# name -> (module kwargs, (query, key, value) shapes or "self", forward kwargs with masks as
# ("bool"|"float", shape))
MHA_CASES = {
    "self": ({}, ((4, 3, 8), "self"), {}),
    "cross": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)), {}),
    "per_head_weights": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                         {"average_attn_weights": False}),
    "key_padding_mask": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                         {"key_padding_mask": ("bool", (3, 6))}),
    "float_key_padding_mask": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                               {"key_padding_mask": ("float", (3, 6))}),
    "attn_mask_2d": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)), {"attn_mask": ("bool", (4, 6))}),
    "attn_mask_3d_float": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                           {"attn_mask": ("float", (6, 4, 6)), "average_attn_weights": False}),
    "both_masks": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                   {"attn_mask": ("bool", (6, 4, 6)), "key_padding_mask": ("bool", (3, 6))}),
    "batch_first": ({"batch_first": True}, ((3, 4, 8), (3, 6, 8), (3, 6, 8)),
                    {"key_padding_mask": ("bool", (3, 6))}),
    "batch_first_self": ({"batch_first": True}, ((3, 4, 8), "self"),
                         {"attn_mask": ("float", (4, 4))}),
    "unbatched": ({}, ((4, 8), (6, 8), (6, 8)),
                  {"key_padding_mask": ("bool", (6,)), "attn_mask": ("bool", (2, 4, 6)),
                   "average_attn_weights": False}),
    "unbatched_batch_first": ({"batch_first": True}, ((4, 8), "self"), {}),
    "kdim_vdim": ({"kdim": 5, "vdim": 3}, ((4, 3, 8), (6, 3, 5), (6, 3, 3)),
                  {"key_padding_mask": ("bool", (3, 6))}),
    "kdim_vdim_no_bias": ({"kdim": 5, "vdim": 3, "bias": False},
                          ((4, 3, 8), (6, 3, 5), (6, 3, 3)), {}),
    "no_bias": ({"bias": False}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                {"attn_mask": ("float", (4, 6))}),
    "need_weights_false": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                           {"need_weights": False, "key_padding_mask": ("bool", (3, 6)),
                            "attn_mask": ("bool", (4, 6))}),
    "need_weights_false_float": ({}, ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                                 {"need_weights": False, "key_padding_mask": ("float", (3, 6)),
                                  "attn_mask": ("float", (6, 4, 6))}),
    "causal_hint": ({}, ((5, 3, 8), "self"), {"attn_mask": ("causal", (5, 5)),
                                              "is_causal": True}),
    "causal_hint_sdpa": ({}, ((5, 3, 8), "self"),
                         {"attn_mask": ("causal", (5, 5)), "is_causal": True,
                          "need_weights": False}),
    "four_heads": ({}, ((4, 2, 8), (6, 2, 8), (6, 2, 8)), {"average_attn_weights": False}),
    "bias_kv_zero_attn": ({"add_bias_kv": True, "add_zero_attn": True},
                          ((4, 3, 8), (6, 3, 8), (6, 3, 8)),
                          {"key_padding_mask": ("bool", (3, 6)), "attn_mask": ("bool", (4, 6))}),
    "bias_kv": ({"add_bias_kv": True}, ((4, 3, 8), "self"), {"need_weights": False}),
}


def _mha_inputs(case, dtype, seed=0):
    mkw, shapes, fkw = MHA_CASES[case]
    rng = _rng(seed)
    if shapes[1] == "self":
        x = _pair(rng.standard_normal(shapes[0]), dtype)
        qkv = [x, x, x]
    else:
        qkv = [_pair(rng.standard_normal(s), dtype) for s in shapes]
    kw_m, kw_t, masks = {}, {}, {}
    for key, val in fkw.items():
        if isinstance(val, tuple):
            kind, shape = val
            if kind == "causal":
                a = ~np.tril(np.ones(shape, bool))  # torch's convention: True = ignore
            elif kind == "bool":
                a = rng.random(shape) > 0.7
                a[..., 0] = False  # every query keeps a key (the all-masked rows are apart)
            else:
                a = rng.standard_normal(shape)
            masks[key] = _pair(a, dtype)
            kw_m[key], kw_t[key] = masks[key]
        else:
            kw_m[key] = kw_t[key] = val
    return mkw, qkv, kw_m, kw_t, masks


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", sorted(MHA_CASES))
def test_mha_outputs_weights_and_gradients_match_torch(case, dtype):
    mkw, qkv, kw_m, kw_t, masks = _mha_inputs(case, dtype)
    E, H = 8, 4 if case == "four_heads" else 2
    m, t = _modules(E, H, dtype, **mkw)
    out, w = m(*(a for a, _ in qkv), **kw_m)
    ref, tw = t(*(b for _, b in qkv), **kw_t)
    _close(out, ref, dtype, "attn_output")
    if tw is None:
        assert w is None
    else:
        _close(w, tw, dtype, "attn_weights")
        np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-5)
    g = _rng(7).standard_normal(out.shape).astype(dtype)
    loss = (out * minigrad.tensor(g)).sum()
    tloss = (ref * torch.tensor(g)).sum()
    if w is not None:  # the weights take part in the loss too
        gw = _rng(8).standard_normal(w.shape).astype(dtype)
        loss = loss + (w * minigrad.tensor(gw)).sum()
        tloss = tloss + (tw * torch.tensor(gw)).sum()
    loss.backward()
    tloss.backward()
    tparams = dict(t.named_parameters())
    names = [n for n, _ in m.named_parameters()]
    assert names == list(tparams)
    for name, p in m.named_parameters():
        _close(p.grad, tparams[name].grad, dtype, f"gradient w.r.t. {name}")
    seen = set()
    for i, (a, b) in enumerate(qkv):
        if id(a) not in seen:
            seen.add(id(a))
            _close(a.grad, b.grad, dtype, f"gradient w.r.t. input {i}")
    for key, (a, b) in masks.items():
        if b.requires_grad:
            _close(a.grad, b.grad, dtype, f"gradient w.r.t. {key}")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the NaN row
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_query_with_every_key_masked_as_torch(need_weights):
    """torch's explicit softmax (need_weights=True) gives NaN for that row, its SDPA path
    (need_weights=False) attention 0, so out_proj.bias; each is reproduced."""
    m, t = _modules()
    rng = _rng(3)
    q, k = _pair(rng.standard_normal((4, 3, 8)), np.float64), \
        _pair(rng.standard_normal((6, 3, 8)), np.float64)
    kpm = np.zeros((3, 6), bool)
    kpm[1] = True  # batch element 1: every key is padding
    kpm[0, 2:] = True
    kpm = _pair(kpm, np.float64)
    out, w = m(q[0], k[0], k[0], key_padding_mask=kpm[0], need_weights=need_weights)
    ref, tw = t(q[1], k[1], k[1], key_padding_mask=kpm[1], need_weights=need_weights)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    if need_weights:
        assert np.isnan(out.numpy()[:, 1]).all() and np.isnan(w.numpy()[1]).all()
        assert np.isfinite(out.numpy()[:, [0, 2]]).all()
        np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(out.numpy()[:, 1], np.broadcast_to(
            m.out_proj.bias.numpy(), (4, 8)), rtol=1e-12)
        (out ** 2).sum().backward()
        (ref ** 2).sum().backward()
        for (a, b) in (q, k):
            assert np.isfinite(a.grad.numpy()).all()
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_mha_second_derivatives_match_torch():
    mkw, qkv, kw_m, kw_t, masks = _mha_inputs("key_padding_mask", np.float64)
    m, t = _modules()
    res = []
    for i, (mod, lib) in enumerate(((m, minigrad), (t, torch))):
        q, k, v = (p[i] for p in qkv)
        out, _ = mod(q, k, v, **(kw_t if i else kw_m))
        gq, = lib.autograd.grad((out ** 2).sum(), [q], create_graph=True)
        params = [p for _, p in mod.named_parameters()]
        res.append(lib.autograd.grad((gq ** 2).sum(), [k] + params))
    for a, b in zip(*res):
        _close(a, b, np.float64)


def test_mha_gradcheck_and_gradgradcheck_with_masks():
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True).double()
    rng = _rng(4)
    q = minigrad.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    k = minigrad.tensor(rng.standard_normal((5, 2, 4)), requires_grad=True)
    kpm = minigrad.tensor(np.array([[False] * 3 + [True] * 2, [False] * 5]))
    fn = lambda q, k: m(q, k, k, key_padding_mask=kpm)[0]  # noqa: E731
    assert minigrad.gradcheck(fn, [q, k])
    assert minigrad.gradgradcheck(fn, [q, k])


# ---------------------------------------------------------------------- state dicts, init
@pytest.mark.parametrize("kw", [{}, {"kdim": 5, "vdim": 3}, {"bias": False},
                                {"add_bias_kv": True}], ids=["packed", "kdim_vdim", "no_bias",
                                                             "bias_kv"])
def test_mha_state_dict_both_ways(kw):
    m = nn.MultiheadAttention(8, 2, **kw)
    torch.manual_seed(1)
    t = torch.nn.MultiheadAttention(8, 2, **kw)
    sd = m.state_dict()
    assert list(sd) == list(t.state_dict())
    assert {k: v.shape for k, v in sd.items()} == \
        {k: tuple(v.shape) for k, v in t.state_dict().items()}
    # minigrad -> torch: the same function
    t.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    rng = _rng(5)
    x = rng.standard_normal((4, 3, 8)).astype(np.float32)
    y = rng.standard_normal((6, 3, m.kdim)).astype(np.float32)
    z = rng.standard_normal((6, 3, m.vdim)).astype(np.float32)
    out, w = m(*map(minigrad.tensor, (x, y, z)))
    ref, tw = t(*map(torch.from_numpy, (x, y, z)))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    # torch -> minigrad, from torch tensors, and back out unchanged
    torch.manual_seed(2)
    t2 = torch.nn.MultiheadAttention(8, 2, **kw)
    assert m.load_state_dict(t2.state_dict()) is not None
    for k, v in t2.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k], v.numpy())


def test_mha_parameters_and_init_as_torch():
    m = nn.MultiheadAttention(16, 4)
    a = math.sqrt(6.0 / (16 + 48))  # xavier_uniform_ of (3E, E)
    w = m.in_proj_weight.numpy()
    assert w.shape == (48, 16) and w.dtype == np.float32
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.9 * a
    assert np.all(m.in_proj_bias.numpy() == 0) and np.all(m.out_proj.bias.numpy() == 0)
    ow = m.out_proj.weight.numpy()  # Linear's kaiming_uniform_(a=sqrt(5)): U(+-1/sqrt(E))
    assert np.abs(ow).max() <= 0.25 and np.abs(ow).max() > 0.2
    assert m.q_proj_weight is None and m.bias_k is None and m.head_dim == 4
    s = nn.MultiheadAttention(16, 4, kdim=6, vdim=2, add_bias_kv=True)
    assert s.in_proj_weight is None and s._qkv_same_embed_dim is False
    for p, fan in ((s.q_proj_weight, 16), (s.k_proj_weight, 6), (s.v_proj_weight, 2)):
        bound = math.sqrt(6.0 / (16 + fan))
        assert p.shape == (16, fan) and np.abs(p.numpy()).max() <= bound
    assert s.bias_k.shape == (1, 1, 16) and np.any(s.bias_k.numpy() != 0)
    t = torch.nn.MultiheadAttention(16, 4, kdim=6, vdim=2, add_bias_kv=True)
    assert [n for n, _ in s.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert repr(m) == repr(torch.nn.MultiheadAttention(16, 4))
    assert repr(nn.MultiheadAttention(4, 2, bias=False)) == \
        repr(torch.nn.MultiheadAttention(4, 2, bias=False))


def test_mha_to_float64_and_the_dtype_check():
    m = nn.MultiheadAttention(4, 2)
    x = minigrad.randn(3, 2, 4, dtype="float64")
    with pytest.raises(TypeError, match=r"MultiheadAttention expects a float32 query \(float32, "
                                        r"as its parameters\), got dtype float64: convert it "
                                        r"with query.float\(\)"):
        m(x, x, x)
    with pytest.raises(TypeError, match="expects a float32 value"):
        m(x.float(), x.float(), x)
    m.double()
    out, w = m(x, x, x)
    assert out.dtype == np.float64 and w.dtype == np.float64


# ----------------------------------------------------------------------------- dropout
def test_mha_dropout_only_in_training():
    m, t = _modules(dropout=0.5)
    rng = _rng(6)
    x = _pair(rng.standard_normal((4, 3, 8)), np.float64, grad=False)
    m.eval(), t.eval()
    out, w = m(x[0], x[0], x[0])
    ref, tw = t(x[1], x[1], x[1])
    _close(out, ref, np.float64)
    _close(w, tw, np.float64)
    m.train()
    minigrad.manual_seed(3)
    out1, w1 = m(x[0], x[0], x[0], average_attn_weights=False)
    minigrad.manual_seed(3)
    out2, w2 = m(x[0], x[0], x[0], average_attn_weights=False)
    np.testing.assert_array_equal(out1.numpy(), out2.numpy())  # the generator decides
    assert not np.allclose(out1.numpy(), out.numpy())
    # the returned weights are the dropped ones (as torch's): 0 or twice the eval weights
    m.eval()
    _, w_eval = m(x[0], x[0], x[0], average_attn_weights=False)
    dropped = w1.numpy()
    assert (dropped == 0).any()
    kept = dropped != 0
    np.testing.assert_allclose(dropped[kept], 2 * w_eval.numpy()[kept], rtol=1e-12)


# ------------------------------------------------------------------------------ errors
def test_mha_constructor_errors():
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads, got "
                                         "embed_dim=5 and num_heads=2"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 2)
    with pytest.raises(ValueError, match="must be greater than 0"):
        nn.MultiheadAttention(4, 0)
    with pytest.raises(TypeError, match="MultiheadAttention: embed_dim must be an int, got 4.0"):
        nn.MultiheadAttention(4.0, 2)
    with pytest.raises(TypeError, match="kdim must be an int"):
        nn.MultiheadAttention(4, 2, kdim=2.5)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.MultiheadAttention(4, 2, dropout=1.5)


def _x(*s, dtype="float32"):
    return minigrad.zeros(*s, dtype=dtype)


def _b(*s):
    return minigrad.zeros(*s, dtype="bool")


MHA_ERRORS = {
    "rank4": (lambda m: m(_x(1, 3, 2, 4), _x(1, 3, 2, 4), _x(1, 3, 2, 4)), ValueError,
              r"query must be 3-D \(L, N, E\) .* got shape \(1, 3, 2, 4\)"),
    "key_rank": (lambda m: m(_x(3, 2, 4), _x(3, 4), _x(3, 4)), ValueError,
                 r"key and value must be 3-D as query is, got shapes \(3, 4\) and \(3, 4\)"),
    "embed_dim": (lambda m: m(_x(3, 2, 5), _x(3, 2, 4), _x(3, 2, 4)), ValueError,
                  r"query must have 4 features in the last dimension \(embed_dim\), got shape "
                  r"\(3, 2, 5\)"),
    "kdim": (lambda m: m(_x(3, 2, 4), _x(3, 2, 5), _x(3, 2, 4)), ValueError,
             r"key must have 4 features in the last dimension \(kdim\)"),
    "key_value_S": (lambda m: m(_x(3, 2, 4), _x(4, 2, 4), _x(5, 2, 4)), ValueError,
                    "key and value must have the same sequence length and batch size"),
    "batch": (lambda m: m(_x(3, 2, 4), _x(4, 3, 4), _x(4, 3, 4)), ValueError,
              r"same batch size, got query \(3, 2, 4\), key \(4, 3, 4\)"),
    "kpm_shape": (lambda m: m(_x(3, 2, 4), _x(3, 2, 4), _x(3, 2, 4), key_padding_mask=_b(2, 4)),
                  ValueError, r"key_padding_mask must have shape \(2, 3\) .* got shape \(2, 4\)"),
    "kpm_rank_unbatched": (lambda m: m(_x(3, 4), _x(3, 4), _x(3, 4),
                                       key_padding_mask=_b(1, 3)),
                           ValueError, r"key_padding_mask must have shape \(3,\)"),
    "attn_mask_shape": (lambda m: m(_x(3, 2, 4), _x(3, 2, 4), _x(3, 2, 4),
                                    attn_mask=_b(3, 4)),
                        ValueError, r"attn_mask must have shape \(3, 3\) or \(N \* num_heads, "
                                    r"L, S\) = \(4, 3, 3\), got shape \(3, 4\)"),
    "attn_mask_3d": (lambda m: m(_x(3, 2, 4), _x(3, 2, 4), _x(3, 2, 4),
                                 attn_mask=_b(2, 3, 3)),
                     ValueError, r"attn_mask must have shape"),
    "attn_mask_int": (lambda m: m(_x(3, 2, 4), _x(3, 2, 4), _x(3, 2, 4),
                                  attn_mask=minigrad.zeros(3, 3, dtype="int64")),
                      TypeError, "attn_mask must be bool or of the query's dtype float32, got "
                                 "dtype int64"),
    "attn_mask_float64": (lambda m: m(_x(3, 2, 4), _x(3, 2, 4), _x(3, 2, 4),
                                      attn_mask=_x(3, 3, dtype="float64")),
                          TypeError, "attn_mask must be bool or of the query's dtype"),
    "causal_without_mask": (lambda m: m(_x(3, 2, 4), _x(3, 2, 4), _x(3, 2, 4), is_causal=True),
                            ValueError, "is_causal is a hint .* it needs attn_mask"),
    "integer_query": (lambda m: m(*(minigrad.zeros(3, 2, 4, dtype="int64"),) * 3), TypeError,
                      "MultiheadAttention expects a floating-point query"),
    "not_a_tensor": (lambda m: m(np.zeros((3, 2, 4), np.float32), _x(3, 2, 4), _x(3, 2, 4)),
                     TypeError, "MultiheadAttention.forward expects a minigrad Tensor"),
}


@pytest.mark.parametrize("name", sorted(MHA_ERRORS))
def test_mha_forward_errors_name_the_problem_where_torch_refuses_too(name):
    call, error, match = MHA_ERRORS[name]
    with pytest.raises(error, match=match):
        call(nn.MultiheadAttention(4, 2))
    t = torch.nn.MultiheadAttention(4, 2)

    def convert(a):
        return torch.from_numpy(a.numpy()) if isinstance(a, minigrad.Tensor) else \
            torch.from_numpy(a) if isinstance(a, np.ndarray) else a

    class Bridge:  # the same call, on torch's module with torch tensors
        def __call__(self, *args, **kw):
            return t(*map(convert, args), **{k: convert(v) for k, v in kw.items()})
    if name == "not_a_tensor":
        return  # torch's module takes its own tensors only; nothing to compare
    with pytest.raises((AssertionError, RuntimeError, ValueError)):
        call(Bridge())


def test_mismatched_mask_types_warn_as_torch():
    m = nn.MultiheadAttention(4, 2)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        m(_x(3, 2, 4), _x(3, 2, 4), _x(3, 2, 4), key_padding_mask=_b(2, 3), attn_mask=_x(3, 3))


def test_attention_is_exported_like_the_other_layers():
    assert "MultiheadAttention" in nn.__all__ and "MultiheadAttention" in nn.layers.__all__
    assert nn.MultiheadAttention is nn.layers.MultiheadAttention
    assert "scaled_dot_product_attention" in F.__all__
    from minigrad.nn import _attention
    assert F.scaled_dot_product_attention is _attention.scaled_dot_product_attention
