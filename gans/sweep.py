"""``python -m gans sweep``: train variants x seeds at one budget, score each, tabulate.

    python -m gans sweep --models dcgan,lsgan,sngan --seeds 0,1,2 --epochs 3 --out runs/sweep
    python -m gans sweep --models dcgan --seeds 0,1,2 --epochs 3 --framework torch --out runs/sweep
    python -m gans sweep --models sngan --dataset cifar10 --max-steps 1500 --out runs/cifar
    python -m gans sweep --models dcgan --seeds 0 --dataset cifar10 --epochs 100 \
        --max-steps 20000 --score-every 2000 --out runs/curve   # + FID against steps
    python -m gans sweep --out runs/sweep --table     # the table of what is done so far

Each (model, seed) trains with the variant's defaults (its paper's recipe) in its own run folder
under OUT (``fit``: it resumes after an interruption); the budget is ``--epochs`` passes over
the data, or ``--max-steps`` discriminator steps when that comes first, then draws ``--n`` samples (seeded) and
scores them with the dataset's classifier (``gans.metrics``). One JSON line per finished run is
appended to OUT/results.jsonl, with the command that reproduces it; a run already there is not
repeated. ``--framework torch`` trains the PyTorch twin instead (``benchmarks/train_twin.py``:
same initial weights, data order and hyperparameters). The table (OUT/table.md, also printed)
gives each metric's mean and sample standard deviation over the seeds of a row.

``--score-every K`` (minigrad, with ``--max-steps``) also scores each run every K steps: training
pauses, draws ``--n`` samples, scores them into the run folder's curve.jsonl and resumes exactly
where it stopped; curve.png plots the scores against steps.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gans.common import save_image_grid

#: The scores tabulated, in this order, when present (name in the scores dict -> column).
COLUMNS = {"inception_score": "IS", "is": "IS", "fid": "FID", "kid": "KID",
           "precision": "precision", "recall": "recall", "density": "density",
           "coverage": "coverage", "classes_covered": "classes", "classes": "classes",
           "label_accuracy": "label acc", "label_acc": "label acc",
           "intra_fid": "intra-class FID"}


def run_key(row: dict) -> tuple:
    return (row["model"], row["dataset"], row["framework"], budget(row), row["seed"])


def budget(row: dict) -> str:
    """A row's training budget as the table prints it: "5 epochs" or "1500 steps"."""
    steps, epochs = row.get("max_steps"), row["epochs"]
    return f"{steps} steps" if steps else f"{epochs} epoch{'s' * (epochs != 1)}"


def run_folder(out: Path, row: dict) -> Path:
    """The folder of one run (model, dataset, framework, budget, seed) under OUT."""
    limit = f"_s{row['max_steps']}" if row.get("max_steps") else ""
    return Path(out) / (f"{row['model']}_{row['dataset']}_{row['framework']}_e{row['epochs']}"
                        f"{limit}_seed{row['seed']}")


#: The keys of a results row that the table and the sweep read.
ROW_KEYS = ("model", "dataset", "framework", "epochs", "seed", "steps", "wall_s", "scores")


