"""Gradient clipping and weight clamping: ``clip_grad_norm_``, ``clip_grad_value_``, ``clamp_``.

Run after ``loss.backward()`` and before ``opt.step()`` (the clip functions), or after
``opt.step()`` (``clamp_``, WGAN's weight clipping)::

    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()

The clip functions *replace* each ``p.grad`` with a new tensor instead of scaling it in place,
because a gradient array may be shared with other tensors (the engine hands the same array to
several leaves when it can). This module imports nothing from the rest of ``minigrad.nn``.
"""
from __future__ import annotations

import math
from typing import Iterable, Union

import numpy as np

from minigrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clamp_"]

_Params = Union[Tensor, Iterable[Tensor]]


def _as_list(parameters: _Params) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _scalar(value, array):
    """A Python number in ``array``'s dtype, so float32 arrays stay float32."""
    return array.dtype.type(value)


def clip_grad_norm_(parameters: _Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into one vector
    (``norm_type`` p: ``(sum |g|^p)^(1/p)``; ``float('inf')`` for the max-abs norm). If it exceeds
    ``max_norm`` every gradient is multiplied by ``max_norm / (total_norm + 1e-6)``, the formula of
    ``torch.nn.utils.clip_grad_norm_``. Parameters without a gradient are ignored.

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. ``model.parameters()``).
        max_norm: the largest allowed norm.
        norm_type: p of the p-norm (``2.0`` default, ``float('inf')`` allowed).
        error_if_nonfinite: raise if the total norm is nan or inf (otherwise the gradients are
            scaled by a nan/0 factor, as in torch).

    Returns:
        The total norm of the gradients *before* clipping, a 0-d Tensor (without grad) in the
        gradients' dtype and on their device.
    """
    params = [p for p in _as_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    max_norm = float(max_norm)
    if not params:
        return Tensor(0.0)
    grads = [p.grad.data for p in params]
    xp = params[0].xp
    dtype = grads[0].dtype
    if any(g.dtype != dtype for g in grads):
        raise TypeError("clip_grad_norm_: all gradients must have the same dtype, got "
                        f"{sorted({str(g.dtype) for g in grads})}")

    # Per-gradient norms, then the norm of those norms: equal to the norm of the concatenation,
    # without building it.
    if math.isinf(norm_type):
        norms = xp.stack([xp.abs(g).max() if g.size else xp.zeros((), dtype) for g in grads])
        total = norms.max()
    elif norm_type == 2.0:
        norms = xp.stack([xp.sqrt(xp.vdot(g.ravel(), g.ravel())) for g in grads])
        total = xp.sqrt(xp.vdot(norms, norms))
    elif norm_type > 0:
        p_ = _scalar(norm_type, grads[0])
        norms = xp.stack([(xp.abs(g) ** p_).sum() ** (1 / p_) for g in grads])
        total = ((norms ** p_).sum()) ** (1 / p_)
    else:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    total = xp.asarray(total, dtype=dtype)

    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")

    coef = _scalar(max_norm, total) / (total + _scalar(1e-6, total))
    if not bool(coef >= 1):  # also true for nan, which then propagates like torch's
        with np.errstate(invalid="ignore"):  # inf * 0 -> nan, on purpose (as torch)
            for p in params:
                p.grad = Tensor._wrap(p.grad.data * coef, False, None)
    return Tensor._wrap(total, False, None)


def clip_grad_value_(parameters: _Params, clip_value: float) -> None:
    """Clip every gradient element into ``[-clip_value, clip_value]`` (new grad tensors).

    Args:
        parameters: a Tensor or an iterable of Tensors.
        clip_value: a non-negative bound.
    """
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _as_list(parameters):
        if p.grad is None:
            continue
        g = p.grad.data
        c = _scalar(clip_value, g)
        p.grad = Tensor._wrap(p.xp.clip(g, -c, c), False, None)


def clamp_(parameters: _Params, min: float, max: float) -> None:  # noqa: A002 (torch names)
    """Clamp parameter *values* in place into ``[min, max]``: WGAN's weight clipping.

    Call it after the optimizer step; it works on ``p.data`` directly, so no graph is recorded
    and the optimizer's references to the arrays stay valid. Equivalent to::

        for p in critic.parameters():
            p.data.clip(-c, c, out=p.data)

    Example (WGAN critic, Arjovsky et al. 2017, c = 0.01)::

        opt_d.step()
        nn.utils.clamp_(critic.parameters(), -0.01, 0.01)

    Args:
        parameters: a Tensor or an iterable of Tensors.
        min, max: the bounds (``min <= max``); either may be None for a one-sided clamp.
    """
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clamp_: min ({min}) must not exceed max ({max})")
    for p in _as_list(parameters):
        a = p.data
        lo = None if min is None else _scalar(min, a)
        hi = None if max is None else _scalar(max, a)
        p.xp.clip(a, lo, hi, out=a)
