"""The command line of the GAN zoo, ``python -m gans COMMAND`` (the ``gans`` script).

    parser.py          the parser: one sub-command per module below, dispatched by
                       ``set_defaults(func=...)``; ``python -m gans`` (gans/__main__.py) runs it
    list_models.py     ``list``      the variants
    train.py           ``train``     train a variant (its Config's fields are options)
    sample.py          ``sample``    generated images from a checkpoint, to a .npy
    score.py           ``score``     IS, FID, KID, ... of a .npy of samples
    show.py            ``show``      a run folder's summary
    sweep.py           ``sweep``     variants x seeds, trained, scored, tabulated
    config_options.py  a Config dataclass as command-line options (shared with benchmarks/)
    options.py         option types, checked when the command line is read
    errors.py          a mistake costs one line (``gans: error: ...``), --debug shows the traceback
    scripts.py         what the example scripts that train a variant share

The example scripts and benchmarks use the last three through this package:
``cli.script_parser(__doc__)``, ``cli.run(main)``, ``cli.positive_int``,
``cli.add_run_options(p, "runs/NAME")``, ``cli.fit_script(model, dataset, args)``, ...
"""
from __future__ import annotations

import os  # noqa: F401  (tests stub os.access through cli.os)

from gans.cli.errors import (DEBUG_HINT, PROG, ArgumentParser, debugging,  # noqa: F401
                             describe, install, report, run, script_parser)
from gans.cli.options import (device, non_negative_int, number, out_file,  # noqa: F401
                              out_folder, positive_int)
from gans.cli.scripts import add_run_options, fit_script  # noqa: F401
