"""Colour: CIFAR-10 and image folders (gans/cifar.py), the colour classifier (gans/classifier.py)
and the models at 32x32x3. Everything on small generated archives and folders in tmp_path; no
network (the "download" is a file:// URL)."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

import minigrad
import gans
from gans import cifar, classifier, datasets, metrics
from gans.__main__ import main
from minigrad.data import DatasetError, DatasetNotFoundError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("MINIGRAD_DATA", str(folder))
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    return folder


def _batch(n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    # as the official files: bytes keys, a list of labels, pickled by Python 2 (protocol 2)
    return {b"batch_label": b"batch", b"labels": labels, b"data": data,
            b"filenames": [b"x.png"] * n}


def _fake_archive(path, sizes=(3, 3, 3, 3, 3, 4)):
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for seed, (name, n) in enumerate(zip(names, sizes)):
            batches[name] = _batch(n, seed)
            raw = pickle.dumps(batches[name], protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return batches


def test_cifar10_from_the_python_archive_then_from_the_cache(tmp_path, cache, monkeypatch):
    batches = _fake_archive(tmp_path / cifar.CIFAR10_ARCHIVE)
    x, y = cifar.load_cifar10("train", root=tmp_path)
    want = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x.reshape(15, -1), want)
    xt, yt = cifar.load_cifar10("test", root=tmp_path)
    assert xt.shape == (4, 3, 32, 32) and list(yt) == batches["test_batch"][b"labels"]
    assert (cache / "cifar10-train.npz").is_file()

    # the second load reads the decoded arrays, not the archive
    monkeypatch.setattr(cifar, "read_cifar10_batches", lambda *a: pytest.fail("re-decoded"))
    x2, y2 = cifar.load_cifar10("train")
    np.testing.assert_array_equal(x2, x)
    ds = cifar.cifar10_dataset("train")
    images, labels = ds.arrays
    assert images.dtype == np.float32 and images.min() >= -1 and images.max() <= 1
    np.testing.assert_allclose(images, x / 127.5 - 1, atol=1e-6)


def test_cifar10_from_the_unpacked_folder(tmp_path, cache):
    _fake_archive(tmp_path / "a.tar.gz")
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    x, y = cifar.load_cifar10("test", root=tmp_path / "unpacked")
    assert x.shape == (4, 3, 32, 32)


def _serve(tmp_path, monkeypatch):
    batches = _fake_archive(tmp_path / "served.tar.gz")
    monkeypatch.setattr(cifar, "CIFAR10_URL", (tmp_path / "served.tar.gz").as_uri())
    md5 = hashlib.md5((tmp_path / "served.tar.gz").read_bytes()).hexdigest()
    return batches, md5


def test_download_once_with_its_checksum(tmp_path, cache, monkeypatch, capsys):
    batches, md5 = _serve(tmp_path, monkeypatch)
    monkeypatch.setattr(cifar, "CIFAR10_MD5", md5)
    x, y = cifar.load_cifar10("test")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CIFAR-10: downloading" in err and "once" in err
    assert (cache / cifar.CIFAR10_ARCHIVE).is_file()
    assert list(y) == batches["test_batch"][b"labels"]
    cifar.load_cifar10("train")  # the archive is there now: no second notice
    assert capsys.readouterr().err == ""


def test_a_download_with_the_wrong_checksum_is_deleted(tmp_path, cache, monkeypatch):
    _serve(tmp_path, monkeypatch)
    monkeypatch.setattr(cifar, "CIFAR10_MD5", "0" * 32)
    with pytest.raises(DatasetError, match="MD5"):
        cifar.load_cifar10("train")
    assert not list(cache.glob("*.tar.gz")) and not list(cache.glob(".*part"))


def test_no_cifar10_anywhere_names_both_ways(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(cifar, "CIFAR10_URL", (tmp_path / "absent.tar.gz").as_uri())
    with pytest.raises(DatasetNotFoundError) as info:
        cifar.load_cifar10("train")
    first = str(info.value).splitlines()[0]
    assert "CIFAR10_DIR" in first and "imagefolder:PATH" in first
    with pytest.raises(DatasetNotFoundError, match="imagefolder:PATH"):
        cifar.load_cifar10("train", root=tmp_path)  # a folder without the files


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.remove, (self.path,))


def test_the_unpickler_refuses_anything_but_arrays(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    raw = pickle.dumps({b"data": _Evil(str(victim)), b"labels": [0]}, protocol=2)
    with pytest.raises(DatasetError, match="posix.remove|os.remove|refusing"):
        cifar.safe_unpickle(raw, "evil")
    assert victim.read_text() == "still here"
    # a genuine batch goes through, arrays included
    ok = cifar.safe_unpickle(pickle.dumps(_batch(2, 0), protocol=2), "ok")
    assert isinstance(ok[b"data"], np.ndarray) and ok[b"data"].shape == (2, 3072)


def test_a_corrupt_archive_says_so(tmp_path, cache):
    (tmp_path / cifar.CIFAR10_ARCHIVE).write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DatasetError, match="corrupt"):
        cifar.load_cifar10("train", root=tmp_path)


def _image_folder(root, split_folders=True, n=3):
    from PIL import Image

    rng = np.random.default_rng(0)
    splits = ("train", "test") if split_folders else ("",)
    for split in splits:
        for c in ("zebra", "ant"):  # sorted: ant = 0, zebra = 1
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                px = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(px).save(d / f"{i}.png")
            Image.fromarray(rng.integers(0, 256, (40, 48), dtype=np.uint8)).save(d / "big.jpg")
            (d / "notes.txt").write_text("not an image")


def test_image_folder_with_train_and_test(tmp_path, cache, monkeypatch):
    from PIL import Image

    _image_folder(tmp_path / "imgs")
    x, y, classes = cifar.load_image_folder(tmp_path / "imgs", "train")
    assert classes == ("ant", "zebra")
    assert x.shape == (8, 3, 32, 32) and x.dtype == np.uint8   # the grey 40x48 JPEG resized
    assert list(y) == [0] * 4 + [1] * 4
    png = np.asarray(Image.open(tmp_path / "imgs/train/ant/0.png"))
    np.testing.assert_array_equal(x[0].transpose(1, 2, 0), png)  # sorted: 0.png, ..., big.jpg
    big = x[3]
    assert np.array_equal(big[0], big[1]) and np.array_equal(big[1], big[2])  # grey -> RGB
    xt, yt, _ = cifar.load_image_folder(tmp_path / "imgs", "test")
    assert len(xt) == 8

    # decoded once: the second load reads the cache; a changed folder is decoded again
    monkeypatch.setattr(cifar, "_decode_folder", lambda *a: pytest.fail("re-decoded"))
    x2, _, _ = cifar.load_image_folder(tmp_path / "imgs", "train")
    np.testing.assert_array_equal(x2, x)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "imgs/train/ant/new.png")
    with pytest.raises(pytest.fail.Exception):
        cifar.load_image_folder(tmp_path / "imgs", "train")

    ds = datasets.load(f"imagefolder:{tmp_path / 'imgs'}", "test")
    assert ds.arrays[0].shape == (8, 3, 32, 32) and ds.arrays[0].dtype == np.float32
    assert datasets.image_shape(f"imagefolder:{tmp_path}") == (3, 32)
    assert datasets.image_shape("cifar10") == (3, 32) and datasets.image_shape("mnist") == (1, 28)


def test_image_folder_without_splits_is_a_training_set(tmp_path, cache):
    _image_folder(tmp_path / "flat", split_folders=False)
    x, y, _ = cifar.load_image_folder(tmp_path / "flat")
    assert len(x) == 8
    with pytest.raises(DatasetNotFoundError, match="test"):
        cifar.load_image_folder(tmp_path / "flat", "test")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        cifar.load_image_folder(tmp_path / "nowhere")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="no"):
        cifar.load_image_folder(tmp_path / "empty")


# ------------------------------------------------------------------------------ the classifier
def test_random_flip_and_crop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3, 8, 8)).astype(np.float32)
    out = classifier.random_flip(x, rng)
    same = np.all(out == x, axis=(1, 2, 3))
    mirrored = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored) and 60 < mirrored.sum() < 140
    crop = classifier.random_shift(x, 4, rng, fill=-1.0)  # = a random crop of the padded image
    assert crop.shape == x.shape and (crop == -1).any()


def _colour_data(n=96, seed=0):
    """Two classes a small CNN tells apart at once: reddish and bluish noise images."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.uniform(-1, 1, (n, 3, 32, 32)).astype(np.float32) * 0.5
    x[:, 0] += np.where(y == 0, 0.4, -0.4)[:, None, None]
    x[:, 2] -= np.where(y == 0, 0.4, -0.4)[:, None, None]
    return x, y.astype(np.int64)


