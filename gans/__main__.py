"""The command line of the GAN zoo: ``python -m gans {list,train,sample,score,show,sweep} --help``.

    python -m gans list                                         # the variants
    python -m gans train --model wgan_gp --dataset random --dry-run --out runs/try
    python -m gans train --model wgan_gp --help                 # + that variant's config options
    python -m gans show runs/try                                # summary and picture paths
    python -m gans sample --checkpoint runs/try/checkpoint.npz --n 1000 --out runs/try/s.npy
    python -m gans score runs/try/s.npy --dataset mnist         # IS, FID, KID, precision, ...
    python -m gans sweep --models dcgan,sngan --seeds 0,1,2 --epochs 3 --out runs/sweep
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import minigrad  # noqa: F401  (before NumPy: it picks OpenBLAS's kernels, see minigrad/__init__)
import numpy as np

from gans import cli


def _parse_value(text: str, default, name: str = ""):
    """A config option's value, of the type of the field's ``default``; ArgumentTypeError names
    what was expected (argparse prefixes the option)."""
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected true or false)")
    if isinstance(default, tuple):
        # Layer sizes (*_hidden) may have any length; betas and the like have the default's.
        size = None if name.endswith("_hidden") or not default else len(default)
        kind = type(default[0]) if default else float
        try:
            values = tuple(kind(v) for v in text.split(","))
        except ValueError:
            values = None
        if values is None or (size is not None and len(values) != size):
            count = f"{size} comma-separated" if size else "comma-separated"
            what = "whole numbers" if kind is int else "numbers"
            example = ",".join(map(str, default))
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r} (expected {count} {what}, like {example})")
        return values
    if default is None or isinstance(default, str):
        return text
    if isinstance(default, int):
        # sizes and counts: never negative; a batch and a step ratio hold at least one
        return cli.positive_int(text) if name in ("batch_size", "d_steps") \
            else cli.non_negative_int(text)
    return cli.number(text)


def _field_comments(config_cls) -> dict:
    """The ``# comment`` after each field in the Config's source (shown in --help)."""
    import inspect
    import re

    try:
        source = inspect.getsource(config_cls)
    except (OSError, TypeError):
        return {}
    return {m.group(1): m.group(2).strip() for m in
            re.finditer(r"^\s+(\w+)\s*:[^=\n]*=[^#\n]*#\s*(.+)$", source, re.M)}


def _metavar(default) -> str:
    if isinstance(default, bool):
        return "BOOL"
    if isinstance(default, tuple):
        return "A,B,..."
    return {int: "INT", float: "FLOAT"}.get(type(default), "STR")


def _add_config_options(parser, config_cls):
    group = parser.add_argument_group(
        f"{config_cls.__module__}.Config (the paper's defaults; tuples as comma lists)")
    comments = _field_comments(config_cls)
    for f in dataclasses.fields(config_cls):
        default = f.default
        if default is None:  # n_classes of an unconditional model: nothing to set
            continue
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        note = f"{comments[f.name]}; " if f.name in comments else ""
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}", default=None,
                           type=lambda t, d=default, n=f.name: _parse_value(t, d, n),
                           metavar=_metavar(default),
                           help=f"{note}default: {shown}")


def cmd_list(args):
    import gans

    for name in gans.available():
        cls = gans.get_model(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"{name:10s} {doc}")


def _build_model(args, config_cls):
    import gans

    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    from gans.datasets import config_for

    config = config_for(config_cls, args.dataset, **overrides)  # channels, img_size: the data's
    return gans.get_model(args.model)(config, device=args.device)


#: Set by MPI launchers (MPICH/Intel MPI's hydra, Open MPI) in the processes they start.
_MPI_LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def _join_mpi_job() -> tuple[int, int]:
    """Under ``mpiexec -n N``: join the job (rank, world size); started alone: (0, 1)."""
    import os

    from minigrad import distributed as dist

    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if not any(v in os.environ for v in _MPI_LAUNCHER_VARS):
        return 0, 1
    dist.init_process_group("mpi")
    return dist.get_rank(), dist.get_world_size()


