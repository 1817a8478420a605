"""The kernels a GPU step would launch, counted on the host: a stand-in for CuPy over NumPy.

    from benchmarks.cupy_launches import emulated_cuda
    with emulated_cuda():                      # minigrad sees a 'cuda' device backed by NumPy
        model = gans.get_model("dcgan")(cfg, device="cuda")
        with counters.count() as c:
            model.train_step(real)
    c["launch"], c["launch.cupy_copy__float32_float32"], ...

Inside ``emulated_cuda()`` minigrad's one CuPy import (``minigrad.backend.cuda.cupy``) is a
NumPy-backed stand-in: arrays are a NumPy subclass (:class:`DeviceArray`), the array calls
minigrad makes on them compute on the host as usual, and each records the kernel launches CuPy
would make for it in :mod:`minigrad.backend.counters` (event ``launch`` and
``launch.<kernel name>``, named as the CUDA profiler names CuPy's kernels, e.g.
``cupy_add__float32_float_float32`` for an array plus a Python scalar). The kernel registry's
calls go to the NumPy reference and count the launches of ``minigrad.kernels.cupy_gpu``'s glue
(one per kernel; the matrix products as CuPy's ``matmul`` or the direct cuBLAS call makes
them). So a change that cuts launches shows here, without a GPU, and a test can hold it.

What it models, from CuPy 14's sources (``cupy/_core/_routines_linalg.pyx``, ``core.pyx``):
every ufunc call and reduction is one kernel; ``ascontiguousarray``, ``copy``, ``astype`` to
another dtype, a ``reshape`` that cannot be a view and a ``__setitem__`` are copy kernels; a
matrix product is one GEMM after copies of operands that are neither C- nor F-contiguous (2-D)
or not C-contiguous (batched), and a batched product whose batch axes broadcast builds three
pointer arrays first (``cupy_mat_ptrs``, one kernel each). ``zeros`` is a memset (not a
kernel: the profiler's count leaves memsets and copies between host and device out, and so does
this). What it does not model: the several kernels one cuBLAS call may run (split-K
reductions, ...), CUB's two-pass reductions, and anything a GPU run does that the host does not
(an array that is contiguous on one and not on the other). It is a model; the profiler's count
(``benchmarks/gpu_kernels.py`` on a GPU) is the measurement. Checked against it at 7800ba6,
the commit an H200 profiled: 265 launches for the DCGAN-28 step where the profiler counted 276,
4-11% under it for the other steps, and the DCGAN-28 step's most frequent kernels the same
(docs/gpu.md).

CUDA graphs, emulated: the stand-in's ``cuda.Stream`` captures (``minigrad.graphs.graph`` and
``GraphedStep`` run unchanged). While capturing, each launch is kept as a step that redoes it
on the arrays' memory as it is then; what it wrote into memory from before the capture is
undone (a capture runs nothing), and a replay runs the steps in order. A replay therefore computes what the
eager step computes, bit for bit, unless the step holds a value the host would change (which
the replay repeats) or does work outside the launches; a copy to the host, a cuRAND draw, a
host-to-device copy or a product through CuPy's cuBLAS wrappers inside a capture raises, as
on a GPU (event ``uncapturable`` counts them outside one). :func:`trace_launches` lists each
launch with its host values, :func:`emulated_capture` runs code through its capture paths
without recording.
"""
from __future__ import annotations

import contextlib
import importlib
import sys
import types
from contextlib import contextmanager

import numpy as np

from minigrad.backend import counters

__all__ = ["emulated_cuda", "emulated_capture", "trace_launches", "DeviceArray", "launch",
           "uncapturable"]


def launch(name: str, n: int = 1, args=()) -> None:
    """Record ``n`` launches of kernel ``name`` (events ``launch`` and ``launch.<name>``), and
    in an open :func:`trace_launches` the name with what ``args`` holds besides the arrays."""
    if counters._active:
        counters.add("launch", n)
        counters.add("launch." + name, n)
    if _trace:
        _trace[-1].append((name, n, _host_values(args)))


_trace = []  # the open trace_launches() lists


def _host_values(obj):
    """What a launch takes from the host in ``obj``: scalars as they are, an array as its
    shape and dtype (its memory is the device's), lists, tuples and dicts item by item."""
    if isinstance(obj, np.ndarray):
        return ("array", obj.shape, obj.dtype.str)
    if isinstance(obj, (list, tuple)):
        return tuple(_host_values(x) for x in obj)
    if isinstance(obj, dict):
        return tuple(sorted((k, _host_values(v)) for k, v in obj.items()))
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


@contextmanager
def trace_launches():
    """Inside: every launch is also listed, in order, as ``(name, n, host values)``, the host
    values being the scalars (and arrays' shapes) it was given. A CUDA graph replays the
    recorded launches with the recorded values: two steps whose lists differ would make a
    replay compute with stale ones."""
    _trace.append([])
    try:
        yield _trace[-1]
    finally:
        _trace.pop()


