"""Layers with PyTorch's argument names, defaults, weight layouts and default initialisation.

Every parameter exists from construction (explicit sizes, no lazy shapes), so optimizers and
``state_dict`` see the whole model at once, and state dicts load into the same PyTorch model.

Default init (PyTorch's): weights ``kaiming_uniform_(a=sqrt(5))`` = U(-1/sqrt(fan_in),
1/sqrt(fan_in)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

Bad inputs fail early with the layer and both shapes in the message, e.g.
``ValueError: Conv2d(1, 64, kernel_size=(4, 4), ...) expects 1 input channels, got input of
shape (64, 3, 64, 64) (weight shape (64, 1, 4, 4))``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from minigrad import creation
from minigrad import distributed as dist
from minigrad.distributed.functional import all_reduce
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor, _dim


def _param(*shape):
    return Parameter(np.empty(shape, dtype=np.float32))


def _rank_error(layer, expected, x):
    raise ValueError(f"{type(layer).__name__} expects a {expected}, got shape {tuple(x.shape)}")


def _check_tensor(layer, x):
    if type(x) is not Tensor and not isinstance(x, Tensor):
        raise TypeError(f"{type(layer).__name__}.forward expects a minigrad Tensor, got "
                        f"{type(x).__name__} (wrap arrays with minigrad.tensor(...))")


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
        self.in_features, self.out_features = int(in_features), int(out_features)
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
        _check_tensor(self, x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r} expects input with {self.in_features} features in the "
                             f"last dimension, got input of shape {tuple(x.shape)} (weight shape "
                             f"{tuple(w.shape)})")
        b = self.bias
        return F._LinearOp.apply(x, w) if b is None else F._LinearOp.apply(x, w, b)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


# ========================================================================== convolutions
class _ConvNd(Module):
    def _init_common(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                     groups, bias, padding_mode):
        if groups != 1:
            raise NotImplementedError(f"{type(self).__name__}: groups != 1 is not supported")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{type(self).__name__}: padding_mode {padding_mode!r} is "
                                      "not supported (use 'zeros', or pad with ReflectionPad2d)")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else F._pair(padding, "padding")
        self.dilation = F._pair(dilation, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
            f"stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def _check_input(self, x, channels_axis_size):
        _check_tensor(self, x)
        if x.ndim != 4:
            _rank_error(self, "4-D input (N, C, H, W)", x)
        if x.shape[1] != channels_axis_size:
            raise ValueError(f"{self!r} expects {channels_axis_size} input channels, got input "
                             f"of shape {tuple(x.shape)} (weight shape "
                             f"{tuple(self.weight.shape)})")


class Conv2d(_ConvNd):
    """2-D convolution: (N, in_channels, H, W) -> (N, out_channels, OH, OW),
    OH = (H + 2 padding - dilation (kernel - 1) - 1) // stride + 1.
    weight (out_channels, in_channels, KH, KW), bias (out_channels,)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__()
        self._init_common(in_channels, out_channels, kernel_size, stride, padding, dilation,
                          groups, bias, padding_mode)
        self.weight = _param(self.out_channels, self.in_channels, *self.kernel_size)
        if bias:
            self.bias = _param(self.out_channels)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def forward(self, x):
        self._check_input(x, self.in_channels)
        if isinstance(self.padding, str):
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        return F._conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (the adjoint of Conv2d): (N, in_channels, H, W) ->
    (N, out_channels, OH, OW), OH = (H - 1) stride - 2 padding + dilation (kernel - 1) +
    output_padding + 1. weight (in_channels, out_channels, KH, KW) as in PyTorch.

    ``forward(x, output_size)`` picks the output_padding that gives ``output_size`` (a stride > 1
    makes several sizes possible)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros"):
        super().__init__()
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d: padding must be an int or a pair of ints")
        self._init_common(in_channels, out_channels, kernel_size, stride, padding, dilation,
                          groups, bias, padding_mode)
        self.output_padding = F._pair(output_padding, "output_padding")
        for i in range(2):
            if self.output_padding[i] >= self.stride[i]:
                raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must be "
                                 f"smaller than the stride {self.stride}")
        self.weight = _param(self.in_channels, self.out_channels, *self.kernel_size)
        if bias:
            self.bias = _param(self.out_channels)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def forward(self, x, output_size=None):
        self._check_input(x, self.in_channels)
        op = self.output_padding
        if output_size is not None:
            op = F._output_padding_for(x.shape[2:], output_size, self.weight, self.stride,
                                       self.padding, self.dilation)
        return F._conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, op,
                                   self.dilation)


