"""A training step replayed from a CUDA graph, against the same step run eagerly and PyTorch's.

    PYTHONPATH=. python -m benchmarks.gpu_graphs [--batches 64,256] [--out DIR]

For the MLP GAN (the lecture's networks, batch 100) and DCGAN-28 (batch 64, and each extra
``--batches``), it builds one minigrad model and its PyTorch twin (``benchmarks.suite``'s step
cases: same networks, weights and data), then times, in turns within one process, a step of:
minigrad eager (``model.train_step``), minigrad replayed (``minigrad.graphs.GraphedStep``: two
eager warm-up steps, one capture, then replays) and PyTorch eager. Each time is the median of
``--repeats`` runs of ``--steps`` steps, the GPU synchronised before and after. Writes
DIR/gpu_graphs.json and .md. The GPU issue's target: the replayed DCGAN-28 and MLP GAN steps
at most 0.5x PyTorch eager's time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _timer(fn, sync, steps):
    def run():
        sync()
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        return (time.perf_counter() - t) / steps
    return run


def measure(name, model_name, batch, steps=50, repeats=5, config=None):
    import torch

    import gans
    import minigrad
    from benchmarks.suite import _batch, bench_config
    from benchmarks.twins import Twin

    minigrad.manual_seed(0)
    cfg = bench_config(model_name, **(config or {}))
    model = gans.get_model(model_name)(cfg, device="cuda")
    twin = Twin(model, seed=0)
    images, labels = _batch(model_name, batch)
    real = minigrad.tensor(images, device="cuda")
    real_th = torch.from_numpy(images).to(twin.device)
    labels_th = torch.from_numpy(labels).to(twin.device)
    eager_model = model
    said = []
    graphed_model = gans.get_model(model_name)(cfg, device="cuda")
    graphed_model.load_state_dict(model.state_dict())
    graphed = minigrad.graphs.GraphedStep(graphed_model, warmup=2, say=said.append)

    def sync():
        minigrad.cuda.synchronize()
        torch.cuda.synchronize()
    from minigrad.kernels import cupy_gpu

    def eager_direct():  # products by cuBLAS called directly, as in a capture
        previous = cupy_gpu.use_direct_cublas(True)
        try:
            eager_model.train_step(real, update_g=True)
        finally:
            cupy_gpu.use_direct_cublas(previous)
    fns = {"minigrad eager": lambda: eager_model.train_step(real, update_g=True),
           "minigrad eager, direct cuBLAS": eager_direct,
           "minigrad replayed": lambda: graphed(real, update_g=True),
           "PyTorch eager": lambda: twin.train_step(real_th, labels_th, update_g=True)}
    for fn in fns.values():  # warm-up: compiles, the capture
        for _ in range(5):
            fn()
    times = {k: [] for k in fns}
    timers = {k: _timer(fn, sync, steps) for k, fn in fns.items()}
    for _ in range(repeats):
        for k, timer in timers.items():
            times[k].append(timer())
    ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    row = {"name": name, "batch": batch, "ms": ms,
           "replayed_over_torch": ms["minigrad replayed"] / ms["PyTorch eager"],
           "eager_over_torch": ms["minigrad eager"] / ms["PyTorch eager"],
           "graphs": len(graphed.graphs), "fallback": graphed.fallback, "said": said,
           "fallback_traceback": graphed.fallback_traceback}
    if graphed.fallback_traceback:
        print(graphed.fallback_traceback, file=sys.stderr, flush=True)
    print(f"{name:32s} eager {ms['minigrad eager']:7.3f} ms  replayed "
          f"{ms['minigrad replayed']:7.3f} ms  torch {ms['PyTorch eager']:7.3f} ms  "
          f"replayed/torch {row['replayed_over_torch']:.2f}"
          + (f"  (fell back: {graphed.fallback})" if graphed.fallback else ""), flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_graphs",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", default="64", help="DCGAN-28 batch sizes, comma-separated")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("runs"))
    args = p.parse_args(argv)
    import minigrad

    if not minigrad.cuda.is_available():
        p.error(f"needs a CUDA GPU: {minigrad.cuda.unavailable_reason()}")
    from gans.vanilla import LECTURE_MLPS  # noqa: F401 - bench_config applies them

    cases = [("MLP GAN step (batch 100)", "vanilla", 100)]
    cases += [(f"DCGAN-28 step (batch {b})", "dcgan", int(b)) for b in args.batches.split(",")]
    rows = []
    for name, model_name, batch in cases:
        try:
            rows.append(measure(name, model_name, batch, args.steps, args.repeats))
        except Exception as e:  # one case's failure is a row, not the end of the report
            print(f"{name}: {type(e).__name__}: {e}", flush=True)
            rows.append({"name": name, "batch": batch, "error": f"{type(e).__name__}: {e}"})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_graphs.json").write_text(json.dumps({"rows": rows}, indent=1))
    lines = ["| case | minigrad eager (ms) | eager, direct cuBLAS (ms) | minigrad replayed (ms) "
             "| PyTorch eager (ms) | replayed / PyTorch |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['name']} | error: {r['error']} | | | | |")
        else:
            m = r["ms"]
            lines.append(f"| {r['name']} | {m['minigrad eager']:.3f} | "
                         f"{m['minigrad eager, direct cuBLAS']:.3f} | "
                         f"{m['minigrad replayed']:.3f} | {m['PyTorch eager']:.3f} | "
                         f"{r['replayed_over_torch']:.2f}x"
                         + (" (fell back)" if r.get("fallback") else "") + " |")
    (args.out / "gpu_graphs.md").write_text("\n".join(lines) + "\n")
    return 1 if any("error" in r or r.get("fallback") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