def test_colour_classifier_resumes_exactly(tmp_path):
    x, y = _colour_data()
    kw = dict(widths=(4, 4, 8), epochs=2, batch_size=32, lr=0.05, log=None)
    straight, _ = classifier.train_colour_classifier(x, y, **kw)

    class Stop(Exception):
        pass

    def stop_after_first(line):
        if "epoch 1/2" in line:
            raise Stop

    ck = tmp_path / "partial.npz"
    with pytest.raises(Stop):
        classifier.train_colour_classifier(x, y, checkpoint=ck, **dict(kw, log=stop_after_first))
    assert ck.is_file()
    lines = []
    resumed, info = classifier.train_colour_classifier(x, y, checkpoint=ck,
                                                       **dict(kw, log=lines.append))
    assert "resuming" in lines[0] and len(info["history"]) == 2
    for (k, a), (_, b) in zip(sorted(straight.state_dict().items()),
                              sorted(resumed.state_dict().items())):
        np.testing.assert_array_equal(np.asarray(a.data if hasattr(a, "data") else a),
                                      np.asarray(b.data if hasattr(b, "data") else b), err_msg=k)
    feats, probs = classifier.features_and_probs(resumed, x[:5])
    assert feats.shape == (5, 8) and probs.shape == (5, 10) and feats.min() >= 0


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    """'cifar10' replaced by generated colour images and a tiny recipe of the real one's kind."""
    x, y = _colour_data(160)
    splits = {"train": (x[:128], y[:128]), "test": (x[128:], y[128:])}
    from minigrad import data as mdata

    spec = dict(classifier.DATASETS["cifar10"],
                load=lambda split: mdata.ArrayDataset(*splits[split]), min_accuracy=0.5,
                recipe=dict(arch="colour", widths=(4, 4, 8), epochs=2, batch_size=32, lr=0.05,
                            momentum=0.9, weight_decay=5e-4, warmup_epochs=1,
                            label_smoothing=0.1, pad=4, flip=True, seed=0))
    monkeypatch.setitem(classifier.DATASETS, "cifar10", spec)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(classifier, "_LOADED", {})
    return splits


