#!/usr/bin/env bash
# The GPU check, in one call, on a machine with an NVIDIA GPU, CuPy and PyTorch (CUDA):
#
#     bash benchmarks/gpu_check.sh [OUT]          (OUT defaults to runs/gpu_check)
#
# It runs the checkout as it is (PYTHONPATH=., nothing installed) and writes everything to OUT:
#   env.log            nvidia-smi and the versions of Python, NumPy, CuPy, Numba and torch
#   cuda_tests.log/xml every CUDA test (pytest -k "cuda or gpu"; the 50-step DCGAN check aside)
#   dcgan_50.log       the 50-step GPU-against-CPU DCGAN check, verbose
#   transfers.log/json host<->device copies per training step, counted by the CUDA profiler
#   bench_cuda*.json/md/png and bench_*.log
#                      minigrad against PyTorch CUDA: the suite (ops, and the training steps
#                      at their usual batch: 64, the MLP GAN 100) and the steps at batch 256
#   summary.txt, summary.json  each part's exit status, time and last lines
# Each part has its own time limit; the whole takes under 8 minutes on an H100/H200. The exit
# status is 0 only when every part passed.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-runs/gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
: > "$OUT/summary.txt"
: > "$OUT/parts.tsv"
T0=$(date +%s)

part() {  # part NAME LIMIT_S COMMAND...
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    echo "== $name: $(echo "$*" | head -n 1 | cut -c1-160)" | tee -a "$OUT/summary.txt"
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" >> "$OUT/parts.tsv"
    echo "   exit $rc after $(( $(date +%s) - start )) s (limit $limit s)" | tee -a "$OUT/summary.txt"
    tail -n 4 "$OUT/$name.log" | sed 's/^/   | /' | tee -a "$OUT/summary.txt"
}

part env 60 bash -c "nvidia-smi; $PY - <<'EOF'
import platform, numpy, numba, torch
import minigrad
print('python', platform.python_version(), 'numpy', numpy.__version__, 'numba', numba.__version__)
print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())
print('minigrad.cuda.is_available():', minigrad.cuda.is_available(), minigrad.cuda.unavailable_reason())
import cupy
print('cupy', cupy.__version__, 'runtime', cupy.cuda.runtime.runtimeGetVersion(),
      'driver', cupy.cuda.runtime.driverGetVersion())
print(cupy.cuda.runtime.getDeviceProperties(0)['name'])
assert minigrad.cuda.is_available()
EOF"
# xdist spreads the tests over processes when the machine has it; CuPy caches compiled kernels.
XDIST=$($PY -c "import xdist" 2>/dev/null && echo "-n 8" || echo "")
part cuda_tests 240 $PY -m pytest tests -k "(cuda or gpu) and not 50_steps" $XDIST -q -rfEs \
    -p no:cacheprovider --junitxml "$OUT/cuda_tests.xml"
part dcgan_50 120 $PY -m pytest tests/test_cuda_kernels.py -k 50_steps -v -p no:cacheprovider
part transfers 90 $PY -m benchmarks.gpu_transfers --model dcgan --steps 20 --out "$OUT"
part bench 150 $PY -m benchmarks --device cuda --threads 1 --out "$OUT"
part bench_b256 120 $PY -m benchmarks --device cuda --threads 1 --batch 256 --out "$OUT"

$PY - "$OUT" "$(( $(date +%s) - T0 ))" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
from pathlib import Path
out, total = Path(sys.argv[1]), int(sys.argv[2])
parts = [dict(zip(("part", "exit", "seconds"), line.split("\t")))
         for line in (out / "parts.tsv").read_text().splitlines()]
summary = {"total_seconds": total, "parts": parts, "all_passed": all(p["exit"] == "0" for p in parts)}
for f in sorted(out.glob("bench_cuda*.json")):
    rows = json.loads(f.read_text())["rows"]
    summary[f.stem] = {r["name"]: round(r["ratio"], 3) for r in rows}
    dc = [r for r in rows if r["name"].startswith("DCGAN-28 step (batch 64)")]
    if dc:
        summary["dcgan28_b64_ratio"] = round(dc[0]["ratio"], 3)
        summary["dcgan28_b64_target_met"] = dc[0]["ratio"] <= 1.5
if (out / "transfers.json").exists():
    summary["transfers"] = json.loads((out / "transfers.json").read_text())
(out / "summary.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
EOF
grep -qv $'\t0\t' "$OUT/parts.tsv" && exit 1 || exit 0
