"""CUDA C sources of minigrad's GPU kernels, in one place and free of CuPy.

:mod:`minigrad.kernels.cupy_gpu` turns these strings into ``cupy.RawKernel`` and
``cupy.ElementwiseKernel`` objects on first use. Keeping them here, as plain data, lets a test
compile every one of them with ``nvcc`` (and run them on the host with a C++ compiler) on a
machine with no GPU and no CuPy: a typo is caught at test time, not on a user's first GPU step.

Two kinds of kernel:

* :data:`RAW_KERNELS` -- whole translation units, each defining one ``extern "C" __global__``
  function. The element type is a ``typedef`` named ``T`` that :func:`raw_source` prepends
  (``float`` or ``double``), so one source serves both dtypes (CuPy compiles and caches each
  variant separately). Plain C++ only: no headers, no ``min``/``max``, so NVRTC, nvcc and a
  host C++ compiler all accept it.
* :data:`ELEMENTWISE` -- ``(in_params, out_params, operation)`` triples in CuPy's
  ``ElementwiseKernel`` syntax. CuPy wraps ``operation`` in a loop over elements in which each
  array parameter is a reference to the current element (``const T &x`` for inputs, ``T &y``
  for outputs) and each scalar parameter a value. Updates that work "in place" (the optimizers)
  list the arrays they modify as outputs.

Index arithmetic is 32-bit: :mod:`cupy_gpu` sends arrays of 2**31 elements or more to the
generic CuPy path (the reference implementation) instead.

Notation (as in ``reference.py``): N batch, C channels, H x W image, KH x KW kernel,
SH/SW stride, PH/PW padding, DH/DW dilation, OH x OW output.
"""

__all__ = ["RAW_KERNELS", "ELEMENTWISE", "CTYPES", "raw_source", "RawKernelSource",
           "ElementwiseSource", "BN_THREADS", "MULTI_TENSOR", "multi_tensor_source", "C_TYPES",
           "PHILOX_M", "PHILOX_W"]

from collections import namedtuple

#: dtype name -> C type of ``T``
CTYPES = {"float32": "float", "float64": "double"}

RawKernelSource = namedtuple("RawKernelSource", ["function", "code"])

#: ``in_params``, ``out_params``, ``operation``: the arguments of ``cupy.ElementwiseKernel``.
#: ``array_inputs``: the input parameters that minigrad passes as arrays (the others get
#: scalars). CuPy decides that per call from the arguments; it is written down here so that a
#: test can generate the same kernel CuPy would.
ElementwiseSource = namedtuple("ElementwiseSource",
                               ["in_params", "out_params", "operation", "array_inputs"])

# ------------------------------------------------------------------------ im2col / col2im
# Each in two column orders: (i, j, c) as in reference.im2col_hwc / col2im_hwc and the Numba
# kernels (the CPU's), and (c, i, j) as in reference.im2col_chw / col2im_chw (a GPU's; see
# minigrad.kernels.conv_columns).

def _conv_kernel(function: str, arrays: str, body: str) -> str:
    """The source of ``extern "C" __global__ void <function>(<arrays>, <geometry>)``: ``body``
    runs once per element index ``idx`` in [0, total), and sees the geometry (C, H, W, KH, KW,
    SH, SW, PH, PW, DH, DW, OH, OW, the order in which cupy_gpu passes it) and
    ``kkc = KH*KW*C``, the length of a row of cols. The loop is grid-stride: it runs once per
    thread when the launch covers every element (it always does in cupy_gpu); it only makes the
    kernel correct for any launch shape."""
    return f"""
extern "C" __global__ void {function}(
        {arrays}, const int total,
        const int C, const int H, const int W, const int KH, const int KW,
        const int SH, const int SW, const int PH, const int PW, const int DH, const int DW,
        const int OH, const int OW)
{{
    const int kkc = KH * KW * C;
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += step) {{
        const int idx = (int)t;{body}    }}
}}
"""


