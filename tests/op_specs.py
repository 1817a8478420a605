"""The op table: one ``OpSpec`` per tested op, as data (Chainer's FunctionTestCase idea, without the
subclasses).

An entry says how to call the op (``fn``), which inputs to give it (``case``: a hypothesis strategy
drawing the input shapes and the op's other arguments), where its inputs may live (``domain``),
which points to keep away from (``kinks``: where the op is not differentiable), and what it must
equal (``numpy_reference``, ``torch_reference``). ``tests/test_ops.py`` and
``tests/test_dtypes.py`` run every entry; adding an op to the suite means adding an entry here.

Conventions:
    fn(*tensors, **kw)              minigrad; returns a Tensor or a tuple of Tensors
    numpy_reference(*arrays, **kw)  float64 numpy; same structure as fn's result
    torch_reference(*tensors, **kw) torch; same structure (None: no torch counterpart)
    kw                              drawn by ``case`` with the shapes: dims, scalars, masks, indices
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad
import minigrad.functional as F
import minigrad.nn.functional as NF

MAX_DIMS = 3
MAX_SIDE = 3  # up to 27 elements: full-Jacobian gradchecks stay fast


class Case(NamedTuple):
    """What one hypothesis example feeds an op besides the input values."""
    shapes: tuple          # one shape per tensor input
    kw: dict               # the op's other arguments


@dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable
    case: Any                                   # strategy of Case
    numpy_reference: Callable
    torch_reference: Callable | None = None
    domain: tuple = (-2.0, 2.0)                 # (lo, hi) for all inputs, or one pair per input
    kinks: tuple | Callable = ()                # points to avoid, or kw -> points
    margin: float = 1e-2                        # how far from a kink (or a tie) values stay
    distinct: bool = False                      # no ties among all input values (max/min family)
    second_order: bool = True                   # run gradgradcheck and second-order torch parity
    uses_kernels: bool = False                  # goes through minigrad.kernels (numba variants)

    def __repr__(self):
        return self.name

    def domain_of(self, i: int) -> tuple:
        return self.domain[i] if isinstance(self.domain[0], tuple) else self.domain

    def prepare(self, arrays: list, kw: dict) -> list:
        """Move drawn values away from kinks and ties (deterministically: no rejected examples)."""
        kinks = self.kinks(kw) if callable(self.kinks) else self.kinks
        out = []
        for a in arrays:
            a = a.copy()
            for k in kinks:
                close = np.abs(a - k) < self.margin
                a[close] = k + np.where(a[close] >= k, self.margin, -self.margin)
            out.append(a)
        if self.distinct:
            out = _distinct(out, self.margin)
        return out


def _distinct(arrays, gap):
    """Shift values, keeping their order, so any two (across all arrays) differ by >= gap."""
    flat = np.concatenate([a.ravel() for a in arrays])
    order = np.argsort(flat, kind="stable")
    flat[order] = flat[order] + gap * np.arange(flat.size)
    out, start = [], 0
    for a in arrays:
        out.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return out


# ------------------------------------------------------------------------------ strategies
def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def unary(min_dims=0, min_side=1, max_dims=MAX_DIMS, **kw_strategies):
    """One input of any shape (0-d included), plus keyword arguments drawn from strategies."""
    @st.composite
    def draw_case(draw):
        shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))
        return Case((shape,), {k: draw(s) for k, s in kw_strategies.items()})
    return draw_case()


def broadcast(num_shapes=2):
    """Shapes that broadcast together (size-1 dims and missing leading dims included)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=0, max_dims=MAX_DIMS,
                                             min_side=1, max_side=MAX_SIDE).map(
        lambda r: Case(tuple(r.input_shapes), {}))


@st.composite
def dims(draw, ndim, allow_none=True, allow_tuple=True):
    """A reduction dim: None, an int (maybe negative) or a tuple of distinct ints."""
    options = ["none"] if allow_none or ndim == 0 else []
    if ndim:
        options.append("int")
        if allow_tuple:
            options.append("tuple")
    kind = draw(st.sampled_from(options))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


@st.composite
def reduction(draw, min_dims=0, min_side=1, allow_none=True, allow_tuple=True):
    shape = draw(shapes(min_dims=min_dims, min_side=min_side))
    dim = draw(dims(len(shape), allow_none, allow_tuple))
    return Case((shape,), {"dim": dim, "keepdim": draw(st.booleans())})


def one_dim(min_dims=1):
    """One input and one int dim (softmax and friends)."""
    @st.composite
    def draw_case(draw):
        shape = draw(shapes(min_dims=min_dims))
        return Case((shape,), {"dim": draw(st.integers(-len(shape), len(shape) - 1))})
    return draw_case()


scalars = st.one_of(st.integers(-3, 3), st.floats(-2.5, 2.5, allow_subnormal=False))
nonzero_scalars = st.one_of(st.sampled_from([-2, -1, 1, 3]), st.floats(0.5, 2.5),
                            st.floats(-2.5, -0.5))


# --------------------------------------------------------------------- reference helpers
def _np_reduce(fn):
    return lambda x, dim, keepdim: fn(x, axis=dim, keepdims=keepdim)


def _torch_reduce(fn):
    """torch.<fn>(x, dim, keepdim) with dim=None meaning every dim, for any keepdim."""
    def ref(x, dim, keepdim):
        if dim is None:
            y = fn(x) if x.ndim else fn(x.reshape(1)).reshape(())
            return y.reshape((1,) * x.ndim) if keepdim else y
        return fn(x, dim=dim, keepdim=keepdim)
    return ref


def _torch():
    import torch
    return torch


def _tF():
    import torch.nn.functional as tF
    return tF


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_logsumexp(x, dim, keepdim=False):
    m = np.max(x, axis=dim, keepdims=True)
    y = np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True)) + m
    return y if keepdim else np.squeeze(y, axis=dim)


def _np_softmax(x, dim):
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _np_norm(x, p, dim, keepdim):
    if p == 1:
        return np.sum(np.abs(x), axis=dim, keepdims=keepdim)
    return np.sqrt(np.sum(x * x, axis=dim, keepdims=keepdim))


def _torch_norm(x, p, dim, keepdim):
    torch = _torch()
    return torch.linalg.vector_norm(x, ord=1 if p == 1 else 2, dim=dim, keepdim=keepdim)


# -------------------------------------------------------------------------- matmul cases
@st.composite
def matmul_case(draw):
    """a @ b: matrices, batches (broadcast batch dims), and 1-D operands on either side."""
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                   max_side=2))
    ba, bb = batch.input_shapes
    a = (k,) if draw(st.booleans()) and draw(st.booleans()) else ba + (n, k)
    b = (k,) if draw(st.booleans()) and draw(st.booleans()) else bb + (k, m)
    return Case((a, b), {})


# ------------------------------------------------------------------------ shape-op cases
@st.composite
def reshape_case(draw):
    shape = draw(shapes())
    size = math.prod(shape)
    targets = [(size,), (-1,), (1, size), (size, 1), tuple(reversed(shape)), shape + (1,),
               (1,) + shape]
    if len(shape) >= 2:
        targets.append((shape[0] * shape[1],) + shape[2:])
        targets.append((shape[0], -1))
    if size == 1:
        targets.append(())
    return Case((shape,), {"shape": draw(st.sampled_from(targets))})


@st.composite
def flatten_case(draw):
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    s = draw(st.integers(0, nd - 1))
    e = draw(st.integers(s, nd - 1))
    # either form (negative or not) of each dim
    s = s - nd if draw(st.booleans()) else s
    e = e - nd if draw(st.booleans()) else e
    return Case((shape,), {"start_dim": s, "end_dim": e})


@st.composite
def transpose_case(draw):
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    return Case((shape,), {"dim0": draw(st.integers(-nd, nd - 1)),
                           "dim1": draw(st.integers(-nd, nd - 1))})


@st.composite
def permute_case(draw):
    shape = draw(shapes(min_dims=1))
    return Case((shape,), {"dims": tuple(draw(st.permutations(range(len(shape)))))})


@st.composite
def expand_case(draw):
    shape = draw(shapes(max_side=2))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    sizes = []
    for n in shape:
        if n == 1:
            sizes.append(draw(st.sampled_from([1, 2, 3, -1])))
        else:
            sizes.append(draw(st.sampled_from([n, -1])))
    return Case((shape,), {"sizes": lead + tuple(sizes)})


@st.composite
def squeeze_case(draw):
    shape = draw(shapes(max_side=2))
    dim = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    return Case((shape,), {"dim": dim})


@st.composite
def unsqueeze_case(draw):
    shape = draw(shapes())
    nd = len(shape)
    return Case((shape,), {"dim": draw(st.integers(-nd - 1, nd))})


# ------------------------------------------------------------------------- index cases
def _nonempty(shape, index):
    return np.empty(shape)[index].size > 0


@st.composite
def basic_index_case(draw):
    """ints, slices with any step (negative too), None and Ellipsis."""
    shape = draw(shapes(min_dims=1))
    index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                   allow_ellipsis=True).filter(lambda ix: _nonempty(shape, ix)))
    return Case((shape,), {"index": index})


@st.composite
def int_array_index_case(draw):
    """An integer array along one axis, negative and repeated entries included."""
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    idx = draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
                          elements=st.integers(-n, n - 1)))
    index = (slice(None),) * axis + (idx,)
    if draw(st.booleans()) and len(shape) > axis + 1:  # add a reversed slice after the array
        index = index + (slice(None, None, -1),)
    return Case((shape,), {"index": index})


@st.composite
def repeated_index_case(draw):
    """Several integer arrays together (a gather of points), with forced repeats."""
    shape = draw(shapes(min_dims=2))
    k = draw(st.integers(1, 4))
    idx = tuple(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k)) * 2)
                for n in shape[:2])  # every point twice
    return Case((shape,), {"index": idx})


@st.composite
def mask_index_case(draw):
    """A boolean mask over the leading dims (at least one True)."""
    shape = draw(shapes(min_dims=1))
    mdims = draw(st.integers(1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[:mdims]).filter(lambda m: m.any()))
    return Case((shape,), {"index": mask})


def _getitem(x, index):
    return x[index]


def _torch_getitem(x, index):
    """torch cannot slice with negative steps: gather the same elements by flat position."""
    torch = _torch()
    flat = np.arange(x.numel()).reshape(tuple(x.shape))[index]
    return x.reshape(-1)[torch.as_tensor(np.array(flat))]  # a copy: positive strides


# -------------------------------------------------------------------------- join/split cases
@st.composite
def cat_case(draw):
    base = list(draw(shapes(min_dims=1)))
    nd = len(base)
    dim = draw(st.integers(-nd, nd - 1))
    shs = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(base)
        s[dim] = draw(st.integers(1, MAX_SIDE))
        shs.append(tuple(s))
    return Case(tuple(shs), {"dim": dim})


@st.composite
def stack_case(draw):
    shape = draw(shapes())
    nd = len(shape)
    return Case((shape,) * draw(st.integers(1, 3)), {"dim": draw(st.integers(-nd - 1, nd))})


