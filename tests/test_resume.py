"""Run folders: a run killed at any moment (SIGKILL) and resumed, any number of times, ends
bit-identical to an uninterrupted run; SIGINT/SIGTERM save a checkpoint and say how to resume;
a finished run is left alone; a folder of another model or config is refused."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import gans
import minigrad
from gans import datasets
from gans.trainer import RunMismatch, fit
from minigrad.data import DataLoader
from minigrad.utils.io import load

ROOT = Path(__file__).resolve().parents[1]

# A small run of a variant: 6 batches per epoch, checkpoints every 4 steps.
DRIVER = textwrap.dedent("""
    import sys
    import minigrad, gans
    from gans import datasets
    from gans.trainer import fit
    from minigrad.data import DataLoader

    name, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    small = {"vanilla": dict(g_hidden=(32, 32), d_hidden=(32, 32), batch_size=8, ema=0.9),
             "wgan_gp": dict(mlp_hidden=(32, 16), g_features=8, batch_size=8)}[name]
    minigrad.manual_seed(3)
    model = gans.get_model(name)(gans.get_config(name)(**small))
    loader = DataLoader(datasets.load("random", n=52), batch_size=8, shuffle=True,
                        drop_last=True, seed=3)
    fit(model, loader, epochs=epochs, out_dir=out, checkpoint_every=4, sample_every=0,
        progress=False)
""")


def _run(driver, name, out, epochs, kill_after=None):
    """Run the driver; with ``kill_after`` (s), SIGKILL it then. True if it finished."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(driver), name, str(out), str(epochs)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        _, err = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return False
    assert proc.returncode == 0, err.decode()[-2000:]
    return True


def _arrays(tree, prefix=""):
    """Every leaf of a loaded checkpoint, flattened to path -> value."""
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_arrays(v, f"{prefix}/{k}"))
        return out
    if isinstance(tree, (list, tuple)):
        out = {}
        for i, v in enumerate(tree):
            out.update(_arrays(v, f"{prefix}/{i}"))
        return out
    return {prefix: tree}


def _assert_identical(a: Path, b: Path):
    ca, cb = _arrays(load(a / "checkpoint.npz")), _arrays(load(b / "checkpoint.npz"))
    assert ca.keys() == cb.keys()
    for k in ca:
        if k.endswith("/dry_run"):
            continue
        va, vb = ca[k], cb[k]
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, k
            assert va.tobytes() == vb.tobytes(), f"{k} differs"
        else:
            assert va == vb, f"{k}: {va!r} != {vb!r}"
    assert (a / "metrics.csv").read_text() == (b / "metrics.csv").read_text()


@pytest.mark.parametrize("name,epochs,kills", [
    ("vanilla", 12, 4),
    pytest.param("wgan_gp", 10, 5, marks=pytest.mark.slow),
])
def test_sigkill_at_random_moments_then_resume_is_exact(tmp_path, name, epochs, kills):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    assert _run(driver, name, tmp_path / "clean", epochs)
    # How long a whole run takes, so that kills land anywhere in it (start-up included).
    t0 = time.perf_counter()
    assert _run(driver, name, tmp_path / "timing", epochs)
    whole = time.perf_counter() - t0
    rng = random.Random(f"{name}-kills")
    killed = 0
    for i in range(kills):
        # The first kill lands well inside a whole run even on a noisy machine; later ones
        # anywhere in what is left (a resumed run is shorter).
        fraction = rng.uniform(0.15, 0.45) if i == 0 else rng.uniform(0.15, 0.75)
        if _run(driver, name, tmp_path / "killed", epochs, kill_after=fraction * whole):
            break
        killed += 1
    assert _run(driver, name, tmp_path / "killed", epochs)  # to the end
    assert killed >= 1, "no kill landed: the run finished before every kill"
    _assert_identical(tmp_path / "clean", tmp_path / "killed")


