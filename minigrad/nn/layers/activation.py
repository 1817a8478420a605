"""Activations as layers: ReLU, LeakyReLU, Tanh, Sigmoid, Softplus, Softmax, LogSoftmax."""
from __future__ import annotations

import warnings

from minigrad.nn import functional as F
from minigrad.nn.module import Module


# ============================================================================ activations
class ReLU(Module):
    """max(x, 0). ``inplace`` is accepted for PyTorch compatibility and ignored."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x (``inplace`` accepted and ignored)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = float(negative_slope), inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                            else "")


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


def _implicit_dim(name: str, ndim: int) -> int:
    """torch's dim for a Softmax made without one, with its deprecation warning: 0 for 0-, 1- and
    3-D inputs (a vector, one unbatched C x H x W image), 1 otherwise (the batch's classes)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=4)  # the module's caller
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """softmax along ``dim``; without one, torch's implicit choice (see _implicit_dim)."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        dim = self.dim if self.dim is not None else _implicit_dim("softmax", x.ndim)
        return F.softmax(x, dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        dim = self.dim if self.dim is not None else _implicit_dim("log_softmax", x.ndim)
        return F.log_softmax(x, dim)