def test_cifar10_classifier_cache_and_scores(tiny_cifar, tmp_path, monkeypatch, capsys):
    model = classifier.get_classifier("cifar-10")
    assert isinstance(model, classifier.ColourClassifier) and model.test_accuracy >= 0.5
    assert classifier.classifier_path("cifar10").is_file()
    assert not (tmp_path / "cache" / "classifiers" / "cifar10.partial.npz").exists()
    monkeypatch.setattr(classifier, "_LOADED", {})
    monkeypatch.setattr(classifier, "train_colour_classifier", lambda *a, **k: pytest.fail("again"))
    again = classifier.get_classifier("cifar10")
    assert again.fingerprint == model.fingerprint and again.config == model.config

    x_test = tiny_cifar["test"][0]
    scores = metrics.score_samples(x_test, "cifar10", verbose=False)
    assert {"is", "fid", "kid", "precision", "recall", "density", "coverage"} <= set(scores)
    with pytest.raises(ValueError, match=r"not \(N, 3, 32, 32\)"):
        metrics.score_samples(np.zeros((4, 1, 28, 28), np.float32) - 1, "cifar10")
    np.save(tmp_path / "s.npy", x_test)
    capsys.readouterr()
    assert main(["score", str(tmp_path / "s.npy"), "--dataset", "cifar10", "--json"]) in (0, None)
    assert '"fid"' in capsys.readouterr().out


# ------------------------------------------------------------------------------ the models
COLOUR_MODELS = [("dcgan", {}), ("sngan", {}), ("wgan_gp", dict(critic="conv")),
                 ("wgan_gp", dict(critic="conv", layer_norm=True)), ("acgan", {}), ("cgan", {}),
                 ("lsgan", {}), ("wgan", {}), ("infogan", {}), ("vanilla", {})]


