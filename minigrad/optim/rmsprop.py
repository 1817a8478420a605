"""RMSprop (Hinton's lecture 6e; Graves 2013 for the centered form), as in torch.optim."""
from __future__ import annotations

from minigrad import kernels
from minigrad.optim.optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: same defaults, update and state names.

    State per parameter: ``'step'``, ``'square_avg'``, plus ``'momentum_buffer'`` if
    ``momentum > 0`` and ``'grad_avg'`` if ``centered``. With g the gradient (negated if
    ``maximize``)::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g^2
        a = alpha * a + (1 - alpha) * g                          (centered only)
        d = sqrt(s - a^2) + eps  if centered else  sqrt(s) + eps
        b = momentum * b + g / d;  p = p - lr * b               (momentum > 0)
        p = p - lr * g / d                                       (otherwise)

    WGAN (Arjovsky et al., 2017) trains its critic with RMSprop(lr=5e-5) and clamps the weights
    after each step: see :func:`minigrad.nn.utils.clamp_`.

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-2). alpha: smoothing constant (0.99). eps: 1e-8.
        weight_decay, momentum: default 0. centered: normalise by the variance estimate.
        maximize: ascend instead of descend.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        for name, value in (("learning rate", lr), ("epsilon value", eps),
                            ("momentum value", momentum), ("weight_decay value", weight_decay),
                            ("alpha value", alpha)):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value} (must be >= 0)")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, items, group):
        from minigrad.backend import graphs

        momentum, centered = group["momentum"], group["centered"]
        recording = graphs.capturing() is not None
        for p, _, state in items:
            if "step" not in state:
                state["step"] = 0
                state["square_avg"] = self._zeros_like(p)
            if momentum > 0 and state.get("momentum_buffer") is None:
                state["momentum_buffer"] = self._zeros_like(p)
            if centered and state.get("grad_avg") is None:
                state["grad_avg"] = self._zeros_like(p)
            if not recording:
                state["step"] += 1
        states = [state for _, _, state in items]
        if recording:  # the update runs at each replay of a CUDA graph, and so does the count
            def count_step():
                for state in states:
                    state["step"] += 1
            graphs.on_replay(count_step)
        kernels.get("rmsprop_update_multi", items[0][0].xp)(
            [p.data for p, _, _ in items], [grad for _, grad, _ in items],
            [s["square_avg"] for s in states],
            [s.get("grad_avg") if centered else None for s in states],
            [s.get("momentum_buffer") if momentum > 0 else None for s in states],
            lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=momentum, centered=centered)
