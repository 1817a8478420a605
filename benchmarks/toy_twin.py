"""A run of examples/mode_collapse.py beside its PyTorch twin, on the same seeds.

    python -m benchmarks.toy_twin --run best_pac2_mix50 --steps 8000 --batch-size 512 \
        --seeds 10 --jobs 2 --out docs/mode_collapse_twin.md

For every seed and mixture, minigrad's run is read from examples/mode_collapse.py's cache (and
trained there first when missing, by gans/reports/mode_collapse.py) and the twin (``benchmarks.twins.train_toy_twin``: the same
initial weights, data stream and schedule, its own latent noise) is trained with torch, one
thread a run; the twin's scores are cached under --cache. Writes one markdown page: both rows
under both protocols, as mean +- standard error over the seeds. GAN and PacGAN runs only.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # tiny matmuls: one thread per run

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from gans import cli  # noqa: E402
from gans.reports import mode_collapse as M  # noqa: E402


def run_twin(job):
    name, dataset, cfg, cache_file = job
    import torch

    from benchmarks.twins import train_toy_twin

    torch.set_num_threads(1)
    metrics, _, seconds = train_toy_twin(cfg)
    rec = {"name": name, "dataset": dataset, "seed": cfg.seed, "steps": cfg.steps,
           "batch": cfg.batch_size, "seconds": seconds, "metrics": metrics}
    Path(cache_file).write_text(json.dumps(rec))
    p = metrics["pacgan"]
    print(f"  torch twin {dataset} seed {cfg.seed}: {p['modes']} modes, "
          f"{100 * p['high_quality']:.1f}% HQ, rev KL {p['reverse_kl']:.3f} [{seconds:.0f} s]",
          flush=True)
    return rec


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", default="best_pac2_mix50",
                   help="a run of examples/mode_collapse.py (method gan or pacgan)")
    p.add_argument("--datasets", default="ring,grid")
    p.add_argument("--seeds", type=cli.positive_int, default=10, help="seeds 0..N-1")
    p.add_argument("--steps", type=cli.positive_int, default=8000)
    p.add_argument("--batch-size", type=cli.positive_int, default=512)
    p.add_argument("--jobs", type=cli.positive_int, default=1, help="runs in parallel")
    p.add_argument("--cache", default="runs/mode_collapse/cache",
                   help="examples/mode_collapse.py's cache; the twins' go in its twin/ folder")
    p.add_argument("--out", default="runs/mode_collapse_twin.md", help="the page to write")
    args = p.parse_args(argv)
    if args.run not in M.RUNS:
        p.error(f"unknown run {args.run!r}; choose from {', '.join(M.RUNS)}")
    if M.RUNS[args.run][1].get("method") not in ("gan", "pacgan"):
        p.error(f"--run {args.run}: the twin covers GAN and PacGAN runs only")
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for d in datasets:
        if d not in M.N_MODES:
            p.error(f"unknown dataset {d!r}; choose from ring, grid")
    cache, out = Path(args.cache), Path(args.out)
    (cache / "twin").mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)

    twin = f"{args.run}_torch"
    M.RUNS[twin] = (M.RUNS[args.run][0] + ", PyTorch twin",) + M.RUNS[args.run][1:]
    records, mine_todo, twin_todo = [], [], []
    for s in range(args.seeds):
        for d in datasets:
            cfg = M.run_config(args.run, d, args.steps, args.batch_size, s)
            key = M.cache_key(cfg)
            for name, f, todo in ((args.run, cache / f"{key}.json", mine_todo),
                                  (twin, cache / "twin" / f"{key}.json", twin_todo)):
                if f.exists():
                    records.append(json.loads(f.read_text()))
                elif name == twin:
                    todo.append((name, d, cfg, str(f)))
                else:
                    todo.append((name, d, cfg, str(cache)))
    print(f"{len(mine_todo)} minigrad and {len(twin_todo)} torch runs to train, "
          f"{args.jobs} at a time", flush=True)
    jobs = [("minigrad", j) for j in mine_todo] + [("torch", j) for j in twin_todo]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        records += list(pool.map(run_job, jobs))
    summary = M.summarise(records, [args.run, twin], datasets)
    command = "python -m benchmarks.toy_twin " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    seconds = "; ".join(
        f"{M.RUNS[n][0]} " + " / ".join(f"{summary[n, d]['seconds']:.0f}" for d in datasets)
        for n in (args.run, twin))
    lines = [f"# {M.RUNS[args.run][0]}: minigrad and its PyTorch twin", "",
             "Made by `benchmarks/toy_twin.py`:", "", f"    {command.strip()}", "",
             f"{args.steps} G steps of batch {args.batch_size}, seeds 0..{args.seeds - 1}; mean ± "
             "standard error over the seeds, as in [mode_collapse.md](mode_collapse.md), whose "
             "protocols and setup these runs follow. The twin (`benchmarks/twins.py`: "
             "`train_toy_twin`) starts from minigrad's initial weights, sees the same data "
             "stream and follows the same schedule (Adam, the learning-rate decay, k, the "
             "non-saturating loss, D frozen for G's step); it draws its own latent codes. GAN "
             "training amplifies rounding differences, so the two agree over seeds, not seed by "
             "seed: compare the means with their standard errors.", ""]
    lines += M.tables(summary, [args.run, twin], datasets)
    lines += [f"Mean training time per run (s, {' / '.join(datasets)}; one thread, two runs side "
              f"by side, beside other work): {seconds}.", ""]
    out.write_text("\n".join(lines))
    print("\n".join(M.tables(summary, [args.run, twin], datasets)))
    print(f"wrote {out}")


def run_job(job):
    framework, arg = job
    return run_twin(arg) if framework == "torch" else M.run_one(arg)


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
