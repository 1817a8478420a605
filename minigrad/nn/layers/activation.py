"""Activations as layers: ReLU, LeakyReLU, Tanh, Sigmoid, Softplus, Softmax, LogSoftmax, and
torch's others (GELU, ELU, SELU, CELU, SiLU, Mish, Hardtanh, ReLU6, Hardsigmoid, Hardswish,
LogSigmoid, Softsign, GLU, PReLU with its learned slopes)."""
from __future__ import annotations

import warnings

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn.module import Module, Parameter


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


class _Elementwise(Module):
    """An activation with no parameters: ``fn(x, **args)``, the args in the repr."""
    fn = None

    def __init__(self, **args):
        super().__init__()
        self._args = args
        for k, v in args.items():
            setattr(self, k, v)

    def forward(self, x):
        return type(self).fn(x, **{k: getattr(self, k) for k in self._args})

    def extra_repr(self):
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in self._args
                         if k != "inplace" or getattr(self, k))


class _InplaceOnly(_Elementwise):
    """An activation whose one argument is torch's ``inplace`` (accepted and ignored)."""

    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class GELU(_Elementwise):
    fn = staticmethod(F.gelu)

    def __init__(self, approximate: str = "none"):
        super().__init__(approximate=approximate)


class ELU(_Elementwise):
    fn = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(alpha=alpha, inplace=inplace)


class SELU(_InplaceOnly):
    fn = staticmethod(F.selu)


class CELU(_Elementwise):
    fn = staticmethod(F.celu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(alpha=alpha, inplace=inplace)


class SiLU(_InplaceOnly):
    fn = staticmethod(F.silu)


class Mish(_InplaceOnly):
    fn = staticmethod(F.mish)


class Hardtanh(_Elementwise):
    fn = staticmethod(F.hardtanh)

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__(min_val=min_val, max_val=max_val, inplace=inplace)


class ReLU6(_InplaceOnly):
    fn = staticmethod(F.relu6)


class Hardsigmoid(_InplaceOnly):
    fn = staticmethod(F.hardsigmoid)


class Hardswish(_InplaceOnly):
    fn = staticmethod(F.hardswish)


class LogSigmoid(_Elementwise):
    fn = staticmethod(F.logsigmoid)


class Softsign(_Elementwise):
    fn = staticmethod(F.softsign)


class GLU(_Elementwise):
    fn = staticmethod(F.glu)

    def __init__(self, dim: int = -1):
        super().__init__(dim=dim)


class PReLU(Module):
    """x where x > 0, a * x elsewhere, with a learned: one slope, or one per channel
    (``num_parameters`` = C), each starting at ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) \
                or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a whole number >= 1, got "
                             f"{num_parameters!r}")
        self.num_parameters, self.init = num_parameters, float(init)
        self.weight = Parameter(np.full(num_parameters, init, dtype=np.float32))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
