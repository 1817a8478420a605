"""The mode-collapse sweep behind docs/mode_collapse.md: its runs, their cache, the scoring
summaries, the tables, figures and prose of the report. ``examples/mode_collapse.py`` is the
command line that drives it (``python examples/mode_collapse.py --help``); the toy GAN and its
pure scoring functions are in :mod:`gans.theory`.

Every finished run is cached (its scores, and seed 0's samples) under the cache folder, keyed
by its full configuration (:func:`cache_key`): an interrupted sweep resumes where it stopped, and
once all runs are there :func:`sweep` only rewrites the report and the figures.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from gans import theory as T
from gans.common import pyplot
from gans.reports.mode_collapse_text import ALSO_TEXT, PROTOCOL_TEXT, SETUP_TEXT

_PLAIN = dict(g_batchnorm=False)
_BEST = dict(method="gan", d_steps=2, g_batchnorm=True)  # the best recipe found here
# name -> (label, config overrides, fraction of --steps it trains for)
RUNS = {
    "gan": ("GAN, k=1", dict(method="gan", d_steps=1, **_PLAIN), 1.0),
    "pacgan4": ("PacGAN4, k=1", dict(method="pacgan", pack=4, d_steps=1, **_PLAIN), 1.0),
    # each WGAN-GP G step costs 5 critic steps with a double backward: half the G steps
    "wgan_gp": ("WGAN-GP, 5 critic steps", dict(method="wgan_gp", d_steps=5, betas=(0.5, 0.9),
                                                **_PLAIN), 0.5),
    # Miyato et al.'s training: 5 D steps per G step, Adam betas (0.5, 0.9), a BatchNorm G;
    # like WGAN-GP, half the G steps for about the same cost
    "sngan": ("SNGAN (spectral norm D, hinge), 5 D steps", dict(method="sngan", d_steps=5,
                                                                betas=(0.5, 0.9)), 0.5),
    "best": ("GAN, k=2, BatchNorm G", dict(_BEST), 1.0),
    # not in the default list
    "pacgan2": ("PacGAN2, k=1", dict(method="pacgan", pack=2, d_steps=1, **_PLAIN), 1.0),
    "gan_k2": ("GAN, k=2", dict(method="gan", d_steps=2, **_PLAIN), 1.0),
    # variations of the best recipe, probed on the grid (docs/mode_collapse_probes/)
    "best_ema": ("GAN, k=2, BatchNorm G, EMA 0.999", dict(_BEST, ema=0.999), 1.0),
    "best_ema99": ("GAN, k=2, BatchNorm G, EMA 0.99", dict(_BEST, ema=0.99), 1.0),
    "best_wide": ("GAN, k=2, BatchNorm G 3 x 256", dict(_BEST, g_hidden=256), 1.0),
    "best_z16": ("GAN, k=2, BatchNorm G, 16-d z", dict(_BEST, latent_dim=16), 1.0),
    "best_k5": ("GAN, k=5, BatchNorm G", dict(_BEST, d_steps=5), 1.0),
    "best_wide_d": ("GAN, k=2, BatchNorm G, D 3 x 256", dict(_BEST, d_hidden=256, d_layers=3),
                    1.0),
    "best_pac2": ("PacGAN2, k=2, BatchNorm G", dict(_BEST, method="pacgan", pack=2), 1.0),
}
# a discrete part in the latent (ToyGANConfig.latent_components): C components, not 25
for _c in (50, 100):
    RUNS[f"best_mix{_c}"] = (f"GAN, k=2, BatchNorm G, {_c} latent components",
                             dict(_BEST, latent_components=_c), 1.0)
for _c in (50, 100, 200):
    RUNS[f"best_pac2_mix{_c}"] = (f"PacGAN2, k=2, BatchNorm G, {_c} latent components",
                                  dict(_BEST, method="pacgan", pack=2, latent_components=_c), 1.0)
DEFAULT_RUNS = ("gan", "pacgan4", "wgan_gp", "sngan", "best")
N_MODES = {"ring": 8, "grid": 25}
# The published rows to compare with: PacGAN4 under PacGAN's protocol (Lin et al. 2018, Table 1
# for the grid; the ring target asks for all 8 modes), GDPP under VEEGAN's (Elfeki et al. 2019)
TARGETS = {"pacgan": {"ring": dict(modes=8.0, high_quality=0.936, reverse_kl=0.04),
                      "grid": dict(modes=24.8, high_quality=0.936, reverse_kl=0.04)},
           "veegan": {"ring": dict(modes=8.0, high_quality=0.717),
                      "grid": dict(modes=25.0, high_quality=0.685)}}


def run_config(name, dataset, steps, batch_size, seed):
    _, overrides, frac = RUNS[name]
    g_steps = max(1, round(steps * frac))
    return T.ToyGANConfig(dataset=dataset, steps=g_steps, batch_size=batch_size, seed=seed,
                          eval_every=g_steps, snapshot_steps=(g_steps,) if seed == 0 else (),
                          **overrides)


def cache_key(cfg):
    fields = dataclasses.asdict(cfg)
    for name in ("latent_components", "lr_decay_epochs", "lr_decay_start"):
        if not fields[name]:  # added later: keys of runs without them stay as they were
            del fields[name]
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run_one(job):
    name, dataset, cfg, cache = job
    res = T.train_toy_gan(cfg)
    rec = {"name": name, "dataset": dataset, "seed": cfg.seed, "steps": cfg.steps,
           "batch": cfg.batch_size, "seconds": res.seconds, "metrics": res.metrics}
    key = cache_key(cfg)
    if cfg.steps in res.snapshots:
        np.save(Path(cache, f"{key}.npy"), res.snapshots[cfg.steps].astype(np.float32))
    Path(cache, f"{key}.json").write_text(json.dumps(rec))
    p, v = res.metrics["pacgan"], res.metrics["veegan"]
    print(f"  {name:8s} {dataset} seed {cfg.seed}: {p['modes']}/{N_MODES[dataset]} modes, "
          f"{100 * p['high_quality']:.1f}% HQ, rev KL {p['reverse_kl']:.3f} (PacGAN); "
          f"{v['modes']} modes, {100 * v['high_quality']:.1f}% (VEEGAN) "
          f"[{res.seconds:.0f} s]", flush=True)
    return rec


def mean_se(values):
    """(mean, standard error of the mean) over the seeds; s.e. = sample std / sqrt(n)."""
    v = np.asarray(values, dtype=np.float64)
    se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
    return float(v.mean()), float(se)


def summarise(records, names, datasets):
    """{(name, dataset): {protocol: {metric: (mean, se)}, 'all_modes': {protocol: count},
    'n': seeds, 'seconds': mean seconds}}"""
    out = {}
    for n in names:
        for d in datasets:
            recs = [r for r in records if r["name"] == n and r["dataset"] == d]
            if not recs:
                continue
            row = {"n": len(recs), "seconds": float(np.mean([r["seconds"] for r in recs])),
                   "steps": recs[0]["steps"], "all_modes": {}}
            for proto in T.PROTOCOLS:
                ms = [r["metrics"][proto] for r in recs]
                row[proto] = {k: mean_se([m[k] for m in ms]) for k in ms[0]}
                row["all_modes"][proto] = sum(m["modes"] == N_MODES[d] for m in ms)
            out[n, d] = row
    return out


def fmt(ms, pct=False, digits=2):
    m, se = ms
    if pct:
        m, se = 100 * m, 100 * se
        digits = 1
    s = f"{m:.{digits}f}"
    return s + ("" if math.isnan(se) else f" ± {se:.{digits}f}")


def met(row, proto, dataset):
    t = TARGETS[proto][dataset]
    m = row[proto]
    ok = m["modes"][0] >= t["modes"] and m["high_quality"][0] >= t["high_quality"]
    if "reverse_kl" in t:
        ok = ok and m["reverse_kl"][0] <= t["reverse_kl"]
    return "yes" if ok else "no"


def tables(summary, names, datasets, level="###"):
    lines = []
    for proto, title in (("pacgan", "PacGAN's protocol"), ("veegan", "VEEGAN's protocol")):
        lines += [f"{level} {title}", ""]
        head = "| method | G steps |"
        for d in datasets:
            head += f" {d}: modes (of {N_MODES[d]}) | {d}: high quality (%) |"
            head += f" {d}: reverse KL |" if proto == "pacgan" else ""
            head += f" {d}: seeds with all modes | {d}: target met |"
        cols = head.count("|") - 1
        lines += [head, "|---" * cols + "|"]
        for n in names:
            if not any((n, d) in summary for d in datasets):
                continue
            steps = next(summary[n, d]["steps"] for d in datasets if (n, d) in summary)
            row = f"| {RUNS[n][0]} | {steps} |"
            for d in datasets:
                s = summary.get((n, d))
                if s is None:
                    row += " - |" * (5 if proto == "pacgan" else 4)
                    continue
                m = s[proto]
                row += f" {fmt(m['modes'], digits=1)} | {fmt(m['high_quality'], pct=True)} |"
                row += f" {fmt(m['reverse_kl'], digits=3)} |" if proto == "pacgan" else ""
                row += f" {s['all_modes'][proto]}/{s['n']} | {met(s, proto, d)} |"
            lines.append(row)
        t = TARGETS[proto]
        if proto == "pacgan":
            lines += ["", "Target (PacGAN4's row): ring 8/8 and grid >= 24.8/25 modes, >= 93.6% "
                      "high quality, reverse KL <= 0.04 (means over the seeds)."]
        else:
            lines += ["", f"Target (GDPP's row): all modes, high quality above "
                      f"{100 * t['ring']['high_quality']:.1f}% (ring) and "
                      f"{100 * t['grid']['high_quality']:.1f}% (grid) (means over the seeds)."]
        lines.append("")
    return lines


def wrap(label, width=34):
    """A panel title on lines of at most ``width`` characters."""
    return textwrap.fill(label, width)


def scatter_figure(panels, dataset, path, columns=5):
    """One scatter per (label, samples) of ``panels``, ``columns`` to a row."""
    import io

    from PIL import Image

    plt = pyplot()

    make_centres, std, _ = T.TOY_DATASETS[dataset]
    centres = make_centres()
    lim = 1.3 if dataset == "ring" else 5.2
    cols = min(columns, len(panels))
    rows = -(-len(panels) // cols)
    height = 2.8 * rows + 0.4  # inches; the top 0.4 for the figure's title
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, height), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (label, s) in zip(axes.flat, panels):
        m = T.protocol_metrics(s, centres, std, "pacgan")
        ax.scatter(centres[:, 0], centres[:, 1], s=40, facecolors="none", edgecolors="C3", lw=0.8)
        ax.scatter(s[:, 0], s[:, 1], s=1, c="C0", alpha=0.5)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xticks=[], yticks=[], aspect="equal")
        ax.set_title(f"{label}\n{m['modes']}/{len(centres)}, "
                     f"{100 * m['high_quality']:.0f}% HQ", fontsize=7)
    fig.suptitle(f"{dataset}, seed 0: 2500 samples at the end of training "
                 f"(red circles: the modes)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height))
    buf = io.BytesIO()
    fig.savefig(buf, dpi=60, format="png")
    plt.close(fig)
    buf.seek(0)  # a palette PNG: the scatter plots shrink 3-4x
    Image.open(buf).convert("RGB").quantize(colors=48).save(path, optimize=True)


def sample_profile(samples, dataset):
    """Where the samples fall, in units of the mixture's std: the fraction within 3 std of their
    nearest centre, the fraction beyond 6 std (between the modes), and the per-axis rms distance
    of the ones within 3 std (the data's own: 1)."""
    make_centres, std, _ = T.TOY_DATASETS[dataset]
    centres = make_centres()
    d2 = ((np.asarray(samples, np.float64)[:, None, :] - centres[None]) ** 2).sum(-1)
    dist = np.sqrt(d2.min(1)) / std
    near = dist <= 3
    rms = float(np.sqrt((dist[near] ** 2).mean() / 2)) if near.any() else float("nan")
    return float(near.mean()), float((dist > 6).mean()), rms


def profile_line(samples_by_run, datasets):
    """One sentence on where seed 0's samples fall, per run and dataset."""
    parts = []
    for n, by_d in samples_by_run.items():
        bits = []
        for d in datasets:
            if d in by_d:
                near, far, rms = sample_profile(by_d[d], d)
                spread = "" if math.isnan(rms) else f", rms {rms:.2f} std"
                bits.append(f"{d} {100 * near:.0f}% within 3 std, {100 * far:.0f}% beyond 6 std"
                            + spread)
        if bits:
            parts.append(f"{RUNS[n][0]}: " + "; ".join(bits))
    if not parts:
        return []
    return ["Where seed 0's samples fall (distance to the nearest centre; rms: the per-axis "
            "spread of those within 3 std, the data's own being 1 std): " + ". ".join(parts)
            + ".", ""]


def parse_also(text):
    """``"best@5000x512,gan@8000x256"`` -> [("best", 5000, 512), ("gan", 8000, 256)]."""
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, budget = item.partition("@")
        steps, _, batch = budget.partition("x")
        if name not in RUNS or not (steps.isdigit() and batch.isdigit()) \
                or int(steps) < 1 or int(batch) < 1:
            raise ValueError(f"--also: {item!r} is not RUN@STEPSxBATCH with RUN one of "
                             f"{', '.join(RUNS)} and positive whole numbers (e.g. best@5000x512)")
        out.append((name, int(steps), int(batch)))
    return out


def targets_met(summary, name, datasets):
    """One sentence: which of the four targets the run ``name`` meets in ``summary``."""
    met_, missed = [], []
    for proto, who in (("veegan", "VEEGAN's"), ("pacgan", "PacGAN's")):
        for d in datasets:
            if (name, d) in summary:
                (met_ if met(summary[name, d], proto, d) == "yes" else missed).append(
                    f"{who} {d}")
    return f"Targets met: {', '.join(met_) or 'none'}; not met: {', '.join(missed) or 'none'}."


def also_sections(extra, datasets, seeds, level="###"):
    """The report's sections for the ``--also`` budgets: ``extra`` is
    [((name, steps, batch), summary, seed 0's samples {dataset: array})]."""
    lines = []
    for (name, steps, batch), summary, samples in extra:
        lines += [f"{level} {RUNS[name][0]}: {steps} G steps, batch {batch}", "",
                  f"The same {seeds} seeds at this budget; mean training time per run (s, "
                  + " / ".join(datasets) + "): "
                  + " / ".join(f"{summary[name, d]['seconds']:.0f}" for d in datasets
                               if (name, d) in summary) + ".", ""]
        lines += tables(summary, [name], datasets, level=level + "#")
        lines += [targets_met(summary, name, datasets), ""]
        lines += profile_line({name: samples}, datasets)
    return lines


def markdown(summary, names, datasets, args, seconds, command, extra=(), samples=None):
    n_seeds = args.seeds
    lines = [
        "# Mode collapse on the ring and the grid, under two protocols", "",
        "Made by `examples/mode_collapse.py` (library code: `gans/theory.py`):", "",
        f"    {command}", "",
        f"{n_seeds} seeds (0..{n_seeds - 1}) per method and dataset; every number is the mean ± "
        "the standard error of the mean over the seeds (sample std / sqrt(seeds)), with how many "
        "of the seeds captured every mode. "
        f"Batch {args.batch_size}, {args.steps} G steps (WGAN-GP: half as many, each with 5 "
        "critic steps). Training time of this table: "
        f"{seconds / 60:.1f} min summed over its runs (each one process with one BLAS thread on "
        f"a {platform.machine()} CPU, timed as it ran, beside other runs and other work).", "",
        "## The two protocols", "",
        PROTOCOL_TEXT, "",
        "## Results", ""]
    lines += tables(summary, names, datasets)
    times = []
    for n in names:
        secs = [f"{summary[n, d]['seconds']:.0f}" for d in datasets if (n, d) in summary]
        if secs:
            times.append(f"{RUNS[n][0]} {' / '.join(secs)}")
    lines += [f"Mean training time per run (s, {' / '.join(datasets)}): " + "; ".join(times)
              + ".", ""]
    lines += profile_line(samples or {}, datasets)
    folder = Path(args.out_dir, "img").as_posix()
    lines += ["Pictures (seed 0, the end of training): "
              + ", ".join(f"`{folder}/mode_collapse_{d}.png`" for d in datasets) + ".", ""]
    if extra:
        lines += ["## The same seeds at larger budgets", "", ALSO_TEXT, ""]
        shown = [d for d in datasets if any(d in samples for *_, samples in extra)]
        if shown:
            lines += ["Pictures (seed 0 at each of these budgets): "
                      + ", ".join(f"`{folder}/mode_collapse_{d}_budgets.png`" for d in shown)
                      + ".", ""]
        lines += also_sections(extra, datasets, n_seeds)
    lines += [SETUP_TEXT, ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- the sweep
def plan(names, datasets, seeds, budgets, cache):
    """The distinct configurations of a sweep in seed-major order (an interrupted sweep leaves
    every method with the same seeds; a budget named twice trains once), split into the
    cached records and the jobs still to train: (configs, records, todo)."""
    configs = {}  # cache key -> (name, dataset, config)
    for s in range(seeds):
        for d in datasets:
            for n, steps, batch in budgets:
                cfg = run_config(n, d, steps, batch, s)
                configs.setdefault(cache_key(cfg), (n, d, cfg))
    configs = list(configs.values())
    records, todo = [], []
    for n, d, cfg in configs:
        f = Path(cache) / f"{cache_key(cfg)}.json"
        if f.exists():
            records.append(dict(json.loads(f.read_text()), batch=cfg.batch_size))
        else:
            todo.append((n, d, cfg, str(cache)))
    return configs, records, todo


def train(todo, jobs):
    """Train the jobs of :func:`plan` (``jobs`` processes at a time); their records."""
    if jobs == 1:
        return [run_one(job) for job in todo]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_one, todo))


