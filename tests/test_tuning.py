"""BLAS and allocator tuning is an explicit call (minigrad.backend.tune), never an import's side
effect; the benchmarks record it."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def run_python(code, **env):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("MINIGRAD_")
            and k not in ("OPENBLAS_CORETYPE", "OPENBLAS_THREAD_TIMEOUT")}
    full.update(PYTHONPATH=str(ROOT), **env)
    res = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("order", ["import minigrad", "import numpy; import minigrad"])
def test_importing_minigrad_changes_nothing_outside_it(order):
    code = (f"import os, json; before = dict(os.environ); {order}; "
            "from minigrad.backend import tuning_report; "
            "print(json.dumps([dict(os.environ) == before, tuning_report()]))")
    same_env, report = json.loads(run_python(code))
    assert same_env and report == {"tuned": False}


def test_tune_reports_what_took_effect_and_can_be_turned_off():
    code = "import json, minigrad; print(json.dumps(minigrad.backend.tune()))"
    on = json.loads(run_python(code))
    assert on["malloc"] == ("large blocks kept in the heap" if GLIBC else "not glibc: unchanged")
    assert on["blas"] != "off"
    if on["openblas_coretype"] == "SkylakeX":  # an AVX-512 CPU: NumPy was loaded before tune()
        assert "NumPy was loaded first" in on["blas"]
    off = json.loads(run_python(code, MINIGRAD_TUNING="0"))
    assert off["malloc"] == off["blas"] == "off" and off["openblas_coretype"] is None
    part = json.loads(run_python(code, MINIGRAD_MALLOC_TUNING="0"))
    assert part["malloc"] == "off" and part["blas"] != "off"
    assert json.loads(run_python(code, MINIGRAD_BLAS_THREADS_TUNING="0"))["blas_threads"] == "off"


def test_tune_restarts_openblas_workers_with_a_short_spin_and_gemms_still_agree():
    """NumPy (and its OpenBLAS) loaded first: tune() has the library re-read
    OPENBLAS_THREAD_TIMEOUT and restart its workers; products before and after are equal."""
    code = ("import json, numpy as np, minigrad; rng = np.random.default_rng(0); "
            "a = rng.standard_normal((300, 200)); b = rng.standard_normal((200, 250)); "
            "before = a @ b; r = minigrad.backend.tune(); after = a @ b; "
            "import os; print(json.dumps([r['blas_threads'], os.environ['OPENBLAS_THREAD_TIMEOUT'], "
            "bool((before == after).all())]))")
    said, value, same = json.loads(run_python(code, OPENBLAS_NUM_THREADS="2"))
    assert same and value == "16"
    assert said in ("OPENBLAS_THREAD_TIMEOUT=16, workers restarted",
                    "OPENBLAS_THREAD_TIMEOUT=16 for the OpenBLAS loaded later")  # not OpenBLAS
    mine = json.loads(run_python(code, OPENBLAS_THREAD_TIMEOUT="20"))
    assert mine[0] == "OPENBLAS_THREAD_TIMEOUT=20 set by the user" and mine[1] == "20"


def test_the_benchmark_entry_loads_no_numpy_before_it_sets_the_threads():
    """``python -m benchmarks --threads 1`` sets OPENBLAS_NUM_THREADS in main(): importing the
    module must not have loaded NumPy (and its OpenBLAS, which reads the variable once)."""
    code = "import sys, benchmarks.__main__; print('numpy' in sys.modules)"
    assert run_python(code) == "False"


def test_the_gans_command_line_loads_no_numpy_at_import():
    assert run_python("import sys, gans.__main__; print('numpy' in sys.modules)") == "False"


def test_benchmark_records_say_which_tuning_ran():
    code = ("import json, minigrad; minigrad.backend.tune(); from benchmarks import machine; "
            "print(json.dumps(machine.describe(1)['tuning']))")
    assert "malloc" in json.loads(run_python(code))


def test_the_header_names_numpys_blas():
    from benchmarks.machine import numpy_blas

    numpy_pool = {"user_api": "blas", "version": "0.3.31", "filepath": "/x/numpy.libs/libo.so"}
    torch_pool = {"user_api": "blas", "version": "0.3.30", "filepath": "/x/torch/lib/libo.so"}
    assert numpy_blas([torch_pool, numpy_pool]) == (numpy_pool, [torch_pool])
    assert numpy_blas([{"user_api": "openmp"}]) == (None, [])
