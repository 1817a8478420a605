"""Identity and Linear."""
from __future__ import annotations

import math

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.layers._common import _check_float, _param, _size
from minigrad.nn.module import Module


# ================================================================================ Linear
class Identity(Module):
    """y = x (accepts and ignores any constructor arguments, like PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x @ W^T + b: x (*, in_features) -> (*, out_features); weight (out_features,
    in_features), bias (out_features,)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = _size("Linear", "in_features", in_features)
        self.out_features = _size("Linear", "out_features", out_features)
        self.weight = _param(self.out_features, self.in_features)
        if bias:
            self.bias = _param(self.out_features)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        w = self.weight
        _check_float(self, x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r} expects input with {self.in_features} features in the "
                             f"last dimension, got input of shape {tuple(x.shape)} (weight shape "
                             f"{tuple(w.shape)})")
        b = self.bias
        return F._LinearOp.apply(x, w) if b is None else F._LinearOp.apply(x, w, b)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
