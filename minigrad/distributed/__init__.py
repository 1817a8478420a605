"""``minigrad.distributed``: data-parallel training across processes, with the names and
semantics of ``torch.distributed``::

    # mpiexec -n 2 python train.py
    import minigrad.distributed as dist
    from minigrad.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")             # rank and world size from the launcher
    model = DDP(net)                           # rank 0's weights everywhere
    loader = DataLoader(data, batch_size=32,   # 32 per process
                        sampler=DistributedSampler(data, shuffle=True, seed=0))
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()    # gradients averaged over the processes here
            opt.step()
    dist.destroy_process_group()

Backends (:mod:`minigrad.distributed.backends`): ``"mpi"`` (mpi4py, CPU) and ``"nccl"`` (CuPy's
NCCL bindings, GPU). Collectives work on a tensor's array in place and record nothing in the
graph; :func:`minigrad.distributed.functional.all_reduce` is the differentiable one.

Once the group is up with more than one process, an exception that reaches the top of any
process prints its traceback and aborts the whole job (``MPI_Abort``), so a failing rank never
leaves the others waiting in a collective. A process that handles its error itself and exits
calls :func:`abort` instead of ``sys.exit``.
"""
from __future__ import annotations

import sys

from minigrad.distributed.backends import BACKENDS, ReduceOp
from minigrad.tensor import Tensor

__all__ = ["ReduceOp", "init_process_group", "destroy_process_group", "is_initialized",
           "is_available", "get_rank", "get_world_size", "get_backend", "get_node_local_rank",
           "all_reduce",
           "broadcast", "barrier", "abort"]

_group = None           # the default process group: a backend instance, or None
_previous_hook = None   # sys.excepthook before init_process_group installed its own


def is_available() -> bool:
    """True when mpi4py imports (every backend starts its job through MPI)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    return _group is not None


def _default_group(who: str):
    if _group is None:
        raise RuntimeError(f"{who}: the default process group has not been initialized; call "
                           "minigrad.distributed.init_process_group('mpi') first (and start "
                           "the script with mpiexec -n N)")
    return _group


def init_process_group(backend: str = "mpi", *, world_size: int = -1, rank: int = -1) -> None:
    """Join the job the launcher started (``mpiexec -n N python script.py``).

    backend: ``"mpi"`` (CPU tensors; CUDA tensors are staged through the host) or ``"nccl"``
        (CUDA tensors; each process takes GPU ``local_rank % device_count``).
    world_size, rank: optional checks; the values come from the launcher, and a mismatch is an
        error. A script started without a launcher is a job of one process (rank 0).
    """
    global _group, _previous_hook
    if _group is not None:
        raise RuntimeError("init_process_group: the default process group is already "
                           "initialized (call destroy_process_group() first)")
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; expected one of "
                         f"{sorted(BACKENDS)}")
    group = BACKENDS[backend]()
    for name, want, got in (("world_size", world_size, group.world_size),
                            ("rank", rank, group.rank)):
        if want != -1 and want != got:
            group.close()
            raise ValueError(f"init_process_group: {name}={want} was asked for, but the launcher "
                             f"started this process with {name} {got}")
    _group = group
    if group.world_size > 1:
        _previous_hook = sys.excepthook
        sys.excepthook = _abort_on_exception


def _abort_on_exception(exc_type, exc, tb):
    """An uncaught exception on one rank: show it, then take the whole job down, so the other
    ranks do not wait forever in their next collective."""
    group = _group
    sys.stderr.write(f"[rank {group.rank if group else '?'}] uncaught exception, aborting the "
                     "job:\n")
    (_previous_hook or sys.__excepthook__)(exc_type, exc, tb)
    sys.stdout.flush()
    sys.stderr.flush()
    if group is not None:
        group.abort(1)


def abort(code: int = 1) -> None:
    """End every process of the job now, with exit status ``code`` (``MPI_Abort``; not in
    ``torch.distributed``). For a process that stops on an error it has handled itself, e.g. a
    command line that prints one line and exits: a plain ``sys.exit(1)`` on one process leaves
    the others waiting in their next collective (and itself in MPI's finalize) forever."""
    _default_group("abort").abort(int(code))


def destroy_process_group() -> None:
    """Leave the group (the MPI library itself stays up until the interpreter exits)."""
    global _group, _previous_hook
    group = _default_group("destroy_process_group")
    _group = None
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _previous_hook or sys.__excepthook__
    _previous_hook = None
    group.close()


def get_rank() -> int:
    return _default_group("get_rank").rank


def get_world_size() -> int:
    return _default_group("get_world_size").world_size


def get_backend() -> str:
    return _default_group("get_backend").name


def get_node_local_rank() -> int:
    """This process's index among the job's processes on its machine (torch reads it from
    ``LOCAL_RANK``; here MPI says): the GPU to take is ``local rank % device_count``."""
    return _default_group("get_node_local_rank").local_rank()


def _array_of(tensor, who):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: expected a minigrad Tensor, got {type(tensor).__name__}")
    return tensor.data


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM) -> None:
    """Combine ``tensor`` across all processes with ``op``, in place on every process. Records
    nothing in the graph (see :func:`minigrad.distributed.functional.all_reduce`)."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp (e.g. ReduceOp.SUM), got {op!r}")
    _default_group("all_reduce").all_reduce(_array_of(tensor, "all_reduce"), op)


def broadcast(tensor, src: int) -> None:
    """Copy ``tensor`` from process ``src`` to every process, in place."""
    group = _default_group("broadcast")
    if not 0 <= int(src) < group.world_size:
        raise ValueError(f"broadcast: src={src} is not a rank of this group of "
                         f"{group.world_size}")
    group.broadcast(_array_of(tensor, "broadcast"), int(src))


def barrier() -> None:
    """Wait until every process has reached this call."""
    _default_group("barrier").barrier()
