"""A step never waits for the device: every variant's train_step returns its numbers as
detached tensors and copies nothing to the host; fit brings them over in one copy per flush
(every log_every steps, an epoch's end, a checkpoint, a stop, the end), writes the same
metrics.csv whatever log_every is, still catches a diverged step (keeping the checkpoint
before it), and resumes checkpoints of the previous trainer. Host copies are counted with
minigrad.backend.counters (counted on the CPU as on a GPU)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import gans
import minigrad
from gans import datasets
from gans import theory as T
from gans.trainer import TrainingDiverged, fit
from minigrad.backend import counters
from minigrad.data import DataLoader
from minigrad.utils.io import load, save

SMALL = {
    "vanilla": dict(g_hidden=(8,), d_hidden=(8,)),
    "dcgan": dict(g_features=4, d_features=4),
    "lsgan": dict(g_features=4, d_features=4),
    "sngan": dict(g_features=4, d_features=4, r1_gamma=1.0),  # r1 logged too
    "cgan": dict(g_hidden=(8,), d_hidden=(8,)),
    "acgan": dict(g_features=4, d_features=4),
    "wgan": dict(g_features=4, d_features=4),
    "wgan_gp": dict(mlp_hidden=(8,), g_features=4),
    "infogan": dict(g_features=4, d_features=4, g_fc_features=8, fc_features=8, q_features=8),
    "cyclegan": dict(ngf=2, ndf=2, n_residual=1),
    "vae": dict(hidden=8),
}


def _model(name, **extra):
    minigrad.manual_seed(0)
    return gans.get_model(name)(gans.get_config(name)(batch_size=4, **SMALL[name], **extra))


def _loader(model, n=40, seed=0, device=None):
    ds = datasets.load("random", n=n, image_to_image=model.image_to_image)
    return DataLoader(ds, batch_size=4, shuffle=True, seed=seed, drop_last=True, device=device)


def test_every_variant_is_listed():
    assert set(SMALL) == set(gans.available())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_train_step_copies_nothing_to_the_host(name):
    model = _model(name)
    batch = next(iter(_loader(model, n=4)))
    model.train_step(*batch, update_g=True)  # the first step builds optimizer states
    with counters.count() as c:
        stats = model.train_step(*batch, update_g=True)
    assert c["to_host"] == 0, f"{name}: {c['to_host']} copies to the host in a step"
    assert stats and all(isinstance(v, minigrad.Tensor) and v.ndim == 0 and not v.requires_grad
                         for v in stats.values()), stats
    assert all(math.isfinite(float(v)) for v in stats.values())


def test_toy_gan_train_step_copies_nothing_to_the_host():
    for method in ("gan", "wgan_gp", "pacgan"):
        minigrad.manual_seed(0)
        model = T.ToyGAN(T.ToyGANConfig(method=method, batch_size=8))
        pack = model.config.pack if method == "pacgan" else 1
        real, labels = next(iter(T.ToyMixture("ring", 8, batches=1, pack=pack)))
        model.train_step(real, labels, update_g=True)
        with counters.count() as c:
            stats = model.train_step(real, labels, update_g=True)
        assert c["to_host"] == 0 and set(stats) == {"loss_d", "loss_g"}, method


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp"])
@pytest.mark.parametrize("log_every,copies", [(4, 3), (5, 2), (1, 10), (50, 1)])
def test_fit_copies_once_per_flush(name, log_every, copies):
    """10 steps in one epoch, in memory: flushes at every log_every-th step and at the epoch's
    end (none when nothing is pending), one copy each; nothing else reaches the host."""
    extra = {"d_steps": 2} if name == "wgan_gp" else {}
    model = _model(name, **extra)
    loader = _loader(model)
    with counters.count() as c:
        history = fit(model, loader, epochs=1, out_dir=None, progress=False, log_every=log_every)
    assert len(history) == 10 and [r["step"] for r in history] == list(range(1, 11))
    assert c["to_host"] == copies == math.ceil(10 / log_every)
    assert all(isinstance(v, (int, float)) for row in history for v in row.values())


@pytest.mark.parametrize("cuda_graph", [False, True], ids=["eager", "cuda-graph"])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_fit_on_the_emulated_gpu_reads_the_device_once_per_flush(name, cuda_graph):
    """The whole loop on the emulated GPU (benchmarks/cupy_launches.py), where any read of a
    device value on the host counts (``device_to_host``: a ``.get()``, an ``int()`` or ``bool()``
    of a raw array...), not only minigrad's own copies: 10 steps with log_every 4 read the
    device three times, once per flush, whatever the variant, eager or replayed (CycleGAN's
    image pool refuses a capture: eager there)."""
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda():
        minigrad.manual_seed(0)
        model = gans.get_model(name)(gans.get_config(name)(batch_size=4, **SMALL[name]),
                                     device="cuda")
        loader = _loader(model, device="cuda")
        with counters.count() as c:
            history = fit(model, loader, epochs=1, out_dir=None, progress=False, log_every=4,
                          cuda_graph=cuda_graph)
    assert len(history) == 10
    assert c["device_to_host"] == c["to_host"] == 3, {k: v for k, v in c.items() if "host" in k}
    replays = c["launch.cuda_graph_launch"]  # the steps after the warm-up and the capture
    assert replays >= 7 if cuda_graph and not model.capture_refusal else replays == 0


@pytest.mark.parametrize("name", ["vanilla", "wgan_gp"])
def test_metrics_and_checkpoint_do_not_depend_on_log_every(tmp_path, name):
    """Two epochs with checkpoints every 4 steps: the same metrics.csv (bit for bit: the
    floats are written with repr) and the same checkpoint with log_every 1 and 3."""
    files = {}
    for every in (1, 3):
        model = _model(name, **({"d_steps": 3} if name == "wgan_gp" else {}))
        out = tmp_path / f"every{every}"
        history = fit(model, _loader(model, n=24), epochs=2, out_dir=out, progress=False,
                      sample_every=0, checkpoint_every=4, log_every=every)
        assert len(history) == 12
        files[every] = ((out / "metrics.csv").read_text(), load(out / "checkpoint.npz"))
    assert files[1][0] == files[3][0]
    a, b = files[1][1], files[3][1]
    assert a["loop"] == b["loop"]
    for net in a["model"]["nets"]:
        for k, v in a["model"]["nets"][net].items():
            np.testing.assert_array_equal(v, b["model"]["nets"][net][k])


def test_divergence_is_caught_at_the_flush_and_the_checkpoint_before_it_kept(tmp_path):
    """A NaN loss at step 6 (not yet fetched at the step-4 flush) is found at the next flush,
    step 8, before its checkpoint is written: the error names step 6 and the checkpoint on disk
    is step 4's."""
    model = _model("dcgan")
    train_step = model.train_step

    def nan_at_six(*args, **kwargs):
        stats = train_step(*args, **kwargs)
        if model.d_step == 5:  # the trainer counts the step after train_step returns
            stats["loss_d"] = stats["loss_d"] * float("nan")
        return stats

    model.train_step = nan_at_six
    with pytest.raises(TrainingDiverged, match=r"step 6 \(epoch 1, batch 5\).*loss_d.: nan"):
        fit(model, _loader(model), epochs=1, out_dir=tmp_path, progress=False, sample_every=0,
            checkpoint_every=4, log_every=4)
    assert model.d_step == 8  # the loop ran on to the flush
    ck = load(tmp_path / "checkpoint.npz")
    assert int(ck["model"]["d_step"]) == 4
    rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 4