def _small_vanilla(**kw):
    cfg = gans.get_config("vanilla")(g_hidden=(16,), d_hidden=(16,), batch_size=4, **kw)
    return gans.get_model("vanilla")(cfg)


def _loader(n=12):
    return DataLoader(datasets.load("random", n=n), batch_size=4, shuffle=True,
                      drop_last=True, seed=0)


def test_max_steps_on_an_epochs_last_batch_counts_that_epoch(tmp_path, capsys):
    """A run stopped by max_steps on the last batch of its second epoch has done two epochs:
    run again, it says so and is complete for --epochs 2, changing no file."""
    fit(_small_vanilla(), _loader(), epochs=5, out_dir=tmp_path, progress=False,
        sample_every=0, max_steps=6)  # 3 batches an epoch
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    capsys.readouterr()
    fit(_small_vanilla(), _loader(), epochs=5, out_dir=tmp_path, progress=False, max_steps=6)
    assert "complete (2 epochs, 6 steps)" in capsys.readouterr().out
    history = fit(_small_vanilla(), _loader(), epochs=2, out_dir=tmp_path, progress=False)
    assert "complete (2 epochs, 6 steps)" in capsys.readouterr().out and len(history) == 6
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_fit_on_a_complete_run_leaves_the_model_trained(tmp_path):
    """fit on a run that is already complete trains nothing, but the model it was given ends
    as the run's trained model (what a script samples from next), not as it was built."""
    trained = _small_vanilla()
    fit(trained, _loader(), epochs=1, out_dir=tmp_path, progress=False, sample_every=0)
    again = _small_vanilla()  # the same seedless construction: other initial weights
    fit(again, _loader(), epochs=1, out_dir=tmp_path, progress=False)
    assert again.d_step == trained.d_step == 3
    for (k, a), b in zip(trained.G.state_dict().items(), again.G.state_dict().values()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=k)


def test_finished_run_is_left_alone(tmp_path, capsys):
    fit(_small_vanilla(), _loader(), epochs=2, out_dir=tmp_path, progress=False,
        sample_every=0)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*")
              if p.is_file()}
    capsys.readouterr()
    history = fit(_small_vanilla(), _loader(), epochs=2, out_dir=tmp_path, progress=False)
    said = capsys.readouterr().out
    assert "complete" in said and "--epochs" in said and "--restart" in said
    assert len(history) == 6  # the run's rows, read back
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.rglob("*")
             if p.is_file()}
    assert after == before
    # a larger epochs extends it
    model = _small_vanilla()
    fit(model, _loader(), epochs=3, out_dir=tmp_path, progress=False, sample_every=0)
    assert model.d_step == 9


def test_other_config_or_model_is_refused(tmp_path):
    fit(_small_vanilla(), _loader(), epochs=1, out_dir=tmp_path, progress=False, max_steps=2,
        sample_every=0)
    config_before = (tmp_path / "config.json").read_text()
    with pytest.raises(RunMismatch, match=r"lr \(saved 0.0004, now 0.001\).*--restart"):
        fit(_small_vanilla(lr=1e-3), _loader(), epochs=1, out_dir=tmp_path, progress=False)
    assert (tmp_path / "config.json").read_text() == config_before
    wgan = gans.get_model("wgan")(gans.get_config("wgan")(batch_size=4))
    with pytest.raises(RunMismatch, match="model 'vanilla', not 'wgan'"):
        fit(wgan, _loader(), epochs=1, out_dir=tmp_path, progress=False)
    # extending max_steps or epochs is allowed
    model = _small_vanilla()
    fit(model, _loader(), epochs=1, out_dir=tmp_path, progress=False, max_steps=3,
        sample_every=0)
    assert model.d_step == 3


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(epochs=-2), dict(max_steps=0)])
def test_nonpositive_lengths_are_errors(tmp_path, bad):
    kw = {"epochs": 1, "out_dir": tmp_path / "r", "progress": False, **bad}
    with pytest.raises(ValueError, match=list(bad)[0]):
        fit(_small_vanilla(), _loader(), **kw)
    assert not (tmp_path / "r").exists()


