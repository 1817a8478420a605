"""Smoke test of the benchmark suite: it runs and writes its files (speed is not tested)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")


def test_quick_benchmark_writes_files(tmp_path):
    """--threads 2 (the default): each framework in its own processes, alternating."""
    subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--device", "cpu", "--out",
                    str(tmp_path), "--processes", "1"], check=True, capture_output=True,
                   timeout=600)
    result = json.loads((tmp_path / "bench_cpu_quick.json").read_text())
    m = result["machine"]
    assert m["threads"] == 2 and result["rows"]
    assert result["method"].startswith("separate processes")
    assert m["cpu"] and isinstance(m["cpu_flags"], list) and m["cores"] >= 1
    assert m["load_before"] is not None and m["load_after"] is not None
    assert isinstance(m["loaded"], bool)
    assert any(b.get("user_api") == "blas" for b in m["blas"])  # the minigrad child's BLAS
    for row in result["rows"]:
        assert row["minigrad_ms"] > 0 and row["torch_ms"] > 0
        assert row["method"] == "separate processes"
    md = (tmp_path / "bench_cpu_quick.md").read_text()
    assert "| case |" in md and "load average" in md
    assert (tmp_path / "bench_cpu_quick.png").stat().st_size > 0


def test_default_output_is_runs_not_the_source_tree(tmp_path):
    """Without --out the suite writes under ./runs (here a temporary cwd), never into
    benchmarks/results."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    before = {p: p.stat().st_mtime for p in (root / "benchmarks" / "results").glob("*")}
    env = dict(os.environ, PYTHONPATH=str(root))
    subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--device", "cpu",
                    "--threads", "1"], check=True, capture_output=True, timeout=600,
                   cwd=tmp_path, env=env)
    result = json.loads((tmp_path / "runs" / "bench_cpu_quick.json").read_text())
    assert result["method"].startswith("interleaved")  # 1 thread: in one process
    assert {p: p.stat().st_mtime for p in (root / "benchmarks" / "results").glob("*")} == before


def test_steps_only_alone_is_a_one_line_error(tmp_path):
    """--steps-only without --memory/--scaling/--kernels would run nothing and say nothing."""
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--steps-only", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--steps-only skips the main table" in r.stderr, r.stderr
    assert not any(tmp_path.iterdir())


def test_load_flag_and_note():
    from benchmarks import machine

    busy = {"cores": 2, "load_before": 3.1, "load_after": 1.0}
    idle = {"cores": 2, "load_before": 0.3, "load_after": 0.5}
    assert machine.is_loaded(busy) and not machine.is_loaded(idle)
    busy["loaded"] = True
    assert "LOADED" in machine.load_note(busy)
    assert "LOADED" not in machine.load_note(dict(idle, loaded=False))


def test_conv_layers_geometry_and_flops():
    """The per-layer benchmark's shapes agree with the layers' ops, and its flop count is
    2 * N * (conv-side output pixels) * C_in * C_out * KH * KW."""
    import numpy as np

    import minigrad
    from benchmarks import conv_layers as CL
    from minigrad.nn import functional as F

    for name, kind, cin, cout, h, k, s, p in CL.LAYERS:
        x_shape, w_shape, y_shape, flops = CL.geometry(kind, cin, cout, h, k, s, p)
        x = minigrad.tensor(np.zeros((1,) + x_shape[1:], np.float32))
        w = minigrad.tensor(np.zeros(w_shape, np.float32))
        f = F.conv2d if kind == "conv" else F.conv_transpose2d
        assert f(x, w, stride=s, padding=p).shape[1:] == y_shape[1:], name
        small = y_shape[2] if kind == "conv" else h
        assert flops == 2 * CL.N * small * small * cin * cout * k * k


