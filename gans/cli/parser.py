"""The parser of ``python -m gans``: one sub-command per module of gans/cli/, each dispatched by
``set_defaults(func=...)`` to the function that runs it (the table is in gans/__main__.py)."""
from __future__ import annotations

import argparse
import difflib

from gans.cli import list_models, sample, score, show, sweep, train
from gans.cli.config_options import config_class
from gans.cli.errors import ArgumentParser

DESCRIPTION = """\
The command line of the GAN zoo: ``python -m gans {list,train,sample,score,show,sweep} --help``.

    python -m gans list                                         # the variants
    python -m gans train --model wgan_gp --dataset random --dry-run --out runs/try
    python -m gans train --model wgan_gp --help                 # + that variant's config options
    python -m gans show runs/try                                # summary and picture paths
    python -m gans sample --checkpoint runs/try/checkpoint.npz --out runs/try/s.npy --overwrite
    python -m gans score runs/try/s.npy --dataset mnist         # IS, FID, KID, precision, ...
    python -m gans sweep --models dcgan,sngan --seeds 0,1,2 --epochs 3 --out runs/sweep
"""

#: name -> the module that adds its sub-parser (``add_parser(sub)``), in --help order.
MODULES = {"list": list_models, "train": train, "sample": sample, "score": score,
           "sweep": sweep, "show": show}


def build_parser(commands, config_cls=None) -> ArgumentParser:
    """The parser; ``commands`` maps each name of MODULES to the function that runs it
    (``args.func``); ``config_cls`` adds one option per field of that variant's Config to
    train."""
    parser = ArgumentParser(prog="python -m gans", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.commands = {}
    for name, module in MODULES.items():
        p = module.add_parser(sub, config_cls) if module is train else module.add_parser(sub)
        p.set_defaults(func=commands[name])
        parser.commands[name] = p
    return parser


def parse(argv, commands):
    """``argv`` parsed; the train command gets the options of the Config that its --model
    names. An unknown option is an error that suggests the nearest known one."""
    parser = build_parser(commands, config_class(argv))
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        message = f"unrecognized arguments: {' '.join(unknown)}"
        guess = nearest_option(unknown, parser.commands[args.command])
        parser.error(message + (f" (did you mean {guess}?)" if guess else ""))
    return args


def nearest_option(unknown, parser) -> str | None:
    """The option of ``parser`` that the first unknown ``--option`` in ``unknown`` was probably
    meant to be: a near spelling (``--epoch`` for ``--epochs``), or the one whose name is its
    words' initials (``--learning-rate`` for ``--lr``)."""
    known = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
    for arg in unknown:
        if not arg.startswith("--"):
            continue
        typed = arg.split("=", 1)[0].replace("_", "-")
        initials = "--" + "".join(w[0] for w in typed[2:].split("-") if w)
        if initials in known and len(initials) > 3:
            return initials
        close = difflib.get_close_matches(typed, known, n=1, cutoff=0.75)
        if close:
            return close[0]
    return None
