"""Facts about the GPU machine that the capture and launch work needs (a probe, not a benchmark).

    PYTHONPATH=. python -m benchmarks.gpu_probe [--out DIR]

Prints one JSON object (and writes DIR/probe.json):
  launch_us       host microseconds per call of small CuPy/torch operations (64 floats), the
                  cost of one launch from Python, and of one ``.item()`` (a sync)
  capture         which CuPy operations can be recorded into a CUDA graph by stream capture
                  (elementwise, reductions, cuBLAS through cupy.matmul and through a handle bound
                  to the capture stream beforehand, cuRAND, allocation inside capture) and
                  a replayed graph of 100 small kernels timed against launching them eagerly
  kernels         CUDA kernels per DCGAN-28 training step, minigrad's and PyTorch's, as the
                  profiler sees them, with the most frequent names
  profile         the host functions a minigrad DCGAN step spends its time in (cProfile)
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
import traceback
from collections import Counter
from pathlib import Path


def _per_call_us(fn, n=2000, sync=None):
    for _ in range(20):
        fn()
    if sync:
        sync()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    if sync:
        sync()
    return round((time.perf_counter() - t) / n * 1e6, 2)


def launch_costs():
    import cupy as cp
    import torch

    a = cp.ones(64, cp.float32)
    b = cp.ones(64, cp.float32)
    out = cp.empty_like(a)
    ew = cp.ElementwiseKernel("T x, T y", "T z", "z = x * y + x", "probe_ew")
    raw = cp.RawKernel(r'''extern "C" __global__ void probe_raw(const float* x, float* y, int n)
        { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] = 2.f * x[i]; }''',
                       "probe_raw")
    m = cp.ones((64, 64), cp.float32)
    ta = torch.ones(64, device="cuda")
    tb = torch.ones(64, device="cuda")
    tm = torch.ones(64, 64, device="cuda")
    sync = cp.cuda.Device().synchronize
    res = {
        "cupy a+b": _per_call_us(lambda: a + b, sync=sync),
        "cupy add(out=)": _per_call_us(lambda: cp.add(a, b, out=out), sync=sync),
        "cupy ElementwiseKernel": _per_call_us(lambda: ew(a, b), sync=sync),
        "cupy ElementwiseKernel(out=)": _per_call_us(lambda: ew(a, b, out), sync=sync),
        "cupy RawKernel": _per_call_us(lambda: raw((1,), (64,), (a, out, cp.int32(64))),
                                       sync=sync),
        "cupy sum": _per_call_us(lambda: a.sum(), sync=sync),
        "cupy matmul 64x64": _per_call_us(lambda: m @ m, sync=sync),
        "cupy empty(64)": _per_call_us(lambda: cp.empty(64, cp.float32), sync=sync),
        "cupy reshape view": _per_call_us(lambda: m.reshape(4096), sync=sync),
        "cupy .item() (sync)": _per_call_us(lambda: float(a[0]), n=500),
        "torch a+b": _per_call_us(lambda: ta + tb, sync=torch.cuda.synchronize),
        "torch sum": _per_call_us(lambda: ta.sum(), sync=torch.cuda.synchronize),
        "torch matmul 64x64": _per_call_us(lambda: tm @ tm, sync=torch.cuda.synchronize),
        "torch .item() (sync)": _per_call_us(lambda: ta[0].item(), n=500),
    }
    return res


def _try(name, fn, results):
    try:
        results[name] = fn()
    except Exception as e:  # the point is to record what fails and how
        results[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:400]}


def _capture_and_replay(stream, record, before_replay=None):
    """``record()`` captured into a CUDA graph on ``stream``, then (after ``before_replay()``,
    when given) the graph launched once and waited for: (record's result, the graph)."""
    with stream:
        stream.begin_capture()
        out = record()
        g = stream.end_capture()
    if before_replay is not None:
        before_replay()
    g.launch(stream)
    stream.synchronize()
    return out, g


def _elementwise_prealloc(stream, x, y):
    import cupy as cp

    def record():
        cp.multiply(x, 2, out=y)
        cp.add(y, 1, out=y)
    _, g = _capture_and_replay(stream, record, before_replay=lambda: y.fill(0))
    return {"ok": bool(cp.allclose(y, x * 2 + 1)), "graph": type(g).__name__}


def _elementwise_alloc(stream, x):  # temporaries from the pool inside capture
    import cupy as cp

    def record():
        z = x * 3 + 1
        return z, z.sum()
    (z, w), _ = _capture_and_replay(stream, record)
    return {"ok": bool(cp.allclose(z, x * 3 + 1)) and abs(float(w) - float((x * 3 + 1).sum())) < 1,
            "note": "allocation inside capture"}


def _matmul_plain(stream):
    import cupy as cp

    a = cp.ones((64, 64), cp.float32)
    c, _ = _capture_and_replay(stream, lambda: a @ a)
    return {"ok": bool(cp.allclose(c, 64))}


def _matmul_bound_handle(stream):
    import cupy as cp
    from cupy.cuda import cublas

    a = cp.ones((64, 64), cp.float32)
    c = cp.empty((64, 64), cp.float32)
    handle = cp.cuda.device.get_cublas_handle()
    cublas.setStream(handle, stream.ptr)
    one = cp.ones((), cp.float32)
    zero = cp.zeros((), cp.float32)
    mode = cublas.getPointerMode(handle)
    try:
        cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_DEVICE)
        with stream:
            stream.begin_capture()
            cublas.sgemm(handle, 0, 0, 64, 64, 64, one.data.ptr, a.data.ptr, 64,
                         a.data.ptr, 64, zero.data.ptr, c.data.ptr, 64)
            g = stream.end_capture()
    finally:  # NOTE: a handle left in device pointer mode makes later host-scalar calls fault
        cublas.setPointerMode(handle, mode)
        cublas.setStream(handle, cp.cuda.get_current_stream().ptr)
    with stream:
        c.fill(0)
        g.launch(stream)
        stream.synchronize()
    return {"ok": bool(cp.allclose(c, 64))}


