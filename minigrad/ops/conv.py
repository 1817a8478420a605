"""2-D convolution, written once: three Functions closed under differentiation.

Notation (DeZero's im2col style)::

    x   (N, C, H, W)        input images           N batch, C channels, H x W pixels
    W   (OC, C, KH, KW)     conv weight            OC output channels, KH x KW kernel
    y   (N, OC, OH, OW)     conv output            OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1
    cols (N*OH*OW, C*KH*KW) im2col(x): one row per output pixel, one column per weight tap

A convolution is one matrix product on the unfolded input, ``y = im2col(x) @ W2^T`` with
``W2 = W.reshape(OC, C*KH*KW)``; its transpose ("deconvolution") is ``col2im(x @ W2)``. The three
ops below are the three bilinear maps of that product:

    Conv2d(x, W)            y  = conv(x, W)
    ConvTranspose2d(g, W)   gx = conv^T(g, W)        (the adjoint in x)
    Conv2dGradWeight(x, g)  gW = conv^*(x, g)        (the adjoint in W)

and every backward is one of the three again, so gradients of any order need no extra code
(Chainer's Convolution2D / Deconvolution2D / Convolution2DGradW trio; DeZero's functions_conv.py,
with its Conv2DGradW.backward bug fixed: the second-order terms use the *incoming* gradient ggW,
not the node's own output).

Layout choices (for speed on CPU): im2col rows are ordered (n, oh, ow), so the product gives
channels-last ``(N*OH*OW, OC)``; one transposing copy turns it into C-contiguous NCHW, which the
next elementwise kernel (leaky ReLU, batch norm) wants. On the CPU the columns are ordered
(i, j, c) (``kernels.im2col_hwc``), not (c, i, j) as written above: the same product with the
columns permuted, and the weight permuted to match (``_w_rows``, a copy of the small weight).
In that order im2col copies, and col2im adds, whole runs of C contiguous values, 3-6x faster
than the (c, i, j) order's stride-KH*KW scatter (benchmarks/NOTES.md). A GPU takes the (c, i, j)
order (``kernels.im2col_chw``), where a thread per element reads neighbouring pixels either way
and the weight's rows are then W2 itself, a view: a copy kernel fewer per call. The registry
says which (``kernels.conv_columns``), and ``_w_rows``/``_w_from_rows`` follow it. Stride,
padding and dilation are (h, w) tuples of ints; ``groups`` is not supported.

Some products take a faster route to the same array, chosen from the shapes alone: per image
on NCHW arrays when one side is thin (THIN_K), on the flipped form of a stride-1 product when
its thin side is the other one (_flip_padding), and by Winograd's minimal filtering for wide
3x3 stride-1 layers (WINOGRAD_MIN_WIDTH, WINOGRAD_TILE), for 4x4 stride-2 ones on their polyphase
components (WINOGRAD_K4S2_*), and for the transposed 4x4 stride-2 product (ConvTranspose2d's
forward, so also every 4x4/2 conv's input gradient) on its four output phases, each a 2x2
correlation of x (WINOGRAD_K4S2T_*). Each is a forward of one of the three ops on arrays; the
backwards are the trio's, so gradients of every order are unchanged.
"""
from __future__ import annotations

import os

from minigrad import kernels
from minigrad.autograd.function import Function
from minigrad.kernels.reference import conv_output_size
from minigrad.kernels.reference_winograd import k4s2t_layout


def _to_rows(a):
    """(N, C, H, W) -> (N*H*W, C): channels-last rows, the layout of im2col's rows (a copy)."""
    n, c, h, w = a.shape
    return a.transpose(0, 2, 3, 1).reshape(n * h * w, c)


def conv_out_hw(hw, k, stride, padding, dilation):
    """Output (OH, OW) of a convolution of an (H, W) image with a (KH, KW) kernel."""
    return tuple(conv_output_size(hw[i], k[i], stride[i], padding[i], dilation[i])
                 for i in range(2))


def _mm(xp, a, b):
    """The matrix product ``a @ b`` of arrays, through the kernel registry (on a GPU inside a
    CUDA graph capture it is cuBLAS called directly: CuPy's matmul cannot be captured)."""
    return kernels.get("matmul", xp)(a, b)


def _im2col(xp, x, kh, kw, stride, padding, dilation):
    """(N, C, H, W) -> (N*OH*OW, KH*KW*C), columns in the back end's order (conv_columns)."""
    name = "im2col_" + kernels.conv_columns(xp)
    return kernels.get(name, xp)(x, kh, kw, stride, padding, dilation)


def _col2im(xp, cols, x_shape, kh, kw, stride, padding, dilation):
    """Adjoint of _im2col: (N*OH*OW, KH*KW*C) -> (N, C, H, W)."""
    name = "col2im_" + kernels.conv_columns(xp)
    return kernels.get(name, xp)(cols, x_shape, kh, kw, stride, padding, dilation)


def _unfold(xp, x, kh, kw, stride, padding, dilation):
    """(N, C, H, W) -> (N, KH*KW*C, OH*OW): _im2col per image, transposed."""
    name = "unfold_" + kernels.conv_columns(xp)
    return kernels.get(name, xp)(x, kh, kw, stride, padding, dilation)


def _fold(xp, u, x_shape, kh, kw, stride, padding, dilation):
    """Adjoint of _unfold: (N, KH*KW*C, OH*OW) -> (N, C, H, W)."""
    name = "fold_" + kernels.conv_columns(xp)
    return kernels.get(name, xp)(u, x_shape, kh, kw, stride, padding, dilation)