@contextmanager
def emulated_capture():
    """Inside (within :func:`emulated_cuda`): ``minigrad.backend.graphs.capturing()`` answers a
    stand-in graph, so the code takes its capture paths (Adam's step counts on the device, the
    optimizers' replay checks, ...) without recording anything; its ``on_replay`` hooks are
    collected (``graph._hooks``), never run unless the caller runs them."""
    from minigrad.backend import graphs

    class _Graph:
        def __init__(self):
            self._hooks = []

        def constant(self, host_array):
            return _wrap(np.array(host_array))

    g = _Graph()
    previous = getattr(graphs._local, "graph", None)
    graphs._local.graph = g
    try:
        yield g
    finally:
        graphs._local.graph = previous


def uncapturable(what: str) -> None:
    """Record a call a CUDA graph capture could not record (events ``uncapturable`` and
    ``uncapturable.<what>``): a product through CuPy's cuBLAS wrappers (``cublas``: they rebind
    the handle's stream, which CuPy refuses while capturing; the kernel registry's ``matmul``
    calls cuBLAS itself there), a draw from ``cupy.random`` (``curand``) or a copy of host data
    to the device (``host_to_device``: CuPy refuses it during a capture)."""
    if counters._active:
        counters.add("uncapturable")
        counters.add("uncapturable." + what)
    _no_capture(what)


#: The emulated GPUs: how many there are, and which one is current (``cupy.cuda.Device(i).use()``
#: or ``with cupy.cuda.Device(i):``). An array is on the device current when it was made; as
#: CuPy, an array call on an array of another device than the current one raises.
_devices = {"count": 1, "current": 0}


class _Dev:
    """``cupy.cuda.Device(i)``: ``.id``, ``.use()``, and a context that makes it current."""

    def __init__(self, id=None):
        self.id = _devices["current"] if id is None else int(id)
        if not 0 <= self.id < _devices["count"]:
            raise RuntimeError(f"emulated CuPy: device {self.id} of {_devices['count']} "
                               "(cudaErrorInvalidDevice)")
        self._saved = []

    def use(self):
        _devices["current"] = self.id

    def __enter__(self):
        self._saved.append(_devices["current"])
        _devices["current"] = self.id
        return self

    def __exit__(self, *exc):
        _devices["current"] = self._saved.pop()
        return False


def _on_current_device(arrays):
    """CuPy's check before a launch: every device array is on the current device."""
    for a in arrays:
        if isinstance(a, DeviceArray) and a._device_id != _devices["current"]:
            raise ValueError(f"The device where the array resides ({a._device_id}) is different "
                             f"from the current device ({_devices['current']}). (emulated CuPy)")


class _Flags:
    """A DeviceArray's flags: the host array's, with ``owndata`` as the device array's."""

    def __init__(self, flags, owns):
        self._f, self.owndata = flags, owns

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __getitem__(self, name):
        return self.owndata if name.upper() == "OWNDATA" else self._f[name]


def _host(a):
    """A DeviceArray as the plain ndarray it is (a view); anything else as it is."""
    return a.view(np.ndarray) if isinstance(a, DeviceArray) else a


def _wrap(r):
    """Results back on the 'device': ndarrays become DeviceArrays (views that say whether the
    array they view owned its memory, as ``flags.owndata``), NumPy scalars 0-d ones, tuples
    and lists elementwise."""
    if type(r) is np.ndarray:
        d = r.view(DeviceArray)
        d._owns = r.flags.owndata
        return d
    if isinstance(r, np.generic):  # a NumPy scalar (a full reduction...): CuPy's is 0-d
        d = np.asarray(r).view(DeviceArray)
        d._owns = True
        return d
    if isinstance(r, tuple):
        return tuple(_wrap(x) for x in r)
    if isinstance(r, list):
        return [_wrap(x) for x in r]
    return r


# ------------------------------------------------------------------- an emulated capture
# Inside ``cupy.cuda.Stream.begin_capture()`` of the stand-in (minigrad.backend.graphs.graph
# calls it) each launch is also kept as a step of the graph: a function that redoes it on the
# arrays' memory as it is then. What a launch writes into memory that existed before the
# capture (weights, optimizer state, the generator's counter...) is undone at once (a capture
# runs nothing); memory allocated inside the capture keeps the values computed, which stand
# for the garbage a real capture leaves there (they are at least the right kind of numbers, so
# an index computed there stays in range). ``graph.launch()`` (a replay) runs the steps.
class _Capture:
    def __init__(self):
        self.steps = []
        self.owned = {}  # id -> the arrays allocated inside the capture (kept alive)


_captures = []  # the open captures


