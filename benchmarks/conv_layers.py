"""Every conv layer of DCGAN-28, DCGAN-64 and the 32x32x3 networks (DCGAN-32 and the WGAN-GP
conv critic, which has DCGAN-32's D convolutions; SNGAN's standard CNN), product by product,
against the SGEMM peak.

    python -m benchmarks.conv_layers --threads 2            # writes runs/conv_layers_2t.{json,md}
    python -m benchmarks.conv_layers --threads 1 --processes 3 --out benchmarks/results
    python -m benchmarks.conv_layers --threads 1 --cpu-time --layer D32 --layer G32 --layer SN

For each layer (batch 64) it times the three products a training step computes:

    layer               forward                  input gradient            weight gradient
    y = conv(x, W)      Conv2d(x, W)             ConvTranspose2d(gy, W)    Conv2dGradWeight(x, gy)
    y = conv_T(x, W)    ConvTranspose2d(x, W)    Conv2d(gy, W)             Conv2dGradWeight(gy, x)

in minigrad (the ops of minigrad/ops/conv.py, called as in a backward pass, im2col and col2im
included; each product on its own, so a weight gradient recomputes the im2col a training step
would take from its forward's memo) and in PyTorch (F.conv2d / F.conv_transpose2d and
aten.convolution_backward with one output mask, the calls torch's autograd makes). All three
products of a layer cost the same 2 * N * P * C_in * C_out * KH * KW flops (P: pixels on the
convolution's output side); GFLOP/s = that / median time. "gemm" is minigrad's matrix product
alone on the same operands (its ceiling without im2col/col2im).

Peak: a 2048^3 SGEMM with NumPy's BLAS in the minigrad process and torch.mm in the torch
process, measured in the same run; "% of peak" divides by the larger of the two (the machine's
SGEMM peak as far as the two libraries reach it).

Method: each framework runs alone in its own process (so that idle BLAS/OpenMP threads of one
library do not spin while the other works), the processes alternate minigrad, torch, minigrad,
torch, ... (--processes of each), and each figure is the median over the processes of the
per-process median (--repeats after warm-up). The load average before and after is recorded,
and the table is flagged when the machine was loaded (benchmarks/machine.py).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

N = 64
# (name, kind, C_in, C_out, H_in, kernel, stride, padding): the conv layers of the two models.
LAYERS = [
    ("D28 conv1 1->64 28->14", "conv", 1, 64, 28, 4, 2, 1),
    ("D28 conv2 64->128 14->7", "conv", 64, 128, 14, 4, 2, 1),
    ("G28 convT1 128->64 7->14", "convT", 128, 64, 7, 4, 2, 1),
    ("G28 convT2 64->1 14->28", "convT", 64, 1, 14, 4, 2, 1),
    ("D64 conv1 3->64 64->32", "conv", 3, 64, 64, 4, 2, 1),
    ("D64 conv2 64->128 32->16", "conv", 64, 128, 32, 4, 2, 1),
    ("D64 conv3 128->256 16->8", "conv", 128, 256, 16, 4, 2, 1),
    ("D64 conv4 256->512 8->4", "conv", 256, 512, 8, 4, 2, 1),
    ("D64 conv5 512->1 4->1", "conv", 512, 1, 4, 4, 1, 0),
    ("G64 convT1 100->512 1->4", "convT", 100, 512, 1, 4, 1, 0),
    ("G64 convT2 512->256 4->8", "convT", 512, 256, 4, 4, 2, 1),
    ("G64 convT3 256->128 8->16", "convT", 256, 128, 8, 4, 2, 1),
    ("G64 convT4 128->64 16->32", "convT", 128, 64, 16, 4, 2, 1),
    ("G64 convT5 64->3 32->64", "convT", 64, 3, 32, 4, 2, 1),
    # 3x32x32 (issue 26): DCGAN-32's D (also the WGAN-GP conv critic's convolutions) and G
    ("D32 conv1 3->64 32->16", "conv", 3, 64, 32, 4, 2, 1),
    ("D32 conv2 64->128 16->8", "conv", 64, 128, 16, 4, 2, 1),
    ("D32 conv3 128->256 8->4", "conv", 128, 256, 8, 4, 2, 1),
    ("G32 convT1 256->128 4->8", "convT", 256, 128, 4, 4, 2, 1),
    ("G32 convT2 128->64 8->16", "convT", 128, 64, 8, 4, 2, 1),
    ("G32 convT3 64->3 16->32", "convT", 64, 3, 16, 4, 2, 1),
    # SNGAN's standard CNN at 32x32 (gans/sngan.py): D alternates 3x3/1 and 4x4/2 convolutions
    ("SN-D conv1 3->64 32 k3", "conv", 3, 64, 32, 3, 1, 1),
    ("SN-D conv2 64->64 32->16", "conv", 64, 64, 32, 4, 2, 1),
    ("SN-D conv3 64->128 16 k3", "conv", 64, 128, 16, 3, 1, 1),
    ("SN-D conv4 128->128 16->8", "conv", 128, 128, 16, 4, 2, 1),
    ("SN-D conv5 128->256 8 k3", "conv", 128, 256, 8, 3, 1, 1),
    ("SN-D conv6 256->256 8->4", "conv", 256, 256, 8, 4, 2, 1),
    ("SN-D conv7 256->512 4 k3", "conv", 256, 512, 4, 3, 1, 1),
    ("SN-G convT1 512->256 4->8", "convT", 512, 256, 4, 4, 2, 1),
    ("SN-G convT2 256->128 8->16", "convT", 256, 128, 8, 4, 2, 1),
    ("SN-G convT3 128->64 16->32", "convT", 128, 64, 16, 4, 2, 1),
    ("SN-G conv 64->3 32 k3", "conv", 64, 3, 32, 3, 1, 1),
]
PRODUCTS = ("fwd", "igrad", "wgrad")


def geometry(kind, cin, cout, h, k, s, p):
    """Shapes of x, W, y and the flops of one product."""
    if kind == "conv":
        oh = (h + 2 * p - k) // s + 1
        w_shape = (cout, cin, k, k)
        conv_pixels = oh * oh
    else:
        oh = (h - 1) * s - 2 * p + k
        w_shape = (cin, cout, k, k)
        conv_pixels = h * h
    return (N, cin, h, h), w_shape, (N, cout, oh, oh), 2 * N * conv_pixels * cin * cout * k * k


#: The clock: wall time, or with --cpu-time the CPU time of the process (time.process_time),
#: which on a loaded machine does not count the waits for a core (fair at 1 thread only: with
#: more it adds up every thread, spinning ones included).
_clock = time.perf_counter


def _median_time(fn, repeats, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = _clock()
        fn()
        ts.append(_clock() - t0)
    return statistics.median(ts)


def _arrays(kind, cin, cout, h, k, s, p):
    import numpy as np

    x_shape, w_shape, y_shape, _ = geometry(kind, cin, cout, h, k, s, p)
    rng = np.random.default_rng(0)
    return (rng.standard_normal(x_shape, np.float32), 0.05 * rng.standard_normal(w_shape,
            np.float32), rng.standard_normal(y_shape, np.float32))


def _minigrad_products(kind, cin, cout, h, k, s, p):
    import minigrad
    from minigrad.ops import conv as C

    x, w, gy = (minigrad.tensor(a) for a in _arrays(kind, cin, cout, h, k, s, p))
    attrs = dict(stride=(s, s), padding=(p, p), dilation=(1, 1))
    if kind == "conv":
        fwd = lambda: C.Conv2d.apply(x, w, **attrs)  # noqa: E731
        igrad = lambda: C.ConvTranspose2d.apply(gy, w, output_size=x.shape[2:], **attrs)  # noqa
        wgrad = lambda: C.Conv2dGradWeight.apply(x, gy, kernel_size=(k, k), **attrs)  # noqa
    else:
        fwd = lambda: C.ConvTranspose2d.apply(x, w, output_size=gy.shape[2:], **attrs)  # noqa
        igrad = lambda: C.Conv2d.apply(gy, w, **attrs)  # noqa: E731
        wgrad = lambda: C.Conv2dGradWeight.apply(gy, x, kernel_size=(k, k), **attrs)  # noqa
    return {"fwd": fwd, "igrad": igrad, "wgrad": wgrad}


def _minigrad_gemm(kind, cin, cout, h, k, s, p):
    """The matrix product alone, on operands of the ops' layouts (for the 'gemm' column)."""
    import numpy as np

    _, _, _, flops = geometry(kind, cin, cout, h, k, s, p)
    small_c, big_c = (cin, cout) if kind == "conv" else (cout, cin)  # conv side: image channels
    rows = flops // (2 * small_c * big_c * k * k)
    rng = np.random.default_rng(0)
    cols = rng.standard_normal((rows, k * k * small_c), np.float32)
    wr = rng.standard_normal((big_c, k * k * small_c), np.float32)
    yr = rng.standard_normal((rows, big_c), np.float32)
    return {"fwd": lambda: cols @ wr.T, "igrad": lambda: yr @ wr,
            "wgrad": lambda: (cols.T @ yr).T}  # the ops' forms (Conv2dGradWeight's NOTE)


