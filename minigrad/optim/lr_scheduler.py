"""Learning-rate schedulers with ``torch.optim.lr_scheduler``'s names, protocol and numbers.

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train(...)          # opt.step() for every batch
        sched.step()        # after the optimizer's steps, as in torch

A scheduler owns no optimizer state: it writes ``group['lr']`` of each parameter group, and the
optimizer reads ``group['lr']`` afresh at every step (the fused CPU and GPU kernels take it as
an argument), so the next ``opt.step()`` uses the new value. A CUDA graph records the lr of
the step it captured as a constant: replaying it after a scheduler changed the lr raises
(see :meth:`minigrad.optim.Optimizer.step`) rather than train with the old one.

The protocol is torch's:

* The constructor stores each group's starting lr as ``group['initial_lr']`` (with
  ``last_epoch=-1``; a resumed scheduler, ``last_epoch >= 0``, reads it and raises KeyError if
  it is missing), sets ``base_lrs`` from it, and makes the initial step (``last_epoch`` 0).
* ``step()`` advances ``last_epoch`` by one and writes the new lrs into the groups;
  ``get_last_lr()`` returns them. Calling ``step()`` before any ``optimizer.step()`` warns
  (the first value of the schedule would be skipped).
* ``state_dict()`` holds everything but the optimizer (``LambdaLR``/``MultiplicativeLR`` keep
  only the attributes of callable objects, not functions, as torch); ``load_state_dict()``
  restores it, so a resumed run continues the schedule float for float.

Most schedulers update the lr *recursively* from the group's current lr, as torch does
("chainable": two schedulers on one optimizer compose, and an lr edited by hand is carried
on). The formulas are torch's, operation for operation, so a sequence of lrs equals torch's
float for float, not just approximately; ``step(epoch)`` (deprecated in torch) uses the closed
forms.
"""
from __future__ import annotations

import copy
import math
import numbers
import types
import warnings
from bisect import bisect_right
from collections import Counter

from minigrad.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ReduceLROnPlateau"]

_EPOCH_DEPRECATED = (
    "scheduler.step(epoch) is deprecated (as in torch): call scheduler.step() once per epoch "
    "instead. With an epoch the closed form is used instead of the recursive one, where there "
    "is one.")


