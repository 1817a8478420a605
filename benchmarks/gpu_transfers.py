"""Copies between host and GPU per training step, counted by the CUDA profiler.

    PYTHONPATH=. python -m benchmarks.gpu_transfers [--model dcgan] [--steps 20] [--out DIR]

Trains MODEL on cuda:0 through ``gans.trainer.fit`` (the command line's loop: the step, the
moving average, the logged gradient norms) on random images held on the host, first a few
warm-up steps (kernel compiles), then ``--steps`` steps under ``torch.profiler``. CUPTI, which the
profiler drives, records every memcpy of the process, CuPy's included, so the count does not
depend on which Python call made a copy. Each step should copy its batch to the GPU (host to
device) and bring back only the numbers it logs: one device-to-host copy per logged scalar
(``Tensor.item`` on a loss, one reduction per gradient norm). Prints one JSON object and writes
it to DIR/transfers.json; exits 1 when a step copies more to the host than it logs.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np


def count(model_name: str = "dcgan", steps: int = 20, warmup: int = 3, batch: int = 64,
          device: str = "cuda") -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    import gans
    import minigrad
    from gans.trainer import fit
    from minigrad.data import ArrayDataset, DataLoader

    minigrad.manual_seed(0)
    cfg = gans.get_config(model_name)(batch_size=batch)
    model = gans.get_model(model_name)(cfg, device=device)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch * 4, getattr(cfg, "channels", 1), 28, 28))
    labels = rng.integers(0, 10, batch * 4)
    loader = DataLoader(ArrayDataset(images.astype(np.float32), labels.astype(np.int64)),
                        batch_size=batch, shuffle=True, drop_last=True, seed=0, device=device)
    logged = []

    def train(n):
        fit(model, loader, epochs=10**6, out_dir=None, max_steps=model.d_step + n,
            sample_every=0, progress=False, on_step=lambda m, stats: logged.append(len(stats)))

    train(warmup)
    minigrad.cuda.synchronize()  # (a no-op without a GPU)
    logged.clear()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        train(steps)
        minigrad.cuda.synchronize()
    kinds = Counter()
    for event in prof.events():
        name = event.name
        if name.startswith("Memcpy"):
            kinds[name] += 1
    d2h = sum(n for k, n in kinds.items() if "DtoH" in k)
    h2d = sum(n for k, n in kinds.items() if "HtoD" in k)
    per_step_logged = sum(logged) / max(len(logged), 1)
    result = {"model": model_name, "batch": batch, "steps": len(logged),
              "d2h_copies": d2h, "h2d_copies": h2d, "d2h_per_step": d2h / max(len(logged), 1),
              "logged_scalars_per_step": per_step_logged, "memcpy_kinds": dict(kinds),
              "torch": torch.__version__}
    # The profiler must see CuPy's copies for the count to mean anything: every step copies
    # its batch to the device, so a trace without host-to-device copies saw nothing.
    result["profiler_sees_cupy"] = h2d >= len(logged)
    result["ok"] = result["profiler_sees_cupy"] and d2h <= sum(logged)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_transfers",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="dcgan")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--out", type=Path, default=Path("runs"))
    args = p.parse_args(argv)
    import minigrad
    if not minigrad.cuda.is_available():
        p.error("no GPU: " + minigrad.cuda.unavailable_reason())
    result = count(args.model, args.steps, batch=args.batch)
    print(json.dumps(result, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transfers.json").write_text(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
