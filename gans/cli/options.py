"""Option types: each checks a value when the command line is read, so a bad one is reported
(``gans: error: argument --epochs: invalid value '0' (expected a positive whole number)``)
before any work starts."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


def _int(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < least:
        want = "a positive whole number" if least == 1 else f"a whole number >= {least}"
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected {want})")
    return value


def positive_int(text: str) -> int:
    """An option type: a whole number >= 1 (epochs, steps, batch size, sample count)."""
    return _int(text, 1)


def non_negative_int(text: str) -> int:
    """An option type: a whole number >= 0 (a seed; "every N steps" where 0 means never)."""
    return _int(text, 0)


def number(text: str) -> float:
    """An option type: a finite float; the error says so (argparse's own would say "invalid
    float", and would take inf and nan, which no rate or weight can be)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected a number)") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected a finite number)")
    return value


def out_folder(text: str) -> str:
    """An option type: a folder to write into; it may not exist yet, but must not be a file and
    must be creatable (its nearest existing parent is a writable folder)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder: name a folder")
    _check_writable(path, text)
    return text


def out_file(text: str) -> str:
    """An option type: a file to write; not an existing folder, and in a writable folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: name a file")
    _check_writable(path.parent, text)
    return text


def _check_writable(folder: Path, text: str) -> None:
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {existing} is not writable")


def device(text: str) -> str:
    """An option type: cpu, or cuda (checked now: CuPy installed and a GPU visible)."""
    import minigrad

    try:
        dev = minigrad.device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if dev.type == "cuda" and not minigrad.cuda.is_available():
        raise argparse.ArgumentTypeError(
            f"{text} is not available: {minigrad.cuda.unavailable_reason()}; use --device cpu")
    if dev.type == "cuda" and dev.index >= minigrad.cuda.device_count():
        count = minigrad.cuda.device_count()
        raise argparse.ArgumentTypeError(f"{text}: this machine has {count} GPU(s), cuda:0 to "
                                         f"cuda:{count - 1}")
    return text


def dataset_name(names):
    """An option type: one of ``names``, or another spelling of one (gans.datasets.ALIASES)."""
    def check(text):
        from gans.datasets import NEEDS_FOLDER, canonical_name, spelled

        name = canonical_name(text)
        if "imagefolder" in names and name.startswith("imagefolder"):
            if name in ("imagefolder", "imagefolder:"):
                raise argparse.ArgumentTypeError(NEEDS_FOLDER)
            if name.startswith("imagefolder:"):
                return name  # imagefolder:PATH (the folder is checked when it is read)
        if name not in names:
            raise argparse.ArgumentTypeError(f"unknown dataset {text!r} (choose from "
                                             f"{spelled(names)})")
        return name
    return check


def add_device_and_seed(parser, seed_help: str, seed_default: int | None = 0) -> None:
    """The --device and --seed options that the commands which run a model share (a
    ``seed_default`` of None: the command decides, and ``seed_help`` says how)."""
    parser.add_argument("--device", default="cpu", type=device,
                        help="cpu, or cuda (a GPU through CuPy) (default: cpu)")
    parser.add_argument("--seed", type=non_negative_int, default=seed_default,
                        help=seed_help + ("" if seed_default is None
                                          else f" (default: {seed_default})"))