def load_results(out: Path) -> list[dict]:
    """The rows of OUT/results.jsonl (none when it does not exist), one per run: a run recorded
    twice (by a sweep that repeated a seed, before that was refused) counts once, as first
    recorded. A line that is not a row raises a ValueError naming the file and the line."""
    path = out / "results.jsonl"
    if not path.exists():
        return []
    rows = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: not a JSON object (each line is one run's results)")
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            raise ValueError(f"{where}: no {', '.join(missing)} (each line is one run's results, "
                             "as sweep writes them)")
        if not isinstance(row["scores"], dict):
            raise ValueError(f"{where}: scores is {row['scores']!r}, not a JSON object")
        rows.setdefault(run_key(row), row)
    return list(rows.values())


def command_line(model, seed, dataset, epochs, framework, n, out, max_steps=None,
                 score_every=None, threads=None) -> str:
    args = ["python", "-m", "gans", "sweep", "--models", model, "--seeds", str(seed),
            "--dataset", dataset, "--epochs", str(epochs), "--n", str(n), "--out", str(out)]
    if max_steps:
        args += ["--max-steps", str(max_steps)]
    if score_every:
        args += ["--score-every", str(score_every)]
    if framework != "minigrad":
        args += ["--framework", framework]
        if threads:  # torch's thread count is an option with a default: say which ran
            args += ["--threads", str(threads)]
    return shlex.join(args)


def _train_minigrad(model_name, seed, dataset, epochs, folder, n, max_steps=None,
                    score_every=None, log=print):
    import gans
    import minigrad
    from gans import datasets
    from gans.trainer import fit
    from minigrad.data import DataLoader

    minigrad.manual_seed(seed)
    model = gans.get_model(model_name)(datasets.config_for(gans.get_config(model_name), dataset))
    loader = DataLoader(datasets.load(dataset, "train", image_to_image=model.image_to_image),
                        batch_size=model.config.batch_size, shuffle=True, drop_last=True,
                        seed=seed)
    for stop in _stops(max_steps, score_every):
        # each stop resumes the run where the last one ended (bit for bit, as after a kill)
        fit(model, loader, epochs=epochs, max_steps=stop, out_dir=folder, sample_every=0,
            progress=False)
        _write_samples(model, seed, n, folder)
        if score_every and (stop is None or model.d_step <= stop):  # not a later checkpoint's
            _curve_point(model.d_step, folder, dataset, log)
        if stop is not None and model.d_step < stop:
            break  # --epochs ended the run first
    return model.d_step


def _stops(max_steps, score_every) -> list:
    """The steps at which training pauses to be scored: every ``score_every`` and the end."""
    if not score_every:
        return [max_steps]
    return sorted(set(range(score_every, max_steps, score_every)) | {max_steps})


def _write_samples(model, seed, n, folder) -> None:
    import minigrad

    minigrad.manual_seed(seed)  # the samples depend on the seed only, not on how training went
    labels = np.arange(n) % model.config.n_classes if model.conditional else None
    images = [model.sample(min(500, n - s), None if labels is None else labels[s:s + 500]).numpy()
              for s in range(0, n, 500)]
    np.save(folder / "samples.npy", np.concatenate(images).astype(np.float32))
    if labels is not None:
        from gans.metrics import labels_file
        np.save(labels_file(folder / "samples.npy"), labels.astype(np.int64))


def _curve_point(steps, folder, dataset, log) -> None:
    """Score the samples just written and append them to the run's curve.jsonl (once per step
    count: a resumed sweep does not score a point twice)."""
    from gans import metrics

    path = folder / "curve.jsonl"
    done = [json.loads(line)["steps"] for line in path.read_text().splitlines()] \
        if path.exists() else []
    if steps in done:
        return
    scores = _numbers(metrics.score_file(folder / "samples.npy", dataset, verbose=False))
    with open(path, "a") as f:
        f.write(json.dumps({"steps": int(steps), **scores}) + "\n")
    log(f"[sweep] step {steps}: " + ", ".join(f"{k} {v:.3g}" for k, v in scores.items()))
    plot_curve(path, folder / "curve.png")


def plot_curve(curve: Path, png: Path, keys=("fid", "recall", "coverage")) -> None:
    """curve.jsonl as a figure: FID (left) and recall/coverage (right) against steps."""
    from gans.common import pyplot

    plt = pyplot()
    points = [json.loads(line) for line in curve.read_text().splitlines() if line.strip()]
    steps = [p["steps"] for p in points]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(steps, [p.get(keys[0]) for p in points], "o-")
    axes[0].set(xlabel="discriminator steps", ylabel=keys[0].upper())
    for key in keys[1:]:
        axes[1].plot(steps, [p.get(key) for p in points], "o-", label=key)
    axes[1].set(xlabel="discriminator steps", ylim=(0, 1))
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def _numbers(scores: dict) -> dict:
    return {k: v for k, v in scores.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n_samples"}


def _train_torch(model_name, seed, dataset, epochs, folder, n, threads, max_steps=None):
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "benchmarks.train_twin", "--model", model_name, "--dataset",
           dataset, "--epochs", str(epochs), "--seed", str(seed), "--n", str(n), "--out",
           str(folder), "--threads", str(threads)]
    if max_steps:
        cmd += ["--max-steps", str(max_steps)]
    subprocess.run(cmd, check=True, cwd=root)
    return json.loads((folder / "summary.json").read_text())["steps"]


def run_one(model_name, seed, dataset, epochs, out: Path, n=10000, framework="minigrad",
            threads=2, log=print, max_steps=None, score_every=None) -> dict:
    """Train, sample and score one (model, seed); returns the results row (not yet saved)."""
    from gans import metrics

    folder = run_folder(out, {"model": model_name, "dataset": dataset, "framework": framework,
                              "epochs": epochs, "max_steps": max_steps, "seed": seed})
    folder.mkdir(parents=True, exist_ok=True)
    log(f"[sweep] {model_name} seed {seed} ({framework}, "
        f"{budget({'epochs': epochs, 'max_steps': max_steps})}) in {folder}")
    t0 = time.perf_counter()
    if framework == "minigrad":
        steps = _train_minigrad(model_name, seed, dataset, epochs, folder, n, max_steps,
                                score_every, log)
    elif score_every:
        raise ValueError("sweep: --score-every works with --framework minigrad only")
    elif framework == "torch":
        steps = _train_torch(model_name, seed, dataset, epochs, folder, n, threads, max_steps)
    else:
        raise ValueError(f"framework must be minigrad or torch, got {framework!r}")
    wall = time.perf_counter() - t0
    keep = _numbers(metrics.score_file(folder / "samples.npy", dataset, verbose=False))
    return {"model": model_name, "dataset": dataset, "framework": framework, "epochs": epochs,
            "max_steps": max_steps, "seed": seed, "steps": int(steps), "wall_s": round(wall, 1),
            "threads": _threads(framework, threads), "scores": keep,
            "command": command_line(model_name, seed, dataset, epochs, framework, n, out,
                                    max_steps, score_every, threads)}


def _threads(framework, threads) -> int:
    """The threads a run trained with: torch's ``--threads``, or minigrad's BLAS pool."""
    if framework == "torch":
        return threads
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # not a dependency: the count is then unknown
        return None
    pools = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(pools, default=None)


def table(rows: list[dict]) -> str:
    """Markdown: one row per (model, dataset, framework, budget), mean +- std over its seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(run_key(r)[:4], []).append(r)
    present = [k for k in COLUMNS if any(k in r["scores"] for r in rows)]
    cols = list(dict.fromkeys(COLUMNS[k] for k in present))
    head = ["model", "dataset", "framework", "budget", "steps", "seeds", *cols, "min per run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (model, dataset, framework, budget_), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])  # the order they finished in is no order
        steps = sorted({r["steps"] for r in rs})
        cells = [model, dataset, framework, budget_, ",".join(map(str, steps)),
                 ",".join(str(r["seed"]) for r in rs)]
        for col in cols:
            keys = [k for k in present if COLUMNS[k] == col]
            vals = [r["scores"][k] for r in rs for k in keys if k in r["scores"]]
            cells.append(_mean_std(vals, COLUMN_DECIMALS.get(col, DECIMALS)))
        cells.append(f"{np.median([r['wall_s'] for r in rs]) / 60:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("mean +- sample standard deviation over the seeds (one value: a single seed); "
                 "each run's command is in results.jsonl.")
    return "\n".join(lines + agreement(groups))


def agreement(groups: dict) -> list[str]:
    """Markdown lines: for each row trained by both frameworks (two or more seeds each), per
    score the difference of the means, twice its standard error, and Welch's t-test (unequal
    variances; its t distribution is what a handful of seeds calls for, where two standard
    errors is a large-sample rule). "within": p >= 0.05, the difference is what the seeds'
    spread explains."""
    from scipy import stats

    lines = []
    for (model, dataset, framework, budget_), mine in sorted(groups.items()):
        twin = groups.get((model, dataset, "torch", budget_))
        if framework != "minigrad" or not twin or min(len(mine), len(twin)) < 2:
            continue
        if not lines:
            lines = ["", "minigrad against its PyTorch twin: the difference of the means, two "
                     "standard errors of that difference (2 sqrt(s1^2/n1 + s2^2/n2)) and the "
                     "p-value of Welch's t-test; within: p >= 0.05. With several scores "
                     "compared, about one in twenty reads p < 0.05 by chance alone.", "",
                     "| model | dataset | budget | score | minigrad - torch | 2 SE | p (Welch) "
                     "| within |", "|---|---|---|---|---:|---:|---:|---|"]
        for key in [k for k in COLUMNS if all(k in r["scores"] for r in mine + twin)]:
            a = np.array([r["scores"][key] for r in mine], dtype=float)
            b = np.array([r["scores"][key] for r in twin], dtype=float)
            diff = a.mean() - b.mean()
            se2 = 2 * np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
            p = stats.ttest_ind(a, b, equal_var=False).pvalue if se2 > 0 else \
                float(diff == 0)
            lines.append(f"| {model} | {dataset} | {budget_} | {COLUMNS[key]} | {diff:.3g} | "
                         f"{se2:.3g} | {p:.2f} | {'yes' if p >= 0.05 else '**no**'} |")
    return lines


def seed_grids(rows: list[dict], out: Path, n: int = 64) -> list[str]:
    """For each table row of two or more seeds, a grid of the first ``n`` samples of its best
    and of its worst seed by FID (lower is better), written to OUT/grids/; returns markdown
    lines naming them. Runs whose samples.npy is gone are skipped."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if "fid" in r["scores"] and (run_folder(out, r) / "samples.npy").exists():
            groups.setdefault(run_key(r)[:4], []).append(r)
    lines = []
    for key, rs in sorted(groups.items()):
        if len(rs) < 2:
            continue
        rs = sorted(rs, key=lambda r: r["scores"]["fid"])
        for which, r in (("best", rs[0]), ("worst", rs[-1])):
            name = "_".join(str(k).replace(" ", "") for k in key) + f"_{which}_seed{r['seed']}.png"
            images = np.load(run_folder(out, r) / "samples.npy", mmap_mode="r")[:n]
            save_image_grid(np.asarray(images), Path(out) / "grids" / name)
            lines.append(f"- {' / '.join(map(str, key))}: {which} seed {r['seed']} "
                         f"(FID {r['scores']['fid']:.3g}): grids/{name}")
    return ["", "Best and worst seed by FID (the first samples each run scored):", "", *lines] \
        if lines else []