def _owner(a):
    """The array that owns ``a``'s memory."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _allocated(res):
    """Note ``res`` (arrays, nested) as memory of the open capture; returns it."""
    for a in _arrays(res, all_arrays=True):
        o = _owner(a)
        _captures[-1].owned[id(o)] = o
    return res


def _fresh(compute):
    """``compute()``'s new array(s), on the 'device'; in a capture also a step that computes
    them again into the same memory."""
    if not _captures:
        return _wrap(compute())
    with np.errstate(all="ignore"):  # values standing for a capture's garbage
        res = _allocated(_wrap(compute()))
    _captures[-1].steps.append(lambda: _copy_into(res, compute()))
    return res


def _copy_into(dst, src):
    if isinstance(dst, (tuple, list)):
        for d, x in zip(dst, src):
            _copy_into(d, x)
    elif isinstance(dst, np.ndarray) and dst is not src:
        np.copyto(dst.view(np.ndarray), src, casting="unsafe")


def _arrays(obj, all_arrays=False):
    """The host views of the arrays in ``obj`` (nested lists, tuples and dicts) that a launch
    could write and a capture must restore: writable ones, not allocated inside the open
    capture (``all_arrays``: every one)."""
    if isinstance(obj, np.ndarray):
        if all_arrays:
            return [_host(obj)]
        keep = obj.flags.writeable and id(_owner(obj)) not in _captures[-1].owned
        return [_host(obj)] if keep else []
    if isinstance(obj, (list, tuple)):
        return [a for x in obj for a in _arrays(x, all_arrays)]
    if isinstance(obj, dict):
        return [a for x in obj.values() for a in _arrays(x, all_arrays)]
    return []


def _undone(run, written):
    """``run()`` inside a capture, its writes into the arrays of ``written`` that existed
    before the capture undone afterwards."""
    saved = [(a, a.copy()) for a in _arrays(written)]
    with np.errstate(all="ignore"):
        out = run()
    for a, before in saved:
        np.copyto(a, before)
    return out


def _in_place(run, written):
    """``run()``, which writes into the arrays of ``written``; in a capture it is kept as a
    step and its writes are undone."""
    if not _captures:
        return run()
    out = _undone(run, written)
    _captures[-1].steps.append(run)
    return out


def _ufunc_result(call, hin, out, kwargs):
    """``call(*hin, **kwargs)`` (a ufunc or one of its methods) into new arrays, or into the
    arrays of ``out``."""
    if out is None:
        return _fresh(lambda: call(*hin, **kwargs))
    hout = tuple(_host(o) for o in out)
    return _in_place(lambda: call(*hin, out=hout, **kwargs), hout)


def _no_capture(what):
    if _captures:
        raise RuntimeError(f"emulated CUDA graph capture: {what} cannot be recorded")


def _device_to_host(how: str) -> None:
    """A device array's values read on the host (``get``, ``item``, ``int(a)``, ``bool(a)``,
    ...): on a GPU the host waits there for every kernel queued before. Counted as events
    ``device_to_host`` and ``device_to_host.<how>`` wherever it happens, minigrad's
    ``backend.to_host`` or a stray ``int()`` on a raw array; refused inside a capture."""
    if counters._active:
        counters.add("device_to_host")
        counters.add("device_to_host." + how)
    _no_capture("a copy to the host")


class _EmulatedGraph:
    """What ``end_capture()`` returns: the recorded steps, run in order by ``launch``."""

    def __init__(self, steps):
        self.steps = steps

    def launch(self, stream=None):
        launch("cuda_graph_launch")
        for step in self.steps:
            step()


class _CaptureStream:
    """``cupy.cuda.Stream`` as minigrad.backend.graphs uses it (a context)."""
    ptr = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass

    def begin_capture(self):
        _captures.append(_Capture())

    def end_capture(self):
        return _EmulatedGraph(_captures.pop().steps)


def _tname(x):
    """How CuPy's kernel names spell an operand's type: the dtype of an array, 'float'/'int'/
    'bool' for a scalar (Python's or NumPy's: CuPy treats both as weakly typed)."""
    if isinstance(x, np.ndarray):
        return x.dtype.name
    if isinstance(x, (bool, np.bool_)):
        return "bool"
    if isinstance(x, (int, np.integer)):
        return "int"
    if isinstance(x, (float, np.floating)):
        return "float"
    return type(x).__name__


def _copy(dtype_from, dtype_to=None):
    launch(f"cupy_copy__{np.dtype(dtype_from).name}_{np.dtype(dtype_to or dtype_from).name}")


_REDUCTIONS = {"add": "cupy_sum", "multiply": "cupy_prod", "maximum": "cupy_max",
               "minimum": "cupy_min", "logical_or": "cupy_any", "logical_and": "cupy_all"}


class DeviceArray(np.ndarray):
    """A NumPy array standing for a CuPy one: computes on the host, counts CuPy's launches."""

    _owns = False  # views made by NumPy's own methods (slices, transposes) own nothing
    _device_id = 0

    def __array_finalize__(self, obj):
        # a view of a device array is on its device; a host array made a device one (by _wrap)
        # is on the current device
        self._device_id = getattr(obj, "_device_id", _devices["current"])

    @property
    def device(self):
        return _Dev(self._device_id)

    @property
    def flags(self):
        return _Flags(self.view(np.ndarray).flags, self._owns)

    @property
    def data(self):
        """CuPy's MemoryPointer as far as minigrad reads it: ``.ptr``, the address of the first
        element (the host's here; NCCL's and cuBLAS's callers pass it on)."""
        return types.SimpleNamespace(ptr=self.view(np.ndarray).ctypes.data)

    # ---------------------------------------------------------------- elementwise, reductions
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        for x in inputs + (out or ()):  # CuPy takes scalars and its own arrays, not NumPy's
            if isinstance(x, np.ndarray) and not isinstance(x, DeviceArray):
                raise TypeError(f"Unsupported type {type(x)} (emulated CuPy: a NumPy array "
                                f"{x.shape} in cupy.{ufunc.__name__}; move it to the device)")
        _on_current_device(inputs + (out or ()))
        hin = [_host(x) for x in inputs]
        if method == "__call__":
            if ufunc is np.matmul:  # ``a @ b`` on arrays: CuPy's matmul
                uncapturable("cublas")
                return _matmul(*inputs)
            names = [_tname(x) for x in inputs]
            res = _ufunc_result(ufunc, hin, out, kwargs)
            outs = res if isinstance(res, tuple) else (res,)
            names += [np.asarray(o).dtype.name for o in outs]
            launch(f"cupy_{ufunc.__name__}__" + "_".join(names), args=(inputs, kwargs))
        elif method in ("reduce", "accumulate"):
            launch(_REDUCTIONS.get(ufunc.__name__, f"cupy_{ufunc.__name__}_reduce")
                   if method == "reduce" else f"cupy_{ufunc.__name__}_accumulate")
            res = _ufunc_result(getattr(ufunc, method), hin, out, kwargs)
        elif method == "at":
            launch(f"cupy_scatter_{ufunc.__name__}")
            res = _in_place(lambda: ufunc.at(*hin, **kwargs), hin[:1])
        else:
            raise NotImplementedError(f"emulated CuPy: {ufunc.__name__}.{method}")
        if out is not None:
            return out[0] if len(out) == 1 else out
        return res

    def __array_function__(self, func, types_, args, kwargs):
        return _module_function(func.__name__, func)(*args, **kwargs)

    def _reduce(self, kernel, method, *args, **kwargs):
        h = self.view(np.ndarray)
        r = _fresh(lambda: getattr(h, method)(*args, **kwargs))
        # a reduction to one value goes to CUB (CuPy's default accelerator): another name
        launch("cub_reduce" if r.size == 1 and self.size > 1 else kernel)
        return r

    def sum(self, *a, **k):
        return self._reduce("cupy_sum", "sum", *a, **k)

    def mean(self, *a, **k):
        return self._reduce("cupy_mean", "mean", *a, **k)

    def max(self, *a, **k):
        return self._reduce("cupy_max", "max", *a, **k)

    def min(self, *a, **k):
        return self._reduce("cupy_min", "min", *a, **k)

    def var(self, *a, **k):
        return self._reduce("cupy_var", "var", *a, **k)

    def std(self, *a, **k):
        return self._reduce("cupy_std", "std", *a, **k)

    def prod(self, *a, **k):
        return self._reduce("cupy_prod", "prod", *a, **k)

    def any(self, *a, **k):
        return self._reduce("cupy_any", "any", *a, **k)

    def all(self, *a, **k):
        return self._reduce("cupy_all", "all", *a, **k)

    def argmax(self, *a, **k):
        return self._reduce("cupy_argmax", "argmax", *a, **k)

    def argmin(self, *a, **k):
        return self._reduce("cupy_argmin", "argmin", *a, **k)

    def cumsum(self, *a, **k):
        return self._reduce("cupy_cumsum", "cumsum", *a, **k)

    # ---------------------------------------------------------------- copies and views
    def copy(self, order="C"):
        _copy(self.dtype)
        h = self.view(np.ndarray)
        return _fresh(lambda: h.copy(order))

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        h = self.view(np.ndarray)
        if np.dtype(dtype) == self.dtype and not copy:
            return self
        _copy(self.dtype, dtype)
        return _fresh(lambda: h.astype(dtype, order=order, casting=casting, copy=True))

    def reshape(self, *shape, **kwargs):
        h = self.view(np.ndarray)
        r = h.reshape(*shape, **kwargs)
        if r.size and not np.shares_memory(r, h):
            _copy(self.dtype)
            return _fresh(lambda: h.reshape(*shape, **kwargs))
        return _wrap(r)

    def ravel(self, order="C"):
        return self.reshape(-1)

    def flatten(self, order="C"):
        return self.copy().reshape(-1)

    def fill(self, value):
        if value != 0:  # zero: a memset
            launch(f"cupy_copy__{_tname(value)}_{self.dtype.name}", args=(value,))
        h = self.view(np.ndarray)
        _in_place(lambda: h.fill(value), [h])

    def __getitem__(self, index):
        h = self.view(np.ndarray)
        hidx = _host_index(index)
        r = h[hidx]
        if isinstance(r, np.ndarray) and r.size and not np.shares_memory(r, h):
            launch("cupy_take")  # advanced indexing: a gather kernel
            return _fresh(lambda: h[hidx])
        return _wrap(r)  # an element is a 0-d array on the device, as CuPy's

    def __setitem__(self, index, value):
        h = self.view(np.ndarray)
        hidx, hv = _host_index(index), _host(value)
        if getattr(h[hidx], "size", 1):
            launch(f"cupy_copy__{_tname(value)}_{self.dtype.name}", args=(value,))
        _in_place(lambda: h.__setitem__(hidx, hv), [h])

    # ------------------------------------------------- to the host: the host waits for the GPU
    def get(self, stream=None):
        _device_to_host("get")
        return np.array(self.view(np.ndarray))

    def item(self):
        _device_to_host("item")
        return self.view(np.ndarray).item()

    def tolist(self):
        _device_to_host("tolist")
        return self.view(np.ndarray).tolist()

    def _read_on_host(how, convert):  # (class-body helper, deleted below)
        def read(self):
            _device_to_host(how)
            return convert(self.view(np.ndarray))
        read.__name__ = f"__{how}__"
        return read

    __int__ = _read_on_host("int", int)
    __float__ = _read_on_host("float", float)
    __complex__ = _read_on_host("complex", complex)
    __bool__ = _read_on_host("bool", bool)
    __index__ = _read_on_host("index", lambda a: a.__index__())
    del _read_on_host

    def __reduce__(self):  # pickling (deepcopy, checkpoints) keeps a plain array
        return np.array(self.view(np.ndarray)).__reduce__()


