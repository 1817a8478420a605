"""``python -m gans score SAMPLES.npy``: IS, FID, KID, precision/recall, density/coverage and
the classes covered, in the feature space of a classifier trained on the dataset."""
from __future__ import annotations

import contextlib
import json
import sys

from gans.cli import options


def add_parser(sub):
    from gans.metrics import DATASETS as metrics_datasets

    sc = sub.add_parser("score", help="IS, FID, KID, precision/recall, density/coverage, "
                                      "classes covered (and label accuracy)",
                        description="Score a .npy of samples with a classifier trained on the "
                                    "dataset (see gans/metrics.py and docs/metrics.md), beside "
                                    "real data's scores. The first score of a dataset trains "
                                    "its classifier (about 2.5 minutes on two CPU cores) and "
                                    "caches it.")
    sc.add_argument("samples", help=".npy written by sample")
    sc.add_argument("--dataset", default="mnist", type=options.dataset_name(metrics_datasets),
                    help="mnist, fashion_mnist or cifar10 (default: mnist)")
    sc.add_argument("--labels", default=None,
                    help="the .npy of the labels the samples were generated for (default: "
                         "NAME.labels.npy beside NAME.npy, as sample writes it)")
    sc.add_argument("--json", action="store_true",
                    help="print one JSON object (is, fid, kid, kid_std, precision, recall, "
                         "density, coverage, classes; label_acc and intra_fid with labels) "
                         "instead of the table")
    return sc


def cmd_score(args):
    from gans import metrics
    from gans.protocol import check_file

    check_file(args.samples, b"\x93NUMPY", "samples file (.npy)",
               "`python -m gans sample` writes one")
    if args.labels is not None:
        check_file(args.labels, b"\x93NUMPY", "labels file (.npy)",
                   "`python -m gans sample` writes one beside a conditional model's samples")
    if not args.json:
        scores = metrics.score_file(args.samples, args.dataset, labels_path=args.labels)
        print(metrics.format_scores(scores, metrics.real_ceiling(args.dataset)))
        return
    with contextlib.redirect_stdout(sys.stderr):  # --json: the object alone on stdout
        scores = metrics.score_file(args.samples, args.dataset, labels_path=args.labels)
    print(json.dumps(scores, allow_nan=False))