def cmd_train(args, config_cls):
    import minigrad
    from gans import datasets
    from gans.trainer import fit
    from minigrad.data import DataLoader, DistributedSampler

    rank, world = _join_mpi_job()
    minigrad.manual_seed(args.seed)  # the same weights everywhere (DDP copies rank 0's anyway)
    model = _build_model(args, config_cls)
    if world > 1:
        minigrad.manual_seed(args.seed + rank)  # but each process its own noise
    batch = model.config.batch_size
    # random: enough noise images for two batches of this model's size (drop_last below).
    ds = datasets.load(args.dataset, "train", n=2 * batch if args.dataset == "random" else None,
                       image_to_image=model.image_to_image)
    device = args.device if args.device != "cpu" else None
    if world == 1:
        loader = DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, seed=args.seed,
                            device=device)
    else:  # --batch-size stays the global batch: each of the N processes takes batch / N of it
        if batch % world:
            raise ValueError(f"the batch size {batch} does not split over {world} processes: "
                             f"choose a multiple of {world} (--batch-size)")
        sampler = DistributedSampler(ds, shuffle=True, seed=args.seed, drop_last=True)
        loader = DataLoader(ds, batch_size=batch // world, sampler=sampler, drop_last=True,
                            device=device)
    out = args.out or cli.out_folder(f"runs/{args.model}_{args.dataset.split(':')[0]}")
    fit(model, loader, epochs=args.epochs, out_dir=out, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, max_steps=args.max_steps, dry_run=args.dry_run,
        resume=not args.restart, progress=not args.no_progress)
    if rank == 0:
        print(f"checkpoint: {Path(out) / 'checkpoint.npz'}"
              + (f" ({world} processes)" if world > 1 else ""))