#: A product whose weight rows have at most this many columns (KH*KW*C of Conv2d's input,
#: KH*KW*OC of ConvTranspose2d's output: the one- or three-channel side of DCGAN's first and
#: last layers, 16 and 48, and of CycleGAN's 7x7 ones, 49) runs per image on the NCHW arrays
#: (_unfold/_fold) instead of on channels-last rows: then neither the wide input nor the wide
#: output is transposed, and those copies, not the small GEMMs, were most of such a layer's
#: time (benchmarks/NOTES.md). Conv2dGradWeight does the same when its x is the thin side (one
#: product per image, summed over the batch). (At 48, CycleGAN's 7x7 layers took the rows:
#: its 1-thread step took 490 ms, against 258 ms at 64.)
THIN_K = 64


def _flipped(W):
    """(A, B, KH, KW) -> (B, A, KH, KW) with both kernel axes reversed (a view)."""
    return W.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]


def _flip_padding(k, stride, padding, dilation):
    """The padding of the flipped form of a stride-1 convolution, or None where there is none.

    With stride 1, conv(x, W, padding p) == conv_transpose(x, _flipped(W), padding p') and
    conv_transpose(x, W, p) == conv(x, _flipped(W), p'), where p' = dilation * (K - 1) - p
    (each output pixel sees the same taps, met from the other side), and the weight gradient
    is conv^*(x, gy, p) == _flipped(conv^*(gy, x, p')). So a product whose thin side (few
    channels times taps) is the wrong one for the thin paths below can run on the other form:
    SNGAN's last layer, a 3x3 convolution from 64 channels to 3, runs as a transposed
    convolution whose output is the thin side, per image on NCHW arrays, instead of unfolding
    its 64-channel 32x32 input into 65536 x 576 columns for a product with 3 columns."""
    if tuple(stride) != (1, 1):
        return None
    p = tuple(dilation[i] * (k[i] - 1) - padding[i] for i in range(2))
    return p if min(p) >= 0 else None


def _conv_thin_in(xp, x, W, stride, padding, dilation, u=None):
    """Conv2d's product for a thin input (KH*KW*C <= THIN_K): per image, W_rows @ unfold(x[n]),
    NCHW out with no transposing copy. Returns (y, the unfolded x); ``u``: unfold(x) where the
    caller has it."""
    n = x.shape[0]
    oc, _, kh, kw = W.shape
    oh, ow = conv_out_hw(x.shape[2:], (kh, kw), stride, padding, dilation)
    if u is None:
        u = _unfold(xp, x, kh, kw, stride, padding, dilation)  # (N, K, OH*OW)
    return _mm(xp, _w_rows(xp, W), u).reshape(n, oc, oh, ow), u


def _conv_transpose_thin_out(xp, x, W, output_size, stride, padding, dilation):
    """ConvTranspose2d's product for a thin output (KH*KW*OC <= THIN_K): per image from NCHW
    x, W_rows^T @ x[n], folded."""
    n, c, h, w = x.shape
    _, oc, kh, kw = W.shape
    # _w_rows(W).T: in the (c, i, j) order a transposed view of W, which the product takes as
    # it is; in the CPU's (i, j, c) order C-contiguous, in one copy (the transpose of the
    # rows' copy was a second)
    w_cols = _w_rows(xp, W).T if kernels.conv_columns(xp) == "chw" else \
        xp.ascontiguousarray(W.transpose(2, 3, 1, 0)).reshape(kh * kw * oc, c)
    u = _mm(xp, w_cols, x.reshape(n, c, h * w))
    return _fold(xp, u, (n, oc) + tuple(output_size), kh, kw, stride, padding, dilation)


def _grad_weight_thin_x(xp, x, gy, kernel_size, stride, padding, dilation, u=None):
    """Conv2dGradWeight's product for a thin x (KH*KW*C <= THIN_K): per image gy[n] @
    unfold(x[n])^T, summed over the batch; C-contiguous (OC, C, KH, KW). ``u``: unfold(x) where
    the forward kept it."""
    kh, kw = kernel_size
    n, c = x.shape[:2]
    oc = gy.shape[1]
    if u is None:
        u = _unfold(xp, x, kh, kw, stride, padding, dilation)  # (N, K, OH*OW)
    gy = gy.reshape(n, oc, gy.shape[2] * gy.shape[3])  # not -1: N = 0 is an empty batch
    gW = _mm(xp, gy, u.transpose(0, 2, 1)).sum(0)  # (OC, KH*KW*C)
    return _w_from_rows(xp, gW, oc, c, kh, kw)


#: Winograd (F(4x4, 3x3) or F(2x2, 3x3), WINOGRAD_TILE below: 4x or 2.25x fewer GEMM flops than
#: im2col, for transforms that are sums) runs the 3x3 stride-1 undilated products of Conv2d's
#: forward and, through the flipped form, of ConvTranspose2d's (a conv's input gradient) when
#: C*OC/(C+OC) is at least this: the transforms cost ~(C + OC) per tile and the saving ~C*OC,
#: and with fewer channels the GEMMs' inner dimension (C instead of 9C) is too short for
#: OpenBLAS to run at full rate. With F(4x4, 3x3), 2 threads, batch 64: 32->32 channels at
#: 32x32 (width 16) took 9.4 ms against im2col's 14.7, 8->64 (width 7) 9.5 against 7.4, and at
#: 14x14 and 7x7 the two were close (benchmarks/NOTES.md; F(2x2, 3x3) alone had paid from 64).
WINOGRAD_MIN_WIDTH = 16


