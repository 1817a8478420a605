"""minigrad: a small reverse-mode autodiff engine with higher-order gradients.

    import minigrad
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.tanh() * x).sum()
    gx, = minigrad.grad(y, x, create_graph=True)   # dy/dx, itself differentiable
    gx.sum().backward()                             # x.grad = d(sum dy/dx)/dx
"""
import warnings as _warnings

import numpy as _np

# IEEE results without NumPy's RuntimeWarnings, as in torch: log(0) is -inf and 0/0 is NaN,
# silently (minigrad.detect_anomaly() names the op that first makes a NaN). NumPy would print
# a warning pointing into minigrad's own source on every such op. Only the floating-point
# warnings raised from minigrad's modules are filtered: a user's own NumPy code keeps its
# warnings. (A filter costs nothing per op; np.errstate around each op would cost ~1 us.)
_warnings.filterwarnings(
    "ignore", message=r"(divide by zero|invalid value|overflow|underflow) encountered",
    category=RuntimeWarning, module=r"minigrad(\.|$)")

from minigrad.tensor import Tensor
from minigrad.autograd import (Function, GradcheckError, enable_grad, grad, gradcheck,
                               gradgradcheck, is_grad_enabled, no_grad, set_grad_enabled)
from minigrad.autograd import no_grad as inference_mode  # torch's faster no_grad: the same here
from minigrad.autograd.anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from minigrad.backend import Device, cuda, device, manual_seed
from minigrad.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                               full_like, linspace, ones, ones_like, rand, rand_like, randint,
                               randn, randn_like, randperm, tensor, zeros, zeros_like)
from minigrad import functional
# The ops: every function functional.py registers with @op(export=...) (its __all__), e.g.
# minigrad.exp, minigrad.softmax, minigrad.cat; torch's names, so sum/max/min/pow/abs shadow
# the builtins here as they do in torch.
from minigrad.functional import *  # noqa: F401,F403,A004

float32 = _np.float32
float64 = _np.float64
int64 = _np.int64
bool_ = _np.bool_

__version__ = "0.1.0"

from minigrad import distributed, graphs, linalg, nn, optim, utils  # noqa: E402
from minigrad.ops.conv import get_conv_precision, set_conv_precision  # noqa: E402,F401
from minigrad.utils.io import load, save  # noqa: E402