def _torch_products(kind, cin, cout, h, k, s, p):
    import torch
    import torch.nn.functional as F

    x, w, gy = (torch.from_numpy(a) for a in _arrays(kind, cin, cout, h, k, s, p))
    transposed = kind == "convT"
    bwd = torch.ops.aten.convolution_backward

    def back(mask):
        return lambda: bwd(gy, x, w, None, [s, s], [p, p], [1, 1], transposed, [0, 0], 1, mask)

    with torch.no_grad():
        fwd = (lambda: F.conv_transpose2d(x, w, stride=s, padding=p)) if transposed else \
            (lambda: F.conv2d(x, w, stride=s, padding=p))
    return {"fwd": fwd, "igrad": back([True, False, False]), "wgrad": back([False, True, False])}


def _sgemm_peak(framework, repeats):
    n = 2048
    if framework == "torch":
        import torch
        a = torch.randn(n, n)
        fn = lambda: a @ a  # noqa: E731
    else:
        import numpy as np
        a = np.random.default_rng(0).standard_normal((n, n), np.float32)
        fn = lambda: a @ a  # noqa: E731
    return 2 * n ** 3 / _median_time(fn, max(repeats // 2, 3)) / 1e9


def child(framework, threads, repeats, layers):
    """Time every product of every layer in this process; print one JSON line."""
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        torch.set_grad_enabled(False)
    else:
        import minigrad
        minigrad.set_grad_enabled(False)
    from benchmarks.machine import blas_info

    out = {"framework": framework, "peak": _sgemm_peak(framework, repeats), "layers": {},
           "blas": blas_info()}
    for spec in LAYERS:
        if layers and not any(spec[0].startswith(sel) for sel in layers):
            continue
        name, geo = spec[0], spec[1:]
        flops = geometry(*geo)[3]
        makers = [("", _torch_products)] if framework == "torch" else \
            [("", _minigrad_products), ("gemm_", _minigrad_gemm)]
        res = {}
        for prefix, make in makers:
            for prod, fn in make(*geo).items():
                res[prefix + prod] = flops / _median_time(fn, repeats) / 1e9
        out["layers"][name] = res
    print(json.dumps(out))


def _run_child(framework, threads, repeats, layers, cpu_time=False):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, "-m", "benchmarks.conv_layers", "--child", framework, "--threads",
           str(threads), "--repeats", str(repeats)] + sum((["--layer", l] for l in layers), []) \
        + (["--cpu-time"] if cpu_time else [])
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + ([env["PYTHONPATH"]]
                                                      if "PYTHONPATH" in env else []))
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=root)
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(threads, processes, repeats, layers, out, cpu_time=False):
    from benchmarks import machine

    load_before = machine.load_average()
    runs = {"minigrad": [], "torch": []}
    for i in range(processes):  # A/B/A/B...
        for fw in ("minigrad", "torch"):
            runs[fw].append(_run_child(fw, threads, repeats, layers, cpu_time))
            print(f"  process {i + 1}/{processes} {fw} done", file=sys.stderr, flush=True)
    load_after = machine.load_average()
    med = statistics.median
    peaks = {fw: med(r["peak"] for r in runs[fw]) for fw in runs}
    peak = max(peaks.values())
    rows = []
    for name in runs["minigrad"][0]["layers"]:
        row = {"layer": name, "flops": None}
        spec = next(s for s in LAYERS if s[0] == name)
        row["flops"] = geometry(*spec[1:])[3]
        for key in runs["minigrad"][0]["layers"][name]:
            row["minigrad_" + key] = med(r["layers"][name][key] for r in runs["minigrad"])
        for key in PRODUCTS:
            row["torch_" + key] = med(r["layers"][name][key] for r in runs["torch"])
        rows.append(row)
    info = machine.describe(threads, load_before, load_after)
    info["blas"] = runs["minigrad"][0]["blas"]  # the children's pools, not this process's
    info["torch_blas"] = runs["torch"][0]["blas"]
    clock = "CPU time of the process" if cpu_time else "wall time"
    result = {"machine": info, "method": f"each framework alone in its own process, "
              f"alternating, {processes} processes each, median of per-process medians of "
              f"{repeats} calls ({clock})", "batch": N, "peak_gflops": peaks, "peak": peak,
              "rows": rows}
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"conv_layers_{threads}t"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    print(f"wrote {stem}.json, .md")
    return result