def _winograd_ok(xp, w_shape, stride, dilation):
    """Whether a product with a weight of shape ``w_shape`` (A, B, KH, KW) runs by Winograd
    (:func:`_conv_winograd`, on arrays of module ``xp``: where the kernel registry says that
    route pays, see kernels.winograd)."""
    a, b, kh, kw = w_shape
    return (kernels.winograd(xp) and (kh, kw) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and a * b >= WINOGRAD_MIN_WIDTH * (a + b))


#: The output tile of those Winograd products. With 4, F(4x4, 3x3) runs them wherever the output
#: is at least 4x4, and F(2x2, 3x3) below that; with 2, F(2x2, 3x3) runs them all.
#: F(4x4, 3x3) (kernels.winograd_f4x3_*) makes 36 products per 16 outputs: 1.78x fewer GEMM
#: flops than F(2x2, 3x3), for transforms with more terms and more float32 rounding (up to 9e-6
#: of the output's largest value, where F(2x2, 3x3) stayed under 7e-7; reference_winograd.py).
#: The weight gradient of such a product (Conv2dGradWeight) runs on the same tiles: 36 products
#: (OC, tiles) @ (tiles, C), 4x fewer flops than im2col's, from the forward's transformed input.
#: On SNGAN-32's layers, 2 threads, batch 64, F(4x4, 3x3) took 0.67-1.0x of F(2x2, 3x3)'s time
#: (1.0x on the 4x4 images) and 0.53-0.85x of im2col's (benchmarks/NOTES.md).
WINOGRAD_TILE = 4


def _f4x3_ok(out_hw):
    """Whether a Winograd product with an output of (OH, OW) pixels runs as F(4x4, 3x3)."""
    return WINOGRAD_TILE == 4 and min(out_hw) >= 4


def _conv_winograd(xp, x, W, padding):
    """conv(x, W) for a (OC, C, 3, 3) W, stride 1, no dilation, by Winograd F(4x4, 3x3) (36
    products (OC, C) @ (C, tiles) between the transforms) or F(2x2, 3x3) (16 products; see
    WINOGRAD_TILE and kernels/reference_winograd.py). Returns (y, the transformed x)."""
    n, _, h, w = x.shape
    oc = W.shape[0]
    y_shape = (n, oc, h + 2 * padding[0] - 2, w + 2 * padding[1] - 2)
    name = "f4x3" if _f4x3_ok(y_shape[2:]) else "f2x3"
    u = kernels.get(f"winograd_{name}_weight", xp)(W)            # (36 or 16, OC, C)
    v = kernels.get(f"winograd_{name}_input", xp)(x, padding)    # (36 or 16, C, N*TH*TW)
    return kernels.get(f"winograd_{name}_output", xp)(_mm(xp, u, v), y_shape), v


#: Winograd for 4x4 stride-2 products (kernels.winograd_k4s2_*: the 2x2 polyphase kernels by
#: F(2x2, 2x2), 1.78x fewer GEMM flops): Conv2d's forward and Conv2dGradWeight, when both channel
#: counts are at least WINOGRAD_K4S2_MIN_C and the conv output has at least
#: WINOGRAD_K4S2_MIN_PIXELS pixels per image. Below that (DCGAN-32's 8 -> 4 layer) the weight
#: transform and the short GEMMs cost what the flops save (at 1 thread, batch 64; the input
#: gradient, a transposed conv, does not go through this form, whose scatter did not pay, but
#: through the output phases of WINOGRAD_K4S2T_* below; benchmarks/NOTES.md).
WINOGRAD_K4S2_MIN_C = 32
WINOGRAD_K4S2_MIN_PIXELS = 64


