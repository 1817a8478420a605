"""Which choices make the vanilla GAN's first run good? Train recipes x seeds, score as they go.

    python examples/vanilla_recipe_sweep.py --recipes lecture,bn_ema_lr4,quarter --seeds 0,1 \\
        --stages 3000,6000,9000 --out runs/vanilla_recipes

Each (recipe, seed) trains the MLP vanilla GAN on MNIST up to each stage's step count (resuming
its own checkpoint between stages, which is exact) and scores 10000 samples there with the
project's classifier (``gans.metrics``): Inception Score, FID, and the smallest and largest class
share. One JSON line per (recipe, seed, stage) is appended to ``OUT/results.jsonl``, with the
training time of the stage; ``--table`` prints the mean and spread over the seeds as the table
in docs/vanilla_recipe.md. ``--step-times`` times a step of each recipe against the first, to
compare recipes at equal time rather than at equal steps.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np

import minigrad
from gans import cli, metrics
from gans.protocol import average_into, warmed_up_decay
from gans.trainer import fit
from gans.vanilla import LECTURE, Config, VanillaGAN
from minigrad.data import DataLoader, mnist_dataset

# Each recipe starts from the lecture's code (LECTURE: its MLPs, Adam's default betas, lr 2e-4,
# no BatchNorm, no moving average) and changes one or two things; the rest (the non-saturating
# loss, dropout in D, batch 100) is the same everywhere. quarter is the default Config.
RECIPES = {
    "lecture": dict(LECTURE),
    "beta05": dict(LECTURE, betas=(0.5, 0.999)),
    "ema": dict(LECTURE, betas=(0.5, 0.999), ema=0.999),  # its "live G" rows are beta05's
    "bn_ema": dict(LECTURE, betas=(0.5, 0.999), g_batch_norm=True, ema=0.999),  # live G: BN only
    "bn_ema_lr4": dict(LECTURE, betas=(0.5, 0.999), g_batch_norm=True, ema=0.999, lr=4e-4),
    "bn_ema_lr6": dict(LECTURE, betas=(0.5, 0.999), g_batch_norm=True, ema=0.999, lr=6e-4),
    "bn_ema_lr4_b64": dict(LECTURE, betas=(0.5, 0.999), g_batch_norm=True, ema=0.999, lr=4e-4,
                           batch_size=64),
}
# Changes to bn_ema_lr4 that alter the cost of a step or what a step achieves; they are
# compared at equal time (docs/vanilla_recipe.md has the time of a step of each).
_BASE = RECIPES["bn_ema_lr4"]
_HALF = dict(g_hidden=(128, 256, 512), d_hidden=(512, 256, 128))  # half as wide
_QUARTER = dict(g_hidden=(64, 128, 256), d_hidden=(256, 128, 64))  # a quarter (the default)
RECIPES.update({
    "half": dict(_BASE, **_HALF),
    "half_nodrop": dict(_BASE, **_HALF, dropout=0.0),
    "quarter": dict(_BASE, **_QUARTER),
    "quarter_nodrop": dict(_BASE, **_QUARTER, dropout=0.0),
    "eighth": dict(_BASE, g_hidden=(32, 64, 128), d_hidden=(128, 64, 32)),
    "nodrop": dict(_BASE, dropout=0.0),
    "b50": dict(_BASE, batch_size=50),
    "ttur_d8": dict(_BASE, lr=8e-4, lr_g=4e-4),  # D twice as fast as G
    # around the default (quarter): larger batches, or one network wider than the other
    "quarter_b200": dict(_BASE, **_QUARTER, batch_size=200),
    "quarter_b200_lr6": dict(_BASE, **_QUARTER, batch_size=200, lr=6e-4),
    "quarter_half_d": dict(_BASE, **dict(_QUARTER, d_hidden=_HALF["d_hidden"])),
    "quarter_half_g": dict(_BASE, **dict(_QUARTER, g_hidden=_HALF["g_hidden"])),
})


class ExtraAverages:
    """Moving averages of G with other decays than the recipe's, kept beside the training (the
    ``on_step`` of ``fit``), so that one run scores several. Each is a decay, or "decay/warmup"
    for another warm-up than the model's (1 + t) / (10 + t) (4: the average spans the last third
    of the run). They live in memory only: a run folder that already has a checkpoint cannot
    have them."""

    def __init__(self, decays):
        self.decays, self.copies = [str(d) for d in decays], {}

    def __call__(self, model, stats):
        if model.step == getattr(self, "_last", None):
            return  # a D step only
        self._last = model.step
        for d in self.decays:
            if d not in self.copies:
                self.copies[d] = copy.deepcopy(model.nets["G"]).requires_grad_(False)
            decay, _, warmup = d.partition("/")
            average_into(self.copies[d], model.nets["G"],
                         warmed_up_decay(float(decay), model.step, float(warmup or 10)))


def run(recipe: str, seed: int, stages, out: Path, n_samples: int, ema_decays=()):
    minigrad.manual_seed(seed)
    config = Config(**RECIPES[recipe])
    model = VanillaGAN(config)
    data = mnist_dataset("train")
    loader = DataLoader(data, batch_size=config.batch_size, shuffle=True, drop_last=True,
                        seed=seed)
    folder = out / f"{recipe}_seed{seed}"
    extra = ExtraAverages(ema_decays) if ema_decays else None
    if extra and (folder / "checkpoint.npz").exists():
        raise FileExistsError(f"{folder} already has a checkpoint: --ema-decays needs a fresh "
                              "run (its averages are not saved); choose another --out")
    done = _done(out / "results.jsonl")
    rows = []
    for steps in stages:
        t0 = time.perf_counter()
        fit(model, loader, epochs=10**6, out_dir=folder, max_steps=steps, sample_every=0,
            checkpoint_every=0, progress=False, on_step=extra)
        train_s = time.perf_counter() - t0
        if model.d_step != steps:  # the folder's run was already past this stage
            raise ValueError(f"{folder} holds a run trained to {model.d_step} steps, past the "
                             f"stage {steps}: its scores would be recorded as step {steps}; "
                             "choose another --out for these stages")
        if (recipe, seed, steps) in done:
            continue  # scored by an earlier sweep
        # With a moving average, G's live weights are scored too (the recipe without it), and
        # so are the extra averages.
        variants = [(recipe, model.ema)] if model.ema else []
        variants.append((recipe + " (live G)" if model.ema else recipe, {}))
        variants += [(f"{recipe} (ema {d})", {"G": net})
                     for d, net in (extra.copies.items() if extra else ())]
        for name, averages in variants:
            kept = model.ema
            model.ema = averages
            try:
                s = _score(model, n_samples)
            finally:
                model.ema = kept
            row = dict(recipe=name, seed=seed, step=steps, train_s=round(train_s, 1),
                       IS=round(s["is"], 3), FID=round(s["fid"], 2),
                       min_class=round(min(s["class_histogram"]), 4),
                       max_class=round(max(s["class_histogram"]), 4),
                       classes=s["classes"], config=RECIPES[recipe])
            print(json.dumps(row), flush=True)
            with open(out / "results.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
            rows.append(row)
    return rows


def step_times(recipes, steps: int = 150, rounds: int = 3) -> dict:
    """Milliseconds a training step (D and G step, with the trainer's bookkeeping) of each recipe,
    timed in turn in this process, ``rounds`` times after 20 warm-up steps each; the median of
    all rounds but the first."""
    data = mnist_dataset("train")
    times = {r: [] for r in recipes}
    for i in range(rounds):
        for recipe in recipes:
            minigrad.manual_seed(0)
            model = VanillaGAN(Config(**RECIPES[recipe]))
            loader = DataLoader(data, batch_size=model.config.batch_size, shuffle=True,
                                drop_last=True, seed=0)
            fit(model, loader, epochs=10**6, out_dir=None, progress=False, max_steps=20)
            t0 = time.perf_counter()
            fit(model, loader, epochs=10**6, out_dir=None, progress=False, max_steps=20 + steps)
            if i or rounds == 1:
                times[recipe].append(1000 * (time.perf_counter() - t0) / steps)
    return {r: float(np.median(t)) for r, t in times.items()}


def _done(path: Path) -> set:
    """(recipe, seed, step) of the rows already in ``path``."""
    if not path.is_file():
        return set()
    return {(r["recipe"], r["seed"], r["step"]) for r in map(json.loads, open(path))}


def _score(model, n_samples):
    """Scores of ``n_samples`` images drawn from fixed noise (the same for every recipe)."""
    images = np.concatenate([model.sample(1000, z=model.latent(
        1000, rng=np.random.default_rng(10_000 + i))).numpy() for i in range(n_samples // 1000)])
    return metrics.score_samples(images, "mnist", verbose=False)


def table(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"no results at {path}: run the sweep with this --out first")
    rows = [json.loads(line) for line in open(path)]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["recipe"], r["step"]), []).append(r)
    lines = ["| recipe | steps | seeds | IS | FID | smallest class | largest class |",
             "|---|---:|---:|---|---|---|---|"]

    def ms(v, fmt):
        v = np.asarray(v, float)
        return f"{fmt.format(v.mean())} +- {fmt.format(v.std(ddof=1) if len(v) > 1 else 0)}"

    for (recipe, step), rs in sorted(groups.items()):
        lines.append(f"| {recipe} | {step} | {len(rs)} | {ms([r['IS'] for r in rs], '{:.2f}')} | "
                     f"{ms([r['FID'] for r in rs], '{:.0f}')} | "
                     f"{ms([100 * r['min_class'] for r in rs], '{:.1f}')}% | "
                     f"{ms([100 * r['max_class'] for r in rs], '{:.1f}')}% |")
    return "\n".join(lines)


def main(argv=None):
    p = cli.script_parser(__doc__)
    p.add_argument("--recipes", default="lecture,ema,bn_ema")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--stages", default="3000,6000,9000")
    p.add_argument("--samples", type=cli.positive_int, default=10000,
                   help="samples scored per point, a multiple of 1000 (default: 10000)")
    p.add_argument("--out", default="runs/vanilla_recipes", type=cli.out_folder)
    p.add_argument("--table", action="store_true", help="print OUT/results.jsonl as a table")
    p.add_argument("--step-times", action="store_true",
                   help="time a step of each recipe (the first is the reference) instead")
    p.add_argument("--ema-decays", default="",
                   help="moving averages of G with these decays, scored beside the recipe's "
                        "(e.g. 0.998,0.9999/4: decay/warm-up; a fresh --out only)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.table:
        print(table(out / "results.jsonl"))
        return
    unknown = set(args.recipes.split(",")) - set(RECIPES)
    if unknown:
        p.error(f"unknown recipe(s) {sorted(unknown)}; known: {', '.join(RECIPES)}")
    if args.step_times:
        times = step_times(args.recipes.split(","))
        ref = next(iter(times.values()))
        for recipe, ms in times.items():
            print(f"{recipe}: {ms:.1f} ms a step, {ms / ref:.2f}x")
        return
    if args.samples % 1000:
        p.error(f"--samples: {args.samples} is not a multiple of 1000 (they are drawn 1000 "
                "at a time)")
    try:
        stages = [int(s) for s in args.stages.split(",")]
    except ValueError:
        stages = []
    if not stages or min(stages) <= 0:
        p.error(f"--stages: {args.stages!r} is not a comma list of step counts > 0")
    ema_decays = [d for d in args.ema_decays.split(",") if d]
    for d in ema_decays:  # checked before any training: "decay" or "decay/warmup"
        decay, _, warmup = d.partition("/")
        try:
            ok = 0 < float(decay) < 1 and (not warmup or float(warmup) >= 1)
        except ValueError:
            ok = False
        if not ok:
            p.error(f"--ema-decays: {d!r} is not a decay in (0, 1), optionally /warm-up >= 1 "
                    "(e.g. 0.998 or 0.9999/4)")
    out.mkdir(parents=True, exist_ok=True)
    for recipe in args.recipes.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            run(recipe, seed, stages, out, args.samples, ema_decays)


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
