"""``python -m gans sample --checkpoint RUN/checkpoint.npz``: generated images, to a .npy."""
from __future__ import annotations

from pathlib import Path

from gans.cli import options


def add_parser(sub):
    sa = sub.add_parser("sample", help="write generated images to a .npy",
                        description="Load a checkpoint written by train and write N generated "
                                    "images, float32 (N, C, H, W) in [-1, 1], to a .npy file "
                                    "(conditional models: labels 0..9 cycled, in NAME.labels.npy "
                                    "beside NAME.npy, where score finds them).")
    sa.add_argument("--checkpoint", required=True, help="checkpoint.npz of a run folder")
    sa.add_argument("--n", type=options.positive_int, default=10000,
                    help="number of images (default: 10000)")
    sa.add_argument("--out", default="samples.npy", type=options.out_file,
                    help="output .npy (default: samples.npy; .npy is added to a name without it)")
    sa.add_argument("--overwrite", action="store_true",
                    help="replace --out and its labels file if they exist (without it, an "
                         "existing one is an error)")
    options.add_device_and_seed(sa, "seeds the noise")
    return sa


def npy_path(text: str) -> Path:
    """Where ``numpy.save(text, ...)`` writes: it adds .npy to a name that does not end so."""
    path = Path(text)
    return path if path.suffix == ".npy" else path.with_name(path.name + ".npy")


def cmd_sample(args):
    import numpy as np

    import minigrad
    from gans.metrics import labels_file
    from gans.protocol import load_model

    out = npy_path(args.out)
    labels_out = labels_file(out)  # NAME.labels.npy: a conditional model writes it
    existing = [p for p in (out, labels_out) if p.exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"{existing[0]} exists: pass --overwrite to replace it, or choose "
                              "another --out")
    minigrad.manual_seed(args.seed)
    model = load_model(args.checkpoint, args.device)
    if model.from_dry_run:
        print(f"note: {args.checkpoint} was written by a dry run (2 steps): its G is untrained")
    images, labels = [], []
    for start in range(0, args.n, 500):
        n = min(500, args.n - start)
        lab = (np.arange(start, start + n) % model.config.n_classes) if model.conditional else None
        images.append(model.sample(n, lab).numpy().astype(np.float32))
        if lab is not None:
            labels.append(lab)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, np.concatenate(images))
    print(f"wrote {args.n} samples to {out}")
    if labels:
        np.save(labels_out, np.concatenate(labels).astype(np.int64))
        print(f"wrote their labels to {labels_out}")
    elif labels_out.exists():  # the labels of the samples just replaced: not these samples'
        labels_out.unlink()
        print(f"removed {labels_out}, the labels of the samples replaced")