def _k4s2_ok(xp, oc, c, k, stride, dilation, out_hw):
    """Whether a conv (OC, C, *k) with this stride and dilation, giving out_hw, runs as
    Winograd on its polyphase components (on arrays of module ``xp``: where the kernel registry
    says that route pays, see kernels.winograd)."""
    if not (kernels.winograd(xp) and tuple(k) == (4, 4) and tuple(stride) == (2, 2)
            and tuple(dilation) == (1, 1)):
        return False
    if _k4s2_tiling(out_hw) == "k4s2f4":
        few = -(-out_hw[0] // 4) * -(-out_hw[1] // 4) < 4
        return min(oc, c) >= (WINOGRAD_K4S2F4_FEW_TILES_MIN_C if few else WINOGRAD_K4S2_MIN_C)
    return min(oc, c) >= WINOGRAD_K4S2_MIN_C and out_hw[0] * out_hw[1] >= WINOGRAD_K4S2_MIN_PIXELS


#: The output tile of those products: with 4, F(4x4, 2x2) (kernels.winograd_k4s2f4_*: 25
#: products per 16 outputs, 2.56x fewer GEMM flops than im2col, 1.44x fewer than F(2x2, 2x2),
#: and 0.69x the transformed values) wherever it makes fewer products than F(2x2, 2x2) over the
#: output's tiles (outputs of 3x3, 4x4, 7x7 and up; not 5x5 or 6x6, whose last tiles overhang
#: by more), F(2x2, 2x2) elsewhere; with 2, F(2x2, 2x2) everywhere. Its float32 error is
#: larger: up to 9e-6 of the output's largest value on DCGAN-32's and DCGAN-64's layers, where
#: F(2x2, 2x2) stayed under 1.3e-6 and im2col under 6e-7 (F(4x4, 3x3)'s is the same 9e-6;
#: benchmarks/NOTES.md).
#: F(4x4, 2x2) pays on smaller outputs than F(2x2, 2x2) did: with at least 4 tiles per image
#: (7x7 outputs, DCGAN-28's 64 -> 128 layer: forward 5.7 ms against im2col's 6.8) at
#: WINOGRAD_K4S2_MIN_C channels, with 1 to 3 tiles (4x4 outputs) from
#: WINOGRAD_K4S2F4_FEW_TILES_MIN_C channels: 128 -> 256 at 8 -> 4 ran its forward in 5.3 ms
#: against im2col's 6.7, 64 -> 64 in 1.3 against 1.0 (2 threads, batch 64; benchmarks/NOTES.md).
K4S2_TILE = 4
WINOGRAD_K4S2F4_FEW_TILES_MIN_C = 128

#: set_conv_precision's levels: the output tile of every Winograd form (WINOGRAD_TILE, K4S2_TILE).
_CONV_PRECISION_TILES = {"high": 4, "highest": 2}


def set_conv_precision(precision):
    """How exactly the CPU's convolutions round, as torch.set_float32_matmul_precision:
    "high" (the default) runs the Winograd products on 4x4 output tiles where they pay
    (F(4x4, 3x3), F(4x4, 2x2): 2.25-4x fewer GEMM flops, float32 errors up to ~1e-5 of the
    output's largest value); "highest" on 2x2 tiles only (F(2x2, 3x3), F(2x2, 2x2): errors under
    ~1.3e-6, as the im2col products' few 1e-7, for more time in the wide layers). Both are
    deterministic; in float64 both are exact to ~1e-14. Training trajectories of the two part
    in float32's last digits, and then by more: Adam's first steps move every weight by about
    the learning rate whatever its gradient's size, so the sign of a gradient that rounds to
    near zero decides a whole step (compare with PyTorch step by step at "highest"). The
    environment variable MINIGRAD_CONV_PRECISION sets the level at import."""
    global WINOGRAD_TILE, K4S2_TILE
    if precision not in _CONV_PRECISION_TILES:
        raise ValueError(f"conv precision must be one of {sorted(_CONV_PRECISION_TILES)}, not "
                         f"{precision!r}")
    WINOGRAD_TILE = K4S2_TILE = _CONV_PRECISION_TILES[precision]


def get_conv_precision():
    """The convolutions' precision set by :func:`set_conv_precision` ("high" or "highest")."""
    return "highest" if WINOGRAD_TILE == K4S2_TILE == 2 else "high"


# The initial precision, for any entry point (the CLI, the examples): MINIGRAD_CONV_PRECISION.
if os.environ.get("MINIGRAD_CONV_PRECISION", "").strip():
    try:
        set_conv_precision(os.environ["MINIGRAD_CONV_PRECISION"].strip().lower())
    except ValueError as e:
        raise ValueError(f"MINIGRAD_CONV_PRECISION: {e}") from None


def _k4s2_tiling(out_hw):
    """The Winograd tiling of a 4x4 stride-2 product with an (OH, OW) output: "k4s2f4"
    (F(4x4, 2x2)) or "k4s2" (F(2x2, 2x2)), the kernels' infix (see K4S2_TILE)."""
    oh, ow = out_hw
    f4 = 25 * -(-oh // 4) * -(-ow // 4)
    return "k4s2f4" if K4S2_TILE == 4 and f4 < 9 * -(-oh // 2) * -(-ow // 2) else "k4s2"


#: Winograd for the transposed 4x4 stride-2 product (ConvTranspose2d's forward: DCGAN's
#: generator layers, and every 4x4/2 Conv2d's input gradient): its four output phases are 2x2
#: correlations of x, each by F(2x2, 2x2) (kernels.winograd_k4s2t_*: 1.78x fewer GEMM flops than
#: rows(x) @ W_rows, and an output transform that writes each pixel once where col2im sums four
#: window contributions). Any padding (the kernels derive the phases' offsets from it) and
#: output size. Taken when the input has at most WINOGRAD_K4S2T_MAX_RATIO times the output's
#: channels and the output has at least WINOGRAD_K4S2T_MIN_TILES 4x4 tiles over the batch.
#: Measured at 1 thread (CPU time, OPENBLAS_CORETYPE=SkylakeX and minigrad.backend.tune() as the
#: entry points run; benchmarks/NOTES.md): 1.15-1.85x faster on every transposed 4x4/2 product
#: of DCGAN-32 and SNGAN at batch 64 (C = OC or 2 OC: G's layers, D's input gradients), 1.3-3.3x
#: on narrow ones (1 to 64 channels: col2im's share is larger there). It lost where the input
#: transform (25 values per input pixel and channel) outweighs the products it saves, with many
#: more input than output channels (128 -> 16 at 8x8: 0.87x, 256 -> 16: 0.63x, 64 -> 4: 0.96x;
#: 64 -> 16 won 1.74x), and where the weight transform (36 C OC values, per call) meets too few
#: tiles (512 -> 256 on a 2x2 input at batch 64, 64 tiles: 0.96x; 128 tiles: 1.13x; one 4x4
#: image: 0.5x). Only with the Numba transforms (kernels.compiled): the NumPy reference's are
#: 5-14x slower, and with them DCGAN-32's layers ran at 0.52-0.65x (MINIGRAD_KERNELS=numpy).
WINOGRAD_K4S2T_MAX_RATIO = 4
WINOGRAD_K4S2T_MIN_TILES = 128


def _k4s2t_ok(xp, c, oc, k, stride, dilation, n, out_hw):
    """Whether a transposed conv of a (C, OC, *k) weight with this stride and dilation, of a
    batch of n onto out_hw pixels, runs by Winograd on its output phases (on arrays of module
    ``xp``: where the kernel registry says that route pays, see kernels.winograd)."""
    return (kernels.winograd(xp) and tuple(k) == (4, 4) and tuple(stride) == (2, 2)
            and tuple(dilation) == (1, 1) and c <= WINOGRAD_K4S2T_MAX_RATIO * oc
            and n * -(-out_hw[0] // 4) * -(-out_hw[1] // 4) >= WINOGRAD_K4S2T_MIN_TILES
            and kernels.compiled("winograd_k4s2t_input", xp))


#: The route runs the batch in chunks of about this many tiles (whole images), through one V
#: and one M buffer: its products ran at 83-98 GFLOP/s on 512 tiles and at 64-97 on 1024-4096
#: (V's block stays in the cache between its transform and its products; below 256 the widest
#: layers lose), and a call's transient memory stays small.
WINOGRAD_K4S2T_CHUNK_TILES = 512


def _k4s2t_f4(out_hw):
    """Whether a transposed 4x4 stride-2 product onto out_hw runs its phases by F(4x4, 2x2)
    (kernels.winograd_k4s2tf4_*: 100 products (OC, C) @ (C, tiles) per 8x8 output tile, 1.44x
    fewer GEMM flops than the 36 per 4x4 tile of the F(2x2, 2x2) layout) rather than F(2x2, 2x2):
    where K4S2_TILE is 4 and it makes fewer products over the output's tiles."""
    oh, ow = out_hw
    return K4S2_TILE == 4 and 100 * -(-oh // 8) * -(-ow // 8) < 36 * -(-oh // 4) * -(-ow // 4)


def _conv_transpose_k4s2(xp, x, W, output_size, padding):
    """conv_transpose(x, W) for a (C, OC, 4, 4) W, stride 2, no dilation, by Winograd on its
    four output phases: by F(4x4, 2x2) where _k4s2t_f4 says, one product per phase and
    position; else by F(2x2, 2x2), one product (n OC, C) @ (C, tiles) per transformed position,
    n the phases that read it (reference_winograd.k4s2t_layout), between the transforms; the
    batch in chunks of whole images of at most WINOGRAD_K4S2T_CHUNK_TILES tiles (4x4 or 8x8
    blocks: DCGAN-32's and DCGAN-28's layers run in one), so that a call's transient memory
    stays small."""
    n, c = x.shape[:2]
    oc = W.shape[1]
    oh, ow = output_size
    if _k4s2t_f4(output_size):
        u = kernels.get("winograd_k4s2tf4_weight", xp)(W, padding)                # (100, OC, C)
        per_image = -(-oh // 8) * -(-ow // 8)                                      # 8x8 tiles
        nb = max(1, min(n, WINOGRAD_K4S2T_CHUNK_TILES // per_image))              # images a chunk
        if nb == n:
            v = kernels.get("winograd_k4s2tf4_input", xp)(x, padding, output_size)  # (100, C, t)
            return kernels.get("winograd_k4s2tf4_output", xp)(_mm(xp, u, v), (n, oc, oh, ow))
        y = xp.empty((n, oc, oh, ow), dtype=xp.result_type(x.dtype, u.dtype))
        for b0 in range(0, n, nb):
            b1 = min(n, b0 + nb)
            v = kernels.get("winograd_k4s2tf4_input", xp)(x[b0:b1], padding, output_size)
            kernels.get("winograd_k4s2tf4_output", xp)(_mm(xp, u, v), (b1 - b0, oc, oh, ow),
                                                       out=y[b0:b1])
        return y
    layout = k4s2t_layout(padding)
    positions = layout.values[0] * layout.values[1]
    per_image = -(-oh // 4) * -(-ow // 4)                                      # tiles
    nb = max(1, min(n, WINOGRAD_K4S2T_CHUNK_TILES // per_image))              # images a chunk
    u = kernels.get("winograd_k4s2t_weight", xp)(W, padding)                  # (36, OC, C)
    dtype = xp.result_type(x.dtype, u.dtype)
    y = xp.empty((n, oc, oh, ow), dtype=dtype)
    v_buf = xp.empty(positions * c * nb * per_image, dtype=x.dtype)
    m_buf = xp.empty(36 * oc * nb * per_image, dtype=dtype)
    for b0 in range(0, n, nb):
        b1 = min(n, b0 + nb)
        t = (b1 - b0) * per_image
        v = kernels.get("winograd_k4s2t_input", xp)(                           # (P, C, t)
            x[b0:b1], padding, output_size, out=v_buf[:positions * c * t].reshape(positions, c, t))
        m = m_buf[:36 * oc * t].reshape(36, oc, t)
        for q in range(positions):
            i, j = layout.offsets[q], layout.offsets[q + 1]
            # into m's slots: this route runs on the CPU only (kernels.winograd), so the array
            # module's matmul with out= stands in for the registry's (which has none)
            xp.matmul(u[i:j].reshape((j - i) * oc, c), v[q], out=m[i:j].reshape((j - i) * oc, t))
        kernels.get("winograd_k4s2t_output", xp)(m, (b1 - b0, oc, oh, ow), padding, out=y[b0:b1])
    return y


def _w_rows(xp, W):
    """(A, B, KH, KW) -> (A, KH*KW*B): each row of W in _im2col's column order, (i, j, b) on
    the CPU (a copy) or (b, i, j) on a GPU (W2 of the module docstring: a view of a contiguous
    W)."""
    a, b, kh, kw = W.shape
    if kernels.conv_columns(xp) == "chw":
        return W.reshape(a, b * kh * kw)
    return W.transpose(0, 2, 3, 1).reshape(a, kh * kw * b)


def _w_from_rows(xp, w_rows, a, b, kh, kw):
    """Inverse of _w_rows: (A, KH*KW*B) -> C-contiguous (A, B, KH, KW)."""
    if kernels.conv_columns(xp) == "chw":
        return xp.ascontiguousarray(w_rows).reshape(a, b, kh, kw)
    return xp.ascontiguousarray(w_rows.reshape(a, kh, kw, b).transpose(0, 3, 1, 2))


#: Conv2d keeps its im2col(x) from the forward pass for the weight gradient of the backward
#: pass (saving one im2col per conv per step, ~10% of a DCGAN step), ConvTranspose2d its rows(x),
#: when the array is at most this many bytes; larger ones are recomputed, which bounds the extra
#: memory per node.
CACHE_COLS_BYTES = 128 << 20

# NOTE on the ``cols=`` / ``rows=`` / ``wv=`` / ``u=`` keyword arguments below: a backward that
# calls two of the three ops on the same array (Conv2d's backward needs rows(gy) twice,
# ConvTranspose2d's im2col(gy), or on the 4x4/2 Winograd route its transform wv, twice)
# computes it once and hands it to both; Conv2d's backward also hands on the im2col(x) (or wv,
# the Winograd transform of x on the 4x4/2 or the F(4x4, 3x3) route, or a thin layer's
# unfold(x)) of its forward, ConvTranspose2d's the rows(x) of its forward.
# They are memos of a function of an input's array, not constants of the graph: each op's own
# backward still works from its input Tensors, so every order of derivative is unaffected.
# (Like any saved input,
# they assume x is not modified in place between forward and backward; PyTorch raises then.)


class Conv2d(Function):
    """y = conv(x, W) + b:  y[n, o, p, q] = b[o] + sum_{c,i,j} W[o, c, i, j] *
    x_pad[n, c, p*SH + i*DH, q*SW + j*DW];
    gx = conv_transpose2d(gy, W) (to x's size), gW = Conv2dGradWeight(x, gy), gb = sum of gy
    over (N, OH, OW)"""

    def forward(self, x, W, b=None, *, stride, padding, dilation, cols=None, wv=None, u=None):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        n = x.shape[0]
        oc, c, kh, kw = W.shape
        oh, ow = conv_out_hw(x.shape[2:], (kh, kw), stride, padding, dilation)
        flip = _flip_padding((kh, kw), stride, padding, dilation) \
            if kh * kw * oc <= THIN_K < kh * kw * c else None
        if kh * kw * c <= THIN_K or flip is not None:
            if flip is None:  # thin input: per-image products give NCHW directly
                y, u = _conv_thin_in(self.xp, x, W, stride, padding, dilation, u)
                need = getattr(self, "needs_input_grad", None)
                if need is not None and need[1] and u.nbytes <= CACHE_COLS_BYTES:
                    self._u = u  # unfold(x.data): a memo for gW, as _cols is
            else:  # thin output, stride 1: the flipped transposed form (see _flip_padding)
                y = _conv_transpose_thin_out(self.xp, x, _flipped(W), (oh, ow), stride, flip,
                                             dilation)
            if b is not None:
                y += b.reshape(1, oc, 1, 1)
            return y
        if cols is None and _winograd_ok(self.xp, W.shape, stride, dilation):
            y, v = _conv_winograd(self.xp, x, W, padding)
            need = getattr(self, "needs_input_grad", None)
            if (need is not None and need[1] and _f4x3_ok((oh, ow))
                    and v.nbytes <= CACHE_COLS_BYTES):
                self._wv = v  # the F(4x4, 3x3) transform of x: a memo for gW, as _cols is
            if b is not None:
                y += b.reshape(1, oc, 1, 1)
            return y
        if cols is None and _k4s2_ok(self.xp, oc, c, (kh, kw), stride, dilation, (oh, ow)):
            name = _k4s2_tiling((oh, ow))
            if wv is None:
                wv = kernels.get(f"winograd_{name}_input", self.xp)(x, padding)  # (25|9, 4C, t)
            need = getattr(self, "needs_input_grad", None)
            if need is not None and need[1] and wv.nbytes <= CACHE_COLS_BYTES:
                self._wv = wv  # the transformed x: a memo for gW, as _cols is
            u = kernels.get(f"winograd_{name}_weight", self.xp)(W)              # (25|9, OC, 4C)
            y = kernels.get(f"winograd_{name}_output", self.xp)(_mm(self.xp, u, wv),
                                                                 (n, oc, oh, ow))
            if b is not None:
                y += b.reshape(1, oc, 1, 1)
            return y
        if cols is None:
            cols = _im2col(self.xp, x, kh, kw, stride, padding, dilation)
        # cols: (N*OH*OW, C*KH*KW)
        need = getattr(self, "needs_input_grad", None)  # set only when this node is recorded
        if need is not None and need[1] and cols.nbytes <= CACHE_COLS_BYTES:
            self._cols = cols  # im2col(x.data): a memo for gW, see the NOTE above
        y = _mm(self.xp, cols, _w_rows(self.xp, W).T)      # (N*OH*OW, OC)
        # C-contiguous NCHW plus the bias (one kernel on a GPU)
        return kernels.get("nchw_from_rows", self.xp)(y, n, oh, ow, b)

    def backward(self, gy):
        x, W = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        attrs = dict(stride=self.stride, padding=self.padding, dilation=self.dilation)
        gy = gy.contiguous()  # once for both products (a sum's broadcast gradient is not)
        # rows(gy), shared by both products (unless a thin side sends both to their per-image
        # paths on NCHW gy: x thin, or the output thin at stride 1 (the flipped forms); or gx
        # goes by Winograd on its phases, which reads gy itself: then gW makes its own rows if
        # its route needs them)
        oc, c, kh, kw = W.shape
        thin = kh * kw * c <= THIN_K or (kh * kw * oc <= THIN_K and _flip_padding(
            (kh, kw), self.stride, self.padding, self.dilation) is not None)
        rows = _to_rows(gy.data) if need[0] and need[1] and not thin and not _k4s2t_ok(
            gy.xp, oc, c, (kh, kw), self.stride, self.dilation, x.shape[0], x.shape[2:]) \
            else None
        gx = ConvTranspose2d.apply(gy, W, output_size=x.shape[2:], rows=rows, **attrs) \
            if need[0] else None
        gW = Conv2dGradWeight.apply(x, gy, kernel_size=W.shape[2:], gy_rows=rows,
                                    cols=getattr(self, "_cols", None),
                                    wv=getattr(self, "_wv", None), u=getattr(self, "_u", None),
                                    **attrs) \
            if need[1] else None
        if len(self.inputs) == 2:
            return gx, gW
        gb = gy.sum((0, 2, 3)) if need[2] else None
        return gx, gW, gb


class ConvTranspose2d(Function):
    """y = conv_transpose(x, W) + b, the adjoint of Conv2d in its input: W is (C, OC, KH, KW)
    as in PyTorch, x (N, C, H, W), y (N, OC, *output_size) where conv(y-sized image) is H x W.
    y = col2im(rows(x) @ W.reshape(C, OC*KH*KW)) + b;
    gx = conv2d(gy, W), gW = Conv2dGradWeight(gy, x) (roles swapped), gb = sum of gy"""

    def forward(self, x, W, b=None, *, stride, padding, dilation, output_size, rows=None):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        n, c, h, w = x.shape
        _, oc, kh, kw = W.shape
        oh, ow = output_size
        if conv_out_hw((oh, ow), (kh, kw), stride, padding, dilation) != (h, w):
            raise ValueError(
                f"conv_transpose2d: output size {tuple(output_size)} is inconsistent with input "
                f"{(h, w)}, kernel {(kh, kw)}, stride {stride}, padding {padding}, dilation "
                f"{dilation}: a convolution of the output must give back the input size")
        flip = _flip_padding((kh, kw), stride, padding, dilation) \
            if kh * kw * c <= THIN_K < kh * kw * oc else None
        if kh * kw * oc <= THIN_K or flip is not None:
            if flip is None:  # thin output: per-image products straight from NCHW x
                y = _conv_transpose_thin_out(self.xp, x, W, (oh, ow), stride, padding, dilation)
            else:  # thin input, stride 1: the flipped conv form (see _flip_padding)
                y = _conv_thin_in(self.xp, x, _flipped(W), stride, flip, dilation)[0]
            if b is not None:
                y += b.reshape(1, oc, 1, 1)
            return y
        flip = _flip_padding((kh, kw), stride, padding, dilation) \
            if _winograd_ok(self.xp, W.shape, stride, dilation) else None
        if flip is not None:  # the flipped conv form (see _flip_padding), by Winograd
            y = _conv_winograd(self.xp, x, _flipped(W), flip)[0]
            if b is not None:
                y += b.reshape(1, oc, 1, 1)
            return y
        if _k4s2t_ok(self.xp, c, oc, (kh, kw), stride, dilation, n, (oh, ow)):
            # (a rows= memo handed in is not needed here; Conv2d.backward computes none for it)
            y = _conv_transpose_k4s2(self.xp, x, W, (oh, ow), padding)
            if b is not None:
                y += b.reshape(1, oc, 1, 1)
            return y
        if rows is None:
            rows = _to_rows(x)
        need = getattr(self, "needs_input_grad", None)
        if need is not None and need[1] and rows.nbytes <= CACHE_COLS_BYTES:
            self._rows = rows  # rows(x.data): a memo for gW, see the NOTE above
        # W (C, OC, KH, KW) -> (C, KH*KW*OC): cols (N*H*W, KH*KW*OC) in _col2im's order
        cols = _mm(self.xp, rows, _w_rows(self.xp, W))
        y = _col2im(self.xp, cols, (n, oc, oh, ow), kh, kw, stride, padding, dilation)
        if b is not None:
            y += b.reshape(1, oc, 1, 1)
        return y

    def backward(self, gy):
        x, W = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        attrs = dict(stride=self.stride, padding=self.padding, dilation=self.dilation)
        gy = gy.contiguous()  # once for both products (a sum's broadcast gradient is not)
        kh, kw = W.shape[2:]
        # gy's columns (or, for the Winograd 4x4/2 form, its transform; for a thin gy, its
        # per-image unfold), shared by both products
        cols = wv = u = None
        if need[0] and need[1]:
            if kh * kw * W.shape[1] <= THIN_K:  # both take the thin-input paths
                u = _unfold(gy.xp, gy.data, kh, kw, **attrs)
            elif _k4s2_ok(gy.xp, W.shape[0], W.shape[1], (kh, kw), self.stride, self.dilation,
                          x.shape[2:]):
                wv = kernels.get(f"winograd_{_k4s2_tiling(x.shape[2:])}_input", gy.xp)(
                    gy.data, self.padding)
            else:
                cols = _im2col(gy.xp, gy.data, kh, kw, **attrs)
        gx = Conv2d.apply(gy, W, cols=cols, wv=wv, u=u, **attrs) if need[0] else None
        gW = Conv2dGradWeight.apply(gy, x, kernel_size=(kh, kw), cols=cols, wv=wv, u=u,
                                    gy_rows=getattr(self, "_rows", None), **attrs) \
            if need[1] else None
        if len(self.inputs) == 2:
            return gx, gW
        gb = gy.sum((0, 2, 3)) if need[2] else None
        return gx, gW, gb


class Conv2dGradWeight(Function):
    """gW = conv^*(x, gy), the weight gradient of y = conv(x, W): x (N, C, H, W), gy (N, OC, OH,
    OW) -> gW (OC, C, KH, KW) = rows(gy)^T @ im2col(x).
    It is bilinear in (x, gy); given the incoming ggW:
    gx = conv_transpose2d(gy, ggW) (to x's size), ggy = conv2d(x, ggW)"""

    def forward(self, x, gy, *, kernel_size, stride, padding, dilation, cols=None,
                gy_rows=None, wv=None, u=None):
        self.kernel_size = kernel_size
        self.stride, self.padding, self.dilation = stride, padding, dilation
        kh, kw = kernel_size
        n, c = x.shape[:2]
        oc = gy.shape[1]
        if kh * kw * c <= THIN_K:  # thin x: per-image products from NCHW gy, summed over N
            return _grad_weight_thin_x(self.xp, x, gy, kernel_size, stride, padding, dilation, u)
        flip = _flip_padding(kernel_size, stride, padding, dilation) \
            if kh * kw * oc <= THIN_K else None
        if flip is not None:  # thin gy, stride 1: the flipped form (see _flip_padding)
            g = _grad_weight_thin_x(self.xp, gy, x, kernel_size, stride, flip, dilation)
            return self.xp.ascontiguousarray(_flipped(g))
        if cols is None and _winograd_ok(self.xp, (oc, c) + tuple(kernel_size), stride,
                                         dilation) and _f4x3_ok(gy.shape[2:]):
            if wv is None:
                wv = kernels.get("winograd_f4x3_input", self.xp)(x, padding)   # (36, C, tiles)
            z = kernels.get("winograd_f4x3_grad_output", self.xp)(gy)          # (36, OC, tiles)
            return kernels.get("winograd_f4x3_grad_weight", self.xp)(
                _mm(self.xp, z, wv.transpose(0, 2, 1)))                          # (36, OC, C)
        if cols is None and _k4s2_ok(self.xp, oc, c, kernel_size, stride, dilation,
                                     gy.shape[2:]):
            name = _k4s2_tiling(gy.shape[2:])
            if wv is None:
                wv = kernels.get(f"winograd_{name}_input", self.xp)(x, padding)  # (25|9, 4C, t)
            z = kernels.get(f"winograd_{name}_grad_output", self.xp)(gy)         # (25|9, OC, t)
            return kernels.get(f"winograd_{name}_grad_weight", self.xp)(
                _mm(self.xp, z, wv.transpose(0, 2, 1)))                          # (25|9, OC, 4C)
        if cols is None:
            cols = _im2col(self.xp, x, kh, kw, stride, padding, dilation)
        if gy_rows is None:
            gy_rows = _to_rows(gy)
        if kernels.conv_columns(self.xp) == "chw":
            # W's own layout, (OC, C*KH*KW) C-contiguous: its (OC, C, KH, KW) is a view
            gW = _mm(self.xp, gy_rows.T, cols)
        else:
            # NOTE: computed as (cols^T @ gy_rows)^T, the same product with the long output-
            # pixel dimension as the inner one and OC last: with 2 threads OpenBLAS ran
            # gy_rows^T @ cols (M = OC = 128, K = N*OH*OW = 3136..16384) at 5 GFLOP/s and this
            # form at 20-26, equal at 1 thread (benchmarks/NOTES.md). The (i, j, c) columns
            # need a permuting copy into W's layout either way, so the transposed result costs
            # nothing more.
            gW = _mm(self.xp, cols.T, gy_rows).T           # (OC, KH*KW*C)
        return _w_from_rows(self.xp, gW, oc, c, kh, kw)

    def backward(self, ggW):
        x, gy = self.inputs
        need = self.needs_input_grad
        attrs = dict(stride=self.stride, padding=self.padding, dilation=self.dilation)
        gx = ConvTranspose2d.apply(gy, ggW, output_size=x.shape[2:], **attrs) if need[0] else None
        ggy = Conv2d.apply(x, ggW, **attrs) if need[1] else None
        return gx, ggy
