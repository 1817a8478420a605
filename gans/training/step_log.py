"""The steps' numbers on their way to the host: :class:`StepLog`, the one-copy fetch
(:func:`_to_host`, averaged over the processes) and the divergence check."""
from __future__ import annotations

import math

import numpy as np

import minigrad
from minigrad import backend
from minigrad import distributed as dist
from gans.training.run_folder import RunFolder
from gans.training.state import TrainState


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def _to_host(values: list, world: int) -> list:
    """``values`` (the logged numbers: 0-d tensors or arrays on a device, or host numbers) as
    Python floats, the device's in ONE copy to the host: stacked where they live, then fetched.
    With several processes, each number is averaged over them (one all-reduce), so every
    process sees the global batch's losses and checks them alike."""
    host = [None] * len(values)
    on_device, arrays = [], []
    for i, v in enumerate(values):
        a = v.data if isinstance(v, minigrad.Tensor) else v
        if isinstance(a, backend.array_types()):
            on_device.append(i)
            arrays.append(a.reshape(1))
        else:
            host[i] = float(a)
    if arrays:
        xp = backend.get_array_module(*arrays)
        # one array of float64 (an exact widening of float32 losses) made where they live
        fetched = backend.to_host(xp.concatenate(arrays, dtype=xp.float64))
        for i, v in zip(on_device, fetched.tolist()):
            host[i] = v
    if world > 1:
        total = minigrad.tensor(np.array(host, np.float64))
        dist.all_reduce(total)
        host = [v / world for v in total.numpy().tolist()]
    return host


class StepLog:
    """The per-step numbers on their way to the host: metrics.csv's rows, the progress bar's
    postfix and the divergence check.

    ``train_step`` returns its numbers as detached 0-d tensors on the device, so a step never
    waits for the device. They wait here (``add``) and come to the host together, in one copy
    (:func:`_to_host`), at ``flush``: every ``every`` steps (when ``due``) and whenever the loop
    needs them, at an epoch's end, before any checkpoint, at a stop signal and at the end. At
    each flush, before anything is written, a non-finite number raises
    :class:`TrainingDiverged` naming its step, so a checkpoint never holds a diverged model.
    """

    def __init__(self, state: TrainState, run: RunFolder, world: int, every: int, bar=None):
        self.state, self.run, self.world, self.every, self.bar = state, run, world, every, bar
        self.pending = []  # (step, epoch, batch index, stats) not yet on the host

    def add(self, step: int, epoch: int, batch: int, stats: dict) -> None:
        self.pending.append((step, epoch, batch, stats))
        if self.bar is not None:
            self.bar.update(1)

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def flush(self) -> list:
        """Fetch the pending numbers, check them and append their rows to the history;
        returns each step's numbers (host floats). No pending step: no copy."""
        if not self.pending:
            return []
        rows, self.pending = self.pending, []
        values = iter(_to_host([v for *_, stats in rows for v in stats.values()], self.world))
        fetched = []
        for step, epoch, batch, stats in rows:
            stats = {k: next(values) for k in stats}
            if not all(math.isfinite(v) for v in stats.values()):
                ckpt = self.run.checkpoint
                raise TrainingDiverged(
                    f"non-finite loss at step {step} (epoch {epoch + 1}, batch {batch}): "
                    f"{stats}. The last good checkpoint is "
                    f"{ckpt if ckpt and ckpt.exists() else 'none'}; try a lower learning rate.")
            self.state.history.append({"step": step, "epoch": epoch, **stats})
            if self.bar is not None:
                _show_losses(self.bar, stats)
            fetched.append(stats)
        return fetched


def _show_losses(bar, stats):
    """Two numbers fit beside the bar at 80 columns: D's loss and G's (the last one, between G
    steps); everything else is in metrics.csv."""
    shown = getattr(bar, "_losses", {})
    if "loss_d" in stats:
        shown.update({k[-1].upper(): v for k, v in stats.items() if k in ("loss_d", "loss_g")})
    else:  # a model without D/G losses (the VAE): its first two numbers
        shown = {k: v for k, v in list(stats.items())[:2]}
    bar._losses = shown
    bar.set_postfix_str(" ".join(f"{k} {v:.3f}" for k, v in shown.items()), refresh=False)
