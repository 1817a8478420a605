"""``fit``: the one training loop. Plumbing only; every GAN's math lives in its ``train_step``
(the contract between the two: :mod:`gans.protocol`).

Per batch it calls ``model.train_step(*batch, update_g=...)`` (``(real, labels)`` for the GANs,
``(x, y)`` for CycleGAN), where ``update_g`` is True on every ``model.d_steps_per_g()``-th
discriminator step (the k of Goodfellow et al.'s Algorithm 1, n_critic for the WGANs: the
config's ``d_steps``), and counts the steps: ``model.d_step`` after every call, ``model.step``
after every G step. Around that it keeps:

    out_dir/config.json       the variant's config
    out_dir/metrics.csv       one row per step: the losses and D(x), D(G(z)) train_step returned
    out_dir/loss_curve.png    redrawn every epoch
    out_dir/samples/          grids from fixed noise (so progress is comparable across steps)
    out_dir/checkpoint.npz    model + optimizers + RNG + loop position, written atomically

A run interrupted for any reason resumes from its last checkpoint (``resume=True``) and continues
exactly as if it had never stopped. A non-finite loss stops the run with TrainingDiverged, naming
the step and the losses; the last checkpoint (from before the blow-up) is kept.

Before the first step, :func:`check_shapes` samples G once and runs D on the result, so a
generator whose images do not fit the data or the discriminator fails at once, with both shapes
in the message, instead of as a layer's error inside the first step.

``dry_run``: 2 steps, then the end-of-run outputs (metrics.csv, samples/final.png and a
checkpoint marked as a dry run, which a later real run does not resume from), so the whole
pipeline is exercised in seconds.

Data-parallel (``mpiexec -n N``, after ``minigrad.distributed.init_process_group``): the model's
networks are wrapped (:meth:`GANModel.distribute`), each process trains on its shard of every
batch (the loader's ``DistributedSampler``, told the epoch), the logged numbers are averaged over
the processes, and rank 0 alone writes files and the progress bar. A stop signal on any process
stops all of them at the same step.

``out_dir=None`` trains in memory only: no file is written or resumed from (the toy experiments
of :mod:`gans.theory`, whose samples are points, not images). ``on_step(model, stats)``, when
given, is called after every step, with the counters already advanced and that step's numbers
as host floats (each step is then a flush): the hook for measuring a model during training.

The pieces: :class:`TrainState` (where the run stands; its ``state_dict()`` is the checkpoint),
:class:`RunFolder` (the files; no-ops without a folder), :class:`StepLog` (the steps' numbers,
kept on the device and fetched in one copy every ``log_every`` steps) and ``_Loop`` (resume,
then for each batch: train_step, EMA, log, checkpoint; the epoch's end).
"""
from __future__ import annotations

import csv
import inspect
import json
import math
import os
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import minigrad
from minigrad import backend, kernels
from minigrad import distributed as dist
from minigrad.utils.io import CheckpointError, load, save
from gans.common import save_image_grid
from gans.protocol import config_dict, upgrade_config_dict


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def check_shapes(model, real) -> None:
    """Sample G once and run D on it (eval mode, no graph, private noise: no state changes).

    Raises ValueError naming both shapes when G's images differ from the data's (D is trained on
    both), or when D cannot take them. Models without a ``G`` and a ``D`` are not checked.
    """
    G, D = model.nets.get("G"), model.nets.get("D")  # the plain networks, never a wrapper
    if G is None or D is None:
        return
    n = min(2, real.shape[0])
    lab = np.arange(n) % model.config.n_classes if model.conditional else None
    # NOTE: the noise comes from a private generator, so checking does not change the run.
    fake = model.sample(n, lab, model.latent(n, rng=np.random.default_rng(0)))
    if tuple(fake.shape[1:]) != tuple(real.shape[1:]):
        raise ValueError(
            f"{model.name}: the generator makes images of shape {tuple(fake.shape[1:])} (a batch "
            f"{tuple(fake.shape)}), but the data are {tuple(real.shape[1:])} (a batch "
            f"{tuple(real.shape)}). The discriminator is trained on both, so they must match: "
            "set the config's img_size/channels to the dataset's, or change the generator's "
            "last layers.")
    takes_labels = len(inspect.signature(D.forward).parameters) > 1
    mode = D.training
    D.eval()
    try:
        with minigrad.no_grad():
            if takes_labels and lab is not None:
                D(fake, minigrad.tensor(lab, device=fake.device))
            else:
                D(fake)
    except (ValueError, RuntimeError, TypeError) as e:
        raise ValueError(
            f"{model.name}: the discriminator cannot take the generator's output, a batch of "
            f"shape {tuple(fake.shape)} (the data's shape too): {e}. Make the discriminator's "
            "input layer fit that shape.") from e
    finally:
        D.train(mode)


