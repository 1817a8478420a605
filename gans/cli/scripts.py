"""What the example scripts that train one variant share: the options that end their command
line (``--out``, ``--seed``, ``--dry-run``) and the training call that reads them."""
from __future__ import annotations

from gans.cli.options import non_negative_int, out_folder


def add_run_options(parser, out, out_help=None):
    """Add ``--out`` (the run folder, default ``out``), ``--seed`` and ``--dry-run`` to
    ``parser``, after the script's own options; returns the parser."""
    parser.add_argument("--out", default=out, type=out_folder, help=out_help)
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--dry-run", action="store_true", help="two steps, to check the set-up")
    return parser


def fit_script(model, dataset, args, out=None):
    """Train ``model`` on ``dataset`` as the example scripts do: shuffled batches of the config's
    ``batch_size`` (the last partial one dropped, the order seeded by ``--seed``) for
    ``--epochs``, into the run folder ``out`` (default ``--out``); ``--dry-run``: two steps.
    Returns :func:`gans.trainer.fit`'s result."""
    from gans.trainer import fit
    from minigrad.data import DataLoader

    loader = DataLoader(dataset, batch_size=model.config.batch_size, shuffle=True,
                        drop_last=True, seed=args.seed)
    record = {"seed": args.seed}  # a resumed run must keep its seed (and dataset, if chosen)
    if getattr(args, "dataset", None) is not None:
        record["dataset"] = args.dataset
    return fit(model, loader, epochs=args.epochs, out_dir=out or args.out, dry_run=args.dry_run,
               record=record)