def test_on_rebases_a_network_whose_methods_call_super():
    """gans.common.on gives the body of a Network class another library's Module as its base;
    zero-argument super() in the copy reaches that Module, in the original minigrad's."""
    import torch

    import minigrad
    from gans import sngan, wgan_gp
    from gans.common import Network, on

    class Net(Network):
        def __init__(self, n):
            super().__init__()
            self.fc = self.lib.Linear(n, 1)

        def train(self, mode=True):
            self.trained = mode
            return super().train(mode)

    Twin = on(torch.nn, Net)
    assert on(torch.nn, Net) is Twin and on(Net.lib, Net) is Net
    assert Twin.__mro__ == (Twin, torch.nn.Module, object) and Twin.lib is torch.nn
    for cls, base in ((Net, minigrad.nn.Module), (Twin, torch.nn.Module)):
        net = cls(3)
        assert isinstance(net, base) and list(dict(net.named_parameters())) == ["fc.weight",
                                                                              "fc.bias"]
        assert net.eval() is net and net.trained is False and net.fc.training is False
    # the networks no default config builds (the twin tests below build the others)
    for cls, args in ((sngan.StandardGenerator, (128, 3, 8, 32)),
                      (sngan.StandardDiscriminator, (3, 8, 32)),
                      (wgan_gp.ConvCritic, (3, 8, True, 32))):
        mine, theirs = cls(*args), on(torch.nn, cls)(*args)
        assert ({k: tuple(v.shape) for k, v in mine.state_dict().items()}
                == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}), cls.__name__


def test_twins_start_from_the_same_weights():
    import numpy as np
    import torch

    import gans
    import minigrad
    from benchmarks.twins import Twin

    for name in ("vanilla", "dcgan", "cgan", "acgan", "wgan", "wgan_gp", "lsgan", "sngan"):
        minigrad.manual_seed(0)
        model = gans.get_model(name)()
        twin = Twin(model)
        for mine, theirs in ((model.G, twin.G), (model.D, twin.D)):
            ref = theirs.state_dict()
            for k, v in mine.state_dict().items():
                assert np.array_equal(np.asarray(v), ref[k].numpy()), (name, k)
        z = np.random.default_rng(0).standard_normal((4, model.config.latent_dim)).astype(
            np.float32)
        y = np.arange(4)
        model.G.eval()
        twin.G.eval()
        with torch.no_grad():
            a = model.generate(minigrad.tensor(z), minigrad.tensor(y) if model.conditional
                               else None).numpy()
            b = twin.generate(torch.from_numpy(z), torch.from_numpy(y) if twin.conditional
                              else None).numpy()
        assert np.allclose(a, b, atol=1e-5), name


@pytest.mark.parametrize("name,loss", [("lsgan", None), ("sngan", "hinge"),
                                       ("sngan", "wasserstein"), ("dcgan", "least_squares"),
                                       ("acgan", "hinge")])
@pytest.mark.parametrize("precision", ["highest", "high"])
def test_twins_of_the_losses_take_the_same_first_steps(name, loss, precision, monkeypatch):
    """LSGAN, SNGAN (spectral norm's power iteration included) and a loss other than the
    default: equal losses over three steps from equal weights and noise (no Dropout in these
    networks: its masks differ between the frameworks), with the convolutions at "highest"
    precision (minigrad.set_conv_precision: the rounding of PyTorch's own within float32's last
    digits); at the default "high" the first step's losses agree to 1e-5, and the later steps
    part by more (Adam's first steps move a weight by about the learning rate whatever its
    gradient's size, so a gradient rounded near zero decides a whole step: LSGAN's third G
    loss read 0.8636 against PyTorch's 0.8653)."""
    import numpy as np

    import gans
    import minigrad
    from benchmarks.twins import Twin
    from minigrad.ops import conv as conv_ops

    for tile in ("WINOGRAD_TILE", "K4S2_TILE"):   # restored after the test
        monkeypatch.setattr(conv_ops, tile, getattr(conv_ops, tile))
    minigrad.set_conv_precision(precision)

    minigrad.manual_seed(0)
    cfg = gans.get_config(name)(**({"loss": loss} if loss else {}))
    model = gans.get_model(name)(cfg)
    twin = Twin(model, seed=0)
    minigrad.manual_seed(0)
    twin.rng = np.random.default_rng(0)
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 8)
    lab = minigrad.tensor(labels) if model.conditional else None
    for step in range(3 if precision == "highest" else 1):
        mine = model.train_step(minigrad.tensor(real), lab)
        theirs = twin.train_step(real, labels if model.conditional else None)
        for key in ("loss_d", "loss_g"):
            tol = 1e-3 if precision == "highest" else 1e-5
            assert np.isclose(mine[key], theirs[key], rtol=tol, atol=1e-5), (step, key)


