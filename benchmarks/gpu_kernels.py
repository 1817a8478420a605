"""CUDA kernels launched per training step, minigrad's and PyTorch's, counted by the profiler.

    PYTHONPATH=. python -m benchmarks.gpu_kernels [--steps 10] [--cases dcgan,...] [--out DIR]
    python -m benchmarks.gpu_kernels --device cpu    # the host-side counts only (no GPU needed)

For each training-step case of the benchmark suite (``benchmarks.suite.step_cases``: the same
networks, batch and data in both frameworks) it runs a few warm-up steps, then ``--steps``
steps under ``torch.profiler``, whose CUDA activity (CUPTI) records every kernel of the process,
CuPy's and minigrad's own RawKernels as well as PyTorch's. Memory copies and memsets are not
kernels and are left out. Prints a table and writes DIR/gpu_kernels.json and .md: kernels per
step for each framework, their ratio, and each framework's most frequent kernels (where the
launches go). The target of the GPU issue: minigrad's DCGAN step launches no more kernels than
PyTorch's.

Beside the profiler's count, each row has minigrad's own host-side counts
(``minigrad.backend.counters``): ops run per step and calls into the kernel registry per step.
They are the same on every device, so ``--device cpu`` shows them on a machine without a GPU; a
change that cuts launches shows there first. ``--device cpu`` also runs each minigrad step on
an emulated GPU (``benchmarks/cupy_launches.py``: CuPy stood in for by NumPy, every array call
and kernel recording the launches CuPy would make) and reports those launches per step and the
most frequent ones: a model of the profiler's count, not a measurement.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def _count(fn, steps, warmup=3):
    import torch
    from torch.profiler import ProfilerActivity, profile

    import minigrad

    def sync():
        minigrad.cuda.synchronize()
        torch.cuda.synchronize()
    for _ in range(warmup):
        fn()
    sync()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            fn()
        sync()
    names = Counter(e.name for e in prof.events()
                    if e.device_type == torch.autograd.DeviceType.CUDA
                    and not e.name.startswith(("Memcpy", "Memset")))
    return sum(names.values()) / steps, [(n[:90], round(c / steps, 2))
                                          for n, c in names.most_common(12)]


def host_counts(fn, steps, warmup=1) -> dict:
    """minigrad's ops and kernel-registry calls per step of ``fn`` (any device)."""
    from minigrad.backend import counters

    for _ in range(warmup):
        fn()
    with counters.count() as c:
        for _ in range(steps):
            fn()
    return {"ops": c["op"] / steps, "registry_kernels": c["kernel"] / steps,
            "to_host": c["to_host"] / steps}


def emulated_launches(make, steps, warmup=1) -> dict:
    """The launches per step CuPy would make for ``make``'s minigrad step, on the emulated GPU
    of ``benchmarks/cupy_launches.py`` (the torch twin is built on the CPU and not run)."""
    from contextlib import ExitStack
    from unittest import mock

    import torch

    from benchmarks.cupy_launches import emulated_cuda
    from minigrad.backend import counters

    with ExitStack() as stack:
        stack.enter_context(emulated_cuda())
        # the twin stays on the host: only minigrad's step is counted
        stack.enter_context(mock.patch.object(torch.Tensor, "to", lambda self, *a, **k: self))
        stack.enter_context(mock.patch.object(torch.nn.Module, "to",
                                              lambda self, *a, **k: self))
        fn_mg, _ = make("cuda")
        for _ in range(warmup):
            fn_mg()
        with counters.count() as c:
            for _ in range(steps):
                fn_mg()
    top = sorted(((k[len("launch."):], v / steps) for k, v in c.items()
                  if k.startswith("launch.")), key=lambda kv: -kv[1])
    return {"emulated_launches": c["launch"] / steps, "emulated_top": top[:12],
            "emulated_registry_kernels": c["kernel"] / steps}


def count(steps=10, cases=None, device="cuda"):
    from benchmarks.suite import step_cases

    rows = []
    for name, _, make in step_cases():
        if cases and not any(c.lower() in name.lower() for c in cases):
            continue
        fn_mg, fn_th = make(device)
        row = {"name": name, **host_counts(fn_mg, steps)}
        line = f"{name:55s} ops {row['ops']:6.1f}  registry kernels {row['registry_kernels']:5.1f}"
        if device == "cpu":
            row.update(emulated_launches(make, steps))
            line += f"  emulated launches {row['emulated_launches']:6.1f}"
        if device == "cuda":
            mg, mg_top = _count(fn_mg, steps)
            th, th_top = _count(fn_th, steps)
            row.update({"minigrad": mg, "torch": th, "ratio": mg / th,
                        "minigrad_top": mg_top, "torch_top": th_top})
            line += f"  launches: minigrad {mg:7.1f}  torch {th:7.1f}  ratio {mg / th:5.2f}"
        rows.append(row)
        print(line, flush=True)
    return rows


def markdown(rows):
    """The counts per step as a table, then each case's most frequent kernels: the profiler's
    for both frameworks on a GPU, the emulated launches alone with --device cpu."""
    if rows and "minigrad" not in rows[0]:  # --device cpu: the host-side counts only
        head = ["minigrad ops/step", "kernel-registry calls/step", "emulated GPU launches/step"]
        cells = lambda r: [f"{r['ops']:.0f}", f"{r['registry_kernels']:.0f}",
                           f"{r['emulated_launches']:.0f}"]
        tops, title = [("kernel", "emulated_top")], "most frequent emulated launches"
    else:
        head = ["minigrad kernels/step", "PyTorch kernels/step", "ratio", "minigrad ops/step",
                "kernel-registry calls/step"]
        cells = lambda r: [f"{r['minigrad']:.0f}", f"{r['torch']:.0f}", f"{r['ratio']:.2f}x",
                           f"{r['ops']:.0f}", f"{r['registry_kernels']:.0f}"]
        tops, title = [("minigrad", "minigrad_top"), ("PyTorch", "torch_top")], \
            "most frequent kernels"
    lines = ["| case | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    lines += ["| " + " | ".join([r["name"], *cells(r)]) + " |" for r in rows]
    for r in rows:
        lines += ["", f"**{r['name']}**, {title} (per step):", "",
                  "| " + " | ".join(f"{who} | n" for who, _ in tops) + " |",
                  "|" + "---|---:|" * len(tops)]
        for pairs in zip(*(r[key] for _, key in tops)):
            lines.append("| " + " | ".join(f"`{k}` | {n:g}" for k, n in pairs) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_kernels",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--cases", default="", help="comma-separated parts of case names")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                   help="cpu: only minigrad's host-side counts (ops, kernel-registry calls)")
    args = p.parse_args(argv)
    import minigrad

    if args.device == "cuda" and not minigrad.cuda.is_available():
        p.error(f"needs a CUDA GPU: {minigrad.cuda.unavailable_reason()} (--device cpu gives "
                "the host-side counts)")
    rows = count(args.steps, [c for c in args.cases.split(",") if c], args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "gpu_kernels" if args.device == "cuda" else "host_kernels"
    (args.out / f"{stem}.json").write_text(json.dumps({"steps": args.steps, "rows": rows},
                                                      indent=1))
    (args.out / f"{stem}.md").write_text(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
