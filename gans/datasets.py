"""The image datasets the GANs train on, by name, as (N, 1, 28, 28) float32 in [-1, 1]."""
from __future__ import annotations

import numpy as np

from minigrad import data

DATASETS = ("mnist", "fashion_mnist", "mnist_xy", "random")

#: Other spellings of a dataset name (matched in any case): alias -> its name in DATASETS. The one
#: table of them: ``load``, the command line and the metrics (gans/classifier.py) all read it.
ALIASES = {"fashion": "fashion_mnist", "fashion-mnist": "fashion_mnist",
           "fashionmnist": "fashion_mnist"}


def canonical_name(name: str) -> str:
    """``name`` as DATASETS spells it: an alias, or a known name in any case, becomes that name;
    anything else comes back unchanged."""
    low = str(name).lower()
    return ALIASES.get(low, low if low in DATASETS else str(name))


def load(name: str, split: str = "train", n: int | None = None, image_to_image: bool = False):
    """An ArrayDataset of (images, labels) for ``name``: mnist, fashion_mnist (alias fashion) or
    random (noise images with random labels, for smoke tests and --dry-run without data);
    mnist_xy: CycleGAN's unpaired domains, (x, y) images (see gans.cyclegan.unpaired_dataset).
    ``image_to_image``: random data as (x, y) images, for an image-to-image model."""
    name = canonical_name(name)
    if name == "mnist":
        ds = data.mnist_dataset(split)
    elif name == "fashion_mnist":
        ds = data.fashion_mnist_dataset(split)
    elif name == "mnist_xy":
        from gans.cyclegan import unpaired_dataset

        ds = unpaired_dataset(split)
    elif name == "random":
        rng = np.random.default_rng(0)
        count = n or 64
        images = rng.uniform(-1, 1, (count, 1, 28, 28)).astype(np.float32)
        if image_to_image:
            return data.ArrayDataset(images, -images[::-1].copy())
        return data.ArrayDataset(images, rng.integers(0, 10, count).astype(np.int64))
    else:
        raise ValueError(f"unknown dataset {name!r}: choose from {', '.join(DATASETS)}")
    if n is not None:
        ds = data.ArrayDataset(*(a[:n] for a in ds.arrays))
    return ds