def _check_file(path, magic: bytes, what: str, hint: str) -> None:
    """Raise a one-line error unless ``path`` is a file starting with ``magic``."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no {what} at {path} ({hint})")
    with open(path, "rb") as f:
        if f.read(len(magic)) != magic:
            raise ValueError(f"{path} is not a {what} ({hint})")


def load_model(checkpoint, device="cpu"):
    """Rebuild a trained model from a checkpoint written by the trainer."""
    import gans
    from gans.protocol import config_from_dict
    from minigrad.utils.io import load

    _check_file(checkpoint, b"PK", "checkpoint", "train writes one into its --out folder")
    ckpt = load(checkpoint)
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("model"), dict)
            and "name" in ckpt["model"]):
        keys = ", ".join(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{checkpoint} is not a checkpoint written by `python -m gans train` "
                         f"(it holds: {keys})")
    state = ckpt["model"]
    name = state["name"]
    if name not in gans.REGISTRY:
        raise ValueError(f"{checkpoint} holds a model {name!r} that this version of gans does "
                         f"not know (known: {', '.join(gans.available())})")
    config = config_from_dict(gans.get_config(name), state["config"])
    model = gans.get_model(name)(config, device=device)
    model.load_state_dict(state)
    return model


def cmd_sample(args):
    import minigrad

    minigrad.manual_seed(args.seed)
    model = load_model(args.checkpoint, args.device)
    images, labels = [], []
    for start in range(0, args.n, 500):
        n = min(500, args.n - start)
        lab = (np.arange(start, start + n) % model.config.n_classes) if model.conditional else None
        images.append(model.sample(n, lab).numpy().astype(np.float32))
        if lab is not None:
            labels.append(lab)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, np.concatenate(images))
    print(f"wrote {args.n} samples to {out}")
    if labels:
        np.save(out.with_name("labels.npy"), np.concatenate(labels).astype(np.int64))
        print(f"wrote their labels to {out.with_name('labels.npy')}")


def cmd_score(args):
    from gans import metrics

    _check_file(args.samples, b"\x93NUMPY", "samples file (.npy)",
                "`python -m gans sample` writes one")
    if not args.json:
        scores = metrics.score_file(args.samples, args.dataset, labels_path=args.labels)
        print(metrics.format_scores(scores, metrics.real_ceiling(args.dataset)))
        return
    import contextlib                       # --json: the object alone on stdout, notes on stderr
    with contextlib.redirect_stdout(sys.stderr):
        scores = metrics.score_file(args.samples, args.dataset, labels_path=args.labels)
    print(json.dumps(scores, allow_nan=False))


def cmd_show(args):
    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder at {run} (train's --out names one)")
    print(f"run: {run}")
    cfg = run / "config.json"
    if cfg.exists():
        config = json.loads(cfg.read_text())
        print(f"model: {config.pop('model', '?')}")
        print("config: " + ", ".join(f"{k}={v}" for k, v in config.items()))
    metrics_csv = run / "metrics.csv"
    if metrics_csv.exists():
        import csv

        with open(metrics_csv) as f:
            rows = list(csv.DictReader(f))
        if rows:
            last = rows[-1]
            print(f"steps: {len(rows)} (last step {int(float(last['step']))}, epoch "
                  f"{int(float(last['epoch']))})")
            print("last: " + ", ".join(f"{k}={float(v):.4f}" for k, v in last.items()
                                       if k not in ("step", "epoch") and v not in ("", None)))
    else:
        print("steps: none recorded yet (no metrics.csv)")
    pictures = sorted(run.rglob("*.png"))
    print(f"pictures ({len(pictures)}):" if pictures else "pictures: none yet")
    for p in pictures:
        print(f"  {p}")
    ck = run / "checkpoint.npz"
    if ck.exists():
        from minigrad.utils.io import load

        loop = load(ck).get("loop", {})
        print(f"checkpoint: {ck}" + (" (dry run)" if loop.get("dry_run") else ""))


def _model_name(argv):
    """The --model value in a train command line (``--model x`` or ``--model=x``), or None."""
    for i, a in enumerate(argv):
        if a == "--model" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--model="):
            return a.split("=", 1)[1]
    return None


def _dataset_name(names):
    """An option type: one of ``names`` (the aliases of gans.datasets.load accepted too)."""
    def check(text):
        name = {"fashion": "fashion_mnist", "fashion-mnist": "fashion_mnist"}.get(text, text)
        if name.startswith("imagefolder:") and "imagefolder" in names and len(name) > 12:
            return name
        if name not in names:
            raise argparse.ArgumentTypeError(f"unknown dataset {text!r} (choose from "
                                             f"{', '.join(names)})")
        return name
    return check


def _sweep_doc() -> str:
    from gans import sweep

    return sweep.__doc__


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected comma-separated "
                                         "whole numbers >= 0, like 0,1,2)")
    return values


def _model_list(names):
    def check(text):
        wanted = [t for t in text.split(",") if t]
        unknown = [t for t in wanted if t not in names]
        if unknown or not wanted:
            raise argparse.ArgumentTypeError(f"unknown model {', '.join(unknown) or text!r} "
                                             f"(choose from {', '.join(names)})")
        return wanted
    return check


def build_parser(config_cls=None) -> argparse.ArgumentParser:
    """The parser; ``config_cls`` adds one option per field of that variant's Config to train."""
    import gans
    from gans import datasets
    from gans.metrics import DATASETS as metrics_datasets

    fmt = argparse.RawDescriptionHelpFormatter
    parser = cli.ArgumentParser(prog="python -m gans", description=__doc__, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p, seed_help):
        p.add_argument("--device", default="cpu", type=cli.device,
                       help="cpu, or cuda (a GPU through CuPy) (default: cpu)")
        p.add_argument("--seed", type=cli.non_negative_int, default=0,
                       help=seed_help + " (default: 0)")

    sub.add_parser("list", help="list the variants",
                   description="List the variants (registry name and first line of the paper "
                               "summary in each module's docstring).")

    tr = sub.add_parser(
        "train", help="train a variant; leaves pictures, metrics and a checkpoint in --out",
        formatter_class=fmt,
        description="Train a variant with the paper's defaults; every field of its Config is "
                    "an option.\nAdd --model NAME --help to list that variant's config options.",
        epilog="Run folder: config.json, metrics.csv, loss_curve.png, samples/*.png and "
               "checkpoint.npz.\nAn existing checkpoint there is resumed unless --restart.")
    tr.add_argument("--model", required=True, choices=gans.available(), metavar="NAME",
                    help="the variant: " + ", ".join(gans.available()))
    tr.add_argument("--dataset", default="mnist", type=_dataset_name(datasets.DATASETS),
                    help="mnist, fashion_mnist, mnist_xy (cyclegan), cifar10, "
                         "imagefolder:PATH (class sub-folders of images, 32x32 colour) or "
                         "random (noise images: no download, for smoke tests) (default: mnist)")
    tr.add_argument("--epochs", type=cli.positive_int, default=5,
                    help="passes over the data (default: 5)")
    tr.add_argument("--out", default=None, type=cli.out_folder,
                    help="run folder (default: runs/MODEL_DATASET)")
    tr.add_argument("--max-steps", type=cli.positive_int, default=None,
                    help="stop after this many discriminator steps")
    tr.add_argument("--sample-every", type=cli.non_negative_int, default=500,
                    help="write a sample grid every N steps, 0 for never (default: 500)")
    tr.add_argument("--checkpoint-every", type=cli.non_negative_int, default=1000,
                    help="write the checkpoint every N steps, besides every epoch end "
                         "(default: 1000)")
    tr.add_argument("--dry-run", action="store_true",
                    help="2 steps, then the end-of-run files (a final grid, metrics.csv and a "
                         "checkpoint marked as a dry run): checks the whole pipeline in seconds")
    tr.add_argument("--restart", action="store_true",
                    help="start from scratch even if --out holds a checkpoint")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    common(tr, "seeds the weights, the noise and the batch order")
    if config_cls is not None:
        _add_config_options(tr, config_cls)

    sa = sub.add_parser("sample", help="write generated images to a .npy",
                        description="Load a checkpoint written by train and write N generated "
                                    "images, float32 (N, C, H, W) in [-1, 1], to a .npy file "
                                    "(conditional models: labels 0..9 cycled, in labels.npy "
                                    "beside it).")
    sa.add_argument("--checkpoint", required=True, help="checkpoint.npz of a run folder")
    sa.add_argument("--n", type=cli.positive_int, default=10000,
                    help="number of images (default: 10000)")
    sa.add_argument("--out", default="samples.npy", type=cli.out_file,
                    help="output .npy (default: samples.npy)")
    common(sa, "seeds the noise")

    sc = sub.add_parser("score", help="IS, FID, KID, precision/recall, density/coverage, "
                                      "classes covered (and label accuracy)",
                        description="Score a .npy of samples with a classifier trained on the "
                                    "dataset (see gans/metrics.py and docs/metrics.md), beside "
                                    "real data's scores.")
    sc.add_argument("samples", help=".npy written by sample")
    sc.add_argument("--dataset", default="mnist", type=_dataset_name(metrics_datasets),
                    help="mnist, fashion_mnist or cifar10 (default: mnist)")
    sc.add_argument("--labels", default=None, help="labels.npy (default: beside the samples)")
    sc.add_argument("--json", action="store_true",
                    help="print one JSON object (is, fid, kid, kid_std, precision, recall, "
                         "density, coverage, classes; label_acc and intra_fid with labels) "
                         "instead of the table")

    sw = sub.add_parser("sweep", help="train variants x seeds at one budget, score, tabulate",
                        formatter_class=fmt, description=_sweep_doc())
    sw.add_argument("--models", type=_model_list(gans.available()), default=[],
                    help="comma-separated variants, e.g. dcgan,lsgan,sngan")
    sw.add_argument("--seeds", type=_int_list, default=[0, 1, 2],
                    help="comma-separated seeds (default: 0,1,2)")
    sw.add_argument("--dataset", default="mnist", type=_dataset_name(metrics_datasets),
                    help="mnist, fashion_mnist or cifar10 (default: mnist)")
    sw.add_argument("--epochs", type=cli.positive_int, default=5,
                    help="the budget of every run, in passes over the data (default: 5)")
    sw.add_argument("--n", type=cli.positive_int, default=10000,
                    help="samples scored per run (default: 10000)")
    sw.add_argument("--framework", default="minigrad", choices=["minigrad", "torch"],
                    help="minigrad, or torch: the PyTorch twin (benchmarks/twins.py)")
    sw.add_argument("--threads", type=cli.positive_int, default=2,
                    help="torch threads for --framework torch (default: 2)")
    sw.add_argument("--out", default="runs/sweep", type=cli.out_folder,
                    help="folder of the runs, results.jsonl and table.md (default: runs/sweep)")
    sw.add_argument("--table", action="store_true",
                    help="only print (and write) the table of the finished runs")

    sh = sub.add_parser("show", help="summary and picture paths of a run folder",
                        description="Print a run folder's model, config, step count, last "
                                    "losses, the paths of its pictures and its checkpoint.")
    sh.add_argument("run", help="the run folder (train's --out)")
    return parser


def dispatch(argv):
    """Parse ``argv`` and run the command; errors propagate as exceptions (see main)."""
    import gans

    config_cls = None
    # The variant's config options are added once --model is known.
    command = next((a for a in argv if not a.startswith("-")), None)  # after --debug, say
    if command == "train":
        name = _model_name(argv)
        if name in gans.REGISTRY:
            config_cls = gans.get_config(name)
    args = build_parser(config_cls).parse_args(argv)
    if args.command == "list":
        cmd_list(args)
    elif args.command == "train":
        cmd_train(args, config_cls)
    elif args.command == "sample":
        cmd_sample(args)
    elif args.command == "score":
        cmd_score(args)
    elif args.command == "show":
        cmd_show(args)
    elif args.command == "sweep":
        from gans import sweep

        if not args.table and not args.models:
            raise ValueError("sweep: name the variants to train with --models (or pass --table)")
        sweep.main(args)


def main(argv=None) -> int:
    """``python -m gans ...``: a mistake prints one line, ``gans: error: ...``, and returns 1
    (2 for a malformed command line); --debug shows the traceback instead (see gans/cli.py)."""
    return cli.run(dispatch, argv)


if __name__ == "__main__":
    raise SystemExit(main())