def markdown(result):
    m, peak = result["machine"], result["peak"]
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
                     f"{b.get('num_threads')} threads)" for b in m["blas"] if "error" not in b)
    lines = [f"{m['cpu']} ({', '.join(m['cpu_flags'])}), {m['threads']} threads per framework; "
             f"NumPy BLAS in the minigrad process: {blas}; torch {m['torch']}; {m['date']}.",
             f"{machine_note(m)}. Method: {result['method']}.", "",
             f"SGEMM peak (2048^3): NumPy {result['peak_gflops']['minigrad']:.1f} GFLOP/s, torch "
             f"{result['peak_gflops']['torch']:.1f} GFLOP/s; % of peak below is of "
             f"{peak:.1f}.", "",
             "| layer (batch 64) | MFLOP | product | minigrad GFLOP/s | % peak | minigrad gemm "
             "alone | torch GFLOP/s | % peak | minigrad / torch time |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        for i, prod in enumerate(PRODUCTS):
            a, g, b = r["minigrad_" + prod], r.get("minigrad_gemm_" + prod), r["torch_" + prod]
            lines.append(f"| {r['layer'] if i == 0 else ''} | "
                         f"{r['flops'] / 1e6:.0f} | {prod} | {a:.1f} | {100 * a / peak:.0f}% | "
                         f"{g:.1f} | {b:.1f} | {100 * b / peak:.0f}% | {b / a:.2f}x |")
    return "\n".join(lines) + "\n"


def machine_note(m):
    from benchmarks.machine import load_note
    return load_note(m)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.conv_layers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--processes", type=int, default=3, help="processes per framework")
    p.add_argument("--repeats", type=int, default=10, help="timed calls per product")
    p.add_argument("--layer", action="append", default=[],
                   help="only layers whose name starts with this, e.g. D28, G64, D32 or SN "
                        "(repeatable)")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--cpu-time", action="store_true",
                   help="time with the process's CPU time instead of wall time (1 thread, a "
                        "loaded machine)")
    p.add_argument("--child", choices=["minigrad", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.cpu_time:
        global _clock
        _clock = time.process_time
    from minigrad.backend import tune

    tune()
    if args.child:
        child(args.child, args.threads, args.repeats, args.layer)
    else:
        run(args.threads, args.processes, args.repeats, args.layer, args.out, args.cpu_time)


if __name__ == "__main__":
    main()
