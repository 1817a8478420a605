"""Gradient clipping and weight clamping (``clip_grad_norm_``, ``clip_grad_value_``, ``clamp_``),
and spectral normalisation (``spectral_norm``, ``remove_spectral_norm``).

Run after ``loss.backward()`` and before ``opt.step()`` (the clip functions), or after
``opt.step()`` (``clamp_``, WGAN's weight clipping)::

    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()

The clip functions *replace* each ``p.grad`` with a new tensor instead of scaling it in place,
because a gradient array may be shared with other tensors (the engine hands the same array to
several leaves when it can).
"""
from __future__ import annotations

import math
from typing import Iterable, Union

import numpy as np

from minigrad import backend, kernels
from minigrad.autograd.function import mark_modified
from minigrad.autograd.grad_mode import no_grad
from minigrad.nn.layers import ConvTranspose2d
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clamp_", "spectral_norm",
           "remove_spectral_norm"]

_Params = Union[Tensor, Iterable[Tensor]]


def _as_list(parameters: _Params) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _scalar(value, array):
    """A Python number in ``array``'s dtype, so float32 arrays stay float32."""
    return array.dtype.type(value)


def _vector_norm(a, p: float):
    """``torch.linalg.vector_norm(a, p)`` of a raw array, a 0-d array in its dtype: the p-norm
    for p > 0, max |a| (inf), min |a| (-inf), the number of non-zero elements (0), and
    ``(sum |a|^p)^(1/p)`` for p < 0 (0 as soon as one element is 0)."""
    xp = backend.get_array_module(a)
    if p == 2.0:
        return xp.sqrt(xp.vdot(a.ravel(), a.ravel()))
    if p == 0:
        return xp.asarray(xp.count_nonzero(a), dtype=a.dtype)
    if a.size == 0:
        if p < 0:  # -inf too: a min over nothing
            raise RuntimeError(f"clip_grad_norm_: the {p} norm of an empty gradient is undefined "
                               "(the operation has no identity), as in torch")
        return xp.zeros((), a.dtype)  # the inf norm too (torch raises there)
    if math.isinf(p):
        return xp.abs(a).max() if p > 0 else xp.abs(a).min()
    p_ = _scalar(p, a)
    with np.errstate(divide="ignore"):  # 0 ** p = inf for p < 0, whose norm is then 0
        return (xp.abs(a) ** p_).sum() ** (1 / p_)


def clip_grad_norm_(parameters: _Params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients so that their joint norm is at most ``max_norm``.

    The norm is torch's: the ``norm_type``-norm of the gradients' own ``norm_type``-norms. For
    every p but 0 that is the norm of all gradients concatenated into one vector (p:
    ``(sum |g|^p)^(1/p)``, negative p included; ``inf``: max |g|; ``-inf``: min |g|); for p = 0
    it is the number of gradients that are not all zero. If it exceeds ``max_norm`` every
    gradient is multiplied by ``max_norm / (total_norm + 1e-6)``, the formula of
    ``torch.nn.utils.clip_grad_norm_``. Parameters without a gradient are ignored.

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. ``model.parameters()``).
        max_norm: the largest allowed norm.
        norm_type: p of the p-norm (``2.0`` default; any float, ``float('inf')`` and
            ``float('-inf')`` included, or a string ``float`` reads, such as ``'inf'``).
        error_if_nonfinite: raise if the total norm is nan or inf (otherwise the gradients are
            scaled by a nan/0 factor, as in torch).

    Returns:
        The total norm of the gradients *before* clipping, a 0-d Tensor (without grad) in the
        gradients' dtype and on their device.

    Raises:
        RuntimeError: for ``norm_type`` < 0 (-inf included) when a gradient is empty, as torch.
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

    # Per-gradient norms, then the norm of those norms (torch's definition): for p != 0 the
    # norm of the concatenation, without building it.
    norms = xp.stack([xp.asarray(_vector_norm(g, norm_type), dtype=dtype) for g in grads])
    total = xp.asarray(_vector_norm(norms, norm_type), dtype=dtype)

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
    and the optimizer's references to the arrays stay valid; like an optimizer step, it makes a
    backward through a graph recorded before it raise. Equivalent to::

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
    params = _as_list(parameters)
    for p in params:
        a = p.data
        lo = None if min is None else _scalar(min, a)
        hi = None if max is None else _scalar(max, a)
        p.xp.clip(a, lo, hi, out=a)
    mark_modified(params)  # a graph that saved the old values cannot backward


# ================================================================= spectral normalisation
def _normalize(a, eps):
    """a / max(||a||_2, eps) on a raw 1-D array (``F.normalize(a, dim=0, eps=eps)``): one
    kernel on a GPU."""
    return kernels.get("l2_normalize", backend.get_array_module(a))(a, eps)


