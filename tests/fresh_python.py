"""Run a snippet of Python in a fresh interpreter, for tests of what importing does (which
modules get imported, what gets compiled, what the environment selects): a test process has
already imported most of minigrad, so those questions need a new one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[1])


def run_python(code: str, timeout: float = 120, **env: str) -> str:
    """``python -c code`` in the repository root, with this checkout first on the path, without
    ``MINIGRAD_KERNELS`` (so the default kernel mode applies) and with ``env`` added; assert that
    it exits 0 and return its standard output."""
    full_env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_KERNELS"}
    full_env.update(PYTHONPATH=REPO_ROOT, **env)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=full_env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout
