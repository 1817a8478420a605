"""``minigrad.nn.functional``: the functional form of every layer, activations and losses.

Names, argument orders and defaults follow ``torch.nn.functional``. Everything here except the
three convolutions (primitives in ``minigrad.ops.conv``), the fused ``linear`` and training-mode
``batch_norm`` (``minigrad.ops.norm``, whose backward is built of differentiable ops) is a
*composition* of primitive ops, with no backward of its own, so each is differentiable to any
order (batch_norm's second derivative included: nothing is detached or cached as a constant).

Losses take a ``reduction`` of ``'mean'`` (default), ``'sum'`` or ``'none'`` and check that input
and target shapes match (PyTorch only warns, then silently broadcasts, which has hidden many a
(N, 1) vs (N,) bug). Classifier losses take **logits** (``cross_entropy``,
``binary_cross_entropy_with_logits``); feeding them softmax or sigmoid outputs is the bug
PyTorch-GAN's acgan/infogan ship with.

Checks on *values* (probabilities outside [0, 1], class or embedding indices out of range) run
only under ``minigrad.detect_anomaly()``: each must read the data back, which on a GPU is a
device-to-host synchronisation on every call. Outside that mode the losses take their
numerically safe form unconditionally. Checks on shapes and dtypes, which cost nothing, always run.

Notation: N batch, C channels/classes, H x W image size, L sequence length.
"""
from __future__ import annotations

import math
import numbers
import os
import sys
import warnings

import numpy as np

from minigrad import functional as _F
from minigrad import kernels
from minigrad.autograd.anomaly import is_anomaly_enabled
from minigrad.creation import rand
from minigrad.ops import conv as _conv
from minigrad.ops import elementwise as _E
from minigrad.ops.norm import BatchNorm as _BatchNormOp
from minigrad.ops import shape as _S
from minigrad.ops.linear import Linear as _LinearOp
from minigrad.tensor import Tensor

# Activations and shape ops: one definition, in minigrad.functional.
relu = _F.relu
leaky_relu = _F.leaky_relu
tanh = _F.tanh
sigmoid = _F.sigmoid
softplus = _F.softplus
softmax = _F.softmax
log_softmax = _F.log_softmax
logsumexp = _F.logsumexp
pad = _F.pad


def _pair(v, name="value"):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _as_tensor(x, like: Tensor, dtype=None) -> Tensor:
    """``x`` as a Tensor on ``like``'s device (arrays/lists converted, Tensors kept)."""
    if isinstance(x, Tensor):
        return x
    arr = like.xp.asarray(x)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return Tensor._wrap(arr, False, None)


# ============================================================================== linear
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight^T + bias: input (*, in_features), weight (out_features, in_features),
    bias (out_features,) -> (*, out_features). One fused primitive (ops/linear.py)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {input.shape} does not end in in_features = "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    if bias is None:
        return _LinearOp.apply(input, weight)
    return _LinearOp.apply(input, weight, bias)


# ============================================================================ convolution
def _conv_padding(padding, weight, dilation, stride):
    """Numeric (ph, pw) from an int, a pair, 'valid' or 'same'; plus an extra asymmetric pad
    (left, right, top, bottom) for 'same' with an odd total, else None."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), None
        if padding != "same":
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        totals = [dilation[i] * (weight.shape[2 + i] - 1) for i in range(2)]
        sym = (totals[0] // 2, totals[1] // 2)
        extra = (0, totals[1] - 2 * sym[1], 0, totals[0] - 2 * sym[0])
        return sym, (extra if any(extra) else None)
    return _pair(padding, "padding"), None


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation (PyTorch's conv2d): input (N, C, H, W), weight (OC, C, KH, KW),
    bias (OC,) -> (N, OC, OH, OW), OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1."""
    if groups != 1:
        raise NotImplementedError("conv2d: groups != 1 is not supported")
    if input.ndim != 4:
        raise ValueError(f"conv2d expects a 4-D input (N, C, H, W), got shape {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d expects a 4-D weight (OC, C, KH, KW), got shape {weight.shape}")
    if input.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input of shape {input.shape} has {input.shape[1]} channels, "
                         f"but weight of shape {weight.shape} expects {weight.shape[1]}")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    padding, extra = _conv_padding(padding, weight, dilation, stride)
    if extra is not None:
        input = pad(input, extra)
    return _conv2d(input, weight, bias, stride, padding, dilation)


