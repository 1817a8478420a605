"""Learning-rate schedule helpers shared by the lectures' training loops."""
from __future__ import annotations


def set_lr(optimizers, lr: float) -> None:
    """Set the learning rate of every parameter group of ``optimizers``."""
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = lr


def linear_decay(lr: float, step: int, steps: int) -> float:
    """``lr`` decayed linearly from step 0 to 1% of it at ``steps`` (and kept there)."""
    return lr * max(1.0 - step / steps, 0.01)