def _matmul_in_with_stream_bound(stream):
    """cupy.matmul inside `with stream` after the handle was bound to it beforehand."""
    import cupy as cp

    a = cp.ones((64, 64), cp.float32)
    with stream:
        _ = a @ a  # binds CuPy's handle to this stream outside capture
        stream.synchronize()
    c, _ = _capture_and_replay(stream, lambda: a @ a)
    return {"ok": bool(cp.allclose(c, 64))}


def _cublas_ctypes(stream):
    """cuBLAS's own cublasSgemm_v2, called through ctypes (CuPy's wrappers re-bind the
    handle's stream on every call, and refuse to during capture), with the handle bound to
    the capture stream before capture begins: what a capturable GEMM would do."""
    import ctypes

    import cupy as cp
    from cupy.cuda import cublas

    a = cp.ones((64, 64), cp.float32)
    c = cp.empty((64, 64), cp.float32)
    _ = a @ a  # cuBLAS loaded, CuPy's handle made
    path = next(line.split()[-1] for line in open("/proc/self/maps")
                if "libcublas.so" in line and "libcublasLt" not in line)
    lib = ctypes.CDLL(path)
    sgemm = lib.cublasSgemm_v2
    sgemm.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                      ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                      ctypes.c_int]
    handle = cp.cuda.device.get_cublas_handle()
    alpha, beta = ctypes.c_float(1.0), ctypes.c_float(0.0)
    cublas.setStream(handle, stream.ptr)
    try:
        with stream:
            stream.begin_capture()
            status = sgemm(handle, 0, 0, 64, 64, 64, ctypes.byref(alpha), a.data.ptr, 64,
                           a.data.ptr, 64, ctypes.byref(beta), c.data.ptr, 64)
            g = stream.end_capture()
            c.fill(0)
            g.launch(stream)
            stream.synchronize()
            first = bool(cp.allclose(c, 64))
            a *= 2  # replays read the buffers as they are now
            g.launch(stream)
            stream.synchronize()
            second = bool(cp.allclose(c, 256))
    finally:
        cublas.setStream(handle, cp.cuda.get_current_stream().ptr)
    return {"ok": first and second, "status": status, "library": path}


def _curand(stream):
    import cupy as cp

    r, _ = _capture_and_replay(stream, lambda: cp.random.standard_normal(1024, dtype=cp.float32))
    return {"ok": True, "std": float(r.std())}