# The column index of window offset (i, j) and channel c, and its inverse, in each column
# order: (i, j, c) for the *_hwc kernels, (c, i, j) (torch's unfold order) for the *_chw ones.
_COLUMN = {"hwc": "(i * KW + j) * C + c", "chw": "(c * KH + i) * KW + j"}
_DECODE = {
    "hwc": """
        const int c = {k} % C;
        const int j = ({k} / C) % KW;
        const int i = {k} / (C * KW);""",
    "chw": """
        const int j = {k} % KW;
        const int i = ({k} / KW) % KH;
        const int c = {k} / (KH * KW);""",
}


# im2col: one thread per element of cols (N*OH*OW, KH*KW*C), in memory order, so the writes
# coalesce:
#   cols[(n*OH + oh)*OW + ow, column(i, j, c)] = x_padded[n, c, oh*SH + i*DH, ow*SW + j*DW]
def _im2col(order: str) -> str:
    return _conv_kernel(f"minigrad_im2col_{order}",
                        "const T* __restrict__ x, T* __restrict__ cols", r"""
        const int col = idx % kkc;          /* (i, j, c) or (c, i, j) */
        const int row = idx / kkc;          /* (n, oh, ow) */""" + _DECODE[order].format(k="col")
                        + r"""
        const int ow = row % OW;
        const int oh = (row / OW) % OH;
        const int n = row / (OW * OH);
        const int h = oh * SH - PH + i * DH;  /* position in the unpadded image */
        const int w = ow * SW - PW + j * DW;
        cols[idx] = (h >= 0 && h < H && w >= 0 && w < W)
            ? x[((n * C + c) * H + h) * W + w] : (T)0;
""")


# col2im, the adjoint of im2col, as a *gather*: one thread per pixel x[n, c, h, w] sums the
# window entries that copied it, so no two threads write the same address and no atomics are
# needed. (i, j) contributes iff h + PH - i*DH = oh*SH and w + PW - j*DW = ow*SW for some
# 0 <= oh < OH, 0 <= ow < OW. Contributions are added in increasing (i, j) order starting from
# 0, the order of the reference's loop, so the float sums are bitwise the reference's (in
# either column order: the order of the sum is the pixel's windows', not the columns').
def _gather(source: str, entry: str) -> str:
    """The body of an adjoint as a gather: pixel idx = x[n, c, h, w] sums ``source[entry]``
    over the windows (i, j) -> output position (oh, ow) that copied it."""
    return r"""
        const int w = idx % W;
        const int h = (idx / W) % H;
        const int c = (idx / (W * H)) % C;
        const int n = idx / (W * H * C);
        T acc = (T)0;
        for (int i = 0; i < KH; ++i) {
            const int hs = h + PH - i * DH;   /* = oh * SH if window row oh covers h */
            if (hs < 0) break;                /* hs only decreases with i */
            if (hs % SH != 0) continue;
            const int oh = hs / SH;
            if (oh >= OH) continue;
            for (int j = 0; j < KW; ++j) {
                const int ws = w + PW - j * DW;
                if (ws < 0) break;
                if (ws % SW != 0) continue;
                const int ow = ws / SW;
                if (ow >= OW) continue;
                acc += """ + f"{source}[{entry}];" + r"""
            }
        }
        x[idx] = acc;
"""


def _col2im(order: str) -> str:
    return _conv_kernel(f"minigrad_col2im_{order}",
                        "const T* __restrict__ cols, T* __restrict__ x",
                        _gather("cols", f"((n * OH + oh) * OW + ow) * kkc + {_COLUMN[order]}"))


# unfold: im2col per image, transposed (the thin layers' layout): one thread per element of
# u (N, KH*KW*C, OH*OW), in memory order:
#   u[n, column(i, j, c), oh*OW + ow] = x_padded[n, c, oh*SH + i*DH, ow*SW + j*DW]
def _unfold(order: str) -> str:
    return _conv_kernel(f"minigrad_unfold_{order}",
                        "const T* __restrict__ x, T* __restrict__ u", r"""
        const int ohw = OH * OW;
        const int p = idx % ohw;            /* (oh, ow) */
        const int k = (idx / ohw) % kkc;    /* (i, j, c) or (c, i, j) */
        const int n = idx / (ohw * kkc);""" + _DECODE[order].format(k="k") + r"""
        const int h = (p / OW) * SH - PH + i * DH;
        const int w = (p % OW) * SW - PW + j * DW;
        u[idx] = (h >= 0 && h < H && w >= 0 && w < W)
            ? x[((n * C + c) * H + h) * W + w] : (T)0;
""")


