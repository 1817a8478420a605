"""``Tensor``: an array (numpy or cupy) plus what autograd needs to differentiate through it.

Fields:
    data           the array (float32 by default; float64 allowed; integer/bool for labels, masks)
    grad           a Tensor accumulated by backward() (None until then)
    requires_grad  whether ops on this tensor are recorded
    _ctx           the Function node that produced it (None for leaves and untracked tensors)
    name           an optional label, shown in graph pictures

This class holds what a tensor *is* (storage, autograd fields, conversions, comparisons). What
can be *computed* from it, the operators and math methods (``x + y``, ``x.sum(1)``,
``x.softmax(-1)``, ...), is defined once per op in :mod:`minigrad.functional`, whose ``@op``
decorator makes each function a method here as well as a ``minigrad.<name>`` export: the import
order stays one way (autograd -> ops -> tensor -> functional) and an op has one definition.
"""
from __future__ import annotations

import functools
import numbers
import operator

import numpy as np

from minigrad import backend
from minigrad.autograd.engine import backward as _backward
from minigrad.autograd.function import TensorBase, _grad_hooks_used, mark_modified, version_box
from minigrad.autograd.grad_mode import _grad_enabled


# The array operations behind t += v, t -= v, t *= v, t /= v (Tensor._inplace_arith).
_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
            "/=": operator.itruediv}

# torch's dtype categories, lowest first (type promotion goes up: bool < integer < float)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_BOOL, _INT64, _FLOAT32 = np.dtype(np.bool_), np.dtype(np.int64), np.dtype(np.float32)
_PYTHON_DTYPES = {bool: _BOOL, int: _INT64, float: _FLOAT32}


def _category(dtype):
    try:
        return _CATEGORY[dtype.kind]
    except KeyError:
        raise TypeError(f"no type promotion for dtype {dtype}: tensors are bool, integer or "
                        "float") from None


