"""MultiheadAttention, as torch.nn.MultiheadAttention (its parameters, names, init and the
results of its general path, ``F.multi_head_attention_forward``)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from minigrad import functional as _F
from minigrad.creation import zeros
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn._attention import _attend, _causal
from minigrad.nn.layers._common import _check_float, _check_tensor, _param, _size
from minigrad.nn.layers.linear import Linear
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under torch's name for MultiheadAttention's ``out_proj`` (so the reprs agree)."""


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.), as ``torch.nn.MultiheadAttention``:
    softmax(Q_h K_h^T / sqrt(head_dim) + mask) V_h for each of ``num_heads`` heads of size
    head_dim = embed_dim / num_heads, concatenated, then ``out_proj``.

    Parameters as torch's, so state dicts load both ways: ``in_proj_weight`` (3E, E) when key
    and value have the query's size E (else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E,
    kdim), ``v_proj_weight`` (E, vdim)), ``in_proj_bias`` (3E,), ``out_proj.weight`` (E, E),
    ``out_proj.bias`` (E,), ``bias_k``/``bias_v`` (1, 1, E) with ``add_bias_kv``. Init as torch's:
    xavier_uniform_ on the in-projection weights, zero biases, out_proj's weight as a Linear's,
    xavier_normal_ on bias_k and bias_v.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (attn_output, attn_weights or None):
    query (L, N, E), key (S, N, kdim), value (S, N, vdim) (N first with ``batch_first``), or
    unbatched (L, E), (S, kdim), (S, vdim); attn_output shaped as query; attn_weights (N, L, S)
    averaged over heads, or (N, num_heads, L, S), without N when unbatched.
    key_padding_mask (N, S) (or (S,)) and attn_mask (L, S) or (N * num_heads, L, S): bool with
    True = *ignore that key* (the opposite of scaled_dot_product_attention's), or float, added
    to the scores. ``is_causal`` is torch's hint: it needs attn_mask (the causal mask), and with
    need_weights=False and no key_padding_mask the lower-triangular mask replaces it, as in
    torch. Dropout (``dropout``) on the attention weights in training only; the returned
    weights are the dropped ones, as torch's.

    A query whose keys are all masked gets NaN (output and weights) with need_weights=True and
    an output of ``out_proj.bias`` (attention 0) with need_weights=False, as torch 2.13 gives.
    Torch's fast path (eval-mode inference without grad) is not reproduced: its results agree
    with the general path's up to rounding except in such rows.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False):
        super().__init__()
        name = type(self).__name__
        embed_dim = _size(name, "embed_dim", embed_dim)
        num_heads = _size(name, "num_heads", num_heads)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"{name}: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"{name}: embed_dim must be divisible by num_heads, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        F._check_p(dropout)
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else _size(name, "kdim", kdim)
        self.vdim = embed_dim if vdim is None else _size(name, "vdim", vdim)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _param(3 * embed_dim, embed_dim)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = _param(embed_dim, embed_dim)
            self.k_proj_weight = _param(embed_dim, self.kdim)
            self.v_proj_weight = _param(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = _param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias)
        if add_bias_kv:
            self.bias_k = _param(1, 1, embed_dim)
            self.bias_v = _param(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    # ------------------------------------------------------------------------ checks
    def _short(self):
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _fail(self, what):
        raise ValueError(f"{self._short()}: {what}")

    def _float_mask(self, name, mask, dtype):
        """The mask as a float tensor added to the scores: bool True -> -inf (ignore), False ->
        0; a float mask as it is (differentiable). Anything else is a TypeError."""
        _check_tensor(self, mask)
        if mask.dtype == np.bool_:
            xp = mask.xp
            return Tensor._wrap(xp.where(mask.data, -math.inf, 0.0).astype(dtype), False, None)
        if mask.dtype != dtype:
            raise TypeError(f"{self._short()}: {name} must be bool or of the query's dtype "
                            f"{dtype}, got dtype {mask.dtype}")
        return mask

    def _projections(self, query, key, value, same):
        """The in-projections of (N, L or S, *) inputs, each (N, L or S, E); ``same``: query,
        key and value are one tensor (self-attention: one product, split)."""
        E, b = self.embed_dim, self.in_proj_bias
        bq, bk, bv = (None,) * 3 if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if not self._qkv_same_embed_dim:
            return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                    F.linear(value, self.v_proj_weight, bv))
        w = self.in_proj_weight
        if same:
            return _F.chunk(F.linear(query, w, b), 3, -1)
        return (F.linear(query, w[:E], bq), F.linear(key, w[E:2 * E], bk),
                F.linear(value, w[2 * E:], bv))

    # ----------------------------------------------------------------------- forward
    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        dtype = self.out_proj.weight.dtype
        for name, t in (("query", query), ("key", key), ("value", value)):
            _check_float(self, t, name, dtype)
        batched, same = query.ndim == 3, query is key and key is value
        if query.ndim not in (2, 3):
            self._fail(f"query must be 3-D (L, N, E) or (N, L, E) with batch_first, or 2-D "
                       f"(L, E) unbatched, got shape {tuple(query.shape)}")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            self._fail(f"key and value must be {query.ndim}-D as query is, got shapes "
                       f"{tuple(key.shape)} and {tuple(value.shape)}")
        for name, t, size in (("query", query, self.embed_dim), ("key", key, self.kdim),
                              ("value", value, self.vdim)):
            if t.shape[-1] != size:
                self._fail(f"{name} must have {size} features in the last dimension "
                           f"({'embed_dim' if name == 'query' else name[0] + 'dim'}), got shape "
                           f"{tuple(t.shape)}")
        shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        if key.shape[:-1] != value.shape[:-1]:
            self._fail(f"key and value must have the same sequence length"
                       f"{' and batch size' if batched else ''}, got {shapes}")
        # to (N, L or S, *)
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
        elif not self.batch_first:
            query, key, value = self._transposed(query, key, value)
        if key.shape[0] != query.shape[0]:
            self._fail(f"query, key and value must have the same batch size, got {shapes}"
                       f"{' (batch_first)' if self.batch_first else ''}")
        N, L, S, H = query.shape[0], query.shape[1], key.shape[1], self.num_heads

        kpm = key_padding_mask
        if kpm is not None:
            _check_tensor(self, kpm)
            want = (N, S) if batched else (S,)
            if tuple(kpm.shape) != want:
                self._fail(f"key_padding_mask must have shape {want} ((N, S) batched, (S,) "
                           f"unbatched), got shape {tuple(kpm.shape)}")
            kpm = self._float_mask("key_padding_mask", kpm, dtype).reshape(N, 1, 1, S)
        if attn_mask is not None:
            _check_tensor(self, attn_mask)
            allowed = [(L, S), (N * H, L, S)]
            if tuple(attn_mask.shape) not in allowed:
                self._fail(f"attn_mask must have shape {allowed[0]} or (N * num_heads, L, S) = "
                           f"{allowed[1]}, got shape {tuple(attn_mask.shape)}")
            if key_padding_mask is not None and key_padding_mask.dtype != attn_mask.dtype:
                warnings.warn("Support for mismatched key_padding_mask and attn_mask is "
                              "deprecated. Use same type for both instead.", stacklevel=2)
            attn_mask = self._float_mask("attn_mask", attn_mask, dtype)
            if attn_mask.ndim == 3:
                attn_mask = attn_mask.reshape(N, H, L, S)
        elif is_causal:
            raise ValueError(f"{self._short()}: is_causal is a hint that attn_mask is the causal "
                             "mask; it needs attn_mask (as torch's)")

        q, k, v = self._projections(query, key, value, same)
        if self.bias_k is not None:
            k = _F.cat([k, self.bias_k.expand(N, 1, self.embed_dim)], 1)
            v = _F.cat([v, self.bias_v.expand(N, 1, self.embed_dim)], 1)
        q, k, v = (self._heads(t) for t in (q, k, v))
        if self.add_zero_attn:
            z = zeros(N, H, 1, self.head_dim, dtype=dtype, device=q.device)
            k, v = _F.cat([k, z], 2), _F.cat([v, z], 2)
        extra = k.shape[2] - S  # keys added by add_bias_kv and add_zero_attn: never masked

        if is_causal and kpm is None and not need_weights:
            mask = _causal(L, S + extra, q)  # torch passes is_causal to SDPA, not attn_mask
        elif attn_mask is None and kpm is None:
            mask = None
        else:
            mask = kpm if attn_mask is None else attn_mask if kpm is None else attn_mask + kpm
            if extra:
                mask = _F.pad(mask, (0, extra))
        p = self.dropout if self.training else 0.0
        out, weights = _attend(q, k, v, mask, math.sqrt(1.0 / self.head_dim), p,
                               safe=not need_weights)
        out = _F.transpose(out, 1, 2).reshape(N, L, self.embed_dim)
        out = F.linear(out, self.out_proj.weight, self.out_proj.bias)
        if not batched:
            out = out[0]
        elif not self.batch_first:
            out = _F.transpose(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights if batched else weights[0])

    @staticmethod
    def _transposed(query, key, value):
        """(L, N, E) -> (N, L, E) for each, keeping ``query is key`` (self-attention)."""
        q = _F.transpose(query, 0, 1)
        k = q if key is query else _F.transpose(key, 0, 1)
        v = k if value is key else q if value is query else _F.transpose(value, 0, 1)
        return q, k, v

    def _heads(self, t):
        """(N, S, E) -> (N, num_heads, S, head_dim)."""
        n, s = t.shape[0], t.shape[1]
        return _F.transpose(t.reshape(n, s, self.num_heads, self.head_dim), 1, 2)
