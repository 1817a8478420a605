"""Adam (Kingma & Ba, 2015) with AMSGrad (Reddi et al., 2018) and L2 weight decay."""
from __future__ import annotations

import numpy as np

from minigrad import kernels
from minigrad.optim.optimizer import Optimizer

__all__ = ["Adam"]


def _check_hyper(lr, betas, eps, weight_decay):
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps} (must be >= 0)")
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {beta1} (must be in [0, 1))")
    if not 0.0 <= beta2 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {beta2} (must be in [0, 1))")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay} (must be >= 0)")


class Adam(Optimizer):
    """``torch.optim.Adam``: same defaults, update and state names.

    State per parameter: ``'step'`` (int), ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v) and, with
    ``amsgrad``, ``'max_exp_avg_sq'``. With g the gradient (negated if ``maximize``), at step t::

        g = g + weight_decay * p                      (L2 penalty, not AdamW's decoupled decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        v_hat = max(v_max, v) if amsgrad else v
        p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    One multi-tensor ``kernels.get('adam_update_multi')`` call per parameter group does all of
    it in place (one launch per group on a GPU; per parameter, fused, on the CPU).

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-3). betas: (beta1, beta2), each in [0, 1).
        eps: added to the denominator. weight_decay: L2 coefficient.
        amsgrad: use the running max of v. maximize: ascend instead of descend.

    ``load_state_dict`` refuses a state dict of torch's AdamW (or Adam with
    ``decoupled_weight_decay=True``): its decay is not this L2 penalty.
    """

    _unsupported_options = {"decoupled_weight_decay": False}

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False):
        _check_hyper(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            self._check_group(group)

    def _check_group(self, group):
        _check_hyper(group["lr"], group["betas"], group["eps"], group["weight_decay"])

    def _update_group(self, items, group):
        from minigrad.backend import graphs

        if graphs.capturing() is not None:
            return self._captured_update(items, group)
        amsgrad = group["amsgrad"]
        for p, _, state in items:
            if "step" not in state:
                state["step"] = 0
                state["exp_avg"] = self._zeros_like(p)
                state["exp_avg_sq"] = self._zeros_like(p)
            if amsgrad and state.get("max_exp_avg_sq") is None:  # also when switched on later
                state["max_exp_avg_sq"] = self._zeros_like(p)
            state["step"] += 1
        device_steps = self._device_steps.get(id(group))
        if device_steps is not None:  # a CUDA graph's copy of the counts: keep it in step
            device_steps += 1
        beta1, beta2 = group["betas"]
        states = [state for _, _, state in items]
        kernels.get("adam_update_multi", items[0][0].xp)(
            [p.data for p, _, _ in items], [grad for _, grad, _ in items],
            [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
            [s.get("max_exp_avg_sq") if amsgrad else None for s in states],
            lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], steps=[s["step"] for s in states],
            amsgrad=amsgrad)

    # -------------------------------------------------------------------- CUDA graphs
    # A replayed graph cannot take the step count from the host: the bias corrections would
    # be those of the step it was recorded at. So each group keeps its counts in a device
    # array as well (made before the capture, from the host's counts), which the recorded
    # work increments and the kernel reads; a replay hook keeps the host's counts (what
    # state_dict saves) in step.
    @property
    def _device_steps(self):
        return self.__dict__.setdefault("_device_steps_by_group", {})

    def _prepare_capture(self):
        """Before a CUDA graph capture: the state exists (eager steps made it) and each group
        has its device copy of the step counts, set to the host's. A group that already has
        one keeps that array (its values refreshed in place): the graphs recorded before count
        in it, and a second capture (a step without G's update, a short last batch) must count
        in the same memory, or each graph's replays would leave the other's count behind and
        Adam's bias corrections would use stale steps."""
        for group in self.param_groups:
            params = group["params"]
            if not params or params[0].device.type != "cuda":
                continue
            missing = [p for p in params if "step" not in self.state.get(p, {})]
            if len(missing) == len(params):  # never stepped: a capture that steps it raises
                continue
            if missing:
                raise RuntimeError("Adam: a parameter has no optimizer state yet; capture after "
                                   "an eager step that updated every parameter")
            steps = params[0].xp.asarray(
                np.array([self.state[p]["step"] for p in params], dtype=np.int64))
            current = self._device_steps.get(id(group))
            if current is not None and current.shape == steps.shape:
                current[...] = steps
            else:
                self._device_steps[id(group)] = steps

    def _captured_update(self, items, group):
        from minigrad.backend import graphs

        device_steps = self._device_steps.get(id(group))
        if device_steps is None or len(items) != len(group["params"]):
            raise RuntimeError("Adam: capturing needs _prepare_capture() first, and a gradient "
                               "for every parameter of the group")
        device_steps += 1  # recorded
        states = [state for _, _, state in items]

        def count_step():
            for state in states:
                state["step"] += 1
        graphs.on_replay(count_step)
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        kernels.get("adam_update_multi_device_steps", items[0][0].xp)(
            [p.data for p, _, _ in items], [grad for _, grad, _ in items],
            [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
            [s.get("max_exp_avg_sq") if amsgrad else None for s in states],
            lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], steps=device_steps, amsgrad=amsgrad)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._device_steps.clear()  # graphs recorded before hold counts of another run
