"""Transformer layers, as torch.nn's: TransformerEncoderLayer, TransformerDecoderLayer, their
stacks TransformerEncoder and TransformerDecoder, and the whole Transformer.

Compositions of MultiheadAttention, Linear, LayerNorm, Dropout and the activation, with torch's
submodule names (state dicts load both ways) and torch's general path: post-norm
``x = norm1(x + dropout1(self_attn(x)))``, ``x = norm2(x + dropout2(ff(x)))`` (and, in the
decoder, the cross-attention block between them), or with ``norm_first`` the pre-norm
``x = x + dropout1(self_attn(norm1(x)))``, ... (Xiong et al. 2020, Fig. 1). Being compositions,
they are differentiable to any order. Torch's fused inference fast path (eval mode, no grad,
nested tensors) is not reproduced: its results agree with the general path's up to rounding.
"""
from __future__ import annotations

import copy
import math
import numbers
import warnings

import numpy as np

from minigrad.creation import full
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.containers import ModuleList
from minigrad.nn.layers._common import _check_float, _check_tensor, _size
from minigrad.nn.layers.attention import MultiheadAttention
from minigrad.nn.layers.dropout import Dropout
from minigrad.nn.layers.linear import Linear
from minigrad.nn.layers.normalization import LayerNorm
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


# ============================================================================== helpers
def _check_args(name, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps):
    """The constructor's arguments checked, with the activation as a callable (torch's "relu"
    and "gelu" strings resolved)."""
    d_model = _size(name, "d_model", d_model)
    nhead = _size(name, "nhead", nhead)
    dim_feedforward = _size(name, "dim_feedforward", dim_feedforward)
    if d_model <= 0 or nhead <= 0:
        raise ValueError(f"{name}: d_model and nhead must be greater than 0, got "
                         f"d_model={d_model} and nhead={nhead}")
    if d_model % nhead:
        raise ValueError(f"{name}: d_model must be divisible by nhead, got d_model={d_model} "
                         f"and nhead={nhead}")
    if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool):
        raise TypeError(f"{name}: dropout must be a float, got {dropout!r}")
    F._check_p(dropout)
    if not isinstance(layer_norm_eps, numbers.Real) or not layer_norm_eps >= 0:
        raise ValueError(f"{name}: layer_norm_eps must be a number >= 0, got {layer_norm_eps!r}")
    if isinstance(activation, str):
        fns = {"relu": F.relu, "gelu": F.gelu}
        if activation not in fns:
            raise ValueError(f"{name}: activation should be 'relu', 'gelu' or a callable, got "
                             f"{activation!r}")
        activation = fns[activation]
    elif not callable(activation):
        raise TypeError(f"{name}: activation should be 'relu', 'gelu' or a callable, got "
                        f"{activation!r} ({type(activation).__name__})")
    return d_model, nhead, dim_feedforward, activation


def _shape(x):
    return tuple(x.shape)


def _seq(layer, name, x, dtype, d_model, batch_first):
    """``x`` checked as a sequence of the layer's dtype: (L, N, d_model) ((N, L, d_model) with
    batch_first) or unbatched (L, d_model). Returns (batched, N, L)."""
    _check_float(layer, x, name, dtype)
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        layout = "(N, L, d_model)" if batch_first else "(L, N, d_model)"
        raise ValueError(f"{type(layer).__name__}: {name} must be 3-D {layout} or 2-D (L, "
                         f"d_model) unbatched, with d_model={d_model}, got shape {_shape(x)}")
    if x.ndim == 2:
        return False, 1, x.shape[0]
    return True, *((x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0]))


def _check_mask(layer, name, mask, shapes):
    """A mask checked: a Tensor, bool or floating point, of one of ``shapes``."""
    if mask is None:
        return
    _check_tensor(layer, mask)
    if mask.dtype != np.bool_ and mask.dtype.kind != "f":
        raise TypeError(f"{type(layer).__name__}: only bool and floating types of {name} are "
                        f"supported, got dtype {mask.dtype}")
    if _shape(mask) not in shapes:
        want = " or ".join(str(s) for s in shapes)
        raise ValueError(f"{type(layer).__name__}: {name} must have shape {want}, got shape "
                         f"{_shape(mask)}")


def _attn_shapes(batched, N, H, L, S):
    return [(L, S), (N * H, L, S)] if batched else [(L, S), (H, L, S)]


def _kpm_shapes(batched, N, S):
    return [(N, S)] if batched else [(S,)]


def _canonical_mask(mask, name, other, other_name, dtype):
    """torch's ``F._canonical_mask``: a bool mask as a float one of ``dtype`` (True -> -inf,
    False -> 0), a float mask as it is; a warning where ``other`` is a mask of another dtype."""
    if mask is None:
        return None
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same "
                      "type for both instead.", stacklevel=3)
    if mask.dtype == np.bool_:
        xp = mask.xp
        return Tensor._wrap(xp.where(mask.data, -math.inf, 0.0).astype(dtype), False, None)
    return mask