def sweep(args, names, datasets, also, command):
    """Train what the cache lacks, then write ``<args.out_dir>/mode_collapse.md`` and its
    figures. ``args``: the example's options (seeds, steps, batch_size, jobs, cache, out_dir);
    ``also``: the extra (name, steps, batch) budgets; ``command``: the line that remakes it."""
    out, cache = Path(args.out_dir), Path(args.cache)
    (out / "img").mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    budgets = [(n, args.steps, args.batch_size) for n in names] + also
    configs, records, todo = plan(names, datasets, args.seeds, budgets, cache)
    print(f"{len(configs)} runs, {len(records)} cached, {len(todo)} to train, "
          f"{args.jobs} at a time", flush=True)
    start = time.perf_counter()
    records += train(todo, args.jobs)
    wall = time.perf_counter() - start

    def of_budget(n, steps, batch):  # the records of one (run, budget)
        want = {run_config(n, d, steps, batch, 0).steps for d in datasets}
        return [r for r in records if r["name"] == n and r["batch"] == batch
                and r["steps"] in want]

    def seed0_samples(n, steps, batch):  # {dataset: seed 0's samples} from the cache
        files = {d: cache / f"{cache_key(run_config(n, d, steps, batch, 0))}.npy"
                 for d in datasets}
        return {d: np.load(f) for d, f in files.items() if f.exists()}

    main_records = [r for n in names for r in of_budget(n, args.steps, args.batch_size)]
    summary = summarise(main_records, names, datasets)
    extra = [(b, summarise(of_budget(*b), [b[0]], datasets), seed0_samples(*b)) for b in also]
    main_samples = {n: seed0_samples(n, args.steps, args.batch_size) for n in names}
    figures(out / "img", names, datasets, main_samples, extra)
    train_seconds = sum(r["seconds"] for r in main_records)  # the main table's runs
    text = markdown(summary, names, datasets, args, train_seconds, command, extra,
                    main_samples)
    (out / "mode_collapse.md").write_text(text)
    print("\n".join(tables(summary, names, datasets) + also_sections(extra, datasets,
                                                                     args.seeds)))
    print(f"wrote {out / 'mode_collapse.md'} and {out / 'img'}/mode_collapse_*.png "
          f"({wall / 60:.1f} min this call; the main table: {train_seconds / 60:.1f} min of "
          "training)")


def figures(folder, names, datasets, main_samples, extra):
    """Seed 0's samples of every run (mode_collapse_<dataset>.png) and of every extra budget
    (mode_collapse_<dataset>_budgets.png) under ``folder``."""
    for d in datasets:
        panels = [(wrap(RUNS[n][0]), main_samples[n][d]) for n in names if d in main_samples[n]]
        if panels:
            scatter_figure(panels, d, folder / f"mode_collapse_{d}.png")
        panels = [(wrap(f"{RUNS[n][0]}, {steps} x {batch}"), samples[d])
                  for (n, steps, batch), _, samples in extra if d in samples]
        if panels:
            scatter_figure(panels, d, folder / f"mode_collapse_{d}_budgets.png")
