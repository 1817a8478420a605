"""How long until the first training step is done: ``import minigrad`` and the first GAN step
with a cold and with a warm Numba cache.

Usage::

    python benchmarks/first_step.py [--model vanilla|dcgan] [--batch 64] [--repeats 3]
                                    [--json FILE]

Every figure comes from a fresh Python process (``sys.executable``), so nothing is cached in
memory between measurements:

* ``import minigrad``: wall time of the import statement alone, ``--repeats`` processes
  (median); each child also reports whether numba was imported (it must not be).
* first step, per scenario, in one child: import, model construction, then train_step 1, 2
  and the median of steps 3-5 ("steady"), each timed separately on the same random batch.

  - ``numpy``  -- ``MINIGRAD_KERNELS=numpy``: the reference kernels, numba never imported;
  - ``cold``   -- ``MINIGRAD_KERNELS=auto`` with ``NUMBA_CACHE_DIR`` an empty temporary
                  directory: step 1 imports numba and compiles every kernel it meets;
  - ``warm``   -- the same directory again: step 1 loads the compiled kernels from it.

  The cold/warm pair is repeated ``--repeats`` times, each time with a new directory; medians
  are reported. ``cache files`` is the number of files Numba wrote into the directory.
* per kernel, cold and warm (same directory scheme): ``import numba`` and the first call of
  each Numba kernel that ``auto`` mode uses, on small float32 inputs -- where step 1's extra
  time goes.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_IMPORT_CHILD = """
import sys, time
t = time.perf_counter()
import minigrad
dt = time.perf_counter() - t
print(dt, 'numba' in sys.modules)
"""

_STEP_CHILD = """
import json, statistics, sys, time
t0 = time.perf_counter()
import numpy as np
import minigrad
t_import = time.perf_counter() - t0
import gans
model_name, batch = sys.argv[1], int(sys.argv[2])
minigrad.manual_seed(0)
cls = gans.get_model(model_name)
model = cls()
x = np.random.default_rng(0).uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32)
real = minigrad.tensor(x)
t_build = time.perf_counter() - t0 - t_import
steps = []
for _ in range(5):
    t = time.perf_counter()
    model.train_step(real)
    steps.append(time.perf_counter() - t)
print(json.dumps(dict(import_s=t_import, build_s=t_build, step1_s=steps[0], step2_s=steps[1],
                      steady_s=statistics.median(steps[2:]),
                      numba_imported='numba' in sys.modules)))
"""


_KERNEL_CHILD = """
import json, time
import numpy as np
t = time.perf_counter()
import numba
t_numba = time.perf_counter() - t
from minigrad.kernels import numba_cpu as nb
r = np.random.default_rng(0)
f = lambda *s: r.standard_normal(s).astype(np.float32)
x, cols = f(4, 64, 14, 14), f(4 * 7 * 7, 64 * 16)
a, b, c = f(256, 128), f(256, 128), f(256, 128)
p, g, m, v = f(1000), f(1000), f(1000), np.abs(f(1000))
calls = {
    "im2col_hwc": lambda: nb.im2col_hwc(x, 4, 4, 2, 1, 1),
    "col2im_hwc": lambda: nb.col2im_hwc(cols, (4, 64, 14, 14), 4, 4, 2, 1, 1),
    "scatter_add": lambda: nb.scatter_add(np.zeros((10, 128), np.float32),
                                          np.array([1, 3, 1]), a[:3]),
    "leaky_relu_fwd": lambda: nb.leaky_relu_fwd(a, 0.2),
    "leaky_relu_bwd": lambda: nb.leaky_relu_bwd(a, b, 0.2),
    "adam_update": lambda: nb.adam_update(p, g, m, v, None, lr=1e-3, beta1=0.9, beta2=0.999,
                                          eps=1e-8, weight_decay=0, step=1, amsgrad=False),
    "rmsprop_update": lambda: nb.rmsprop_update(p, g, v, None, None, lr=1e-3, alpha=0.99,
                                                eps=1e-8, weight_decay=0, momentum=0,
                                                centered=False),
}
out = {"import numba": t_numba}
for name, call in calls.items():
    t = time.perf_counter()
    call()
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""


