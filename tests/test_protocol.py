"""The GAN protocol (gans/protocol.py), checked on every registered variant.

Nothing here names a variant: a new entry in ``gans.REGISTRY`` is picked up by every test. With
its paper's defaults on random data, each variant must: derive its config from GANConfig; train
two steps through ``fit`` with finite losses, changing every network; leave the step counting to
the trainer; follow the ``d_steps`` schedule; resume bit for bit; sample images of the data's
shape in [-1, 1] without a graph; and train from the command line.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import minigrad
import gans
from gans import datasets
from gans.protocol import GANConfig, GANModel, eval_mode, frozen
from gans.trainer import TrainingDiverged, fit
from minigrad.data import DataLoader

VARIANTS = gans.available()


def _model(name, **config):
    minigrad.manual_seed(0)
    return gans.get_model(name)(gans.get_config(name)(**config))


def _loader(model, n=8, batch=4, seed=0):
    ds = datasets.load("random", n=n, image_to_image=model.image_to_image)
    return DataLoader(ds, batch_size=batch, shuffle=True, seed=seed, drop_last=True)


def _params(model):
    return {f"{k}.{n}": p.data.copy() for k, m in model.nets.items()
            for n, p in m.named_parameters()}


def test_registry_names_match():
    assert len(VARIANTS) == len(gans.REGISTRY)
    for name in VARIANTS:
        cls = gans.get_model(name)
        assert cls.name == name and issubclass(cls, GANModel)


@pytest.mark.parametrize("name", VARIANTS)
def test_config_derives_from_the_protocol_config(name):
    cfg = gans.get_config(name)()
    assert isinstance(cfg, GANConfig)
    assert cfg.batch_size >= 1 and cfg.d_steps >= 1 and 0 <= cfg.ema < 1
    model = gans.get_model(name)(cfg)
    assert model.conditional == (cfg.n_classes is not None)
    assert set(model.optims) and set(model.nets)


@pytest.mark.parametrize("name", VARIANTS)
def test_two_steps_train_every_network_and_the_trainer_counts(name):
    model = _model(name, d_steps=1)
    before = _params(model)
    history = fit(model, _loader(model), out_dir=None, dry_run=True, progress=False)
    assert len(history) == 2 and [r["step"] for r in history] == [1, 2]
    for row in history:
        assert all(math.isfinite(v) for v in row.values()), row
    assert model.d_step == 2 and model.step == 2
    after = _params(model)
    for net in model.nets:
        changed = [k for k in before if k.startswith(net + ".")
                   and not np.array_equal(before[k], after[k])]
        assert changed, f"{name}: no parameter of {net} changed"


@pytest.mark.parametrize("name", VARIANTS)
def test_samples_have_the_data_shape_and_range_without_a_graph(name):
    model = _model(name)
    images = model.sample(3)
    assert images.shape == (3, 1, 28, 28) and images.dtype == np.float32
    assert np.all(np.abs(images.numpy()) <= 1) and not images.requires_grad
    assert all(m.training for net in model.nets.values() for m in net.modules())
    grid = model.sample_fixed()
    assert grid.shape[1:] == (1, 28, 28)
    np.testing.assert_array_equal(grid.numpy(), model.sample_fixed().numpy())  # fixed codes


@pytest.mark.parametrize("name", VARIANTS)
def test_train_step_does_not_count(name):
    model = _model(name)
    batch = next(iter(_loader(model)))
    model.train_step(*batch, update_g=True)
    assert (model.step, model.d_step) == (0, 0)


@pytest.mark.parametrize("name", VARIANTS)
def test_d_steps_schedule(name):
    model = _model(name, d_steps=2)
    history = fit(model, _loader(model, n=16), out_dir=None, max_steps=4, progress=False,
                  sample_every=0, checkpoint_every=0)
    assert (model.d_step, model.step) == (4, 2)
    if "loss_g" in history[0] or "loss_g" in history[1]:  # a model with a G step
        assert ["loss_g" in r for r in history] == [False, True, False, True]


@pytest.mark.parametrize("name", VARIANTS)
def test_resume_is_exact(name, tmp_path):
    """Stopping after 3 steps and resuming gives the same losses and weights as one
    uninterrupted run of 6."""
    def run(out, max_steps):
        model = _model(name)
        hist = fit(model, _loader(model, n=8), epochs=3, out_dir=out, max_steps=max_steps,
                   sample_every=0, checkpoint_every=0, progress=False)
        return hist, model

    full, a = run(tmp_path / "a", 6)
    run(tmp_path / "b", 3)
    resumed, b = run(tmp_path / "b", 6)
    assert resumed == full
    pa, pb = _params(a), _params(b)
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)


@pytest.mark.parametrize("name", VARIANTS)
def test_command_line_dry_run(name, tmp_path):
    from gans.__main__ import main

    assert main(["train", "--model", name, "--dataset", "random", "--dry-run", "--no-progress",
                 "--out", str(tmp_path), "--batch-size", "4"]) == 0
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["model"] == name and cfg["batch_size"] == 4
    assert (tmp_path / "samples" / "final.png").exists()


# NumPy warns of the NaN that this test puts in on purpose
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_stops_with_step_and_losses(tmp_path):
    model = _model("vanilla")
    with minigrad.no_grad():
        model.D.net[0].weight.data[...] = np.nan
    with pytest.raises(TrainingDiverged, match=r"step 1 .*loss_d"):
        fit(model, _loader(model), epochs=1, out_dir=tmp_path, progress=False, sample_every=0)


def test_trainer_writes_run_folder(tmp_path):
    model = _model("vanilla")
    fit(model, _loader(model), epochs=1, out_dir=tmp_path, progress=False, sample_every=1)
    for name in ("config.json", "metrics.csv", "loss_curve.png", "checkpoint.npz",
                 "samples/final.png", "samples/step_0000001.png"):
        assert (tmp_path / name).exists(), name


def test_trainer_in_memory_writes_nothing_and_calls_on_step(tmp_path, monkeypatch, capsys):
    """out_dir=None trains exactly as a run with a folder but writes no file (and, without a
    progress bar, prints nothing); on_step sees every step with the counters advanced."""
    on_disk = _model("vanilla", d_steps=2)
    expected = fit(on_disk, _loader(on_disk, n=16), out_dir=tmp_path / "run", progress=False,
                   sample_every=1)
    monkeypatch.chdir(tmp_path / "run")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    capsys.readouterr()
    model, seen = _model("vanilla", d_steps=2), []
    history = fit(model, _loader(model, n=16), out_dir=None, progress=False, sample_every=1,
                  on_step=lambda m, stats: seen.append((m.d_step, m.step, "loss_g" in stats)))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert capsys.readouterr().out == ""
    assert history == expected
    assert seen == [(1, 0, False), (2, 1, True), (3, 1, False), (4, 2, True)]
    pa, pb = _params(on_disk), _params(model)
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_logged_gradient_norms_are_the_norms_of_the_last_gradients():
    """grad_norm_D / grad_norm_G in a step's row are the 2-norms over all of a network's
    parameter gradients left by that step (float32 dots summed in float64; a float64 NumPy sum
    here); G's is absent from a step that did not update G."""
    model, rows = _model("vanilla", d_steps=2), []

    def norms(m, stats):
        for role in ("D", "G"):
            grads = [p.grad.data.astype(np.float64).ravel() for p in m.nets[role].parameters()
                     if p.grad is not None]
            rows.append((role, stats.get(f"grad_norm_{role}"),
                         math.sqrt(sum(float(g @ g) for g in grads)) if grads else None))

    fit(model, _loader(model, n=16), out_dir=None, progress=False, sample_every=0, on_step=norms)
    assert [r[0] for r in rows] == ["D", "G"] * 4
    for i, (role, logged, direct) in enumerate(rows):
        if role == "G" and i % 4 == 1:  # d_steps=2: the first D step of each pair leaves G
            assert logged is None
            continue
        assert logged is not None and logged > 0
        assert logged == pytest.approx(direct, rel=1e-5), (i, role)  # float32 dots