@st.composite
def split_case(draw):
    shape = draw(shapes(min_dims=1, max_side=4))
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    n = shape[dim]
    if draw(st.booleans()):
        size = draw(st.integers(1, n))
    else:
        cuts = sorted(draw(st.lists(st.integers(1, n - 1), unique=True))) if n > 1 else []
        edges = [0] + cuts + [n]
        size = [b - a for a, b in zip(edges, edges[1:])]
    return Case((shape,), {"split_size": size, "dim": dim})


@st.composite
def chunk_case(draw):
    shape = draw(shapes(min_dims=1, max_side=4))
    nd = len(shape)
    return Case((shape,), {"chunks": draw(st.integers(1, 4)),
                           "dim": draw(st.integers(-nd, nd - 1))})


def _np_split(x, split_size, dim):
    n = x.shape[dim]
    sizes = split_size if isinstance(split_size, list) else \
        [split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


def _np_chunk(x, chunks, dim):
    return _np_split(x, -(-x.shape[dim] // chunks), dim)


# ------------------------------------------------------------------------------- pad
@st.composite
def pad_case(draw, mode):
    # torch pads 1-3 trailing dims with these modes; minigrad any number, torch is the limit.
    shape = draw(shapes(min_dims=1, max_dims=4, min_side=2 if mode == "reflect" else 1))
    p = draw(st.integers(1, min(3, len(shape)))) if mode != "constant" else \
        draw(st.integers(1, len(shape)))
    widths = []
    for i in range(p):
        n = shape[len(shape) - 1 - i]
        hi = n - 1 if mode == "reflect" else 2
        widths += [draw(st.integers(0, hi)), draw(st.integers(0, hi))]
    kw = {"pad": tuple(widths), "mode": mode}
    if mode == "constant":
        kw["value"] = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return Case((shape,), kw)


def _np_pad(x, pad, mode, value=0.0):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge"}[mode])


def _torch_pad(x, pad, mode, value=0.0):
    tF = _tF()
    if mode == "constant":
        return tF.pad(x, pad, mode="constant", value=value)
    # torch wants (batch, channel-ish) dims in front of the p padded ones: fold the rest into one.
    p = len(pad) // 2
    lead = tuple(x.shape[:x.ndim - p])
    y = tF.pad(x.reshape((-1,) + tuple(x.shape[x.ndim - p:])), pad, mode=mode)
    return y.reshape(lead + tuple(y.shape[1:]))


# ------------------------------------------------------------------------------ where
@st.composite
def where_case(draw):
    r = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=MAX_DIMS,
                                               max_side=MAX_SIDE))
    c_shape, a_shape, b_shape = r.input_shapes
    return Case((a_shape, b_shape), {"cond": draw(hnp.arrays(np.bool_, c_shape))})


@st.composite
def clamp_case(draw):
    shape = draw(shapes())
    lo = draw(st.floats(-1.5, 0.5))
    hi = lo + draw(st.floats(0.25, 2.0))
    kind = draw(st.sampled_from(["both", "min", "max"]))
    return Case((shape,), {"min": None if kind == "max" else lo,
                           "max": None if kind == "min" else hi})


def _torch_clamp(x, lo, hi):
    """torch.clamp with tensor bounds, x first broadcast to the result's shape (torch's backward
    fails on a 0-d x with a larger bound: 'output with shape [] doesn't match ...')."""
    torch = _torch()
    shape = torch.broadcast_shapes(*[t.shape for t in (x, lo, hi) if t is not None])
    return torch.clamp(x.expand(shape), lo, hi)


def _clamp_kinks(kw):
    return tuple(v for v in (kw["min"], kw["max"]) if v is not None)


@st.composite
def norm_case(draw):
    shape = draw(shapes())
    return Case((shape,), {"p": draw(st.sampled_from([2, 1, "fro"])),
                           "dim": draw(dims(len(shape))), "keepdim": draw(st.booleans())})


@st.composite
def int_exponent_case(draw):
    """A base of any sign and an int64 exponent tensor of its shape (the result keeps the base's
    float dtype, as in torch)."""
    shape = draw(shapes())
    return Case((shape,), {"p": draw(hnp.arrays(np.int64, shape, elements=st.integers(-2, 3)))})


# ------------------------------------------------------------- flip, roll, repeat, t
@st.composite
def flip_case(draw):
    shape = draw(shapes())
    nd = len(shape)
    axes = draw(st.lists(st.integers(0, max(nd, 1) - 1), max_size=max(nd, 1), unique=True))
    return Case((shape,), {"dims": tuple(a - max(nd, 1) if draw(st.booleans()) else a
                                         for a in axes)})


@st.composite
def roll_case(draw):
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    if draw(st.booleans()):  # over the flattened tensor
        return Case((shape,), {"shifts": draw(st.integers(-7, 7)), "dims": None})
    axes = draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd,
                         unique_by=lambda d: d % nd))
    shifts = tuple(draw(st.integers(-4, 4)) for _ in axes)
    if len(axes) == 1 and draw(st.booleans()):
        return Case((shape,), {"shifts": shifts[0], "dims": axes[0]})
    return Case((shape,), {"shifts": shifts, "dims": tuple(axes)})


@st.composite
def repeat_case(draw):
    shape = draw(shapes(max_side=2))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    return Case((shape,), {"sizes": lead + tuple(draw(st.integers(1, 3)) for _ in shape)})


def _no_minus_one(case):
    """A reshape case with its -1 worked out (the shape of a tensor for view_as/reshape_as)."""
    shape, size = case.kw["shape"], math.prod(case.shapes[0])
    known = math.prod(n for n in shape if n != -1)
    return Case(case.shapes, {"shape": tuple(size // known if n == -1 else n for n in shape)})


def _np_flip(x, dims):
    return np.flip(x, dims) if x.ndim else x.copy()


def _np_roll(x, shifts, dims):
    return np.roll(x, shifts, dims)


# ---------------------------------------------------- gather, masked_fill, lerp
@st.composite
def gather_case(draw):
    """An index of x's rank: along dim any length (repeats included), elsewhere up to x's."""
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    ishape = tuple(draw(st.integers(1, 4)) if a == dim % nd else draw(st.integers(1, n))
                   for a, n in enumerate(shape))
    index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[dim] - 1)))
    return Case((shape,), {"dim": dim, "index": index})


def _np_gather(x, dim, index):
    d = dim % x.ndim
    part = x[tuple(slice(None) if a == d else slice(0, m) for a, m in enumerate(index.shape))]
    return np.take_along_axis(part, index, axis=d)


@st.composite
def masked_fill_case(draw, tensor_value=False):
    """x and a bool mask that broadcast together (the result has the broadcast shape)."""
    r = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=MAX_DIMS,
                                               max_side=MAX_SIDE))
    x_shape, m_shape = r.input_shapes
    kw = {"mask": draw(hnp.arrays(np.bool_, m_shape))}
    if tensor_value:
        return Case((x_shape, ()), kw)
    kw["value"] = draw(st.sampled_from([0.0, -1.5, 3]))
    return Case((x_shape,), kw)


def _np_masked_fill(x, mask, value):
    return np.where(mask, value, x)


def _lerp_weights():
    return st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, -0.5, 1.5])


# ------------------------------------ sorting, selection, products, scatter (composites)
def _sel(x, dim, index):
    """numpy: x at ``index`` (a 1-d int array) along ``dim``."""
    return np.take(x, index, axis=dim)


@st.composite
def sort_case(draw):
    shape = draw(shapes(min_dims=1))
    return Case((shape,), {"dim": draw(st.integers(-len(shape), len(shape) - 1)),
                           "descending": draw(st.booleans())})


def _np_sort(x, dim, descending):
    y = np.sort(x, axis=dim)
    return np.flip(y, dim) if descending else y


@st.composite
def topk_case(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return Case((shape,), {"dim": dim, "k": draw(st.integers(0, shape[dim])),
                           "largest": draw(st.booleans())})


def _np_topk(x, dim, k, largest):
    return np.take(_np_sort(x, dim, largest), np.arange(k), axis=dim)


@st.composite
def kth_case(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return Case((shape,), {"dim": dim, "k": draw(st.integers(1, shape[dim])),
                           "keepdim": draw(st.booleans())})


def _np_kth(x, dim, k, keepdim):
    y = np.take(np.sort(x, axis=dim), [k - 1], axis=dim)
    return y if keepdim else np.squeeze(y, dim)


def _np_median(x, dim, keepdim):
    return _np_kth(x, dim, (x.shape[dim] + 1) // 2, keepdim)  # the lower middle


@st.composite
def tri_case(draw):
    return Case((draw(shapes(min_dims=2)),), {"diagonal": draw(st.integers(-2, 2))})


@st.composite
def bmm_case(draw):
    b, n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(4))
    return Case(((b, n, k), (b, k, m)), {})


@st.composite
def outer_case(draw):
    return Case(((draw(st.integers(1, 4)),), (draw(st.integers(1, 4)),)), {})


@st.composite
def diff_case(draw):
    shape = draw(shapes(min_dims=1))
    return Case((shape,), {"dim": draw(st.integers(-len(shape), len(shape) - 1)),
                           "n": draw(st.integers(0, 3))})


@st.composite
def index_select_case(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    index = draw(hnp.arrays(np.int64, (draw(st.integers(0, 4)),),
                            elements=st.integers(0, shape[dim] - 1)))
    return Case((shape,), {"dim": dim, "index": index})


@st.composite
def narrow_case(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    start = draw(st.integers(0, shape[dim]))
    return Case((shape,), {"dim": dim, "start": start,
                           "length": draw(st.integers(0, shape[dim] - start))})


@st.composite
def scatter_case(draw, unique=False, larger_src=False):
    """x, src and an index of x's rank, no larger than x outside dim; src the index's shape (or
    ``larger_src``: up to one more along each dim, of which torch reads the leading block); with
    ``unique`` no position of x is named twice (scatter's rule)."""
    shape = draw(shapes(min_dims=1))
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    d = dim % nd
    ishape = tuple(draw(st.integers(1, n)) for n in shape)
    src_shape = tuple(m + draw(st.integers(0, int(larger_src))) for m in ishape)
    if unique:  # along d, distinct rows of x for each other position: a permutation's head
        keys = draw(hnp.arrays(np.float64, ishape[:d] + (shape[d],) + ishape[d + 1:],
                               elements=st.floats(0, 1), unique=True))
        index = np.take(np.argsort(keys, axis=d), np.arange(ishape[d]), axis=d)
    else:
        index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[d] - 1)))
    return Case((shape, src_shape), {"dim": dim, "index": index})


def _np_scatter(x, src, dim, index, add):
    out = x.copy()
    d = dim % x.ndim
    for pos in np.ndindex(*index.shape):
        target = pos[:d] + (index[pos],) + pos[d + 1:]
        out[target] = out[target] + src[pos] if add else src[pos]
    return out


@st.composite
def index_add_case(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    d = dim % len(shape)
    index = draw(hnp.arrays(np.int64, (draw(st.integers(1, 4)),),
                            elements=st.integers(0, shape[d] - 1)))
    source = shape[:d] + (index.size,) + shape[d + 1:]
    return Case((shape, source), {"dim": dim, "index": index,
                                  "alpha": draw(st.sampled_from([1, 2.0, -0.5]))})


def _np_index_add(x, source, dim, index, alpha):
    out = x.copy()
    np.add.at(out, (slice(None),) * (dim % x.ndim) + (index,), alpha * source)
    return out


# ------------------------------------------------ activations of nn.functional (composites)
import minigrad.nn.functional as NF  # noqa: E402


def _np_erf(x):
    from scipy import special
    return special.erf(x)


def _np_gelu(x, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _np_erf(x / np.sqrt(2)))


def _np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(x))


_SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)


