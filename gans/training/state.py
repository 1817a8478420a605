"""Where a run stands: :class:`TrainState`, whose ``state_dict()`` is the checkpoint."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import minigrad
from minigrad import backend


@dataclass
class TrainState:
    """Where a run stands: with the model's own state (weights, optimizers, its step counters
    ``d_step`` and ``step``, the moving averages of G), everything a resumed run needs to go on
    bit for bit as if it had never stopped.

    ``state_dict()`` is the checkpoint, ``{"model": model.state_dict(), "loop": {...}}``: the
    epoch and the batches done in it, the loader's state at the epoch's start (so the epoch's
    order is drawn again), the D steps pending before the next G step (k > 1 schedules),
    minigrad's random stream, and whether a dry run wrote it. ``history`` (one row per step)
    is kept beside it, in metrics.csv, which :class:`RunFolder` writes before each checkpoint.
    """
    model: object
    loader: object
    epoch: int = 0  # epochs done
    batch: int = 0  # batches done in the current epoch
    loader_state: dict | None = None  # loader.state_dict() at the start of the current epoch
    pending_d: int = 0  # D steps since the last G step
    history: list = field(default_factory=list)
    dry_run: bool = False

    def __post_init__(self):
        if self.loader_state is None:
            self.loader_state = self._loader_state()

    def _loader_state(self):
        return self.loader.state_dict() if resumes_exactly(self.loader) else None

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(),
                "loop": {"epoch": self.epoch, "batch": self.batch, "loader": self.loader_state,
                         "pending_d": self.pending_d, "rng": backend.get_rng_state(),
                         "dry_run": self.dry_run}}

    def load_state_dict(self, state: dict, rank: int = 0) -> None:
        """Restore a checkpoint's state (this one's or an older trainer's, which kept the
        loader's generator state as ``loader_rng``). ``rank`` > 0: a data-parallel process,
        which draws its own noise from there (the checkpoint holds rank 0's stream)."""
        loop = state["loop"]
        self.model.load_state_dict(state["model"])
        self.epoch, self.batch = int(loop["epoch"]), int(loop["batch"])
        self.pending_d = int(loop.get("pending_d", 0))
        if "loader" in loop:
            self.loader_state = loop["loader"]
        else:  # written before loaders had a state_dict: the DataLoader's generator state
            old = loop.get("loader_rng")
            self.loader_state = None if old is None else {"rng": old}
        backend.set_rng_state(loop["rng"])
        if rank > 0:
            seq = np.random.SeedSequence([rank, self.model.d_step])
            minigrad.manual_seed(int(seq.generate_state(1, np.uint32)[0]))

    def start_epoch(self) -> None:
        """Set the loader to this epoch's order (the same after a resume)."""
        if self.loader_state is not None and resumes_exactly(self.loader):
            self.loader.load_state_dict(self.loader_state)
        if hasattr(getattr(self.loader, "sampler", None), "set_epoch"):
            self.loader.sampler.set_epoch(self.epoch)  # DistributedSampler's shuffle

    def end_epoch(self) -> None:
        self.epoch, self.batch = self.epoch + 1, 0
        self.loader_state = self._loader_state()

    def next_updates_g(self) -> bool:
        """Count a D step; True when it is the ``d_steps_per_g()``-th since the last G step."""
        self.pending_d += 1
        if self.pending_d >= self.model.d_steps_per_g():
            self.pending_d = 0
            return True
        return False


def resumes_exactly(loader) -> bool:
    """Whether ``loader`` can be put back where it was (``state_dict``/``load_state_dict``)."""
    return callable(getattr(loader, "state_dict", None)) and callable(
        getattr(loader, "load_state_dict", None))