def _host_index(index):
    if isinstance(index, tuple):
        return tuple(_host(i) for i in index)
    return _host(index)


# ------------------------------------------------------------------------ matrix products
def _c_contig(a):
    return a.flags.c_contiguous or a.size <= 1


def _matmul(a, b):
    """CuPy 14's ``matmul`` (``cupy/_core/_routines_linalg.pyx``): 2-D operands through ``dot``
    (a copy of an operand neither C- nor F-contiguous, one GEMM); batched ones made
    C-contiguous (a copy each where not), then one strided-batched GEMM, or, where a batch axis
    broadcasts, three pointer arrays (``cupy_mat_ptrs``) and a batched GEMM."""
    ha, hb = _host(a), _host(b)
    if ha.ndim <= 2 and hb.ndim <= 2:
        for m in (ha, hb):
            if m.ndim == 2 and not (m.flags.c_contiguous or m.flags.f_contiguous):
                _copy(m.dtype)
        launch("gemm")
        return _fresh(lambda: np.matmul(ha, hb))
    for m in (ha, hb):
        if not _c_contig(m):
            _copy(m.dtype)
    lead_a = (1,) * (max(ha.ndim, hb.ndim) - ha.ndim) + ha.shape[:-2]
    lead_b = (1,) * (max(ha.ndim, hb.ndim) - hb.ndim) + hb.shape[:-2]
    if any(x != y for x, y in zip(lead_a, lead_b)):
        levels = max(len(lead_a), 1)
        launch("cupy_mat_ptrs", 3 * levels)
        launch("gemm_batched")
    else:
        launch("gemm_strided_batched")
    return _fresh(lambda: np.matmul(ha, hb))


