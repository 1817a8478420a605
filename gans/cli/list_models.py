"""``python -m gans list``: the variants, each with the first line of its module's docstring."""
from __future__ import annotations

import sys


def add_parser(sub):
    return sub.add_parser("list", help="list the variants",
                          description="List the variants (registry name and first line of the "
                                      "paper summary in each module's docstring).")


def cmd_list(args):
    import gans

    for name in gans.available():
        cls = gans.get_model(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"{name:10s} {doc}")
