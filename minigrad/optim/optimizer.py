"""``Optimizer``: parameter groups, per-parameter state, and PyTorch-format state dicts.

An optimizer owns no math of its own: a subclass implements :meth:`Optimizer._update`, which is
called once per parameter that has a gradient and hands the raw arrays to one fused kernel from
:mod:`minigrad.kernels` (``adam_update``, ``rmsprop_update``, ``sgd_update``), or
:meth:`Optimizer._update_group`, which hands a whole parameter group to one multi-tensor kernel
(``adam_update_multi``, ``rmsprop_update_multi``: one launch per group on a GPU). So a step is
never a Python loop over elements, and it works unchanged on CuPy arrays.

Layout (the same as ``torch.optim``)::

    opt.param_groups  [{'params': [p0, p1], 'lr': 1e-3, 'betas': (0.9, 0.999), ...}, ...]
    opt.state         {p0: {'step': 3, 'exp_avg': array, 'exp_avg_sq': array}, ...}
    opt.state_dict()  {'state': {0: {...}, 1: {...}},
                       'param_groups': [{'lr': 1e-3, ..., 'params': [0, 1]}, ...]}

In a state dict the parameters are replaced by their position (counted across all groups in order)
and the state arrays are NumPy copies, so it can be saved with :func:`minigrad.utils.io.save`
(no pickle) and loaded into a fresh optimizer built over the same parameters in the same order.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np

from minigrad import backend
from minigrad.backend import graphs
from minigrad.autograd.function import mark_modified
from minigrad.autograd.grad_mode import enable_grad, no_grad
from minigrad.tensor import Tensor

__all__ = ["Optimizer"]


class _RequiredParameter:
    """Sentinel for a hyperparameter that has no default and must be given per group."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _is_named_pair(x) -> bool:
    return (isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str)
            and isinstance(x[1], Tensor))


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors (e.g. ``model.parameters()``), of ``(name, Tensor)`` pairs
            (``model.named_parameters()``), or of dicts, each a parameter group
            ``{'params': [...], 'lr': ...}`` whose missing hyperparameters come from ``defaults``.
        defaults: the default hyperparameters of every group.

    Subclasses implement ``_update(p, grad, state, group)`` on raw arrays.
    """

    #: Options of torch's optimizer that this one does not implement, with the value that means
    #: "off": a loaded state dict whose group has another value is refused, since it would
    #: silently train differently here (Adam: torch's decoupled_weight_decay, i.e. AdamW).
    _unsupported_options: dict = {}

    def __init__(self, params: Iterable[Any], defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a single Tensor; wrap it in a list")
        if isinstance(params, (set, frozenset)):
            # A set's order changes from run to run, and state dicts refer to parameters by position.
            raise TypeError("optimizer parameters must be an ordered iterable (list, generator), "
                            "not a set")
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict] = {}
        self.param_groups: list[dict] = []

        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---------------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (e.g. a smaller lr).

        Missing hyperparameters are taken from ``defaults``. A parameter may belong to only one group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters must be an ordered iterable (list, generator), "
                            "not a set")
        else:
            params = list(params)

        names = None
        if params and all(_is_named_pair(x) for x in params):
            names = [n for n, _ in params]
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (it was computed by an op); "
                                 "optimize the leaves it came from, or .detach().requires_grad_()")
            if p.dtype.kind != "f":
                raise TypeError(f"can only optimize floating-point tensors, got dtype {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        group["params"] = params
        if names is not None:
            group["param_names"] = names

        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name!r}")
            group.setdefault(name, default)

        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ---------------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters.

        ``set_to_none=True`` (default) sets ``p.grad = None``. ``set_to_none=False`` gives every
        parameter that had a gradient a zero gradient of the same shape and dtype.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    # NOTE: a fresh zero array rather than zeroing in place: the gradient array may
                    # be shared with another tensor or be a read-only broadcast view. The engine
                    # never accumulates into .grad in place, so the result is the same.
                    g = p.grad.data
                    p.grad = Tensor._wrap(p.xp.zeros(g.shape, dtype=g.dtype), False, None)

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with grad
        enabled before the update. The update itself runs under ``no_grad`` on ``p.data`` in place;
        ``p.grad`` is never modified.
        """
        self._opt_called = True  # lr_scheduler warns when its step() comes before this one
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        recording = graphs.capturing() is not None
        with no_grad():
            for index, group in enumerate(self.param_groups):
                self._check_group(group)
                items = []
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data
                    if grad.dtype != p.data.dtype or grad.shape != p.data.shape:
                        raise RuntimeError(
                            f"gradient of dtype {grad.dtype} and shape {grad.shape} does not match "
                            f"its parameter (dtype {p.data.dtype}, shape {p.data.shape})")
                    if group.get("maximize", False):
                        grad = -grad  # a new array: p.grad stays as it was
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = {}
                    items.append((p, grad, state))
                if items:
                    if recording:  # before _update_group's hooks: it refuses before they count
                        graphs.on_replay(self._replay_check(index, group))
                    self._update_group(items, group)
                    mark_modified([p for p, _, _ in items])  # a stale graph's backward raises
        return loss

    def _replay_check(self, index: int, group: dict):
        """A CUDA graph records the step's launches with the group's hyperparameters (the lr
        above all) as constants: a replay after they changed (an lr scheduler, a hand edit)
        would silently train with the recorded ones. The check this returns runs before each
        replay (:func:`minigrad.backend.graphs.on_replay`) and raises instead."""
        recorded = {name: copy.deepcopy(group[name]) for name in self.defaults if name in group}

        def check():
            groups = self.param_groups
            now = groups[index] if index < len(groups) else {}
            changed = [f"{name} {value!r} -> {now.get(name)!r}" for name, value in recorded.items()
                       if now.get(name) != value]
            if changed:
                raise RuntimeError(
                    f"CUDA graph replay: parameter group {index} of {type(self).__name__} changed "
                    f"since the step was recorded ({', '.join(changed)}); the recorded launch "
                    "holds the old values and would train with them. Record the step again "
                    "after changing them, or step eagerly while an lr scheduler changes the lr")
        return check

    def _check_group(self, group: dict) -> None:
        """Hook: validate a group's hyperparameters before a step (they may have been edited)."""

    def _update_group(self, items: list, group: dict) -> None:
        """Update every ``(p, grad, state)`` of one group (the parameters that have a gradient,
        in order). By default one :meth:`_update` each; Adam and RMSprop hand the whole group to
        one multi-tensor kernel (one launch per group on a GPU, as torch's fused optimizers)."""
        for p, grad, state in items:
            self._update(p, grad, state, group)

    def _prepare_capture(self) -> None:
        """Hook: called before a CUDA graph records a step (minigrad.backend.graphs), so that
        what the step would make on first use exists; Adam also copies its step counts to the
        device there. Nothing to do by default."""

    def _update(self, p: Tensor, grad, state: dict, group: dict) -> None:
        """Update ``p.data`` in place from the raw gradient array ``grad``; ``state`` is p's dict."""
        raise NotImplementedError

    @staticmethod
    def _zeros_like(p: Tensor):
        """A zero state buffer on p's device with p's dtype and shape (C-contiguous)."""
        return p.xp.zeros(p.data.shape, dtype=p.data.dtype)

    # ---------------------------------------------------------------------- state dicts
    def state_dict(self) -> dict:
        """The optimizer state in PyTorch's format, with parameters replaced by their index.

        Returns ``{'state': {index: {name: value}}, 'param_groups': [group, ...]}`` where each
        group holds its hyperparameters and ``'params'``: the list of indices of its parameters
        (numbered 0, 1, ... across groups in order). Array state is copied to NumPy arrays on the
        host (a snapshot: later steps do not change it); ``'step'`` is a Python int.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)

        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p)
                if s:
                    state[index[id(p)]] = {k: _snapshot(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state dict made by :meth:`state_dict` (or by ``torch.optim``'s, with arrays).

        The optimizer must have been built over parameters of the same shapes, grouped the same
        way. Hyperparameters come from the state dict; array state is copied onto each
        parameter's device with its dtype.
        """
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict \
                or "state" not in state_dict:
            raise ValueError("an optimizer state dict is a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter group(s), "
                             f"this optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group ({i}) that doesn't "
                                 f"match the size of the optimizer's group: "
                                 f"{len(saved['params'])} vs {len(group['params'])} parameters")
            for name, off in self._unsupported_options.items():
                if saved.get(name, off) != off:
                    raise ValueError(
                        f"loaded state dict's parameter group {i} has {name}={saved[name]!r}, "
                        f"which minigrad's {type(self).__name__} does not implement: it would "
                        "train differently from the optimizer that saved it")

        id_map = {}
        for group, saved in zip(self.param_groups, saved_groups):
            for idx, p in zip(saved["params"], group["params"]):
                id_map[int(idx)] = p

        new_state: dict[Tensor, dict] = {}
        for key, values in state_dict["state"].items():
            key = int(key)  # a state dict that went through JSON may have string keys
            if key not in id_map:
                raise ValueError(f"loaded state dict has state for parameter {key}, which is in "
                                 "no parameter group")
            p = id_map[key]
            new_state[p] = {name: _restore(name, v, p) for name, v in values.items()}

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            g = dict(group)  # keys missing from the saved group keep their current values
            g.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
            if isinstance(g.get("betas"), list):
                g["betas"] = tuple(g["betas"])
            g["params"] = group["params"]
            new_groups.append(g)
        self.param_groups = new_groups
        self.state = new_state

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k not in ("params", "param_names")):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _snapshot(value):
    """A state value as it goes into a state dict: arrays become host NumPy copies."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, backend.array_types()):
        return np.array(backend.to_device(value, "cpu"), copy=True)
    return copy.deepcopy(value)


def _restore(name: str, value, p: Tensor):
    """A state-dict value turned back into optimizer state for parameter ``p``.

    ``'step'`` becomes an int (torch stores it as a float tensor); anything array-like (NumPy,
    Tensor, or a torch tensor) becomes an array on p's device with p's dtype and shape.
    """
    if isinstance(value, Tensor):
        value = value.data
    if name == "step":
        return int(np.asarray(backend.to_device(value, "cpu") if isinstance(
            value, backend.array_types()) else value).item())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if not isinstance(value, backend.array_types()):
        value = np.asarray(value)  # e.g. a torch tensor, via __array__
    if value.shape != p.shape:
        raise ValueError(f"state {name!r} has shape {value.shape}, its parameter has {p.shape}")
    # A copy, in p's dtype and on p's device, C-contiguous: the kernels update it in place.
    return p.xp.array(backend.to_device(value, p.device), dtype=p.dtype, copy=True, order="C")
