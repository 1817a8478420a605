"""Mode collapse on the 8-Gaussian ring and the 25-Gaussian grid: GAN vs PacGAN vs WGAN-GP.

    python examples/mode_collapse.py                 # 10 runs, 2 at a time: ~10-20 min, 2 cores
    python examples/mode_collapse.py --runs gan_k1,pacgan_k1 --datasets ring
    python examples/mode_collapse.py --quick         # 200 steps each (a check)
    python examples/mode_collapse.py --out-dir docs  # regenerate the tracked docs/ files

The VEEGAN / PacGAN protocol: 2500 samples; a sample is *high quality* within 3 standard
deviations of its nearest mode; a mode is *covered* when it is the nearest mode of at least one
high-quality sample. Ring: 8 modes, radius 2, std 0.02. Grid: 25 modes on {-4,-2,0,2,4}^2,
std 0.05. Small MLPs (gans/theory.py: ToyGANConfig): G 2 -> 3 x 128 ReLU -> 2, D 2 -> 2 x 128
LeakyReLU -> 1; batch 512, Adam (lr 1e-3, decayed linearly to 1%), 5000 G steps.

Runs (k = D steps per G step):
    gan_k1      vanilla GAN (non-saturating G loss), k = 1: Algorithm 1 as in the lecture
    pacgan_k1   PacGAN2 (Lin et al. 2018): the same, but D judges pairs of samples
    wgan_gp     WGAN-GP (Gulrajani et al. 2017): 5 critic steps, lambda 0.1, betas (0.5, 0.9)
    gan_k2      vanilla GAN, k = 2
    gan_k2_bn   vanilla GAN, k = 2, BatchNorm after each hidden layer of G
  not run by default (see docs/mode_collapse.md):
    pacgan_k2_bn, wgan_gp_bn   the same fixes with BatchNorm in G

Writes runs/mode_collapse/img/mode_collapse_{ring,grid}.png (samples during training),
.../img/mode_collapse_curves.png (modes and quality over training) and .../mode_collapse.md (the
tables, and the command that made them); --quick writes under runs/mode_collapse_quick/. The
copies tracked in docs/ are rewritten only by naming that folder: --out-dir docs. Each run is
one process with one BLAS thread.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # tiny matmuls: one thread per run, runs in parallel

import argparse  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from gans import cli  # noqa: E402
from gans import theory as T  # noqa: E402

_PLAIN = dict(g_batchnorm=False)
RUNS = {  # name -> (label, config overrides)
    "gan_k1": ("GAN, k=1", dict(method="gan", d_steps=1, **_PLAIN)),
    "pacgan_k1": ("PacGAN2, k=1", dict(method="pacgan", pack=2, d_steps=1, **_PLAIN)),
    "wgan_gp": ("WGAN-GP, 5 critic steps", dict(method="wgan_gp", d_steps=5, betas=(0.5, 0.9),
                                                **_PLAIN)),
    "gan_k2": ("GAN, k=2", dict(method="gan", d_steps=2, **_PLAIN)),
    "gan_k2_bn": ("GAN, k=2, BatchNorm G", dict(method="gan", d_steps=2, g_batchnorm=True)),
    # not in the default list
    "pacgan_k2_bn": ("PacGAN2, k=2, BatchNorm G", dict(method="pacgan", pack=2, d_steps=2,
                                                       g_batchnorm=True)),
    "wgan_gp_bn": ("WGAN-GP, 5 critic steps, BatchNorm G",
                   dict(method="wgan_gp", d_steps=5, betas=(0.5, 0.9), g_batchnorm=True)),
}
DEFAULT_RUNS = ("gan_k1", "pacgan_k1", "wgan_gp", "gan_k2", "gan_k2_bn")
N_MODES = {"ring": 8, "grid": 25}


def run_one(job):
    name, dataset, steps, seed, snapshots, eval_every = job
    cfg = T.ToyGANConfig(dataset=dataset, steps=steps, seed=seed, snapshot_steps=snapshots,
                         eval_every=eval_every, **RUNS[name][1])
    res = T.train_toy_gan(cfg)
    m, hq = res.final
    print(f"  {name:9s} {dataset}: {m}/{N_MODES[dataset]} modes, {100 * hq:.1f}% high quality "
          f"({res.seconds:.0f} s)", flush=True)
    return name, dataset, seed, res


def save_small(fig, path, dpi):
    """Save as a palette PNG (a few dozen colours): the scatter plots shrink 3-4x."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    buf.seek(0)
    Image.open(buf).convert("RGB").quantize(colors=48).save(path, optimize=True)


