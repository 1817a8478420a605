"""The command line: ``python -m gans {list,train,sample,score,show} --help``."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np


def _parse_value(text: str, default):
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")
    if isinstance(default, tuple):
        kind = type(default[0]) if default else float
        return tuple(kind(v) for v in text.split(","))
    if default is None:
        return text
    return type(default)(text)


def _add_config_options(parser, config_cls):
    group = parser.add_argument_group(f"{config_cls.__module__} config (paper defaults)")
    for f in dataclasses.fields(config_cls):
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}", default=None,
                           type=lambda t, d=default: _parse_value(t, d),
                           help=f"default: {shown}")


def cmd_list(args):
    import gans

    for name in gans.available():
        cls = gans.get_model(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"{name:10s} {doc}")


def _build_model(args, config_cls):
    import gans

    overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}
    config = config_cls(**overrides)
    return gans.get_model(args.model)(config, device=args.device)


def cmd_train(args, config_cls):
    import minigrad
    from gans import datasets
    from gans.trainer import fit
    from minigrad.data import DataLoader

    minigrad.manual_seed(args.seed)
    model = _build_model(args, config_cls)
    dataset = "random" if args.dry_run and args.dataset == "random" else args.dataset
    ds = datasets.load(dataset, "train")
    batch = getattr(model.config, "batch_size", 64)
    loader = DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, seed=args.seed,
                        device=args.device if args.device != "cpu" else None)
    out = args.out or f"runs/{args.model}_{args.dataset}"
    fit(model, loader, epochs=args.epochs, out_dir=out, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, max_steps=args.max_steps, dry_run=args.dry_run,
        resume=not args.restart, progress=not args.no_progress)
    print(f"checkpoint: {Path(out) / 'checkpoint.npz'}")


def load_model(checkpoint, device="cpu"):
    """Rebuild a trained model from a checkpoint written by the trainer."""
    import gans
    from gans.common import config_from_dict
    from minigrad.utils.io import load

    state = load(checkpoint)["model"]
    name = state["name"]
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

    scores = metrics.score_file(args.samples, args.dataset, labels_path=args.labels)
    print(metrics.format_scores(scores, metrics.real_ceiling(args.dataset)))


def cmd_show(args):
    run = Path(args.run)
    if not run.is_dir():
        sys.exit(f"no run folder at {run}")
    cfg = run / "config.json"
    if cfg.exists():
        print(json.dumps(json.loads(cfg.read_text()), indent=1))
    metrics_csv = run / "metrics.csv"
    if metrics_csv.exists():
        import csv

        rows = list(csv.DictReader(open(metrics_csv)))
        if rows:
            print(f"{len(rows)} steps; last: " + ", ".join(
                f"{k}={float(v):.4f}" for k, v in rows[-1].items() if v not in ("", None)))
    for p in sorted(run.rglob("*.png")):
        print(p)
    ck = run / "checkpoint.npz"
    if ck.exists():
        print(ck)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m gans", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the variants")

    def common(p):
        p.add_argument("--device", default="cpu", help="cpu or cuda")
        p.add_argument("--seed", type=int, default=0)

    tr = sub.add_parser("train", help="train a variant; leaves a checkpoint in --out")
    tr.add_argument("--model", required=True)
    tr.add_argument("--dataset", default="mnist", help="mnist, fashion_mnist or random")
    tr.add_argument("--epochs", type=int, default=5)
    tr.add_argument("--out", default=None, help="run folder (default runs/MODEL_DATASET)")
    tr.add_argument("--max-steps", type=int, default=None)
    tr.add_argument("--sample-every", type=int, default=500)
    tr.add_argument("--checkpoint-every", type=int, default=1000)
    tr.add_argument("--dry-run", action="store_true", help="2 steps, then stop")
    tr.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    tr.add_argument("--no-progress", action="store_true")
    common(tr)

    sa = sub.add_parser("sample", help="write generated images to a .npy")
    sa.add_argument("--checkpoint", required=True)
    sa.add_argument("--n", type=int, default=10000)
    sa.add_argument("--out", default="samples.npy")
    common(sa)

    sc = sub.add_parser("score", help="IS, FID, classes covered (and label accuracy)")
    sc.add_argument("samples")
    sc.add_argument("--dataset", default="mnist")
    sc.add_argument("--labels", default=None, help="labels.npy (default: beside the samples)")

    sh = sub.add_parser("show", help="summary and pictures of a run folder")
    sh.add_argument("run")

    # The variant's config options are added once --model is known.
    if argv[:1] == ["train"] and "--model" in argv:
        import gans

        name = argv[argv.index("--model") + 1]
        config_cls = gans.get_config(name)
        _add_config_options(tr, config_cls)
    else:
        config_cls = None
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    main()