# ------------------------------------------------------------------------------ argument checks
def _check_optimizer(optimizer, who: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: {type(optimizer).__name__} is not an Optimizer (expected a "
                        "minigrad.optim optimizer such as minigrad.optim.SGD)")


def _check_int(who: str, name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _check_gamma(who: str, gamma) -> None:
    if not isinstance(gamma, numbers.Real) or isinstance(gamma, bool) or not gamma > 0:
        raise ValueError(f"{who}: gamma must be a number > 0 (the factor the lr is multiplied "
                         f"by), got {gamma!r}")


def _lambdas(who: str, optimizer, lr_lambda) -> list:
    n = len(optimizer.param_groups)
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != n:
            raise ValueError(f"{who}: expected {n} lr_lambdas (one per parameter group), "
                             f"but got {len(lr_lambda)}")
        fns = list(lr_lambda)
    else:
        fns = [lr_lambda] * n
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"{who}: lr_lambda should be a function of the epoch, but got "
                            f"{type(fn).__name__}")
    return fns


def _lrs(optimizer) -> list:
    return [group["lr"] for group in optimizer.param_groups]


class _Flag:
    """``with _Flag(obj, name):`` sets ``obj.name = True`` for the block (False after)."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __enter__(self):
        setattr(self.obj, self.name, True)

    def __exit__(self, *exc):
        setattr(self.obj, self.name, False)


# ------------------------------------------------------------------------------ the base class
class LRScheduler:
    """Base class of the schedulers (``torch.optim.lr_scheduler.LRScheduler``).

    A subclass implements :meth:`get_lr`, the lrs of step ``last_epoch`` (called by
    :meth:`step` after it advanced ``last_epoch``), and may implement ``_get_closed_form_lr``,
    the same lrs computed from ``base_lrs`` alone (used by ``step(epoch)``).

    Args:
        optimizer: a :class:`minigrad.optim.Optimizer`.
        last_epoch: the index of the last epoch done: -1 (default) for a fresh schedule; a
            value >= 0 resumes one, and then every group must have ``'initial_lr'`` (an
            optimizer state dict saved while a scheduler ran has it).

    Build the scheduler *before* loading a checkpoint's optimizer state: the constructor's
    initial step writes ``group['lr']``.
    """

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        who = type(self).__name__
        _check_optimizer(optimizer, who)
        last_epoch = _check_int(who, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        f"{who} with last_epoch={last_epoch}: load the optimizer's state dict "
                        "(saved while a scheduler ran) before building the scheduler, or use "
                        "last_epoch=-1 for a fresh schedule")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        with _Flag(self, "_is_initial"):
            self.step()

    def get_lr(self) -> list:
        """The lrs of step ``last_epoch`` (for :meth:`step`; read :meth:`get_last_lr`)."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The lrs this scheduler last set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one and write the new lrs into the optimizer's groups.

        Call it after ``optimizer.step()``. ``epoch`` (deprecated, as in torch) jumps to that
        epoch with the closed form instead.
        """
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. Call them in "
                "the opposite order: `optimizer.step()` before `lr_scheduler.step()`. Failure to "
                "do this skips the first value of the learning rate schedule.",
                UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(_EPOCH_DEPRECATED, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        with _Flag(self, "_get_lr_called_within_step"):
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed = getattr(self, "_get_closed_form_lr", None)
                values = closed() if closed is not None else self.get_lr()
        groups = self.optimizer.param_groups
        if len(values) != len(groups):
            raise RuntimeError(f"{type(self).__name__}: {len(values)} lrs for {len(groups)} "
                               "parameter groups (was a group added after the scheduler?)")
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def _warn_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use "
                          "`get_last_lr()`.", UserWarning, stacklevel=3)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """The scheduler's state: every attribute but the optimizer (a copy), e.g.
        ``{'base_lrs': [...], 'last_epoch': 3, '_step_count': 4, '_last_lr': [...], ...}``.
        Plain data, so :func:`minigrad.save` can store it."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state made by :meth:`state_dict` (this class's, or torch's)."""
        if not isinstance(state_dict, dict) or "last_epoch" not in state_dict:
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected a scheduler state "
                             "dict (a dict with 'last_epoch', from state_dict())")
        n = len(self.optimizer.param_groups)
        base_lrs = state_dict.get("base_lrs")
        if base_lrs is not None and len(base_lrs) != n:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state dict has "
                             f"{len(base_lrs)} base_lrs, the optimizer {n} parameter group(s)")
        self.__dict__.update(copy.deepcopy(state_dict))
        for key in ("base_lrs", "_last_lr"):  # a checkpoint may hand back tuples
            if isinstance(self.__dict__.get(key), tuple):
                self.__dict__[key] = list(self.__dict__[key])

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


#: torch keeps the old name as an alias.
_LRScheduler = LRScheduler


# ------------------------------------------------------------------------------ schedulers
class _LambdaState:
    """State dicts of the schedulers holding functions: a function is left out (None), a
    callable object keeps its ``__dict__``, as torch."""

    def state_dict(self) -> dict:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType)
                               else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("lr_lambdas", None)
        if saved is not None and len(saved) != len(self.lr_lambdas):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state dict has "
                             f"{len(saved)} lr_lambdas, this scheduler {len(self.lr_lambdas)}")
        LRScheduler.load_state_dict(self, state_dict)
        for fn, attrs in zip(self.lr_lambdas, saved or ()):
            if attrs is not None:
                fn.__dict__.update(copy.deepcopy(attrs))


