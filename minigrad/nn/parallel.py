"""``DistributedDataParallel``: one replica of a module per process, gradients averaged.

Each process runs the same model on its own shard of the batch; after ``backward()`` every
parameter's ``.grad`` holds the average over the processes of their local gradients, so one
optimizer step is the same on every process and the replicas stay identical.

How the averaging is triggered: each parameter carries a post-accumulate-grad hook
(:meth:`minigrad.Tensor.register_post_accumulate_grad_hook`), which ``backward()`` calls once the
leaves have their gradients. The parameters are grouped into buckets (flat contiguous buffers of
at most ``bucket_cap_mb``, in reverse registration order as in PyTorch, since the last layers'
gradients are the first to be known); a bucket is all-reduced in one call as soon as all its
parameters have reported, buckets strictly in order so that every process issues the same
calls. ``minigrad.grad()`` never touches ``.grad`` and calls no hook: the inner gradient of a
gradient penalty stays local, and only the final ``backward()`` is averaged, as in PyTorch.

NOTE: minigrad's engine fills all leaves' gradients at the end of a backward, so the
all-reduces run after the backward rather than overlapped with it (see docs/distributed.md).
"""
from __future__ import annotations

import contextlib

import numpy as np

from minigrad import distributed as dist
from minigrad.autograd.engine import _topo_order
from minigrad.autograd.grad_mode import is_grad_enabled, no_grad
from minigrad.nn.module import Module
from minigrad.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters (same dtype and device) whose gradients travel in one flat buffer."""

    def __init__(self, params):
        self.params = params
        self.slices, n = [], 0
        for p in params:
            self.slices.append(slice(n, n + p.data.size))
            n += p.data.size
        self.numel = n
        self.buffer = None  # allocated at the first reduction, reused after


def _make_buckets(params, cap_bytes):
    buckets, current, size, key = [], [], 0, None
    for p in params:
        k = (p.dtype, type(p.data))
        nbytes = p.data.nbytes
        if current and (k != key or size + nbytes > cap_bytes):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
        key = k
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _tensors_in(obj):
    """The Tensors in a forward's output (a Tensor, or tuples/lists/dicts of them)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (``torch.nn.parallel.DistributedDataParallel``).

    Args:
        module: the replica of this process. At wrap time its parameters and buffers are
            overwritten with rank 0's, so every process starts from the same weights.
        bucket_cap_mb: the largest gradient bucket, in MB (one all_reduce per bucket).
        broadcast_buffers: before every forward in training mode, copy rank 0's buffers
            (BatchNorm running statistics) to every process. That forward is then a collective:
            every process must make it.
        find_unused_parameters: parameters that do not reach the loss in some step (but still
            require grad) would leave their bucket waiting; with True, each forward walks the
            graph of its outputs and counts the parameters it does not reach as ready, with a
            zero gradient.

    The parameters averaged in a step are those that required grad at the last forward of this
    wrapper (a frozen network contributes none: the G step of a GAN trains G through a frozen
    D without reducing D). ``no_sync()`` suspends the averaging (gradient accumulation); the
    next synchronised backward averages the accumulated gradients. ``module`` is the wrapped
    module; its ``state_dict()`` has the keys a single-process run would save. Gradients
    produced by ``backward(create_graph=True)`` are replaced by their (constant) averages.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True,
                 find_unused_parameters: bool = False):
        group = dist._default_group("DistributedDataParallel")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        if bucket_cap_mb <= 0:
            raise ValueError(f"bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        super().__init__()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self._world_size = group.world_size
        with no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t, 0)
        params = [p for p in module.parameters() if p.requires_grad]
        self._names = {id(p): n for n, p in module.named_parameters()}
        self._buckets = _make_buckets(params[::-1], int(bucket_cap_mb * 2 ** 20))
        self._expected = {id(p) for p in params}  # required grad at the last forward
        self._reported = set()                    # hooks called since the last full reduction
        self._unused = set()                      # find_unused_parameters: not reached
        self._used = set()
        self._next = 0                            # the next bucket to reduce
        self._sync = True
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]

    # --------------------------------------------------------------------- forward
    def forward(self, *args, **kwargs):
        if self._reported:
            missing = [self._names.get(i, "?") for b in self._buckets for p in b.params
                       if (i := id(p)) in self._expected and i not in self._reported]
            raise RuntimeError(
                "DistributedDataParallel: the previous backward did not finish averaging the "
                f"gradients: these parameters received no gradient: {missing}. Either they do "
                "not take part in the loss (pass find_unused_parameters=True), or they are used "
                "outside this wrapper's forward.")
        if self.training and self.broadcast_buffers:
            with no_grad():
                for b in self.module.buffers():
                    dist.broadcast(b, 0)
        if is_grad_enabled():
            self._expected = {id(p) for b in self._buckets for p in b.params if p.requires_grad}
        out = self.module(*args, **kwargs)
        if self.find_unused_parameters and is_grad_enabled():
            roots = [t for t in _tensors_in(out) if t._ctx is not None]
            self._used |= {id(t) for node in _topo_order(roots) for t in node.inputs
                           if t._ctx is None}
            self._unused = self._expected - self._used
        return out

    # -------------------------------------------------------------------- averaging
    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward() accumulates local gradients without averaging them."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    def _on_grad(self, p):
        if not self._sync:
            return
        if id(p) not in self._expected:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {self._names.get(id(p), '?')!r} received a "
                "gradient but did not require grad at the last forward of the wrapper; call "
                "the wrapper (not .module) for every forward that trains it.")
        self._reported.add(id(p))
        ready = self._reported | self._unused
        while self._next < len(self._buckets):
            bucket = self._buckets[self._next]
            if any(id(q) in self._expected and id(q) not in ready for q in bucket.params):
                return
            self._reduce(bucket)
            self._next += 1
        self._reported, self._used, self._next = set(), set(), 0
        self._unused = set()

    def _reduce(self, bucket):
        """Average the gradients of one bucket over the processes with one all_reduce."""
        expected = [(p, s) for p, s in zip(bucket.params, bucket.slices)
                    if id(p) in self._expected]
        if not expected:
            return
        xp = expected[0][0].xp
        if bucket.buffer is None:
            bucket.buffer = Tensor._wrap(xp.empty(bucket.numel, dtype=bucket.params[0].dtype),
                                         False, None)
        buf = bucket.buffer.data
        buf[...] = 0
        for p, s in expected:
            if id(p) in self._reported:
                buf[s] = p.grad.data.reshape(-1)
        dist.all_reduce(bucket.buffer, dist.ReduceOp.SUM)
        buf /= buf.dtype.type(self._world_size)
        for p, s in expected:
            avg = buf[s].reshape(p.shape)
            if p.grad is None or p.grad._ctx is not None or not _writeable(p.grad.data):
                p.grad = Tensor._wrap(avg.copy(), False, None)
            else:
                p.grad.data[...] = avg

    def extra_repr(self):
        sizes = [f"{b.numel * np.dtype(b.params[0].dtype).itemsize / 2 ** 20:.3g}"
                 for b in self._buckets]
        return f"world_size={self._world_size}, buckets (MB)=[{', '.join(sizes)}]"


def _writeable(a):
    return getattr(a.flags, "writeable", True) and a.flags.c_contiguous
