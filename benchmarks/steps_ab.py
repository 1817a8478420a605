"""Training steps of two minigrad checkouts (before/after) and PyTorch, each in its own process.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        python -m benchmarks.steps_ab --before /path/to/main --models dcgan acgan --rounds 2

For each model, the processes alternate: minigrad from --before, minigrad from this checkout,
PyTorch, and again (--rounds times). Each process builds the model (benchmarks/suite.py's
``step_case``: same weights and batches for both frameworks), runs 3 warm-up steps and times 15,
and reports the median wall time and the median **CPU time** of the process
(``time.process_time``). On a loaded machine the CPU time is the fairer figure for 1-thread runs:
it does not count the time spent waiting for a core (it still includes cache and memory
contention). With more than one thread it adds up all threads, spinning ones included, so use
wall time there (and an idle machine).

Models: vanilla (batch 100), dcgan, acgan, wgan_gp_conv, wgan_gp_mlp (batch 64); at 3x32x32:
dcgan32, sngan32, wgan_gp_conv32 (batch 64).
Writes runs/steps_ab.json and steps_ab.md (or under --out) and prints the markdown table: the
median over processes and their range (CPU time at one thread, wall time at more).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

MODELS = {"vanilla": ("vanilla", {}, None), "dcgan": ("dcgan", {}, 64),
          "acgan": ("acgan", {}, 64), "wgan_gp_conv": ("wgan_gp", {"critic": "conv"}, 64),
          "wgan_gp_mlp": ("wgan_gp", {"critic": "mlp"}, 64),
          # colour, 3x32x32
          "dcgan32": ("dcgan", {"img_size": 32, "channels": 3}, 64),
          "sngan32": ("sngan", {"img_size": 32, "channels": 3}, 64),
          "wgan_gp_conv32": ("wgan_gp", {"critic": "conv", "img_size": 32, "channels": 3}, 64)}


# Run with ``python -c`` in the checkout being timed, so that its own minigrad, gans and
# benchmarks.suite are imported (the 'before' checkout need not have this file).
CHILD = """
import json, os, statistics, sys, time
import minigrad.backend as backend
getattr(backend, 'tune', lambda: None)()  # (a checkout from before tune() tuned at import)
from benchmarks.suite import step_case
framework, name, cfg, batch, steps, warmup = {args!r}
fn_mg, fn_th = step_case(name, batch=batch, **cfg)("cpu")
if framework == "torch":
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
fn = fn_th if framework == "torch" else fn_mg
for _ in range(warmup):
    fn()
wall, cpu = [], []
for _ in range(steps):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    wall.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
print(json.dumps({{"wall_ms": 1e3 * statistics.median(wall),
                  "cpu_ms": 1e3 * statistics.median(cpu)}}))
"""


#: The environment as the user started this process: each child gets it, not what this
#: process's tune() added, so that each checkout's own tune() decides (e.g. a 'before'
#: checkout that did not shorten OpenBLAS's idle spin runs without it).
_USER_ENV = dict(os.environ)


def _run(root, framework, model, steps=15, warmup=3):
    name, cfg, batch = MODELS[model]
    code = CHILD.format(args=(framework, name, cfg, batch, steps, warmup))
    env = dict(_USER_ENV, PYTHONPATH=str(root))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=root)
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    from benchmarks import machine

    p = argparse.ArgumentParser(prog="python -m benchmarks.steps_ab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, required=True, help="root of the 'before' checkout")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs"))
    args = p.parse_args(argv)
    from minigrad.backend import tune

    tune()
    after = Path(__file__).resolve().parent.parent
    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or None
    load_before = machine.load_average()
    results = {}
    for model in args.models:
        runs = {"before": [], "after": [], "torch": []}
        for _ in range(args.rounds):
            runs["before"].append(_run(args.before, "minigrad", model))
            runs["after"].append(_run(after, "minigrad", model))
            runs["torch"].append(_run(after, "torch", model))
        results[model] = runs
        print(model, {k: [(round(r["cpu_ms"], 1), round(r["wall_ms"], 1)) for r in v]
                      for k, v in runs.items()}, flush=True)
    info = machine.describe(threads, load_before, machine.load_average())
    # CPU time at one thread (fair on a loaded machine); wall time at more, where the CPU time
    # adds up every thread, spinning ones included (see the module docstring)
    key = "cpu_ms" if (threads or 1) == 1 else "wall_ms"
    text = f"{machine.load_note(info)}; " + table(results, key)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "steps_ab.json").write_text(json.dumps({"machine": info, "before":
                                                         str(args.before), "runs": results},
                                                        indent=1))
    (args.out / "steps_ab.md").write_text(text + "\n")


def table(results, key):
    """Markdown: per model, the median over processes of each side and, beside it, the range
    over processes (on a shared machine the spread is as informative as the median), then the
    two ratios of medians. ``results``: {model: {"before"|"after"|"torch": [per-process dicts]}}."""
    what = "CPU time" if key == "cpu_ms" else "wall time"
    rounds = max(len(v) for runs in results.values() for v in runs.values())
    lines = [f"{what}, median (min-max) over {rounds} processes each", "",
             "| step | before (ms) | after (ms) | PyTorch (ms) | before / torch | "
             "after / torch |", "|---|---:|---:|---:|---:|---:|"]
    for model, runs in results.items():
        vals = {k: [r[key] for r in v] for k, v in runs.items()}
        med = {k: statistics.median(v) for k, v in vals.items()}
        cell = {k: f"{med[k]:.1f} ({min(v):.1f}-{max(v):.1f})" for k, v in vals.items()}
        lines.append(f"| {model} | {cell['before']} | {cell['after']} | {cell['torch']} | "
                     f"{med['before'] / med['torch']:.2f}x | {med['after'] / med['torch']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
