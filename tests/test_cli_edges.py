"""Small things a newcomer tripped on at the command line (issue 25, item 8)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gans.__main__ import main
from gans.cli.sample import npy_path
from gans.datasets import canonical_name

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("edges") / "run"
    assert main(["train", "--model", "vanilla", "--dataset", "random", "--dry-run",
                 "--no-progress", "--g-hidden", "8", "--d-hidden", "8", "--out", str(out)]) == 0
    return out


def test_sample_says_the_file_it_wrote(run_folder, tmp_path, capsys):
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(run_folder / "checkpoint.npz"), "--n", "3",
                 "--out", str(tmp_path / "s_noext")]) == 0
    assert f"wrote 3 samples to {tmp_path / 's_noext.npy'}\n" in capsys.readouterr().out
    assert np.load(tmp_path / "s_noext.npy").shape[0] == 3
    assert npy_path("a/b.npy") == Path("a/b.npy") and npy_path("a/b.x") == Path("a/b.x.npy")


def test_show_counts_epochs_from_one_as_the_progress_bar(run_folder, capsys):
    capsys.readouterr()
    assert main(["show", str(run_folder)]) == 0
    assert ", epoch 1)" in capsys.readouterr().out  # metrics.csv's epoch 0


def test_show_into_a_closed_pipe_is_quiet(run_folder):
    code = ("import sys; from gans.__main__ import main; "
            f"sys.exit(main(['show', {str(run_folder)!r}]))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env=_env())
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err


def _env():
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("typed, meant", [("--learning-rate", "--lr"), ("--learning_rate", "--lr"),
                                          ("--dry-rum", "--dry-run")])
def test_an_unknown_option_suggests_the_known_one(typed, meant, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--model", "vanilla", typed, "1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"unrecognized arguments: {typed} 1 (did you mean {meant}?)" in err


def test_dataset_names_one_table():
    assert canonical_name("Fashion-MNIST") == "fashion_mnist" == canonical_name("fashion")
    assert canonical_name("MNIST") == "mnist"
    assert canonical_name("SomeFolder/X") == "SomeFolder/X"  # not a known name: unchanged


def test_show_wants_a_run_folder(tmp_path, capsys):
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "holiday.png").write_bytes(b"not a run's")
    assert main(["show", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"gans: error: {tmp_path} is not a run folder")
    assert "config.json" in err and "checkpoint.npz" in err