def _child(code, args=(), **env):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("MINIGRAD_KERNELS", "NUMBA_CACHE_DIR")}
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO_ROOT, env=full_env,
                         capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"child failed:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def measure_import(repeats):
    times, numba = [], []
    for _ in range(repeats):
        dt, imported = _child(_IMPORT_CHILD).split()
        times.append(float(dt))
        numba.append(imported == "True")
    return dict(median_s=statistics.median(times), min_s=min(times), runs=len(times),
                numba_imported=any(numba))


def measure_step(model, batch, mode, cache_dir=None):
    env = {"MINIGRAD_KERNELS": mode}
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    result = json.loads(_child(_STEP_CHILD, (model, str(batch)), **env))
    if cache_dir is not None:
        result["cache_files"] = sum(1 for p in Path(cache_dir).rglob("*") if p.is_file())
    return result


def measure_kernels(cache_dir):
    """Seconds of ``import numba`` and of the first call of each AUTO_NUMBA kernel (float32)."""
    return json.loads(_child(_KERNEL_CHILD, NUMBA_CACHE_DIR=str(cache_dir)))


def _median_rows(rows):
    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float))
            and not isinstance(rows[0][k], bool)]
    out = {k: statistics.median(r[k] for r in rows) for k in keys}
    out.update({k: v for k, v in rows[0].items() if isinstance(v, bool)})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="vanilla", help="a gans.REGISTRY name (default: vanilla)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()},
               "model": args.model, "batch": args.batch, "repeats": args.repeats}
    try:
        results["machine"]["load_avg"] = os.getloadavg()
    except OSError:
        pass
    results["import"] = measure_import(max(args.repeats, 5))
    numpy_runs, cold_runs, warm_runs, k_cold, k_warm = [], [], [], [], []
    for _ in range(args.repeats):
        numpy_runs.append(measure_step(args.model, args.batch, "numpy"))
        with tempfile.TemporaryDirectory(prefix="numba_cache_") as cache:
            cold_runs.append(measure_step(args.model, args.batch, "auto", cache))
            warm_runs.append(measure_step(args.model, args.batch, "auto", cache))
        with tempfile.TemporaryDirectory(prefix="numba_cache_") as cache:
            k_cold.append(measure_kernels(cache))
            k_warm.append(measure_kernels(cache))
    results["scenarios"] = {"numpy": _median_rows(numpy_runs), "cold": _median_rows(cold_runs),
                            "warm": _median_rows(warm_runs)}
    results["kernels_first_call"] = {"cold": _median_rows(k_cold), "warm": _median_rows(k_warm)}

    imp = results["import"]
    print(f"import minigrad: median {imp['median_s'] * 1e3:.0f} ms (min {imp['min_s'] * 1e3:.0f}"
          f" ms, {imp['runs']} processes); numba imported: {imp['numba_imported']}")
    print(f"\n{args.model} GAN, batch {args.batch}, median of {args.repeats} processes each\n")
    print("| scenario | import | build | step 1 | step 2 | steady step | numba imported "
          "| cache files |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for name, r in results["scenarios"].items():
        files = f"{r['cache_files']:.0f}" if "cache_files" in r else "-"
        print(f"| {name} | {r['import_s']:.2f} s | {r['build_s']:.2f} s | {r['step1_s']:.2f} s "
              f"| {r['step2_s']:.2f} s | {r['steady_s']:.2f} s | {r['numba_imported']} "
              f"| {files} |")
    kc, kw = results["kernels_first_call"]["cold"], results["kernels_first_call"]["warm"]
    print("\nfirst call of each Numba kernel (float32), median of "
          f"{args.repeats} processes each\n")
    print("| | cold cache | warm cache |")
    print("|---|---:|---:|")
    for name in kc:
        print(f"| {name} | {kc[name] * 1e3:.0f} ms | {kw[name] * 1e3:.0f} ms |")
    print(f"| total | {sum(kc.values()):.2f} s | {sum(kw.values()):.2f} s |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