# fold, the adjoint of unfold, as a gather like col2im: one thread per pixel sums the entries
# of u that copied it, in increasing (i, j) order from 0 (the reference's order, so bitwise
# equal to it).
def _fold(order: str) -> str:
    return _conv_kernel(f"minigrad_fold_{order}", "const T* __restrict__ u, T* __restrict__ x",
                        _gather("u", f"(((long long)n * kkc + {_COLUMN[order]}) * OH + oh) "
                                     "* OW + ow"))


# ---------------------------------------------------------------------------- batch norm
# One block per channel (grid-stride over channels, so any launch shape is correct): the
# block's threads stride over the channel's N*L values of an (N, C, L) array, and their partial
# sums meet in shared memory (a tree, blockDim.x a power of two <= BN_THREADS). The forward
# reads x three times (mean, then the centred variance as the reference computes it, then the
# output) and writes y and xhat; the input gradient reads gy and xhat twice. One launch each,
# where the array expressions took 10-20 (sums, broadcasts, einsum).
BN_THREADS = 256

_BLOCK_SUM = f"""
#define MG_BN_THREADS {BN_THREADS}
/* The sum of every thread's v over the block (all threads get it); s: shared scratch. */
__device__ __forceinline__ T mg_block_sum(T v, T* s)
{{
    s[threadIdx.x] = v;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {{
        if ((int)threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }}
    const T total = s[0];
    __syncthreads();
    return total;
}}
/* element t of channel c's N*L values in a C-contiguous (N, C, L) array */
#define MG_AT(t) (((long long)((t) / L) * C + c) * L + (t) % L)
"""

# mean = sum(x) / n, var = sum((x - mean)^2) / n, r = 1 / sqrt(var + eps), xhat = (x - mean) r,
# y = xhat w + b (reference.batch_norm_fwd)
_BATCH_NORM_FWD = _BLOCK_SUM + r"""
extern "C" __global__ void minigrad_batch_norm_fwd(
        const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
        T* __restrict__ y, T* __restrict__ xhat, T* __restrict__ mean, T* __restrict__ var,
        T* __restrict__ r, const int N, const int C, const int L, const T eps)
{
    __shared__ T s[MG_BN_THREADS];
    const int m = N * L;
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        T acc = (T)0;
        for (int t = threadIdx.x; t < m; t += blockDim.x) acc += x[MG_AT(t)];
        const T mu = mg_block_sum(acc, s) / (T)m;
        acc = (T)0;
        for (int t = threadIdx.x; t < m; t += blockDim.x) {
            const T d = x[MG_AT(t)] - mu;
            acc += d * d;
        }
        const T v = mg_block_sum(acc, s) / (T)m;
        const T rc = (T)1 / sqrt(v + eps);
        const T wc = weight[c], bc = bias[c];
        for (int t = threadIdx.x; t < m; t += blockDim.x) {
            const long long at = MG_AT(t);
            const T xh = (x[at] - mu) * rc;
            xhat[at] = xh;
            y[at] = xh * wc + bc;
        }
        if (threadIdx.x == 0) {
            mean[c] = mu;
            var[c] = v;
            r[c] = rc;
        }
    }
}
"""

