"""examples/mode_collapse.py (with gans/reports/mode_collapse.py): the report's extra budgets
(--also) and its one-line errors."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "mode_collapse.py"


def _run(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.parametrize("bad", ["best", "best@5000", "best@x512", "nope@10x10", "best@0x8",
                                 "best@10x-1"])
def test_a_malformed_also_is_one_line(bad, tmp_path):
    res = _run(["--also", bad, "--out-dir", str(tmp_path / "out"),
                "--cache", str(tmp_path / "cache")], tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("gans: error: --also:") and bad in lines[-1], res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "cache").exists()  # nothing created before the check


def test_also_adds_a_section_per_budget_and_trains_each_config_once(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["--runs", "gan", "--datasets", "ring", "--seeds", "2", "--steps", "4",
            "--batch-size", "16", "--also", "gan@6x8,gan@4x16", "--cache", str(cache),
            "--out-dir", str(out)]
    res = _run(args, tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    # gan@4x16 is the main budget: 2 seeds x (main + one other budget) = 4 runs, not 6
    assert "4 runs, 0 cached, 4 to train" in res.stdout
    assert len(list(cache.glob("*.json"))) == 4
    text = (out / "mode_collapse.md").read_text()
    assert "## The same seeds at larger budgets" in text
    assert "### GAN, k=1: 6 G steps, batch 8" in text
    assert "### GAN, k=1: 4 G steps, batch 16" in text
    assert "--also gan@6x8,gan@4x16" in text  # the command that remakes the file
    # the main table and each section average their own 2 seeds
    assert text.count("| GAN, k=1 | 4 |") == 4 and text.count("| GAN, k=1 | 6 |") == 2
    assert text.count("Targets met:") == 2
    assert text.count("Where seed 0's samples fall") == 3  # the main table and each section
    again = _run(args, tmp_path)  # everything cached: only the report is rewritten
    assert again.returncode == 0 and "4 runs, 4 cached, 0 to train" in again.stdout
    assert (out / "mode_collapse.md").read_text() == text


def test_sample_profile_places_samples_by_their_distance_to_the_modes():
    from gans.reports import mode_collapse as report
    from gans.theory import TOY_DATASETS

    make_centres, std, _ = TOY_DATASETS["grid"]
    c = make_centres()
    # 6 on a centre, 2 at 2 std along one axis, 2 halfway between two modes (20 std away)
    on = c[:6]
    off = c[6:8] + np.array([2 * std, 0.0])
    between = (c[:2] + c[1:3]) / 2
    near, far, rms = report.sample_profile(np.concatenate([on, off, between]), "grid")
    assert near == pytest.approx(0.8) and far == pytest.approx(0.2)
    # per-axis rms of the 8 near ones: sqrt(mean(d^2) / 2) = sqrt(2 * 4 / 8 / 2)
    assert rms == pytest.approx(np.sqrt(0.5))
