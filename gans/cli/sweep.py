"""``python -m gans sweep --models A,B --seeds 0,1,2``: variants x seeds at one budget, trained,
scored and tabulated (the work is gans/sweep.py)."""
from __future__ import annotations

import argparse

from gans.cli import options


def _repeated(values) -> list:
    """The values that occur more than once in ``values`` (a list), each once, in order."""
    return list(dict.fromkeys(v for i, v in enumerate(values) if v in values[:i]))


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected comma-separated "
                                         "whole numbers >= 0, like 0,1,2)")
    repeats = _repeated(values)
    if repeats:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (repeats "
                                         f"{', '.join(map(str, repeats))}: name each seed once)")
    return values


def _model_list(names):
    def check(text):
        wanted = [t for t in text.split(",") if t]
        unknown = [t for t in wanted if t not in names]
        if unknown or not wanted:
            raise argparse.ArgumentTypeError(f"unknown model {', '.join(unknown) or text!r} "
                                             f"(choose from {', '.join(names)})")
        repeats = _repeated(wanted)
        if repeats:
            raise argparse.ArgumentTypeError(f"invalid value {text!r} (repeats "
                                             f"{', '.join(repeats)}: name each model once)")
        return wanted
    return check


def add_parser(sub):
    import gans
    from gans import sweep
    from gans.metrics import DATASETS as metrics_datasets

    sw = sub.add_parser("sweep", help="train variants x seeds at one budget, score, tabulate",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description=sweep.__doc__)
    sw.add_argument("--models", type=_model_list(gans.available()), default=[],
                    help="comma-separated variants, e.g. dcgan,lsgan,sngan")
    sw.add_argument("--seeds", type=_int_list, default=[0, 1, 2],
                    help="comma-separated seeds (default: 0,1,2)")
    sw.add_argument("--dataset", default="mnist", type=options.dataset_name(metrics_datasets),
                    help="mnist, fashion_mnist or cifar10 (default: mnist)")
    sw.add_argument("--epochs", type=options.positive_int, default=5,
                    help="the budget of every run, in passes over the data (default: 5)")
    sw.add_argument("--max-steps", type=options.positive_int, default=None,
                    help="stop each run after this many discriminator steps, if --epochs has "
                         "not stopped it before")
    sw.add_argument("--score-every", type=options.positive_int, default=None,
                    help="also score every this many steps into each run's curve.jsonl and "
                         "curve.png (needs --max-steps)")
    sw.add_argument("--n", type=options.positive_int, default=10000,
                    help="samples scored per run (default: 10000)")
    sw.add_argument("--framework", default="minigrad", choices=["minigrad", "torch"],
                    help="minigrad, or torch: the PyTorch twin (benchmarks/twins.py)")
    sw.add_argument("--threads", type=options.positive_int, default=2,
                    help="torch threads for --framework torch (default: 2)")
    sw.add_argument("--out", default="runs/sweep", type=options.out_folder,
                    help="folder of the runs, results.jsonl and table.md (default: runs/sweep)")
    sw.add_argument("--table", action="store_true",
                    help="only print (and write) the table of the finished runs")
    return sw


def cmd_sweep(args):
    from gans import sweep

    if not args.table and not args.models:
        raise ValueError("sweep: name the variants to train with --models (or pass --table)")
    sweep.main(args)