#: Decimals of each column of the table (the same in every row); others get DECIMALS.
COLUMN_DECIMALS = {"IS": 2, "FID": 2, "intra-class FID": 2, "classes": 1}
DECIMALS = 3


def _mean_std(vals, decimals: int = DECIMALS) -> str:
    if not vals:
        return ""
    vals = np.asarray(vals, dtype=float)
    if len(vals) == 1:
        return f"{vals[0]:.{decimals}f}"
    return f"{vals.mean():.{decimals}f} +- {vals.std(ddof=1):.{decimals}f}"


def main(args) -> None:
    """The ``sweep`` command (arguments parsed by gans.__main__)."""
    out = Path(args.out)
    if args.score_every and (not args.max_steps or args.framework != "minigrad"):
        raise ValueError("sweep: --score-every needs --max-steps (the curve's last point) and "
                         "--framework minigrad")
    done = {run_key(r) for r in load_results(out)}
    if not args.table:
        for model_name in args.models:
            for seed in args.seeds:
                key = run_key({"model": model_name, "dataset": args.dataset, "seed": seed,
                               "framework": args.framework, "epochs": args.epochs,
                               "max_steps": args.max_steps})
                if key in done:
                    print(f"[sweep] {model_name} seed {seed}: already in {out / 'results.jsonl'}")
                    continue
                row = run_one(model_name, seed, args.dataset, args.epochs, out, n=args.n,
                              framework=args.framework, threads=args.threads,
                              max_steps=args.max_steps, score_every=args.score_every)
                with open(out / "results.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")
                done.add(key)  # a model or seed named twice is still trained once
                print(f"[sweep] {model_name} seed {seed}: " + ", ".join(
                    f"{k} {v:.3g}" for k, v in row["scores"].items()))
    rows = load_results(out)
    if not rows:
        print(f"[sweep] no finished runs in {out} yet")
        return
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join([table(rows), *seed_grids(rows, out)])
    (out / "table.md").write_text(text + "\n")
    print(text)