# k = w r, a = sum(gy) / n, c = sum(gy xhat) / n: gx = gy k - (xhat (k c) + k a); the two sums
# are written out too (reference.batch_norm_grad_input)
_BATCH_NORM_GRAD_INPUT = _BLOCK_SUM + r"""
extern "C" __global__ void minigrad_batch_norm_grad_input(
        const T* __restrict__ gy, const T* __restrict__ xhat, const T* __restrict__ weight,
        const T* __restrict__ r, T* __restrict__ gx, T* __restrict__ sum_gy,
        T* __restrict__ sum_gy_xhat, const int N, const int C, const int L)
{
    __shared__ T s[MG_BN_THREADS];
    const int m = N * L;
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        T acc = (T)0, acc2 = (T)0;
        for (int t = threadIdx.x; t < m; t += blockDim.x) {
            const long long at = MG_AT(t);
            acc += gy[at];
            acc2 += gy[at] * xhat[at];
        }
        const T sg = mg_block_sum(acc, s);
        const T sgx = mg_block_sum(acc2, s);
        const T k = weight[c] * r[c];
        const T kc = k * (sgx / (T)m), ka = k * (sg / (T)m);
        for (int t = threadIdx.x; t < m; t += blockDim.x) {
            const long long at = MG_AT(t);
            gx[at] = gy[at] * k - (xhat[at] * kc + ka);
        }
        if (threadIdx.x == 0) {
            sum_gy[c] = sg;
            sum_gy_xhat[c] = sgx;
        }
    }
}
"""

# ---------------------------------------------------------------------------- cross-entropy
# One thread per row of z (N, C) (grid-stride over rows): the row's max (0 if not finite), its
# log-sum-exp, then the loss or the C gradient entries; a row whose target is ignore_index gives
# 0. Classes are few in the GANs here (10); a wide C would want a block per row.
_CE_ROW = r"""
    const long long step = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        const T* zi = z + i * C;  /* (a target past int32 is never ignore_index) */
        const long long t = target[i];
        T m = zi[0];
        for (int j = 1; j < C; ++j) m = zi[j] > m ? zi[j] : m;
        if (!isfinite(m)) m = (T)0;
        T s = (T)0;
        for (int j = 0; j < C; ++j) s += exp(zi[j] - m);
        const T lse = log(s) + m;
"""

_CROSS_ENTROPY_FWD = r"""
extern "C" __global__ void minigrad_cross_entropy_fwd(
        const T* __restrict__ z, const long long* __restrict__ target, T* __restrict__ loss,
        const int n, const int C, const int ignore_index)
{""" + _CE_ROW + r"""
        loss[i] = t == ignore_index ? (T)0 : lse - zi[t];
    }
}
"""

_CROSS_ENTROPY_GRAD = r"""
extern "C" __global__ void minigrad_cross_entropy_grad(
        const T* __restrict__ gy, const T* __restrict__ z, const long long* __restrict__ target,
        T* __restrict__ gz, const int n, const int C, const int ignore_index)
{""" + _CE_ROW + r"""
        const T g = t == ignore_index ? (T)0 : gy[i];
        for (int j = 0; j < C; ++j)
            gz[i * C + j] = (exp(zi[j] - lse) - (j == t ? (T)1 : (T)0)) * g;
    }
}
"""

# y = a / max(sqrt(sum(a^2)), eps) for a 1-D a, in one block (reference.l2_normalize)
_L2_NORMALIZE = _BLOCK_SUM + r"""
extern "C" __global__ void minigrad_l2_normalize(
        const T* __restrict__ a, T* __restrict__ y, const int n, const T eps)
{
    __shared__ T s[MG_BN_THREADS];
    T acc = (T)0;
    for (int t = threadIdx.x; t < n; t += blockDim.x) acc += a[t] * a[t];
    const T norm = sqrt(mg_block_sum(acc, s));
    const T d = norm > eps ? norm : eps;
    for (int t = threadIdx.x; t < n; t += blockDim.x) y[t] = a[t] / d;
}
"""

