"""Every example script runs end to end with --dry-run (needs the MNIST cache; skipped without)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minigrad.data import cache_dir

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py")
                  if "--dry-run" in p.read_text())


def _mnist_cached():
    return any(cache_dir().glob("mnist*train*"))


@pytest.mark.skipif(not _mnist_cached(), reason="MNIST not cached yet (run an example once)")
@pytest.mark.parametrize("script", EXAMPLES)
def test_example_dry_run(script, tmp_path):
    args = [sys.executable, str(ROOT / "examples" / script), "--dry-run", "--out", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # works without `pip install -e .` too
    res = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert (tmp_path / "checkpoint.npz").exists()
