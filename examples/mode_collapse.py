"""Mode collapse on the 8-Gaussian ring and the 25-Gaussian grid, under VEEGAN's and PacGAN's
protocols, over several seeds: GAN, PacGAN4, WGAN-GP, SNGAN and the best recipe found here.

    python examples/mode_collapse.py                  # 5 methods x 2 datasets x 10 seeds, ~1 h
    python examples/mode_collapse.py --seeds 3 --runs gan,best --datasets ring
    python examples/mode_collapse.py --quick          # 100 steps, 2 seeds (a check)
    python examples/mode_collapse.py --out-dir docs   # rewrite docs/mode_collapse.md and its figures
    python examples/mode_collapse.py --also best@5000x512   # + best at 5000 steps of batch 512

Both protocols score the same 2500 samples of each trained generator (gans/theory.py:
protocol_metrics; the definitions and their sources are in docs/mode_collapse.md). Each run is one
process, one BLAS thread, run one after the other (--jobs N for N processes). The runs, their
cache, the tables, figures and prose of the report are in gans/reports/mode_collapse.py; this
script reads the command line and calls it.

Every finished run is cached (its scores, and seed 0's samples) under --cache (default
runs/mode_collapse/cache), keyed by its full configuration: an interrupted sweep resumes where it
stopped, and once all runs are there the same command only rewrites the report and the figures.
Writes <out-dir>/mode_collapse.md and <out-dir>/img/mode_collapse_{ring,grid}.png (seed 0's
samples at the end of training), default out-dir runs/mode_collapse (runs/mode_collapse_quick with
--quick); the copies tracked in docs/ are rewritten only by naming it: --out-dir docs.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # tiny matmuls: one thread per run

import argparse  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402

from gans import cli  # noqa: E402
from gans.reports import mode_collapse as report  # noqa: E402


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", default=",".join(report.DEFAULT_RUNS),
                   help=f"comma list of {', '.join(report.RUNS)}")
    p.add_argument("--datasets", default="ring,grid")
    p.add_argument("--seeds", type=cli.positive_int, default=10, help="seeds 0..N-1 per run")
    p.add_argument("--steps", type=cli.positive_int, default=2500,
                   help="G steps per run (WGAN-GP: half)")
    p.add_argument("--batch-size", type=cli.positive_int, default=256)
    p.add_argument("--jobs", type=cli.positive_int, default=1,
                   help="runs in parallel (processes)")
    p.add_argument("--cache", default="runs/mode_collapse/cache",
                   help="where finished runs are kept (resume; report-only reruns)")
    p.add_argument("--out-dir", default=None, type=cli.out_folder,
                   help="where the report and pictures go (default: runs/mode_collapse; "
                        "docs to rewrite the tracked ones)")
    p.add_argument("--also", default="", metavar="RUN@STEPSxBATCH,...",
                   help="extra sections: these runs at other budgets, on the same seeds "
                        "(e.g. best@5000x512,best@8000x512)")
    p.add_argument("--quick", action="store_true",
                   help="100 steps, 2 seeds, outputs under runs/mode_collapse_quick")
    args = p.parse_args(argv)
    from minigrad.backend import tune

    tune()  # BLAS and allocator: minigrad/backend/tuning.py
    if args.quick:
        args.steps, args.seeds = 100, 2
    args.out_dir = args.out_dir or ("runs/mode_collapse_quick" if args.quick
                                    else "runs/mode_collapse")
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for n in names:
        if n not in report.RUNS:
            p.error(f"unknown run {n!r}; choose from {', '.join(report.RUNS)}")
    for d in datasets:
        if d not in report.N_MODES:
            p.error(f"unknown dataset {d!r}; choose from ring, grid")
    try:
        also = report.parse_also(args.also)
    except ValueError as exc:
        p.error(str(exc))
    command = "python examples/mode_collapse.py " + " ".join(shlex.quote(a) for a in
                                                              (argv if argv is not None
                                                               else sys.argv[1:]))
    report.sweep(args, names, datasets, also, command.strip())


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