def _conv2d(x, weight, bias, stride, padding, dilation):
    """conv2d without argument checks (tuples already normalised)."""
    args = (x, weight) if bias is None else (x, weight, bias)
    return _conv.Conv2d.apply(*args, stride=stride, padding=padding, dilation=dilation)


def _transposed_size(hw, weight, stride, padding, output_padding, dilation):
    return tuple((hw[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (weight.shape[2 + i] - 1)
                 + output_padding[i] + 1 for i in range(2))


def _output_padding_for(hw, output_size, weight, stride, padding, dilation):
    """The output_padding that makes a transposed conv produce ``output_size`` (PyTorch's
    ConvTranspose ``forward(x, output_size)``)."""
    output_size = tuple(output_size)[-2:]
    lo = _transposed_size(hw, weight, stride, padding, (0, 0), dilation)
    op = tuple(output_size[i] - lo[i] for i in range(2))
    for i in range(2):
        if not 0 <= op[i] < max(stride[i], dilation[i]):
            raise ValueError(
                f"requested an output size of {output_size}, but valid sizes range from {lo} to "
                f"{tuple(lo[j] + max(stride[j], dilation[j]) - 1 for j in range(2))} (for an "
                f"input of size {tuple(hw)})")
    return op


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1, *,
                     output_size=None) -> Tensor:
    """2-D transposed convolution (PyTorch's conv_transpose2d, the adjoint of conv2d):
    input (N, C, H, W), weight (C, OC, KH, KW), bias (OC,) -> (N, OC, OH, OW) with
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + output_padding + 1 (or ``output_size``)."""
    if groups != 1:
        raise NotImplementedError("conv_transpose2d: groups != 1 is not supported")
    if input.ndim != 4:
        raise ValueError(f"conv_transpose2d expects a 4-D input (N, C, H, W), got shape "
                         f"{input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv_transpose2d expects a 4-D weight (C, OC, KH, KW), got shape "
                         f"{weight.shape}")
    if input.shape[1] != weight.shape[0]:
        raise ValueError(f"conv_transpose2d: input of shape {input.shape} has {input.shape[1]} "
                         f"channels, but weight of shape {weight.shape} expects {weight.shape[0]}")
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    dilation = _pair(dilation, "dilation")
    if output_size is not None:
        output_padding = _output_padding_for(input.shape[2:], output_size, weight, stride,
                                             padding, dilation)
    return _conv_transpose2d(input, weight, bias, stride, padding, _pair(output_padding),
                             dilation)


def _conv_transpose2d(x, weight, bias, stride, padding, output_padding, dilation):
    """conv_transpose2d without argument checks (tuples already normalised)."""
    for i in range(2):
        if output_padding[i] >= stride[i]:
            # PyTorch also allows output_padding < dilation; then the extra row would lie
            # beyond the conv geometry of the input (see ops/conv.py). Not supported here.
            raise ValueError(f"output_padding {output_padding} must be smaller than the stride "
                             f"{stride}")
    size = _transposed_size(x.shape[2:], weight, stride, padding, output_padding, dilation)
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"conv_transpose2d: empty output size {size} for input {x.shape}")
    args = (x, weight) if bias is None else (x, weight, bias)
    return _conv.ConvTranspose2d.apply(*args, stride=stride, padding=padding, dilation=dilation,
                                       output_size=size)


