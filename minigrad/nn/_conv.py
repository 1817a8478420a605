"""``linear`` and the convolutions of ``minigrad.nn.functional`` (conv2d, conv_transpose2d), with
the padding and output-size arithmetic the conv layers share."""
from __future__ import annotations

import numbers

from minigrad.functional import cat, pad, split
from minigrad.ops import conv as _conv
from minigrad.ops.linear import Linear as _LinearOp
from minigrad.tensor import Tensor


def _pair(v, name="value", low=None):
    """(int, int) from an int or a pair of ints. Anything else is an error, not truncated (2.5
    is not 2); with ``low``, so is a value below it (a stride of 0, a negative padding)."""
    pair = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    if not all(isinstance(n, numbers.Integral) for n in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")
    if low is not None and min(pair) < low:
        raise ValueError(f"{name} must be >= {low}, got {v!r}")
    return int(pair[0]), int(pair[1])


def _check_bias(name, bias, weight, n):
    """ValueError unless ``bias`` is None or of shape (n,) (a bias of another shape would be
    broadcast into the output, or fail in NumPy, where torch raises)."""
    if bias is not None and tuple(bias.shape) != (n,):
        raise ValueError(f"{name}: weight of shape {weight.shape} expects a bias of shape "
                         f"({n},), got shape {tuple(bias.shape)}")


# ============================================================================== linear
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight^T + bias: input (*, in_features), weight (out_features, in_features),
    bias (out_features,) -> (*, out_features). One fused primitive (ops/linear.py)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {input.shape} does not end in in_features = "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    _check_bias("linear", bias, weight, weight.shape[0])
    if bias is None:
        return _LinearOp.apply(input, weight)
    return _LinearOp.apply(input, weight, bias)


# ============================================================================ convolution
def _conv_padding(padding, weight, dilation, stride):
    """Numeric (ph, pw) from an int, a pair, 'valid' or 'same'; plus an extra asymmetric pad
    (left, right, top, bottom) for 'same' with an odd total, else None."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), None
        if padding != "same":
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        totals = [dilation[i] * (weight.shape[2 + i] - 1) for i in range(2)]
        sym = (totals[0] // 2, totals[1] // 2)
        extra = (0, totals[1] - 2 * sym[1], 0, totals[0] - 2 * sym[0])
        return sym, (extra if any(extra) else None)
    return _pair(padding, "padding", 0), None


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation (PyTorch's conv2d): input (N, C, H, W), weight (OC, C / groups,
    KH, KW), bias (OC,) -> (N, OC, OH, OW), OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1. With
    ``groups``, the channels in that many groups, each convolved with its OC / groups filters
    alone (groups = C: a depthwise convolution)."""
    if input.ndim != 4:
        raise ValueError(f"conv2d expects a 4-D input (N, C, H, W), got shape {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d expects a 4-D weight (OC, C, KH, KW), got shape {weight.shape}")
    _check_groups("conv2d", groups, input.shape[1], weight.shape[0])
    if input.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"conv2d: input of shape {input.shape} has {input.shape[1]} channels, "
                         f"but weight of shape {weight.shape} expects {weight.shape[1] * groups}"
                         + (f" ({groups} groups of {weight.shape[1]})" if groups > 1 else ""))
    _check_bias("conv2d", bias, weight, weight.shape[0])
    stride, dilation = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
    padding, extra = _conv_padding(padding, weight, dilation, stride)
    if extra is not None:
        input = pad(input, extra)
    return _grouped(lambda x, w, b: _conv2d(x, w, b, stride, padding, dilation),
                    input, weight, bias, groups, weight.shape[0] // groups)


def _check_groups(name, groups, c, oc):
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{name}: groups must be a whole number >= 1, got {groups!r}")
    if c % groups or oc % groups:
        raise ValueError(f"{name}: {c} input and {oc} output channels must both be divisible "
                         f"by groups = {groups}")


def _grouped(conv, x, weight, bias, groups, out_per_group):
    """``conv(x, weight, bias)``, or with groups > 1 the concatenation of the groups' convolutions
    (a composite: its gradient is the groups' gradients, concatenated back)."""
    if groups == 1:
        return conv(x, weight, bias)
    xs = split(x, x.shape[1] // groups, 1)
    ws = split(weight, weight.shape[0] // groups, 0)
    bs = split(bias, out_per_group, 0) if bias is not None else [None] * groups
    return cat([conv(*parts) for parts in zip(xs, ws, bs)], 1)


def _conv2d(x, weight, bias, stride, padding, dilation):
    """conv2d without argument checks (tuples already normalised)."""
    args = (x, weight) if bias is None else (x, weight, bias)
    return _conv.Conv2d.apply(*args, stride=stride, padding=padding, dilation=dilation)


def _transposed_size(hw, weight, stride, padding, output_padding, dilation):
    return tuple((hw[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (weight.shape[2 + i] - 1)
                 + output_padding[i] + 1 for i in range(2))


def _output_padding_for(hw, output_size, weight, stride, padding, dilation):
    """The output_padding that makes a transposed conv produce ``output_size`` (PyTorch's
    ConvTranspose ``forward(x, output_size)``)."""
    output_size = tuple(output_size)[-2:]
    lo = _transposed_size(hw, weight, stride, padding, (0, 0), dilation)
    op = tuple(output_size[i] - lo[i] for i in range(2))
    for i in range(2):
        if not 0 <= op[i] < max(stride[i], dilation[i]):
            raise ValueError(
                f"requested an output size of {output_size}, but valid sizes range from {lo} to "
                f"{tuple(lo[j] + max(stride[j], dilation[j]) - 1 for j in range(2))} (for an "
                f"input of size {tuple(hw)})")
    return op


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1, *,
                     output_size=None) -> Tensor:
    """2-D transposed convolution (PyTorch's conv_transpose2d, the adjoint of conv2d):
    input (N, C, H, W), weight (C, OC / groups, KH, KW), bias (OC,) -> (N, OC, OH, OW) with
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + output_padding + 1 (or ``output_size``)."""
    if input.ndim != 4:
        raise ValueError(f"conv_transpose2d expects a 4-D input (N, C, H, W), got shape "
                         f"{input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv_transpose2d expects a 4-D weight (C, OC, KH, KW), got shape "
                         f"{weight.shape}")
    if input.shape[1] != weight.shape[0]:
        raise ValueError(f"conv_transpose2d: input of shape {input.shape} has {input.shape[1]} "
                         f"channels, but weight of shape {weight.shape} expects {weight.shape[0]}")
    _check_groups("conv_transpose2d", groups, input.shape[1], weight.shape[1] * groups)
    _check_bias("conv_transpose2d", bias, weight, weight.shape[1] * groups)
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    if output_size is not None:
        output_padding = _output_padding_for(input.shape[2:], output_size, weight, stride,
                                             padding, dilation)
    output_padding = _pair(output_padding, "output_padding", 0)
    return _grouped(lambda x, w, b: _conv_transpose2d(x, w, b, stride, padding, output_padding,
                                                      dilation),
                    input, weight, bias, groups, weight.shape[1])


def _conv_transpose2d(x, weight, bias, stride, padding, output_padding, dilation):
    """conv_transpose2d without argument checks (tuples already normalised)."""
    for i in range(2):
        if output_padding[i] >= stride[i]:
            # PyTorch also allows output_padding < dilation; then the extra row would lie
            # beyond the conv geometry of the input (see ops/conv.py). Not supported here.
            raise ValueError(f"output_padding {output_padding} must be smaller than the stride "
                             f"{stride}")
    size = _transposed_size(x.shape[2:], weight, stride, padding, output_padding, dilation)
    if size[0] < 1 or size[1] < 1:
        raise ValueError(f"conv_transpose2d: empty output size {size} for input {x.shape}")
    args = (x, weight) if bias is None else (x, weight, bias)
    return _conv.ConvTranspose2d.apply(*args, stride=stride, padding=padding, dilation=dilation,
                                       output_size=size)


# ====================================================================== one-dimensional
def _single(v, name="value", low=None):
    """An int from an int or a 1-tuple (torch's 1-d convolution arguments), checked as _pair."""
    one = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(one) != 1:
        raise ValueError(f"{name} must be an int or a 1-tuple, got {v!r}")
    return _pair(one[0], name, low)[0]


def _as_planes(name, input, weight):
    """(N, C, 1, L) from a batched (N, C, L) or unbatched (C, L) input, the weight as
    (A, B, 1, K), and whether the input was unbatched."""
    if input.ndim not in (2, 3):
        raise ValueError(f"{name} expects a 3-D input (N, C, L) or a 2-D one (C, L), got shape "
                         f"{input.shape}")
    if weight.ndim != 3:
        raise ValueError(f"{name} expects a 3-D weight, got shape {weight.shape}")
    x = input if input.ndim == 3 else input.unsqueeze(0)
    return x.unsqueeze(2), weight.unsqueeze(2), input.ndim == 2


def _from_planes(y, unbatched):
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation (PyTorch's conv1d): input (N, C, L) or (C, L), weight
    (OC, C / groups, K), bias (OC,) -> (N, OC, OL), OL = (L + 2 P - D (K - 1) - 1) // S + 1;
    padding an int, 'valid' or 'same'. conv2d on (N, C, 1, L)."""
    x, w, unbatched = _as_planes("conv1d", input, weight)
    pad_ = padding if isinstance(padding, str) else (0, _single(padding, "padding", 0))
    y = conv2d(x, w, bias, (1, _single(stride, "stride", 1)), pad_,
               (1, _single(dilation, "dilation", 1)), groups)
    return _from_planes(y, unbatched)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution (PyTorch's conv_transpose1d): input (N, C, L) or (C, L),
    weight (C, OC / groups, K) -> (N, OC, OL), OL = (L - 1) S - 2 P + D (K - 1) +
    output_padding + 1. conv_transpose2d on (N, C, 1, L)."""
    x, w, unbatched = _as_planes("conv_transpose1d", input, weight)
    y = conv_transpose2d(x, w, bias, (1, _single(stride, "stride", 1)),
                         (0, _single(padding, "padding", 0)),
                         (0, _single(output_padding, "output_padding", 0)), groups,
                         (1, _single(dilation, "dilation", 1)))
    return _from_planes(y, unbatched)
