"""Dropout and Dropout2d."""
from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.module import Module


# ================================================================================ dropout
class Dropout(Module):
    """Zero elements with probability p in training (scaling the rest by 1/(1-p)); identity in
    eval mode. ``inplace`` is accepted for PyTorch compatibility and ignored."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        F._check_p(p)
        self.p, self.inplace = float(p), inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) with probability p in training."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)
