"""A variant's Config dataclass as command-line options: one ``--field-name`` per field, typed by
the field's default, its help text from ``field(metadata={"help": ...})`` (see
``gans.protocol.option``). Used by ``train`` and by ``benchmarks/train_twin.py``.

    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    config_cls = config_class(argv)            # from --model NAME, before the real parse
    add_config_options(parser, config_cls)
    args = parser.parse_args(argv)
    config = config_cls(**config_overrides(args))
"""
from __future__ import annotations

import argparse
import dataclasses

from gans.cli.options import number

PREFIX = "cfg_"  # the argparse dest of field ``lr`` is ``cfg_lr``


def parse_value(text: str, default, name: str = "", config_cls=None):
    """A config option's value, of the type of the field's ``default`` and, given the Config
    class, in the field's range (``config_cls.expected``); ArgumentTypeError names what was
    expected (argparse prefixes the option)."""
    value = _typed(text, default, name)
    want = config_cls.expected(name, value) if config_cls is not None else None
    if want:
        raise argparse.ArgumentTypeError(f"invalid value {text!r} (expected {want})")
    return value


def _typed(text: str, default, name: str):
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
        # sizes and counts: their ranges (>= 1, or >= 0) are the config's, see parse_value
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r} (expected a whole number)") from None
    return number(text)


def _metavar(default) -> str:
    if isinstance(default, bool):
        return "BOOL"
    if isinstance(default, tuple):
        return "A,B,..."
    return {int: "INT", float: "FLOAT"}.get(type(default), "STR")


def add_config_options(parser, config_cls) -> None:
    """One option per field of ``config_cls`` (none for a field whose default is None: the
    n_classes of an unconditional model), in a group of their own."""
    group = parser.add_argument_group(
        f"{config_cls.__module__}.Config (the paper's defaults; tuples as comma lists)")
    for f in dataclasses.fields(config_cls):
        default = f.default
        if default is None:
            continue
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        note = f"{f.metadata['help']}; " if "help" in f.metadata else ""
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=PREFIX + f.name, default=None,
                           type=lambda t, d=default, n=f.name: parse_value(t, d, n, config_cls),
                           metavar=_metavar(default), help=f"{note}default: {shown}")


def config_overrides(args) -> dict:
    """The config fields set on the command line, as keyword arguments of the Config."""
    return {k[len(PREFIX):]: v for k, v in vars(args).items()
            if k.startswith(PREFIX) and v is not None}


def config_class(argv):
    """The Config of the variant named by ``--model NAME`` (or ``--model=NAME``) in ``argv``, or
    None: read before the real parse, so that its fields can be added as options (and listed
    by ``--help``)."""
    import gans

    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    pre.add_argument("--model")
    try:
        name = pre.parse_known_args(argv)[0].model
    except argparse.ArgumentError:  # --model without a name: the real parse will say so
        return None
    return gans.get_config(name) if name in gans.REGISTRY else None
