"""The command-line edge: a user's mistake costs one line to read, not a traceback.

    $ python -m gans sample --checkpoint runs/nope/checkpoint.npz
    gans: error: no checkpoint at runs/nope/checkpoint.npz (train writes one into its --out folder)

The library raises ordinary exceptions whose messages name the problem (and the fix); only this
layer turns them into that line, on stderr. Exit codes: 1 for an error, 2 for a malformed command
line (as argparse), 130 for Ctrl-C (which prints one line too: the trainer's message says where
the checkpoint was saved), 141 (as a process SIGPIPE stops) when stdout is a pipe closed early
(``gans show RUN | head -3``), silently.
``--debug`` or the environment variable ``GANS_DEBUG=1`` let the exception through, with its full
traceback.

How a command uses it:
    python -m gans, or any ``main(argv)``    ``raise SystemExit(cli.run(main))``
    an example script (top-level code)       ``p = cli.script_parser(__doc__)``: the parser, and
                                             uncaught exceptions become one line from then on
"""
from __future__ import annotations

import argparse
import os
import sys

PROG = "gans"
DEBUG_HINT = "run with --debug or GANS_DEBUG=1 for the traceback"


def debugging(argv=()) -> bool:
    """Whether to show tracebacks: ``--debug`` on the command line or ``GANS_DEBUG`` set (not 0)."""
    return "--debug" in argv or os.environ.get("GANS_DEBUG", "0") not in ("", "0")


def _user_errors() -> tuple:
    """Exception types whose message is written for the user. Anything else is likely a bug:
    its line names the type and says how to see the traceback."""
    from minigrad.data import DatasetError
    from gans.training.step_log import TrainingDiverged  # a NaN/inf loss: the settings' doing

    return (ValueError, OSError, ImportError, DatasetError, TrainingDiverged,
            argparse.ArgumentTypeError)


def describe(exc: BaseException) -> str:
    """One line for ``exc``: the first line of its message (two when the first ends with ':')."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    if text.endswith(":") and len(lines) > 1:
        text += " " + lines[1].strip()
    if not isinstance(exc, _user_errors()):
        text = f"{type(exc).__name__}: {text} ({DEBUG_HINT})"
    return text


def report(exc: BaseException) -> int:
    """Print ``exc`` as one line on stderr; return the exit code (130 for Ctrl-C, else 1)."""
    sys.stdout.flush()
    if isinstance(exc, KeyboardInterrupt):
        print(f"{PROG}: {exc}" if str(exc) else f"{PROG}: interrupted", file=sys.stderr)
        return 130
    print(f"{PROG}: error: {describe(exc)}", file=sys.stderr)
    return 1


def run(main, argv=None) -> int:
    """Call ``main(argv)``; an exception becomes one line on stderr and an exit code.

    Returns ``main``'s return value (0 for None). SystemExit (argparse's usage errors and
    --help) passes through untouched; with --debug or GANS_DEBUG=1 everything does.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if debugging(argv):
        return main(argv) or 0
    try:
        return main(argv) or 0
    except BrokenPipeError:
        return _stdout_closed()
    except (Exception, KeyboardInterrupt) as exc:
        code = report(exc)
        _end_job(code)
        return code


def _stdout_closed() -> int:
    """The reader of our stdout went away (``| head``): stop quietly, with the exit code of a
    process stopped by SIGPIPE. stdout now writes into /dev/null, so that Python's own flush at
    exit does not complain about the pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13  # SIGPIPE


def _end_job(code: int) -> None:
    """Under ``mpiexec -n N`` a process that stops on its own error must take the others down
    (they would wait in their next collective forever); alone, this does nothing."""
    from minigrad import distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        sys.stderr.flush()
        dist.abort(code)


def install() -> None:
    """For a script with top-level code: from now on an uncaught exception prints one line.

    Python then exits with 1 (after Ctrl-C it stops itself with SIGINT, which a shell shows as
    exit code 130). Nothing changes with --debug or GANS_DEBUG=1.
    """
    if not debugging(sys.argv[1:]):
        sys.excepthook = lambda kind, exc, tb: report(exc)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with one-line usage errors (``gans: error: argument --lr: ...``, exit 2) and a
    ``--debug`` option (read by :func:`run` and :func:`install`). Sub-commands inherit both."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true",
                          help="on an error, show the full traceback instead of one line "
                               "(or set GANS_DEBUG=1)")

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def script_parser(doc: str) -> ArgumentParser:
    """The parser of an example script: :class:`ArgumentParser` showing ``doc`` in --help, and
    :func:`install` done, so that the script's errors print one line too. Being the scripts'
    entry, it also tunes the BLAS and the allocator (``minigrad.backend.tune``)."""
    from minigrad.backend import tune

    install()
    tune()
    return ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