def test_a_d_step_logs_no_norm_for_the_networks_gs_optimizer_updates():
    """CycleGAN's G optimizer updates both generators (G and F): a step of D alone logs
    neither norm (F's was logged from the gradient its last update left, a stale number)."""
    model = _model("cyclegan", d_steps=2, ngf=4, ndf=4, n_residual=1, batch_size=2)
    rows = fit(model, _loader(model, n=8, batch=2), out_dir=None, progress=False,
               sample_every=0)
    logged = [sorted(k for k in row if k.startswith("grad_norm_")) for row in rows]
    d_only, full = ["grad_norm_D_X", "grad_norm_D_Y"], \
        ["grad_norm_D_X", "grad_norm_D_Y", "grad_norm_F", "grad_norm_G"]
    assert logged == [d_only, full] * 2, logged


def test_old_config_names_still_resume(tmp_path):
    """A run folder written when the D-step ratio was called k (and unconditional configs
    carried n_classes = 10) resumes under today's names."""
    from minigrad.utils.io import load, save

    model = _model("vanilla")
    fit(model, _loader(model), epochs=1, out_dir=tmp_path, max_steps=1, progress=False,
        sample_every=0)
    ck = load(tmp_path / "checkpoint.npz")
    cfg = ck["model"]["config"]
    cfg["k"] = cfg.pop("d_steps")
    cfg["n_classes"] = 10
    save(ck, tmp_path / "checkpoint.npz")
    model = _model("vanilla")
    fit(model, _loader(model), epochs=1, out_dir=tmp_path, max_steps=2, progress=False,
        sample_every=0)
    assert model.d_step == 2


