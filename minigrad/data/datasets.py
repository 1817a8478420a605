"""Generic dataset pieces: the IDX reader and writer, the data cache and ``ArrayDataset``.

The GAN zoo's own data (MNIST and its download, Fashion-MNIST, scikit-learn's digits, the toy
mixtures, CIFAR-10) lives in ``gans/`` (gans/mnist.py, gans/toy_data.py, gans/cifar.py) since
issue 25; the old names here (``load_mnist``, ``mnist_dataset``, ``ring_of_gaussians``, ...)
still resolve, to those (gans/mnist.py says where MNIST comes from).

Everything here is plain NumPy; nothing needs the autodiff engine.

Images are ``uint8`` (N, H, W) and labels ``int64`` (N,) as the IDX files hold them;
problems raise :class:`DatasetError` naming the file.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "cache_dir",
    "read_idx",
    "write_idx",
    "load_idx_folder",
    "ArrayDataset",
    "to_unit_range",
]

log = logging.getLogger(__name__)


class DatasetError(RuntimeError):
    """A dataset is missing, truncated or corrupt; the message says which file and how to fix it."""


class DatasetNotFoundError(DatasetError):
    """A dataset (or one of its files) is absent; the message says how to get it."""


# --------------------------------------------------------------------------------------------
# constants

SPLIT_SIZES = {"train": 60000, "test": 10000}
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10

#: IDX file stems per split (the ``.gz`` suffix is optional).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: Magic numbers of the MNIST-style IDX files: unsigned bytes, 3 dims / 1 dim.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# IDX type codes -> big-endian NumPy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}


def cache_dir() -> Path:
    """The cache folder: ``$MINIGRAD_DATA`` if set, else ``~/.cache/minigrad`` (not created)."""
    env = os.environ.get("MINIGRAD_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "minigrad"


def _check_split(split: str) -> None:
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


# --------------------------------------------------------------------------------------------
# IDX files


def _read_bytes(path: Path) -> bytes:
    """Whole file contents, gunzipped if the file starts with the gzip magic bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=f) as g:
                    return g.read()
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DatasetError(f"{path}: truncated or corrupt gzip stream ({e})") from e
    except OSError as e:
        raise DatasetError(f"{path}: cannot read file ({e})") from e


