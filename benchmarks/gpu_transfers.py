"""Copies between host and GPU per training step, counted by the CUDA profiler.

    PYTHONPATH=. python -m benchmarks.gpu_transfers [--model dcgan] [--steps 20] [--out DIR]

Trains MODEL on cuda:0 through ``gans.trainer.fit`` (the command line's loop: the step, the
moving average, the logged gradient norms) on random images held on the host, first a few
warm-up steps (kernel compiles), then two windows of ``--steps`` steps under ``torch.profiler``.
CUPTI, which the profiler drives, records every memcpy of the process, CuPy's included, so the
count does not depend on which Python call made a copy. Each step copies its batch to the GPU
(host to device) and nothing back: ``train_step`` leaves its numbers on the device and the
trainer brings them over in ONE device-to-host copy per flush (every ``log_every`` steps and at
the end of the run; no epoch ends inside a window). So the first window, with a ``log_every``
longer than it, must copy to the host exactly once (its final flush), and the second, with
``--log-every`` (default 5), once per flush. Prints one JSON object and writes it to
DIR/transfers.json; exits 1 when a window copies more (or less) to the host than it flushes.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np


def _flushes(first: int, steps: int, log_every: int) -> int:
    """The flushes of steps first+1 .. first+steps: each multiple of log_every, and the end."""
    due = [s for s in range(first + 1, first + steps + 1) if s % log_every == 0]
    return len(due) + (not due or due[-1] != first + steps)


def count(model_name: str = "dcgan", steps: int = 20, warmup: int = 3, batch: int = 64,
          device: str = "cuda", log_every: int = 5) -> dict:
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
    n = batch * (max(steps, warmup) + 1)  # more batches than a window: no epoch end inside
    images = rng.uniform(-1, 1, (n, getattr(cfg, "channels", 1), 28, 28))
    labels = rng.integers(0, 10, n)
    loader = DataLoader(ArrayDataset(images.astype(np.float32), labels.astype(np.int64)),
                        batch_size=batch, shuffle=True, drop_last=True, seed=0, device=device)

    def train(n, every):
        fit(model, loader, epochs=1, out_dir=None, max_steps=model.d_step + n,
            sample_every=0, progress=False, log_every=every)

    def window(every):
        first = model.d_step
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            train(steps, every)
            minigrad.cuda.synchronize()
        kinds = Counter(e.name for e in prof.events() if e.name.startswith("Memcpy"))
        d2h = sum(k for name, k in kinds.items() if "DtoH" in name)
        h2d = sum(k for name, k in kinds.items() if "HtoD" in name)
        expected = _flushes(first, steps, every)
        return {"log_every": every, "steps": model.d_step - first, "flushes": expected,
                "d2h_copies": d2h, "h2d_copies": h2d, "d2h_per_step": d2h / steps,
                "memcpy_kinds": dict(kinds), "ok": d2h == expected}

    train(warmup, 1)
    minigrad.cuda.synchronize()  # (a no-op without a GPU)
    windows = [window(10 * (warmup + 2 * steps)), window(log_every)]
    result = {"model": model_name, "batch": batch, "steps": steps, "windows": windows,
              "torch": torch.__version__}
    # The profiler must see CuPy's copies for the count to mean anything: every step copies
    # its batch to the device, so a trace without host-to-device copies saw nothing.
    result["profiler_sees_cupy"] = all(w["h2d_copies"] >= steps for w in windows)
    result["ok"] = result["profiler_sees_cupy"] and all(w["ok"] for w in windows)
    # copies to the host other than the flushes, over a whole window: inside the steps
    result["d2h_inside_steps"] = max(w["d2h_copies"] - w["flushes"] for w in windows)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_transfers",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="dcgan")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("runs"))
    args = p.parse_args(argv)
    import minigrad
    if not minigrad.cuda.is_available():
        p.error("no GPU: " + minigrad.cuda.unavailable_reason())
    result = count(args.model, args.steps, batch=args.batch, log_every=args.log_every)
    print(json.dumps(result, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transfers.json").write_text(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
