"""``fit``: the one training loop. Plumbing only; every GAN's math lives in its ``train_step``.

Per batch it calls ``model.train_step(real, labels, update_g=...)``, where ``update_g`` is True on
every ``model.d_steps_per_g()``-th discriminator step (the k of Goodfellow et al.'s Algorithm 1,
n_critic for the WGANs). Around that it keeps:

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
"""
from __future__ import annotations

import csv
import inspect
import json
import math
import time
from pathlib import Path

import numpy as np

import minigrad
from minigrad import backend
from minigrad.utils.io import load, save
from gans.common import config_dict, save_image_grid


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def check_shapes(model, real) -> None:
    """Sample G once and run D on it (eval mode, no graph, private noise: no state changes).

    Raises ValueError naming both shapes when G's images differ from the data's (D is trained on
    both), or when D cannot take them. Models without a ``G`` and a ``D`` are not checked.
    """
    G, D = getattr(model, "G", None), getattr(model, "D", None)
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
        sq = [float(g @ g) for g in flat]  # a BLAS dot per tensor: no copies
        if sq:
            norms[f"grad_norm_{name}"] = math.sqrt(sum(sq))
    return norms


def _write_csv(history, path):
    cols = ["step", "epoch"] + sorted({k for row in history for k in row} - {"step", "epoch"})
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(history)


def fit(model, loader, *, epochs: int = 1, out_dir="runs/gan", sample_every: int = 500,
        checkpoint_every: int = 1000, resume: bool = True, max_steps: int | None = None,
        progress: bool = True, dry_run: bool = False):
    """Train ``model`` on batches from ``loader`` (yielding (images, labels)); returns history.

    ``max_steps`` stops after that many discriminator steps. ``dry_run``: 2 steps, no progress
    grids on the way; the end-of-run files are written (the checkpoint marked as a dry run).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"model": model.name,
                                                 **config_dict(model.config)}, indent=2))
    if dry_run:
        max_steps, sample_every, checkpoint_every = 2, 0, 0
    if hasattr(loader, "__len__") and len(loader) == 0:
        raise ValueError("the loader yields no batch: is the dataset smaller than the batch size "
                         "(with drop_last=True)?")
    ckpt = out / "checkpoint.npz"
    history, epoch, skip = [], 0, 0
    loader_state = loader.rng.bit_generator.state if hasattr(loader, "rng") else None
    state = load(ckpt) if resume and ckpt.exists() and not dry_run else None
    if state is not None and state["loop"].get("dry_run"):
        print(f"not resuming from {ckpt}: it was written by a dry run")
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        loop = state["loop"]
        epoch, skip = int(loop["epoch"]), int(loop["batch"])
        backend.set_rng_state(loop["rng"])
        if loop.get("loader_rng") is not None:
            loader_state = loop["loader_rng"]
        if (out / "metrics.csv").exists():
            with open(out / "metrics.csv") as f:
                history = [{k: float(v) if v not in ("", None) else math.nan
                            for k, v in row.items()} for row in csv.DictReader(f)]
            history = [{k: v for k, v in r.items() if not math.isnan(v)} for r in history
                       if r["step"] <= model.d_step]
        print(f"resumed from {ckpt} at epoch {epoch}, batch {skip} "
              f"(step {model.d_step})")

    def checkpoint(epoch_, batch_):
        save({"model": model.state_dict(),
              "loop": {"epoch": epoch_, "batch": batch_, "rng": backend.get_rng_state(),
                       "loader_rng": epoch_state, "dry_run": dry_run}}, ckpt)

    bar = None
    if progress:
        from tqdm.auto import tqdm
        total = len(loader) * epochs
        bar = tqdm(total=min(total, max_steps) if max_steps else total, initial=model.d_step,
                   unit="step", dynamic_ncols=True, leave=True)
    last, pending_d, t0, checked = {}, 0, time.time(), False
    position = (epoch, skip)
    try:
        while epoch < epochs:
            epoch_state = loader_state
            if bar is not None:  # the bar itself shows ETA, rate and (postfix) the last losses
                bar.set_description(f"epoch {epoch + 1}/{epochs}", refresh=False)
            if hasattr(loader, "rng") and loader_state is not None:
                loader.rng.bit_generator.state = loader_state
            for batch_i, batch in enumerate(loader):
                if batch_i < skip:
                    continue
                real, labels = batch[0], (batch[1] if len(batch) > 1 else None)
                if not checked:
                    check_shapes(model, real)
                    checked = True
                pending_d += 1
                update_g = pending_d >= model.d_steps_per_g()
                if update_g:
                    pending_d = 0
                stats = model.train_step(real, labels, update_g=update_g)
                stats.update(_grad_norms(model, update_g))
                bad = {k: v for k, v in stats.items() if not math.isfinite(v)}
                if bad:
                    raise TrainingDiverged(
                        f"non-finite loss at step {model.d_step} (epoch {epoch}, batch {batch_i}): "
                        f"{stats}. The last good checkpoint is {ckpt if ckpt.exists() else 'none'};"
                        " try a lower learning rate.")
                last.update(stats)
                history.append({"step": model.d_step, "epoch": epoch, **stats})
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in last.items()}, refresh=False)
                if sample_every and model.d_step % sample_every == 0:
                    save_image_grid(model.sample_fixed(), out / "samples" /
                                    f"step_{model.d_step:07d}.png")
                if checkpoint_every and model.d_step % checkpoint_every == 0:
                    checkpoint(epoch, batch_i + 1)
                position = (epoch, batch_i + 1)
                if max_steps and model.d_step >= max_steps:
                    break
            else:
                skip = 0
                epoch += 1
                position = (epoch, 0)
                loader_state = loader.rng.bit_generator.state if hasattr(loader, "rng") else None
                if not dry_run:
                    _write_csv(history, out / "metrics.csv")
                    _loss_curve(history, out / "loss_curve.png")
                    save_image_grid(model.sample_fixed(), out / "samples" / f"epoch_{epoch:03d}.png")
                    checkpoint(epoch, 0)
                continue
            break  # max_steps reached
    finally:
        if bar is not None:
            bar.close()
    if history:
        _write_csv(history, out / "metrics.csv")
        if not dry_run:
            _loss_curve(history, out / "loss_curve.png")
        save_image_grid(model.sample_fixed(), out / "samples" / "final.png")
        checkpoint(*position)
    elapsed = time.time() - t0
    print(f"{model.name}: {len(history)} steps in {elapsed:.1f} s; outputs in {out}")
    return history