def _detect_is_causal_mask(mask, is_causal, size):
    """torch's ``_detect_is_causal_mask``: ``is_causal`` when given, else whether ``mask`` is
    the (size, size) causal mask (-inf, or True for a bool mask, above the diagonal)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None or _shape(mask) != (size, size):
        return False
    xp = mask.xp
    above = xp.triu(xp.ones((size, size), dtype=bool), 1)
    want = above if mask.dtype == np.bool_ else xp.where(above, -math.inf, 0.0)
    return bool((mask.data == want).all())


def _clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _check_stack_args(name, layer, layer_cls, num_layers, norm):
    if not isinstance(layer, Module):
        raise TypeError(f"{name}: {layer_cls} must be a Module (a {layer_cls} instance), got "
                        f"{type(layer).__name__}")
    num_layers = _size(name, "num_layers", num_layers)
    if num_layers < 1:
        raise ValueError(f"{name}: num_layers must be >= 1, got {num_layers}")
    if norm is not None and not isinstance(norm, Module):
        raise TypeError(f"{name}: norm must be a Module or None, got {type(norm).__name__}")
    return num_layers


def _layer_seq_args(layer):
    """(dtype, d_model, batch_first, nhead) of an encoder or decoder layer, from its self_attn
    (a custom layer without one: None, and the stack checks nothing itself)."""
    sa = getattr(layer, "self_attn", None)
    if not isinstance(sa, MultiheadAttention):
        return None
    return sa.out_proj.weight.dtype, sa.embed_dim, sa.batch_first, sa.num_heads


# ================================================================================ layers
class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, as ``torch.nn.TransformerEncoderLayer``:
    submodules ``self_attn`` (MultiheadAttention), ``linear1`` (d_model -> dim_feedforward),
    ``dropout``, ``linear2`` (dim_feedforward -> d_model), ``norm1``, ``norm2`` (LayerNorm),
    ``dropout1``, ``dropout2``; ``activation`` "relu", "gelu" or any callable (a Module one is a
    submodule, as in torch).

    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False): src (L, N, d_model)
    ((N, L, d_model) with batch_first, or (L, d_model) unbatched) -> the same shape. src_mask
    (L, L) or (N * nhead, L, L), src_key_padding_mask (N, L): bool (True = ignore that key) or
    float (added to the scores); bool masks become float ones (-inf) first, as in torch, with
    torch's warning when the two masks' types differ. ``is_causal``: the hint that src_mask is
    the causal mask (it needs src_mask). A query whose keys are all masked attends to nothing
    (attention output 0 before out_proj), as torch's general path.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True):
        super().__init__()
        d_model, nhead, dim_feedforward, activation = _check_args(
            type(self).__name__, d_model, nhead, dim_feedforward, dropout, activation,
            layer_norm_eps)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        sa = self.self_attn
        dtype = sa.out_proj.weight.dtype
        batched, N, L = _seq(self, "src", src, dtype, sa.embed_dim, sa.batch_first)
        _check_mask(self, "src_key_padding_mask", src_key_padding_mask,
                    _kpm_shapes(batched, N, L))
        _check_mask(self, "src_mask", src_mask, _attn_shapes(batched, N, sa.num_heads, L, L))
        if is_causal and src_mask is None:
            raise ValueError(f"{type(self).__name__}: is_causal is a hint that src_mask is the "
                             "causal mask; it needs src_mask (as torch's)")
        kpm = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", src_mask,
                              "src_mask", dtype)
        mask = _canonical_mask(src_mask, "src_mask", None, "", dtype)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), mask, kpm, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, mask, kpm, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over ``memory`` and a feed-forward network, as
    ``torch.nn.TransformerDecoderLayer``: submodules ``self_attn``, ``multihead_attn``
    (MultiheadAttention), ``linear1``, ``dropout``, ``linear2``, ``norm1``, ``norm2``,
    ``norm3``, ``dropout1``, ``dropout2``, ``dropout3``.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False): tgt (T, N,
    d_model), memory (S, N, d_model) (batch first with batch_first; or unbatched (T, d_model),
    (S, d_model)) -> tgt's shape. tgt_mask (T, T) or (N * nhead, T, T), memory_mask (T, S) or
    (N * nhead, T, S), tgt_key_padding_mask (N, T), memory_key_padding_mask (N, S): bool (True =
    ignore) or float (added), given to the attention modules as they are, as torch does. The
    ``*_is_causal`` hints need their mask.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True):
        super().__init__()
        d_model, nhead, dim_feedforward, activation = _check_args(
            type(self).__name__, d_model, nhead, dim_feedforward, dropout, activation,
            layer_norm_eps)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = activation

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        sa, name = self.self_attn, type(self).__name__
        dtype, E, H = sa.out_proj.weight.dtype, sa.embed_dim, sa.num_heads
        batched, N, T = _seq(self, "tgt", tgt, dtype, E, sa.batch_first)
        mbatched, mN, S = _seq(self, "memory", memory, dtype, E, sa.batch_first)
        if mbatched != batched or mN != N:
            raise ValueError(f"{name}: tgt and memory must both be batched (3-D) with the same "
                             f"batch size, or both unbatched (2-D), got shapes {_shape(tgt)} and "
                             f"{_shape(memory)}{' (batch_first)' if sa.batch_first else ''}")
        _check_mask(self, "tgt_mask", tgt_mask, _attn_shapes(batched, N, H, T, T))
        _check_mask(self, "memory_mask", memory_mask, _attn_shapes(batched, N, H, T, S))
        _check_mask(self, "tgt_key_padding_mask", tgt_key_padding_mask,
                    _kpm_shapes(batched, N, T))
        _check_mask(self, "memory_key_padding_mask", memory_key_padding_mask,
                    _kpm_shapes(batched, N, S))
        for which, hint, mask in (("tgt", tgt_is_causal, tgt_mask),
                                  ("memory", memory_is_causal, memory_mask)):
            if hint and mask is None:
                raise ValueError(f"{name}: {which}_is_causal is a hint that {which}_mask is the "
                                 f"causal mask; it needs {which}_mask (as torch's)")
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


# ================================================================================ stacks
class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` in ``layers`` (a ModuleList), then
    ``norm`` when given, as ``torch.nn.TransformerEncoder``.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None): the masks as the
    layer's (bool ones made float first, as torch does); ``is_causal`` None: whether ``mask`` is
    the causal mask, found by comparing it with ``Transformer.generate_square_subsequent_mask``.
    ``enable_nested_tensor`` and ``mask_check`` are accepted for torch's signature; they only
    steer torch's fast path, which is not reproduced, so they change nothing.
    """

    def __init__(self, encoder_layer, num_layers: int, norm=None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        num_layers = _check_stack_args(type(self).__name__, encoder_layer, "encoder_layer",
                                       num_layers, norm)
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        args = _layer_seq_args(self.layers[0])
        seq_len = None
        if args is not None:
            dtype, d_model, batch_first, nhead = args
            batched, N, seq_len = _seq(self, "src", src, dtype, d_model, batch_first)
            _check_mask(self, "src_key_padding_mask", src_key_padding_mask,
                        _kpm_shapes(batched, N, seq_len))
            _check_mask(self, "mask", mask, _attn_shapes(batched, N, nhead, seq_len, seq_len))
            src_key_padding_mask = _canonical_mask(src_key_padding_mask,
                                                   "src_key_padding_mask", mask, "mask", dtype)
            mask = _canonical_mask(mask, "mask", None, "", dtype)
        is_causal = _detect_is_causal_mask(mask, is_causal, seq_len)
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal,
                         src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` in ``layers``, then ``norm`` when given,
    as ``torch.nn.TransformerDecoder``. forward takes the decoder layer's arguments;
    ``tgt_is_causal`` None: whether ``tgt_mask`` is the causal mask (compared, as torch)."""

    def __init__(self, decoder_layer, num_layers: int, norm=None):
        super().__init__()
        num_layers = _check_stack_args(type(self).__name__, decoder_layer, "decoder_layer",
                                       num_layers, norm)
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        args = _layer_seq_args(self.layers[0])
        seq_len = None
        if args is not None:
            seq_len = _seq(self, "tgt", tgt, args[0], args[1], args[2])[2]
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask,
                         memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder model, as ``torch.nn.Transformer``: ``encoder`` (a
    TransformerEncoder of ``num_encoder_layers`` layers with a final LayerNorm, or
    ``custom_encoder``) and ``decoder`` (likewise); every parameter of 2 or more dims
    initialised with xavier_uniform_, as torch's.

    forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False) -> decoder(tgt,
    encoder(src)).
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", custom_encoder=None, custom_decoder=None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True):
        super().__init__()
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*args), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*args), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = bool(batch_first)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        _check_tensor(self, src)
        _check_tensor(self, tgt)
        name = type(self).__name__
        b = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[b] != tgt.shape[b]):
            raise ValueError(f"{name}: the batch number of src and tgt must be equal, got "
                             f"shapes {_shape(src)} and {_shape(tgt)}"
                             f"{' (batch_first)' if self.batch_first else ''}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"{name}: the feature number of src and tgt must be equal to "
                             f"d_model={self.d_model}, got shapes {_shape(src)} and "
                             f"{_shape(tgt)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The (sz, sz) causal mask: -inf above the main diagonal, 0 on and below it (float32
        unless ``dtype``), as torch's."""
        sz = _size("Transformer.generate_square_subsequent_mask", "sz", sz)
        return full((sz, sz), -math.inf, dtype=dtype or "float32", device=device).triu(1)
