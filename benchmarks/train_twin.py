"""Train the PyTorch twin of a gans model with the same data, batches, steps and seed, and write
10000 samples for ``python -m gans score``; beside them, as ``python -m gans train`` writes them,
config.json (the model's config) and metrics.csv (one row per D step: the losses the twin's step
returned), so a twin run's curves compare with its minigrad run's.

    python -m benchmarks.train_twin --model vanilla --dataset mnist --epochs 20 \
        --out runs/vanilla_mnist_torch
    python -m gans score runs/vanilla_mnist_torch/samples.npy --dataset mnist
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from gans.cli.config_options import add_config_options, config_class, config_overrides
from gans.metrics import labels_file


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many discriminator steps (as `gans train --max-steps`)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--out", required=True)
    argv = sys.argv[1:] if argv is None else argv
    config_cls = config_class(argv)  # its fields become options, as in `python -m gans train`
    if config_cls is not None:
        add_config_options(p, config_cls)
    args = p.parse_args(argv)

    import torch

    import gans
    import minigrad
    from benchmarks.twins import Twin
    from gans import datasets
    from minigrad.data import DataLoader

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    minigrad.manual_seed(args.seed)
    overrides = config_overrides(args)
    # channels and image size follow the dataset, as in `python -m gans train`
    config = datasets.config_for(gans.get_config(args.model), args.dataset, **overrides)
    model = gans.get_model(args.model)(config)  # only to copy its initial weights and config
    twin = Twin(model, seed=args.seed)
    loader = DataLoader(datasets.load(args.dataset, "train"), batch_size=model.config.batch_size,
                        shuffle=True, drop_last=True, seed=args.seed, to_tensor=False)
    k = model.d_steps_per_g()
    t0, step, rows = time.time(), 0, []
    for epoch in range(args.epochs):
        for images, labels in loader:
            step += 1
            stats = twin.train_step(images, labels, update_g=step % k == 0)
            rows.append({"step": step, "epoch": epoch, **stats})
            if step == args.max_steps:
                break
        print(f"epoch {epoch + 1}/{args.epochs}: step {step}, {stats}, "
              f"{time.time() - t0:.0f} s", flush=True)
        if step == args.max_steps:
            break
    wall = time.time() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_run_files(out, model, rows)
    labels = np.arange(args.n) % model.config.n_classes if twin.conditional else None
    samples = np.concatenate([twin.sample(min(500, args.n - s), None if labels is None else
                                          labels[s:s + 500]) for s in range(0, args.n, 500)])
    np.save(out / "samples.npy", samples.astype(np.float32))
    if labels is not None:
        np.save(labels_file(out / "samples.npy"), labels.astype(np.int64))
    (out / "summary.json").write_text(json.dumps({"model": args.model, "dataset": args.dataset,
                                                  "config": overrides,
                                                  "epochs": args.epochs, "steps": step,
                                                  "max_steps": args.max_steps,
                                                  "wall_s": wall}, indent=1))
    print(f"twin trained {step} steps in {wall:.0f} s; samples in {out / 'samples.npy'}")


def write_run_files(out: Path, model, rows: list[dict]) -> None:
    """config.json as the trainer writes it ({"model": name, **config}) and metrics.csv (step,
    epoch, then each number a step returned; blank where a step had none, e.g. loss_g on a
    D-only step)."""
    from gans.protocol import config_dict

    (out / "config.json").write_text(json.dumps({"model": model.name,
                                                 **config_dict(model.config)}, indent=2))
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
