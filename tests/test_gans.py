"""Part 1 of the GAN zoo: every variant trains (dry run), the loop resumes exactly, stops on NaN."""
import math

import numpy as np
import pytest

import minigrad
import gans
from gans import latent
from gans.common import image_grid
from gans.trainer import TrainingDiverged, fit
from minigrad.data import ArrayDataset, DataLoader

PART1 = ["vanilla", "dcgan", "cgan", "acgan"]


def _loader(n=16, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, n).astype(np.int64)
    return DataLoader(ArrayDataset(images, labels), batch_size=batch, shuffle=True, seed=seed,
                      drop_last=True)


def _params(model):
    return {f"{k}.{n}": p.data.copy() for k, m in model.nets.items()
            for n, p in m.named_parameters()}


@pytest.mark.parametrize("name", PART1)
def test_dry_run_trains(name, tmp_path):
    minigrad.manual_seed(0)
    model = gans.get_model(name)()
    before = _params(model)
    history = fit(model, _loader(), epochs=1, out_dir=tmp_path, dry_run=True, progress=False)
    assert len(history) == 2
    for row in history:
        assert all(math.isfinite(v) for v in row.values()), row
        assert "loss_d" in row and "loss_g" in row
    after = _params(model)
    for net in model.nets:
        changed = [k for k in before if k.startswith(net + ".") and
                   not np.array_equal(before[k], after[k])]
        assert changed, f"{name}: no parameter of {net} changed"
    images = model.sample(4)
    assert images.shape == (4, 1, 28, 28)
    assert images.dtype == np.float32
    assert np.all(np.abs(images.numpy()) <= 1)
    assert not images.requires_grad


@pytest.mark.parametrize("name", ["vanilla", "cgan"])
def test_resume_is_exact(name, tmp_path):
    """Stopping after 3 steps and resuming gives the same losses as one uninterrupted run."""
    def run(out, max_steps, resume=True):
        minigrad.manual_seed(1)
        model = gans.get_model(name)()
        return fit(model, _loader(n=32), epochs=2, out_dir=out, max_steps=max_steps,
                   sample_every=0, checkpoint_every=1, progress=False, resume=resume)

    full = run(tmp_path / "a", 6)
    run(tmp_path / "b", 3)
    resumed = run(tmp_path / "b", 6)
    assert [r["step"] for r in resumed] == [r["step"] for r in full]
    for a, b in zip(full, resumed):
        assert a == b


def test_nan_stops_with_step_and_losses(tmp_path):
    minigrad.manual_seed(0)
    model = gans.get_model("vanilla")()
    with minigrad.no_grad():
        model.D.net[0].weight.data[...] = np.nan
    with pytest.raises(TrainingDiverged, match=r"step 1 .*loss_d"):
        fit(model, _loader(), epochs=1, out_dir=tmp_path, progress=False, sample_every=0)


def test_minimax_and_nonsaturating_losses():
    """With D sure a fake is fake (logit -10): log(1-D) is flat, -log D is steep."""
    from gans.vanilla import Config, VanillaGAN

    logits = minigrad.tensor([[-10.0]], requires_grad=True)
    grads = {}
    for loss in ("minimax", "non_saturating"):
        model = VanillaGAN(Config(loss=loss))
        g, = minigrad.grad(model.generator_loss(logits), logits)
        grads[loss] = abs(g.item())
    assert grads["minimax"] < 1e-4 < 0.99 < grads["non_saturating"]


def test_k_discriminator_steps_per_generator_step(tmp_path):
    from gans.vanilla import Config, VanillaGAN

    minigrad.manual_seed(0)
    model = VanillaGAN(Config(k=2))
    hist = fit(model, _loader(n=32), epochs=1, out_dir=tmp_path, max_steps=4, progress=False,
               sample_every=0, checkpoint_every=0)
    assert ["loss_g" in r for r in hist] == [False, True, False, True]
    assert model.d_step == 4 and model.step == 2


def test_trainer_writes_run_folder(tmp_path):
    minigrad.manual_seed(0)
    model = gans.get_model("vanilla")()
    fit(model, _loader(), epochs=1, out_dir=tmp_path, progress=False, sample_every=1)
    for name in ("config.json", "metrics.csv", "loss_curve.png", "checkpoint.npz",
                 "samples/final.png", "samples/step_0000001.png"):
        assert (tmp_path / name).exists(), name


def test_conditional_sampling_uses_labels():
    minigrad.manual_seed(0)
    model = gans.get_model("cgan")()
    z = model.latent(2)
    z = minigrad.cat([z[:1], z[:1]])
    a = model.sample(2, labels=[3, 3], z=z).numpy()
    b = model.sample(2, labels=[3, 7], z=z).numpy()
    assert np.allclose(a[0], a[1])
    assert not np.allclose(b[0], b[1])


