"""Time every minigrad kernel, NumPy reference vs Numba, at the GANs' shapes.

Usage::

    python benchmarks/kernels_bench.py [--quick] [--repeats N] [--out FILE]

Each implementation is called through its public function (so the Numba
wrapper's argument checks are included), warmed up first (compilation is not
timed), then timed ``--repeats`` times; numpy and numba calls are interleaved
so that background load hits both alike.  The median is reported in ms,
with ratio = numba / numpy (< 1 means Numba is faster).

The last section lists the kernels where Numba won (total time over that
kernel's rows): that set is what ``minigrad.kernels.AUTO_NUMBA`` should contain.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minigrad.kernels import reference  # noqa: E402

# An MLP GAN's parameter shapes: G 100-256-512-1024-784, D 784-1024-512-256-1
# (weights stored (in, out), plus biases): ~2.95M float32 parameters.
_G_LAYERS = [(100, 256), (256, 512), (512, 1024), (1024, 784)]
_D_LAYERS = [(784, 1024), (1024, 512), (512, 256), (256, 1)]
MLP_GAN_SHAPES = [shape for fan_in, fan_out in _G_LAYERS + _D_LAYERS
                  for shape in ((fan_in, fan_out), (fan_out,))]

CONV_ARGS = dict(kh=4, kw=4, stride=(2, 2), padding=(1, 1), dilation=(1, 1))


def _randn(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def make_cases(rng):
    """[(kernel name, shape label, call(module))]; each call runs the kernel once."""
    cases = []

    for x_shape in [(64, 1, 28, 28), (64, 64, 14, 14)]:
        x = _randn(rng, x_shape)
        cols = _randn(rng, reference.im2col_hwc(x, **CONV_ARGS).shape)
        cases.append(("im2col_hwc", f"x{x_shape} k4 s2 p1",
                      lambda m, x=x: m.im2col_hwc(x, **CONV_ARGS)))
        cases.append(("col2im_hwc", f"cols{cols.shape} -> {x_shape}",
                      lambda m, c=cols, s=x_shape: m.col2im_hwc(c, s, **CONV_ARGS)))

    target = np.zeros((10, 100), np.float32)           # cGAN label embedding
    idx = rng.integers(0, 10, 64)
    vals = _randn(rng, (64, 100))
    cases.append(("scatter_add", "(10,100)[idx(64)]",
                  lambda m, t=target, i=idx, v=vals: m.scatter_add(t, i, v)))
    target2 = np.zeros((1000, 128), np.float32)
    idx2 = rng.integers(0, 1000, 4096)
    vals2 = _randn(rng, (4096, 128))
    cases.append(("scatter_add", "(1000,128)[idx(4096)]",
                  lambda m, t=target2, i=idx2, v=vals2: m.scatter_add(t, i, v)))

    x = _randn(rng, (100, 1024))
    gx = _randn(rng, (100, 1024))
    cases.append(("leaky_relu_fwd", "(100,1024)", lambda m: m.leaky_relu_fwd(x, 0.2)))
    cases.append(("leaky_relu_bwd", "(100,1024)", lambda m: m.leaky_relu_bwd(x, gx, 0.2)))

    n_params = sum(int(np.prod(s)) for s in MLP_GAN_SHAPES)
    label = f"{len(MLP_GAN_SHAPES)} tensors, {n_params / 1e6:.2f}M"

    def adam_state():
        return [(_randn(rng, s), _randn(rng, s), np.zeros(s, np.float32),
                 np.zeros(s, np.float32)) for s in MLP_GAN_SHAPES]

    def run_adam(m, state):
        for p, g, ea, eas in state:
            m.adam_update(p, g, ea, eas, None, lr=2e-4, beta1=0.5, beta2=0.999, eps=1e-8,
                          weight_decay=0.0, step=10, amsgrad=False)

    def run_rmsprop(m, state):
        for p, g, sq, _ in state:
            m.rmsprop_update(p, g, sq, None, None, lr=5e-5, alpha=0.99, eps=1e-8,
                             weight_decay=0.0, momentum=0.0, centered=False)

    # Separate optimizer state per implementation, built once.
    adam_states = {mod: adam_state() for mod in ("reference", "numba_cpu")}
    rms_states = {mod: adam_state() for mod in ("reference", "numba_cpu")}
    cases.append(("adam_update", label,
                  lambda m: run_adam(m, adam_states[m.__name__.rsplit(".", 1)[-1]])))
    cases.append(("rmsprop_update", label,
                  lambda m: run_rmsprop(m, rms_states[m.__name__.rsplit(".", 1)[-1]])))
    return cases


def time_case(call, modules, repeats, warmup=3):
    """Median seconds per call for each module, calls interleaved."""
    for m in modules:
        for _ in range(warmup):
            call(m)
    samples = {m.__name__: [] for m in modules}
    for _ in range(repeats):
        for m in modules:
            t0 = time.perf_counter()
            call(m)
            samples[m.__name__].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per kernel")
    parser.add_argument("--out", default=None, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 40)

    try:
        import numba
        from minigrad.kernels import numba_cpu
    except ImportError as exc:
        print(f"numba not available ({exc}); nothing to compare", file=sys.stderr)
        return 1

    rng = np.random.default_rng(0)
    modules = [reference, numba_cpu]
    rows, totals = [], {}
    for name, label, call in make_cases(rng):
        t = time_case(call, modules, repeats)
        t_np, t_nb = t[reference.__name__], t[numba_cpu.__name__]
        total = totals.setdefault(name, [0.0, 0.0])
        total[0] += t_np
        total[1] += t_nb
        rows.append(f"| {name} | {label} | {t_np * 1e3:.3f} | {t_nb * 1e3:.3f} "
                    f"| {t_nb / t_np:.2f} |")
        print(rows[-1], flush=True)

    # A kernel with several rows (one per GAN layer shape) is judged on its total time.
    keep = sorted(k for k, (t_np, t_nb) in totals.items() if t_nb < t_np)
    drop = sorted(k for k, (t_np, t_nb) in totals.items() if t_nb >= t_np)
    lines = [
        f"# minigrad kernels: NumPy reference vs Numba ({'quick, ' if args.quick else ''}"
        f"median of {repeats}, after warm-up)",
        "",
        f"Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}, "
        f"{os.cpu_count()} CPU cores, float32, serial numba kernels.",
        "",
        "| kernel | shape | numpy ms | numba ms | numba/numpy |",
        "|---|---|---:|---:|---:|",
        *rows,
        "",
        f"Numba wins (keep in AUTO_NUMBA): {', '.join(keep) or 'none'}",
        "",
        f"NumPy wins or ties (auto uses the reference): {', '.join(drop) or 'none'}",
    ]
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
