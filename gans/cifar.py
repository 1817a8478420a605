"""Colour images for the GANs: CIFAR-10 and any folder of images, as (N, 3, 32, 32) in [-1, 1].

Two ways to get colour data:

* ``load_cifar10(split)`` (``--dataset cifar10``), first hit wins:

  1. the cache ``<cache_dir()>/cifar10-<split>.npz`` (decoded once; a load then takes well under
     a second);
  2. ``root`` or ``$CIFAR10_DIR``: the official "python version" (``cifar-10-python.tar.gz`` or
     its unpacked ``cifar-10-batches-py/``), or an image folder in the layout below (the
     shared JPEG copy, unpacked, is one);
  3. the official archive, downloaded once into the cache from :data:`CIFAR10_URL` and checked
     against its published MD5 (:data:`CIFAR10_MD5`).

  The batches are Python pickles. They are read with :class:`SafeUnpickler`, which builds
  only dicts, lists, bytes, str, ints and NumPy arrays: any other global in the stream
  (``os.system``, ``builtins.eval``, ...) raises :class:`DatasetError` instead of running.

* ``load_image_folder(path, split)`` (``--dataset imagefolder:PATH``): class sub-folders of
  PNG/JPEG/BMP/GIF/WebP images read with Pillow, class labels in sorted folder order (the
  torchvision ``ImageFolder`` convention). If ``PATH/train`` (and ``PATH/test``) exist they
  are the splits; otherwise ``PATH`` itself is the training split. Images are converted to
  RGB and resized to ``image_size`` (32) if needed. Decoded arrays are cached per folder
  (keyed by its path and the names, sizes and mtimes of its files), so a second load reads
  one .npz.

Both return uint8 ``(N, 3, H, W)`` and int64 ``(N,)``; ``cifar10_dataset`` and
``image_folder_dataset`` give ``ArrayDataset``s of float32 in [-1, 1] ready for a GAN.
"""
from __future__ import annotations

import hashlib
import io as _io
import os
import pickle
import sys
import tarfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from minigrad.data import ArrayDataset, DatasetError, DatasetNotFoundError, cache_dir
from minigrad.data import load_cache_file, save_cache_file, to_unit_range

__all__ = [
    "CIFAR10_CLASSES", "CIFAR10_URL", "CIFAR10_MD5", "SafeUnpickler", "safe_unpickle",
    "read_cifar10_batches", "load_cifar10", "load_image_folder", "cifar10_dataset",
    "image_folder_dataset", "IMAGE_EXTENSIONS",
]


#: The official CIFAR-10 "python version" and its MD5, as published on
#: https://www.cs.toronto.edu/~kriz/cifar.html (also the checksum torchvision checks).
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MB = 170  # its size (170498071 bytes), said before downloading it
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                   "test": ("test_batch",)}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
SPLITS = ("train", "test")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


# ------------------------------------------------------------------------------ safe pickle
def _numpy_reconstruct():
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._reconstruct


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}")
    return text.encode("latin1")


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals a pickled NumPy array needs.

    Dicts, lists, tuples, bytes, str and numbers are built by the pickle opcodes themselves and
    need no global (bytes written by Python 3 at protocol 2 need ``_codecs.encode``, allowed
    for latin-1 only); NumPy arrays need ``numpy.core.multiarray._reconstruct`` (or its NumPy 2
    spelling ``numpy._core.multiarray._reconstruct``), ``numpy.ndarray`` and ``numpy.dtype``.
    Every other global raises :class:`pickle.UnpicklingError`, so a crafted file cannot call
    anything.
    """

    _ALLOWED = {
        # Python 3 writes bytes at protocol 2 as _codecs.encode(text, "latin1")
        ("_codecs", "encode"): lambda: _latin1_encode,
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
    }

    def find_class(self, module, name):
        get = self._ALLOWED.get((module, name))
        if get is None:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name} "
                                         "(only NumPy arrays are allowed)")
        return get()


def safe_unpickle(raw: bytes, source: str):
    """``pickle.loads`` restricted by :class:`SafeUnpickler`; Python 2's strings (CIFAR's files
    were written by Python 2) are read as latin-1, as NumPy's pickles need. Any failure raises
    :class:`DatasetError` naming ``source``."""
    try:
        return SafeUnpickler(_io.BytesIO(raw), encoding="latin1").load()
    except Exception as e:  # a corrupt or hostile stream can raise nearly anything
        raise DatasetError(f"{source}: not a CIFAR-10 batch ({type(e).__name__}: {e})") from e


def _parse_batch(obj, source: str):
    """A CIFAR-10 batch dict -> (uint8 (N, 3, 32, 32), int64 (N,)), validated."""
    if not isinstance(obj, dict):
        raise DatasetError(f"{source}: expected a dict, found {type(obj).__name__}")
    keys = {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
    if "data" not in keys or "labels" not in keys:
        raise DatasetError(f"{source}: a CIFAR-10 batch has 'data' and 'labels', found "
                           f"{sorted(map(str, keys))}")
    data = keys["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        raise DatasetError(f"{source}: 'data' must be uint8 (N, 3072), found "
                           f"{getattr(data, 'dtype', type(data).__name__)} "
                           f"{getattr(data, 'shape', '')}")
    labels = np.asarray(keys["labels"], dtype=np.int64)
    if labels.shape != (len(data),):
        raise DatasetError(f"{source}: {len(data)} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DatasetError(f"{source}: labels must lie in 0..9, found "
                           f"{labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar10_batches(source, split: str):
    """The ``split`` of the official python version at ``source``: the ``.tar.gz`` archive,
    the ``cifar-10-batches-py`` folder, or a folder holding it. Returns (uint8 (N, 3, 32, 32),
    int64 (N,)) in the batches' order."""
    _check_split(split)
    source = Path(source)
    names = CIFAR10_BATCHES[split]
    raws = {}
    if source.is_file():
        try:
            with tarfile.open(source, "r:*") as tar:
                for member in tar:
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in names:
                        raws[base] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{source}: truncated or corrupt archive ({e}); delete it and "
                               "try again") from e
    else:
        folder = source / CIFAR10_FOLDER if (source / CIFAR10_FOLDER).is_dir() else source
        for base in names:
            if (folder / base).is_file():
                raws[base] = (folder / base).read_bytes()
    missing = [b for b in names if b not in raws]
    if missing:
        raise DatasetNotFoundError(f"{source}: no CIFAR-10 batch {', '.join(missing)}")
    parts = [_parse_batch(safe_unpickle(raws[b], f"{source}:{b}"), f"{source}:{b}")
             for b in names]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))