def test_out_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        fit(_small_vanilla(), _loader(), out_dir=f, progress=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_says_how_to_resume(tmp_path, sig):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(driver), "vanilla", str(out), "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 60
    while not (out / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.05)  # training has started once the first checkpoint is there
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    err = err.decode()
    assert "checkpoint saved in" in err and "resume" in err, err[-2000:]
    ck = load(out / "checkpoint.npz")
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert int(ck["model"]["d_step"]) == len(rows) - 1  # saved at the step it stopped


class _Killed(Exception):
    pass


def test_a_kill_between_the_last_batchs_checkpoint_and_the_epochs_end_resumes_exactly(
        tmp_path, monkeypatch):
    """The periodic checkpoint of an epoch's last batch comes before the epoch's end is counted
    (its grid, its checkpoint): a run killed between the two, at the end of its last epoch, must
    still end as the uninterrupted run did, not stop early as "complete"."""
    import gans.training.run_folder as run_folder

    import minigrad

    kw = dict(epochs=2, progress=False, sample_every=0, checkpoint_every=3)  # 3 batches an epoch

    def model():  # the same initial weights and noise for every run
        minigrad.manual_seed(0)
        return _small_vanilla()

    fit(model(), _loader(), out_dir=tmp_path / "clean", **kw)
    real = run_folder.save_image_grid

    def dies_at_the_last_epochs_end(images, path):
        if Path(path).name == "epoch_002.png":
            raise _Killed
        return real(images, path)

    monkeypatch.setattr(run_folder, "save_image_grid", dies_at_the_last_epochs_end)
    with pytest.raises(_Killed):
        fit(model(), _loader(), out_dir=tmp_path / "killed", **kw)
    monkeypatch.setattr(run_folder, "save_image_grid", real)
    fit(model(), _loader(), out_dir=tmp_path / "killed", **kw)
    _assert_identical(tmp_path / "clean", tmp_path / "killed")
    assert ((tmp_path / "clean" / "metrics.csv").read_text()
            == (tmp_path / "killed" / "metrics.csv").read_text())
    assert (tmp_path / "killed" / "samples" / "epoch_002.png").exists()


# ------------------------------------------------------------------ learning-rate decay
def test_lr_decay_is_cyclegans_rule_and_torchs_lambdalr_float_for_float():
    """lr_decay_start S, lr_decay_epochs n: the lr of epoch e (from 0) is lr * (1 - max(0,
    e + 1 - S) / (n + 1)), the rule of CycleGAN's and pix2pix's code, which torch runs as a
    LambdaLR stepped once an epoch: the same floats, and 0 from epoch S + n on."""
    torch = pytest.importorskip("torch")
    start, n, lr = 2, 3, 2e-4
    model = _small_vanilla(lr=lr, lr_decay_start=start, lr_decay_epochs=n)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: 1.0 - max(0, e + 1 - start) / float(n + 1))
    ours, theirs = [], []
    for epoch in range(8):
        model.schedule_lr(epoch)
        ours.append([g["lr"] for o in model.optims.values() for g in o.param_groups])
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # the same floats up to the decay's end (epoch S + n, lr 0), where the reference code's
    # runs stop; the rule would go negative after it, and minigrad's stays at 0
    assert [o[0] for o in ours[:start + n + 1]] == theirs[:start + n + 1]
    assert all(len(set(o)) == 1 for o in ours)
    assert theirs[:2] == [lr, lr] and theirs[2] == lr * 0.75 and theirs[start + n] == 0.0
    assert [o[0] for o in ours[start + n:]] == [0.0] * 3
    # off (the default): the optimizers' groups are not touched
    model = _small_vanilla()
    assert not model.schedule_lr(5)
    assert all("initial_lr" not in g for o in model.optims.values() for g in o.param_groups)


