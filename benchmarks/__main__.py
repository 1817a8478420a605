"""``python -m benchmarks``: minigrad against PyTorch, op by op and step by step.

Both frameworks run the same work in one process with the same number of threads, interleaved
(minigrad, torch, minigrad, torch, ...) so that machine noise hits both alike; each figure is the
median over repeats after warm-up. Writes, under --out (default benchmarks/results/):

    bench_<device>.json    every figure, with machine, versions, threads and date
    bench_<device>.md      the table of times and ratios minigrad / PyTorch
    bench_<device>.png     the ratios as a bar chart
    memory.md, scaling.png (with --memory / --scaling)

``--quick`` runs a few repeats of a few cases, for the CI smoke test.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import minigrad  # noqa: F401  (before NumPy and torch: it picks OpenBLAS's kernels)


def _set_threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


def _sync(device):
    if device == "cuda":
        import minigrad
        import torch
        minigrad.cuda.synchronize()
        torch.cuda.synchronize()


def measure(fn_mg, fn_th, device, repeats, warmup, min_time=0.0):
    """Interleaved timings (seconds): medians for minigrad and torch."""
    for _ in range(warmup):
        fn_mg()
        fn_th()
    ts_mg, ts_th = [], []
    for _ in range(repeats):
        for fn, ts in ((fn_mg, ts_mg), (fn_th, ts_th)):
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            ts.append(time.perf_counter() - t0)
    return statistics.median(ts_mg), statistics.median(ts_th)


def machine_info(threads):
    import numpy
    import torch

    import minigrad
    from minigrad import kernels

    try:
        import numba
        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu,
            "cores": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "numpy": numpy.__version__, "numba": numba_version, "torch": torch.__version__,
            "minigrad": minigrad.__version__, "kernels": kernels.get_mode(),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}


def run(device, quick, threads, out):
    import torch

    from benchmarks.suite import op_cases, step_cases

    torch.set_num_threads(threads)
    cases = op_cases() + step_cases()
    if quick:
        cases = [c for c in cases if c[0].startswith(("matmul 100x784", "conv2d 64", "overhead",
                                                       "MLP GAN"))]
    repeats, warmup = (3, 1) if quick else (20, 3)
    rows = []
    for name, group, make in cases:
        fn_mg, fn_th = make(device)
        t_mg, t_th = measure(fn_mg, fn_th, device, repeats if group != "step" else
                             max(repeats // 2, 3), warmup)
        rows.append({"name": name, "group": group, "minigrad_ms": t_mg * 1e3,
                     "torch_ms": t_th * 1e3, "ratio": t_mg / t_th})
        print(f"{name:45s} minigrad {t_mg * 1e3:9.3f} ms   torch {t_th * 1e3:9.3f} ms   "
              f"ratio {t_mg / t_th:5.2f}", flush=True)
    result = {"machine": machine_info(threads), "device": device, "quick": quick, "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"bench_{device}{'_quick' if quick else ''}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    stem.with_suffix(".md").write_text(markdown(result))
    chart(result, stem.with_suffix(".png"))
    print(f"wrote {stem}.json, .md, .png")
    return result


def markdown(result):
    m = result["machine"]
    lines = [f"Device: {result['device']}; {m['cpu']}, {m['threads']} threads; numpy "
             f"{m['numpy']}, numba {m['numba']} (kernels: {m['kernels']}), torch {m['torch']}; "
             f"{m['date']}", "",
             "| case | minigrad (ms) | PyTorch (ms) | minigrad / PyTorch |",
             "|---|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['name']} | {r['minigrad_ms']:.3f} | {r['torch_ms']:.3f} | "
                     f"{r['ratio']:.2f}x |")
    return "\n".join(lines) + "\n"


def chart(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1))
    ax.barh([r["name"] for r in rows], [r["ratio"] for r in rows],
            color=["tab:green" if r["ratio"] <= 1 else "tab:orange" for r in rows])
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xlabel("time minigrad / time PyTorch (lower is better)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ------------------------------------------------------------------------------- memory
MEMORY_CASES = {"MLP GAN": ("vanilla", {}), "DCGAN-28": ("dcgan", {}),
                "conditional GAN": ("cgan", {})}


def _memory_child(framework, name, steps):
    """Run ``steps`` training steps of one framework alone; print its peak RSS in MiB."""
    import minigrad
    import gans
    from benchmarks.suite import _batch

    minigrad.manual_seed(0)
    model = gans.get_model(name)()
    images, labels = _batch(name, model.config.batch_size)
    if framework == "torch":
        from benchmarks.twins import Twin
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        twin = Twin(model)
        del model
        step = lambda: twin.train_step(images, labels)  # noqa: E731
    else:
        real, lab = minigrad.tensor(images), minigrad.tensor(labels)
        step = lambda: model.train_step(real, lab)  # noqa: E731
    for _ in range(steps):
        step()
    print(_peak_rss_mib())


def _peak_rss_mib():
    """This process's peak resident set size in MiB.

    NOTE: ru_maxrss is not used: Linux carries it over from the parent through fork + exec, so a
    child started by a big parent reports the parent's peak. VmHWM belongs to the new image."""
    import resource

    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(out, steps):
    rows = []
    for label, (name, _) in MEMORY_CASES.items():
        res = {}
        for fw in ("minigrad", "torch"):
            cmd = [sys.executable, "-m", "benchmarks", "--memory-child", fw, name, str(steps)]
            res[fw] = float(subprocess.run(cmd, capture_output=True, text=True,
                                           check=True).stdout.strip().splitlines()[-1])
        rows.append((label, res["minigrad"], res["torch"]))
        print(f"{label:20s} peak RSS minigrad {res['minigrad']:.0f} MiB, torch "
              f"{res['torch']:.0f} MiB", flush=True)
    md = ["| model | minigrad peak RSS (MiB) | PyTorch peak RSS (MiB) | ratio |", "|---|---:|---:|---:|"]
    md += [f"| {l} | {a:.0f} | {b:.0f} | {a / b:.2f}x |" for l, a, b in rows]
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory.md").write_text(f"Peak RSS of {steps} training steps, each framework alone in "
                                   "a fresh process (imports included).\n\n" + "\n".join(md) + "\n")