def _np_softplus(x):
    return np.logaddexp(0, x)


@st.composite
def glu_case(draw):
    shape = list(draw(shapes(min_dims=1)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    shape[dim] = 2 * draw(st.integers(1, 2))
    return Case((tuple(shape),), {"dim": dim})


def _np_glu(x, dim):
    a, b = np.split(x, 2, axis=dim)
    return a * _np_sigmoid(b)


@st.composite
def prelu_case(draw):
    """x of 1-4 dims and a weight of one slope, or one per channel (dim 1) for 2+ dims."""
    shape = draw(shapes(min_dims=1, max_dims=4 if MAX_DIMS < 4 else MAX_DIMS, max_side=2))
    k = shape[1] if len(shape) >= 2 and draw(st.booleans()) else 1
    return Case((shape, (k,)), {})


def _np_prelu(x, w):
    if w.size > 1:
        w = w.reshape((-1,) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, w * x)


@st.composite
def two_same(draw, min_dims=1, min_side=1, **kw):
    """Two inputs of one shape, plus keyword arguments drawn from strategies."""
    shape = draw(shapes(min_dims=min_dims, min_side=min_side))
    return Case((shape, shape), {k: draw(s) for k, s in kw.items()})


def _np_normalize(x, p, dim):
    n = np.sum(np.abs(x) ** p, axis=dim, keepdims=True) ** (1 / p)
    return x / np.maximum(n, 1e-12)


def _np_cosine(a, b, dim):
    na = np.maximum(np.linalg.norm(a, axis=dim, keepdims=True), 1e-8)
    nb = np.maximum(np.linalg.norm(b, axis=dim, keepdims=True), 1e-8)
    return np.sum((a / na) * (b / nb), axis=dim)


def _np_smooth_l1(a, b, beta, reduction):
    d = np.abs(a - b)
    loss = np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta) if beta else d
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _np_huber(a, b, delta, reduction):
    return delta * _np_smooth_l1(a, b, delta, reduction)
# ---------------------------------------------------------------------------- pooling
@st.composite
def pool_case(draw, kind):
    """A (C, H, W) or (N, C, H, W) input of at most 2 planes of up to 5x5 and a pooling torch
    accepts: padding <= kernel // 2, and H, W >= max(effective kernel - 2 padding, dilation),
    so every window holds an input element (a dilated window can otherwise lie in the padding,
    which torch fills with -inf and minigrad refuses)."""
    lead = draw(st.sampled_from([(1,), (2,), (1, 1), (1, 2), (2, 1)]))
    k = tuple(draw(st.integers(1, 3)) for _ in range(2))
    p = tuple(draw(st.integers(0, n // 2)) for n in k)
    d = tuple(draw(st.integers(1, 2)) for _ in range(2)) if kind == "max" else (1, 1)
    hw = tuple(draw(st.integers(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i], d[i]), 5))
               for i in range(2))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    square = k[0] == k[1] and p[0] == p[1]  # int arguments where they may be
    kw = {"kernel_size": k[0] if square and draw(st.booleans()) else k, "stride": stride,
          "padding": p[0] if square else p, "ceil_mode": draw(st.booleans())}
    if kind == "max":
        kw["dilation"] = d
    else:
        kw["count_include_pad"] = draw(st.booleans())
        kw["divisor_override"] = draw(st.sampled_from([None, None, 3, -2]))
    return Case((lead + hw,), kw)


@st.composite
def adaptive_pool_case(draw):
    lead = draw(st.sampled_from([(1,), (2,), (1, 1), (1, 2), (2, 1)]))
    hw = tuple(draw(st.integers(1, 5)) for _ in range(2))
    size = draw(st.one_of(st.integers(1, 6), st.tuples(st.integers(1, 6),
                                                       st.none() | st.integers(1, 6))))
    return Case((lead + hw,), {"output_size": size})


def _np_pool_output(n, k, s, p, d, ceil_mode):
    """torch's pooling_output_shape (aten/src/ATen/native/Pool.h)."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    return o - 1 if ceil_mode and (o - 1) * s >= n + p else o


def _np_pool(x, kernel_size, stride, padding, ceil_mode, dilation=1, count_include_pad=True,
             divisor_override=None, reduce="max"):
    """Max or average pooling by loops over the output pixels (torch's CPU kernels' rules)."""
    def pair(v):
        return tuple(v) if isinstance(v, tuple) else (v, v)
    k, p, d = pair(kernel_size), pair(padding), pair(dilation)
    s = k if stride is None else pair(stride)
    *lead, h, w = x.shape
    oh, ow = (_np_pool_output(n, k[i], s[i], p[i], d[i], ceil_mode) for i, n in enumerate((h, w)))
    out = np.empty(tuple(lead) + (oh, ow))
    for i, j in np.ndindex(oh, ow):
        r0, c0 = i * s[0] - p[0], j * s[1] - p[1]
        rows = [r for r in range(r0, r0 + d[0] * (k[0] - 1) + 1, d[0]) if 0 <= r < h]
        cols = [c for c in range(c0, c0 + d[1] * (k[1] - 1) + 1, d[1]) if 0 <= c < w]
        win = x[..., rows, :][..., cols]
        if reduce == "max":
            out[..., i, j] = win.max(axis=(-2, -1))
            continue
        if divisor_override is not None:
            div = divisor_override
        elif count_include_pad:  # the padding counts, the overhang past it does not
            div = (min(r0 + k[0], h + p[0]) - r0) * (min(c0 + k[1], w + p[1]) - c0)
        else:
            div = len(rows) * len(cols)
        out[..., i, j] = win.sum(axis=(-2, -1)) / div
    return out


def _np_adaptive_pool(x, output_size, reduce):
    *lead, h, w = x.shape
    size = output_size if isinstance(output_size, tuple) else (output_size, output_size)
    oh, ow = (n if o is None else o for o, n in zip(size, (h, w)))
    out = np.empty(tuple(lead) + (oh, ow))
    for i, j in np.ndindex(oh, ow):
        rows = slice(math.floor(i * h / oh), math.ceil((i + 1) * h / oh))
        cols = slice(math.floor(j * w / ow), math.ceil((j + 1) * w / ow))
        out[..., i, j] = getattr(x[..., rows, cols], reduce)(axis=(-2, -1))
    return out


# ------------------------------------------------------------------------------ einsum
_EINSUMS = ["ij,jk->ik", "ij->ji", "ii->i", "ii->", "ij->", "bij,bjk->bik", "i,i->", "i,j->ij",
            "...ij,...jk->...ik", "ij,ij->ij", "ijk->kji", "ij,jk", "ba", "iij->j", "abc,cd->abd",
            "i,ij,j->", "ij,ij->j", "...i->...", "ii,i->i"]


@st.composite
def einsum_case(draw):
    """One of _EINSUMS, each letter a size of 1-3 (size 1 where a letter may broadcast), the
    ellipsis one or two leading dims."""
    eq = draw(st.sampled_from(_EINSUMS))
    size = {c: draw(st.integers(1, MAX_SIDE)) for c in sorted(set(eq) - set(",.->"))}
    lead = tuple(draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 2))))
    shapes = tuple(lead + tuple(size[c] for c in s.replace("...", "")) if "..." in s else
                   tuple(size[c] for c in s) for s in eq.partition("->")[0].split(","))
    return Case(shapes, {"equation": eq})


# ------------------------------------------- gamma family, distances, products, quantiles
def _np_polygamma(x, n):
    from scipy import special
    return special.polygamma(n, x)


def _np_lgamma(x):
    from scipy import special
    return special.gammaln(x)


@st.composite
def cdist_case(draw):
    """x1 (..., P, M) and x2 (..., R, M), batch dims (0-2) that broadcast, p > 0 finite (p = 0
    and inf, and coincident points, are in tests/test_special_ops.py)."""
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                    min_side=1, max_side=2))
    p_rows, r_rows, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    return Case((batch.input_shapes[0] + (p_rows, m), batch.input_shapes[1] + (r_rows, m)),
                {"p": draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]))})


def _np_cdist(x1, x2, p):
    d = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    return (d ** p).sum(-1) ** (1 / p)


def _torch_cdist_composite(x1, x2, p):
    """torch.cdist's distance in torch's differentiable ops: torch 2.13 has no second
    derivative of cdist (its _cdist_backward is not differentiable), and the table compares
    second derivatives. Away from coincident points (``distinct``) the two agree; torch.cdist
    itself is compared at first order, coincident points included, in test_special_ops.py."""
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs().pow(p).sum(-1).pow(1 / p)


@st.composite
def tensordot_case(draw):
    """dims an int n (a's last n with b's first n) or two lists (any order, negative dims)."""
    side = st.integers(1, MAX_SIDE)
    if draw(st.booleans()):
        n = draw(st.integers(0, 2))
        shared = tuple(draw(side) for _ in range(n))
        a = tuple(draw(side) for _ in range(draw(st.integers(0, 2)))) + shared
        b = shared + tuple(draw(side) for _ in range(draw(st.integers(0, 2))))
        return Case((a, b), {"dims": n})
    a = draw(shapes(min_dims=1))
    k = draw(st.integers(1, len(a)))
    da = draw(st.permutations(range(len(a))))[:k]
    nb = k + draw(st.integers(0, 2))
    db = draw(st.permutations(range(nb)))[:k]
    b = [None] * nb
    for i, j in zip(da, db):
        b[j] = a[i]
    b = tuple(m if m is not None else draw(side) for m in b)
    da = [d - len(a) if draw(st.booleans()) else d for d in da]
    db = [d - nb if draw(st.booleans()) else d for d in db]
    return Case((a, b), {"dims": (da, db)})


@st.composite
def kron_case(draw):
    return Case((draw(shapes(max_dims=3)), draw(shapes(max_dims=3))), {})


@st.composite
def cross_case(draw):
    """Two shapes of one rank with 3 at ``dim``, broadcasting along the others."""
    shape = list(draw(shapes(min_dims=1)))
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    shape[dim] = 3
    other = [m if i == dim % nd or not draw(st.booleans()) else 1 for i, m in enumerate(shape)]
    if draw(st.booleans()):
        shape, other = other, shape
    return Case((tuple(shape), tuple(other)), {"dim": dim})


# q values whose ranks q (n - 1) are exact in float32 and float64 alike (NumPy's reference
# ranks in float64, minigrad and torch in the input's dtype: 0.3 * 10 would round across an
# integer); other q are compared with torch, which ranks as minigrad does, in test_special_ops
_DYADIC_Q = [0.0, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0]
_QUANTILE_MODES = ["linear", "lower", "higher", "midpoint", "nearest"]


@st.composite
def quantile_case(draw):
    case = draw(reduction(allow_tuple=False))
    q = draw(st.one_of(st.sampled_from(_DYADIC_Q),
                       st.lists(st.sampled_from(_DYADIC_Q), min_size=1, max_size=3).map(
                           np.array)))
    return Case(case.shapes, dict(case.kw, q=q,
                                  interpolation=draw(st.sampled_from(_QUANTILE_MODES))))


@st.composite
def nanquantile_case(draw):
    case = draw(with_nans(keep_one=True))
    return Case(case.shapes, dict(case.kw, q=draw(st.sampled_from(_DYADIC_Q)),
                                  interpolation=draw(st.sampled_from(_QUANTILE_MODES))))


def _q(q, like):
    """q as the op takes it: a float, or a tensor of the input's dtype and kind."""
    if not isinstance(q, np.ndarray):
        return q
    if isinstance(like, minigrad.Tensor):
        return minigrad.tensor(q.astype(like.dtype), device=like.device)
    return _torch().tensor(q, dtype=like.dtype)


def _quantile(module, x, q, dim, keepdim, interpolation):
    return module.quantile(x, _q(q, x), dim, keepdim, interpolation=interpolation)


def _np_quantile(x, q, dim, keepdim, interpolation):
    return np.quantile(x, q, axis=dim, keepdims=keepdim, method=interpolation)


# ------------------------------------------------ diagonals, repeats, running extremes, nan*
@st.composite
def diagonal_case(draw):
    shape = draw(shapes(min_dims=2))
    nd = len(shape)
    d1 = draw(st.integers(-nd, nd - 1))
    d2 = draw(st.integers(-nd, nd - 1).filter(lambda d: d % nd != d1 % nd))
    return Case((shape,), {"offset": draw(st.integers(-2, 2)), "dim1": d1, "dim2": d2})


@st.composite
def repeat_interleave_case(draw):
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    per_slice = draw(st.booleans())
    repeats = (draw(hnp.arrays(np.int64, (shape[dim],), elements=st.integers(0, 3)))
               if per_slice else draw(st.integers(0, 3)))
    return Case((shape,), {"repeats": repeats, "dim": dim})


def _np_nanmean(x, nans, dim, keepdim):
    y = np.where(nans, np.nan, x)
    return np.nanmean(y, dim, keepdims=keepdim)


@st.composite
def with_nans(draw, keep_one=False):
    """One input of 1+ dims, a dim, keepdim, and a mask of elements to make NaN (with
    ``keep_one``, never a whole slice along dim: its nanmean would be NaN)."""
    shape = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    nans = draw(hnp.arrays(np.bool_, shape))
    if keep_one:
        nans[(slice(None),) * (dim % len(shape)) + (0,)] = False
    return Case((shape,), {"dim": dim, "keepdim": draw(st.booleans()), "nans": nans})


def _with_nans(x, nans):
    return x.masked_fill(minigrad.tensor(nans, device=x.device), float("nan")) \
        if isinstance(x, minigrad.Tensor) \
        else x.masked_fill(_torch().tensor(nans), float("nan"))


@st.composite
def meshgrid_case(draw):
    n = draw(st.integers(1, 3))
    return Case(tuple((draw(st.integers(1, 3)),) for _ in range(n)),
                {"indexing": draw(st.sampled_from(["ij", "xy"]))})


# ------------------------------------------------------------------------ linear algebra
LINALG = (-1.0, 1.0)  # entries of the drawn matrices, before _conditioned


def _mT(a):
    return a.swapaxes(-1, -2) if isinstance(a, np.ndarray) else a.mT


def _conditioned(a, negative=False):
    """a + 4 I (with ``negative``, the last diagonal entry -4): for n <= 3 and entries in [-1, 1]
    strictly diagonally dominant (|4| - 1 > 2 >= any off-diagonal row sum), so invertible and
    well-conditioned, its determinant of the shift's sign. For minigrad, numpy or torch ``a``,
    in its dtype."""
    shift = np.diag(np.full(a.shape[-1], 4.0))
    if negative:
        shift[-1, -1] = -4.0
    if isinstance(a, np.ndarray):
        return a + shift
    if isinstance(a, minigrad.Tensor):
        return a + minigrad.tensor(shift.astype(a.dtype), device=a.device)
    return a + _torch().tensor(shift, dtype=a.dtype)


def _spd(a):
    """A symmetric positive-definite matrix from a: (a + a^T) / 2 + 4 I (see _conditioned)."""
    return _conditioned((a + _mT(a)) * 0.5)


def square(max_batch_dims=2, **kw_strategies):
    """One batch of square matrices (*, n, n), up to 2 x 2 of them, n 1-3."""
    @st.composite
    def draw_case(draw):
        batch = draw(shapes(min_dims=0, max_dims=max_batch_dims, max_side=2))
        n = draw(st.integers(1, MAX_SIDE))
        return Case((batch + (n, n),), {k: draw(s) for k, s in kw_strategies.items()})
    return draw_case()


def _vector_rhs(a_shape, b_shape):
    """torch.linalg.solve's rule: B is a (batch of) vector(s) when 1-d or of A's shape minus its
    last dim."""
    return len(b_shape) == 1 or (len(b_shape) == len(a_shape) - 1 and
                                 tuple(b_shape) == tuple(a_shape[:-1]))


@st.composite
def solve_case(draw):
    """A (*, n, n) and B: a vector (n,), a batch of vectors A.shape[:-1], or matrices (*, n, k)
    (``left=False``: (*, k, n)) whose batch dims broadcast with A's."""
    n = draw(st.integers(1, MAX_SIDE))
    kind = draw(st.sampled_from(["vector", "vectors", "matrices"]))
    if kind != "matrices":
        batch = draw(shapes(min_dims=0, max_dims=2, max_side=2))
        return Case((batch + (n, n), (n,) if kind == "vector" else batch + (n,)), {"left": True})
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                  max_side=2))
    batch_a, batch_b = pair.input_shapes
    k, left = draw(st.integers(1, 3)), draw(st.booleans())
    a_shape, b_shape = batch_a + (n, n), batch_b + ((n, k) if left else (k, n))
    if _vector_rhs(a_shape, b_shape):  # taken for vectors, which left=False refuses (torch)
        left = True
    return Case((a_shape, b_shape), {"left": left})


