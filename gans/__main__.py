"""``python -m gans`` and the ``gans`` script: the function each command runs; the parser and
the commands are in gans/cli/ (one module per command, see gans/cli/__init__.py)."""
from __future__ import annotations

from gans.cli import parser as _parser
from gans.cli import run
from gans.cli.list_models import cmd_list
from gans.cli.sample import cmd_sample
from gans.cli.score import cmd_score
from gans.cli.show import cmd_show
from gans.cli.sweep import cmd_sweep
from gans.cli.train import cmd_train


def _commands() -> dict:
    return {"list": cmd_list, "train": cmd_train, "sample": cmd_sample, "score": cmd_score,
            "sweep": cmd_sweep, "show": cmd_show}


def build_parser(config_cls=None):
    """The parser of every command; ``config_cls`` adds that Config's fields to train."""
    return _parser.build_parser(_commands(), config_cls)


def dispatch(argv):
    """Parse ``argv`` and run the command; errors propagate as exceptions (see main)."""
    from minigrad.backend import tune

    tune()  # BLAS and allocator (minigrad/backend/tuning.py): an entry point's choice
    args = _parser.parse(argv, _commands())
    return args.func(args)


def main(argv=None) -> int:
    """``python -m gans ...``: a mistake prints one line, ``gans: error: ...``, and returns 1
    (2 for a malformed command line); --debug shows the traceback instead (gans/cli/errors.py)."""
    return run(dispatch, argv)


if __name__ == "__main__":
    raise SystemExit(main())