def _direct_matmul(a, b):
    """minigrad's direct cuBLAS product (``cupy_blas._captured_matmul``): one
    gemmStridedBatched call on the operands as they lie when ``gemm_plan`` maps them, else
    C-contiguous copies first."""
    from minigrad.kernels.cupy_blas import gemm_plan

    ha, hb = _host(a), _host(b)
    plan = gemm_plan(ha.shape, ha.strides, hb.shape, hb.strides, ha.itemsize)
    if plan is None:
        for m in (ha, hb):
            if not _c_contig(m):
                _copy(m.dtype)
    launch("gemm_strided_batched")
    return _fresh(lambda: np.matmul(ha, hb))


# ------------------------------------------------------------------------ module functions
_VIEWS = {"broadcast_to", "transpose", "expand_dims", "squeeze", "moveaxis", "swapaxes",
          "atleast_1d", "atleast_2d", "shape", "ndim", "result_type", "may_share_memory",
          "shares_memory", "can_cast", "promote_types", "iscomplexobj", "isscalar", "dtype",
          "broadcast_shapes", "broadcast_arrays"}
_ALLOC = {"empty", "empty_like", "zeros", "zeros_like"}  # zeros: a memset, not a kernel
_FILL = {"ones", "ones_like", "full", "full_like"}


