"""``fit``: the one training loop. Plumbing only; every GAN's math lives in its ``train_step``
(the contract between the two: :mod:`gans.protocol`).

Per batch it calls ``model.train_step(*batch, update_g=...)`` (``(real, labels)`` for the GANs,
``(x, y)`` for CycleGAN), where ``update_g`` is True on every ``model.d_steps_per_g()``-th
discriminator step (the k of Goodfellow et al.'s Algorithm 1, n_critic for the WGANs: the
config's ``d_steps``), and counts the steps: ``model.d_step`` after every call, ``model.step``
after every G step. Around that it keeps:

    out_dir/config.json       the variant's config (and what the caller records: ``record``)
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
pipeline is exercised in seconds. A folder holding a real run's checkpoint is refused
(:class:`RunMismatch`) unless ``resume=False`` (--restart): a dry run never replaces a real run.

A fresh run's config.json is written with its first file (after the first step), so a run
that fails before then, e.g. in :func:`check_shapes`, leaves its folder as it was.

Data-parallel (``mpiexec -n N``, after ``minigrad.distributed.init_process_group``): the model's
networks are wrapped (:meth:`GANModel.distribute`), each process trains on its shard of every
batch (the loader's ``DistributedSampler``, told the epoch), the logged numbers are averaged over
the processes, and rank 0 alone writes files and the progress bar. A stop signal on any process
stops all of them at the same step.

``out_dir=None`` trains in memory only: no file is written or resumed from (the toy experiments
of :mod:`gans.theory`, whose samples are points, not images). ``on_step(model, stats)``, when
given, is called after every step, with the counters already advanced and that step's numbers
as host floats (each step is then a flush): the hook for measuring a model during training.

The pieces, each in a module of :mod:`gans.training` (and importable from here): :class:`TrainState`
(``state.py``: where the run stands; its ``state_dict()`` is the checkpoint), :class:`RunFolder`
(``run_folder.py``: the files; no-ops without a folder), :class:`StepLog` (``step_log.py``: the
steps' numbers, kept on the device and fetched in one copy every ``log_every`` steps), the stop
signals (``signals.py``); here, ``_Loop`` (resume, then for each batch: train_step, EMA, log,
checkpoint; the epoch's end) and ``fit``.
"""
from __future__ import annotations

import inspect
import time
import warnings
from contextlib import contextmanager

import numpy as np

import minigrad
from minigrad import backend, kernels
from minigrad import distributed as dist
from gans.protocol import config_dict
# (RunMismatch, check_same_run, TrainingDiverged, TrainingInterrupted, _to_host: imported from here)
from gans.training.run_folder import (RunFolder, RunMismatch, _quiet, check_same_data,
                                      check_same_run)
from gans.training.signals import TrainingInterrupted, _anyone, _StopSignals
from gans.training.state import TrainState, resumes_exactly
from gans.training.step_log import StepLog, TrainingDiverged, _to_host


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


def _grad_norms(model, update_g):
    """The 2-norm of each network's last gradient (``.grad`` stays set after a step), logged as
    grad_norm_<net>: the quickest sign of vanishing or exploding updates. A network that was
    not updated in this step (between D steps, those G's optimizer updates: CycleGAN's F as
    well as G) is skipped. The norms stay where the gradients live (0-d float64 arrays): the
    trainer fetches them with the losses."""
    g_opt = model.optims.get("G")
    g_params = set() if update_g or g_opt is None else \
        {id(p) for group in g_opt.param_groups for p in group["params"]}
    norms = {}
    for name, net in model.nets.items():
        if g_params and any(id(p) in g_params for p in net.parameters()):
            continue
        flat = [p.grad.data.ravel() for p in net.parameters() if p.grad is not None]
        if flat:
            # A dot per tensor (no copies), summed in float64 and rooted on the device (IEEE
            # sqrt: the value math.sqrt gives on the host).
            xp = backend.get_array_module(flat[0])
            total = sum((xp.dot(g, g).astype(xp.float64) for g in flat), start=0.0)
            norms[f"grad_norm_{name}"] = xp.sqrt(total)
    return norms


def _process() -> tuple[int, int]:
    """(rank, world size): (0, 1) unless a process group of several processes is running."""
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


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
        # the epoch's learning rates (a no-op unless the config decays them); a step recorded
        # as a CUDA graph holds the old ones as constants, so it is recorded again
        if model.schedule_lr(state.epoch) and self.step_fn is not None:
            self.step_fn.reset()
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
        cuda_graph: bool = False, record: dict | None = None):
    """Train ``model`` on batches from ``loader`` (yielding (images, labels)); returns history
    (one dict per step, the rows of metrics.csv).

    ``max_steps`` stops after that many discriminator steps. ``dry_run``: 2 steps, no progress
    grids on the way; the end-of-run files are written (the checkpoint marked as a dry run).
    A dry run into a folder holding a real run's checkpoint raises :class:`RunMismatch`,
    unless ``resume=False``.

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

    ``record``: more to write into a fresh run's config.json beside the model and config (the
    command line's dataset and seed); resuming a run that recorded another value of one of them
    raises RunMismatch.

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
    if dry_run and resume and run.holds_real_run():
        raise RunMismatch(f"{out_dir} holds a trained run, which a dry run would replace: "
                          "choose another --out for the dry run, or pass --restart to replace "
                          "the run")
    state = TrainState(model, loader, dry_run=dry_run)
    saved = run.read_checkpoint(model, say) if resume and not dry_run else None
    if saved is not None and record:
        check_same_data(run.recorded(), record, out_dir)  # e.g. another --seed or --dataset
    if saved is not None:
        done = run.complete(saved, len(loader), epochs, max_steps)
        state.load_state_dict(saved, rank)  # a complete run too: ``model`` is the trained one
        if done:
            say(done)
            return run.metrics(model.d_step)
        state.history = run.metrics(model.d_step)
        say(f"resumed from {run.checkpoint} at epoch {state.epoch + 1}, batch {state.batch} "
            f"(step {model.d_step})")
    run.start({"model": model.name, **config_dict(model.config), **(record or {})},
              fresh=saved is None)
    cfg = model.config
    last = cfg.lr_decay_start + cfg.lr_decay_epochs  # the last epoch (from 1) whose lr is above 0
    if cfg.lr_decay_epochs and epochs > last:
        say(f"note: the learning rates reach 0 after epoch {last} (lr_decay_start "
            f"{cfg.lr_decay_start} + lr_decay_epochs {cfg.lr_decay_epochs}): "
            + (f"epoch {epochs}" if epochs == last + 1 else f"epochs {last + 1}-{epochs}")
            + " will not change the weights")

    t0, steps_before = time.time(), model.d_step
    step_fn = _graphed_step(model, cuda_graph, world, say)  # (a fallback's line before the bar)
    with _progress_bar(progress and rank == 0, loader, epochs, max_steps, model.d_step) as bar, \
            _StopSignals() as stop:
        log = StepLog(state, run, world, 1 if on_step is not None else log_every, bar)
        loop = _Loop(state, run, log, stop, world, epochs=epochs, max_steps=max_steps,
                     sample_every=sample_every, checkpoint_every=checkpoint_every,
                     on_step=on_step, step_fn=step_fn)
        loop.train()
    loop.finish()
    say(f"{model.name}: {model.d_step - steps_before} steps in {time.time() - t0:.1f} s"
        + (f"; outputs in {out_dir}" if out_dir is not None else ""))
    return state.history
