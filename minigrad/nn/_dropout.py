"""dropout and dropout2d of ``minigrad.nn.functional``."""
from __future__ import annotations

from minigrad import kernels
from minigrad.creation import rand
from minigrad.ops.elementwise import Dropout as _DropoutOp
from minigrad.tensor import Tensor


# =============================================================================== dropout
def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(x, shape, p):
    """A constant Tensor of shape ``shape``: 1/(1-p) with probability 1-p, else 0."""
    u = rand(*shape, dtype=x.dtype, device=x.device).data
    mask = kernels.get("dropout_mask", x.xp)(u, p, 1.0 / (1.0 - p))  # one kernel on a GPU
    return Tensor._wrap(mask, False, None)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only).
    The mask comes from minigrad's generator (``minigrad.manual_seed``): uniform draws, kept
    where they are >= p, applied in one op (``ops.elementwise.Dropout``)."""
    _check_p(p)
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    u = rand(*input.shape, dtype=input.dtype, device=input.device).data
    return _DropoutOp.apply(input, u=u, p=p, scale=1.0 / (1.0 - p))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels of input (N, C, H, W) with probability p (scaling the rest by
    1/(1-p)); one draw per (sample, channel)."""
    _check_p(p)
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d expects a 4-D input (N, C, H, W) (or 3-D (C, H, W)), got "
                         f"shape {input.shape}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    shape = input.shape[:-2] + (1, 1)
    return input * _keep_mask(input, shape, p).expand(*input.shape)
