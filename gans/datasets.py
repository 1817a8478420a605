"""The image datasets the GANs train on, by name, as (N, C, H, W) float32 in [-1, 1]: (N, 1, 28, 28)
for the MNISTs, (N, 3, 32, 32) for cifar10 and imagefolder:PATH (gans/cifar.py)."""
from __future__ import annotations

import numpy as np

from minigrad import data

DATASETS = ("mnist", "fashion_mnist", "mnist_xy", "random", "cifar10", "imagefolder")

#: (channels, side) of a dataset's images where they are not MNIST's (1, 28): the models'
#: ``channels`` and ``img_size`` follow them (``imagefolder:PATH`` by its prefix).
IMAGE_SHAPES = {"cifar10": (3, 32), "imagefolder": (3, 32)}


def image_shape(name: str) -> tuple[int, int]:
    """(channels, side) of the images of dataset ``name``."""
    return IMAGE_SHAPES.get(str(name).split(":", 1)[0], (1, 28))


def config_for(config_cls, dataset: str, **overrides):
    """``config_cls(**overrides)`` with ``channels`` and ``img_size`` set to ``dataset``'s
    images where the config has those fields and ``overrides`` does not set them."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(config_cls)}
    for key, value in zip(("channels", "img_size"), image_shape(dataset)):
        if key in fields:
            overrides.setdefault(key, value)
    return config_cls(**overrides)

#: Other spellings of a dataset name (matched in any case): alias -> its name in DATASETS. The one
#: table of them: ``load``, the command line and the metrics (gans/classifier.py) all read it.
ALIASES = {"fashion": "fashion_mnist", "fashion-mnist": "fashion_mnist",
           "fashionmnist": "fashion_mnist", "cifar-10": "cifar10", "cifar": "cifar10"}


NEEDS_FOLDER = ("the imagefolder dataset needs its folder: imagefolder:PATH (class sub-folders of "
                "PNG/JPEG images; PATH/train and PATH/test if present)")


def spelled(names) -> str:
    """``names`` as a user types them (imagefolder with its :PATH), comma-separated."""
    return ", ".join(f"{n}:PATH" if n == "imagefolder" else n for n in names)


def canonical_name(name: str) -> str:
    """``name`` as DATASETS spells it: an alias, or a known name in any case, becomes that name;
    anything else comes back unchanged."""
    if str(name).lower().startswith("imagefolder:"):  # the path keeps its case
        return "imagefolder:" + str(name).split(":", 1)[1]
    low = str(name).lower()
    return ALIASES.get(low, low if low in DATASETS else str(name))


def load(name: str, split: str = "train", n: int | None = None, image_to_image: bool = False):
    """An ArrayDataset of (images, labels) for ``name``: mnist, fashion_mnist (alias fashion) or
    random (noise images with random labels, for smoke tests and --dry-run without data);
    cifar10, or imagefolder:PATH (class sub-folders of images; PATH/train if present);
    mnist_xy: CycleGAN's unpaired domains, (x, y) images (see gans.cyclegan.unpaired_dataset).
    ``image_to_image``: random data as (x, y) images, for an image-to-image model."""
    name = canonical_name(name)
    if name in ("imagefolder", "imagefolder:"):
        raise ValueError(NEEDS_FOLDER)
    if name == "mnist":
        ds = data.mnist_dataset(split)
    elif name == "fashion_mnist":
        ds = data.fashion_mnist_dataset(split)
    elif name == "mnist_xy":
        from gans.cyclegan import unpaired_dataset

        ds = unpaired_dataset(split)
    elif name == "cifar10":
        from gans.cifar import cifar10_dataset

        ds = cifar10_dataset(split)
    elif name.startswith("imagefolder:"):
        from gans.cifar import image_folder_dataset

        ds = image_folder_dataset(name.split(":", 1)[1], split)
    elif name == "random":
        rng = np.random.default_rng(0)
        count = n or 64
        images = rng.uniform(-1, 1, (count, 1, 28, 28)).astype(np.float32)
        if image_to_image:
            return data.ArrayDataset(images, -images[::-1].copy())
        return data.ArrayDataset(images, rng.integers(0, 10, count).astype(np.int64))
    else:
        raise ValueError(f"unknown dataset {name!r}: choose from {spelled(DATASETS)}")
    if n is not None:
        ds = data.ArrayDataset(*(a[:n] for a in ds.arrays))
    return ds
