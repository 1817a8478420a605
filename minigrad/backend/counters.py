"""Event counters: how many times something happened, for tests and benchmarks.

A place in the code that matters to performance calls ``add("to_host")`` (or another event
name) when the event happens; ``count()`` collects them while it is active::

    from minigrad.backend import counters

    with counters.count() as c:
        model.train_step(real)
    c["to_host"]  # how many times a tensor's array was brought to the host

Events counted today:
    to_host   an array handed to the host (``Tensor.item``, ``numpy``, ``tolist``, ``bool()``,
              ``backend.to_host``). Counted on every device, the CPU included (where nothing
              moves), so a CPU test can check what a GPU run would copy.

With no ``count()`` active, ``add`` costs one test of an empty list.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

__all__ = ["add", "count"]

_active: list[Counter] = []


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
