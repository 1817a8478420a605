"""The losses of ``minigrad.nn.functional`` (the rules they follow are in its docstring): each
takes a ``reduction`` and checks its target's shape."""
from __future__ import annotations

import math
import numbers
import os
import sys
import warnings

import numpy as np

from minigrad import functional as _F
from minigrad.autograd.anomaly import is_anomaly_enabled
from minigrad.functional import log_softmax
from minigrad.ops import loss as _LOSS
from minigrad.nn._norm import _channel_shape
from minigrad.ops import elementwise as _E
from minigrad.ops import shape as _S
from minigrad.tensor import Tensor


def _as_tensor(x, like: Tensor, dtype=None) -> Tensor:
    """``x`` as a Tensor on ``like``'s device (arrays/lists converted, Tensors kept), of
    ``dtype`` if given (a loss's weights take the input's dtype: torch never promotes the loss
    to a weight's dtype)."""
    if isinstance(x, Tensor):
        return x if dtype is None else _F._cast(x, dtype)
    arr = like.xp.asarray(x)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return Tensor._wrap(arr, False, None)


# ================================================================================ losses
_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _target(name, input: Tensor, target) -> Tensor:
    """``target`` as a Tensor of input's shape (else a clear error) and of the dtype the two
    promote to, as in torch: input's for an integer or bool target, float64 for a float64 target
    of a float32 input (the loss is then float64; input's gradient stays float32)."""
    if isinstance(target, numbers.Number):
        raise TypeError(f"{name}: target must be a tensor of the input's shape {input.shape}, "
                        f"got the number {target!r} (use minigrad.full_like(input, {target!r}))")
    target = _as_tensor(target, input)
    if target.shape != input.shape:
        raise ValueError(f"{name}: input shape {input.shape} and target shape {target.shape} "
                         "must match (no implicit broadcasting in losses: check for an (N, 1) "
                         "vs (N,) mix-up)")
    if target.dtype != input.dtype:
        target = _F._cast(target, _F._result_dtype(input, target))
    return target


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced."""
    d = input - _target("mse_loss", input, target)
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    return _reduce(_F.abs(input - _target("l1_loss", input, target)), reduction)


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target), reduced;
    beta = 0 is l1_loss."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = input - _target("smooth_l1_loss", input, target)
    if beta == 0:
        return _reduce(_F.abs(d), reduction)
    a = _F.abs(d)
    return _reduce(_F.where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere, reduced: delta times
    smooth_l1_loss with beta = delta."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = input - _target("huber_loss", input, target)
    a = _F.abs(d)
    return _reduce(_F.where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p = ``input`` in [0, 1], logs clamped
    at -100 and the gradient's p (1 - p) at 1e-12, as in PyTorch (one op:
    ``minigrad.ops.loss.BinaryCrossEntropy``). An input or target outside [0, 1] (or NaN)
    raises, as in PyTorch; on a GPU only under ``detect_anomaly()``, since the check reads the
    values back to the host (PyTorch checks there with a device-side assert). Prefer
    :func:`binary_cross_entropy_with_logits` (stable, and no sigmoid layer needed)."""
    target = _target("binary_cross_entropy", input, target)
    if type(input.data) is np.ndarray or is_anomaly_enabled():
        _check_probabilities(input, target)
    loss = _LOSS.BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _as_tensor(weight, input, input.dtype)
    return _reduce(loss, reduction)


def _value_range(t: Tensor):
    """(min, max) of ``t`` as floats, NaN if it holds a NaN (reads the data back)."""
    return (float(t.data.min()), float(t.data.max())) if t.data.size else (0.0, 0.0)


def _check_probabilities(input: Tensor, target: Tensor) -> None:
    """ValueError unless every element of ``input`` and ``target`` lies in [0, 1]."""
    lo, hi = _value_range(input)
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError("binary_cross_entropy expects probabilities in [0, 1] as input, got "
                         "NaN (the model's output diverged or a NaN came in; "
                         "minigrad.detect_anomaly() names the op that made it)")
    if lo < 0 or hi > 1:
        raise ValueError(f"binary_cross_entropy expects probabilities in [0, 1] as input, got "
                         f"values in [{lo:.4g}, {hi:.4g}]. They look like logits (unbounded "
                         "scores): use binary_cross_entropy_with_logits, which applies the "
                         "sigmoid itself, stably.")
    lo, hi = _value_range(target)
    if not 0 <= lo <= hi <= 1:  # False for NaN too
        got = "NaN" if math.isnan(lo) or math.isnan(hi) else f"values in [{lo:.4g}, {hi:.4g}]"
        raise ValueError(f"binary_cross_entropy expects a target in [0, 1] (all elements of "
                         f"target should be between 0 and 1), got {got}")