# ========================================================================= normalisation
def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _centre(x, axes):
    """(x - mean(x), mean(x)) over ``axes``.

    Written x + (-mean) so that the backward's full-size pass is an Add's free pass-through
    rather than a Sub's negation (the negation happens on the small mean instead)."""
    mean = _F.mean(x, axes, keepdim=True)
    return x + (-mean), mean


def _normalize(x, axes, eps, weight, bias, wshape):
    """(x - mean) / sqrt(var + eps) * weight + bias over ``axes`` (biased variance), composed
    from primitives; the per-channel scale weight / sqrt(var + eps) is formed on the small
    statistics tensor so that only four full-size passes remain (centre, square, scale, shift).
    ``d ** 2`` rather than ``d * d``: one gradient into d instead of two to add up."""
    d, mean = _centre(x, axes)
    var = _F.mean(d ** 2, axes, keepdim=True)
    scale = (var + eps) ** -0.5
    if weight is not None:
        scale = scale * weight.reshape(wshape)
    y = d * scale
    if bias is not None:
        y = y + bias.reshape(wshape)
    return y, mean, var


def _update_running(running, value, momentum, scale=1.0):
    """running <- (1 - momentum) running + momentum (scale value), in place on the raw array (so
    outside any graph; one kernel, one launch on a GPU); nothing when running is None."""
    if running is None:
        return
    kernels.get("running_average", running.xp)(running.data, value, momentum, scale)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over (N, *spatial) for each channel of input (N, C, *).

    training: normalise with the batch mean and *biased* variance, and, if running stats are
    given, update them in place with momentum (running_var gets the *unbiased* variance, as in
    PyTorch). Otherwise normalise with the running statistics.

    Training mode is one fused op (:class:`minigrad.ops.norm.BatchNorm`) whose backward is made
    of ops that are themselves differentiable, so second (and higher) derivatives through
    batch_norm are exact: nothing is detached, and no 1/std is cached as a constant (DeZero
    caches 1/std as an array and tinygrad detaches the mean in the variance; both are exact only
    at first order).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm expects an input (N, C, *), got shape {input.shape}")
    c = input.shape[1]
    wshape = _channel_shape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: training=False needs running_mean and running_var")
        xp = input.xp
        rm, rv = running_mean.data, running_var.data
        scale = 1.0 / xp.sqrt(rv + rv.dtype.type(eps))
        # The running statistics are buffers (constants): fold them into one scale and shift.
        if weight is not None:
            s = weight * Tensor._wrap(scale.astype(input.dtype, copy=False), False, None)
        else:
            s = Tensor._wrap(scale.astype(input.dtype, copy=False), False, None)
        shift = -Tensor._wrap(rm.astype(input.dtype, copy=False), False, None) * s
        if bias is not None:
            shift = shift + bias
        return input * s.reshape(wshape) + shift.reshape(wshape)
    n = input.data.size // c
    if n <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {input.shape}")
    xp = input.xp
    if weight is None:
        weight = Tensor._wrap(xp.ones(c, dtype=input.dtype), False, None)
    if bias is None:
        bias = Tensor._wrap(xp.zeros(c, dtype=input.dtype), False, None)
    track = running_mean is not None or running_var is not None
    stats = [] if track else None
    y = _BatchNormOp.apply(input.reshape(input.shape[0], c, -1), weight, bias, eps=float(eps),
                           stats=stats).reshape(input.shape)
    if track:
        mean, var = stats
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var, momentum, n / (n - 1))  # unbiased, as in PyTorch
    return y


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalisation: each (sample, channel) of input (N, C, *spatial) normalised over
    its spatial positions (CycleGAN's generator). With running stats and use_input_stats they
    are updated with the batch average of the instance statistics (as in PyTorch)."""
    if input.ndim < 3:
        raise ValueError(f"instance_norm expects an input (N, C, *spatial), got shape "
                         f"{input.shape}")
    wshape = _channel_shape(input)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running statistics")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    axes = tuple(range(2, input.ndim))
    n = int(np.prod(input.shape[2:]))
    if n <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    y, mean, var = _normalize(input, axes, eps, weight, bias, wshape)
    _update_running(running_mean, mean.data.mean(axis=0), momentum)
    _update_running(running_var, (var.data * (n / (n - 1))).mean(axis=0), momentum)
    return y


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims of input (biased variance), then
    scale and shift elementwise by weight, bias (of shape ``normalized_shape``)."""
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if input.shape[input.ndim - k:] != normalized_shape or input.ndim < k:
        raise ValueError(f"layer_norm: expected input with trailing shape {normalized_shape}, "
                         f"got input of shape {input.shape}")
    axes = tuple(range(input.ndim - k, input.ndim))
    d, _ = _centre(input, axes)
    var = _F.mean(d ** 2, axes, keepdim=True)
    y = d * (var + eps) ** -0.5
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Group normalisation: the C channels of input (N, C, *) split into ``num_groups`` groups,
    each normalised over its channels and spatial positions; then a per-channel affine."""
    n, c = input.shape[:2]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels are not divisible into {num_groups} groups")
    g = input.reshape(n, num_groups, -1)
    d, _ = _centre(g, (2,))
    var = (d ** 2).mean(2, keepdim=True)
    y = (d * (var + eps) ** -0.5).reshape(input.shape)
    wshape = _channel_shape(input)
    if weight is not None:
        y = y * weight.reshape(wshape)
    if bias is not None:
        y = y + bias.reshape(wshape)
    return y


# =============================================================================== dropout
def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(x, shape, p):
    """A constant Tensor of shape ``shape``: 1/(1-p) with probability 1-p, else 0."""
    u = rand(*shape, device=x.device).data
    mask = (u >= p).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return Tensor._wrap(mask, False, None)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only).
    The mask comes from minigrad's generator (``minigrad.manual_seed``)."""
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    return input * _keep_mask(input, input.shape, p)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels of input (N, C, H, W) with probability p (scaling the rest by
    1/(1-p)); one draw per (sample, channel)."""
    _check_p(p)
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d expects a 4-D input (N, C, H, W) (or 3-D (C, H, W)), got "
                         f"shape {input.shape}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    shape = input.shape[:-2] + (1, 1)
    return input * _keep_mask(input, shape, p).expand(*input.shape)


# ============================================================================= embedding
def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input`` (any shape) ->
    input.shape + (dim,). The gradient scatter-adds into the picked rows (repeats add up); the
    row ``padding_idx`` receives none."""
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = weight.shape[0]
    if is_anomaly_enabled() and idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"embedding: index out of range: indices must lie in [0, {n}), got "
                         f"values in [{int(idx.min())}, {int(idx.max())}]")
    out = weight[weight.xp.asarray(idx)]
    if padding_idx is not None:
        keep = weight.xp.asarray(idx != (padding_idx % n))[..., None]
        out = _F.where(keep, out, out.detach())
    return out


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: labels of shape S -> S + (num_classes,) (torch semantics; call
    ``.float()`` to mix it with activations). ``num_classes=-1`` uses max(label) + 1."""
    idx = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {idx.dtype}")
    xp = tensor.xp if isinstance(tensor, Tensor) else np
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if is_anomaly_enabled() and idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    out = (idx[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._wrap(out, False, None)


# ============================================================================ resampling
def upsample_nearest(input: Tensor, scale_factor=2) -> Tensor:
    """Nearest-neighbour upsampling of input (N, C, H, W) by integer factors: each pixel becomes
    an s x s block. Composed as reshape -> expand -> reshape, so its gradient (the sum over
    each block) comes from BroadcastTo's backward with no code of its own."""
    sh, sw = _pair(scale_factor, "scale_factor")
    n, c, h, w = input.shape
    y = input.reshape(n, c, h, 1, w, 1).expand(n, c, h, sh, w, sw)
    return y.reshape(n, c, h * sh, w * sw)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None) -> Tensor:
    """Resize input (N, C, H, W) with mode 'nearest' (PyTorch's index rule
    src = floor(dst * in / out)); integer scale factors take the reshape/expand fast path."""
    if mode != "nearest":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (only 'nearest')")
    if input.ndim != 4:
        raise ValueError(f"interpolate expects a 4-D input (N, C, H, W), got shape {input.shape}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    h, w = input.shape[2:]
    if scale_factor is not None:
        sf = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
        if all(float(s).is_integer() and s >= 1 for s in sf):
            return upsample_nearest(input, (int(sf[0]), int(sf[1])))
        out = (int(math.floor(h * sf[0])), int(math.floor(w * sf[1])))
        ratios = (1.0 / sf[0], 1.0 / sf[1])
    else:
        out = _pair(size, "size")
        if out[0] % h == 0 and out[1] % w == 0:
            return upsample_nearest(input, (out[0] // h, out[1] // w))
        ratios = (h / out[0], w / out[1])
    xp = input.xp
    ih = xp.minimum(xp.floor(xp.arange(out[0]) * ratios[0]).astype(np.int64), h - 1)
    iw = xp.minimum(xp.floor(xp.arange(out[1]) * ratios[1]).astype(np.int64), w - 1)
    return input[:, :, ih][:, :, :, iw]


def reflection_pad2d(input: Tensor, padding) -> Tensor:
    """Mirror padding of input (N, C, H, W) by ``padding`` = int or (left, right, top, bottom)."""
    if isinstance(padding, numbers.Integral):
        padding = (int(padding),) * 4
    return pad(input, tuple(padding), mode="reflect")


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
    """``target`` as a float Tensor of input's dtype, with input's shape (else a clear error)."""
    if isinstance(target, numbers.Number):
        raise TypeError(f"{name}: target must be a tensor of the input's shape {input.shape}, "
                        f"got the number {target!r} (use minigrad.full_like(input, {target!r}))")
    target = _as_tensor(target, input)
    if target.shape != input.shape:
        raise ValueError(f"{name}: input shape {input.shape} and target shape {target.shape} "
                         "must match (no implicit broadcasting in losses: check for an (N, 1) "
                         "vs (N,) mix-up)")
    if target.dtype != input.dtype:
        if target.dtype.kind == "f" and target.requires_grad:
            target = target.to(dtype=input.dtype)
        else:
            target = Tensor._wrap(target.data.astype(input.dtype), False, None)
    return target


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced."""
    d = input - _target("mse_loss", input, target)
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    return _reduce(_F.abs(input - _target("l1_loss", input, target)), reduction)


def _clamped_log(p: Tensor) -> Tensor:
    """max(log p, -100) as in torch's BCELoss, without evaluating log(0) (or log of a negative
    number, which an out-of-range probability gives): where p <= 0 the value is -100 and the
    gradient 0. Always this form: testing the data for zeros first would sync the device."""
    positive = p.data > 0
    return _F.where(positive, _F.clamp(_F.log(_F.where(positive, p, 1.0)), min=-100.0), -100.0)


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p = ``input`` in [0, 1], logs clamped
    at -100 as in PyTorch. An input outside [0, 1] (or NaN) raises, as in PyTorch; on a GPU
    only under ``detect_anomaly()``, since the check reads the values back to the host (PyTorch
    checks there with a device-side assert). Prefer :func:`binary_cross_entropy_with_logits`
    (stable, and no sigmoid layer needed)."""
    target = _target("binary_cross_entropy", input, target)
    if type(input.data) is np.ndarray or is_anomaly_enabled():
        _check_probabilities(input)
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        loss = loss * _as_tensor(weight, input, input.dtype)
    return _reduce(loss, reduction)


def _check_probabilities(input: Tensor) -> None:
    """ValueError unless every element of ``input`` lies in [0, 1] (reads the data back)."""
    lo, hi = (float(input.data.min()), float(input.data.max())) if input.data.size else (0, 0)
    if lo < 0 or hi > 1 or math.isnan(lo) or math.isnan(hi):
        hint = (" They look like logits (unbounded scores): use "
                "binary_cross_entropy_with_logits, which applies the sigmoid itself, stably.")
        raise ValueError(f"binary_cross_entropy expects probabilities in [0, 1] as input, got "
                         f"values in [{lo:.4g}, {hi:.4g}].{hint}")


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
        loss = _F.softplus(logits) - logits * t
    else:
        pw = _as_tensor(pos_weight, logits, logits.dtype)
        loss = (1 - t) * logits + (1 + (pw - 1) * t) * _F.softplus(-logits)
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


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -input[n, target[n]] * weight[target[n]] for log-probabilities
    input (N, C) or (N, C, *) and class indices target (N,) or (N, *). 'mean' divides by the
    total weight of the non-ignored targets (PyTorch's rule)."""
    if input.ndim < 2:
        raise ValueError(f"nll_loss expects input (N, C, *), got shape {input.shape}")
    idx = _class_targets("nll_loss", input, target)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices, got dtype "
                        f"{idx.dtype}")
    c = input.shape[1]
    xp = input.xp
    idx = xp.asarray(idx).reshape(-1)
    valid = idx != ignore_index
    if is_anomaly_enabled() and bool(((idx < 0) | (idx >= c))[valid].any()):
        bad = idx[valid & ((idx < 0) | (idx >= c))]
        raise IndexError(f"nll_loss: target {int(bad[0])} is out of bounds for {c} classes")
    safe = xp.where(valid, idx, 0)
    logp = input if input.ndim == 2 else \
        input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)
    picked = logp[xp.arange(safe.shape[0]), safe]
    w = valid.astype(input.dtype)
    if weight is not None:
        wt = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
        w = w * wt.astype(input.dtype)[safe]
    loss = -picked * Tensor._wrap(w, False, None)
    if reduction == "mean":  # divided by a 0-d tensor: float(w.sum()) would sync the device
        return loss.sum() / Tensor._wrap(xp.asarray(w.sum()), False, None)
    if reduction == "none":
        return loss.reshape((input.shape[0],) + input.shape[2:])
    return _reduce(loss, reduction)


def cross_entropy(logits: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(logits) (N, C) or (N, C, *) against ``target``: class indices
    (N,) / (N, *) or class probabilities of the logits' shape. Takes **logits**: softmax is
    applied here (feeding it softmax outputs applies it twice). ``label_smoothing`` eps mixes
    the target with the uniform distribution: (1 - eps) target + eps / C (PyTorch's rule,
    including its weighting and 'mean' normalisation)."""
    if logits.ndim < 2:
        raise ValueError(f"cross_entropy expects logits (N, C, *), got shape {logits.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    c = logits.shape[1]
    logp = log_softmax(logits, 1)
    wshape = _channel_shape(logits)
    w = None if weight is None else _as_tensor(weight, logits, logits.dtype)
    tdata = target.data if isinstance(target, Tensor) else np.asarray(target)
    if tdata.dtype.kind == "f":  # class probabilities
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
    if reduction == "mean":  # the weight of the non-ignored targets, as a 0-d tensor (no sync)
        if w is None:
            denom = ignore.data.sum()
        else:
            denom = (w.data[logits.xp.where(idx != ignore_index, idx, 0)] * ignore.data).sum()
        smooth = smooth.sum() / Tensor._wrap(logits.xp.asarray(denom), False, None)
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
    if reduction == "batchmean":
        return loss.sum() * (1.0 / input.shape[0]) if input.ndim else loss.sum()
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


__all__ = [
    "relu", "leaky_relu", "tanh", "sigmoid", "softplus", "softmax", "log_softmax", "logsumexp",
    "pad", "linear", "conv2d", "conv_transpose2d", "batch_norm", "instance_norm", "layer_norm",
    "group_norm", "dropout", "dropout2d", "embedding", "one_hot", "upsample_nearest",
    "interpolate", "reflection_pad2d", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div", "gaussian_kl",
]