#: kernel name -> (name of its ``extern "C"`` function, CUDA C source without the typedef)
RAW_KERNELS = {
    **{f"{kind}_{order}": RawKernelSource(f"minigrad_{kind}_{order}", make(order))
       for order in ("hwc", "chw")
       for kind, make in (("im2col", _im2col), ("col2im", _col2im), ("unfold", _unfold),
                          ("fold", _fold))},
    "batch_norm_fwd": RawKernelSource("minigrad_batch_norm_fwd", _BATCH_NORM_FWD),
    "batch_norm_grad_input": RawKernelSource("minigrad_batch_norm_grad_input",
                                             _BATCH_NORM_GRAD_INPUT),
    "cross_entropy_fwd": RawKernelSource("minigrad_cross_entropy_fwd", _CROSS_ENTROPY_FWD),
    "cross_entropy_grad": RawKernelSource("minigrad_cross_entropy_grad", _CROSS_ENTROPY_GRAD),
    "l2_normalize": RawKernelSource("minigrad_l2_normalize", _L2_NORMALIZE),
}


def raw_source(name: str, ctype: str) -> str:
    """The complete translation unit of raw kernel ``name`` for element type ``ctype``."""
    if ctype not in CTYPES.values():
        raise ValueError(f"ctype must be one of {sorted(CTYPES.values())}, got {ctype!r}")
    return f"typedef {ctype} T;\n" + RAW_KERNELS[name].code


# ------------------------------------------------------------------------ fused elementwise
# Same formulas, in the same operation order, as reference.py. Literals are cast to T so that
# float32 stays float32 (a bare 1.0 would be a double).
def _sigmoid(x: str) -> str:
    """CUDA lines setting ``s`` to sigmoid(x) as reference.sigmoid_fwd computes it: exp only
    ever sees -|x|."""
    return (f"const T e = exp(-fabs({x}));\n"
            f"const T s = {x} >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);\n")


_ELEMENTWISE_ACTIVATIONS = {  # name: (inputs, outputs, body, the arrays that give the shape)
    "leaky_relu_fwd": ElementwiseSource("T x, T slope", "T y",
                                        "y = x > (T)0 ? x : x * slope", ("x",)),
    "leaky_relu_bwd": ElementwiseSource("T x, T gy, T slope", "T gx",
                                        "gx = x > (T)0 ? gy : gy * slope", ("x", "gy")),
    "sigmoid_fwd": ElementwiseSource("T x", "T y", _sigmoid("x") + "y = s", ("x",)),
    # reference.bce_with_logits_fwd: logaddexp(0, z) - z t, logaddexp as NumPy computes it
    # (the larger argument plus log1p(exp(-|difference|)))
    "bce_with_logits_fwd": ElementwiseSource(
        "T z, T t", "T loss",
        "loss = (z > (T)0 ? z : (T)0) + log1p(exp(-fabs(z))) - z * t", ("z", "t")),
    # reference.dropout_mask: scale where u >= p, else 0
    "dropout_mask": ElementwiseSource("T u, T p, T scale", "T mask",
                                      "mask = u >= p ? scale : (T)0", ("u",)),
    # reference.dropout_apply: x times that mask (the same product, so the same floats)
    "dropout_apply": ElementwiseSource("T x, T u, T p, T scale", "T y",
                                       "y = x * (u >= p ? scale : (T)0)", ("x", "u")),
    # reference.bce_with_logits_grad: gy (sigmoid(z) - t), the sigmoid as sigmoid_fwd's
    "bce_with_logits_grad": ElementwiseSource("T gy, T z, T t", "T gz",
                                              _sigmoid("z") + "gz = gy * (s - t)",
                                              ("gy", "z", "t")),
}

# Optimizers: one pass, in place. Scalars arrive already cast to the parameter's dtype and
# derived in float64 on the host (step_size = lr / (1 - beta1**step) etc.), as in reference.py.
# weight_decay == 0 skips the decay term (not "+ 0 * param": 0 * inf would be NaN).
_DECAY = "const T g = wd != (T)0 ? grad + wd * param : grad;\n"

_ADAM_IN = ("T grad, T wd, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, "
            "T step_size, T bc2_sqrt, T eps")