def test_latent_interpolation_and_arithmetic():
    minigrad.manual_seed(0)
    model = gans.get_model("dcgan")()
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal(100), rng.standard_normal(100)
    path = latent.interpolate(model, z0, z1, steps=5)
    assert path.shape == (5, 1, 28, 28)
    ends = model.sample(2, z=minigrad.tensor(np.stack([z0, z1]).astype(np.float32))).numpy()
    assert np.allclose(path.numpy()[[0, -1]], ends, atol=1e-5)
    zs = [rng.standard_normal((3, 100)) for _ in range(3)]
    out = latent.vector_arithmetic(model, *zs)
    assert out.shape == (1, 1, 28, 28)
    assert np.allclose(latent.slerp(z0, z1, 0.0), z0) and np.allclose(latent.slerp(z0, z1, 1), z1)


def test_image_grid_layout():
    imgs = -np.ones((10, 1, 4, 4), np.float32)
    grid = image_grid(imgs, nrow=5, pad=1)
    assert grid.shape == (2 * 5 + 1, 5 * 5 + 1, 1)
    assert grid[1:5, 1:5].max() == 0.0 and grid[0, 0, 0] == 1.0


def test_cli_dry_run(tmp_path, capsys):
    from gans.__main__ import main

    main(["train", "--model", "vanilla", "--dataset", "random", "--dry-run", "--no-progress",
          "--out", str(tmp_path), "--lr", "1e-3", "--g-hidden", "32,64"])
    import json
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["lr"] == 1e-3 and cfg["g_hidden"] == [32, 64]


@pytest.mark.parametrize("fake_class_loss", [False, True])
def test_acgan_class_head_learns_from_real_images_or_both(fake_class_loss):
    """AC-GAN's D class loss: cross-entropy on real images only (default), or on real and fake
    (the paper's L_C); checked against the class loss computed by hand from D's logits."""
    from gans.acgan import ACGAN, Config
    from minigrad.nn import functional as F

    minigrad.manual_seed(0)
    model = ACGAN(Config(fake_class_loss=fake_class_loss))
    rng = np.random.default_rng(0)
    real = minigrad.tensor(rng.uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32))
    labels = minigrad.tensor(rng.integers(0, 10, 8))
    with minigrad.no_grad():
        real_cls_loss = F.cross_entropy(model.D(real)[1], labels).item()
    stats = model.train_step(real, labels)
    if fake_class_loss:  # plus the (positive) cross-entropy of the fakes' intended classes
        assert stats["loss_cls"] > real_cls_loss + 0.1
    else:
        assert stats["loss_cls"] == pytest.approx(real_cls_loss, rel=1e-5)


def test_moving_average_of_g_is_updated_sampled_and_saved():
    """config.ema: G_ema <- d G_ema + (1 - d) G with d = min(ema, (1 + t) / (10 + t)) after t
    G steps; sample() draws from it; it is in the state dict."""
    import minigrad

    cfg = gans.get_config("vanilla")(g_hidden=(8,), d_hidden=(8,), g_batch_norm=True, ema=0.5)
    model = gans.get_model("vanilla")(cfg)
    w0 = [p.data.copy() for p in model.G.parameters()]
    model.update_ema()  # t = 0: d = 0.1, and the average starts as a copy of G
    rng = np.random.default_rng(0)
    deltas = [rng.normal(0, 0.3, p.shape).astype(np.float32) for p in model.G.parameters()]
    for p, dp in zip(model.G.parameters(), deltas):
        p.data += dp
    model.step = 5  # d = min(0.5, 6 / 15) = 0.4
    model.update_ema()
    for a, w, dp in zip(model.ema["G"].parameters(), w0, deltas):
        np.testing.assert_allclose(a.data, w + 0.6 * dp, rtol=1e-5, atol=1e-6)
    z = model.latent(6)
    with minigrad.no_grad():
        expected = model.ema["G"].eval()(z).numpy()
        live = model.G.eval()(z).numpy()
    np.testing.assert_array_equal(model.sample(6, z=z).numpy(), expected)
    assert not np.allclose(expected, live)
    model.G.train()
    model.ema["G"].train()
    model.sample(2)  # in eval mode, then each network back in its own mode
    assert model.G.training and model.ema["G"].training
    other = gans.get_model("vanilla")(cfg)
    other.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(other.sample(6, z=z).numpy(), expected)


def test_frozen_restores_each_flag_even_after_an_error():
    from gans.common import frozen
    from minigrad import nn

    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    net[0].weight.requires_grad = False  # a partial freeze the user set
    before = [p.requires_grad for p in net.parameters()]
    with pytest.raises(RuntimeError):
        with frozen(net):
            assert not any(p.requires_grad for p in net.parameters())
            raise RuntimeError("boom")
    assert [p.requires_grad for p in net.parameters()] == before


def test_eval_mode_restores_each_module_mode():
    from gans.common import eval_mode
    from minigrad import nn

    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net[1].eval()  # one sub-module already in eval mode
    with eval_mode(net):
        assert not any(m.training for m in net.modules())
    assert [m.training for m in net.modules()] == [True, True, False]