class SpectralNorm:
    """The forward pre-hook behind :func:`spectral_norm` (``torch.nn.utils.spectral_norm``'s
    hook-based version). Before each forward it sets ``module.<name>`` to
    ``<name>_orig / sigma``, where sigma estimates the largest singular value of the weight
    seen as a matrix W (dimension ``dim`` to the front, the rest flattened) by power iteration:

        v <- normalize(W^T u),  u <- normalize(W v)        (only in training mode, no graph)
        sigma = u^T W v                                    (differentiable in W; u, v constants)

    u and v live in the buffers ``<name>_u`` and ``<name>_v`` and carry over between calls, so
    one iteration per training step suffices (Miyato et al. 2018).
    """

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12):
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name = name
        self.n_power_iterations = int(n_power_iterations)
        self.dim = dim
        self.eps = eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        """W: ``weight`` with dimension ``dim`` first, as a (shape[dim], rest) matrix."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.ndim) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u_buf = getattr(module, self.name + "_u")
        v_buf = getattr(module, self.name + "_v")
        w_mat = self.reshape_weight_to_matrix(weight)
        u, v = u_buf.data, v_buf.data
        if do_power_iteration:
            w = w_mat.data  # raw arrays: the iteration records no graph
            xp = backend.get_array_module(w)
            for _ in range(self.n_power_iterations):  # products through the registry: a CUDA
                v = _normalize(kernels.get("matmul", xp)(w.T, u), self.eps)  # graph records them
                u = _normalize(kernels.get("matmul", xp)(w, v), self.eps)
            u_buf.data[...] = u  # in place, so references to the buffers stay valid
            v_buf.data[...] = v
        else:
            # NOTE: copies, so a later in-place update of the buffers (the next training
            # forward, load_state_dict) cannot change the constants this call's graph holds
            # (the iteration's u and v are new arrays the buffers hold copies of)
            u, v = u.copy(), v.copy()
        # as a row and a column, so that both products are plain matrix products (1-D operands
        # would add a reshape before and after each, and their gradients)
        u = Tensor._wrap(u.reshape(1, -1), False, None)
        v = Tensor._wrap(v.reshape(-1, 1), False, None)
        sigma = u @ (w_mat @ v)                                             # (1, 1)
        return weight / (sigma if weight.ndim >= 2 else sigma.reshape(()))

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int,
              eps: float) -> "SpectralNorm":
        for hook in module.__dict__.get("_forward_pre_hooks", {}).values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError("Cannot register two spectral_norm hooks on the same "
                                   f"parameter {name}")
        if name not in module._parameters:
            raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter "
                             f"{name!r} (its parameters: {list(module._parameters)})")
        weight = module._parameters[name]
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        if not -weight.ndim <= dim < max(weight.ndim, 1):
            raise ValueError(f"spectral_norm: dim {dim} is out of range for parameter {name!r} "
                             f"of shape {tuple(weight.shape)}")
        fn = SpectralNorm(name, n_power_iterations, dim % max(weight.ndim, 1), eps)
        h, w = fn.reshape_weight_to_matrix(weight.detach()).shape
        gen = backend.rng(weight.device)
        # u and v from N(0, 1), normalised (v is overwritten by the first training forward)
        u = _normalize(gen.normal(0.0, 1.0, size=h).astype(weight.dtype), eps)
        v = _normalize(gen.normal(0.0, 1.0, size=w).astype(weight.dtype), eps)

        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        # Until the first forward, module.<name> is the unnormalised weight (as in torch).
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", Tensor._wrap(u, False, None))
        module.register_buffer(name + "_v", Tensor._wrap(v, False, None))
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Spectrally normalise ``module.<name>`` (Miyato et al. 2018), as
    ``torch.nn.utils.spectral_norm``: the layer computes with ``<name>_orig / sigma(<name>_orig)``.

    The trained parameter becomes ``<name>_orig``; the power iteration's vectors u (shape[dim],)
    and v (numel / shape[dim],) are the buffers ``<name>_u`` and ``<name>_v``, so the state dict
    has the keys of torch's (``bias, weight_orig, weight_u, weight_v`` for a Linear) and loads
    into torch and back. Each forward in training mode runs ``n_power_iterations`` steps of the
    power iteration (none in eval mode) before the layer's own forward.

    Example (an SNGAN discriminator layer)::

        conv = nn.utils.spectral_norm(nn.Conv2d(64, 128, 4, 2, 1))

    Args:
        module: the layer (any Module with the parameter).
        name: the parameter's name.
        n_power_iterations: power-iteration steps per training forward (>= 1).
        eps: guards the normalisations against division by zero.
        dim: the dimension of the output channels: 0, except 1 for ConvTranspose2d (whose
            weight is (in, out, KH, KW)).

    Returns:
        ``module``, with the hook registered.
    """
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``module.<name>`` becomes a plain Parameter equal to the
    current normalised weight (from the stored u and v, no further power iteration), and
    ``<name>_orig``, ``<name>_u`` and ``<name>_v`` are removed."""
    hooks = module.__dict__.get("_forward_pre_hooks") or {}
    for key, hook in hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
