"""Event counters: how many times something happened, for tests and benchmarks.

A place in the code that matters to performance calls ``add("to_host")`` (or another event
name) when the event happens; ``count()`` collects them while it is active::

    from minigrad.backend import counters

    with counters.count() as c:
        model.train_step(real)
    c["to_host"]  # how many times a tensor's array was brought to the host

Events counted today, on every device (the CPU included), so that a CPU test can check what a
GPU run would do:
    to_host   an array handed to the host (``Tensor.item``, ``numpy``, ``tolist``, ``bool()``,
              ``backend.to_host``); on the CPU nothing moves, on a GPU it is a copy and a wait.
    op        one op run (``Function.apply``: a forward, recorded or not; the ops a backward
              runs count too). On a GPU each is at least one kernel launch issued from Python.
    kernel    one call into the kernel registry (``minigrad.kernels.get``): a Numba or NumPy
              kernel on the CPU, a CUDA kernel (or a few) on a GPU; ``kernel.<name>`` counts
              each kernel apart, e.g. ``kernel.adam_update_multi``.
    launch    one GPU kernel launch, on the emulated GPU of ``benchmarks/cupy_launches.py``
              (CuPy stood in for by NumPy, each call recording the kernels CuPy would launch;
              ``launch.<kernel>`` by name): a host-side model of the profiler's count.
The CUDA profiler counts the launches themselves (``benchmarks/gpu_kernels.py``).

With no ``count()`` active, ``add`` costs one test of an empty list.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

__all__ = ["add", "count", "active"]

_active: list[Counter] = []  # hot paths test this list itself (empty: nothing to count)


def active() -> bool:
    """Whether some ``count()`` is open (so an event's name is worth building)."""
    return bool(_active)


def add(event: str, n: int = 1) -> None:
    """Record ``n`` occurrences of ``event`` in every active ``count()``."""
    if _active:
        for c in _active:
            c[event] += n


@contextmanager
def count():
    """Count the events that happen inside the ``with`` block: yields a ``collections.Counter``
    (a missing event reads 0). Blocks may nest; each sees the events of its own span."""
    c = Counter()
    _active.append(c)
    try:
        yield c
    finally:
        # by identity: two counters holding equal counts compare equal
        del _active[next(i for i, a in enumerate(_active) if a is c)]