# ------------------------------------------------------------------------------ scaling
def scaling(out, threads, quick):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from benchmarks.suite import step_case

    torch.set_num_threads(threads)
    sizes = [16, 64, 256] if quick else [16, 32, 64, 128, 256, 512]
    fig, ax = plt.subplots(figsize=(6, 4))
    table = ["| model | batch | minigrad (ms) | PyTorch (ms) | ratio |", "|---|---:|---:|---:|---:|"]
    for label, name in (("MLP GAN", "vanilla"), ("DCGAN-28", "dcgan")):
        t_mg, t_th = [], []
        for b in sizes:
            fn_mg, fn_th = step_case(name, batch=b)("cpu")
            a, c = measure(fn_mg, fn_th, "cpu", 3 if quick else 7, 1)
            t_mg.append(a * 1e3 / b)
            t_th.append(c * 1e3 / b)
            table.append(f"| {label} | {b} | {a * 1e3:.1f} | {c * 1e3:.1f} | {a / c:.2f}x |")
            print(table[-1], flush=True)
        ax.plot(sizes, t_mg, "o-", label=f"{label} minigrad")
        ax.plot(sizes, t_th, "s--", label=f"{label} PyTorch")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("ms per example (one D + one G step)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "scaling.png", dpi=90)
    (out / "scaling.md").write_text("\n".join(table) + "\n")


# ------------------------------------------------------------------ numba vs numpy kernels
def kernel_modes(out, quick):
    """One training step with MINIGRAD_KERNELS=numpy against numba, interleaved in-process."""
    from minigrad import kernels
    from benchmarks.suite import step_case

    cases = [("MLP GAN step (batch 100)", "vanilla", {}), ("DCGAN-28 step (batch 64)", "dcgan", {}),
             ("WGAN-GP step, conv critic (batch 64)", "wgan_gp", {"critic": "conv"})]
    lines = ["| step | NumPy kernels (ms) | Numba kernels (ms) | numba / numpy |",
             "|---|---:|---:|---:|"]
    for label, name, cfg in cases:
        fn, _ = step_case(name, **cfg)("cpu")

        def with_mode(mode):
            def run():
                previous = kernels.set_kernels(mode)
                try:
                    fn()
                finally:
                    kernels.set_kernels(previous)
            return run

        t_np, t_nb = measure(with_mode("numpy"), with_mode("numba"), "cpu", 3 if quick else 15, 2)
        lines.append(f"| {label} | {t_np * 1e3:.1f} | {t_nb * 1e3:.1f} | {t_nb / t_np:.2f}x |")
        print(lines[-1], flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernels_steps.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few cases, a few repeats")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--memory", action="store_true", help="peak RSS of 200 steps per model")
    p.add_argument("--scaling", action="store_true", help="step time against batch size")
    p.add_argument("--kernels", action="store_true",
                   help="training steps with NumPy against Numba kernels")
    p.add_argument("--steps-only", action="store_true",
                   help="skip the main table; run only --memory/--scaling/--kernels")
    p.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    _set_threads(args.threads)
    if args.memory_child:
        fw, name, steps = args.memory_child
        _memory_child(fw, name, int(steps))
        return
    import minigrad

    devices = ["cpu"] + (["cuda"] if minigrad.cuda.is_available() else [])
    if args.device != "all":
        devices = [args.device]
    if not args.steps_only:
        for dev in devices:
            run(dev, args.quick, args.threads, args.out)
    if args.memory:
        memory(args.out, 20 if args.quick else 200)
    if args.scaling:
        scaling(args.out, args.threads, args.quick)
    if args.kernels:
        kernel_modes(args.out, args.quick)


if __name__ == "__main__":
    main()
