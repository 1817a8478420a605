"""Calibrate the CIFAR-10 feature space (docs/colour.md): the scores of real data against real
data, and of a one-class set, with the cached CIFAR-10 classifier (gans/classifier.py).

    OPENBLAS_NUM_THREADS=1 python -m benchmarks.colour_calibration [--dataset cifar10]

Prints one markdown table: the real ceiling (IS of the test set, its classes and the classifier's
accuracy; FID, KID, precision/recall, density/coverage of 10000 training images against the test
set: gans.metrics.real_ceiling), then every training image of one class scored as if it were a
generator's samples (5000 images: class 1, automobile, for CIFAR-10), which must keep its
precision and lose its recall and coverage. The classifier is trained first if the cache has none
(an hour on one core; see docs/colour.md).
"""
from __future__ import annotations

import argparse

import numpy as np

from gans import classifier, metrics


def row(name, s):
    kid = f"{s['kid']:.3g} +- {s['kid_std']:.2g}"
    label = f"{s['label_acc']:.2%}" if "label_acc" in s else "-"
    return (f"| {name} | {s['is']:.2f} | {s['fid']:.3g} | {kid} | {s['precision']:.3f} | "
            f"{s['recall']:.3f} | {s['density']:.3f} | {s['coverage']:.3f} | {s['classes']}/10 | "
            f"{label} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--one-class", type=int, default=1, help="the class of the one-class set")
    args = p.parse_args(argv)
    model = classifier.get_classifier(args.dataset)
    ceiling = metrics.real_ceiling(args.dataset)
    x_train, y_train = classifier.load_split(classifier.canonical_dataset(args.dataset), "train")
    one = x_train[y_train == args.one_class]
    scores = metrics.score_samples(one, args.dataset, verbose=False)
    print(f"classifier: test accuracy {model.test_accuracy:.2%}, "
          f"{model.train_seconds / 60:.0f} min of training")
    print("| data | IS | FID | KID | precision | recall | density | coverage | classes | "
          "label acc. |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(row("real (test set; 10000 training images vs the test set)", ceiling))
    print(row(f"one class: the {len(one)} training images of class {args.one_class}", scores))
    print("one-class histogram:", np.asarray(scores["class_histogram"]).round(3).tolist())


if __name__ == "__main__":
    main()