def _adam(amsgrad: bool):
    out = "T param, T exp_avg, T exp_avg_sq" + (", T max_exp_avg_sq" if amsgrad else "")
    body = (_DECAY
            + "const T m = exp_avg * beta1 + one_minus_beta1 * g;\n"
            + "T v = exp_avg_sq * beta2 + one_minus_beta2 * g * g;\n"
            + "exp_avg = m;\n"
            + "exp_avg_sq = v;\n")
    if amsgrad:  # v_max = maximum(v_max, v), NaN-propagating like np.maximum
        body += ("if (v > max_exp_avg_sq || v != v) max_exp_avg_sq = v;\n"
                 "v = max_exp_avg_sq;\n")
    body += "param = param - step_size * m / (sqrt(v) / bc2_sqrt + eps)"
    return ElementwiseSource(_ADAM_IN, out, body, ("grad",))


def _rmsprop(centered: bool, momentum: bool):
    out = ("T param, T square_avg" + (", T grad_avg" if centered else "")
           + (", T momentum_buffer" if momentum else ""))
    body = (_DECAY
            + "const T sq = square_avg * alpha + one_minus_alpha * g * g;\n"
            + "square_avg = sq;\n")
    if centered:
        body += ("const T ga = grad_avg * alpha + one_minus_alpha * g;\n"
                 "grad_avg = ga;\n"
                 "const T avg = sqrt(sq - ga * ga) + eps;\n")
    else:
        body += "const T avg = sqrt(sq) + eps;\n"
    if momentum:
        body += ("const T b = momentum_buffer * momentum + g / avg;\n"
                 "momentum_buffer = b;\n"
                 "param = param - lr * b")
    else:
        body += "param = param - lr * g / avg"
    return ElementwiseSource("T grad, T wd, T alpha, T one_minus_alpha, T eps, T lr, T momentum",
                             out, body, ("grad",))


def _sgd(momentum: bool):
    if not momentum:
        return ElementwiseSource("T grad, T wd, T lr", "T param", _DECAY + "param = param - lr * g",
                                 ("grad",))
    # first_step: torch initialises the buffer to g itself (no dampening)
    body = (_DECAY
            + "const T b = first_step ? g : momentum_buffer * momentum + one_minus_dampening * g;\n"
            + "momentum_buffer = b;\n"
            + "param = param - lr * (nesterov ? g + momentum * b : b)")
    return ElementwiseSource("T grad, T wd, T lr, T momentum, T one_minus_dampening, "
                             "int32 nesterov, int32 first_step", "T param, T momentum_buffer",
                             body, ("grad",))


#: kernel (variant) name -> :class:`ElementwiseSource`
ELEMENTWISE = dict(_ELEMENTWISE_ACTIVATIONS)
# BatchNorm's running statistics, one pass (reference.running_average)
ELEMENTWISE["running_average"] = ElementwiseSource(
    "T value, T scale, T one_minus_momentum, T momentum", "T running",
    "running = running * one_minus_momentum + momentum * (value * scale)", ("value",))
# both running statistics of a BatchNorm in one pass (reference.batch_norm_running)
ELEMENTWISE["batch_norm_running"] = ElementwiseSource(
    "T mean, T var, T var_scale, T one_minus_momentum, T momentum",
    "T running_mean, T running_var",
    "running_mean = running_mean * one_minus_momentum + momentum * mean;\n"
    "running_var = running_var * one_minus_momentum + momentum * (var * var_scale)",
    ("mean", "var"))
ELEMENTWISE.update({
    "adam_update": _adam(amsgrad=False),
    "adam_update_amsgrad": _adam(amsgrad=True),
    "rmsprop_update": _rmsprop(centered=False, momentum=False),
    "rmsprop_update_centered": _rmsprop(centered=True, momentum=False),
    "rmsprop_update_momentum": _rmsprop(centered=False, momentum=True),
    "rmsprop_update_centered_momentum": _rmsprop(centered=True, momentum=True),
    "sgd_update": _sgd(momentum=False),
    "sgd_update_momentum": _sgd(momentum=True),
})


# The multi-tensor optimizers (generated from the sources above) and the counter-based random
# kernels, in modules of their own; they add their kernels to RAW_KERNELS here.
from .cuda_src_multi import C_TYPES, MULTI_TENSOR, multi_tensor_source  # noqa: E402,F401
from .cuda_src_random import PHILOX_M, PHILOX_W  # noqa: E402,F401
