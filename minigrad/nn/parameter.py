"""``Parameter``: the Tensor a Module trains (PyTorch's ``torch.nn.Parameter``)."""
from __future__ import annotations

import numpy as np

from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: a leaf that requires grad by default.

    Assigning one as a Module attribute registers it. ``Parameter(t)`` shares ``t``'s array.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        if isinstance(data, Tensor):
            if data._ctx is not None:
                raise ValueError("Parameter(): expected a leaf tensor; got the result of an "
                                 f"op ({type(data._ctx).__name__}): pass t.detach()")
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.data, self.requires_grad, self.grad))


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(data, requires_grad)
    p.grad = grad
    return p


__all__ = ["Parameter"]