@pytest.mark.parametrize("name", ["wgan", "wgan_gp"])
def test_critic_twins_take_the_same_first_steps(name):
    """The WGAN twins do the minigrad math: equal losses over a few steps from equal weights,
    and the WGAN twin's critic stays clipped."""
    import numpy as np

    import gans
    import minigrad
    from benchmarks.twins import Twin

    minigrad.manual_seed(0)
    model = gans.get_model(name)()
    twin = Twin(model, seed=0)
    minigrad.manual_seed(0)  # both draw the same noise from here on
    twin.rng = np.random.default_rng(0)
    real = np.random.default_rng(1).uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32)
    for step in range(3):
        mine = model.train_step(minigrad.tensor(real), update_g=step == 2)
        theirs = twin.train_step(real, update_g=step == 2)
        for key in ("loss_d", "loss_g"):
            if key in theirs:
                assert np.isclose(mine[key], theirs[key], rtol=1e-3, atol=1e-5), (step, key)
    if name == "wgan":
        c = model.config.clip
        assert all(float(p.detach().abs().max()) <= c for p in twin.D.parameters())


def test_vanilla_twin_takes_the_same_steps_with_batchnorm_and_average():
    """The default vanilla recipe (BatchNorm in G, a moving average of G for sampling) in both
    frameworks: equal losses over a few steps and equal samples from the average (dropout off,
    since each framework draws its own masks)."""
    import numpy as np
    import torch

    import gans
    import minigrad
    from benchmarks.twins import Twin

    minigrad.manual_seed(0)
    cfg = gans.get_config("vanilla")(dropout=0.0, g_hidden=(64, 128), d_hidden=(128, 64))
    assert cfg.g_batch_norm and cfg.ema > 0
    model = gans.get_model("vanilla")(cfg)
    twin = Twin(model, seed=0)
    minigrad.manual_seed(0)
    twin.rng = np.random.default_rng(0)
    real = np.random.default_rng(1).uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32)
    for step in range(4):
        mine = model.train_step(minigrad.tensor(real), update_g=True)
        model.step += 1  # what the trainer does after a G step: count it, then average
        model.update_ema()
        theirs = twin.train_step(real, update_g=True)
        for key in ("loss_d", "loss_g"):
            assert np.isclose(mine[key], theirs[key], rtol=1e-3, atol=1e-5), (step, key)
    z = np.random.default_rng(2).standard_normal((5, cfg.latent_dim)).astype(np.float32)
    a = model.sample(5, z=minigrad.tensor(z)).numpy()
    twin.G_ema.eval()
    with torch.no_grad():
        b = twin.G_ema(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_steps_ab_runs_each_framework_in_its_own_process(tmp_path):
    """benchmarks.steps_ab: before/after/torch processes; the 'before' here is this checkout."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "benchmarks.steps_ab", "--before", str(root),
                    "--models", "vanilla", "--rounds", "1", "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=600, env=env, cwd=root)
    result = json.loads((tmp_path / "steps_ab.json").read_text())
    runs = result["runs"]["vanilla"]
    assert set(runs) == {"before", "after", "torch"}
    assert all(r["cpu_ms"] > 0 and r["wall_ms"] > 0 for v in runs.values() for r in v)
    assert result["machine"]["load_before"] is not None
    assert "| vanilla |" in (tmp_path / "steps_ab.md").read_text()


def test_steps_ab_table_gives_the_median_and_range_of_the_processes():
    from benchmarks.steps_ab import table

    runs = {"dcgan": {"before": [{"wall_ms": w} for w in (110.0, 100.0, 130.0)],
                      "after": [{"wall_ms": w} for w in (90.0, 95.0, 80.0)],
                      "torch": [{"wall_ms": w} for w in (50.0, 60.0, 40.0)]}}
    text = table(runs, "wall_ms")
    assert "wall time, median (min-max) over 3 processes each" in text
    row = next(line for line in text.splitlines() if line.startswith("| dcgan |"))
    assert row == "| dcgan | 110.0 (100.0-130.0) | 90.0 (80.0-95.0) | 50.0 (40.0-60.0) | 2.20x | 1.80x |"


def test_dcgan64_benchmark_networks_match_torch():
    """The DCGAN-64 step case builds Radford et al.'s 64x64 networks in both frameworks from
    the same weights: G maps (N, 100, 1, 1) to (N, 3, 64, 64), D gives one logit per image, and
    the two frameworks agree (small widths here; the benchmark uses f = 64)."""
    import numpy as np
    import torch

    import minigrad
    from minigrad import nn as mnn
    from benchmarks.suite import _dcgan64

    minigrad.manual_seed(0)
    G, D = _dcgan64(mnn, f=4)
    tG, tD = _dcgan64(torch.nn, f=4)
    for mine, theirs in ((G, tG), (D, tD)):
        theirs.load_state_dict({k: torch.from_numpy(np.array(v))
                                for k, v in mine.state_dict().items()})
    z = np.random.default_rng(0).standard_normal((3, 100, 1, 1)).astype(np.float32)
    images = G(minigrad.tensor(z))
    assert images.shape == (3, 3, 64, 64)
    logits = D(images)
    assert logits.shape == (3, 1)
    with torch.no_grad():
        t_logits = tD(tG(torch.from_numpy(z)))
    np.testing.assert_allclose(logits.detach().numpy(), t_logits.numpy(), rtol=1e-4, atol=1e-4)


def test_twin_follows_the_model_to_its_device(device):
    """On "cuda" the benchmark's torch twin runs on the GPU beside the minigrad model (the GPU
    table compares GPU with GPU) and still takes the same DCGAN steps. minigrad draws its noise
    on the device with CuPy's generator there, so both sides take their latent codes from one
    NumPy stream here."""
    import numpy as np
    import torch

    import gans
    import minigrad
    from benchmarks.twins import Twin

    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("this torch build has no CUDA")
    minigrad.manual_seed(0)
    model = gans.get_model("dcgan")(device=device)
    twin = Twin(model, seed=0)
    assert twin.device.type == device and next(twin.D.parameters()).device.type == device
    codes = np.random.default_rng(0).standard_normal((6, 8, 100)).astype(np.float32)
    drawn = {"mg": iter(codes), "th": iter(codes)}
    model.latent = lambda n, rng=None: minigrad.tensor(next(drawn["mg"]), device=device)
    twin.latent = lambda n: torch.from_numpy(next(drawn["th"])).to(twin.device)
    real = np.random.default_rng(1).uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32)
    for step in range(3):
        mine = model.train_step(minigrad.tensor(real, device=device))
        theirs = twin.train_step(torch.from_numpy(real).to(twin.device))
        for key in ("loss_d", "loss_g"):
            assert np.isclose(mine[key], theirs[key], rtol=1e-3, atol=1e-5), (step, key)


def test_toy_twin_takes_the_same_steps(monkeypatch):
    """Given the same latent codes (minigrad's run made to draw them from the twin's NumPy
    stream), minigrad's toy PacGAN and its torch twin take the same steps: the same weights at
    the start, data, schedule, loss and D freezing, so the same samples at the end."""
    import numpy as np

    from benchmarks.twins import train_toy_twin
    from gans import theory as T

    cfg = T.ToyGANConfig(method="pacgan", pack=2, dataset="grid", latent_components=5, steps=3,
                         batch_size=32, eval_every=3, n_eval=200, snapshot_steps=(0, 3))
    latent = T.ToyGAN.latent

    def twin_noise(self, n, rng=None):
        if rng is None:
            if not hasattr(self, "_twin_noise"):
                self._twin_noise = np.random.default_rng(cfg.seed + 20_000)
            rng = self._twin_noise
        return latent(self, n, rng)

    mine = T.train_toy_gan(cfg)  # minigrad's own noise
    monkeypatch.setattr(T.ToyGAN, "latent", twin_noise)
    same_noise = T.train_toy_gan(cfg)
    metrics, samples, _ = train_toy_twin(cfg)
    # three steps move the samples by ~0.7 and other noise lands ~0.4 away; the twin stays
    # within rounding (Adam's first steps move each weight by ~lr whatever the gradient's size,
    # so float32 rounding of a tiny gradient's sign shows up at ~1e-4)
    start, end = same_noise.snapshots[0], same_noise.snapshots[3]
    assert np.abs(end - start).max() > 0.3 and np.abs(end - mine.snapshots[3]).max() > 0.1
    np.testing.assert_allclose(samples, end, atol=1e-3)
    assert metrics["pacgan"]["modes"] == same_noise.metrics["pacgan"]["modes"]
    assert abs(metrics["pacgan"]["high_quality"]
               - same_noise.metrics["pacgan"]["high_quality"]) <= 0.01
    with pytest.raises(ValueError, match="the toy twin covers"):
        train_toy_twin(T.ToyGANConfig(method="sngan"))


def test_toy_twin_script_writes_both_rows(tmp_path):
    out = tmp_path / "twin.md"
    r = subprocess.run([sys.executable, "-m", "benchmarks.toy_twin", "--run", "best", "--steps",
                        "4", "--batch-size", "16", "--seeds", "2", "--datasets", "ring",
                        "--cache", str(tmp_path / "cache"), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "2 minigrad and 2 torch runs to train" in r.stdout
    text = out.read_text()
    assert "| GAN, k=2, BatchNorm G | 4 |" in text
    assert "| GAN, k=2, BatchNorm G, PyTorch twin | 4 |" in text
    assert len(list((tmp_path / "cache" / "twin").glob("*.json"))) == 2
    again = subprocess.run(r.args, capture_output=True, text=True, timeout=300)
    assert "0 minigrad and 0 torch runs to train" in again.stdout
    bad = subprocess.run(r.args[:3] + ["--run", "wgan_gp"], capture_output=True, text=True)
    assert bad.returncode == 2 and "GAN and PacGAN runs only" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_kernel_count_script_gives_host_counts_without_a_gpu(tmp_path):
    """benchmarks/gpu_kernels --device cpu: minigrad's ops and kernel-registry calls per step,
    the numbers the GPU run prints beside the profiler's launch counts."""
    from benchmarks import gpu_kernels

    assert gpu_kernels.main(["--device", "cpu", "--steps", "1", "--cases", "DCGAN-28",
                             "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "host_kernels.json").read_text())["rows"]
    assert [r["name"] for r in rows] == ["DCGAN-28 step (batch 64)"]
    assert rows[0]["ops"] > 0 and rows[0]["registry_kernels"] > 0 and rows[0]["to_host"] == 0
    # the same step on the emulated GPU (benchmarks/cupy_launches.py): CuPy's launches, modelled,
    # more than its kernel-registry calls, which are fewer than the CPU's (a Winograd product is
    # four or five calls on the CPU, the GPU takes im2col: kernels.winograd)
    row = rows[0]
    assert row["emulated_launches"] > row["emulated_registry_kernels"]
    assert 0 < row["emulated_registry_kernels"] < row["registry_kernels"]
    assert dict(rows[0]["emulated_top"]).get("cupy_mat_ptrs") is None
    assert "| DCGAN-28 step (batch 64) |" in (tmp_path / "host_kernels.md").read_text()


def test_winograd_accuracy_script_measures_every_route(monkeypatch, capsys):
    """benchmarks/winograd_accuracy on one small layer of each form: three errors a row, each
    within float32's Winograd bounds, and ops/conv.py's settings left as they were."""
    from benchmarks import winograd_accuracy
    from minigrad.ops import conv as conv_ops

    before = (conv_ops.WINOGRAD_TILE, conv_ops.K4S2_TILE, conv_ops.WINOGRAD_K4S2_MIN_C)
    monkeypatch.setattr(winograd_accuracy, "LAYERS", [("c", "conv", 8, 16, 8, 4, 2),
                                                       ("t", "convT", 16, 8, 4, 4, 2),
                                                       ("k3", "conv", 8, 16, 8, 3, 1)])
    winograd_accuracy.main()
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 3
    for row in rows:
        errors = [float(cell) for cell in row.strip("| ").split(" | ")[1:]]
        assert len(errors) == 3 and all(0 < e < 2e-5 for e in errors), row
    assert (conv_ops.WINOGRAD_TILE, conv_ops.K4S2_TILE, conv_ops.WINOGRAD_K4S2_MIN_C) == before


def _write_gpu_check_folder(out, graphs_text=None):
    """A made-up gpu_check.sh folder: three parts (one failed), an eager table, a replay table
    with a fallback at batch 256, the transfer and kernel counts."""
    (out / "parts.tsv").write_text("env\t0\t3\nbench\t0\t80\nnccl\t1\t9\n")
    rows = [("MLP GAN step (batch 100)", 1.2), ("DCGAN-28 step (batch 64)", 0.9),
            ("DCGAN-64 step (batch 64, 3x64x64)", 1.4), ("conv2d 1->64, 28x28, 4x4/2", 1.6),
            ("conv_transpose2d 64->1, 14x14, 4x4/2", 1.1), ("batch_norm (64,128,7,7)", 1.0)]
    (out / "bench_cuda.json").write_text(json.dumps(
        {"rows": [{"name": n, "ratio": r} for n, r in rows]}))
    graphs = [{"name": "MLP GAN step (batch 100)", "batch": 100, "ms": {},
               "replayed_over_torch": 0.2, "fallback": None},
              {"name": "DCGAN-28 step (batch 64)", "batch": 64, "ms": {},
               "replayed_over_torch": 0.4, "fallback": None},
              {"name": "DCGAN-28 step (batch 256)", "batch": 256, "ms": {},
               "replayed_over_torch": 0.3, "fallback": "capture failed at ..."}]
    (out / "gpu_graphs.json").write_text(graphs_text if graphs_text is not None
                                         else json.dumps({"rows": graphs}))
    (out / "transfers.json").write_text(json.dumps({"d2h_inside_steps": 0}))
    (out / "gpu_kernels.json").write_text(json.dumps({"rows": [
        {"name": "DCGAN-28 step (batch 64)", "minigrad": 190.0, "torch": 182.0}]}))


def test_gpu_check_summary_names_every_target_and_whether_it_was_met(tmp_path):
    """benchmarks/gpu_summary (the last step of gpu_check.sh) on a made-up folder: each of the
    GPU issue's targets with its value; a failed part fails the whole; a replay that fell back
    to eager does not meet its target; a target whose part left nothing is None, not met."""
    from benchmarks.gpu_summary import main, summarize
    _write_gpu_check_folder(tmp_path)
    s = summarize(tmp_path, 42)
    t = {k: v["met"] for k, v in s["targets"].items()}
    assert s["total_seconds"] == 42 and not s["all_passed"] and len(s["parts"]) == 3
    assert t["eager: every training step <= 1.3x PyTorch"] is False   # DCGAN-64 at 1.4x
    assert "DCGAN-64" in s["targets"]["eager: every training step <= 1.3x PyTorch"]["value"]
    assert t["eager: DCGAN-28 step <= 1.0x"] is True
    assert t["eager: conv2d 1->64 <= 1.5x"] is False
    assert t["eager: conv_transpose2d 64->1 <= 1.5x"] is True
    assert t["eager: batch_norm <= 1.5x"] is True
    assert t["replayed step: DCGAN-28 and MLP GAN <= 0.5x PyTorch eager"] is True
    assert t["replayed step: DCGAN-28 and MLP GAN <= 0.5x PyTorch eager (batch 256)"] is False
    assert t["0 device-to-host copies inside a step"] is True
    assert t["kernels per DCGAN step <= PyTorch's"] is False  # 190 against 182
    assert s["bench_cuda"]["DCGAN-28 step (batch 64)"] == 0.9
    # a part that died mid-write: its file is named, its targets unmeasured, the rest stands
    _write_gpu_check_folder(tmp_path, graphs_text='{"rows": [')
    assert main([str(tmp_path), "7"]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert "gpu_graphs.json" in s["unreadable"]
    assert s["targets"]["replayed step: DCGAN-28 and MLP GAN <= 0.5x PyTorch eager"] == \
        {"value": None, "met": None}
    assert s["targets"]["eager: DCGAN-28 step <= 1.0x"]["met"] is True
    # an empty folder (every part skipped): every target named, none measured
    empty = tmp_path / "empty"
    empty.mkdir()
    s = summarize(empty, 0)
    assert not s["all_passed"] and len(s["targets"]) == 9
    assert all(v == {"value": None, "met": None} for v in s["targets"].values())


def test_gpu_check_script_names_modules_and_tests_that_exist():
    """gpu_check.sh runs on a GPU machine only, where a renamed module or test would cost a
    part of a rare run: every ``-m benchmarks.X`` it calls exists, and each of its ``-k``
    selections of single test files picks at least one test."""
    import re
    root = Path(__file__).resolve().parent.parent
    script = (root / "benchmarks" / "gpu_check.sh").read_text()
    assert subprocess.run(["bash", "-n", str(root / "benchmarks" / "gpu_check.sh")]).returncode == 0
    modules = set(re.findall(r"-m benchmarks\.(\w+)", script))
    assert {"gpu_graphs", "gpu_transfers", "gpu_kernels", "gpu_probe", "gpu_summary"} <= modules
    for m in modules:
        assert (root / "benchmarks" / f"{m}.py").exists(), m
    selections = re.findall(r"-m pytest (tests/\w+\.py) -k (\w+)", script)
    assert len(selections) == 3, selections
    for path, k in selections:
        r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                            "-p", "no:cacheprovider", path, "-k", k],
                           cwd=root, capture_output=True, text=True)
        picked = [line for line in r.stdout.splitlines() if line.startswith(path + "::")]
        assert r.returncode == 0 and picked, (path, k, r.stdout[-500:])