@pytest.mark.parametrize("name,extra", COLOUR_MODELS, ids=lambda v: str(v))
def test_models_train_at_32x32x3(name, extra):
    minigrad.manual_seed(0)
    small = dict(g_hidden=(32,), d_hidden=(32,)) if name in ("cgan", "vanilla") else dict(
        g_features=8, d_features=8)
    cfg = gans.get_config(name)(channels=3, img_size=32, batch_size=4, **small, **extra)
    model = gans.get_model(name)(cfg)
    rng = np.random.default_rng(0)
    x = minigrad.Tensor(rng.uniform(-1, 1, (4, 3, 32, 32)).astype(np.float32))
    y = minigrad.Tensor(np.arange(4) % 10) if model.conditional else None
    for _ in range(2):
        stats = model.train_step(x, y)
        assert all(np.isfinite(v) for v in stats.values())
    out = model.sample(3, np.arange(3) if model.conditional else None).numpy()
    assert out.shape == (3, 3, 32, 32) and np.abs(out).max() <= 1


def test_sngan_standard_cnn_layout():
    model = gans.get_model("sngan")(gans.get_config("sngan")(channels=3, img_size=32))
    convs = [m for m in model.D.modules() if type(m).__name__ in ("Conv2d", "Linear")]
    assert [tuple(m.weight_orig.shape)[:2] for m in convs] == [
        (64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (512, 256), (1, 8192)]
    g_widths = [m.weight.shape[1] for m in model.G.modules()
                if type(m).__name__ == "ConvTranspose2d"]
    assert g_widths == [256, 128, 64]                      # 512 -> 256 -> 128 -> 64, then 3x3
    dc = gans.get_model("sngan")(gans.get_config("sngan")())  # 28x28: the DCGAN pair
    assert type(dc.D).__name__ == "Discriminator"
    with pytest.raises(ValueError, match="divisible by 8"):
        gans.get_model("sngan")(gans.get_config("sngan")(img_size=28, net="standard_cnn"))


def test_cli_trains_sngan_on_an_image_folder_and_resumes(tmp_path, cache, capsys):
    _image_folder(tmp_path / "imgs", n=6)
    args = ["train", "--model", "sngan", "--dataset", f"imagefolder:{tmp_path / 'imgs'}",
            "--g-features", "4", "--d-features", "4", "--batch-size", "4", "--no-progress",
            "--sample-every", "0", "--out", str(tmp_path / "run")]
    assert main(args + ["--max-steps", "2"]) in (0, None)
    run = gans.protocol.load_model(tmp_path / "run" / "checkpoint.npz")
    assert (run.config.channels, run.config.img_size) == (3, 32)
    capsys.readouterr()
    assert main(args + ["--max-steps", "3"]) in (0, None)
    assert "resumed" in capsys.readouterr().out


def test_twin_script_follows_the_dataset_and_stops_at_max_steps(tmp_path, cache):
    """benchmarks/train_twin (the sweep's --framework torch): the twin's images take the
    dataset's channels and size, as `gans train` does, and --max-steps ends its run."""
    pytest.importorskip("torch")
    import json

    from benchmarks import train_twin

    _image_folder(tmp_path / "imgs", n=6)  # 12 training images: 3 batches of 4 per epoch
    train_twin.main(["--model", "dcgan", "--dataset", f"imagefolder:{tmp_path / 'imgs'}",
                     "--g-features", "4", "--d-features", "4", "--batch-size", "4",
                     "--epochs", "3", "--max-steps", "4", "--n", "6", "--threads", "1",
                     "--out", str(tmp_path / "twin")])
    summary = json.loads((tmp_path / "twin" / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["max_steps"] == 4
    assert np.load(tmp_path / "twin" / "samples.npy").shape == (6, 3, 32, 32)
    # config.json and metrics.csv as `gans train` writes them, so the curves compare
    config = json.loads((tmp_path / "twin" / "config.json").read_text())
    assert config["model"] == "dcgan" and (config["channels"], config["img_size"]) == (3, 32)
    lines = (tmp_path / "twin" / "metrics.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,loss_d,loss_g" and len(lines) == 1 + 4
    assert lines[-1].startswith("4,1,")  # 3 batches per epoch: step 4 is epoch 1's first


def test_wgan_gp_critic_follows_the_images():
    """critic 'auto' (the default) is resolved when the config is made: the conv critic for
    colour images, the MLP for grey ones (so MNIST runs keep their config), an explicit choice
    stays."""
    from gans import datasets

    cfg = gans.get_config("wgan_gp")
    assert datasets.config_for(cfg, "cifar10").critic == "conv"
    assert datasets.config_for(cfg, "mnist").critic == "mlp"
    assert cfg(critic="auto").critic == "mlp" and cfg(critic="conv").critic == "conv"
    assert cfg(channels=3, img_size=32, critic="mlp").critic == "mlp"
