"""Stopping a run cleanly: SIGINT and SIGTERM wait for the end of the step, and a stop on any
process stops all of them at the same step."""
from __future__ import annotations

import signal
import threading

import numpy as np

import minigrad
from minigrad import distributed as dist


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped ``fit``; a checkpoint of the current step was saved first."""


class _StopSignals:
    """While active, SIGINT and SIGTERM only set ``self.signum``; the loop saves a checkpoint
    and stops at the end of the step. A second Ctrl-C interrupts at once."""

    def __init__(self):
        self.signum, self._old = None, {}

    def _handler(self, signum, frame):
        self.signum = signum
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def _anyone(flag: bool, world: int) -> bool:
    """Whether ``flag`` is set on any process (a stop signal stops all of them at one step)."""
    if world == 1:
        return flag
    value = minigrad.tensor(np.array([float(flag)], np.float64))
    dist.all_reduce(value)
    return bool(value.numpy()[0] > 0)