def _np_solve(a, b, left):
    a = _conditioned(a)
    vector = _vector_rhs(a.shape, b.shape)
    if vector:
        b = b[..., None]
    if not left:
        a, b = _mT(a), _mT(b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    x = np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]),
                        np.broadcast_to(b, batch + b.shape[-2:]))
    if not left:
        x = _mT(x)
    return x[..., 0] if vector else x


def _np_vector_norm(x, ord, dim, keepdim):
    ax = np.abs(x)
    if ord == math.inf:
        return ax.max(axis=dim, keepdims=keepdim)
    if ord == -math.inf:
        return ax.min(axis=dim, keepdims=keepdim)
    return (ax ** ord).sum(axis=dim, keepdims=keepdim) ** (1.0 / ord)


def _alternating(x):
    """x times a fixed pattern of signs (+, -, +, ...), for minigrad, numpy or torch x: with x
    drawn positive and distinct, |result| has no kinks and no ties, and both signs appear."""
    shape = tuple(x.shape)
    signs = np.where(np.arange(math.prod(shape)).reshape(shape) % 2 == 0, 1.0, -1.0)
    if isinstance(x, np.ndarray):
        return x * signs
    if isinstance(x, minigrad.Tensor):
        return x * minigrad.tensor(signs.astype(x.dtype), device=x.device)
    return x * _torch().tensor(signs, dtype=x.dtype)


def with_ord(cases, ords):
    """``cases`` with an ``ord`` drawn from ``ords`` added to their keyword arguments."""
    return st.tuples(cases, st.sampled_from(ords)).map(
        lambda t: Case(t[0].shapes, {**t[0].kw, "ord": t[1]}))


@st.composite
def matrix_dims_case(draw):
    """Input of 2+ dims, two distinct dims (maybe negative) and keepdim."""
    shape = draw(shapes(min_dims=2))
    nd = len(shape)
    d0 = draw(st.integers(-nd, nd - 1))
    d1 = draw(st.integers(-nd, nd - 1).filter(lambda d: d % nd != d0 % nd))
    return Case((shape,), {"dim": (d0, d1), "keepdim": draw(st.booleans())})


# ------------------------------------------------------------------------------- table
POS = (0.2, 3.0)   # log, sqrt, non-integer powers
T = _torch