def test_fit_decays_the_lr_by_epoch_and_resumes_exactly(tmp_path, capsys):
    """Each step trains with its epoch's lr (both networks); a run stopped inside the decay and
    resumed ends bit for bit as one that never stopped; a decay that reaches 0 before the last
    epoch is said; another decay on resume is refused like any other config change."""
    seen = []
    record = lambda model, stats: seen.append(
        (model.d_step, model.optims["G"].param_groups[0]["lr"],
         model.optims["D"].param_groups[0]["lr"]))
    kw = dict(lr_decay_start=1, lr_decay_epochs=2)
    minigrad.manual_seed(0)
    fit(_small_vanilla(**kw), _loader(), epochs=4, out_dir=tmp_path / "a", progress=False,
        sample_every=0, on_step=record)
    lr = gans.get_config("vanilla")().lr
    want = [lr, lr * (1 - 1 / 3), lr * (1 - 2 / 3), 0.0]  # 3 batches an epoch
    assert [(s, g, d) for s, g, d in seen] == [(s, want[(s - 1) // 3], want[(s - 1) // 3])
                                               for s in range(1, 13)]
    assert "learning rates reach 0 after epoch 3 (lr_decay_start 1 + lr_decay_epochs 2): " \
        "epoch 4 will not change the weights" in capsys.readouterr().out
    minigrad.manual_seed(0)
    fit(_small_vanilla(**kw), _loader(), epochs=4, out_dir=tmp_path / "b", progress=False,
        sample_every=0, max_steps=5)  # inside the decay's first epoch
    minigrad.manual_seed(1)  # the checkpoint's weights and RNG states replace what this makes
    fit(_small_vanilla(**kw), _loader(), epochs=4, out_dir=tmp_path / "b", progress=False,
        sample_every=0)
    _assert_identical(tmp_path / "a", tmp_path / "b")
    with pytest.raises(RunMismatch, match="lr_decay_epochs"):
        fit(_small_vanilla(lr_decay_start=1, lr_decay_epochs=5), _loader(), epochs=6,
            out_dir=tmp_path / "b", progress=False)


def test_lr_change_makes_a_graphed_step_record_again(monkeypatch):
    """A step recorded as a CUDA graph holds the lr as a constant: when the schedule changes
    the lr at an epoch's start, the trainer has the graphs recorded again (on the CPU the
    GraphedStep trains eagerly, but is reset all the same)."""
    import minigrad.graphs

    step = minigrad.graphs.GraphedStep(_small_vanilla(), say=lambda _: None)
    step.graphs[(True, (4, 1))] = "a recorded graph"
    step.reset()
    assert step.graphs == {}
    resets = []
    monkeypatch.setattr(minigrad.graphs.GraphedStep, "reset", lambda self: resets.append(1))
    fit(_small_vanilla(lr_decay_start=2, lr_decay_epochs=2), _loader(), epochs=5,
        out_dir=None, progress=False, cuda_graph=True)
    assert len(resets) == 3  # epochs 2, 3 and 4 (from 0) start with a new lr


def _stopped_and_resumed_on_the_emulated_gpu(tmp_path, run):
    """``run(out, **fit options)`` on the emulated GPU into a/ uninterrupted, and into b/
    stopped after 5 steps then resumed: both must end with the same checkpoint and metrics."""
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda():
        run(tmp_path / "a")
        run(tmp_path / "b", max_steps=5)
        run(tmp_path / "b")
    _assert_identical(tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize("cuda_graph", [False, True])
def test_a_gpu_run_resumes_exactly_on_the_emulated_gpu(tmp_path, cuda_graph):
    """On a GPU the noise and Dropout's masks come from the counter-based generator on the
    device (minigrad.kernels.cuda_random), which a checkpoint must hold too: a run on the
    emulated GPU stopped inside an epoch and resumed ends bit for bit as one that never stopped
    (before, the checkpoint held the CPU generator alone, and the resumed run drew other
    numbers from its first step). With ``cuda_graph`` both replay a recorded step (the resumed
    one records it anew after its own two eager steps; the emulated replay computes what the
    eager step does, bit for bit), and the checkpoints' optimizer step counts are the
    replays' too."""
    def run(out, **kw):
        minigrad.manual_seed(0)
        cfg = gans.get_config("vanilla")(g_hidden=(16,), d_hidden=(16,), batch_size=4, ema=0.9)
        model = gans.get_model("vanilla")(cfg, device="cuda")
        loader = DataLoader(datasets.load("random", n=12), batch_size=4, shuffle=True,
                            drop_last=True, seed=0, device="cuda")
        fit(model, loader, epochs=3, out_dir=out, progress=False, sample_every=0,
            cuda_graph=cuda_graph, **kw)

    _stopped_and_resumed_on_the_emulated_gpu(tmp_path, run)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(gans.available()))
def test_every_variants_replayed_run_resumes_exactly_on_the_emulated_gpu(tmp_path, name):
    """The test above for every variant (small networks, G's moving average on): a replayed run
    stopped after 5 steps and resumed ends with the checkpoint and metrics of one that never
    stopped, bit for bit."""
    from variant_batches import random_dataset, small_config

    def run(out, **kw):
        minigrad.manual_seed(0)
        model = gans.get_model(name)(small_config(name, batch_size=4, ema=0.9), device="cuda")
        loader = DataLoader(random_dataset(model, 12), batch_size=4, shuffle=True,
                            drop_last=True, seed=0, device="cuda")
        fit(model, loader, epochs=3, out_dir=out, progress=False, sample_every=0,
            cuda_graph=True, **kw)

    _stopped_and_resumed_on_the_emulated_gpu(tmp_path, run)


def test_rng_state_holds_the_gpu_generators():
    """backend.get_rng_state/set_rng_state: the CPU generator and, once a GPU has drawn, its
    counter-based generator (seed, key, counter); restoring replays the same draws on both,
    also after a manual_seed in between (what VAE's elbo and the classifier's training do)."""
    from benchmarks.cupy_launches import emulated_cuda
    from minigrad import backend

    with emulated_cuda():
        minigrad.manual_seed(3)
        minigrad.randn(5, device="cuda")
        state = backend.get_rng_state()
        assert state["cuda"]["seed"] == 3 and "0" in state["cuda"]["generators"]
        first = (minigrad.randn(7).numpy(), minigrad.randn(7, device="cuda").numpy())
        minigrad.manual_seed(99)
        minigrad.randn(3, device="cuda")
        backend.set_rng_state(state)
        again = (minigrad.randn(7).numpy(), minigrad.randn(7, device="cuda").numpy())
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    minigrad.manual_seed(0)
    assert backend.get_rng_state()["cuda"] == {"seed": 0, "generators": {}}  # a CPU run's


@pytest.mark.parametrize("between", ["draw", "reseed and draw"])
def test_a_state_saved_before_any_gpu_draw_restores_the_gpu_generator_too(between):
    """Saved before the GPU drew (a CPU checkpoint, or VAE's elbo and the classifiers' training,
    which save, reseed, draw and restore): after set_rng_state the GPU draws what it would have
    drawn had nothing happened in between, instead of going on from the in-between draws."""
    from benchmarks.cupy_launches import emulated_cuda
    from minigrad import backend

    with emulated_cuda():
        minigrad.manual_seed(1)
        state = backend.get_rng_state()
        expected = minigrad.randn(6, device="cuda").numpy()
        backend.set_rng_state(state)
        if between == "reseed and draw":
            minigrad.manual_seed(99)
        minigrad.randn(5, device="cuda")
        assert backend.get_rng_state()["cuda"]["generators"]["0"]["counter"] > 0
        backend.set_rng_state(state)
        restored = backend.get_rng_state()["cuda"]
        assert restored["seed"] == 1
        assert restored["generators"].get("0", {"counter": 0})["counter"] == 0
        np.testing.assert_array_equal(minigrad.randn(6, device="cuda").numpy(), expected)