def test_moving_average_of_g_is_updated_sampled_and_saved():
    """config.ema: G_ema <- d G_ema + (1 - d) G with d = min(ema, (1 + t) / (10 + t)) after t
    G steps; sample() draws from it; it is in the state dict."""
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


def test_declare_moves_initialises_and_gives_each_role_an_optimizer():
    from minigrad import nn, optim

    class Toy(GANModel):
        name = "toy"

    calls = []
    model = Toy(GANConfig())
    model.declare(G=nn.Linear(2, 3), D=nn.Linear(3, 1), init=lambda m: calls.append(type(m)),
                  optimizer={"G": lambda p: optim.SGD(p, lr=0.1),
                             "D": lambda p: optim.Adam(p, lr=0.2)})
    assert model.nets == {"G": model.G, "D": model.D} and calls == [nn.Linear, nn.Linear]
    assert isinstance(model.optims["G"], optim.SGD) and isinstance(model.optims["D"], optim.Adam)
    w = model.D.weight.data.copy()
    model.update("D", (model.D(minigrad.ones(4, 3)) ** 2).mean())
    assert not np.array_equal(w, model.D.weight.data)


def test_frozen_restores_each_flag_even_after_an_error():
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
    from minigrad import nn

    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    net[1].eval()  # one sub-module already in eval mode
    with eval_mode(net):
        assert not any(m.training for m in net.modules())
    assert [m.training for m in net.modules()] == [True, True, False]


def test_vanilla_lr_g_sets_only_the_generators_learning_rate():
    """Config.lr_g (two time scales): G's optimizer takes it, D's keeps lr; None: lr for both."""
    model = _model("vanilla", g_hidden=(8,), d_hidden=(8,), lr=1e-3, lr_g=3e-4)
    assert [g["lr"] for g in model.optims["G"].param_groups] == [3e-4]
    assert [g["lr"] for g in model.optims["D"].param_groups] == [1e-3]
    same = _model("vanilla", g_hidden=(8,), d_hidden=(8,), lr=1e-3)
    assert {g["lr"] for o in same.optims.values() for g in o.param_groups} == {1e-3}
    # and it is what moves G: one G step of plain SGD moves G's weights by lr_g * gradient
    sgd = _model("vanilla", g_hidden=(8,), d_hidden=(8,), optimizer="sgd", momentum=0.0,
                 g_batch_norm=False, lr=1e-3, lr_g=5e-2)
    before = [p.data.copy() for p in sgd.G.parameters()]
    sgd.update("G", sgd.D(sgd.G(sgd.latent(4))).mean())
    moved = [np.abs(p.data - b).max() / max(np.abs(p.grad.numpy()).max(), 1e-12)
             for p, b in zip(sgd.G.parameters(), before)]
    np.testing.assert_allclose(moved, 5e-2, rtol=1e-3)


def test_recipe_sweeps_extra_average_matches_the_models_own():
    """examples/vanilla_recipe_sweep.py scores moving averages of other decays from one run: one
    with the config's own decay equals the model's average bit for bit (same warm-up)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "vanilla_recipe_sweep.py"
    spec = importlib.util.spec_from_file_location("vanilla_recipe_sweep", path)
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    model = _model("vanilla", g_hidden=(8,), d_hidden=(8,), ema=0.9)
    extra = sweep.ExtraAverages([0.9, 0.2, "0.9/1"])
    fit(model, _loader(model, n=16), epochs=2, out_dir=None, progress=False, on_step=extra)
    assert model.step == 8
    for a, b in zip(extra.copies["0.9"].state_dict().values(),
                    model.ema["G"].state_dict().values()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for other in "0.2", "0.9/1":  # a lower decay; no warm-up (0.9 from the first step)
        assert not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(
            extra.copies[other].state_dict().values(), model.ema["G"].state_dict().values()))


def test_vanilla_lecture_config_is_the_lectures_mlps():
    """Config(**LECTURE) builds the lecture's networks (G 100-256-512-1024-784, 1.49 M weights;
    D 784-1024-512-256-1), whatever the default widths are."""
    from minigrad import nn
    from gans.vanilla import LECTURE, Config, VanillaGAN

    model = VanillaGAN(Config(**LECTURE))
    widths = {k: [(m.in_features, m.out_features) for m in net.modules()
                  if isinstance(m, nn.Linear)] for k, net in model.nets.items()}
    assert widths == {"G": [(100, 256), (256, 512), (512, 1024), (1024, 784)],
                      "D": [(784, 1024), (1024, 512), (512, 256), (256, 1)]}
    assert model.num_parameters()["G"] == 1_486_352
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model.G.modules())
    assert model.config.ema == 0 and model.config.betas == (0.9, 0.999)
    assert model.config.lr == 2e-4 and model.config.dropout == 0.3