SPECS: list[OpSpec] = [
    # ---------------------------------------------------------------- arithmetic
    OpSpec("add", lambda a, b: a + b, broadcast(), np.add, lambda a, b: a + b),
    OpSpec("sub", lambda a, b: a - b, broadcast(), np.subtract, lambda a, b: a - b),
    OpSpec("mul", lambda a, b: a * b, broadcast(), np.multiply, lambda a, b: a * b),
    OpSpec("div", lambda a, b: a / b, broadcast(), np.divide, lambda a, b: a / b,
           kinks=(0.0,), margin=0.3),
    OpSpec("pow_tensor", lambda a, b: a ** b, broadcast(), np.power, lambda a, b: a ** b,
           # torch's pow backward masks exponent == 0, which zeroes the mixed second
           # derivative d2/(da db) there; minigrad gives the true value (1 at a=1, b=0).
           domain=(POS, (-2.0, 2.0)), kinks=(0.0,)),
    OpSpec("pow_int_tensor", lambda x, p: x ** minigrad.tensor(p, device=x.device),
           int_exponent_case(),
           lambda x, p: x ** p.astype(float), lambda x, p: x ** T().tensor(p),
           kinks=(0.0,), margin=0.3),
    OpSpec("neg", lambda x: -x, unary(), np.negative, lambda x: -x),
    OpSpec("neg_fn", F.neg, unary(), np.negative, lambda x: -x),
    OpSpec("neg_method", lambda x: x.neg(), unary(), np.negative, lambda x: x.neg()),
    OpSpec("add_scalar", lambda x, c: x + c, unary(c=scalars), lambda x, c: x + c,
           lambda x, c: x + c),
    OpSpec("radd_scalar", lambda x, c: c + x, unary(c=scalars), lambda x, c: c + x,
           lambda x, c: c + x),
    OpSpec("sub_scalar", lambda x, c: x - c, unary(c=scalars), lambda x, c: x - c,
           lambda x, c: x - c),
    OpSpec("rsub_scalar", lambda x, c: c - x, unary(c=scalars), lambda x, c: c - x,
           lambda x, c: c - x),
    OpSpec("mul_scalar", lambda x, c: x * c, unary(c=scalars), lambda x, c: x * c,
           lambda x, c: x * c),
    OpSpec("rmul_scalar", lambda x, c: c * x, unary(c=scalars), lambda x, c: c * x,
           lambda x, c: c * x),
    OpSpec("div_scalar", lambda x, c: x / c, unary(c=nonzero_scalars), lambda x, c: x / c,
           lambda x, c: x / c),
    OpSpec("rdiv_scalar", lambda x, c: c / x, unary(c=scalars), lambda x, c: c / x,
           lambda x, c: c / x, kinks=(0.0,), margin=0.3),
    OpSpec("pow_int", lambda x, p: x ** p, unary(p=st.integers(-2, 3)), lambda x, p: x ** float(p),
           lambda x, p: x ** p, kinks=(0.0,), margin=0.3),
    OpSpec("pow_float", lambda x, p: x ** p, unary(p=st.floats(-2.0, 2.5)),
           lambda x, p: x ** p, lambda x, p: x ** p, domain=POS),
    OpSpec("pow_method", lambda x, p: x.pow(p), unary(p=st.sampled_from([0.5, 2, 3, -1])),
           lambda x, p: x ** float(p), lambda x, p: x.pow(p), domain=POS),
    OpSpec("rpow_scalar", lambda x, c: c ** x, unary(c=st.floats(0.25, 3.0)),
           lambda x, c: c ** x, lambda x, c: c ** x),
    OpSpec("matmul", lambda a, b: a @ b, matmul_case(), np.matmul, lambda a, b: a @ b),
    OpSpec("matmul_fn", F.matmul, matmul_case(), np.matmul, lambda a, b: T().matmul(a, b)),
    OpSpec("einsum", lambda *xs, equation: minigrad.einsum(equation, *xs), einsum_case(),
           lambda *xs, equation: np.einsum(equation, *xs),
           lambda *xs, equation: T().einsum(equation, *xs)),
    # --------------------------------------------------------------- elementwise
    OpSpec("exp", F.exp, unary(), np.exp, lambda x: x.exp()),
    OpSpec("log", F.log, unary(), np.log, lambda x: x.log(), domain=POS),
    OpSpec("sqrt", F.sqrt, unary(), np.sqrt, lambda x: x.sqrt(), domain=POS),
    OpSpec("square", minigrad.square, unary(), np.square, lambda x: T().square(x)),
    OpSpec("log1p", minigrad.log1p, unary(), np.log1p, lambda x: T().log1p(x),
           domain=(-0.8, 3.0)),
    OpSpec("expm1", lambda x: x.expm1(), unary(), np.expm1, lambda x: x.expm1()),
    OpSpec("rsqrt", minigrad.rsqrt, unary(), lambda x: 1 / np.sqrt(x), lambda x: T().rsqrt(x),
           domain=POS),
    OpSpec("reciprocal", lambda x: x.reciprocal(), unary(), np.reciprocal,
           lambda x: x.reciprocal(), kinks=(0.0,), margin=0.3),
    OpSpec("abs", F.abs, unary(), np.abs, lambda x: x.abs(), kinks=(0.0,)),
    OpSpec("tanh", F.tanh, unary(), np.tanh, lambda x: x.tanh(), domain=(-3.0, 3.0)),
    OpSpec("sigmoid", F.sigmoid, unary(), _np_sigmoid, lambda x: x.sigmoid(),
           domain=(-4.0, 4.0)),
    OpSpec("relu", F.relu, unary(), lambda x: np.maximum(x, 0), lambda x: x.relu(),
           kinks=(0.0,), uses_kernels=True),
    OpSpec("leaky_relu", F.leaky_relu, unary(negative_slope=st.sampled_from([0.01, 0.2, 0.5])),
           lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
           lambda x, negative_slope: _tF().leaky_relu(x, negative_slope), kinks=(0.0,),
           uses_kernels=True),
    OpSpec("softplus", F.softplus, unary(beta=st.sampled_from([1.0, 0.5, 2.0]),
                                         threshold=st.sampled_from([20.0, 1.0, 3.0])),
           lambda x, beta, threshold: np.where(beta * x > threshold, x,
                                               np.logaddexp(0, beta * x) / beta),
           lambda x, beta, threshold: _tF().softplus(x, beta=beta, threshold=threshold),
           domain=(-4.0, 4.0), kinks=lambda kw: (kw["threshold"] / kw["beta"],)),
    OpSpec("sin", F.sin, unary(), np.sin, lambda x: x.sin(), domain=(-4.0, 4.0)),
    OpSpec("cos", F.cos, unary(), np.cos, lambda x: x.cos(), domain=(-4.0, 4.0)),
    OpSpec("tan", minigrad.tan, unary(), np.tan, lambda x: T().tan(x), domain=(-1.2, 1.2)),
    OpSpec("asin", lambda x: x.asin(), unary(), np.arcsin, lambda x: x.asin(),
           domain=(-0.9, 0.9)),
    OpSpec("acos", minigrad.acos, unary(), np.arccos, lambda x: T().acos(x), domain=(-0.9, 0.9)),
    OpSpec("atan", minigrad.arctan, unary(), np.arctan, lambda x: T().atan(x)),
    OpSpec("atan2", minigrad.atan2, broadcast(), np.arctan2, lambda a, b: T().atan2(a, b),
           domain=(0.3, 2.0)),
    OpSpec("sinh", minigrad.sinh, unary(), np.sinh, lambda x: T().sinh(x)),
    OpSpec("cosh", lambda x: x.cosh(), unary(), np.cosh, lambda x: x.cosh()),
    OpSpec("asinh", minigrad.asinh, unary(), np.arcsinh, lambda x: T().asinh(x)),
    OpSpec("acosh", minigrad.acosh, unary(), np.arccosh, lambda x: T().acosh(x),
           domain=(1.2, 3.0)),
    OpSpec("atanh", minigrad.atanh, unary(), np.arctanh, lambda x: T().atanh(x),
           domain=(-0.9, 0.9)),
    OpSpec("log2", minigrad.log2, unary(), np.log2, lambda x: T().log2(x), domain=POS),
    OpSpec("log10", lambda x: x.log10(), unary(), np.log10, lambda x: x.log10(), domain=POS),
    OpSpec("exp2", minigrad.exp2, unary(), np.exp2, lambda x: T().exp2(x)),
    OpSpec("logaddexp", minigrad.logaddexp, broadcast(), np.logaddexp,
           lambda a, b: T().logaddexp(a, b), distinct=True),
    OpSpec("xlogy", minigrad.xlogy, broadcast(), lambda a, b: a * np.log(b),
           lambda a, b: T().xlogy(a, b), domain=((-2.0, 2.0), POS), kinks=(0.0,)),
    OpSpec("logit", minigrad.logit, unary(), lambda x: np.log(x / (1 - x)),
           lambda x: T().logit(x), domain=(0.05, 0.95)),
    OpSpec("hypot", minigrad.hypot, broadcast(), np.hypot, lambda a, b: T().hypot(a, b),
           kinks=(0.0,), margin=0.2),
    OpSpec("erf", minigrad.erf, unary(), _np_erf, lambda x: T().erf(x)),
    OpSpec("erfc", lambda x: x.erfc(), unary(), lambda x: 1 - _np_erf(x), lambda x: x.erfc()),
    # the gamma family away from its poles (the poles: test_special_ops.py)
    OpSpec("lgamma", minigrad.lgamma, unary(), _np_lgamma, lambda x: T().lgamma(x),
           domain=(0.2, 4.0)),
    OpSpec("digamma", lambda x: x.digamma(), unary(), lambda x: _np_polygamma(x, 0),
           lambda x: x.digamma(), domain=(0.2, 4.0)),
    OpSpec("polygamma", lambda x, n: minigrad.polygamma(n, x), unary(n=st.integers(0, 3)),
           _np_polygamma, lambda x, n: T().polygamma(n, x), domain=(0.2, 4.0)),
    OpSpec("polygamma_method", lambda x, n: x.polygamma(n), unary(n=st.integers(1, 2)),
           _np_polygamma, lambda x, n: x.polygamma(n), domain=(0.2, 4.0)),
    # ------------------------------------------ nn.functional's other activations (composites)
    OpSpec("gelu", NF.gelu, unary(approximate=st.sampled_from(["none", "tanh"])), _np_gelu,
           lambda x, approximate: _tF().gelu(x, approximate=approximate), domain=(-4.0, 4.0)),
    OpSpec("elu", NF.elu, unary(alpha=st.sampled_from([1.0, 0.5, 2.0])), _np_elu,
           lambda x, alpha: _tF().elu(x, alpha), kinks=(0.0,)),
    OpSpec("selu", NF.selu, unary(), lambda x: _SELU[1] * _np_elu(x, _SELU[0]),
           lambda x: _tF().selu(x), kinks=(0.0,)),
    OpSpec("celu", NF.celu, unary(alpha=st.sampled_from([1.0, 0.5, 2.0])),
           lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x / alpha)),
           lambda x, alpha: _tF().celu(x, alpha), kinks=(0.0,)),
    OpSpec("silu", NF.silu, unary(), lambda x: x * _np_sigmoid(x), lambda x: _tF().silu(x),
           domain=(-4.0, 4.0)),
    OpSpec("mish", NF.mish, unary(), lambda x: x * np.tanh(_np_softplus(x)),
           lambda x: _tF().mish(x), domain=(-4.0, 4.0)),
    OpSpec("hardtanh", lambda x, lo, hi: NF.hardtanh(x, lo, hi), unary(
        lo=st.sampled_from([-1.0, -0.5]),
                                          hi=st.sampled_from([1.0, 1.5])),
           lambda x, lo, hi: np.clip(x, lo, hi), lambda x, lo, hi: _tF().hardtanh(x, lo, hi),
           kinks=lambda kw: (kw["lo"], kw["hi"])),
    OpSpec("relu6", NF.relu6, unary(), lambda x: np.clip(x, 0, 6),
           lambda x: _tF().relu6(x), domain=(-2.0, 8.0), kinks=(0.0, 6.0)),
    # (torch's hardsigmoid has no second derivative, "not implemented": its twin here is its
    # formula in torch ops; tests/test_activations.py compares the first with torch's own)
    OpSpec("hardsigmoid", NF.hardsigmoid, unary(), lambda x: np.clip(x / 6 + 0.5, 0, 1),
           lambda x: T().clamp(x / 6 + 0.5, 0, 1), domain=(-5.0, 5.0), kinks=(-3.0, 3.0)),
    OpSpec("hardswish", NF.hardswish, unary(), lambda x: x * np.clip(x + 3, 0, 6) / 6,
           lambda x: _tF().hardswish(x), domain=(-5.0, 5.0), kinks=(-3.0, 3.0)),
    OpSpec("logsigmoid", NF.logsigmoid, unary(), lambda x: -_np_softplus(-x),
           lambda x: _tF().logsigmoid(x), domain=(-4.0, 4.0)),
    OpSpec("softsign", NF.softsign, unary(), lambda x: x / (1 + np.abs(x)),
           lambda x: _tF().softsign(x), kinks=(0.0,)),
    OpSpec("glu", NF.glu, glu_case(), _np_glu, lambda x, dim: _tF().glu(x, dim)),
    OpSpec("prelu", NF.prelu, prelu_case(), _np_prelu, lambda x, w: _tF().prelu(x, w),
           kinks=(0.0,)),
    # (both with at least 2 elements along dim: along a single one the result is the constant
    # +-1, whose second derivative, 0, is a float32 cancellation of terms ~1/x^2)
    OpSpec("normalize", NF.normalize, unary(min_dims=2, min_side=2,
                                            p=st.sampled_from([1.0, 2.0])).map(
        lambda c: Case(c.shapes, {**c.kw, "dim": 1})), _np_normalize,
           lambda x, p, dim: _tF().normalize(x, p, dim), kinks=(0.0,), margin=0.05),
    OpSpec("cosine_similarity", NF.cosine_similarity,
           two_same(min_dims=1, min_side=2, dim=st.just(-1)),
           _np_cosine, lambda a, b, dim: _tF().cosine_similarity(a, b, dim),
           kinks=(0.0,), margin=0.05),
    OpSpec("smooth_l1_loss", lambda a, b, beta, reduction: NF.smooth_l1_loss(
        a, b, reduction, beta), two_same(min_dims=0, beta=st.sampled_from([1.0, 0.5, 0.0]),
                                         reduction=st.sampled_from(["mean", "sum", "none"])),
           _np_smooth_l1, lambda a, b, beta, reduction: _tF().smooth_l1_loss(
               a, b, reduction=reduction, beta=beta), distinct=True, margin=0.05),
    OpSpec("huber_loss", lambda a, b, delta, reduction: NF.huber_loss(a, b, reduction, delta),
           two_same(min_dims=0, delta=st.sampled_from([1.0, 0.5]),
                    reduction=st.sampled_from(["mean", "sum", "none"])),
           _np_huber, lambda a, b, delta, reduction: _tF().huber_loss(
               a, b, reduction=reduction, delta=delta), distinct=True, margin=0.05),
    OpSpec("lerp", minigrad.lerp, broadcast(3), lambda a, b, w: a + w * (b - a),
           lambda a, b, w: T().lerp(a, b, w), domain=((-2.0, 2.0), (-2.0, 2.0), (-0.5, 1.5)),
           kinks=(0.5, -0.5)),  # torch changes form at |w| = 0.5: equal values, not bits
    OpSpec("lerp_scalar", lambda a, b, weight: a.lerp(b, weight), broadcast().flatmap(
        lambda c: _lerp_weights().map(lambda w: Case(c.shapes, {"weight": w}))),
           lambda a, b, weight: a + weight * (b - a), lambda a, b, weight: a.lerp(b, weight)),
    OpSpec("clamp", F.clamp, clamp_case(), lambda x, min, max: np.clip(x, min, max),
           lambda x, min, max: x.clamp(min, max), kinks=_clamp_kinks),
    # tensor bounds, broadcast with x, lo > hi included (then y = hi); distinct: no x on a bound
    OpSpec("clamp_tensor", lambda x, lo, hi: x.clamp(lo, hi), broadcast(3),
           lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
           lambda x, lo, hi: _torch_clamp(x, lo, hi), distinct=True),
    OpSpec("clamp_tensor_min", lambda x, lo: minigrad.clamp(x, min=lo), broadcast(),
           np.maximum, lambda x, lo: _torch_clamp(x, lo, None), distinct=True),
    OpSpec("clamp_tensor_max", lambda x, hi: x.clip(max=hi), broadcast(),
           np.minimum, lambda x, hi: _torch_clamp(x, None, hi), distinct=True),
    OpSpec("maximum", F.maximum, broadcast(), np.maximum, lambda a, b: T().maximum(a, b),
           distinct=True),
    OpSpec("minimum", F.minimum, broadcast(), np.minimum, lambda a, b: T().minimum(a, b),
           distinct=True),
    OpSpec("where", lambda a, b, cond: F.where(cond, a, b), where_case(),
           lambda a, b, cond: np.where(cond, a, b),
           lambda a, b, cond: T().where(T().as_tensor(cond), a, b)),
    # ------------------------------------------ rounding: gradient 0 (kinks: the jumps)
    OpSpec("sign", minigrad.sign, unary(), np.sign, lambda x: T().sign(x), kinks=(0.0,)),
    OpSpec("floor", lambda x: x.floor(), unary(), np.floor, lambda x: x.floor(),
           kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    OpSpec("ceil", minigrad.ceil, unary(), np.ceil, lambda x: T().ceil(x),
           kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    OpSpec("trunc", minigrad.trunc, unary(), np.trunc, lambda x: T().trunc(x),
           kinks=(-2.0, -1.0, 0.0, 1.0, 2.0)),
    OpSpec("round", lambda x: x.round(), unary(), np.round, lambda x: x.round(),
           kinks=(-1.5, -0.5, 0.5, 1.5)),
    OpSpec("round_decimals", lambda x, decimals: minigrad.round(x, decimals=decimals),
           unary(decimals=st.sampled_from([1, 2])), lambda x, decimals: np.round(x, decimals),
           lambda x, decimals: T().round(x, decimals=decimals),
           kinks=lambda kw: tuple((k + 0.5) / 10 ** kw["decimals"] for k in range(-201, 201)),
           margin=1e-3),
    # ------------------------- remainder: jumps where a / b is an integer, kept off the domain
    OpSpec("remainder_scalar", lambda x, c: x % c,
           unary(c=st.sampled_from([1.5, -0.75, 2.5, -2, 3])), lambda x, c: np.remainder(x, c),
           lambda x, c: x % c, kinks=lambda kw: tuple(k * kw["c"] for k in range(-4, 5)),
           margin=0.05),
    OpSpec("remainder", lambda a, b: a % b, broadcast(), np.remainder, lambda a, b: a % b,
           domain=((-1.95, -1.05), (2.0, 3.0))),        # floor(a / b) = -1
    OpSpec("remainder_negative_divisor", minigrad.remainder, broadcast(), np.remainder,
           lambda a, b: T().remainder(a, b), domain=((1.05, 1.95), (-3.0, -2.0))),  # -1
    OpSpec("remainder_method", lambda a, b: a.remainder(b), broadcast(), np.remainder,
           lambda a, b: a.remainder(b), domain=((4.2, 5.8), (3.0, 4.0))),            # 1
    # torch has no derivative of number % tensor; minigrad's is -floor(c / x), as for tensors
    OpSpec("rremainder_scalar", lambda x, c: c % x, unary(c=st.sampled_from([3.0, -2.5])),
           lambda x, c: np.remainder(c, x), None, domain=(0.5, 2.0),
           kinks=lambda kw: tuple(kw["c"] / k for k in range(-8, 9) if k), margin=0.02),
    # ---------------------------------------------------------------- reductions
    OpSpec("sum", lambda x, dim, keepdim: x.sum(dim, keepdim), reduction(), _np_reduce(np.sum),
           _torch_reduce(lambda x, **k: x.sum(**k))),
    OpSpec("mean", lambda x, dim, keepdim: x.mean(dim, keepdim), reduction(),
           _np_reduce(np.mean), _torch_reduce(lambda x, **k: x.mean(**k))),
    OpSpec("var", lambda x, dim, keepdim: x.var(dim, keepdim=keepdim), reduction(min_dims=1, min_side=2),
           lambda x, dim, keepdim: np.var(x, axis=dim, ddof=1, keepdims=keepdim),
           _torch_reduce(lambda x, **k: x.var(**k))),
    OpSpec("std", lambda x, dim, keepdim: x.std(dim, keepdim=keepdim), reduction(min_dims=1, min_side=2),
           lambda x, dim, keepdim: np.std(x, axis=dim, ddof=1, keepdims=keepdim),
           # std = sqrt(var) has its kink where all values along dim coincide: keep them apart
           _torch_reduce(lambda x, **k: x.std(**k)), distinct=True, margin=0.25),
    OpSpec("amax", lambda x, dim, keepdim: x.amax(dim, keepdim), reduction(),
           _np_reduce(np.max), _torch_reduce(lambda x, **k: x.amax(**k)), distinct=True),
    OpSpec("amin", lambda x, dim, keepdim: x.amin(dim, keepdim), reduction(),
           _np_reduce(np.min), _torch_reduce(lambda x, **k: x.amin(**k)), distinct=True),
    OpSpec("max_dim", lambda x, dim, keepdim: x.max(dim, keepdim).values,
           reduction(min_dims=1, allow_none=False, allow_tuple=False), _np_reduce(np.max),
           lambda x, dim, keepdim: x.max(dim, keepdim).values, distinct=True),
    OpSpec("min_dim", lambda x, dim, keepdim: x.min(dim, keepdim).values,
           reduction(min_dims=1, allow_none=False, allow_tuple=False), _np_reduce(np.min),
           lambda x, dim, keepdim: x.min(dim, keepdim).values, distinct=True),
    OpSpec("max_all", lambda x: x.max(), unary(), np.max, lambda x: x.max(), distinct=True),
    OpSpec("min_all", lambda x: minigrad.min(x), unary(), np.min, lambda x: x.min(),
           distinct=True),
    OpSpec("cumsum", lambda x, dim: x.cumsum(dim), one_dim(), lambda x, dim: np.cumsum(x, dim),
           lambda x, dim: x.cumsum(dim)),
    OpSpec("cumsum_fn", minigrad.cumsum, one_dim(), lambda x, dim: np.cumsum(x, dim),
           lambda x, dim: T().cumsum(x, dim)),
    OpSpec("logsumexp", lambda x, dim, keepdim: x.logsumexp(dim, keepdim),
           reduction(min_dims=1, allow_none=False), _np_logsumexp,
           lambda x, dim, keepdim: T().logsumexp(x, dim, keepdim), domain=(-4.0, 4.0)),
    OpSpec("softmax", lambda x, dim: x.softmax(dim), one_dim(), _np_softmax,
           lambda x, dim: x.softmax(dim), domain=(-4.0, 4.0)),
    OpSpec("log_softmax", lambda x, dim: x.log_softmax(dim), one_dim(),
           lambda x, dim: np.log(_np_softmax(x, dim)), lambda x, dim: x.log_softmax(dim),
           domain=(-4.0, 4.0)),
    OpSpec("norm", lambda x, p, dim, keepdim: x.norm(p, dim, keepdim), norm_case(), _np_norm,
           _torch_norm, kinks=(0.0,), margin=0.05),
    # ---------------------------------------------------------------- shape ops
    OpSpec("reshape", lambda x, shape: x.reshape(shape), reshape_case(),
           lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape)),
    OpSpec("clone", lambda x: x.clone(), unary(), lambda x: x.copy(), lambda x: x.clone()),
    OpSpec("view", lambda x, shape: x.view(*shape), reshape_case(),
           lambda x, shape: x.reshape(shape), lambda x, shape: x.view(shape)),
    OpSpec("flatten", lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim), flatten_case(),
           lambda x, start_dim, end_dim: x.reshape(
               x.shape[:start_dim % x.ndim] + (-1,) + x.shape[end_dim % x.ndim + 1:]),
           lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim)),
    OpSpec("transpose", lambda x, dim0, dim1: x.transpose(dim0, dim1), transpose_case(),
           lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1),
           lambda x, dim0, dim1: x.transpose(dim0, dim1)),
    OpSpec("permute", lambda x, dims: x.permute(*dims), permute_case(),
           lambda x, dims: np.transpose(x, dims), lambda x, dims: x.permute(*dims)),
    OpSpec("t", minigrad.t, unary(max_dims=2), lambda x: x.T, lambda x: T().t(x)),
    OpSpec("t_method", lambda x: x.t(), unary(max_dims=2), lambda x: x.T, lambda x: x.t()),
    OpSpec("view_as", lambda x, shape: x.view_as(minigrad.zeros(*shape)),
           reshape_case().map(_no_minus_one),
           lambda x, shape: x.reshape(shape), lambda x, shape: x.view_as(T().zeros(shape))),
    OpSpec("reshape_as", lambda x, shape: x.reshape_as(minigrad.zeros(*shape)),
           reshape_case().map(_no_minus_one),
           lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape_as(T().zeros(shape))),
    OpSpec("flip", minigrad.flip, flip_case(), _np_flip,
           lambda x, dims: T().flip(x, dims)),
    OpSpec("flip_method", lambda x, dims: x.flip(*dims), flip_case().filter(
        lambda c: c.kw["dims"]), _np_flip, lambda x, dims: x.flip(dims)),
    OpSpec("roll", minigrad.roll, roll_case(), _np_roll, lambda x, shifts, dims: T().roll(
        x, shifts, dims) if dims is not None else T().roll(x, shifts)),
    OpSpec("repeat", lambda x, sizes: x.repeat(*sizes), repeat_case(),
           lambda x, sizes: np.tile(x, sizes), lambda x, sizes: x.repeat(sizes)),
    OpSpec("T", lambda x: x.T, unary(min_dims=1), lambda x: x.T,
           lambda x: x.permute(*reversed(range(x.ndim)))),
    OpSpec("expand", lambda x, sizes: x.expand(*sizes), expand_case(),
           lambda x, sizes: np.broadcast_to(
               x, tuple(x.shape[i - (len(sizes) - x.ndim)] if n == -1 else n
                        for i, n in enumerate(sizes))),
           lambda x, sizes: x.expand(sizes)),
    OpSpec("squeeze", lambda x, dim: x.squeeze(dim), squeeze_case(),
           lambda x, dim: np.squeeze(x) if dim is None else
           (np.squeeze(x, dim) if x.shape[dim] == 1 else x),
           lambda x, dim: x.squeeze() if dim is None else x.squeeze(dim)),
    OpSpec("unsqueeze", lambda x, dim: x.unsqueeze(dim), unsqueeze_case(),
           lambda x, dim: np.expand_dims(x, dim), lambda x, dim: x.unsqueeze(dim)),
    # --------------------------------------------------------- indexing (scatter-add grad)
    OpSpec("getitem_basic", _getitem, basic_index_case(), _getitem, _torch_getitem),
    OpSpec("getitem_int_array", _getitem, int_array_index_case(), _getitem, _torch_getitem,
           uses_kernels=True),
    OpSpec("getitem_repeated", _getitem, repeated_index_case(), _getitem, _torch_getitem,
           uses_kernels=True),
    OpSpec("getitem_mask", _getitem, mask_index_case(), _getitem, _torch_getitem,
           uses_kernels=True),
    OpSpec("gather", lambda x, dim, index: x.gather(dim, minigrad.tensor(index)), gather_case(),
           _np_gather, lambda x, dim, index: T().gather(x, dim, T().tensor(index)),
           uses_kernels=True),
    OpSpec("masked_fill", lambda x, mask, value: x.masked_fill(minigrad.tensor(mask), value),
           masked_fill_case(), _np_masked_fill,
           lambda x, mask, value: x.masked_fill(T().tensor(mask), value)),
    OpSpec("masked_fill_tensor_value", lambda x, v, mask: minigrad.masked_fill(
        x, minigrad.tensor(mask), v), masked_fill_case(tensor_value=True),
           lambda x, v, mask: np.where(mask, v, x),
           lambda x, v, mask: T().masked_fill(x, T().tensor(mask), v)),
    # ------------------------------------------------------------- join and split
    OpSpec("cat", lambda *xs, dim: minigrad.cat(xs, dim), cat_case(),
           lambda *xs, dim: np.concatenate(xs, axis=dim), lambda *xs, dim: T().cat(xs, dim)),
    OpSpec("stack", lambda *xs, dim: minigrad.stack(xs, dim), stack_case(),
           lambda *xs, dim: np.stack(xs, axis=dim), lambda *xs, dim: T().stack(xs, dim)),
    OpSpec("split", lambda x, split_size, dim: x.split(split_size, dim), split_case(), _np_split,
           lambda x, split_size, dim: x.split(split_size, dim)),
    OpSpec("chunk", lambda x, chunks, dim: x.chunk(chunks, dim), chunk_case(), _np_chunk,
           lambda x, chunks, dim: x.chunk(chunks, dim)),
    # ------------------- sorting, selection, products, scatter (composites of GetItem, Mul)
    OpSpec("sort", lambda x, dim, descending: x.sort(dim, descending).values, sort_case(),
           _np_sort, lambda x, dim, descending: x.sort(dim=dim, descending=descending).values,
           distinct=True),
    OpSpec("msort", minigrad.msort, unary(min_dims=1), lambda x: np.sort(x, axis=0),
           lambda x: T().msort(x), distinct=True),
    OpSpec("topk", lambda x, dim, k, largest: x.topk(k, dim, largest).values, topk_case(),
           _np_topk, lambda x, dim, k, largest: x.topk(k, dim, largest).values, distinct=True),
    OpSpec("kthvalue", lambda x, dim, k, keepdim: x.kthvalue(k, dim, keepdim).values,
           kth_case(), _np_kth, lambda x, dim, k, keepdim: x.kthvalue(k, dim, keepdim).values,
           distinct=True),
    OpSpec("median_dim", lambda x, dim, keepdim: x.median(dim, keepdim).values,
           reduction(min_dims=1, allow_none=False, allow_tuple=False), _np_median,
           lambda x, dim, keepdim: x.median(dim, keepdim).values, distinct=True),
    OpSpec("median_all", lambda x: minigrad.median(x), unary(),
           lambda x: _np_median(x.reshape(-1), 0, False), lambda x: x.median(), distinct=True),
    OpSpec("prod", lambda x, dim, keepdim: x.prod(dim, keepdim),
           reduction(allow_tuple=False), lambda x, dim, keepdim: np.prod(x, dim, keepdims=keepdim),
           lambda x, dim, keepdim: x.prod(dim, keepdim) if dim is not None else
           x.prod().reshape((1,) * x.ndim if keepdim else ()), kinks=(0.0,), margin=0.05),
    # (away from 0: torch's gradient of prod divides by x, exact at 0 itself but not near it,
    # e.g. its second derivative at x = (1, 1e-150) is 0 where the true one is not; exact zeros
    # are compared with torch in tests/test_more_ops.py)
    OpSpec("cumprod", minigrad.cumprod, one_dim(), lambda x, dim: np.cumprod(x, dim),
           lambda x, dim: T().cumprod(x, dim), kinks=(0.0,), margin=0.05),
    OpSpec("tril", lambda x, diagonal: x.tril(diagonal), tri_case(),
           lambda x, diagonal: np.tril(x, diagonal), lambda x, diagonal: x.tril(diagonal)),
    OpSpec("triu", minigrad.triu, tri_case(), lambda x, diagonal: np.triu(x, diagonal),
           lambda x, diagonal: T().triu(x, diagonal)),
    OpSpec("bmm", minigrad.bmm, bmm_case(), np.matmul, lambda a, b: T().bmm(a, b)),
    OpSpec("outer", lambda a, b: a.outer(b), outer_case(), np.outer, lambda a, b: T().outer(a, b)),
    # distinct: no two coordinates equal, so no coincident points and no zero differences
    OpSpec("cdist", minigrad.cdist, cdist_case(), _np_cdist, _torch_cdist_composite,
           distinct=True, margin=0.05),
    OpSpec("tensordot", lambda a, b, dims: minigrad.tensordot(a, b, dims), tensordot_case(),
           lambda a, b, dims: np.tensordot(a, b, dims),
           lambda a, b, dims: T().tensordot(a, b, dims)),
    OpSpec("kron", lambda a, b: a.kron(b), kron_case(), np.kron, lambda a, b: T().kron(a, b)),
    OpSpec("cross", lambda a, b, dim: a.cross(b, dim), cross_case(),
           lambda a, b, dim: np.cross(a, b, axis=dim),
           lambda a, b, dim: T().linalg.cross(a, b, dim=dim)),
    # distinct: ties make the picked element (and so the gradient) jump
    OpSpec("quantile", lambda x, **kw: _quantile(minigrad, x, **kw), quantile_case(),
           _np_quantile, lambda x, **kw: _quantile(T(), x, **kw), distinct=True),
    OpSpec("quantile_method", lambda x, q, dim, keepdim, interpolation: x.quantile(
        _q(q, x), dim, keepdim, interpolation=interpolation), quantile_case(), _np_quantile,
           lambda x, q, dim, keepdim, interpolation: x.quantile(
               _q(q, x), dim, keepdim, interpolation=interpolation), distinct=True),
    OpSpec("nanquantile", lambda x, nans, q, dim, keepdim, interpolation: minigrad.nanquantile(
        _with_nans(x, nans), q, dim, keepdim, interpolation=interpolation), nanquantile_case(),
           lambda x, nans, q, dim, keepdim, interpolation: np.nanquantile(
               np.where(nans, np.nan, x), q, axis=dim, keepdims=keepdim, method=interpolation),
           lambda x, nans, q, dim, keepdim, interpolation: T().nanquantile(
               _with_nans(x, nans), q, dim, keepdim, interpolation=interpolation),
           distinct=True),
    OpSpec("unbind", lambda x, dim: x.unbind(dim), one_dim(),
           lambda x, dim: tuple(np.moveaxis(x, dim, 0)), lambda x, dim: x.unbind(dim)),
    OpSpec("diff", lambda x, dim, n: x.diff(n, dim), diff_case(),
           lambda x, dim, n: np.diff(x, n, axis=dim), lambda x, dim, n: x.diff(n, dim)),
    OpSpec("narrow", lambda x, dim, start, length: x.narrow(dim, start, length), narrow_case(),
           lambda x, dim, start, length: np.take(x, np.arange(start, start + length), axis=dim),
           lambda x, dim, start, length: x.narrow(dim, start, length)),
    OpSpec("index_select", lambda x, dim, index: x.index_select(dim, minigrad.tensor(index)),
           index_select_case(), _sel,
           lambda x, dim, index: x.index_select(dim, T().tensor(index)), uses_kernels=True),
    OpSpec("scatter_add", lambda x, src, dim, index: x.scatter_add(dim, minigrad.tensor(index),
                                                                   src),
           scatter_case(), lambda x, src, dim, index: _np_scatter(x, src, dim, index, True),
           lambda x, src, dim, index: x.scatter_add(dim, T().tensor(index), src),
           uses_kernels=True),
    # (no torch twin: torch 2.13's backward of scatter_add with a src larger than the index
    # returns src's gradient in the index's shape, and its autograd refuses it)
    OpSpec("scatter_add_larger_src", lambda x, src, dim, index: x.scatter_add(
        dim, minigrad.tensor(index), src), scatter_case(larger_src=True),
           lambda x, src, dim, index: _np_scatter(x, src, dim, index, True)),
    OpSpec("scatter", lambda x, src, dim, index: x.scatter(dim, minigrad.tensor(index), src),
           scatter_case(unique=True),
           lambda x, src, dim, index: _np_scatter(x, src, dim, index, False),
           lambda x, src, dim, index: x.scatter(dim, T().tensor(index), src), uses_kernels=True),
    OpSpec("index_add", lambda x, s, dim, index, alpha: x.index_add(
        dim, minigrad.tensor(index), s, alpha=alpha), index_add_case(), _np_index_add,
           lambda x, s, dim, index, alpha: x.index_add(dim, T().tensor(index), s, alpha=alpha),
           uses_kernels=True),
    OpSpec("diagonal", lambda x, offset, dim1, dim2: x.diagonal(offset, dim1, dim2),
           diagonal_case(), lambda x, offset, dim1, dim2: np.diagonal(x, offset, dim1, dim2),
           lambda x, offset, dim1, dim2: x.diagonal(offset, dim1, dim2), uses_kernels=True),
    OpSpec("diag_embed", lambda x, offset: minigrad.diag_embed(x, offset),
           unary(min_dims=1, offset=st.integers(-2, 2)),
           lambda x, offset: np.apply_along_axis(lambda v: np.diag(v, offset), -1, x)
           if x.ndim > 1 else np.diag(x, offset),
           lambda x, offset: T().diag_embed(x, offset), uses_kernels=True),
    OpSpec("diag", lambda x, diagonal: minigrad.diag(x, diagonal),
           unary(min_dims=1, max_dims=2, diagonal=st.integers(-2, 2)),
           lambda x, diagonal: np.diag(x, diagonal),
           lambda x, diagonal: T().diag(x, diagonal), uses_kernels=True),
    OpSpec("trace", lambda x: x.trace(), unary(min_dims=2, max_dims=2), np.trace,
           lambda x: x.trace(), uses_kernels=True),
    # ------------------------------------------------------------------- linear algebra
    # (inputs moved to well-conditioned matrices by _conditioned / _spd, inside fn)
    OpSpec("linalg.inv", lambda a: minigrad.linalg.inv(_conditioned(a)), square(),
           lambda a: np.linalg.inv(_conditioned(a)), lambda a: T().linalg.inv(_conditioned(a)),
           domain=LINALG),
    OpSpec("inverse", lambda a: _conditioned(a).inverse(), square(),
           lambda a: np.linalg.inv(_conditioned(a)), lambda a: _conditioned(a).inverse(),
           domain=LINALG),
    OpSpec("linalg.det", lambda a, negative: minigrad.linalg.det(_conditioned(a, negative)),
           square(negative=st.booleans()), lambda a, negative: np.linalg.det(
               _conditioned(a, negative)),
           lambda a, negative: T().linalg.det(_conditioned(a, negative)), domain=LINALG),
    OpSpec("det", lambda a: minigrad.det(_conditioned(a)), square(),
           lambda a: np.linalg.det(_conditioned(a)), lambda a: T().det(_conditioned(a)),
           domain=LINALG),
    OpSpec("linalg.slogdet", lambda a, negative: tuple(minigrad.linalg.slogdet(
        _conditioned(a, negative))), square(negative=st.booleans()),
           lambda a, negative: tuple(np.linalg.slogdet(_conditioned(a, negative))),
           lambda a, negative: tuple(T().linalg.slogdet(_conditioned(a, negative))),
           domain=LINALG),
    OpSpec("slogdet_method", lambda a: tuple(_conditioned(a, True).slogdet()), square(),
           lambda a: tuple(np.linalg.slogdet(_conditioned(a, True))),
           lambda a: tuple(_conditioned(a, True).slogdet()), domain=LINALG),
    OpSpec("logdet", lambda a: minigrad.logdet(_conditioned(a)), square(),
           lambda a: np.linalg.slogdet(_conditioned(a))[1],
           lambda a: T().logdet(_conditioned(a)), domain=LINALG),
    OpSpec("linalg.solve", lambda a, b, left: minigrad.linalg.solve(_conditioned(a), b,
                                                                    left=left),
           solve_case(), _np_solve,
           lambda a, b, left: T().linalg.solve(_conditioned(a), b, left=left), domain=LINALG),
    OpSpec("linalg.cholesky", lambda a, upper: minigrad.linalg.cholesky(_spd(a), upper=upper),
           square(upper=st.booleans()),
           lambda a, upper: (_mT if upper else np.asarray)(np.linalg.cholesky(_spd(a))),
           lambda a, upper: T().linalg.cholesky(_spd(a), upper=upper), domain=LINALG),
    OpSpec("linalg.vector_norm", lambda x, ord, dim, keepdim: minigrad.linalg.vector_norm(
        x, ord, dim, keepdim), with_ord(reduction(), [2, 1, 3, 1.5, 0.5, -1]),
           _np_vector_norm, lambda x, ord, dim, keepdim: T().linalg.vector_norm(
               x, ord, dim, keepdim), kinks=(0.0,), margin=0.05),
    OpSpec("linalg.vector_norm_inf", lambda x, ord, dim, keepdim: minigrad.linalg.vector_norm(
        _alternating(x), ord, dim, keepdim), with_ord(reduction(), [math.inf, -math.inf]),
           lambda x, ord, dim, keepdim: _np_vector_norm(_alternating(x), ord, dim, keepdim),
           lambda x, ord, dim, keepdim: T().linalg.vector_norm(_alternating(x), ord, dim,
                                                               keepdim),
           domain=(0.1, 2.0), distinct=True),
    OpSpec("linalg.matrix_norm_fro", lambda x, dim, keepdim: minigrad.linalg.matrix_norm(
        x, "fro", dim, keepdim), matrix_dims_case(),
           lambda x, dim, keepdim: np.sqrt((x * x).sum(axis=dim, keepdims=keepdim)),
           lambda x, dim, keepdim: T().linalg.matrix_norm(x, "fro", dim, keepdim),
           kinks=(0.0,), margin=0.05),
    OpSpec("repeat_interleave", lambda x, repeats, dim: x.repeat_interleave(
        minigrad.tensor(repeats) if isinstance(repeats, np.ndarray) else repeats, dim),
           repeat_interleave_case(), lambda x, repeats, dim: np.repeat(x, repeats, dim),
           lambda x, repeats, dim: x.repeat_interleave(
               T().tensor(repeats) if isinstance(repeats, np.ndarray) else repeats, dim),
           uses_kernels=True),
    OpSpec("cummax", lambda x, dim: x.cummax(dim).values, one_dim(),
           lambda x, dim: np.maximum.accumulate(x, dim), lambda x, dim: x.cummax(dim).values,
           distinct=True, uses_kernels=True),
    OpSpec("cummin", lambda x, dim: minigrad.cummin(x, dim).values, one_dim(),
           lambda x, dim: np.minimum.accumulate(x, dim), lambda x, dim: T().cummin(x, dim).values,
           distinct=True, uses_kernels=True),
    OpSpec("nansum", lambda x, dim, keepdim, nans: _with_nans(x, nans).nansum(dim, keepdim),
           with_nans(), lambda x, dim, keepdim, nans: np.nansum(np.where(nans, np.nan, x), dim,
                                                              keepdims=keepdim),
           lambda x, dim, keepdim, nans: _with_nans(x, nans).nansum(dim, keepdim)),
    OpSpec("nanmean", lambda x, dim, keepdim, nans: minigrad.nanmean(_with_nans(x, nans), dim,
                                                                    keepdim),
           with_nans(keep_one=True),
           lambda x, dim, keepdim, nans: _np_nanmean(x, nans, dim, keepdim),
           lambda x, dim, keepdim, nans: T().nanmean(_with_nans(x, nans), dim, keepdim)),
    OpSpec("var_mean", lambda x, dim, keepdim: minigrad.var_mean(x, dim, keepdim=keepdim),
           reduction(min_dims=1, min_side=2), lambda x, dim, keepdim: (
               np.var(x, dim, ddof=1, keepdims=keepdim), np.mean(x, dim, keepdims=keepdim)),
           lambda x, dim, keepdim: T().var_mean(x, dim, keepdim=keepdim)),
    OpSpec("std_mean", lambda x, dim, keepdim: x.std_mean(dim, keepdim=keepdim),
           reduction(min_dims=1, min_side=2), lambda x, dim, keepdim: (
               np.std(x, dim, ddof=1, keepdims=keepdim), np.mean(x, dim, keepdims=keepdim)),
           lambda x, dim, keepdim: T().std_mean(x, dim, keepdim=keepdim), distinct=True,
           margin=0.25),
    OpSpec("clamp_min", lambda x, lo: x.clamp_min(lo), unary(lo=st.sampled_from([-0.5, 0.3])),
           lambda x, lo: np.maximum(x, lo), lambda x, lo: x.clamp_min(lo),
           kinks=lambda kw: (kw["lo"],)),
    OpSpec("clamp_max", lambda x, hi: minigrad.clamp_max(x, hi),
           unary(hi=st.sampled_from([-0.5, 0.3])), lambda x, hi: np.minimum(x, hi),
           lambda x, hi: T().clamp_max(x, hi), kinks=lambda kw: (kw["hi"],)),
    OpSpec("meshgrid", lambda *xs, indexing: minigrad.meshgrid(*xs, indexing=indexing),
           meshgrid_case(), lambda *xs, indexing: tuple(np.meshgrid(*xs, indexing=indexing)),
           lambda *xs, indexing: T().meshgrid(*xs, indexing=indexing)),
    OpSpec("pad_constant", F.pad, pad_case("constant"), _np_pad, _torch_pad),
    OpSpec("pad_reflect", F.pad, pad_case("reflect"), _np_pad, _torch_pad, uses_kernels=True),
    OpSpec("pad_replicate", F.pad, pad_case("replicate"), _np_pad, _torch_pad,
           uses_kernels=True),
    # ------------------------------- pooling (composites of GetItem, max(dim), where, sum)
    OpSpec("max_pool2d", NF.max_pool2d, pool_case("max"), _np_pool,
           lambda x, **kw: _tF().max_pool2d(x, **kw), distinct=True, uses_kernels=True),
    OpSpec("avg_pool2d", NF.avg_pool2d, pool_case("avg"),
           lambda x, **kw: _np_pool(x, reduce="mean", **kw),
           lambda x, **kw: _tF().avg_pool2d(x, **kw), uses_kernels=True),
    OpSpec("adaptive_avg_pool2d", NF.adaptive_avg_pool2d, adaptive_pool_case(),
           lambda x, output_size: _np_adaptive_pool(x, output_size, "mean"),
           lambda x, output_size: _tF().adaptive_avg_pool2d(x, output_size), uses_kernels=True),
    OpSpec("adaptive_max_pool2d", NF.adaptive_max_pool2d, adaptive_pool_case(),
           lambda x, output_size: _np_adaptive_pool(x, output_size, "max"),
           lambda x, output_size: _tF().adaptive_max_pool2d(x, output_size), distinct=True,
           uses_kernels=True),
]

SPEC_BY_NAME = {s.name: s for s in SPECS}
assert len(SPEC_BY_NAME) == len(SPECS), "duplicate spec names"


# ------------------------------------------------------------------ helpers for the tests
def draw_inputs(data, spec: OpSpec, dtype=np.float64):
    """Draw one example for ``spec``: (list of arrays of ``dtype``, kw)."""
    case = data.draw(spec.case, label="case")
    arrays = []
    for i, shape in enumerate(case.shapes):
        lo, hi = spec.domain_of(i)
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                             allow_subnormal=False)
        # fill=nothing(): every element drawn on its own (not one repeated fill value)
        arrays.append(data.draw(hnp.arrays(np.float64, shape, elements=elements,
                                           fill=st.nothing()), label=f"x{i}"))
    arrays = [a.astype(dtype) for a in spec.prepare(arrays, case.kw)]
    return arrays, case.kw


def as_tuple(out) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)