# ------------------------------------------------------------------------------ image folders
def _split_root(path: Path, split: str) -> Path:
    """PATH/<split> if PATH has split sub-folders, else PATH for 'train'."""
    if (path / "train").is_dir():
        sub = path / split
        if not sub.is_dir():
            raise DatasetNotFoundError(f"{path}: has train/ but no {split}/ folder")
        return sub
    if split == "test":
        raise DatasetNotFoundError(f"{path}: no test/ folder (an image folder without "
                                   "train/ and test/ is a training split only)")
    return path


def _listing(folder: Path):
    """[(class name, [files])] of an image folder, classes and files sorted by name."""
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if not classes:
        raise DatasetNotFoundError(f"{folder}: no class sub-folders (expected "
                                   f"{folder}/<class>/<image>.png or .jpg)")
    out = []
    for c in classes:
        files = sorted(e.name for e in os.scandir(folder / c)
                       if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS))
        out.append((c, files))
    if not any(files for _, files in out):
        raise DatasetNotFoundError(f"{folder}: the class folders hold no "
                                   f"{'/'.join(IMAGE_EXTENSIONS)} files")
    return out


def _listing_key(folder: Path, listing, image_size: int) -> str:
    """A hash of the folder, its files (names, sizes, mtimes) and the image size."""
    h = hashlib.sha1(f"{folder.resolve()}|{image_size}".encode())
    for c, files in listing:
        h.update(c.encode() + b"/")
        for name in files:
            st = os.stat(folder / c / name)
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _decode_folder(folder: Path, listing, image_size: int):
    from PIL import Image

    n = sum(len(files) for _, files in listing)
    images = np.empty((n, image_size, image_size, 3), np.uint8)
    labels = np.empty(n, np.int64)
    i = 0
    for label, (c, files) in enumerate(listing):
        for name in files:
            path = folder / c / name
            try:
                with Image.open(path) as im:
                    im = im.convert("RGB")
                    if im.size != (image_size, image_size):
                        im = im.resize((image_size, image_size), Image.Resampling.BICUBIC)
                    images[i] = np.asarray(im)
            except (OSError, ValueError) as e:
                raise DatasetError(f"{path}: cannot read image ({e})") from e
            labels[i] = label
            i += 1
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), labels


def load_image_folder(path, split: str = "train", image_size: int = 32, cache: bool = True):
    """Images of ``path`` (class sub-folders; ``path/train`` and ``path/test`` if present).

    Returns:
        (uint8 (N, 3, image_size, image_size), int64 (N,), class names).
    """
    _check_split(split)
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"image folder {path} does not exist")
    folder = _split_root(path, split)
    listing = _listing(folder)
    classes = tuple(c for c, _ in listing)
    cpath = cache_dir() / "imagefolders" / f"{_listing_key(folder, listing, image_size)}.npz"
    if cache:
        got = _read_npz(cpath)
        if got is not None:
            return got[0], got[1], classes
    images, labels = _decode_folder(folder, listing, image_size)
    if cache:
        _write_npz(cpath, images, labels)
    return images, labels, classes