def scatter_figure(results, dataset, snapshots, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in RUNS if (n, dataset) in results]
    make_centres, std, _ = T.TOY_DATASETS[dataset]
    centres = make_centres()
    lim = 2.6 if dataset == "ring" else 5.2
    fig, axes = plt.subplots(len(names), len(snapshots), figsize=(2.3 * len(snapshots),
                                                                  2.4 * len(names)),
                             squeeze=False)
    for i, name in enumerate(names):
        res = results[name, dataset]
        hist = {h[0]: h for h in res.history}
        for j, step in enumerate(snapshots):
            ax = axes[i, j]
            s = res.snapshots[step]
            ax.scatter(centres[:, 0], centres[:, 1], s=40, facecolors="none",
                       edgecolors="C3", lw=0.8)
            ax.scatter(s[:, 0], s[:, 1], s=1, c="C0", alpha=0.5)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            _, m, hq = hist[step]
            ax.set_title(f"step {step}: {m}/{len(centres)}, {100 * hq:.0f}% HQ", fontsize=8)
            if j == 0:
                ax.set_ylabel(RUNS[name][0], fontsize=8)
    fig.suptitle(f"{dataset}: samples during training (red circles: the modes)", fontsize=10)
    fig.tight_layout()
    save_small(fig, path, dpi=55)
    plt.close(fig)


def curves_figure(results, datasets, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 6), squeeze=False)
    for j, dataset in enumerate(datasets):
        for k, name in enumerate(RUNS):
            if (name, dataset) not in results:
                continue
            h = np.asarray(results[name, dataset].history, dtype=float)
            axes[0, j].plot(h[:, 0], h[:, 1], "-o", ms=3, color=f"C{k}", label=RUNS[name][0])
            axes[1, j].plot(h[:, 0], 100 * h[:, 2], "-o", ms=3, color=f"C{k}")
        axes[0, j].axhline(N_MODES[dataset], color="k", ls=":", lw=1)
        axes[0, j].set_title(f"{dataset}: modes covered (of {N_MODES[dataset]})")
        axes[1, j].axhline(80, color="k", ls=":", lw=1)
        axes[1, j].set_title(f"{dataset}: % high-quality samples")
        axes[1, j].set_xlabel("G step")
        axes[1, j].set_ylim(0, 100)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    save_small(fig, path, dpi=60)
    plt.close(fig)


