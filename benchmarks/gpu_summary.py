"""The last part of ``benchmarks/gpu_check.sh``: one ``summary.json`` from the folder it wrote.

    python -m benchmarks.gpu_summary OUT TOTAL_SECONDS

reads ``OUT/parts.tsv`` (each part's name, exit status and seconds) and the JSON files the parts
left (``bench_cuda*.json``, ``gpu_graphs.json``, ``transfers.json``, ``gpu_kernels.json``,
``host_kernels.json``, ``probe.json``), and writes ``OUT/summary.json``: every part's status,
the headline numbers, and each target of the GPU issue with its measured value and whether it
was met (``None``: not measured, because its part failed or was skipped). A missing or
unreadable file is named under ``unreadable`` instead of stopping the summary, so a part that
died mid-write costs its own numbers only. It runs on any machine (it reads files), and
``tests/test_benchmarks.py`` runs it on made-up parts.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _parts(out: Path) -> list[dict]:
    f = out / "parts.tsv"
    if not f.exists():
        return []
    return [dict(zip(("part", "exit", "seconds"), line.split("\t")))
            for line in f.read_text().splitlines() if line.strip()]


def summarize(out: Path, total_seconds: int) -> dict:
    """The summary of the GPU check in ``out`` (see the module's docstring)."""
    out = Path(out)
    parts = _parts(out)
    summary = {"total_seconds": total_seconds, "parts": parts,
               "all_passed": bool(parts) and all(p["exit"] == "0" for p in parts)}
    unreadable = {}

    def load(name):
        f = out / name
        if not f.exists():
            return None
        try:
            return json.loads(f.read_text())
        except (OSError, ValueError) as e:
            unreadable[name] = f"{type(e).__name__}: {e}"
            return None

    for f in sorted(out.glob("bench_cuda*.json")):
        data = load(f.name)
        if data is not None:
            summary[f.stem] = {r["name"]: round(r["ratio"], 3) for r in data["rows"]}

    targets = {}  # the GPU issue's targets: value and whether met (None: not measured)

    def target(name, value, met):
        targets[name] = {"value": value, "met": met}

    bench = load("bench_cuda.json")
    rows = {r["name"]: r["ratio"] for r in bench["rows"]} if bench else {}
    steps = {k: v for k, v in rows.items() if " step" in k}
    if steps:
        worst = max(steps.items(), key=lambda kv: kv[1])
        target("eager: every training step <= 1.3x PyTorch", f"worst {worst[0]}: {worst[1]:.2f}x",
               worst[1] <= 1.3)
    else:
        target("eager: every training step <= 1.3x PyTorch", None, None)
    dc = [v for k, v in rows.items() if k.startswith("DCGAN-28 step")]
    target("eager: DCGAN-28 step <= 1.0x", dc[0] if dc else None, dc[0] <= 1.0 if dc else None)
    for op in ("conv2d 1->64", "conv_transpose2d 64->1", "batch_norm"):
        r = [v for k, v in rows.items() if k.startswith(op)]
        target(f"eager: {op} <= 1.5x", r[0] if r else None, r[0] <= 1.5 if r else None)

    # The target is for each step at its usual batch (the MLP GAN's 100, DCGAN-28's 64); the
    # rows at batch 256 are reported beside it, as a second line, not folded into it.
    replayed = load("gpu_graphs.json")
    if replayed:
        summary["replayed"] = {r["name"]: (round(r["replayed_over_torch"], 3) if "ms" in r
                                           else r.get("error")) for r in replayed["rows"]}
    for label, pick in (("", lambda r: r.get("batch") != 256),
                        (" (batch 256)", lambda r: r.get("batch") == 256)):
        name = f"replayed step: DCGAN-28 and MLP GAN <= 0.5x PyTorch eager{label}"
        rows = [r for r in (replayed or {}).get("rows", []) if pick(r)]
        ok = [r for r in rows if "ms" in r and not r.get("fallback")]
        worst = max((r["replayed_over_torch"] for r in ok), default=None)
        # every row must have replayed: a fallback to eager or an error is not met
        target(name, None if worst is None else f"worst {worst:.2f}x",
               (bool(ok) and len(ok) == len(rows) and worst <= 0.5) if rows else None)

    name = "0 device-to-host copies inside a step"
    transfers = load("transfers.json")
    if transfers:
        summary["transfers"] = transfers
        inside = transfers.get("d2h_inside_steps", transfers.get("d2h_per_step"))
        target(name, inside, None if inside is None else inside == 0)
    else:
        target(name, None, None)

    name = "kernels per DCGAN step <= PyTorch's"
    kernels = load("gpu_kernels.json")
    if kernels:
        summary["kernels_per_step"] = {r["name"]: [round(r["minigrad"], 1), round(r["torch"], 1)]
                                       for r in kernels["rows"]}
        dc = [r for r in kernels["rows"] if r["name"].startswith("DCGAN-28 step")]
        target(name, f"{dc[0]['minigrad']:.0f} vs {dc[0]['torch']:.0f}" if dc else None,
               dc[0]["minigrad"] <= dc[0]["torch"] if dc else None)
    else:
        target(name, None, None)

    model = load("host_kernels.json")
    if model:  # the emulated GPU's launches beside the profiler's count of the same commit
        measured = {r["name"]: r["minigrad"] for r in (kernels or {}).get("rows", [])}
        summary["kernels_model_vs_profiler"] = {
            r["name"]: [round(r["emulated_launches"], 1), measured.get(r["name"])]
            for r in model["rows"]}
    probe = load("probe.json")
    if probe and "capture" in probe:
        summary["capture_probe"] = {k: (v.get("ok") if isinstance(v, dict) else v)
                                    for k, v in probe["capture"].items()}
    summary["targets"] = targets
    if unreadable:
        summary["unreadable"] = unreadable
    return summary


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m benchmarks.gpu_summary OUT TOTAL_SECONDS", file=sys.stderr)
        return 2
    out = Path(argv[0])
    summary = summarize(out, int(argv[1]))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