def _module_function(name, fn):
    """``cupy.<name>`` for the stand-in: ``fn`` (numpy's) on host arrays, the launches CuPy
    would make recorded, the arrays it returns put on the 'device'."""
    def call(*args, **kwargs):
        if name not in ("asarray", "array"):  # those copy an array of another device over
            _on_current_device([x for a in (*args, *kwargs.values())
                                for x in (a if isinstance(a, (list, tuple)) else (a,))])
        hargs = [_host_index(a) if isinstance(a, tuple) else
                 [_host(x) for x in a] if isinstance(a, list) else _host(a) for a in args]
        hkw = {k: _host(v) for k, v in kwargs.items()}
        if name == "ascontiguousarray":
            a = hargs[0]
            if isinstance(a, np.ndarray) and not a.flags.c_contiguous and a.size:
                _copy(a.dtype, hkw.get("dtype"))
        elif name in ("asarray", "array") and isinstance(args[0], DeviceArray):
            if name == "array" and kwargs.get("copy", True):
                _copy(args[0].dtype)
        elif name in ("asarray", "array"):
            uncapturable("host_to_device")
        elif name in _FILL:  # CuPy fills with zero by a memset (not a kernel)
            value = 1 if name.startswith("ones") else (args[1] if len(args) > 1 else
                                                       kwargs.get("fill_value"))
            if not (np.ndim(value) == 0 and value == 0):
                launch("cupy_full", args=(value,))
        elif name in ("concatenate", "stack"):
            for a in hargs[0]:
                _copy(a.dtype)
        elif name == "pad":
            launch("cupy_full")
            _copy(hargs[0].dtype)
        elif name == "matmul":
            uncapturable("cublas")
            return _matmul(*args)
        elif name in ("dot", "vdot", "inner", "tensordot", "einsum"):
            uncapturable("cublas")
            launch(f"cupy_{name}")
        elif name == "where":
            launch("cupy_where")
        elif name == "copyto":
            _copy(hargs[1].dtype if isinstance(hargs[1], np.ndarray) else hargs[0].dtype)
        elif name in ("sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std",
                      "any", "all", "argmax", "argmin"):
            launch(f"cupy_{name.lstrip('a') if name in ('amax', 'amin') else name}")
        elif name not in _VIEWS and name not in _ALLOC and name not in ("asarray", "array"):
            launch(f"cupy_{name}")
        # what a capture keeps of it: nothing for a view or an allocation, a memset for zeros,
        # the writes into existing memory, or the new array computed again
        if name in _VIEWS or name == "asarray":
            return _wrap(fn(*hargs, **hkw))
        if name in ("empty", "empty_like"):
            r = _wrap(fn(*hargs, **hkw))
            return _allocated(r) if _captures else r
        if name in ("zeros", "zeros_like"):
            r = _wrap(fn(*hargs, **hkw))
            if _captures:
                _allocated(r)
                _captures[-1].steps.append(lambda: r.view(np.ndarray).fill(0))
            return r
        if name == "copyto":
            return _in_place(lambda: fn(*hargs, **hkw), hargs[:1])
        if hkw.get("out") is not None:
            _in_place(lambda: fn(*hargs, **hkw), [hkw["out"]])
            return kwargs["out"]
        return _fresh(lambda: fn(*hargs, **hkw))
    call.__name__ = name
    return call


class _Random:
    """``cupy.random`` (the samplers nn.init and spectral_norm use): NumPy's, on the device."""

    def __init__(self):
        self._rs = np.random.RandomState(0)

    def seed(self, seed=None):
        self._rs = np.random.RandomState(seed)

    def __getattr__(self, name):
        fn = getattr(self._rs, name)

        def draw(*args, dtype=None, **kwargs):
            uncapturable("curand")
            launch(f"curand_{name}")
            r = np.asarray(fn(*args, **kwargs))
            return _wrap(r.astype(dtype) if dtype is not None else r)
        return draw


class _Stream:
    ptr = 0

    def synchronize(self):
        pass


def _fake_cupy():
    """The stand-in module: numpy's functions through ``_module_function``, a ``cuda``
    namespace with what minigrad touches outside the kernels."""
    m = types.ModuleType("cupy")
    m.__name__ = "cupy"
    m.ndarray = DeviceArray
    m.random = _Random()
    m.cuda = types.SimpleNamespace(Device=_Dev,
                                   get_current_stream=lambda: _Stream(),
                                   Stream=lambda *a, **k: _CaptureStream(),
                                   MemoryPool=lambda *a: types.SimpleNamespace(malloc=None),
                                   using_allocator=lambda *a: contextlib.nullcontext(),
                                   device=types.SimpleNamespace(get_cublas_handle=lambda: 0),
                                   runtime=types.SimpleNamespace(
                                       getDeviceCount=lambda: _devices["count"],
                                       getDevice=lambda: _devices["current"],
                                       setDevice=lambda i: _Dev(i).use()))
    for dt in ("float16", "float32", "float64", "int32", "int64", "uint32", "uint8", "bool_",
               "intp", "uintp", "dtype", "newaxis", "pi", "inf", "nan", "e"):
        setattr(m, dt, getattr(np, dt))
    m.asnumpy = lambda a: np.array(_host(a))

    def __getattr__(name):
        fn = getattr(np, name)
        # NumPy's ufuncs themselves: on DeviceArrays they reach __array_ufunc__ (so
        # ``cupy.maximum.accumulate`` and the like work, as CuPy's ufuncs have those methods)
        if not callable(fn) or isinstance(fn, (type, np.ufunc)):
            return fn
        wrapped = _module_function(name, fn)
        setattr(m, name, wrapped)
        return wrapped
    m.__getattr__ = __getattr__
    return m


# ------------------------------------------------------------------------ the kernel registry
#: Kernels whose cupy_gpu glue makes its array inputs C-contiguous first (a copy where not).
_CONTIGUOUS_INPUTS = {"im2col_hwc", "col2im_hwc", "unfold_hwc", "fold_hwc", "im2col_chw",
                      "col2im_chw", "unfold_chw", "fold_chw", "batch_norm_fwd",
                      "batch_norm_grad_input"}