def _loss_curve(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def _grad_norms(model, update_g):
    """The 2-norm of each network's last gradient (``.grad`` stays set after a step), logged as
    grad_norm_<net>: the quickest sign of vanishing or exploding updates. A network that was
    not updated in this step (G between D steps) is skipped. The norms stay where the gradients
    live (0-d float64 arrays): the trainer fetches them with the losses."""
    norms = {}
    for name, net in model.nets.items():
        if name == "G" and not update_g:
            continue
        flat = [p.grad.data.ravel() for p in net.parameters() if p.grad is not None]
        if flat:
            # A dot per tensor (no copies), summed in float64 and rooted on the device (IEEE
            # sqrt: the value math.sqrt gives on the host).
            xp = backend.get_array_module(flat[0])
            total = sum((xp.dot(g, g).astype(xp.float64) for g in flat), start=0.0)
            norms[f"grad_norm_{name}"] = xp.sqrt(total)
    return norms


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


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped ``fit``; a checkpoint of the current step was saved first."""


class RunMismatch(ValueError):
    """The run folder holds another model's run, or the same model with another config."""


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


def _process() -> tuple[int, int]:
    """(rank, world size): (0, 1) unless a process group of several processes is running."""
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _anyone(flag: bool, world: int) -> bool:
    """Whether ``flag`` is set on any process (a stop signal stops all of them at one step)."""
    if world == 1:
        return flag
    value = minigrad.tensor(np.array([float(flag)], np.float64))
    dist.all_reduce(value)
    return bool(value.numpy()[0] > 0)


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


def _quiet(*args, **kwargs):
    pass


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

    def start(self, run_config: dict, fresh: bool) -> None:
        if self.writes:
            self.path.mkdir(parents=True, exist_ok=True)
            if fresh:
                (self.path / "config.json").write_text(json.dumps(run_config, indent=2))

    def metrics(self, last_step: int) -> list:
        """The rows of metrics.csv up to ``last_step`` (none without a folder)."""
        return [] if self.path is None else _read_csv(self.path / "metrics.csv", last_step)

    def save(self, state: TrainState) -> None:
        """metrics.csv, then the checkpoint (so metrics.csv always holds the checkpoint's rows),
        each written atomically."""
        if self.writes:
            _write_csv(state.history, self.path / "metrics.csv")
            save(state.state_dict(), self.checkpoint)

    def grid(self, name: str, model) -> None:
        """samples/NAME: a grid from the model's fixed noise (sampled only when written)."""
        if self.writes:
            save_image_grid(model.sample_fixed(), self.path / "samples" / name)

    def loss_curve(self, history: list) -> None:
        if self.writes and history:
            _loss_curve(history, self.path / "loss_curve.png")


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


def _train_step(model, state: TrainState, batch, step_fn=None) -> dict:
    """One step of the schedule: D's (and, every ``d_steps_per_g()``-th, G's) ``train_step``
    (or ``step_fn``, its CUDA-graph replay), the step counters, G's moving average and the
    gradient norms. The numbers stay on the device."""
    update_g = state.next_updates_g()
    stats = (step_fn or model.train_step)(*batch, update_g=update_g)
    model.d_step += 1
    if update_g:
        model.step += 1
        model.update_ema()  # a no-op unless the config asks for an average
    stats.update(_grad_norms(model, update_g))
    return stats


class _Loop:
    """``fit``'s loop over the epochs and steps of one run (its options as attributes)."""

    def __init__(self, state, run, log, stop, world, *, epochs, max_steps, sample_every,
                 checkpoint_every, on_step, step_fn=None):
        self.state, self.model, self.run, self.log, self.stop = state, state.model, run, log, stop
        self.step_fn = step_fn
        self.world, self.epochs, self.max_steps = world, epochs, max_steps
        self.sample_every, self.checkpoint_every, self.on_step = (sample_every,
                                                                  checkpoint_every, on_step)
        self.checked = self.finished = False

    def train(self) -> None:
        bar, state = self.log.bar, self.state
        while state.epoch < self.epochs and not self.finished:
            if bar is not None:
                bar.set_description("dry run" if state.dry_run else
                                    f"epoch {state.epoch + 1}/{self.epochs}", refresh=False)
            if self.epoch():
                self.end_epoch()

    def epoch(self) -> bool:
        """The current epoch's remaining batches. True when they ran out (the epoch is over),
        False when ``max_steps`` stopped the run inside the epoch."""
        state, model = self.state, self.model
        state.start_epoch()
        for batch_i, batch in enumerate(state.loader):
            if batch_i < state.batch:
                continue  # resuming inside an epoch: the same order, from where it was
            if not self.checked:
                check_shapes(model, batch[0])
                self.checked = True
            stats = _train_step(model, state, batch, self.step_fn)
            state.batch = batch_i + 1
            self.log.add(model.d_step, state.epoch, batch_i, stats)
            self.after_step(_anyone(self.stop.signum is not None, self.world))
            if self.max_steps and model.d_step >= self.max_steps:
                self.finished = True
                if state.batch < len(state.loader):
                    return False  # mid-epoch; on its last batch the epoch ends as usual
        return True

    def after_step(self, stopping: bool) -> None:
        step = self.model.d_step
        if self.on_step is not None:  # every step is a flush then: the hook gets host floats
            self.on_step(self.model, self.log.flush()[-1])
        elif self.log.due(step):
            self.log.flush()
        if self.sample_every and step % self.sample_every == 0:
            self.run.grid(f"step_{step:07d}.png", self.model)
        if self.checkpoint_every and step % self.checkpoint_every == 0:
            self.save()
        if stopping:
            self.save()
            ckpt = self.run.checkpoint
            raise TrainingInterrupted(
                f"interrupted at step {step}: " +
                (f"checkpoint saved in {ckpt}; run the same command again to resume"
                 if ckpt else "nothing saved (no out_dir)"))

    def save(self) -> None:
        self.log.flush()  # first: a diverged step raises here, and the last checkpoint stays
        self.run.save(self.state)

    def end_epoch(self) -> None:
        self.log.flush()
        self.state.end_epoch()
        if not self.state.dry_run:
            self.run.loss_curve(self.state.history)
            self.run.grid(f"epoch_{self.state.epoch:03d}.png", self.model)
            self.save()
        self.finished = self.finished or bool(self.max_steps
                                              and self.model.d_step >= self.max_steps)

    def finish(self) -> None:
        self.log.flush()
        if self.state.history:
            if not self.state.dry_run:
                self.run.loss_curve(self.state.history)
            self.run.grid("final.png", self.model)
        self.save()


@contextmanager
def _progress_bar(show: bool, loader, epochs: int, max_steps, initial: int):
    if not show:
        yield None
        return
    from tqdm.auto import tqdm

    kernels.preload()  # a first-compile notice comes before the bar, on its own line
    total = len(loader) * epochs
    bar = tqdm(total=min(total, max_steps) if max_steps else total, initial=initial,
               unit="step", dynamic_ncols=True, leave=True)
    try:
        yield bar
    finally:
        bar.close()


def _check_arguments(loader, **counts) -> None:
    for name, (value, low) in counts.items():
        if value is not None and (not isinstance(value, (int, np.integer)) or value < low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError("the loader yields no batch: is the dataset smaller than the batch size "
                         "(with drop_last=True)?")


def _graphed_step(model, cuda_graph: bool, world: int, say):
    """The step function ``fit`` calls: None (``model.train_step``) or its CUDA-graph replay."""
    if not cuda_graph:
        return None
    if world > 1:
        say("--cuda-graph: data-parallel training reduces gradients between backward and the "
            "update, which a recorded step would skip; training eagerly")
        return None
    return minigrad.graphs.GraphedStep(model, say=say)


def fit(model, loader, *, epochs: int = 1, out_dir="runs/gan", sample_every: int = 500,
        checkpoint_every: int = 1000, resume: bool = True, max_steps: int | None = None,
        progress: bool = True, dry_run: bool = False, on_step=None, log_every: int = 50,
        cuda_graph: bool = False):
    """Train ``model`` on batches from ``loader`` (yielding (images, labels)); returns history
    (one dict per step, the rows of metrics.csv).

    ``max_steps`` stops after that many discriminator steps. ``dry_run``: 2 steps, no progress
    grids on the way; the end-of-run files are written (the checkpoint marked as a dry run).

    ``log_every``: the steps' numbers (losses, scores, gradient norms) stay on the device and
    come to the host in one copy every ``log_every`` steps, and at an epoch's end, before a
    checkpoint, at a stop and at the end (:class:`StepLog`); a non-finite one raises
    :class:`TrainingDiverged` then, naming its step. metrics.csv holds the same rows whatever
    ``log_every`` is.

    Resuming (``resume=True`` and a checkpoint in ``out_dir``) continues bit for bit where the
    checkpoint left off (:class:`TrainState`): the weights, optimizer states, moving averages,
    both random streams, the loader's position in its epoch's order and the pending D steps of
    a k > 1 schedule are all in it. The loader's order is restored through its
    ``state_dict()``/``load_state_dict()``; a loader without them gets a warning that a resumed
    run will not repeat its batches exactly. A run that already reached ``epochs``/``max_steps``
    is left as it is. A checkpoint of another model or config raises :class:`RunMismatch`.
    SIGINT/SIGTERM save a checkpoint at the current step and raise :class:`TrainingInterrupted`.

    ``cuda_graph``: after two eager steps, record a step as a CUDA graph and replay it for
    every later step of the same shape (:class:`minigrad.graphs.GraphedStep`): the same numbers,
    one launch per step instead of hundreds. Where that cannot be done (no GPU, several
    processes, a step that cannot be recorded) one line says why and the run trains eagerly.

    ``out_dir=None``: no files at all (no checkpoint, metrics.csv or grids; nothing to resume)
    and, with ``progress=False``, no output either. ``on_step(model, stats)``: called after every
    step (``model.d_step`` and ``model.step`` already counted) with that step's numbers as host
    floats, e.g. to evaluate the model every so many G steps; with a hook, every step is a flush
    (one copy per step), as the hook reads the numbers at once.
    """
    _check_arguments(loader, epochs=(epochs, 1), max_steps=(max_steps, 1),
                     sample_every=(sample_every, 0), checkpoint_every=(checkpoint_every, 0),
                     log_every=(log_every, 1))
    rank, world = _process()
    run = RunFolder(out_dir, writes=rank == 0)  # rank 0 alone writes files ...
    say = print if rank == 0 and (out_dir is not None or progress) else _quiet  # ... and prints
    if out_dir is None:  # in memory only
        resume, sample_every, checkpoint_every = False, 0, 0
    elif not resumes_exactly(loader):
        warnings.warn(f"fit: the loader ({type(loader).__name__}) has no state_dict()/"
                      "load_state_dict(), so a resumed run will not repeat its batches exactly",
                      RuntimeWarning, stacklevel=2)
    if dry_run:
        max_steps, sample_every, checkpoint_every = 2, 0, 0
    if world > 1:
        model.distribute()
    state = TrainState(model, loader, dry_run=dry_run)
    saved = run.read_checkpoint(model, say) if resume and not dry_run else None
    if saved is not None:
        done = run.complete(saved, len(loader), epochs, max_steps)
        if done:
            say(done)
            return run.metrics(int(saved["model"]["d_step"]))
        state.load_state_dict(saved, rank)
        state.history = run.metrics(model.d_step)
        say(f"resumed from {run.checkpoint} at epoch {state.epoch + 1}, batch {state.batch} "
            f"(step {model.d_step})")
    run.start({"model": model.name, **config_dict(model.config)}, fresh=saved is None)

    t0, steps_before = time.time(), model.d_step
    with _progress_bar(progress and rank == 0, loader, epochs, max_steps, model.d_step) as bar, \
            _StopSignals() as stop:
        log = StepLog(state, run, world, 1 if on_step is not None else log_every, bar)
        loop = _Loop(state, run, log, stop, world, epochs=epochs, max_steps=max_steps,
                     sample_every=sample_every, checkpoint_every=checkpoint_every,
                     on_step=on_step, step_fn=_graphed_step(model, cuda_graph, world, say))
        loop.train()
    loop.finish()
    say(f"{model.name}: {model.d_step - steps_before} steps in {time.time() - t0:.1f} s"
        + (f"; outputs in {out_dir}" if out_dir is not None else ""))
    return state.history


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
