"""``python -m gans show RUN``: a run folder's model, config, steps, last losses, pictures and
checkpoint."""
from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub):
    sh = sub.add_parser("show", help="summary and picture paths of a run folder",
                        description="Print a run folder's model, config, step count, last "
                                    "losses, the paths of its pictures and its checkpoint.")
    sh.add_argument("run", help="the run folder (train's --out)")
    return sh


def cmd_show(args):
    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder at {run} (train's --out names one)")
    if not any((run / name).exists() for name in ("config.json", "checkpoint.npz")):
        raise FileNotFoundError(f"{run} is not a run folder: it has no config.json or "
                                "checkpoint.npz (train's --out names one)")
    print(f"run: {run}")
    cfg = run / "config.json"
    if cfg.exists():
        config = json.loads(cfg.read_text())
        print(f"model: {config.pop('model', '?')}")
        data = {k: config.pop(k) for k in ("dataset", "seed") if k in config}  # the CLI's runs
        if data:
            print("trained with: " + ", ".join(f"--{k} {v}" for k, v in data.items()))
        print("config: " + ", ".join(f"{k}={v}" for k, v in config.items()))
    metrics_csv = run / "metrics.csv"
    if metrics_csv.exists():
        import csv

        with open(metrics_csv) as f:
            rows = list(csv.DictReader(f))
        if rows:
            last = rows[-1]
            # metrics.csv counts epochs from 0; the progress bar and the messages from 1
            print(f"steps: {len(rows)} (last step {int(float(last['step']))}, epoch "
                  f"{int(float(last['epoch'])) + 1})")
            print("last: " + ", ".join(f"{k}={float(v):.4f}" for k, v in last.items()
                                       if k not in ("step", "epoch") and v not in ("", None)))
    else:
        print("steps: none recorded yet (no metrics.csv)")
    pictures = _pictures(run)
    print(f"pictures ({len(pictures)}):" if pictures else "pictures: none yet")
    for p in pictures:
        print(f"  {p}")
    ck = run / "checkpoint.npz"
    if ck.exists():
        from minigrad.utils.io import load

        loop = load(ck).get("loop", {})
        print(f"checkpoint: {ck}" + (" (dry run)" if loop.get("dry_run") else ""))


def _pictures(run: Path) -> list:
    """The run's pictures: loss_curve.png and the grids in samples/ (the names the trainer
    writes; a new run removes an earlier run's, so these are the current run's)."""
    from gans.training.run_folder import GRID_NAMES

    grids = run / "samples"
    found = sorted(p for p in grids.iterdir() if GRID_NAMES.fullmatch(p.name)) \
        if grids.is_dir() else []
    return [p for p in [run / "loss_curve.png"] if p.exists()] + found
