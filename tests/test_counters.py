"""minigrad.backend.counters: the to_host event is counted wherever a tensor's array reaches
the host, once per hand-over, on the CPU as well (nothing moves there, but the count is what a
GPU run would copy)."""
from __future__ import annotations

import numpy as np

import minigrad
from minigrad import backend
from minigrad.backend import counters


def test_each_way_to_the_host_counts_once():
    t = minigrad.tensor([1.5])
    ways = [t.item, t.numpy, t.tolist, lambda: float(t), lambda: int(t), lambda: bool(t),
            lambda: np.asarray(t), lambda: backend.to_host(t.data)]
    for way in ways:
        with counters.count() as c:
            way()
        assert c["to_host"] == 1, way


def test_device_ops_count_nothing_and_counts_nest():
    a = minigrad.randn(4, 3, requires_grad=True)
    with counters.count() as outer:
        loss = (a * a).sum()
        loss.backward()
        stats = {"loss": loss.detach(), "norm": a.grad.detach().pow(2).sum().sqrt()}
        assert outer["to_host"] == 0
        with counters.count() as inner:
            values = minigrad.stack(list(stats.values())).numpy()
        assert inner["to_host"] == 1 and values.shape == (2,)
        stats["loss"].item()
    assert outer["to_host"] == 2 and inner["to_host"] == 1
    counters.add("to_host")  # outside any count(): recorded nowhere, no error
    assert outer["to_host"] == 2
