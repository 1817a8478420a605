"""Data parallelism on one machine: 1 process x T threads against P processes x T/P threads.

    python -m benchmarks.distributed                      # 1 x 2 against 2 x 1, 30 timed steps
    python -m benchmarks.distributed --steps 3 --warmup 1 --out /tmp/dist   # a smoke run

For the MLP GAN step (batch 100) and the DCGAN-28 step (batch 64), each a full D step + G step
of the gans model at the same *global* batch: one process at 2 threads trains on the whole batch;
two processes at 1 thread each train DistributedDataParallel replicas of G and D on half of it.
It reports steps per second, the all_reduce time per step (DDP's gradient buckets), and the
all_reduce throughput for a few message sizes (algorithmic bandwidth: bytes / time; bus
bandwidth: 2 (P - 1) / P x that, what a ring all_reduce moves per process). Writes
``distributed.json`` and ``distributed.md`` under ``--out`` (default ``runs/distributed``) with
the machine and its load before and after (benchmarks/machine.py): time it on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = [("MLP GAN step (batch 100)", "vanilla", 100),
         ("DCGAN-28 step (batch 64)", "dcgan", 64)]
SIZES_BYTES = [4 << 10, 256 << 10, 4 << 20, 25 << 20]


# ------------------------------------------------------------------------ in each process
def _timed_all_reduce(dist, totals):
    """Wrap ``dist.all_reduce`` (what DDP calls per bucket) to add up the time spent in it."""
    inner = dist.all_reduce

    def timed(tensor, op=dist.ReduceOp.SUM):
        t0 = time.perf_counter()
        inner(tensor, op)
        totals[0] += time.perf_counter() - t0
    dist.all_reduce = timed
    return inner


def _step_case(model_name, global_batch, steps, warmup, dist):
    import numpy as np

    import gans
    import minigrad
    from minigrad.nn.parallel import DistributedDataParallel as DDP
    from benchmarks.suite import bench_config

    rank, world = dist.get_rank(), dist.get_world_size()
    if global_batch % world:
        raise ValueError(f"global batch {global_batch} does not split over {world} processes")
    minigrad.manual_seed(0)
    model = gans.get_model(model_name)(bench_config(model_name))
    if world > 1:
        model.G, model.D = DDP(model.G), DDP(model.D)
    minigrad.manual_seed(1 + rank)  # each process its own noise
    rng = np.random.default_rng(rank)
    n = global_batch // world
    real = minigrad.tensor(rng.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32))
    labels = minigrad.tensor(rng.integers(0, 10, n))
    totals = [0.0]
    inner = _timed_all_reduce(dist, totals)
    try:
        for _ in range(warmup):
            model.train_step(real, labels, update_g=True)
        dist.barrier()
        totals[0] = 0.0
        t0 = time.perf_counter()
        for _ in range(steps):
            model.train_step(real, labels, update_g=True)
        dist.barrier()
        elapsed = time.perf_counter() - t0
    finally:
        dist.all_reduce = inner
    return {"steps_per_s": steps / elapsed, "ms_per_step": 1e3 * elapsed / steps,
            "allreduce_ms_per_step": 1e3 * totals[0] / steps, "batch_per_process": n}


def _allreduce_throughput(dist, repeats):
    import numpy as np

    import minigrad

    world, out = dist.get_world_size(), []
    for nbytes in SIZES_BYTES:
        t = minigrad.tensor(np.ones(nbytes // 4, dtype=np.float32))
        for _ in range(2):
            dist.all_reduce(t)
        times = []
        for _ in range(repeats if nbytes < (4 << 20) else max(3, repeats // 4)):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        sec = float(np.median(times))
        out.append({"bytes": nbytes, "ms": 1e3 * sec, "algbw_GBps": nbytes / sec / 1e9,
                    "busbw_GBps": 2 * (world - 1) / world * nbytes / sec / 1e9})
    return out


def worker(args):
    import minigrad.distributed as dist

    dist.init_process_group("mpi")
    result = {"processes": dist.get_world_size(), "threads": args.threads, "cases": {}}
    for title, name, batch in CASES:
        result["cases"][title] = _step_case(name, batch, args.steps, args.warmup, dist)
    if dist.get_world_size() > 1:
        result["allreduce"] = _allreduce_throughput(dist, args.repeats)
    if dist.get_rank() == 0:
        Path(args.result).write_text(json.dumps(result))
    dist.destroy_process_group()


# ------------------------------------------------------------------------------ launcher
def _mpiexec():
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise SystemExit('benchmarks.distributed: no mpiexec found: pip install -e ".[mpi]"')
    return found


def _run(processes, threads, args, tmp):
    result = Path(tmp) / f"{processes}x{threads}.json"
    cmd = [sys.executable, "-m", "benchmarks.distributed", "--worker", "--threads", str(threads),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--repeats",
           str(args.repeats), "--result", str(result)]
    if processes > 1:
        cmd = [_mpiexec(), "-n", str(processes)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    subprocess.run(cmd, check=True, env=env, cwd=Path(__file__).resolve().parents[1])
    return json.loads(result.read_text())


def markdown(runs, info):
    from benchmarks.machine import load_note

    one, many = runs
    p, t = many["processes"], many["threads"]
    lines = [f"Data parallelism: 1 process x {one['threads']} threads against {p} processes x "
             f"{t} thread{'s' if t > 1 else ''}, same global batch ({load_note(info)}).", "",
             f"| case | 1 x {one['threads']} (steps/s) | {p} x {t} (steps/s) | speed-up | "
             f"all_reduce per step ({p} x {t}) |", "|---|---:|---:|---:|---:|"]
    for title in one["cases"]:
        a, b = one["cases"][title], many["cases"][title]
        lines.append(f"| {title} | {a['steps_per_s']:.2f} | {b['steps_per_s']:.2f} | "
                     f"{b['steps_per_s'] / a['steps_per_s']:.2f}x | "
                     f"{b['allreduce_ms_per_step']:.2f} ms of {b['ms_per_step']:.1f} ms |")
    lines += ["", f"all_reduce of float32 buffers, {p} processes:", "",
              "| message | time (ms) | algbw (GB/s) | busbw (GB/s) |", "|---:|---:|---:|---:|"]
    for row in many.get("allreduce", []):
        size = row["bytes"]
        label = f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"
        lines.append(f"| {label} | {row['ms']:.3f} | {row['algbw_GBps']:.2f} | "
                     f"{row['busbw_GBps']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=2, help="processes of the parallel run")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of the single process (the parallel run splits them)")
    ap.add_argument("--steps", type=int, default=30, help="timed training steps per case")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--repeats", type=int, default=20, help="all_reduce timings per size")
    ap.add_argument("--out", default="runs/distributed", help="folder for the JSON and markdown")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from minigrad.backend import tune

    tune()
    if args.worker:
        return worker(args)
    if args.processes < 2 or args.threads % args.processes:
        ap.error("--processes must be >= 2 and divide --threads")
    from benchmarks.machine import describe, load_average

    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [_run(1, args.threads, args, tmp),
                _run(args.processes, args.threads // args.processes, args, tmp)]
    info = describe(args.threads, load_before, load_average())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "distributed.json").write_text(json.dumps({"machine": info, "runs": runs}, indent=1))
    text = markdown(runs, info)
    (out / "distributed.md").write_text(text)
    print(text, end="")
    print(f"wrote {out / 'distributed.json'} and {out / 'distributed.md'}")


if __name__ == "__main__":
    main()
