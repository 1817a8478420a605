"""A run's files: :class:`RunFolder` (config.json, metrics.csv, loss_curve.png, samples/,
checkpoint.npz), the CSV and loss-curve writers, and the check that a folder holds this run."""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np

from minigrad.utils.io import CheckpointError, load, save
from gans.common import pyplot, save_image_grid
from gans.protocol import config_dict, upgrade_config_dict
from gans.training.state import TrainState


def _loss_curve(history, path):
    plt = pyplot()
    keys = [k for k in history[0] if k.startswith("loss") or k in ("d_x", "d_g_z", "w_dist")]
    keys = sorted({k for row in history for k in row if k in keys or k.startswith("loss")})
    fig, ax = plt.subplots(figsize=(7, 3.5))
    steps = np.array([row["step"] for row in history])
    for k in keys:
        ys = np.array([row.get(k, np.nan) for row in history], dtype=float)
        if len(ys) > 50:  # a running mean keeps the curve readable
            w = max(len(ys) // 50, 1)
            ok = ~np.isnan(ys)
            ys = np.convolve(np.where(ok, ys, 0), np.ones(w), "same") / np.maximum(
                np.convolve(ok, np.ones(w), "same"), 1)
        ax.plot(steps, ys, label=k, lw=1)
    ax.set_xlabel("discriminator step")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _write_csv(history, path):
    """metrics.csv, written atomically (a temporary file renamed over it): a run killed at any
    moment leaves the previous complete file."""
    cols = ["step", "epoch"] + sorted({k for row in history for k in row} - {"step", "epoch"})
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(history)
    os.replace(tmp, path)


def _read_csv(path, last_step: int) -> list:
    """The rows of metrics.csv up to ``last_step``, with the values the run logged (floats are
    written with repr, so they read back bit for bit; step and epoch are ints)."""
    if not path.exists():
        return []
    with open(path) as f:
        rows = []
        for row in csv.DictReader(f):
            r = {k: (int(float(v)) if k in ("step", "epoch") else float(v))
                 for k, v in row.items() if v not in ("", None)}
            if r["step"] <= last_step:
                rows.append(r)
    return rows


#: What a run writes besides config.json: these files, and the grids in samples/ named so.
_RUN_FILES = ("checkpoint.npz", "metrics.csv", "loss_curve.png")
GRID_NAMES = re.compile(r"(step_\d{7,}|epoch_\d{3,}|final)\.png")


class RunMismatch(ValueError):
    """The run folder holds a run that this one may not resume or replace: another model's,
    the same model's with another config, dataset or seed, or (for a dry run) a real run."""


def _json_values(d: dict) -> dict:
    return json.loads(json.dumps(d, default=str))


def check_same_run(saved: dict, now: dict, out) -> None:
    """Raise RunMismatch unless ``saved`` (the checkpoint's model name and config) is ``now``."""
    saved, now = _json_values(saved), _json_values(now)
    hint = (f"pass --restart to train from scratch in {out} (its files are replaced), or choose "
            "another --out")
    if saved.get("model") != now.get("model"):
        raise RunMismatch(f"{out} holds a run of model {saved.get('model')!r}, not "
                          f"{now.get('model')!r}: {hint}")
    diff = [f"{k} (saved {saved.get(k)!r}, now {now.get(k)!r})"
            for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
    if diff:
        raise RunMismatch(f"{out} holds a {now['model']} run with another config: "
                          f"{'; '.join(diff)}. Resuming would mix two recipes: {hint}")


def check_same_data(saved: dict, now: dict, out) -> None:
    """Raise RunMismatch when the run in ``out`` recorded (in its config.json, ``saved``)
    another value of a key of ``now`` (the command line's --dataset and --seed). A key it did
    not record (a run from before they were recorded) is not checked."""
    for key, value in now.items():
        if key in saved and saved[key] != value:
            raise RunMismatch(
                f"{out} holds a run trained with --{key} {saved[key]}, not {value}: resuming "
                f"would mix the two. Pass --{key} {saved[key]} to resume it, --restart to train "
                f"from scratch in {out} (its files are replaced), or choose another --out")


def _quiet(*args, **kwargs):
    pass


class RunFolder:
    """A run's files: config.json, metrics.csv, loss_curve.png, samples/ and checkpoint.npz.

    ``RunFolder(None)`` (a run in memory) reads nothing, and one made with ``writes=False`` (a
    data-parallel process other than rank 0) reads but does not write: their writes are no-ops,
    so the loop never asks whether it has a folder.
    """

    def __init__(self, path, writes: bool = True):
        self.path = None if path is None else Path(path)
        if self.path is not None and self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"the run folder {self.path} is a file: choose another --out")
        self.writes = writes and self.path is not None
        self.checkpoint = None if self.path is None else self.path / "checkpoint.npz"
        self._config, self._begun = None, False  # see start()

    def read_checkpoint(self, model, say=_quiet) -> dict | None:
        """The checkpoint to resume from: None when there is none (or a dry run's). Raises
        :class:`RunMismatch` when it is another model's run, or ``model``'s with another config
        (the "differs" check),
        CheckpointError (with how to start over) when it cannot be read."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        try:
            state = load(self.checkpoint)
        except CheckpointError as e:
            raise CheckpointError(f"{self.checkpoint} cannot be resumed ({e}); pass --restart "
                                  "to start over") from e
        if state["loop"].get("dry_run"):
            say(f"not resuming from {self.checkpoint}: it was written by a dry run")
            return None
        saved = state["model"]
        saved_config = upgrade_config_dict(type(model.config), saved["config"])
        check_same_run({"model": saved["name"], **saved_config},
                       {"model": model.name, **config_dict(model.config)}, self.path)
        return state

    def complete(self, state: dict, batches: int, epochs: int, max_steps) -> str | None:
        """What to say when ``state`` ends a run that already reached ``epochs``/``max_steps``
        (None if it does not). A checkpoint of an epoch's last batch whose epoch end was not
        yet counted (a kill between the two checkpoints) is not complete: the loop does that
        epoch's end, as the uninterrupted run did."""
        done_epochs, done_steps = int(state["loop"]["epoch"]), int(state["model"]["d_step"])
        if int(state["loop"]["batch"]) >= batches:
            return None
        if done_epochs < epochs and (max_steps is None or done_steps < max_steps):
            return None
        epochs_done = f"{done_epochs} epoch{'s' if done_epochs != 1 else ''}"
        return (f"{self.path}: this run is complete ({epochs_done}, {done_steps} steps); "
                "nothing to do. To train further, give a larger --epochs (or --max-steps); "
                "to start over, --restart.")

    def holds_real_run(self) -> bool:
        """Whether a real run (not a dry run) left its checkpoint here; one that cannot be read
        counts, as what it holds is unknown."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return False
        try:
            return not load(self.checkpoint)["loop"].get("dry_run")
        except (CheckpointError, KeyError, TypeError, AttributeError):
            return True

    def recorded(self) -> dict:
        """What config.json records ({} without one, or when it cannot be read)."""
        try:
            return json.loads((self.path / "config.json").read_text())
        except (OSError, ValueError, TypeError):
            return {}

    def start(self, run_config: dict, fresh: bool) -> None:
        """Note the run's config; a fresh run's config.json is written with the run's first
        file (:meth:`_begin`), so a run that fails its checks before then changes nothing."""
        self._config, self._begun = (run_config if fresh else None), False

    def _begin(self) -> None:
        if self._begun:
            return
        self._begun = True
        self.path.mkdir(parents=True, exist_ok=True)
        if self._config is not None:
            self._clear()
            (self.path / "config.json").write_text(json.dumps(self._config, indent=2))

    def _clear(self) -> None:
        """A fresh run in a run folder (config.json or checkpoint.npz there): remove the files
        that the earlier run wrote (by their names: nothing else in the folder), so that none
        of them pass for the new run's."""
        if not any((self.path / name).exists() for name in ("config.json", "checkpoint.npz")):
            return
        old = [self.path / name for name in _RUN_FILES]
        grids = self.path / "samples"
        if grids.is_dir():
            old += [p for p in grids.iterdir() if GRID_NAMES.fullmatch(p.name)]
        for path in old:
            path.unlink(missing_ok=True)

    def metrics(self, last_step: int) -> list:
        """The rows of metrics.csv up to ``last_step`` (none without a folder)."""
        return [] if self.path is None else _read_csv(self.path / "metrics.csv", last_step)

    def save(self, state: TrainState) -> None:
        """metrics.csv, then the checkpoint (so metrics.csv always holds the checkpoint's rows),
        each written atomically."""
        if self.writes:
            self._begin()
            _write_csv(state.history, self.path / "metrics.csv")
            save(state.state_dict(), self.checkpoint)

    def grid(self, name: str, model) -> None:
        """samples/NAME: a grid from the model's fixed noise (sampled only when written)."""
        if self.writes:
            self._begin()
            save_image_grid(model.sample_fixed(), self.path / "samples" / name)

    def loss_curve(self, history: list) -> None:
        if self.writes and history:
            self._begin()
            _loss_curve(history, self.path / "loss_curve.png")
