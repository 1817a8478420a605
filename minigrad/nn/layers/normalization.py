"""Normalisation layers: BatchNorm1d, BatchNorm2d, SyncBatchNorm, InstanceNorm2d, LayerNorm."""
from __future__ import annotations

import numbers

import numpy as np

from minigrad import backend, creation
from minigrad import distributed as dist
from minigrad.distributed.functional import all_reduce
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.layers._common import (_check_float, _check_tensor, _param_dtype, _rank_error,
                                        _size)
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor


# ========================================================================= normalisation
def _affine_parameters(module, shape, affine: bool, bias: bool) -> None:
    """``module.weight`` (ones) and ``module.bias`` (zeros) of ``shape`` when ``affine`` (the bias
    only with ``bias``); registered as None otherwise, as PyTorch does."""
    if affine:
        module.weight = Parameter(np.ones(shape, dtype=np.float32))
    else:
        module.register_parameter("weight", None)
    if affine and bias:
        module.bias = Parameter(np.zeros(shape, dtype=np.float32))
    else:
        module.register_parameter("bias", None)


class _NormBase(Module):
    _expected = ""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, bias=True):
        super().__init__()
        self.num_features = _size(type(self).__name__, "num_features", num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        _affine_parameters(self, self.num_features, self.affine, bias)
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
        if x.dtype.kind != "f" or x.dtype != _param_dtype(self):
            _check_float(self, x)

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
    (sample count, sums, squared deviations) and two per backward, all of size C. The global
    count stays on the device: the host reads nothing (on a GPU, never waits) unless this process
    has a single value per channel.

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
        # The global count stays on the device (a fill, no copy from the host): the host reads
        # it only where this process has at most one value per channel, the one case where the
        # others' counts decide whether there is a variance at all.
        local = x.data.size // x.shape[1]
        count = Tensor._wrap(x.xp.full((1,), local, dtype=np.int64), False, None)
        dist.all_reduce(count)
        if local <= 1:
            n = int(backend.to_host(count.data)[0])
            if n <= 1:
                raise ValueError(f"Expected more than 1 value per channel when training, got "
                                 f"{n} over all processes (input size {tuple(x.shape)} here)")
        n = Tensor._wrap(count.data.astype(x.dtype), False, None)
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
            F._update_running(self.running_var, var.data * (n.data / (n.data - 1)), momentum)
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
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(_size("LayerNorm", "normalized_shape", n)
                                      for n in normalized_shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        _affine_parameters(self, self.normalized_shape, self.elementwise_affine, bias)

    def forward(self, x):
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[x.ndim - k:]) != self.normalized_shape:
            _check_tensor(self, x)
            raise ValueError(f"{self!r} expects input whose trailing dims are "
                             f"{self.normalized_shape}, got input of shape {tuple(x.shape)}")
        if x.dtype.kind != "f" or x.dtype != _param_dtype(self):
            _check_float(self, x)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation of (N, C, *): the C channels in ``num_groups`` groups, each image's
    group normalised over its channels and positions; weight (ones) and bias (zeros) per
    channel when ``affine``. No running statistics (the same in training and eval)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 *, bias: bool = True):
        super().__init__()
        self.num_groups = _size("GroupNorm", "num_groups", num_groups)
        self.num_channels = _size("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.eps, self.affine = float(eps), bool(affine)
        _affine_parameters(self, (self.num_channels,), self.affine, bias)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            _check_tensor(self, x)
            raise ValueError(f"{self!r} expects input (N, {self.num_channels}, *), got input of "
                             f"shape {tuple(x.shape)}")
        if x.dtype.kind != "f" or (self.affine and x.dtype != _param_dtype(self)):
            _check_float(self, x)
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