def binary_cross_entropy_with_logits(logits: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """BCE of sigmoid(logits) against target, computed stably as softplus(z) - z t
    (= -t log sigmoid(z) - (1 - t) log(1 - sigmoid(z))); its gradient sigmoid(z) - t is exact
    for any |z| (no log(0) at |z| >= 100, unlike sigmoid followed by binary_cross_entropy).

    pos_weight (broadcast over the last dim) weighs the positive term:
    (1 - t) z + (1 + (pos_weight - 1) t) softplus(-z). weight multiplies each element.
    """
    t = _target("binary_cross_entropy_with_logits", logits, target)
    if logits._ctx is not None:
        _warn_if_probabilities(logits)
    if pos_weight is None:
        loss = _E.BCEWithLogits.apply(logits, t)  # softplus(z) - z t, one op
    else:
        pw = _as_tensor(pos_weight, logits, logits.dtype)
        # torch's own form: the stable softplus everywhere (no threshold cut-over)
        loss = (1 - t) * logits + (1 + (pw - 1) * t) * _F.softplus(-logits, threshold=None)
    if weight is not None:
        loss = loss * _as_tensor(weight, logits, logits.dtype)
    return _reduce(loss, reduction)


# Ops that move or convert values without changing what they mean: a sigmoid's output seen
# through them is still a probability.
_SHAPE_OPS = (_S.Reshape, _S.Transpose, _S.GetItem, _E.Cast)


def _warn_if_probabilities(logits: Tensor) -> None:
    """Warn when ``logits`` were made by a Sigmoid (through reshapes at most): that is a
    probability, and the loss would apply a second sigmoid. Values alone cannot tell (logits in
    [0, 1] are common), the op that produced them can; without a graph there is no warning."""
    ctx = logits._ctx
    while isinstance(ctx, _SHAPE_OPS) and isinstance(ctx.inputs, tuple):
        ctx = ctx.inputs[0]._ctx
    if isinstance(ctx, _E.Sigmoid):
        warnings.warn(
            "binary_cross_entropy_with_logits got the output of a sigmoid: it expects logits "
            "(raw scores) and applies the sigmoid itself, so it would score the probability "
            "sigmoid(sigmoid(z)), stuck in [0.5, 0.73], with squashed gradients. Remove the "
            "final Sigmoid from the model (keep it for sampling only), or use "
            "binary_cross_entropy on probabilities.", UserWarning, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The stacklevel of the innermost caller outside minigrad (so a warning names user code)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    f, level = sys._getframe(1), 1
    while f is not None and f.f_code.co_filename.startswith(root):
        f, level = f.f_back, level + 1
    return level


def _class_targets(name, logits: Tensor, target):
    """Validate integer class targets (N, *) for logits (N, C, *); returns the index array."""
    idx = target.data if isinstance(target, Tensor) else np.asarray(target)
    expected = (logits.shape[0],) + logits.shape[2:]
    if idx.shape != expected:
        raise ValueError(f"{name}: target of shape {idx.shape} does not match input of shape "
                         f"{logits.shape}: expected class indices of shape {expected} (or, for "
                         "probabilities, a float target of the input's shape)")
    return idx


def _class_indices(name, logits: Tensor, target, ignore_index: int):
    """Integer class targets for logits (N, C, *), validated, as a flat index array on the
    logits' device. An out-of-range target raises on the CPU, and on a GPU under anomaly
    detection (there the check would wait for the device)."""
    idx = _class_targets(name, logits, target)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {idx.dtype}")
    c = logits.shape[1]
    idx = logits.xp.asarray(idx).reshape(-1)
    valid = idx != ignore_index
    check = logits.xp is np or is_anomaly_enabled()
    if check and bool(((idx < 0) | (idx >= c))[valid].any()):
        bad = idx[valid & ((idx < 0) | (idx >= c))]
        raise IndexError(f"{name}: target {int(bad[0])} is out of bounds for {c} classes")
    return idx


def _class_weight(name, weight, input: Tensor) -> Tensor:
    """The per-class ``weight`` as a Tensor of input's dtype (torch refuses another dtype; it
    never promotes the loss); a ValueError unless it holds one value per class
    (C = input.shape[1]), as in torch."""
    w = _as_tensor(weight, input, input.dtype)
    if w.shape != (input.shape[1],):
        raise ValueError(f"{name}: weight must hold one value per class, shape "
                         f"({input.shape[1]},) for input of shape {input.shape}, got shape "
                         f"{w.shape}")
    return w


def _mean_over_weight(total: Tensor, weight_sum) -> Tensor:
    """total / weight_sum, the 'mean' of the class losses, for weight_sum (the weight of the
    non-ignored targets) a 0-d array on total's device (float() of it would sync a GPU).
    With every target ignored it is 0: the value is then NaN (torch's 0 / 0) and the gradient
    0, as torch's; a plain division would send inf * 0 = NaN into every element's gradient."""
    xp = total.xp
    none = xp.asarray(weight_sum == 0)
    safe = xp.where(none, 1, weight_sum).astype(total.dtype)
    nan = xp.where(none, xp.nan, 0).astype(total.dtype)
    return total / Tensor._wrap(safe, False, None) + Tensor._wrap(nan, False, None)


def _unbatched(loss, input: Tensor, target, reduction: str, **kw) -> Tensor:
    """``loss`` of an unbatched input (C,) and its target (a 0-d class index, or (C,)
    probabilities) as a batch of one; 'none' gives a 0-d loss, as torch's."""
    target = target if isinstance(target, Tensor) else np.asarray(target)
    if target.shape != (() if target.dtype.kind in "iub" else input.shape):
        noun, probs = ("logits", f" or probabilities of shape {input.shape}") \
            if loss is cross_entropy else ("input", "")
        raise ValueError(f"{loss.__name__}: {noun} of shape {input.shape} (one unbatched sample) "
                         f"take a 0-d integer class index{probs}, got a target of dtype "
                         f"{target.dtype} and shape {target.shape}")
    out = loss(input.reshape(1, *input.shape), target.reshape(1, *target.shape),
               reduction=reduction, **kw)
    return out.reshape(()) if reduction == "none" else out


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -input[n, target[n]] * weight[target[n]] for log-probabilities
    input (N, C) or (N, C, *) and class indices target (N,) or (N, *) (or one unbatched sample:
    input (C,), a 0-d target). 'mean' divides by the total weight of the non-ignored targets
    (PyTorch's rule)."""
    if input.ndim == 1:  # one unbatched sample (C,), as torch: a batch of one
        return _unbatched(nll_loss, input, target, reduction, weight=weight,
                          ignore_index=ignore_index)
    if input.ndim < 2:
        raise ValueError(f"nll_loss expects input (N, C, *) or (C,), got shape {input.shape}")
    idx = _class_indices("nll_loss", input, target, ignore_index)
    c = input.shape[1]
    xp = input.xp
    valid = idx != ignore_index
    safe = xp.where(valid, idx, 0)
    logp = input if input.ndim == 2 else \
        input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)
    picked = logp[xp.arange(safe.shape[0]), safe]
    w = valid.astype(input.dtype)
    if weight is not None:
        w = w * _class_weight("nll_loss", weight, input).data[safe]
    loss = -picked * Tensor._wrap(w, False, None)
    if reduction == "mean":
        return _mean_over_weight(loss.sum(), w.sum())
    if reduction == "none":
        return loss.reshape((input.shape[0],) + input.shape[2:])
    return _reduce(loss, reduction)


def _cross_entropy_rows(logits: Tensor, target, ignore_index: int, reduction: str) -> Tensor:
    """cross_entropy of (N, C) logits against class indices, no weight, no smoothing: one op
    per row (minigrad/ops/loss.py; one kernel forward and one backward on a GPU), then the
    reduction ('mean' over the non-ignored rows, as nll_loss)."""
    idx = _class_indices("cross_entropy", logits, target, ignore_index)
    xp = logits.xp
    rows = _LOSS.CrossEntropyRows.apply(logits, target=idx, ignore_index=ignore_index)
    if reduction == "mean":  # divided by a 0-d tensor: float(...) would sync the device (with
        # every row ignored this is 0 / 0 = NaN, and the op's gradient masks those rows: 0)
        count = (idx != ignore_index).astype(logits.dtype).sum()
        return rows.sum() / Tensor._wrap(xp.asarray(count), False, None)
    return _reduce(rows, reduction)


def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(logits) (N, C) or (N, C, *) against ``target``: class indices
    (N,) / (N, *) or class probabilities of the logits' shape (or one unbatched sample: logits
    (C,), a 0-d index or (C,) probabilities). Takes **logits**: softmax is
    applied here (feeding it softmax outputs applies it twice). ``label_smoothing`` eps mixes
    the target with the uniform distribution: (1 - eps) target + eps / C (PyTorch's rule,
    including its weighting and 'mean' normalisation)."""
    if logits.ndim == 1:  # one unbatched sample (C,), as torch: a batch of one
        return _unbatched(cross_entropy, logits, target, reduction, weight=weight,
                          ignore_index=ignore_index, label_smoothing=label_smoothing)
    if logits.ndim < 2:
        raise ValueError(f"cross_entropy expects logits (N, C, *) or (C,), got shape "
                         f"{logits.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    c = logits.shape[1]
    wshape = _channel_shape(logits)
    w = None if weight is None else _class_weight("cross_entropy", weight, logits)
    tdata = target.data if isinstance(target, Tensor) else np.asarray(target)
    if tdata.dtype.kind != "f" and label_smoothing == 0 and w is None and logits.ndim == 2:
        return _cross_entropy_rows(logits, target, ignore_index, reduction)
    logp = log_softmax(logits, 1)
    if tdata.dtype.kind == "f":  # class probabilities
        if tdata.shape != logits.shape:
            indices = (logits.shape[0],) + logits.shape[2:]
            fix = "target.long()" if isinstance(target, Tensor) else "target.astype(np.int64)"
            raise ValueError(f"cross_entropy: target of dtype {tdata.dtype} and shape "
                             f"{tdata.shape} for input of shape {logits.shape}: targets must be "
                             f"integer class indices of shape {indices} (convert float labels "
                             f"with {fix}) or class probabilities of shape {logits.shape}")
        if ignore_index >= 0:  # torch's rule: negative ones are accepted and mean nothing
            raise ValueError(f"cross_entropy: ignore_index ({ignore_index}) is not supported for "
                             "class-probability (float) targets: there is no class to ignore")
        t = _target("cross_entropy", logits, target)
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / c
        prod = logp * t if w is None else logp * t * w.reshape(wshape)
        loss = -prod.sum(1)
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, w, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    idx = logits.xp.asarray(_class_targets("cross_entropy", logits, target))
    ignore = Tensor._wrap((idx != ignore_index).astype(logits.dtype), False, None)
    smooth = -(logp if w is None else logp * w.reshape(wshape)).sum(1) * ignore
    if reduction == "mean":  # over the weight of the non-ignored targets
        if w is None:
            denom = ignore.data.sum()
        else:
            denom = (w.data[logits.xp.where(idx != ignore_index, idx, 0)] * ignore.data).sum()
        smooth = _mean_over_weight(smooth.sum(), denom)
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence with PyTorch's convention: ``input`` holds log-probabilities q,
    ``target`` probabilities p (or log p with ``log_target=True``):
    p (log p - input), 0 where p = 0. Reductions: 'mean' (over every element, as PyTorch),
    'batchmean' (sum / N, the true KL per sample), 'sum', 'none'."""
    t = _target("kl_div", input, target)
    if log_target:
        loss = _F.exp(t) * (t - input)
    else:  # 0 log 0 = 0, without evaluating log(0); always this form (no sync on the data)
        positive = t.data > 0
        loss = _F.where(positive, t * (_F.log(_F.where(positive, t, 1.0)) - input), 0.0)
    if reduction == "batchmean":  # an empty batch gives NaN (0 / 0), as torch's
        n = input.shape[0] if input.ndim else 1
        return loss.sum() * (1.0 / n if n else math.nan)
    return _reduce(loss, reduction)


def gaussian_kl(mu: Tensor, logvar: Tensor, reduction: str = "mean") -> Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) of a VAE encoder, sigma^2 = exp(logvar):
    -1/2 sum(1 + logvar - mu^2 - exp(logvar)) over the latent dims (all but the first), then
    the mean over the batch ('mean'), the sum ('sum') or per sample ('none')."""
    if mu.shape != logvar.shape:
        raise ValueError(f"gaussian_kl: mu shape {mu.shape} and logvar shape {logvar.shape} "
                         "must match")
    per = (1 + logvar - mu * mu - _F.exp(logvar)) * -0.5
    if per.ndim > 1:
        per = per.sum(tuple(range(1, per.ndim)))
    return _reduce(per, reduction)