#: Kernels that are the reference's array code on CuPy too (counted through the stand-in).
_ARRAY_CODE = {"winograd_f2x3_weight", "winograd_f2x3_input", "winograd_f2x3_output",
               "winograd_f4x3_weight", "winograd_f4x3_input", "winograd_f4x3_output",
               "winograd_f4x3_grad_output", "winograd_f4x3_grad_weight",
               "winograd_k4s2_weight", "winograd_k4s2_input", "winograd_k4s2_output",
               "winograd_k4s2_grad_output", "winograd_k4s2_grad_weight",
               "winograd_k4s2f4_weight", "winograd_k4s2f4_input", "winograd_k4s2f4_output",
               "winograd_k4s2f4_grad_output", "winograd_k4s2f4_grad_weight",
               "winograd_k4s2tf4_weight", "winograd_k4s2tf4_input", "winograd_k4s2tf4_output",
               "winograd_k4s2t_weight", "winograd_k4s2t_input", "winograd_k4s2t_output"}


def _emulated_kernel(name, direct_gemm):
    from minigrad.kernels import reference as ref

    if name == "matmul":
        if direct_gemm is not None:
            return _direct_matmul if direct_gemm else _matmul
        from minigrad.kernels import cupy_blas

        def matmul(a, b):  # as cupy_blas.matmul chooses (outside a capture)
            return (_direct_matmul if cupy_blas.direct(a, b) else _matmul)(a, b)
        return matmul
    fn = getattr(ref, name)
    if name in _ARRAY_CODE:
        return fn

    def kernel(*args, **kwargs):
        if name in _CONTIGUOUS_INPUTS:
            for a in args:
                if isinstance(a, np.ndarray) and not _c_contig(a):
                    _copy(a.dtype)
        launch("minigrad_" + name, args=(args, kwargs))

        def host(a):
            return [_host(x) for x in a] if isinstance(a, list) else _host_index(a) \
                if isinstance(a, tuple) else _host(a)
        hargs, hkw = [host(a) for a in args], {k: host(v) for k, v in kwargs.items()}
        if not _captures:
            return _wrap(fn(*hargs, **hkw))
        # in a capture: the kernel's writes into its arguments undone, its new arrays kept and
        # computed again (into the same memory) by the graph's step
        res = _wrap(_undone(lambda: fn(*hargs, **hkw), (hargs, hkw)))
        if res is not None:
            _allocated([a for a in _arrays(res, all_arrays=True)
                        if not any(np.may_share_memory(a, h)
                                   for h in _arrays((hargs, hkw), True))])
        _captures[-1].steps.append(lambda: _copy_into(res, fn(*hargs, **hkw)))
        return res
    kernel.__name__ = name
    return kernel


#: NumPy's converters, which CuPy refuses a device array (``TypeError: Implicit conversion to a
#: NumPy array is not allowed``): on the emulated GPU, minigrad's and gans' calls of them with
#: a DeviceArray raise the same error, where NumPy would take the subclass silently.
_CONVERTERS = ("asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray")
_PRODUCT_PACKAGES = ("minigrad", "gans")


def _refusing(name, convert):
    def converter(obj, *args, **kwargs):
        if isinstance(obj, DeviceArray) or (isinstance(obj, (list, tuple)) and any(
                isinstance(o, DeviceArray) for o in obj)):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.split(".")[0] in _PRODUCT_PACKAGES:
                raise TypeError(f"numpy.{name}: Implicit conversion to a NumPy array is not "
                                "allowed. Please use `.get()` to construct a NumPy array "
                                f"explicitly. (emulated CuPy; called from {caller})")
        return convert(obj, *args, **kwargs)
    converter.__name__ = name
    return converter


