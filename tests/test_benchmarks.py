"""Smoke test of the benchmark suite: it runs and writes its files (speed is not tested)."""
import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")


def test_quick_benchmark_writes_files(tmp_path):
    subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--device", "cpu", "--out",
                    str(tmp_path)], check=True, capture_output=True, timeout=600)
    result = json.loads((tmp_path / "bench_cpu_quick.json").read_text())
    assert result["machine"]["threads"] == 2 and result["rows"]
    for row in result["rows"]:
        assert row["minigrad_ms"] > 0 and row["torch_ms"] > 0
    assert "| case |" in (tmp_path / "bench_cpu_quick.md").read_text()
    assert (tmp_path / "bench_cpu_quick.png").stat().st_size > 0


def test_twins_start_from_the_same_weights():
    import numpy as np
    import torch

    import gans
    import minigrad
    from benchmarks.twins import Twin

    for name in ("vanilla", "dcgan", "cgan", "acgan"):
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