def _promote_types(a, b):
    """``torch.promote_types``: within a category numpy's rule (int32 with int64 is int64,
    float32 with float64 float64); across categories the higher one's dtype as it is (int64
    with float32 is float32, where numpy gives float64)."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def _number_dtype(x):
    """The dtype torch gives a Python number (NumPy scalars included) next to a tensor or in
    ``full``: bool for a bool, int64 for an integer, float32 (torch's default float) otherwise.
    (torch reads a NumPy bool scalar as a float there, not as a bool.)"""
    if isinstance(x, bool):
        return _BOOL
    if type(x) is int or isinstance(x, numbers.Integral):
        return _INT64
    return _FLOAT32


def _list_dtype(seq):
    """torch.tensor's dtype for a (nested) list or tuple: the promotion (``_promote_types``) of
    its elements' dtypes, a Python float counting as float32, an int as int64, a bool as bool, a
    NumPy scalar or array as its own dtype; None for an empty one."""
    dtypes = set()
    for t in set(map(type, seq)):  # NOTE: the types, not the elements, in Python
        if t in _PYTHON_DTYPES:
            dtypes.add(_PYTHON_DTYPES[t])
        elif t is list or t is tuple:
            dtypes.update(_list_dtype(s) for s in seq if type(s) is t)
        elif issubclass(t, np.generic):
            dtypes.add(np.dtype(t))
        else:
            dtypes.update(np.asarray(s).dtype for s in seq if type(s) is t)
    dtypes.discard(None)
    return functools.reduce(_promote_types, dtypes) if dtypes else None


def _default_dtype(arr, data=None):
    """torch.tensor's dtype for ``data`` (``arr`` is numpy's reading of it): a Python float is
    float32, an int int64, a bool bool; a NumPy scalar keeps its dtype; a list or tuple takes
    ``_list_dtype`` ([1, 2.5] float32, [np.float64(1.)] float64, [np.int32(1)] int32)."""
    kind = arr.dtype.kind
    if kind in "US":
        first = f" ({arr.flat[0].item()!r}, ...)" if arr.size else ""
        raise TypeError(f"strings cannot become tensors{first}: a tensor holds numbers")
    if kind not in _CATEGORY:
        raise TypeError(f"cannot make a Tensor from data of dtype {arr.dtype}")
    if isinstance(data, np.generic):
        return arr.dtype
    if isinstance(data, (list, tuple)):
        dtype = _list_dtype(data)
        if dtype is not None:
            return dtype
    return _FLOAT32 if kind == "f" else _INT64 if kind in "iu" else _BOOL


def _as_array(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, backend.array_types()):
        arr = data
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype)
    else:
        arr = np.asarray(data)
        if arr.dtype == object:
            raise TypeError(f"cannot make a Tensor from {type(data).__name__} data: expected "
                            "numbers, nested lists of numbers, or an array")
        arr = arr.astype(dtype if dtype is not None else _default_dtype(arr, data),
                         copy=False)
    if device is not None:
        arr = backend.to_device(arr, device)
    return arr


def _dim(op, d, ndim, extra=0):
    """``d`` as a non-negative axis of a tensor of rank ``ndim`` (+ ``extra`` for ops that insert
    a dim, like unsqueeze); an IndexError naming the dim and the rank otherwise. A 0-d tensor
    accepts dims -1 and 0, as in torch."""
    n = max(ndim + extra, 1)
    if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
        raise TypeError(f"{op}: a dimension must be an int, got {d!r}")
    if not -n <= d < n:
        raise IndexError(f"{op}: dimension {d} is out of range for a tensor of rank {ndim} "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return int(d) % n


def _index_arrays(index):
    """Turn Tensors and lists inside an index into arrays numpy/cupy can use."""
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


_new = object.__new__


class RemovableHandle:
    """What registering a hook returns: ``remove()`` takes the hook out again."""

    _next_id = 0

    def __init__(self, hooks: dict, hook):
        RemovableHandle._next_id += 1
        self.id, self._hooks = RemovableHandle._next_id, hooks
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


class Tensor(TensorBase):
    # NOTE: _post_accumulate_grad_hooks is set only by register_post_accumulate_grad_hook (read
    # with getattr), so the constructors on the hot path do not pay for it.
    # _version (a one-element list: the in-place clock at the last in-place change of this
    # tensor's memory, shared with the views and detached twins over it; see
    # autograd.function.mark_modified) is set only when needed, read with getattr, and not
    # pickled. Sharing a list, not a reference to the source tensor, keeps no graph alive.
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "_retains_grad",
                 "_post_accumulate_grad_hooks", "_grad_hooks", "_version", "__weakref__")
    _PICKLED = tuple(k for k in __slots__ if k not in ("_version", "_grad_hooks", "__weakref__"))
    # Make `ndarray * Tensor` call Tensor.__rmul__ instead of numpy broadcasting over a Tensor.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None, device=None, name=None):
        self.data = _as_array(data, np.dtype(dtype) if dtype is not None else None, device)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad (got {self.data.dtype})")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = name
        self._retains_grad = False

    @staticmethod
    def _wrap(data, requires_grad, ctx):
        """Internal fast constructor: ``data`` is already an array of the right kind; always a
        plain Tensor (``Parameter._wrap`` too)."""
        t = _new(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._ctx = ctx
        t.name = None
        t._retains_grad = False
        return t

    # ----------------------------------------------------------------- attributes
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def xp(self):
        """The array module of ``data`` (numpy or cupy)."""
        return backend.get_array_module(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def size(self, dim=None):
        if dim is None:
            return self.data.shape
        if self.ndim == 0:
            raise IndexError(f"size: dimension {dim} is out of range for a tensor of rank 0 "
                             "(it has no dimensions)")
        return self.data.shape[_dim("size", dim, self.ndim)]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    # ------------------------------------------------------------ conversions
    def numpy(self) -> np.ndarray:
        """The data as a numpy array (copied to the host for a CUDA tensor)."""
        return backend.to_host(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        backend.counters.add("to_host")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (no copy). Changing it in place counts as changing
        this tensor too: a backward that needs this tensor's values then raises."""
        t = Tensor._wrap(self.data, False, None)
        t._version = version_box(self)
        return t

    def __getstate__(self):
        return {k: getattr(self, k) for k in self._PICKLED if hasattr(self, k)}

    def __setstate__(self, state):
        for k, v in state.items():
            setattr(self, k, v)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) only applies to leaves; use detach() here")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad (got {self.dtype})")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        self._retains_grad = True

    def register_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(grad)`` with this tensor's gradient each time a backward or ``grad()``
        computes it, before it is used further: the hook may return a tensor of the same shape
        to use instead (None keeps it). On a leaf, before ``.grad`` accumulates it; on an
        intermediate tensor, before its gradient flows on to the inputs (and before
        ``retain_grad()`` stores it). PyTorch's semantics; ``remove()`` on the returned handle
        unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        hooks = getattr(self, "_grad_hooks", None)
        if hooks is None:
            hooks = self._grad_hooks = {}
        _grad_hooks_used[0] = True
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook) -> "RemovableHandle":
        """Call ``hook(self)`` after each ``backward()`` has accumulated into this leaf's
        ``.grad`` (PyTorch's name and semantics: leaves only; ``minigrad.grad()``, which leaves
        ``.grad`` alone, does not call it). Hooks run once every leaf of that backward has its
        gradient, in registration order. Returns a handle whose ``remove()`` unregisters it.
        ``DistributedDataParallel`` averages gradients across processes from such hooks."""
        if self._ctx is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        hooks = getattr(self, "_post_accumulate_grad_hooks", None)
        if hooks is None:
            hooks = self._post_accumulate_grad_hooks = {}
        return RemovableHandle(hooks, hook)

    # ----------------------------------------------------------- memory and new tensors
    def is_contiguous(self) -> bool:
        """Whether the data is one C-ordered block (a transpose's is not)."""
        return bool(self.data.flags.c_contiguous)

    def contiguous(self) -> "Tensor":
        """self if its data is C-contiguous, else a contiguous copy (``clone``), as in torch."""
        return self if self.data.flags.c_contiguous else self.clone()

    def stride(self, dim=None):
        """The step in elements between neighbours along each dim (or along ``dim``)."""
        steps = tuple(s // self.data.itemsize for s in self.data.strides)
        return steps if dim is None else steps[_dim("stride", dim, self.ndim)]

    def element_size(self) -> int:
        return self.data.itemsize

    @property
    def itemsize(self) -> int:
        return self.data.itemsize

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    def type_as(self, other: "Tensor") -> "Tensor":
        """self converted to other's dtype."""
        return self.to(dtype=other.dtype)

    # .to() itself is an op (minigrad.functional.to: a dtype cast is differentiable).
    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def long(self):
        return Tensor._wrap(self.data.astype(np.int64), False, None)

    def int(self):
        return Tensor._wrap(self.data.astype(np.int32), False, None)

    def bool(self):
        return Tensor._wrap(self.data.astype(np.bool_), False, None)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def backward(self, gradient=None, retain_graph=None, create_graph=False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``retain_graph`` (default: ``create_graph``) keeps the graph for another backward;
        ``create_graph=True`` records the backward itself so the gradients can be differentiated;
        ``inputs`` (tensors) limits the accumulation to those tensors' ``.grad``, as in torch.
        """
        _backward(self, gradient, retain_graph, create_graph, inputs)

    # ------------------------------------------------------------------ printing
    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", precision=4, prefix="tensor(")
        extras = []
        if self.dtype != np.float32 and self.dtype.kind == "f" or self.dtype.kind not in "fib":
            extras.append(f"dtype={self.dtype}")
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{type(self._ctx).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is "
                               "ambiguous: use .any() or .all()")
        backend.counters.add("to_host")
        return bool(self.data.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __pos__(self):
        return self

    def __setitem__(self, index, value):
        self._check_inplace("assignment t[...] = v")
        self.data[_index_arrays(index)] = (
            value.data if isinstance(value, Tensor) else value)
        mark_modified((self,))

    # Comparisons give boolean tensors that carry no gradient.
    def _compare(self, other, op):
        o = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(self.xp.asarray(op(self.data, o)), False, None)

    def __lt__(self, other): return self._compare(other, lambda a, b: a < b)
    def __le__(self, other): return self._compare(other, lambda a, b: a <= b)
    def __gt__(self, other): return self._compare(other, lambda a, b: a > b)
    def __ge__(self, other): return self._compare(other, lambda a, b: a >= b)
    def __eq__(self, other): return self._compare(other, lambda a, b: a == b)
    def __ne__(self, other): return self._compare(other, lambda a, b: a != b)
    def __invert__(self): return Tensor._wrap(~self.data, False, None)
    def __and__(self, other): return self._compare(other, lambda a, b: a & b)
    def __or__(self, other): return self._compare(other, lambda a, b: a | b)

    # ------------------------------------------- methods beyond the ops in functional

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    # --------------------------------------------------- in-place (no graph) helpers
    # They record no op: on a tensor that requires grad they need no_grad() and a leaf (as
    # PyTorch's do on a leaf), and a backward that saved the old values raises (mark_modified).
    def _check_inplace(self, what):
        if self.requires_grad and _grad_enabled.get():
            raise RuntimeError(
                f"in-place {what} on a tensor that requires grad would corrupt its graph: build a "
                "new tensor (x * 0, minigrad.where, cat), change a clone(), or, for a leaf such as "
                "a parameter, do it under minigrad.no_grad()")

    def zero_(self):
        self._check_inplace("zero_()")
        self.data[...] = 0
        mark_modified((self,))
        return self

    def fill_(self, value):
        self._check_inplace("fill_()")
        self.data[...] = value
        mark_modified((self,))
        return self

    def copy_(self, src):
        self._check_inplace("copy_()")
        self.data[...] = src.data if isinstance(src, Tensor) else src
        mark_modified((self,))
        return self

    # t += v, t -= v, t *= v, t /= v change t's data in place, as in PyTorch (so that a manual
    # update `with no_grad(): p -= lr * p.grad` changes the parameter, not a local name). In grad
    # mode a tensor that requires grad is not changed: a leaf raises (as in PyTorch), and a
    # tensor computed by ops gets t = t + v, a new node (PyTorch changes it in place and records
    # the op; here other names for the old tensor keep the old value).
    def _inplace_arith(self, other, name):
        if self.requires_grad and _grad_enabled.get():
            if self._ctx is None:
                raise RuntimeError(
                    f"a leaf tensor that requires grad (a parameter) cannot be changed by `{name}` "
                    "in grad mode: do the update under minigrad.no_grad()")
            return NotImplemented  # Python falls back to t = t <op> v, recorded
        _INPLACE[name](self.data, other.data if isinstance(other, Tensor) else other)
        mark_modified((self,))
        return self

    def __iadd__(self, other): return self._inplace_arith(other, "+=")
    def __isub__(self, other): return self._inplace_arith(other, "-=")
    def __imul__(self, other): return self._inplace_arith(other, "*=")
    def __itruediv__(self, other): return self._inplace_arith(other, "/=")

