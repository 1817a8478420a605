"""``python -m gans``: help texts, list, train --dry-run on random data, show, sample, score."""
from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gans
from gans.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", ["list", "train", "sample", "score", "show"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m gans {command}")
    assert len(out.split("\n\n")[1]) > 20, out  # a description
    # every option has a help text
    sub = build_parser(gans.get_config("wgan_gp"))._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        assert action.help, (command, action.option_strings)


def test_train_help_lists_every_config_field(capsys):
    for name in gans.available():
        with pytest.raises(SystemExit):
            main(["train", "--model", name, "--help"])
        out = capsys.readouterr().out
        for f in dataclasses.fields(gans.get_config(name)):
            assert f"--{f.name.replace('_', '-')} " in out, (name, f.name)
        for flag in ("--device", "--seed", "--dry-run", "--out", "--epochs"):
            assert flag in out
    with pytest.raises(SystemExit):
        main(["train", "--model=wgan_gp", "--help"])  # the --model=NAME spelling too
    assert "--gp-lambda FLOAT" in capsys.readouterr().out


def test_list(capsys):
    main(["list"])
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == gans.available()
    assert any("Wasserstein" in ln for ln in lines)


def test_unknown_model_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "nope", "--dry-run"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """One dry run of the vanilla GAN on random images, shared by the tests below."""
    out = tmp_path_factory.mktemp("run")
    assert 0 == main(["train", "--model", "vanilla", "--dataset", "random", "--dry-run", "--no-progress",
          "--out", str(out), "--seed", "3", "--g-hidden", "32,32", "--d-hidden", "32,32",
          "--lr", "1e-3"])
    return out


def test_train_dry_run_leaves_a_run_folder(dry_run):
    cfg = json.loads((dry_run / "config.json").read_text())
    assert cfg["model"] == "vanilla" and cfg["g_hidden"] == [32, 32] and cfg["lr"] == 1e-3
    rows = (dry_run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 steps
    assert (dry_run / "samples" / "final.png").exists()
    assert (dry_run / "checkpoint.npz").exists()


def test_show(dry_run, capsys):
    main(["show", str(dry_run)])
    out = capsys.readouterr().out
    assert f"run: {dry_run}" in out and "model: vanilla" in out and "lr=0.001" in out
    assert "steps: 2" in out and "loss_d=" in out and "loss_g=" in out
    assert "pictures (1):" in out and str(dry_run / "samples" / "final.png") in out
    assert f"checkpoint: {dry_run / 'checkpoint.npz'} (dry run)" in out
    assert main(["show", str(dry_run / "missing")]) == 1
    assert capsys.readouterr().err.startswith("gans: error: no run folder at ")


def test_sample_from_the_dry_run_checkpoint(dry_run, tmp_path, capsys):
    out = tmp_path / "s.npy"
    main(["sample", "--checkpoint", str(dry_run / "checkpoint.npz"), "--n", "7", "--out",
          str(out), "--seed", "1"])
    x = np.load(out)
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.float32
    assert np.abs(x).max() <= 1.0 and np.isfinite(x).all()
    assert "wrote 7 samples" in capsys.readouterr().out
    # the seed decides the noise
    main(["sample", "--checkpoint", str(dry_run / "checkpoint.npz"), "--n", "7", "--out",
          str(tmp_path / "t.npy"), "--seed", "1"])
    np.testing.assert_array_equal(x, np.load(tmp_path / "t.npy"))


def test_real_run_does_not_resume_a_dry_run(dry_run, capsys):
    from gans.trainer import fit
    from gans import datasets
    from minigrad.data import DataLoader

    import shutil

    model = gans.get_model("vanilla")(gans.get_config("vanilla")(g_hidden=(32, 32),
                                                                  d_hidden=(32, 32)))
    folder = dry_run.parent / "resume_check"
    shutil.copytree(dry_run, folder)
    loader = DataLoader(datasets.load("random", n=8), batch_size=4)
    fit(model, loader, epochs=1, out_dir=folder, max_steps=1, progress=False, sample_every=0)
    assert "not resuming" in capsys.readouterr().out and model.d_step == 1


def test_score_wiring(dry_run, tmp_path, monkeypatch, capsys):
    """score needs gans.metrics (a trained classifier): check only the CLI's wiring here."""
    try:
        metrics = importlib.import_module("gans.metrics")
    except ImportError:
        pytest.skip("gans.metrics is not there yet")
    if not all(hasattr(metrics, f) for f in ("score_file", "format_scores", "real_ceiling")):
        pytest.skip("gans.metrics lacks score_file/format_scores/real_ceiling")
    seen = {}

    def fake_score_file(path, dataset, labels_path=None, **kw):
        seen.update(path=path, dataset=dataset, labels=labels_path)
        return {"n_samples": 7, "inception_score": 1.5}

    monkeypatch.setattr(metrics, "score_file", fake_score_file)
    monkeypatch.setattr(metrics, "real_ceiling", lambda dataset: {"inception_score": 9.5})
    samples = tmp_path / "s.npy"
    np.save(samples, np.zeros((2, 1, 28, 28), np.float32))
    assert main(["score", str(samples), "--dataset", "fashion_mnist"]) == 0
    assert seen == {"path": str(samples), "dataset": "fashion_mnist", "labels": None}
    out = capsys.readouterr().out
    assert "1.500" in out and "9.500" in out


def test_module_entry_point_runs():
    """``python -m gans list`` as a process (the installed ``gans`` script calls the same main)."""
    res = subprocess.run([sys.executable, "-m", "gans", "list"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "wgan_gp" in res.stdout


def test_parser_is_buildable_without_a_model():
    parser = build_parser()
    args = parser.parse_args(["sample", "--checkpoint", "c.npz"])
    assert args.device == "cpu" and args.seed == 0 and args.n == 10000