def read_idx(path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into an array in native byte order.

    Layout: a 4-byte magic ``0x00 0x00 <type code> <ndim>``, then ``ndim`` big-endian uint32
    dimension sizes, then the data, big-endian, C order. The magic number and declared sizes are
    checked against the bytes present; any mismatch raises :class:`DatasetError`.

    Args:
        path: file to read; compressed files are recognised by their content, not their name.
        expected_magic: if given, the whole 32-bit magic number must equal it
            (``0x00000803`` for MNIST images, ``0x00000801`` for labels).

    Returns:
        array of shape ``dims`` and the dtype given by the type code (``uint8`` for MNIST).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetError(
            f"{path}: truncated IDX file: expected a 4-byte header, found {len(data)} bytes"
        )
    magic = int.from_bytes(data[:4], "big")
    zero, code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if expected_magic is not None and magic != expected_magic:
        raise DatasetError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            "(is this the right file?)"
        )
    if zero != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise DatasetError(f"{path}: not an IDX file (bad magic number 0x{magic:08x})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(
            f"{path}: truncated IDX header: expected {header_len} bytes, found {len(data)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header_len + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing data in"
        raise DatasetError(
            f"{path}: {what} IDX file of shape {dims}: expected {expected} bytes, "
            f"found {len(data)}"
        )
    arr = np.frombuffer(data, dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip-compressed if ``compress`` (default: name ends .gz).

    Supported dtypes: uint8, int8, int16, int32, float32, float64. Returns the path.
    """
    path = Path(path)
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder("=")
    if dtype not in _IDX_CODES:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    if compress is None:
        compress = path.suffix == ".gz"
    header = bytes([0, 0, _IDX_CODES[dtype], array.ndim])
    header += np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype.newbyteorder(">")).tobytes()
    if compress:
        payload = gzip.compress(payload, compresslevel=6)
    path.write_bytes(payload)
    return path


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _idx_help(folder: Path, split: str) -> str:
    names = " and ".join(f"{s}[.gz]" for s in IDX_FILES[split])
    return f"put {names} in {folder}"


def _validate(images, labels, n_expected: int | None, source: str,
              labels_source: str | None = None):
    """Check MNIST-style arrays; raise DatasetError mentioning ``source`` on any problem."""
    labels_source = labels_source or source
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(
            f"{source}: expected uint8 images of shape (N, 28, 28), "
            f"found {images.dtype} {images.shape}"
        )
    if labels.ndim != 1:
        raise DatasetError(f"{labels_source}: expected labels of shape (N,), found {labels.shape}")
    if n_expected is not None and len(images) != n_expected:
        raise DatasetError(f"{source}: expected {n_expected} images, found {len(images)}")
    if len(labels) != len(images):
        raise DatasetError(
            f"{labels_source}: {len(labels)} labels for {len(images)} images in {source}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise DatasetError(
            f"{labels_source}: labels must lie in 0..{N_CLASSES - 1}, "
            f"found {labels.min()}..{labels.max()}"
        )


def load_idx_folder(folder, split: str, n_expected: int | None = None):
    """Load one split of an MNIST-format dataset from IDX files in ``folder``.

    Looks for ``train-images-idx3-ubyte``/``train-labels-idx1-ubyte`` (split ``'train'``) or
    ``t10k-images-idx3-ubyte``/``t10k-labels-idx1-ubyte`` (``'test'``), each raw or ``.gz``.

    Returns:
        images uint8 ``(N, 28, 28)`` and labels int64 ``(N,)``; ``N`` must equal ``n_expected``
        when that is given.
    """
    _check_split(split)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetNotFoundError(f"{folder}: no such folder; {_idx_help(folder, split)}")
    img_stem, lbl_stem = IDX_FILES[split]
    img_path, lbl_path = _find_idx(folder, img_stem), _find_idx(folder, lbl_stem)
    missing = [s + "[.gz]" for s, p in ((img_stem, img_path), (lbl_stem, lbl_path)) if p is None]
    if missing:
        raise DatasetNotFoundError(
            f"{folder}: missing {' and '.join(missing)}; {_idx_help(folder, split)}"
        )
    images = read_idx(img_path, IMAGES_MAGIC)
    labels = read_idx(lbl_path, LABELS_MAGIC).astype(np.int64)
    _validate(images, labels, n_expected, str(img_path), str(lbl_path))
    return images, labels


# --------------------------------------------------------------------------------------------
# cache


def _cache_path(name: str, split: str) -> Path:
    return cache_dir() / f"{name}-{split}.npz"


def load_cache_file(path, check):
    """``(images, labels)`` (labels int64) of the ``.npz`` cache file ``path``, or None when
    there is none; a file that cannot be read, or whose arrays ``check(images, labels)`` rejects
    (raising ValueError or DatasetError), is ignored with a warning, so the caller rebuilds it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
        check(images, labels)
        return images, labels.astype(np.int64, copy=False)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, DatasetError) as e:
        log.warning("ignoring invalid cache file %s (%s); rebuilding it", path, e)
        return None


def save_cache_file(path, images, labels, compress: bool = True) -> None:
    """Write ``(images, labels)`` (labels as int64) to the ``.npz`` cache file ``path``
    atomically: a temp file beside it, then a rename, so no reader ever sees half a file.
    ``compress=False`` writes it uncompressed (loading it is one read). Failures only log a
    warning: the caller has the data."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save = np.savez_compressed if compress else np.savez
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            save(f, images=images, labels=labels.astype(np.int64))
        os.replace(tmp, path)
    except OSError as e:
        log.warning("could not write cache file %s (%s)", path, e)
        tmp.unlink(missing_ok=True)


def _cached(name: str, split: str, load):
    """``(images, labels)`` of a split: from the cache if it holds a valid copy, else from
    ``load()``, whose result is then cached."""
    _check_split(split)
    path = _cache_path(name, split)
    cached = load_cache_file(
        path, lambda images, labels: _validate(images, labels, SPLIT_SIZES[split], str(path)))
    if cached is not None:
        return cached
    images, labels = load()
    save_cache_file(path, images, labels)
    return images, labels


def _from_idx_folder(folder, split: str, what: str, how_to_get: str):
    """:func:`load_idx_folder` for a full split; a missing file is reported as
    ``<what>: <the missing file><how_to_get>``."""
    try:
        return load_idx_folder(folder, split, SPLIT_SIZES[split])
    except DatasetNotFoundError as e:
        raise DatasetNotFoundError(f"{what}: {e}{how_to_get}") from e


# --------------------------------------------------------------------------------------------
# array datasets


class ArrayDataset:
    """Equal-length arrays indexed together: ``ds[i]`` is ``tuple(a[i] for a in arrays)``.

    ``i`` may be an int, a slice or an index array (then the items are batches).
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        n = len(self.arrays[0])
        if any(len(a) != n for a in self.arrays):
            raise ValueError(f"arrays differ in length: {[len(a) for a in self.arrays]}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"ArrayDataset({shapes})"


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 images in 0..255 -> float32 in [-1, 1] (``x / 127.5 - 1``), same shape."""
    out = images.astype(np.float32)
    out *= np.float32(1.0 / 127.5)
    out -= np.float32(1.0)
    return out


# --------------------------------------------------------------------------------------------
# names that moved to gans/ (issue 25): old imports keep working


_MOVED = {
    **{name: "gans.mnist" for name in (
        "load_mnist", "load_fashion_mnist", "load_digits8x8", "parse_mnist_csv",
        "FASHION_MNIST_CLASSES", "FASHION_MNIST_SYSTEM_DIR", "MNIST_WHEEL_NAME",
        "MNIST_WHEEL_REQUIREMENT", "mnist_dataset", "fashion_mnist_dataset")},
    **{name: "gans.toy_data" for name in (
        "gaussian_1d", "ring_centres", "grid_centres", "ring_of_gaussians",
        "grid_of_gaussians")},
}


def __getattr__(name):
    """``minigrad.data.datasets.load_mnist`` and the other moved names, from their new home
    (imported on first use: minigrad itself never needs gans)."""
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