# ========================================================================= normalisation
class _NormBase(Module):
    _expected = ""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, bias=True):
        super().__init__()
        self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=np.float32))
            if bias:
                self.bias = Parameter(np.zeros(self.num_features, dtype=np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", creation.zeros(self.num_features))
            self.register_buffer("running_var", creation.ones(self.num_features))
            self.register_buffer("num_batches_tracked",
                                 Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, x):
        if x.ndim not in self._ranks:
            _check_tensor(self, x)
            _rank_error(self, self._expected, x)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expects {self.num_features} channels (dim 1), got input "
                             f"of shape {tuple(x.shape)}")

    def _momentum(self):
        """The running-average factor of this step (PyTorch: momentum=None means a cumulative
        average, 1 / num_batches_tracked)."""
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                return 1.0 / float(self.num_batches_tracked.data)
        return 0.0 if self.momentum is None else self.momentum

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalisation; see :func:`minigrad.nn.functional.batch_norm`.

    ``eps`` and ``momentum`` are keyword-only ON PURPOSE, departing from PyTorch: PyTorch-GAN
    writes ``BatchNorm2d(128, 0.8)`` in five scripts meaning momentum 0.8, which PyTorch reads
    as eps = 0.8. Here that call is a TypeError.
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias)

    def forward(self, x):
        self._check_input(x)
        momentum = self._momentum()
        use_batch = self.training or not self.track_running_stats
        track = self.training and self.track_running_stats
        return F.batch_norm(x, self.running_mean if track or not use_batch else None,
                            self.running_var if track or not use_batch else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (N, C) or (N, C, L) inputs, per channel C."""
    _ranks = (2, 3)
    _expected = "2-D input (N, C) or 3-D input (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (N, C, H, W) inputs, per channel C (statistics over N, H, W)."""
    _ranks = (4,)
    _expected = "4-D input (N, C, H, W)"


class SyncBatchNorm(_BatchNorm):
    """BatchNorm whose batch statistics are those of the *global* batch, over all processes of
    the default process group (``torch.nn.SyncBatchNorm``); input (N, C, *), per channel C.

    The statistics go through :func:`minigrad.distributed.functional.all_reduce`, whose backward
    is itself an all_reduce: each process's gradient includes what its samples did to the other
    processes' outputs through the shared mean and variance, so the gradients (of any order)
    are those of BatchNorm on the concatenated batch. Costs three small all_reduces per forward
    (sample count, sums, squared deviations) and two per backward, all of size C.

    Every process must call it together when it uses batch statistics. In eval mode (with
    running statistics), or without an initialised process group of more than one process, it
    is exactly BatchNorm.
    """
    _ranks = (2, 3, 4, 5)
    _expected = "input (N, C, *) of 2 to 5 dims"

    def forward(self, x):
        use_batch = self.training or not self.track_running_stats
        if not use_batch or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        self._check_input(x)
        momentum = self._momentum()
        axes = (0,) + tuple(range(2, x.ndim))
        wshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        count = Tensor._wrap(x.xp.asarray([x.data.size // x.shape[1]], dtype=np.int64), False,
                             None)
        dist.all_reduce(count)
        n = int(count.data[0])
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got {n} "
                             f"over all processes (input size {tuple(x.shape)} here)")
        mean = all_reduce(x.sum(axes)) / n
        d = x + (-mean).reshape(wshape)
        var = all_reduce((d ** 2).sum(axes)) / n
        scale = (var + self.eps) ** -0.5
        if self.weight is not None:
            scale = scale * self.weight
        y = d * scale.reshape(wshape)
        if self.bias is not None:
            y = y + self.bias.reshape(wshape)
        if self.training and self.track_running_stats:
            F._update_running(self.running_mean, mean.data, momentum)
            F._update_running(self.running_var, var.data, momentum, n / (n - 1))
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm that shares its
        parameters and buffers (the module itself is changed; returned, or the replacement if
        ``module`` is a BatchNorm)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            out = cls(module.num_features, eps=module.eps, momentum=module.momentum,
                      affine=module.affine, track_running_stats=module.track_running_stats,
                      bias=module.bias is not None)
            if module.affine:
                out.weight = module.weight
                if module.bias is not None:
                    out.bias = module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(out, name, getattr(module, name))
            out.train(module.training)
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child))
        return out


