"""Transformer layers against torch's, with torch's state dict loaded: outputs and gradients
w.r.t. the inputs, float masks and every parameter (eval mode with dropout 0.1, train mode with
dropout 0.0), post-norm and norm_first, relu and gelu, batch_first, unbatched, masks and key
padding masks, causal hints; the stacks and the whole Transformer; state dicts both ways;
gradcheck; reprs; the errors."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
pytestmark = [
    # torch's note that its fast path is off, and the mismatched-mask-types deprecation, which
    # test_mismatched_mask_types_warn_as_torch checks on its own
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning"),
    pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning"),
]

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
E, H, FF, L, N, S = 8, 2, 16, 5, 3, 6  # d_model, nhead, dim_feedforward, seq, batch, memory


def _close(mine, theirs, dtype, what=""):
    assert mine is not None and theirs is not None, what
    assert tuple(mine.shape) == tuple(theirs.shape), what
    np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), err_msg=what,
                               **TOL[dtype])


def _modules(cls, dtype, mode, seed=0, **kw):
    """(minigrad module, torch module) of class name ``cls`` with torch's weights, biases made
    random (torch initialises many to 0 or 1), loaded into minigrad's; ``mode``: "eval" (dropout
    0.1, eval mode) or "train" (dropout 0.0, train mode)."""
    torch.manual_seed(seed)
    kw = dict(kw, dropout=0.1 if mode == "eval" else 0.0)

    def make(lib):
        k = dict(kw)
        if k.get("activation") == "gelu_module":  # a Module as the activation (each library's)
            k["activation"] = lib.GELU()
        if k.get("activation") == "gelu_function":
            k["activation"] = F.gelu if lib is nn else torch.nn.functional.gelu
        return {"enc_layer": lambda: lib.TransformerEncoderLayer(E, H, FF, **k),
                "dec_layer": lambda: lib.TransformerDecoderLayer(E, H, FF, **k),
                "encoder": lambda: lib.TransformerEncoder(
                    lib.TransformerEncoderLayer(E, H, FF, **k), 2, lib.LayerNorm(E)),
                "decoder": lambda: lib.TransformerDecoder(
                    lib.TransformerDecoderLayer(E, H, FF, **k), 2, lib.LayerNorm(E)),
                "transformer": lambda: lib.Transformer(E, H, 2, 2, FF, **k)}[cls]()
    t = make(torch.nn).to(TORCH_DTYPE[dtype])
    with torch.no_grad():
        for name, p in t.named_parameters():
            if p.ndim == 1:
                p.normal_(0, 0.5).add_(1.0 if "norm" in name and "weight" in name else 0.0)
    m = make(nn).to(dtype=dtype)
    m.load_state_dict(t.state_dict())
    for mod in (m, t):
        mod.train(mode == "train")
    return m, t


def _pair(a, dtype, grad=True):
    a = np.asarray(a)
    if a.dtype != np.bool_:
        a = a.astype(dtype)
    g = grad and a.dtype != np.bool_
    return minigrad.tensor(a, requires_grad=g), torch.tensor(a).requires_grad_(g)


def _seq(rng, n, length, batch_first, batched=True):
    if not batched:
        return rng.standard_normal((length, E))
    return rng.standard_normal((n, length, E) if batch_first else (length, n, E))


def _mask(rng, kind, shape):
    if kind == "causal":
        return np.triu(np.full(shape, -np.inf), 1)
    if kind == "bool_causal":
        return np.triu(np.ones(shape, dtype=bool), 1)
    if kind == "bool":
        a = rng.random(shape) > 0.6
        a[..., 0] = False  # every query keeps a key
        return a
    if kind == "bool_pad_row":  # a whole batch element's keys masked
        a = np.zeros(shape, dtype=bool)
        a[1, :] = True
        a[0, -2:] = True
        return a
    return rng.standard_normal(shape)  # "float"


def _compare(m, t, mine_in, their_in, mkw, tkw, dtype, rng):
    """Run both, compare outputs, then gradients of sum(out * w) w.r.t. every float input and
    every parameter."""
    out, tout = m(*mine_in, **mkw), t(*their_in, **tkw)
    _close(out, tout, dtype, "output")
    assert np.isfinite(out.numpy()).all()
    w = rng.standard_normal(tuple(out.shape))
    (out * minigrad.tensor(w.astype(dtype))).sum().backward()
    (tout * torch.tensor(w.astype(dtype))).sum().backward()
    inputs = list(zip(mine_in, their_in)) + [(mkw[k], tkw[k]) for k in mkw
                                             if isinstance(mkw[k], minigrad.Tensor)]
    for i, (a, b) in enumerate(inputs):
        assert a.requires_grad == b.requires_grad
        if b.requires_grad:
            _close(a.grad, b.grad, dtype, f"grad of input {i}")
    tparams = dict(t.named_parameters())
    names = [name for name, _ in m.named_parameters()]
    assert names == list(tparams)
    for name, p in m.named_parameters():
        _close(p.grad, tparams[name].grad, dtype, f"grad of {name}")


# ================================================================== TransformerEncoderLayer
# name -> (module kwargs, batched, forward masks as name -> (kind, shape), forward kwargs)
ENC_CASES = {
    "post_relu": ({}, True, {}, {}),
    "norm_first_gelu": ({"norm_first": True, "activation": "gelu"}, True, {}, {}),
    "gelu_function": ({"activation": "gelu_function"}, True, {"src_mask": ("float", (L, L))},
                      {}),
    "gelu_module_norm_first": ({"activation": "gelu_module", "norm_first": True}, True, {}, {}),
    "batch_first_kpm": ({"batch_first": True}, True,
                        {"src_key_padding_mask": ("bool", (N, L))}, {}),
    "causal_hint": ({}, True, {"src_mask": ("causal", (L, L))}, {"is_causal": True}),
    "causal_norm_first_batch_first": ({"norm_first": True, "batch_first": True}, True,
                                      {"src_mask": ("causal", (L, L))}, {"is_causal": True}),
    "bool_mask_and_kpm": ({}, True, {"src_mask": ("bool", (L, L)),
                                     "src_key_padding_mask": ("bool", (N, L))}, {}),
    "float_masks_3d": ({"norm_first": True}, True,
                       {"src_mask": ("float", (N * H, L, L)),
                        "src_key_padding_mask": ("float", (N, L))}, {}),
    "causal_and_kpm": ({}, True, {"src_mask": ("causal", (L, L)),
                                  "src_key_padding_mask": ("bool", (N, L))},
                       {"is_causal": True}),
    "padded_rows": ({}, True, {"src_key_padding_mask": ("bool_pad_row", (N, L))}, {}),
    "unbatched": ({"activation": "gelu"}, False, {"src_mask": ("bool", (L, L)),
                                                  "src_key_padding_mask": ("bool", (L,))}, {}),
    "no_bias": ({"bias": False, "norm_first": True}, True, {}, {}),
    "layer_norm_eps": ({"layer_norm_eps": 1e-2}, True, {}, {}),
}


def _forward_masks(rng, masks, dtype):
    mine, theirs = {}, {}
    for name, (kind, shape) in masks.items():
        # a causal mask is a constant (with the is_causal hint torch does not even read it)
        mine[name], theirs[name] = _pair(_mask(rng, kind, shape), dtype,
                                         grad=kind != "causal")
    return mine, theirs


def _grid(cases, f32_cases):
    """(case, mode, dtype): every case in float64, a few in float32 too."""
    return [pytest.param(c, mode, dt, id=f"{c}-{mode}-{name}")
            for c in cases for mode in ("eval", "train")
            for dt, name in ((np.float64, "f64"), (np.float32, "f32"))
            if dt == np.float64 or c in f32_cases]


@pytest.mark.parametrize("case, mode, dtype",
                         _grid(ENC_CASES, ("post_relu", "norm_first_gelu", "bool_mask_and_kpm")))
def test_encoder_layer_matches_torch(case, mode, dtype):
    mkw, batched, masks, fkw = ENC_CASES[case]
    m, t = _modules("enc_layer", dtype, mode, **mkw)
    rng = np.random.default_rng(1)
    src, tsrc = _pair(_seq(rng, N, L, mkw.get("batch_first", False), batched), dtype)
    mm, tm = _forward_masks(rng, masks, dtype)
    _compare(m, t, [src], [tsrc], {**mm, **fkw}, {**tm, **fkw}, dtype, rng)


# ================================================================== TransformerDecoderLayer
DEC_CASES = {
    "post_relu": ({}, True, {}, {}),
    "norm_first_gelu": ({"norm_first": True, "activation": "gelu"}, True, {}, {}),
    "causal_tgt": ({}, True, {"tgt_mask": ("causal", (L, L))}, {"tgt_is_causal": True}),
    "bool_causal_tgt_batch_first": ({"batch_first": True}, True,
                                    {"tgt_mask": ("bool_causal", (L, L)),
                                     "tgt_key_padding_mask": ("bool", (N, L)),
                                     "memory_key_padding_mask": ("bool", (N, S))}, {}),
    "all_masks_float": ({"norm_first": True}, True,
                        {"tgt_mask": ("float", (N * H, L, L)),
                         "memory_mask": ("float", (L, S)),
                         "tgt_key_padding_mask": ("float", (N, L)),
                         "memory_key_padding_mask": ("float", (N, S))}, {}),
    "memory_mask_bool_3d": ({"activation": "gelu"}, True,
                            {"memory_mask": ("bool", (N * H, L, S))}, {}),
    "memory_causal_hint": ({}, True, {"memory_mask": ("causal", (L, S))},
                           {"memory_is_causal": True}),
    "padded_memory": ({}, True, {"memory_key_padding_mask": ("bool_pad_row", (N, S))}, {}),
    "unbatched": ({"batch_first": True}, False,
                  {"tgt_mask": ("causal", (L, L)), "memory_key_padding_mask": ("bool", (S,))},
                  {"tgt_is_causal": True}),
    "no_bias": ({"bias": False}, True, {}, {}),
    "gelu_module": ({"activation": "gelu_module"}, True, {}, {}),
}


@pytest.mark.parametrize("case, mode, dtype",
                         _grid(DEC_CASES, ("post_relu", "norm_first_gelu", "all_masks_float")))
def test_decoder_layer_matches_torch(case, mode, dtype):
    mkw, batched, masks, fkw = DEC_CASES[case]
    m, t = _modules("dec_layer", dtype, mode, **mkw)
    rng = np.random.default_rng(2)
    bf = mkw.get("batch_first", False)
    tgt, ttgt = _pair(_seq(rng, N, L, bf, batched), dtype)
    mem, tmem = _pair(_seq(rng, N, S, bf, batched), dtype)
    mm, tm = _forward_masks(rng, masks, dtype)
    _compare(m, t, [tgt, mem], [ttgt, tmem], {**mm, **fkw}, {**tm, **fkw}, dtype, rng)


# ======================================================================= stacks and model
@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("case", ["plain", "causal_detected", "bool_causal_detected_kpm",
                                  "norm_first_batch_first"])
def test_encoder_matches_torch(case, mode):
    dtype = np.float64
    mkw = {"norm_first": True, "batch_first": True} if case == "norm_first_batch_first" else {}
    m, t = _modules("encoder", dtype, mode, **mkw)
    rng = np.random.default_rng(3)
    src, tsrc = _pair(_seq(rng, N, L, mkw.get("batch_first", False)), dtype)
    masks = {"causal_detected": {"mask": ("causal", (L, L))},
             "bool_causal_detected_kpm": {"mask": ("bool_causal", (L, L)),
                                          "src_key_padding_mask": ("bool", (N, L))},
             "norm_first_batch_first": {"src_key_padding_mask": ("float", (N, L))}}.get(case, {})
    mm, tm = _forward_masks(rng, masks, dtype)
    _compare(m, t, [src], [tsrc], mm, tm, dtype, rng)


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("case", ["plain", "causal_detected_with_padding", "norm_first_gelu"])
def test_decoder_matches_torch(case, mode):
    dtype = np.float64
    mkw = {"norm_first": True, "activation": "gelu"} if case == "norm_first_gelu" else {}
    m, t = _modules("decoder", dtype, mode, **mkw)
    rng = np.random.default_rng(4)
    tgt, ttgt = _pair(_seq(rng, N, L, False), dtype)
    mem, tmem = _pair(_seq(rng, N, S, False), dtype)
    masks = {"causal_detected_with_padding": {"tgt_mask": ("causal", (L, L)),
                                              "memory_key_padding_mask": ("bool", (N, S))},
             "norm_first_gelu": {"memory_mask": ("float", (L, S))}}.get(case, {})
    mm, tm = _forward_masks(rng, masks, dtype)
    _compare(m, t, [tgt, mem], [ttgt, tmem], mm, tm, dtype, rng)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_transformer_matches_torch(mode):
    dtype = np.float64
    m, t = _modules("transformer", dtype, mode, batch_first=True)
    rng = np.random.default_rng(5)
    src, tsrc = _pair(_seq(rng, N, S, True), dtype)
    tgt, ttgt = _pair(_seq(rng, N, L, True), dtype)
    causal = nn.Transformer.generate_square_subsequent_mask(L, dtype="float64")
    tcausal = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    kpm, tkpm = _pair(_mask(rng, "bool", (N, S)), dtype)
    _compare(m, t, [src, tgt], [tsrc, ttgt],
             {"tgt_mask": causal, "src_key_padding_mask": kpm, "memory_key_padding_mask": kpm},
             {"tgt_mask": tcausal, "src_key_padding_mask": tkpm,
              "memory_key_padding_mask": tkpm}, dtype, rng)


def test_generate_square_subsequent_mask_as_torch():
    for sz in (0, 1, 4):
        mine = nn.Transformer.generate_square_subsequent_mask(sz)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(sz)
        assert mine.dtype == np.float32
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype="float64").dtype == np.float64


def test_stacks_hold_deep_copies():
    layer = nn.TransformerEncoderLayer(E, H, FF)
    enc = nn.TransformerEncoder(layer, 3)
    assert isinstance(enc.layers, nn.ModuleList) and len(enc.layers) == 3 and enc.norm is None
    ws = [lay.linear1.weight for lay in enc.layers]
    assert all(w is not layer.linear1.weight for w in ws) and len({id(w) for w in ws}) == 3
    for w in ws:
        np.testing.assert_array_equal(w.numpy(), layer.linear1.weight.numpy())
    with minigrad.no_grad():
        enc.layers[0].linear1.weight.fill_(0.0)
    assert not (enc.layers[1].linear1.weight.numpy() == 0).all()
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF), 2, nn.LayerNorm(E))
    assert list(dec.state_dict()) == list(torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(E, H, FF), 2, torch.nn.LayerNorm(E)).state_dict())


def test_transformer_init_is_xavier_uniform_on_matrices():
    torch.manual_seed(0)
    m = nn.Transformer(16, 2, 1, 1, 32)
    for name, p in m.named_parameters():
        a = p.numpy()
        if a.ndim > 1:
            bound = np.sqrt(6.0 / (a.shape[0] + a.shape[1]))
            assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound, name


# ============================================================================ state dicts
@pytest.mark.parametrize("cls", ["enc_layer", "dec_layer", "encoder", "decoder",
                                 "transformer"])
def test_state_dict_both_ways(cls):
    dtype = np.float64
    make = {"enc_layer": lambda: nn.TransformerEncoderLayer(E, H, FF, dropout=0.0),
            "dec_layer": lambda: nn.TransformerDecoderLayer(E, H, FF, dropout=0.0),
            "encoder": lambda: nn.TransformerEncoder(
                nn.TransformerEncoderLayer(E, H, FF, dropout=0.0), 2, nn.LayerNorm(E)),
            "decoder": lambda: nn.TransformerDecoder(
                nn.TransformerDecoderLayer(E, H, FF, dropout=0.0), 2, nn.LayerNorm(E)),
            "transformer": lambda: nn.Transformer(E, H, 2, 2, FF, dropout=0.0)}[cls]
    # torch -> minigrad: exact values
    m, t = _modules(cls, dtype, "eval")
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, t.state_dict()[k].numpy(), err_msg=k)
    # minigrad -> torch: same shapes and keys, and the same function afterwards
    mine = make().to(dtype=dtype).eval()
    sd = mine.state_dict()
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in sd.items()})
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(np.asarray(sd[k]), v.numpy(), err_msg=k)
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E))
    args = [a] if cls in ("enc_layer", "encoder") else [b, a] if cls == "transformer" else [a, b]
    with torch.no_grad():
        theirs = t(*(torch.tensor(x) for x in args))
    np.testing.assert_allclose(mine(*(minigrad.tensor(x) for x in args)).numpy(),
                               theirs.numpy(), **TOL[dtype])


# ============================================================== gradcheck, dropout, reprs
def test_encoder_layer_gradcheck_and_gradgradcheck():
    m = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu").double()
    rng = np.random.default_rng(7)
    x = minigrad.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    mask = minigrad.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    kpm = minigrad.tensor(np.array([[False, False, True], [False, False, False]]))
    fn = lambda x, mask: m(x, src_mask=mask, src_key_padding_mask=kpm)  # noqa: E731
    assert minigrad.gradcheck(fn, [x, mask])
    assert minigrad.gradgradcheck(fn, [x, mask])
    # and with respect to parameters, through norm_first
    m.norm_first = True
    w = m.linear1.weight
    assert minigrad.gradcheck(lambda x, w: m(x), [x, w])


def test_dropout_only_in_training():
    m = nn.TransformerEncoderLayer(E, H, FF, dropout=0.5)
    x = minigrad.tensor(np.random.default_rng(8).standard_normal((L, N, E)).astype(np.float32))
    m.eval()
    np.testing.assert_array_equal(m(x).numpy(), m(x).numpy())
    ref = m(x).numpy()
    m.train()
    minigrad.manual_seed(0)
    a = m(x).numpy()
    assert not np.allclose(a, ref) and not np.allclose(a, m(x).numpy())


def test_reprs_as_torch():
    torch.manual_seed(0)
    pairs = [(nn.TransformerEncoderLayer(E, H, FF), torch.nn.TransformerEncoderLayer(E, H, FF)),
             (nn.TransformerDecoderLayer(E, H, FF, norm_first=True, bias=False),
              torch.nn.TransformerDecoderLayer(E, H, FF, norm_first=True, bias=False)),
             (nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 2, nn.LayerNorm(E)),
              torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, FF), 2,
                                          torch.nn.LayerNorm(E), enable_nested_tensor=False))]
    for m, t in pairs:
        assert repr(m) == repr(t)


# ================================================================================= errors
def _x(*s, dtype="float32"):
    return minigrad.tensor(np.zeros(s), dtype=dtype)


@pytest.mark.parametrize("make, exc, msg", [
    (lambda: nn.TransformerEncoderLayer(8, 3), ValueError, "d_model must be divisible by nhead"),
    (lambda: nn.TransformerEncoderLayer(8.0, 2), TypeError, "d_model must be an int"),
    (lambda: nn.TransformerDecoderLayer(8, 0), ValueError, "greater than 0"),
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"), ValueError,
     "activation should be 'relu', 'gelu' or a callable, got 'tanh'"),
    (lambda: nn.TransformerDecoderLayer(8, 2, activation=3), TypeError,
     "activation should be"),
    (lambda: nn.TransformerEncoderLayer(8, 2, dropout=1.5), ValueError,
     "dropout probability has to be between 0 and 1"),
    (lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=-1), ValueError,
     "dim_feedforward must be >= 0"),
    (lambda: nn.TransformerEncoder("layer", 2), TypeError, "encoder_layer must be a Module"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 0), ValueError,
     "num_layers must be >= 1"),
    (lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2), 2, norm="ln"), TypeError,
     "norm must be a Module or None"),
], ids=["divisible", "float_size", "zero_heads", "activation_name", "activation_type",
        "dropout", "negative_ff", "encoder_layer_type", "num_layers", "norm_type"])
def test_constructor_errors(make, exc, msg):
    with pytest.raises(exc, match=msg.replace("(", r"\(").replace(")", r"\)")):
        make()


ENC = nn.TransformerEncoderLayer(E, H, FF)
DEC = nn.TransformerDecoderLayer(E, H, FF, batch_first=True)
STACK = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 2)
MODEL = nn.Transformer(E, H, 1, 1, FF)

FORWARD_ERRORS = {
    "features": (lambda: ENC(_x(L, N, 6)), ValueError,
                 r"TransformerEncoderLayer: src must be 3-D \(L, N, d_model\) or 2-D"),
    "rank": (lambda: ENC(_x(2, L, N, E)), ValueError, r"got shape \(2, 5, 3, 8\)"),
    "not_a_tensor": (lambda: ENC(np.zeros((L, N, E))), TypeError, "expects a minigrad Tensor"),
    "int_src": (lambda: ENC(_x(L, N, E, dtype="int64")), TypeError,
                "expects a floating-point src"),
    "float64_src": (lambda: ENC(_x(L, N, E, dtype="float64")), TypeError,
                    r"expects a float32 src .* got dtype float64"),
    "mask_shape": (lambda: ENC(_x(L, N, E), src_mask=_x(L, L + 1)), ValueError,
                   r"src_mask must have shape \(5, 5\) or \(6, 5, 5\), got shape \(5, 6\)"),
    "kpm_shape_batch_first_confusion": (
        lambda: ENC(_x(L, N, E), src_key_padding_mask=_x(L, N)), ValueError,
        r"src_key_padding_mask must have shape \(3, 5\), got shape \(5, 3\)"),
    "int_mask": (lambda: ENC(_x(L, N, E), src_mask=_x(L, L, dtype="int64")), TypeError,
                 "only bool and floating types of src_mask are supported"),
    "causal_without_mask": (lambda: ENC(_x(L, N, E), is_causal=True), ValueError,
                            "is_causal is a hint that src_mask is the causal mask"),
    "memory_batch": (lambda: DEC(_x(N, L, E), _x(N + 1, S, E)), ValueError,
                     "tgt and memory must both be batched .* same batch size"),
    "memory_unbatched": (lambda: DEC(_x(N, L, E), _x(S, E)), ValueError,
                         "tgt and memory must both be batched"),
    "memory_features": (lambda: DEC(_x(N, L, E), _x(N, S, 4)), ValueError,
                        "memory must be 3-D"),
    "memory_mask_shape": (lambda: DEC(_x(N, L, E), _x(N, S, E), memory_mask=_x(L, L)),
                          ValueError, r"memory_mask must have shape \(5, 6\)"),
    "memory_kpm_shape": (lambda: DEC(_x(N, L, E), _x(N, S, E),
                                     memory_key_padding_mask=_x(N, L)), ValueError,
                         r"memory_key_padding_mask must have shape \(3, 6\)"),
    "tgt_causal_without_mask": (lambda: DEC(_x(N, L, E), _x(N, S, E), tgt_is_causal=True),
                                ValueError, "tgt_is_causal is a hint that tgt_mask"),
    "memory_causal_without_mask": (lambda: DEC(_x(N, L, E), _x(N, S, E),
                                               memory_is_causal=True),
                                   ValueError, "memory_is_causal is a hint that memory_mask"),
    "stack_mask": (lambda: STACK(_x(L, N, E), mask=_x(N, L)), ValueError,
                   "TransformerEncoder: mask must have shape"),
    "model_batch": (lambda: MODEL(_x(S, N, E), _x(L, N + 1, E)), ValueError,
                    "the batch number of src and tgt must be equal"),
    "model_features": (lambda: MODEL(_x(S, N, E), _x(L, N, 4)), ValueError,
                       "the feature number of src and tgt must be equal to d_model=8"),
}


@pytest.mark.parametrize("name", list(FORWARD_ERRORS))
def test_forward_errors_name_the_problem(name):
    call, exc, msg = FORWARD_ERRORS[name]
    with pytest.raises(exc, match=msg):
        call()


def test_mismatched_mask_types_warn_as_torch():
    x = _x(L, N, E)
    with pytest.warns(UserWarning, match="Support for mismatched src_key_padding_mask and "
                                         "src_mask is deprecated"):
        ENC(x, src_mask=_x(L, L), src_key_padding_mask=minigrad.tensor(np.zeros((N, L), bool)))


def test_exported_like_the_other_layers():
    import minigrad.nn.layers as layers
    for name in ("TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
                 "TransformerDecoder", "Transformer"):
        assert name in layers.__all__ and getattr(nn, name) is getattr(layers, name)
    assert copy.deepcopy(ENC).linear1.weight is not ENC.linear1.weight
