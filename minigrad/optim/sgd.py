"""Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay."""
from __future__ import annotations

from minigrad import kernels
from minigrad.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """``torch.optim.SGD``: same defaults, same update, same state name (``'momentum_buffer'``).

    With g the gradient (negated if ``maximize``) and b the momentum buffer::

        g = g + weight_decay * p
        if momentum != 0:
            b = g                                       (first step)
            b = momentum * b + (1 - dampening) * g      (later steps)
            g = g + momentum * b if nesterov else b
        p = p - lr * g

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-3, as torch 2.x).
        momentum, dampening, weight_decay: as above (default 0).
        nesterov: Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: ascend the objective instead of descending.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum} (must be >= 0)")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay} (must be >= 0)")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            self._check_group(group)

    def _check_group(self, group):
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p, grad, state, group):
        momentum = group["momentum"]
        buf = None
        first_step = False
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # torch starts the buffer at g itself (no dampening): the kernel copies it in.
                buf = state["momentum_buffer"] = self._zeros_like(p)
                first_step = True
        kernels.get("sgd_update", p.xp)(
            p.data, grad, buf, lr=group["lr"], momentum=momentum,
            dampening=group["dampening"], weight_decay=group["weight_decay"],
            nesterov=group["nesterov"], first_step=first_step)