@contextmanager
def emulated_cuda(direct_gemm: bool | None = None, devices: int = 1, kernels: str = "reference"):
    """Inside: ``device='cuda'`` is the NumPy-backed stand-in, and every array call and kernel
    on it records CuPy's launches (see the module's docstring). ``direct_gemm``: model the
    matrix products as the direct cuBLAS call (True) or CuPy's matmul (False); None: each as
    ``minigrad.kernels.cupy_blas.matmul`` would choose. ``devices``: how many GPUs it has
    (device 0 current at the start). ``kernels``: ``"reference"``, each call of the kernel
    registry runs the kernel's NumPy reference; ``"cuda"``, it runs ``cupy_gpu``'s glue, whose
    RawKernels and ElementwiseKernels are minigrad's CUDA C compiled for the host
    (``benchmarks/host_cuda.py``: slower, needs a C++ compiler, eager steps only; the matrix
    products stay NumPy's)."""
    if kernels not in ("reference", "cuda"):
        raise ValueError(f"emulated_cuda(kernels={kernels!r}): 'reference' or 'cuda'")
    source_kernels, kernels = kernels == "cuda", importlib.import_module("minigrad.kernels")
    cuda_mod = importlib.import_module("minigrad.backend.cuda")
    fake = _fake_cupy()
    ns = types.SimpleNamespace(**{n: _emulated_kernel(n, direct_gemm)
                                  for n in kernels.KERNEL_NAMES})
    from minigrad.kernels import cupy_gpu, cupy_optim
    saved_glue = (dict(cupy_gpu._raw_kernels), dict(cupy_gpu._elementwise_kernels),
                  dict(cupy_optim._tables))
    stack = contextlib.ExitStack()
    if source_kernels:
        _use_cuda_sources(fake, ns, cupy_gpu)
        stack.enter_context(_fake_cupyx())
    saved = (cuda_mod.cupy, cuda_mod._n_devices, kernels._cupy_module, dict(kernels._cache))
    cuda_random = importlib.import_module("minigrad.kernels.cuda_random")
    saved_gens = dict(cuda_random._generators)
    # the GPU generators' restored states and the device constants made here must not reach
    # a real GPU's work in the same process (the GPU check runs both)
    from minigrad import backend
    saved_backend = (dict(backend._gpu_rng_pending), dict(backend._constants))
    had_cupy = sys.modules.get("cupy")
    # reference.py's array code asks sys.modules which module owns an array (the Winograd
    # transforms run as that code on CuPy too)
    sys.modules["cupy"] = fake
    cuda_mod.cupy, cuda_mod._n_devices = fake, devices
    saved_devices = dict(_devices)
    _devices.update(count=devices, current=0)
    kernels._cupy_module = ns
    # a CUDA graph capture (minigrad.backend.graphs.graph) binds cuBLAS's handle to its stream
    # and loads cuBLAS first: nothing to bind or load here
    saved_capture = (cuda_mod.cublas, cupy_gpu.prepare_capture)
    cuda_mod.cublas = lambda: types.SimpleNamespace(setStream=lambda handle, stream: None)
    cupy_gpu.prepare_capture = lambda: None
    kernels._cache.clear()
    cuda_random._generators.clear()
    saved_converters = {name: getattr(np, name) for name in _CONVERTERS}
    for name, convert in saved_converters.items():
        setattr(np, name, _refusing(name, convert))
    try:
        yield fake
    finally:
        stack.close()
        for name, convert in saved_converters.items():
            setattr(np, name, convert)
        _devices.update(saved_devices)
        if had_cupy is None:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = had_cupy
        cuda_mod.cupy, cuda_mod._n_devices, kernels._cupy_module = saved[:3]
        cuda_mod.cublas, cupy_gpu.prepare_capture = saved_capture
        _captures.clear()
        kernels._cache.clear()
        kernels._cache.update(saved[3])
        cuda_random._generators.clear()
        cuda_random._generators.update(saved_gens)
        for live, before in zip((backend._gpu_rng_pending, backend._constants, cupy_gpu._raw_kernels,
                                 cupy_gpu._elementwise_kernels, cupy_optim._tables),
                                saved_backend + saved_glue):
            live.clear()
            live.update(before)


def _use_cuda_sources(fake, ns, cupy_gpu):
    """``emulated_cuda(kernels="cuda")``: the registry's kernels are cupy_gpu's glue (the matrix
    product aside), and the stand-in's RawKernel/ElementwiseKernel the host build of the CUDA
    C, each launch counted."""
    from benchmarks import host_cuda

    lib = host_cuda.build()

    def counted(name):
        if _captures:
            raise NotImplementedError("emulated_cuda(kernels='cuda') runs eager steps only: a "
                                      "capture cannot undo a kernel's writes through pointers")
        launch(name)

    fake.RawKernel = lambda code, name: host_cuda.HostRawKernel(lib, code, name, counted)
    fake.ElementwiseKernel = lambda i, o, op, name: host_cuda.HostElementwiseKernel(
        lib, i, o, op, name, empty=lambda shape, dtype: fake.empty(shape, dtype), on_launch=lambda
        n: counted("minigrad_" + n))
    for name in vars(ns):
        if name != "matmul":
            setattr(ns, name, getattr(cupy_gpu, name))
    cupy_gpu._raw_kernels.clear()
    cupy_gpu._elementwise_kernels.clear()


@contextmanager
def _fake_cupyx():
    """``cupyx.scipy.special`` (the glue's special functions) as SciPy's on the 'device': its
    ufuncs reach DeviceArray.__array_ufunc__, polygamma (a function) runs on host copies."""
    import scipy.special

    special = types.ModuleType("cupyx.scipy.special")
    for name in ("erf", "erfc", "gammaln", "digamma"):
        setattr(special, name, getattr(scipy.special, name))
    special.polygamma = _module_function("polygamma", scipy.special.polygamma)
    scipy_mod = types.ModuleType("cupyx.scipy")
    scipy_mod.special = special
    cupyx = types.ModuleType("cupyx")
    cupyx.scipy = scipy_mod
    names = {"cupyx": cupyx, "cupyx.scipy": scipy_mod, "cupyx.scipy.special": special}
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules.update(names)
    try:
        yield
    finally:
        for n, module in saved.items():
            if module is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = module
