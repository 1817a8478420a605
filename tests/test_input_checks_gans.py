"""Inputs that were accepted and gave wrong or confusing results: repeated sweep seeds and
models, config values out of their range, sampling labels, malformed results and labels files.
Each is rejected with one line that names the option or file and what is wrong."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from gans import sweep
from gans.__main__ import main
from test_cli import fails


def error_line(argv, capsys, code) -> str:
    """Run ``python -m gans argv`` expecting exit ``code``; the one error line it printed."""
    return fails(argv, capsys, code)


# ----------------------------------------------------------------- A. sweep repeats
@pytest.fixture
def fake_runs(monkeypatch):
    """sweep.run_one replaced by a stub that records (model, seed) and scores the seed."""
    calls = []

    def run_one(model, seed, dataset, epochs, out, max_steps=None, **kw):
        calls.append((model, seed))
        out.mkdir(parents=True, exist_ok=True)
        return dict(model=model, dataset=dataset, framework="minigrad", epochs=epochs,
                    max_steps=max_steps, seed=seed, steps=4, wall_s=1.0,
                    scores={"fid": float(seed)}, command="")

    monkeypatch.setattr(sweep, "run_one", run_one)
    return calls


@pytest.mark.parametrize("option, value, repeats", [("--seeds", "0,0,1", "repeats 0"),
                                                   ("--seeds", "2,1,2,1", "repeats 2, 1"),
                                                   ("--models", "dcgan,dcgan", "repeats dcgan")])
def test_sweep_rejects_a_repeated_seed_or_model(option, value, repeats, tmp_path, capsys,
                                                fake_runs):
    argv = ["sweep", "--models", "dcgan", "--seeds", "0", "--max-steps", "4",
            "--out", str(tmp_path / "sw")]
    argv[argv.index(option) + 1] = value
    line = error_line(argv, capsys, 2)
    assert f"argument {option}: invalid value {value!r} ({repeats}:" in line
    assert fake_runs == [] and not (tmp_path / "sw").exists()


def test_sweep_main_trains_and_tabulates_each_run_once(tmp_path, capsys, fake_runs):
    """Called with repeats anyway (the library, past the parser): each (model, seed) once."""
    args = argparse.Namespace(out=str(tmp_path), models=["dcgan", "dcgan"], seeds=[0, 0, 1],
                              dataset="mnist", epochs=1, max_steps=4, score_every=None, n=8,
                              framework="minigrad", threads=1, table=False)
    sweep.main(args)
    assert fake_runs == [("dcgan", 0), ("dcgan", 1)]
    assert len(sweep.load_results(tmp_path)) == 2
    out = capsys.readouterr().out
    assert "| dcgan | mnist | minigrad | 4 steps | 4 | 0,1 | 0.50 +- 0.71 |" in out


# ------------------------------------------------------------ B. config ranges
@pytest.mark.parametrize("model, field, value, want", [
    ("dcgan", "ema", 2.0, "a number in [0, 1)"), ("dcgan", "ema", -0.5, "a number in [0, 1)"),
    ("sngan", "r1_gamma", -1.0, "a number >= 0"), ("wgan_gp", "gp_lambda", -10.0, ">= 0"),
    ("vanilla", "dropout", 1.0, "in [0, 1)"), ("vanilla", "betas", (0.5, 1.5), "numbers in"),
    ("wgan", "d_steps", 0, "a whole number >= 1"), ("dcgan", "channels", 0, ">= 1"),
    ("dcgan", "latent_dim", 2.5, "a whole number"), ("vanilla", "g_hidden", (16, 0), ">= 1"),
    ("wgan", "clip", 0.0, "a number > 0"), ("cgan", "n_classes", 0, ">= 1")])
def test_config_rejects_a_value_out_of_range(model, field, value, want):
    import gans

    cls = gans.get_config(model)
    with pytest.raises(ValueError) as info:
        cls(**{field: value})
    line = str(info.value)
    assert "\n" not in line and f"{field} = {value!r} is out of range" in line
    assert want in line and f"--{field.replace('_', '-')}" in line


def test_config_defaults_and_edges_are_in_range():
    import gans

    for name in gans.available():
        gans.get_config(name)()  # every variant's defaults
    gans.get_config("dcgan")(ema=0.0, betas=(0.0, 0.9), r1_gamma=0.0)
    gans.get_config("infogan")(g_fc_features=0)  # 0: off
    gans.get_config("cyclegan")(latent_dim=0, pool_size=0, lambda_id=0.0)
    assert gans.get_config("wgan_gp")(channels=3).critic == "conv"  # its own __post_init__


@pytest.mark.parametrize("model, option, value, want", [
    ("dcgan", "--ema", "2", "a number in [0, 1)"), ("dcgan", "--ema", "-0.5", "in [0, 1)"),
    ("sngan", "--r1-gamma", "-1", "a number >= 0"), ("dcgan", "--channels", "0", ">= 1"),
    ("dcgan", "--latent-dim", "0", "a whole number >= 1"), ("dcgan", "--channels", "-1", ">= 1"),
    ("vanilla", "--g-hidden", "0", "whole numbers >= 1"), ("vanilla", "--betas", "0.5,1", "[0, 1)"),
    ("dcgan", "--batch-size", "0", ">= 1"), ("dcgan", "--lr", "0", "a number > 0")])
def test_train_rejects_a_config_option_out_of_range(model, option, value, want, tmp_path,
                                                    capsys):
    line = error_line(["train", "--model", model, "--dataset", "random", "--max-steps", "1",
                       "--no-progress", "--out", str(tmp_path / "run"), option, value], capsys, 2)
    assert f"argument {option}: invalid value {value!r} (expected " in line and want in line
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------- C. sampling labels
@pytest.fixture(scope="module")
def small_models():
    """A conditional model (CGAN, 10 classes) and an unconditional one (DCGAN), both tiny."""
    import gans

    cgan = gans.get_model("cgan")(gans.get_config("cgan")(g_hidden=(8,), d_hidden=(8,)))
    dcgan = gans.get_model("dcgan")(gans.get_config("dcgan")(g_features=4, d_features=4))
    return cgan, dcgan


@pytest.mark.parametrize("labels, message", [
    ([1.5, 3.0], "non-integer values"), ([-1, 0], "values in [-1, 0] outside 0..9"),
    ([10, 0], "values in [0, 10] outside 0..9"), ([1, 2, 3], "does not match the 2 images"),
    ([True, False], "not an integer type")])
def test_sample_checks_the_labels(labels, message, small_models):
    cgan, _ = small_models
    with pytest.raises(ValueError, match=r"^labels: ") as info:
        cgan.sample(2, np.array(labels))
    assert message in str(info.value)


def test_sample_takes_good_labels_and_refuses_them_unconditional(small_models):
    import minigrad

    cgan, dcgan = small_models
    for labels in ([1, 2], np.array([1.0, 9.0]), range(2), minigrad.tensor(np.array([0, 9]))):
        assert cgan.sample(2, labels).shape == (2, 1, 28, 28)
    z = cgan.latent(3)
    assert cgan.sample(99, [0, 1, 2], z=z).shape[0] == 3  # one label per row of z
    with pytest.raises(ValueError, match="dcgan is unconditional .* takes no labels"):
        dcgan.sample(2, np.array([3, 4]))
    assert dcgan.sample(2).shape == (2, 1, 28, 28)


# ------------------------------------------------------------- D. bad files named
GOOD_ROW = dict(model="dcgan", dataset="mnist", framework="minigrad", epochs=1, max_steps=None,
                seed=0, steps=4, wall_s=1.0, scores={"fid": 1.0}, command="")


@pytest.mark.parametrize("line, message", [
    ('{"model": "dcgan" "seed": 1}', "line 2: not JSON (Expecting ',' delimiter at column 19)"),
    ('{"model": "dcgan", "seed": 1}', "line 2: no dataset, framework, epochs, steps, wall_s, "),
    ("[1, 2]", "line 2: not a JSON object"),
    (json.dumps(dict(GOOD_ROW, scores=3)), "line 2: scores is 3, not a JSON object")])
def test_sweep_names_the_bad_line_of_results_jsonl(line, message, tmp_path, capsys):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(GOOD_ROW) + "\n" + line + "\n\n")
    with pytest.raises(ValueError) as info:
        sweep.load_results(tmp_path)
    assert str(info.value).startswith(f"{path}, {message}")
    assert message in error_line(["sweep", "--out", str(tmp_path), "--table"], capsys, 1)
    path.write_text(json.dumps(GOOD_ROW) + "\n\n")  # blank lines are fine
    assert sweep.load_results(tmp_path) == [GOOD_ROW]


def test_score_file_names_a_labels_file_that_is_not_npy(tmp_path):
    from gans import metrics

    np.save(tmp_path / "s.npy", np.zeros((2, 1, 28, 28), np.float32))
    text = tmp_path / "labels.txt"
    text.write_text("0\n1\n")
    with pytest.raises(ValueError, match=f"^{text} is not a labels file \\(.npy\\)"):
        metrics.score_file(tmp_path / "s.npy", labels_path=text, verbose=False)
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match=f"^{objects}: not a plain .npy array"):
        metrics.score_file(tmp_path / "s.npy", labels_path=objects, verbose=False)
    with pytest.raises(FileNotFoundError, match="no labels file"):
        metrics.score_file(tmp_path / "s.npy", labels_path=tmp_path / "nope.npy", verbose=False)


def test_sweep_tabulates_a_run_recorded_twice_once(tmp_path, capsys):
    """A results.jsonl written before repeats were refused (seeds 0,0,1): seed 0 counts once."""
    rows = [dict(GOOD_ROW, seed=s, scores={"fid": f}) for s, f in ((0, 1.0), (0, 1.0), (1, 3.0))]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert sweep.load_results(tmp_path) == [rows[0], rows[2]]
    assert main(["sweep", "--out", str(tmp_path), "--table"]) == 0
    assert "| 0,1 | 2.00 +- 1.41 |" in capsys.readouterr().out


def test_sweep_writes_a_conditional_models_labels_where_score_finds_them(tmp_path, small_models):
    """The sweep's samples of a conditional model: labels in samples.labels.npy (sample's
    naming), found by score, and no bare labels.npy that score could pair with other samples."""
    from gans import metrics, sweep

    cgan, _ = small_models
    sweep._write_samples(cgan, 0, 12, tmp_path)
    assert np.load(tmp_path / "samples.npy").shape == (12, 1, 28, 28)
    assert metrics.labels_beside(tmp_path / "samples.npy") == tmp_path / "samples.labels.npy"
    assert np.load(tmp_path / "samples.labels.npy").tolist() == [i % 10 for i in range(12)]
    assert not (tmp_path / "labels.npy").exists()


def test_an_example_script_resumes_only_its_own_seed_and_dataset(tmp_path):
    """fit_script (the examples' training call) records --seed (and --dataset where the script
    has one): resuming with another value is refused, as `gans train` refuses it."""
    import gans
    from gans import datasets
    from gans.cli.scripts import fit_script
    from gans.training.run_folder import RunMismatch

    def model():
        return gans.get_model("vanilla")(gans.get_config("vanilla")(
            g_hidden=(8,), d_hidden=(8,), batch_size=8))

    data = datasets.load("random", n=16)
    args = argparse.Namespace(epochs=1, out=str(tmp_path / "run"), dry_run=False, seed=0,
                              dataset="random")
    fit_script(model(), data, args)
    more = argparse.Namespace(**{**vars(args), "epochs": 2})
    for key, value in (("seed", 1), ("dataset", "mnist")):
        with pytest.raises(RunMismatch, match=f"--{key}"):
            fit_script(model(), data, argparse.Namespace(**{**vars(more), key: value}))
    fit_script(model(), data, more)  # the same seed and dataset resume
