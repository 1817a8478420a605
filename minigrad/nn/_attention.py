"""scaled_dot_product_attention of ``minigrad.nn.functional``, and the attention core that
``nn.MultiheadAttention`` shares with it.

Both are compositions of differentiable ops (matmul, add or masked_fill, softmax, where,
dropout's multiplication), so every order of gradient follows with no backward of their own,
the float mask's included (it is added to the scores, as in torch).

A row of scores that is -inf throughout (every key masked) has no softmax: exp gives 0/0. The
two torch APIs differ there and each is matched:

* ``scaled_dot_product_attention`` (and MultiheadAttention with ``need_weights=False``, which
  calls it) gives such a row weight 0, so its output is 0, as torch 2.13's ``_safe_softmax``
  does. The row is replaced by 0 *before* the softmax and the weights by 0 after it, with two
  ``where``; so no NaN is ever formed, and the gradients into that row are exactly 0 (a NaN
  softmax masked afterwards would still send 0 * NaN = NaN backwards).
* MultiheadAttention with ``need_weights=True`` (torch's explicit-softmax path) gives NaN
  weights and a NaN output for that row, as torch does.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from minigrad import functional as _F
from minigrad.nn._dropout import _check_p, dropout
from minigrad.tensor import Tensor


def _broadcast(*shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def _check_mask_shape(op, mask, shape):
    """ValueError unless ``mask`` broadcasts to the scores' ``shape`` (..., L, S) without
    making it larger (torch adds it in place)."""
    if _broadcast(mask.shape, shape) != tuple(shape):
        raise ValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} cannot be broadcast to "
                         f"the attention scores' shape {tuple(shape)} (..., L, S)")


def _check_mask_dtype(op, name, mask, dtype):
    """TypeError unless ``mask`` is a Tensor, bool or of the query's float ``dtype``."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: {name} must be a minigrad Tensor (bool or {dtype}), got "
                        f"{type(mask).__name__}")
    if mask.dtype != np.bool_ and mask.dtype != dtype:
        raise TypeError(f"{op}: {name} must be bool or of the query's dtype {dtype}, got dtype "
                        f"{mask.dtype}")


def _causal(L, S, like):
    """The (L, S) bool mask of torch's ``is_causal``: True (take part) on and below the main
    diagonal, aligned at the top left (row i sees keys 0..i)."""
    return like.xp.tri(L, S, dtype=bool)


def _attend(q, k, v, mask, scale, dropout_p, safe):
    """(softmax(q k^T * scale + mask) v, the weights) over the last two dims, batch dims
    broadcast. ``mask``: None, a bool array or Tensor (True = take part), or a float Tensor
    added to the scores. ``safe``: rows masked throughout get weight 0 (torch's
    ``_safe_softmax``) instead of NaN. Dropout (minigrad's generator) on the weights."""
    scores = _F.matmul(q, _F.transpose(k, -2, -1)) * scale
    if mask is not None:
        m = mask.data if isinstance(mask, Tensor) else mask
        if m.dtype == np.bool_:
            scores = _F.masked_fill(scores, ~m, -math.inf)
        else:
            scores = scores + mask
    if scores.shape[-1] == 0:  # no keys: nothing to weigh, and the output is 0 (as torch's)
        weights = scores
    elif safe and mask is not None:
        dead = scores.xp.all(scores.data == -math.inf, axis=-1, keepdims=True)
        weights = _F.where(dead, 0.0, _F.softmax(_F.where(dead, 0.0, scores), -1))
    else:
        weights = _F.softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, True)
    return _F.matmul(weights, v), weights


def _check_qkv(op, query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a minigrad Tensor, got {type(t).__name__}")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError(f"{op}: query, key and value must have at least 2 dims (..., L or S, "
                         f"E), got shapes {tuple(query.shape)}, {tuple(key.shape)} and "
                         f"{tuple(value.shape)}")
    if query.dtype.kind != "f" or not query.dtype == key.dtype == value.dtype:
        raise TypeError(f"{op}: query, key and value must have the same floating-point dtype, "
                        f"got {query.dtype}, {key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{op}: query and key must have the same embedding size E (last dim), "
                         f"got query {tuple(query.shape)} and key {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{op}: key and value must have the same sequence length S "
                         f"(dim -2), got key {tuple(key.shape)} and value {tuple(value.shape)}")


def _gqa(query, key, value):
    """key and value with each head repeated to the query's number of heads (dim -3), torch's
    ``enable_gqa``."""
    if min(query.ndim, key.ndim, value.ndim) < 3:
        return key, value
    hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if hk == 0 or hv == 0 or hq % hk or hq % hv:
        raise ValueError(f"scaled_dot_product_attention: with enable_gqa, the number of heads "
                         f"(dim -3) of key ({hk}) and value ({hv}) must divide the query's "
                         f"({hq})")
    if hk != hq:
        key = _F.repeat_interleave(key, hq // hk, -3)
    if hv != hq:
        value = _F.repeat_interleave(value, hq // hv, -3)
    return key, value


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query key^T * scale + mask) value, as ``torch.nn.functional.
    scaled_dot_product_attention``: query (..., L, E), key (..., S, E), value (..., S, Ev) ->
    (..., L, Ev), batch dims broadcast.

    attn_mask: broadcast to (..., L, S); bool (True = the key takes part) or a float tensor of
    the query's dtype added to the scores (differentiable). is_causal: the (L, S)
    lower-triangular bool mask, top-left aligned (an error together with attn_mask, as in
    torch). scale: default 1 / sqrt(E). dropout_p: dropout on the attention weights, always
    applied when > 0 (as torch's: pass 0 in eval mode), from minigrad's generator. enable_gqa:
    key and value may have fewer heads (dim -3) than query, each repeated to match.

    A query whose keys are all masked gets output 0 and gradient 0 (torch 2.13's safe softmax).
    """
    op = "scaled_dot_product_attention"
    _check_qkv(op, query, key, value)
    _check_p(dropout_p)
    if scale is not None and (not isinstance(scale, numbers.Real) or isinstance(scale, bool)):
        raise TypeError(f"{op}: scale must be a number or None, got {scale!r}")
    if enable_gqa:
        key, value = _gqa(query, key, value)
    batch = _broadcast(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    if batch is None:
        raise ValueError(f"{op}: the batch dims of query {tuple(query.shape)}, key "
                         f"{tuple(key.shape)} and value {tuple(value.shape)} cannot be "
                         "broadcast together")
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    mask = attn_mask
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{op}: attn_mask and is_causal=True are exclusive (is_causal is "
                             "the lower-triangular mask; pass one or the other)")
        mask = _causal(L, S, query)
    elif mask is not None:
        _check_mask_dtype(op, "attn_mask", mask, query.dtype)
        _check_mask_shape(op, mask, _broadcast(query.shape[:-2], key.shape[:-2]) + (L, S))
    s = float(scale) if scale is not None else (1.0 / math.sqrt(E) if E else math.inf)
    return _attend(query, key, value, mask, s, float(dropout_p), safe=True)[0]