def test_on_step_gets_each_steps_numbers_on_the_host():
    model, seen = _model("dcgan"), []
    history = fit(model, _loader(model, n=16), out_dir=None, progress=False, log_every=50,
                  on_step=lambda m, stats: seen.append((m.d_step, stats)))
    assert [s for s, _ in seen] == [1, 2, 3, 4]
    for (step, stats), row in zip(seen, history):
        assert all(type(v) is float for v in stats.values())
        assert {"step": step, "epoch": 0, **stats} == row


def test_a_checkpoint_of_the_previous_trainer_resumes_exactly(tmp_path):
    """The trainer before loaders had a state_dict kept the DataLoader's generator state as
    loop/loader_rng: such a checkpoint resumes as the uninterrupted run goes on."""
    clean = _model("vanilla")
    fit(clean, _loader(clean, n=24), epochs=2, out_dir=tmp_path / "clean", progress=False,
        sample_every=0)
    old = _model("vanilla")
    fit(old, _loader(old, n=24), epochs=2, out_dir=tmp_path / "old", progress=False,
        sample_every=0, max_steps=8)  # mid-epoch 2
    ck = load(tmp_path / "old" / "checkpoint.npz")
    ck["loop"]["loader_rng"] = ck["loop"].pop("loader")["rng"]
    save(ck, tmp_path / "old" / "checkpoint.npz")
    resumed = _model("vanilla")
    fit(resumed, _loader(resumed, n=24), epochs=2, out_dir=tmp_path / "old", progress=False,
        sample_every=0)
    assert ((tmp_path / "old" / "metrics.csv").read_text()
            == (tmp_path / "clean" / "metrics.csv").read_text())
    for a, b in zip(clean.state_dict()["nets"]["G"].values(),
                    resumed.state_dict()["nets"]["G"].values()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_loader_without_state_dict_is_warned_about(tmp_path):
    model = _model("vanilla")
    batches = list(_loader(model, n=8))
    with pytest.warns(RuntimeWarning, match="will not repeat its batches exactly"):
        fit(model, batches, out_dir=tmp_path, progress=False, sample_every=0)
    assert model.d_step == 2


def test_dataloader_state_dict_repeats_the_next_epoch():
    loader = DataLoader(np.arange(10), batch_size=3, shuffle=True, seed=1)
    state = loader.state_dict()
    first = [b.numpy().tolist() for b, in loader]
    assert [b.numpy().tolist() for b, in loader] != first
    loader.load_state_dict(state)
    assert [b.numpy().tolist() for b, in loader] == first