# ------------------------------------------------------------------------------ the cache
def _check_colour(images, labels) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3 \
            or labels.shape != (len(images),):
        raise ValueError(f"unexpected arrays {images.dtype}{images.shape}, {labels.shape}")


def _read_npz(path: Path):
    """The cached (uint8 (N, 3, H, W) images, labels), or None."""
    return load_cache_file(path, _check_colour)


def _write_npz(path: Path, images, labels) -> None:
    """Uncompressed (loading it is one read), atomic; failures only log a warning (the data
    is still returned)."""
    save_cache_file(path, images, labels, compress=False)


# ------------------------------------------------------------------------------ CIFAR-10
def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _how_to_get() -> str:
    return (f"put {CIFAR10_ARCHIVE} (from {CIFAR10_URL}) or its {CIFAR10_FOLDER}/ folder in a "
            "folder and set CIFAR10_DIR=<folder>, or train on a folder of images with "
            "--dataset imagefolder:PATH (class sub-folders, optionally PATH/train and PATH/test)")


def _download_cifar10() -> Path:
    """The official archive in the cache, downloaded once and checked against CIFAR10_MD5."""
    dest = cache_dir() / CIFAR10_ARCHIVE
    if dest.is_file() and _md5(dest) == CIFAR10_MD5:
        return dest
    # A first run should say why it pauses (and that it will not again).
    print(f"CIFAR-10: downloading {CIFAR10_MB} MB once into {dest.parent} ({CIFAR10_URL})",
          file=sys.stderr, flush=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(CIFAR10_URL, timeout=60) as r, open(tmp, "wb") as f:
            for block in iter(lambda: r.read(1 << 20), b""):
                f.write(block)
    except (OSError, ValueError) as e:
        tmp.unlink(missing_ok=True)
        raise DatasetNotFoundError(f"CIFAR-10 could not be downloaded ({e}); offline, "
                                   + _how_to_get()) from e
    got = _md5(tmp)
    if got != CIFAR10_MD5:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"CIFAR-10: the download from {CIFAR10_URL} has MD5 {got}, not the "
                           f"published {CIFAR10_MD5} (deleted; try again, or "
                           + _how_to_get() + ")")
    os.replace(tmp, dest)
    return dest


def _cifar10_from(folder: Path, split: str):
    """The split from a user-supplied folder: the official files, or an image folder."""
    for candidate in (folder / CIFAR10_ARCHIVE, folder / CIFAR10_FOLDER, folder):
        if candidate.is_file() or (candidate.is_dir()
                                   and (candidate / CIFAR10_BATCHES[split][0]).is_file()):
            return read_cifar10_batches(candidate, split)
    if (folder / "train").is_dir() or (folder / split).is_dir():
        images, labels, classes = load_image_folder(folder, split, 32, cache=False)
        if len(classes) != 10:
            raise DatasetError(f"{folder}: an image folder of CIFAR-10 has 10 class folders, "
                               f"found {len(classes)}")
        return images, labels
    raise DatasetNotFoundError(f"CIFAR-10: {folder} holds neither {CIFAR10_ARCHIVE}, "
                               f"{CIFAR10_FOLDER}/ nor train/<class>/ images; " + _how_to_get())


def load_cifar10(split: str = "train", root=None):
    """CIFAR-10 (train: 50000 images, test: 10000): uint8 (N, 3, 32, 32), int64 labels 0..9.

    Sources in order: the cache ``<cache_dir()>/cifar10-<split>.npz``; ``root`` or
    ``$CIFAR10_DIR`` (when either is set, no other source is tried); the official archive,
    downloaded once into ``cache_dir()``. The first load of a split writes the cache.
    """
    _check_split(split)
    cpath = cache_dir() / f"cifar10-{split}.npz"
    got = _read_npz(cpath)
    if got is not None:
        return got
    folder = root if root is not None else os.environ.get("CIFAR10_DIR")
    if folder:
        images, labels = _cifar10_from(Path(folder).expanduser(), split)
    else:
        images, labels = read_cifar10_batches(_download_cifar10(), split)
    _write_npz(cpath, images, labels)
    return images, labels


def cifar10_dataset(split: str = "train", root=None) -> ArrayDataset:
    """CIFAR-10 as ``ArrayDataset(images float32 (N, 3, 32, 32) in [-1, 1], labels int64)``."""
    images, labels = load_cifar10(split, root)
    return ArrayDataset(to_unit_range(images), labels)


def image_folder_dataset(path, split: str = "train", image_size: int = 32) -> ArrayDataset:
    """A folder of images as ``ArrayDataset(float32 (N, 3, S, S) in [-1, 1], int64 labels)``."""
    images, labels, _ = load_image_folder(path, split, image_size)
    return ArrayDataset(to_unit_range(images), labels)
