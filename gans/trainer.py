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
given, is called after every step, with the counters already advanced: the hook for measuring a
model during training.
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
    not updated in this step (G between D steps) is skipped."""
    norms = {}
    for name, net in model.nets.items():
        if name == "G" and not update_g:
            continue
        flat = [p.grad.data.ravel() for p in net.parameters() if p.grad is not None]
        if flat:
            # A dot per tensor (no copies), summed where the gradients live: on a GPU the
            # norm costs one device-to-host copy, not one per tensor.
            xp = backend.get_array_module(flat[0])
            total = sum((xp.dot(g, g).astype(xp.float64) for g in flat), start=0.0)
            norms[f"grad_norm_{name}"] = math.sqrt(float(total))
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


def _loader_state(loader):
    return loader.rng.bit_generator.state if hasattr(loader, "rng") else None


def _process() -> tuple[int, int]:
    """(rank, world size): (0, 1) unless a process group of several processes is running."""
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _agree(stats: dict, stop: bool, world: int) -> tuple[dict, bool]:
    """The step's numbers averaged over the processes (the global batch's losses, which every
    process then checks alike), and whether any process was asked to stop."""
    if world == 1:
        return stats, stop
    keys = sorted(stats)
    values = minigrad.tensor(np.array([stats[k] for k in keys] + [float(stop)], np.float64))
    dist.all_reduce(values)
    total = values.numpy()
    return {k: float(v) / world for k, v in zip(keys, total[:-1])}, bool(total[-1] > 0)


def fit(model, loader, *, epochs: int = 1, out_dir="runs/gan", sample_every: int = 500,
        checkpoint_every: int = 1000, resume: bool = True, max_steps: int | None = None,
        progress: bool = True, dry_run: bool = False, on_step=None):
    """Train ``model`` on batches from ``loader`` (yielding (images, labels)); returns history.

    ``max_steps`` stops after that many discriminator steps. ``dry_run``: 2 steps, no progress
    grids on the way; the end-of-run files are written (the checkpoint marked as a dry run).

    Resuming (``resume=True`` and a checkpoint in ``out_dir``) continues bit for bit where the
    checkpoint left off: the weights, optimizer states, moving averages, both random streams,
    the loader's position in its epoch's order and the pending D steps of a k > 1 schedule are
    all in it. A run that already reached ``epochs``/``max_steps`` is left as it is. A
    checkpoint of another model or config raises :class:`RunMismatch`. SIGINT/SIGTERM save a
    checkpoint at the current step and raise :class:`TrainingInterrupted`.

    ``out_dir=None``: no files at all (no checkpoint, metrics.csv or grids; nothing to resume)
    and, with ``progress=False``, no output either. ``on_step(model, stats)``: called after every
    step (``model.d_step`` and ``model.step`` already counted), e.g. to evaluate the model every
    so many G steps.
    """
    for name, value, low in (("epochs", epochs, 1), ("max_steps", max_steps, 1),
                             ("sample_every", sample_every, 0),
                             ("checkpoint_every", checkpoint_every, 0)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    out = None if out_dir is None else Path(out_dir)
    if out is None:  # in memory only
        resume, sample_every, checkpoint_every = False, 0, 0
    elif out.exists() and not out.is_dir():
        raise NotADirectoryError(f"the run folder {out} is a file: choose another --out")
    if hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError("the loader yields no batch: is the dataset smaller than the batch size "
                         "(with drop_last=True)?")
    if dry_run:
        max_steps, sample_every, checkpoint_every = 2, 0, 0
    rank, world = _process()
    main = rank == 0  # the process that prints ...
    writes = main and out is not None  # ... and writes files
    say = print if main and (out is not None or progress) else (lambda *a, **k: None)
    if world > 1:
        model.distribute()
    run_config = {"model": model.name, **config_dict(model.config)}
    ckpt = None if out is None else out / "checkpoint.npz"
    state = None
    if resume and ckpt.exists() and not dry_run:
        try:
            state = load(ckpt)
        except CheckpointError as e:
            raise CheckpointError(f"{ckpt} cannot be resumed ({e}); pass --restart to start "
                                  "over") from e
        if state["loop"].get("dry_run"):
            say(f"not resuming from {ckpt}: it was written by a dry run")
            state = None
        else:
            saved = state["model"]
            saved_config = upgrade_config_dict(type(model.config), saved["config"])
            check_same_run({"model": saved["name"], **saved_config}, run_config, out)

    # Where the loop stands: epochs done, batches done in the current epoch, the loader's
    # random state at the start of that epoch, and the D steps since the last G step.
    loop = {"epoch": 0, "batch": 0, "loader_rng": _loader_state(loader), "pending_d": 0}
    history = []
    if state is not None:
        done_epochs, done_steps = int(state["loop"]["epoch"]), int(state["model"]["d_step"])
        # A checkpoint taken on an epoch's last batch, before the epoch's end was counted (a
        # kill or a signal came between the two checkpoints): the loop below skips the epoch's
        # batches and does its end (grid, counter, checkpoint), as the uninterrupted run did.
        end_pending = int(state["loop"]["batch"]) >= len(loader)
        if not end_pending and (done_epochs >= epochs
                                or (max_steps is not None and done_steps >= max_steps)):
            epochs_done = f"{done_epochs} epoch{'s' if done_epochs != 1 else ''}"
            say(f"{out}: this run is complete ({epochs_done}, {done_steps} steps); "
                  "nothing to do. To train further, give a larger --epochs (or --max-steps); "
                  "to start over, --restart.")
            return _read_csv(out / "metrics.csv", done_steps)
        model.load_state_dict(state["model"])
        loop.update({k: v for k, v in state["loop"].items() if k in loop})
        loop["epoch"], loop["batch"] = int(loop["epoch"]), int(loop["batch"])
        backend.set_rng_state(state["loop"]["rng"])
        if rank > 0:  # the checkpoint holds rank 0's stream; the others draw their own noise
            seq = np.random.SeedSequence([rank, model.d_step])
            minigrad.manual_seed(int(seq.generate_state(1, np.uint32)[0]))
        history = _read_csv(out / "metrics.csv", model.d_step)
        say(f"resumed from {ckpt} at epoch {loop['epoch'] + 1}, batch {loop['batch']} "
              f"(step {model.d_step})")
    if writes:
        out.mkdir(parents=True, exist_ok=True)
    if writes and state is None:
        (out / "config.json").write_text(json.dumps(run_config, indent=2))

    def checkpoint():
        if not writes:
            return
        _write_csv(history, out / "metrics.csv")  # first, so it always holds the checkpoint's rows
        save({"model": model.state_dict(),
              "loop": {**loop, "rng": backend.get_rng_state(), "dry_run": dry_run}}, ckpt)

    bar = None
    if progress and main:
        from tqdm.auto import tqdm

        kernels.preload()  # a first-compile notice comes before the bar, on its own line
        total = len(loader) * epochs
        bar = tqdm(total=min(total, max_steps) if max_steps else total, initial=model.d_step,
                   unit="step", dynamic_ncols=True, leave=True)
    t0, checked, finished, steps_before = time.time(), False, False, model.d_step
    try:
        with _StopSignals() as stop:
            while loop["epoch"] < epochs and not finished:
                if bar is not None:
                    bar.set_description("dry run" if dry_run else
                                        f"epoch {loop['epoch'] + 1}/{epochs}", refresh=False)
                if loop["loader_rng"] is not None:
                    loader.rng.bit_generator.state = loop["loader_rng"]
                if hasattr(getattr(loader, "sampler", None), "set_epoch"):
                    loader.sampler.set_epoch(loop["epoch"])  # DistributedSampler's shuffle
                for batch_i, batch in enumerate(loader):
                    if batch_i < loop["batch"]:
                        continue  # resuming inside an epoch: the same order, from where it was
                    if not checked:
                        check_shapes(model, batch[0])
                        checked = True
                    loop["pending_d"] += 1
                    update_g = loop["pending_d"] >= model.d_steps_per_g()
                    if update_g:
                        loop["pending_d"] = 0
                    stats = model.train_step(*batch, update_g=update_g)
                    model.d_step += 1
                    if update_g:
                        model.step += 1
                        model.update_ema()  # a no-op unless the config asks for an average
                    stats.update(_grad_norms(model, update_g))
                    stats, stopping = _agree(stats, stop.signum is not None, world)
                    bad = {k: v for k, v in stats.items() if not math.isfinite(v)}
                    if bad:
                        raise TrainingDiverged(
                            f"non-finite loss at step {model.d_step} (epoch {loop['epoch'] + 1}, "
                            f"batch {batch_i}): {stats}. The last good checkpoint is "
                            f"{ckpt if ckpt and ckpt.exists() else 'none'}; try a lower "
                            "learning rate.")
                    loop["batch"] = batch_i + 1
                    history.append({"step": model.d_step, "epoch": loop["epoch"], **stats})
                    if bar is not None:
                        bar.update(1)
                        _show_losses(bar, stats)
                    if on_step is not None:
                        on_step(model, stats)
                    if writes and sample_every and model.d_step % sample_every == 0:
                        save_image_grid(model.sample_fixed(), out / "samples" /
                                        f"step_{model.d_step:07d}.png")
                    if checkpoint_every and model.d_step % checkpoint_every == 0:
                        checkpoint()
                    if stopping:
                        checkpoint()
                        raise TrainingInterrupted(
                            f"interrupted at step {model.d_step}: " +
                            (f"checkpoint saved in {ckpt}; run the same command again to resume"
                             if ckpt else "nothing saved (no out_dir)"))
                    if max_steps and model.d_step >= max_steps:
                        finished = True
                        if loop["batch"] < len(loader):
                            break  # mid-epoch; on its last batch the epoch ends as usual
                else:  # the epoch is complete
                    loop.update(epoch=loop["epoch"] + 1, batch=0,
                                loader_rng=_loader_state(loader))
                    if writes and not dry_run:
                        _loss_curve(history, out / "loss_curve.png")
                        save_image_grid(model.sample_fixed(),
                                        out / "samples" / f"epoch_{loop['epoch']:03d}.png")
                        checkpoint()
                    finished = finished or bool(max_steps and model.d_step >= max_steps)
    finally:
        if bar is not None:
            bar.close()
    if history and writes:
        if not dry_run:
            _loss_curve(history, out / "loss_curve.png")
        save_image_grid(model.sample_fixed(), out / "samples" / "final.png")
    checkpoint()
    elapsed = time.time() - t0
    say(f"{model.name}: {model.d_step - steps_before} steps in {elapsed:.1f} s"
        + (f"; outputs in {out}" if out is not None else ""))
    return history


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