class InstanceNorm2d(_NormBase):
    """Instance normalisation of (N, C, H, W): each image and channel over its H x W pixels.
    PyTorch's defaults: no affine, no running statistics."""
    _ranks = (4,)
    _expected = "4-D input (N, C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias)

    def forward(self, x):
        self._check_input(x)
        # As in PyTorch, instance norm keeps no batch counter: momentum None means 0.
        momentum = 0.0 if self.momentum is None else self.momentum
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               use_input_stats, momentum, self.eps)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims; weight (ones) and bias (zeros) of
    that shape when ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=np.float32))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k:]) != self.normalized_shape:
            _check_tensor(self, x)
            raise ValueError(f"{self!r} expects input whose trailing dims are "
                             f"{self.normalized_shape}, got input of shape {tuple(x.shape)}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


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


# ============================================================================= embedding
class Embedding(Module):
    """A lookup table: integer indices of any shape -> shape + (embedding_dim,); weight
    (num_embeddings, embedding_dim) ~ N(0, 1) (PyTorch's init)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError("padding_idx must be within num_embeddings")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = _param(self.num_embeddings, self.embedding_dim)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"


# ============================================================================ resampling
class Upsample(Module):
    """Nearest-neighbour upsampling of (N, C, H, W) by ``scale_factor`` (or to ``size``)."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
        super().__init__()
        if mode != "nearest":
            raise NotImplementedError(f"Upsample: mode {mode!r} is not supported (only "
                                      "'nearest')")
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, numbers.Number) \
            else scale_factor

    def forward(self, x):
        if x.ndim != 4:
            _check_tensor(self, x)
            _rank_error(self, "4-D input (N, C, H, W)", x)
        return F.interpolate(x, self.size, self.scale_factor, self.mode)

    def extra_repr(self):
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor}, mode='{self.mode}'"
        return f"size={self.size}, mode='{self.mode}'"


class ReflectionPad2d(Module):
    """Mirror padding of (N, C, H, W) by ``padding`` = int or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__()
        self.padding = (int(padding),) * 4 if isinstance(padding, numbers.Integral) \
            else tuple(int(p) for p in padding)
        if len(self.padding) != 4:
            raise ValueError(f"ReflectionPad2d: padding must be an int or 4 ints, got {padding}")

    def forward(self, x):
        if x.ndim not in (3, 4):
            _check_tensor(self, x)
            _rank_error(self, "4-D input (N, C, H, W) or 3-D input (C, H, W)", x)
        return F.pad(x, self.padding, mode="reflect")

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ReflectionPad2d):
    """Zero padding of (N, C, H, W) by ``padding`` = int or (left, right, top, bottom)."""

    def forward(self, x):
        return F.pad(x, self.padding)


# ================================================================================ shapes
class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) maps (N, C*H*W) to
    (N, C, H, W)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = _dim(repr(self), self.dim, x.ndim)
        size = self.unflattened_size
        known = int(np.prod([s for s in size if s != -1]))
        if (-1 not in size and known != x.shape[d]) or (known and x.shape[d] % known):
            raise ValueError(f"{self!r}: dim {self.dim} of input of shape {tuple(x.shape)} "
                             f"cannot be unflattened into {size}")
        return x.reshape(*x.shape[:d], *size, *x.shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


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
    """log(1 + exp(beta x)) / beta."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim if self.dim is not None else -1)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, self.dim if self.dim is not None else -1)


# ================================================================================= losses
class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities; prefer BCEWithLogitsLoss."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Cross-entropy on **logits** (softmax applied inside)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


__all__ = [
    "Identity", "Linear", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d",
    "InstanceNorm2d", "LayerNorm", "Dropout", "Dropout2d", "Embedding", "Upsample",
    "ReflectionPad2d", "ZeroPad2d", "Flatten", "Unflatten", "ReLU", "LeakyReLU", "Tanh",
    "Sigmoid", "Softplus", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "BCELoss",
    "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
]