def markdown(results, datasets, args, seconds, command):
    lines = ["# Mode collapse on the ring and the grid", "",
             "Made by `examples/mode_collapse.py` (library code: `gans/theory.py`):", "",
             f"    {command}", "",
             f"{args.steps} G steps (k = D steps per G step), batch 512, seed {args.seed}; "
             f"{seconds / 60:.1f} min wall clock for all runs, {args.jobs} at a time "
             f"({platform.machine()}, one BLAS thread per run).",
             "Protocol (VEEGAN / PacGAN): 2500 samples; *high quality* = within 3 std of the "
             "nearest mode; a mode is *covered* when it is the nearest mode of at least one "
             "high-quality sample. Ring: 8 modes, radius 2, std 0.02; grid: 25 modes on "
             "{-4,-2,0,2,4}^2, std 0.05.", "",
             "## At the end of training", ""]
    head = "| method |" + "".join(f" {d}: modes | {d}: high quality |" for d in datasets) \
        + " time per run |"
    lines += [head, "|---" * (1 + 2 * len(datasets) + 1) + "|"]
    for name, (label, _) in RUNS.items():
        if not any((name, d) in results for d in datasets):
            continue
        row = f"| {label} |"
        secs = []
        for d in datasets:
            if (name, d) in results:
                m, hq = results[name, d].final
                row += f" {m}/{N_MODES[d]} | {100 * hq:.1f}% |"
                secs.append(results[name, d].seconds)
            else:
                row += " - | - |"
        lines.append(row + f" {np.mean(secs):.0f} s |")
    targets = {"ring": (8, 0.8), "grid": (24, 0.8)}
    met = [RUNS[n][0] for n in RUNS
           if all((n, d) in results and results[n, d].final[0] >= targets[d][0]
                  and results[n, d].final[1] >= targets[d][1] for d in datasets)]
    lines += ["", "Targets (" + ", ".join(
        f"{d}: >= {targets[d][0]}/{N_MODES[d]} modes with >= 80% high quality"
        for d in datasets) + f"): met by {', '.join(met) if met else 'none of these runs'}."]
    lines += ["", "## Over training (modes covered / % high quality)", ""]
    for d in datasets:
        steps = [h[0] for h in next(results[n, d] for n in RUNS if (n, d) in results).history]
        lines += [f"**{d}**", "", "| method |" + "".join(f" {s} |" for s in steps),
                  "|---" * (1 + len(steps)) + "|"]
        for name, (label, _) in RUNS.items():
            if (name, d) in results:
                cells = "".join(f" {m}/{100 * hq:.0f}% |" for _, m, hq in results[name, d].history)
                lines.append(f"| {label} |{cells}")
        lines.append("")
    pictures = [f"mode_collapse_{d}.png" for d in datasets] + ["mode_collapse_curves.png"]
    folder = Path(args.out_dir, "img").as_posix()
    lines += ["Pictures: " + ", ".join(f"`{folder}/{p}`" for p in pictures) + ".", ""]
    return "\n".join(lines)


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", default=",".join(DEFAULT_RUNS),
                   help=f"comma list of {', '.join(RUNS)}")
    p.add_argument("--datasets", default="ring,grid")
    p.add_argument("--steps", type=cli.positive_int, default=5000, help="G steps per run")
    p.add_argument("--seed", type=cli.non_negative_int, default=0)
    p.add_argument("--jobs", type=cli.positive_int, default=2,
                   help="runs in parallel (processes)")
    p.add_argument("--out-dir", default=None, type=cli.out_folder,
                   help="where the pictures and the tables go (default: runs/mode_collapse; "
                        "docs to rewrite the tracked ones)")
    p.add_argument("--quick", action="store_true",
                   help="200 steps, outputs under runs/mode_collapse_quick")
    args = p.parse_args(argv)
    if args.quick:
        args.steps = 200
    args.out_dir = args.out_dir or ("runs/mode_collapse_quick" if args.quick
                                    else "runs/mode_collapse")
    out = Path(args.out_dir)
    (out / "img").mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for n in names:
        if n not in RUNS:
            p.error(f"unknown run {n!r}; choose from {', '.join(RUNS)}")
    for d in datasets:
        if d not in N_MODES:
            p.error(f"unknown dataset {d!r}; choose from ring, grid")

    s = args.steps
    snapshots = tuple(sorted({s // 10, s // 4, s // 2, s}))
    eval_every = max(1, s // 10)
    jobs = [(n, d, s, args.seed, snapshots, eval_every) for d in datasets for n in names]
    print(f"{len(jobs)} runs of {s} steps, {args.jobs} at a time", flush=True)
    start = time.perf_counter()
    results = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for name, dataset, _, res in pool.map(run_one, jobs):
            results[name, dataset] = res
    seconds = time.perf_counter() - start

    for d in datasets:
        scatter_figure(results, d, snapshots, out / "img" / f"mode_collapse_{d}.png")
    curves_figure(results, datasets, out / "img" / "mode_collapse_curves.png")
    command = "python " + " ".join(shlex.quote(a) for a in
                                   [str(Path(sys.argv[0]).as_posix())] + sys.argv[1:])
    if command.startswith("python /"):
        command = "python examples/mode_collapse.py " + " ".join(sys.argv[1:])
    text = markdown(results, datasets, args, seconds, command.strip())
    (out / "mode_collapse.md").write_text(text)
    print()
    print(text.split("## Over training")[0].split("## At the end of training")[1].strip())
    print(f"\nwrote {out / 'mode_collapse.md'} and {out / 'img'}/mode_collapse_*.png "
          f"({seconds / 60:.1f} min)")


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
