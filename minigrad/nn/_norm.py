"""The normalisations of ``minigrad.nn.functional``: batch_norm, instance_norm, layer_norm,
group_norm, and the running-statistics update BatchNorm layers share."""
from __future__ import annotations

import numbers

import numpy as np

from minigrad import functional as _F
from minigrad import backend, kernels
from minigrad.ops.norm import BatchNorm as _BatchNormOp
from minigrad.tensor import Tensor


# ========================================================================= normalisation
def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _check_channel_params(name, input, **params):
    """ValueError unless each of ``params`` that is given holds one value per channel (shape
    (C,), C = input.shape[1]), as torch requires (else a NumPy broadcast or reshape failed)."""
    c = input.shape[1]
    for key, p in params.items():
        if p is not None and tuple(p.shape) != (c,):
            raise ValueError(f"{name}: {key} must hold one value per channel, shape ({c},) for "
                             f"input of shape {input.shape}, got shape {tuple(p.shape)}")


def _centre(x, axes):
    """(x - mean(x), mean(x)) over ``axes``.

    Written x + (-mean) so that the backward's full-size pass is an Add's free pass-through
    rather than a Sub's negation (the negation happens on the small mean instead)."""
    mean = _F.mean(x, axes, keepdim=True)
    return x + (-mean), mean


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
    _check_channel_params("batch_norm", input, running_mean=running_mean,
                          running_var=running_var, weight=weight, bias=bias)
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
    y = _BatchNormOp.apply(input, weight, bias, eps=float(eps), stats=stats)
    if track:
        mean, var = stats
        if running_mean is not None and running_var is not None:  # one kernel for both
            kernels.get("batch_norm_running", input.xp)(running_mean.data, running_var.data,
                                                        mean, var, momentum, n / (n - 1))
        else:
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var, momentum, n / (n - 1))  # unbiased, as PyTorch
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
    _check_channel_params("instance_norm", input, running_mean=running_mean,
                          running_var=running_var, weight=weight, bias=bias)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running statistics")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n = int(np.prod(input.shape[2:]))
    if n <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    # Each (sample, channel) is a channel of one sample: BatchNorm's fused op on the
    # (1, N*C, *spatial) view, the affine parameters tiled over the samples (torch computes
    # instance_norm the same way): one op and one kernel where the composed form took ~15.
    nb, c = input.shape[:2]
    # without affine parameters, ones and zeros made once per device (see device_constant: on
    # a GPU, two fills fewer per call)
    w = weight.repeat(nb) if weight is not None else Tensor._wrap(
        backend.device_constant(np.ones(nb * c, dtype=input.dtype), input.data), False, None)
    b = bias.repeat(nb) if bias is not None else Tensor._wrap(
        backend.device_constant(np.zeros(nb * c, dtype=input.dtype), input.data), False, None)
    stats = []
    y = _BatchNormOp.apply(input.reshape((1, nb * c) + input.shape[2:]), w, b, eps=float(eps),
                           stats=stats).reshape(input.shape)
    if running_mean is not None or running_var is not None:
        mean, var = (s.reshape(nb, c) for s in stats)
        _update_running(running_mean, mean.mean(axis=0), momentum)
        _update_running(running_var, (var * (n / (n - 1))).mean(axis=0), momentum)
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
    for key, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {key} must have the shape normalized_shape = "
                             f"{normalized_shape}, got shape {tuple(p.shape)}")
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
    if input.ndim < 2:
        raise ValueError(f"group_norm expects an input (N, C, *), got shape {input.shape}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels are not divisible into {num_groups} groups")
    _check_channel_params("group_norm", input, weight=weight, bias=bias)
    # the group size spelled out, not -1: an empty batch (N = 0) cannot infer it
    g = input.reshape(n, num_groups, c // num_groups * int(np.prod(input.shape[2:])))
    d, _ = _centre(g, (2,))
    var = (d ** 2).mean(2, keepdim=True)
    y = (d * (var + eps) ** -0.5).reshape(input.shape)
    wshape = _channel_shape(input)
    if weight is not None:
        y = y * weight.reshape(wshape)
    if bias is not None:
        y = y + bias.reshape(wshape)
    return y