def _replay_speed(stream):
    import cupy as cp

    bufs = [cp.ones(64, cp.float32) for _ in range(2)]

    def work():
        for _ in range(50):
            cp.multiply(bufs[0], 1.0001, out=bufs[1])
            cp.multiply(bufs[1], 0.9999, out=bufs[0])
    with stream:
        for _ in range(3):
            work()
        stream.synchronize()
        t = time.perf_counter()
        for _ in range(20):
            work()
        stream.synchronize()
        eager = (time.perf_counter() - t) / 20
        stream.begin_capture()
        work()
        g = stream.end_capture()
        g.launch(stream)
        stream.synchronize()
        t = time.perf_counter()
        for _ in range(20):
            g.launch(stream)
        stream.synchronize()
        replay = (time.perf_counter() - t) / 20
    return {"ok": True, "eager_ms_100_kernels": round(eager * 1e3, 3),
            "replay_ms_100_kernels": round(replay * 1e3, 3)}


def capture_probes():
    """Which CuPy operations stream capture records (the module docstring's ``capture``): one
    probe each, in this order, on one non-blocking stream and two shared 1024-float buffers;
    each probe's result, or how it failed."""
    import cupy as cp

    results = {}
    x = cp.arange(1024, dtype=cp.float32)
    y = cp.empty_like(x)
    stream = cp.cuda.Stream(non_blocking=True)
    for name, fn in [("elementwise, preallocated", lambda: _elementwise_prealloc(stream, x, y)),
                     ("elementwise + reduction, pool allocation",
                      lambda: _elementwise_alloc(stream, x)),
                     ("cupy.matmul", lambda: _matmul_plain(stream)),
                     ("cupy.matmul, handle bound before capture",
                      lambda: _matmul_in_with_stream_bound(stream)),
                     ("cublas.sgemm, handle bound, device pointers",
                      lambda: _matmul_bound_handle(stream)),
                     ("cublasSgemm_v2 through ctypes, handle bound before capture",
                      lambda: _cublas_ctypes(stream)),
                     ("cupy.random", lambda: _curand(stream)),
                     ("replay speed", lambda: _replay_speed(stream))]:
        _try(name, fn, results)
        try:  # a failed capture can leave the stream capturing
            if stream.is_capturing():
                stream.end_capture()
        except Exception:
            pass
        cp.cuda.Device().synchronize()
    return results


def kernel_counts(steps=10):
    """Kernels per DCGAN-28 step in each framework (benchmarks.gpu_kernels has every case)."""
    from benchmarks.gpu_kernels import _count
    from benchmarks.suite import step_case

    mg, th = step_case("dcgan", batch=64)("cuda")
    out = {}
    for name, fn in (("minigrad", mg), ("torch", th)):
        per_step, top = _count(fn, steps)
        out[name] = {"kernels_per_step": per_step, "top": top}
    return out


def host_profile(steps=30):
    import minigrad
    from benchmarks.suite import step_case

    mg, _ = step_case("dcgan", batch=64)("cuda")
    for _ in range(3):
        mg()
    minigrad.cuda.synchronize()
    pr = cProfile.Profile()
    t = time.perf_counter()
    pr.enable()
    for _ in range(steps):
        mg()
    minigrad.cuda.synchronize()
    pr.disable()
    wall = (time.perf_counter() - t) / steps
    s = io.StringIO()
    st = pstats.Stats(pr, stream=s)
    st.sort_stats("tottime").print_stats(35)
    s2 = io.StringIO()
    pstats.Stats(pr, stream=s2).sort_stats("cumulative").print_stats(45)
    return {"ms_per_step_profiled": round(wall * 1e3, 2), "tottime": s.getvalue()[-9000:],
            "cumulative": s2.getvalue()[-9000:]}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_probe")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--only", default="launch_us,capture,kernels,profile",
                   help="comma-separated parts to run")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {}
    for name, fn in (("launch_us", launch_costs), ("capture", capture_probes),
                     ("kernels", kernel_counts), ("profile", host_profile)):
        if name not in args.only.split(","):
            continue
        t = time.perf_counter()
        try:
            result[name] = fn()
        except Exception:
            result[name] = {"error": traceback.format_exc()[-3000:]}
        print(f"-- {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        (args.out / "probe.json").write_text(json.dumps(result, indent=1))
    printable = {k: v for k, v in result.items() if k != "profile"}
    print(json.dumps(printable, indent=1))
    prof = result.get("profile", {})
    print(prof.get("tottime", prof.get("error", "")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