class LambdaLR(_LambdaState, LRScheduler):
    """lr = initial lr * ``lr_lambda(epoch)`` (one function, or a list: one per group).

    ``LambdaLR(opt, lambda epoch: 0.95 ** epoch)``.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        _check_optimizer(optimizer, "LambdaLR")
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas("LambdaLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """lr = current lr * ``lr_lambda(epoch)`` at every step after the first (recursive)."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        _check_optimizer(optimizer, "MultiplicativeLR")
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas("MultiplicativeLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial:
            return _lrs(self.optimizer)
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    """lr multiplied by ``gamma`` every ``step_size`` epochs:
    ``initial_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = _check_int("StepLR", "step_size", step_size, 1)
        _check_gamma("StepLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr multiplied by ``gamma`` at each of the epochs in ``milestones`` (increasing; a
    milestone given n times multiplies by ``gamma ** n``, as in torch)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        try:
            milestones = list(milestones)
        except TypeError:
            raise TypeError(f"MultiStepLR: milestones must be a list of epochs, got "
                            f"{milestones!r}") from None
        for m in milestones:
            _check_int("MultiStepLR", "each milestone", m, 0)
        if any(b < a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"MultiStepLR: milestones must be increasing, got {milestones}")
        _check_gamma("MultiStepLR", gamma)
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        times = self.milestones.get(self.last_epoch, 0)
        if not times:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma ** times for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        passed = sum(n for m, n in self.milestones.items() if m <= self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        # a checkpoint hands the Counter back as a dict, possibly with string keys (JSON)
        self.milestones = Counter({int(m): int(n) for m, n in dict(self.milestones).items()})


class ConstantLR(LRScheduler):
    """lr multiplied by ``factor`` until epoch ``total_iters``, then back to the initial lr."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        if not isinstance(factor, numbers.Real) or not 0 < factor <= 1:
            raise ValueError("ConstantLR: the constant multiplicative factor must be in (0, 1] "
                             f"(the lr is divided by it at total_iters), got {factor!r}")
        self.factor = factor
        self.total_iters = _check_int("ConstantLR", "total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _lrs(self.optimizer)
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr multiplied by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs (a warm-up with the defaults), then kept."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not isinstance(start_factor, numbers.Real) or not 0 < start_factor <= 1:
            raise ValueError("LinearLR: start_factor must be greater than 0 and at most 1, "
                             f"got {start_factor!r}")
        if not isinstance(end_factor, numbers.Real) or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be between 0 and 1, got {end_factor!r}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = _check_int("LinearLR", "total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        k, s, e, n = self.last_epoch, self.start_factor, self.end_factor, self.total_iters
        if k == 0:
            return [group["lr"] * s for group in self.optimizer.param_groups]
        if self._is_initial or k > n:
            return _lrs(self.optimizer)
        # the ratio of the factor at k to the factor at k - 1
        ratio = 1.0 + (e - s) / (n * s + (k - 1) * (e - s))
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        s, e = self.start_factor, self.end_factor
        return [base * (s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr multiplied by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        _check_gamma("ExponentialLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        if self._is_initial:
            return _lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr from the initial lr down to ``eta_min`` along half a cosine over ``T_max`` epochs
    (SGDR without restarts; past ``T_max`` it rises again, as torch's). Recursive, as torch::

        lr_k = eta_min + (lr_{k-1} - eta_min) * (1 + cos(pi k / T)) / (1 + cos(pi (k-1) / T))
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = _check_int("CosineAnnealingLR", "T_max", T_max, 1)
        if not isinstance(eta_min, numbers.Real) or not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min!r}")
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        self._warn_outside_step()
        k, T, lo = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:
            return _lrs(self.optimizer)
        if self._step_count == 1 and k > 0:
            return [lo + (base - lo) * (1 + math.cos(k * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (k - 1 - T) % (2 * T) == 0:  # the bottom of the cosine: the ratio below is 0/0
            return [group["lr"] + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        ratio = (1 + math.cos(math.pi * k / T)) / (1 + math.cos(math.pi * (k - 1) / T))
        return [ratio * (group["lr"] - lo) + lo for group in groups]

    def _get_closed_form_lr(self):
        k, T, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (base - lo) * (1 + math.cos(math.pi * k / T)) / 2 for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Runs ``schedulers`` one after the other, switching at the epochs in ``milestones``
    (``len(schedulers) - 1`` of them): ``SequentialLR(opt, [LinearLR(opt, ...),
    CosineAnnealingLR(opt, ...)], milestones=[5])`` warms up for 5 epochs, then anneals.
    Each scheduler starts from the initial lrs at its milestone, as in torch."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        _check_optimizer(optimizer, "SequentialLR")
        schedulers = list(schedulers)
        milestones = list(milestones)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got none")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR does not support ReduceLROnPlateau (its step "
                                 f"needs a metric), but got one at index {i}")
            if not isinstance(s, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] is a {type(s).__name__}, not "
                                "an LRScheduler")
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR expects all schedulers to belong to the same "
                                 f"optimizer, but schedulers[{i}] ({type(s).__name__}) has "
                                 "another one")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, but got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        for m in milestones:
            _check_int("SequentialLR", "each milestone", m, 0)
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"SequentialLR: milestones must be increasing, got {milestones}")
        last_epoch = _check_int("SequentialLR", "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        # Undo what building the schedulers did (each made its initial step on the lrs),
        # then make the first one's initial step from the initial lrs.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_initial_steps(self, sched) -> None:
        if hasattr(sched, "_schedulers"):
            for s in sched._schedulers:
                self._undo_initial_steps(s)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self) -> None:
        """Advance the running scheduler; at a milestone, start the next one at epoch 0."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("_schedulers", None)
        if saved is None or len(saved) != len(self._schedulers):
            raise ValueError(f"SequentialLR.load_state_dict: expected the states of "
                             f"{len(self._schedulers)} schedulers under '_schedulers'")
        LRScheduler.load_state_dict(self, state_dict)
        for s, state in zip(self._schedulers, saved):
            s.load_state_dict(state)


class ReduceLROnPlateau(LRScheduler):
    """lr multiplied by ``factor`` when a metric has stopped improving for ``patience`` epochs:
    ``sched.step(val_loss)`` once per epoch.

    Args:
        mode: ``'min'`` (the metric should go down) or ``'max'``.
        factor: in [0, 1). patience: bad epochs tolerated before a reduction.
        threshold, threshold_mode: an improvement is ``a < best * (1 - threshold)``
            (``'rel'``) or ``a < best - threshold`` (``'abs'``) in min mode.
        cooldown: epochs after a reduction during which bad epochs are not counted.
        min_lr: a floor (one number, or one per group). eps: smaller changes are skipped.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0, eps: float = 1e-8):
        _check_optimizer(optimizer, "ReduceLROnPlateau")
        if not isinstance(factor, numbers.Real) or not 0 <= factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1), got {factor!r}")
        self.factor = factor
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"ReduceLROnPlateau: expected {n} min_lrs (one per parameter "
                                 f"group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.patience = _check_int("ReduceLROnPlateau", "patience", patience, 0)
        self.cooldown = _check_int("ReduceLROnPlateau", "cooldown", cooldown, 0)
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _lrs(optimizer)
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a, best) -> bool:
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics, epoch=None) -> None:
        """One epoch's ``metrics`` (a number, or a one-element Tensor)."""
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATED, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _lrs(self.optimizer)

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups, "
                    f"but {len(self.min_lrs)} min_lrs were given (was a group added?): set "
                    "min_lrs to one per group")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def load_state_dict(self, state_dict: dict) -> None:
        LRScheduler.load_state_dict(self, state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
