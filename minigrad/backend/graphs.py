"""CUDA graphs, the mechanism: capture state, :class:`CUDAGraph` and the recording context.
The user API is :mod:`minigrad.graphs` (``graph``, ``CUDAGraph``, ``GraphedStep``); the kernels
ask :func:`capturing` here whether they are being recorded.

A training step on a small network is bound by the host: every op is a Python call and a
kernel launch of a few microseconds, hundreds per step. Stream capture records the launches a
piece of code makes (nothing runs while recording) into a graph; a replay then launches all of
them at once, with the same arguments and the same memory. That is ``torch.cuda.graph`` and
``make_graphed_callables``, and tinygrad's TinyJit; here::

    g = minigrad.graphs.CUDAGraph()
    with minigrad.graphs.graph(g):          # recorded, not run
        loss = step(static_x)               # static_x: a tensor the caller refills
    for x in batches:
        static_x.data[...] = x.data         # new input, same memory
        g.replay()                          # the step, one launch; loss.data is updated

and, for a whole training step, :class:`GraphedStep` (``fit(cuda_graph=True)``,
``python -m gans train --cuda-graph``).

What capture requires, and how minigrad meets it:

- **No host synchronisation inside.** A step returns its statistics as device tensors (the
  trainer copies them to the host every ``log_every`` steps), so nothing waits.
- **Static memory.** Inputs are copied into tensors allocated once; everything the captured
  code allocates comes from a memory pool private to the graph (kept alive with it), so a
  replay finds its buffers untouched by eager code.
- **Every launch capturable.** Elementwise ops, reductions and minigrad's RawKernels are;
  CuPy's cuBLAS and cuRAND wrappers refuse to run during a capture. Matrix products therefore
  go through the ``matmul`` kernel, which calls cuBLAS itself on CuPy's handle, bound to the
  capture stream before the capture starts; random numbers come from minigrad's counter-based
  generator (:mod:`minigrad.kernels.cuda_random`), whose counter lives on the device.
- **Host values that change per step** (Adam's step count and bias corrections) cannot be
  baked into a launch: Adam keeps its counts in a device array that the recorded work
  increments and the kernel reads, and registers a hook with :func:`on_replay`, run on the host
  before every replay, that keeps the host's counts (what checkpoints save) in step (see
  ``Adam._captured_update``). Tables a recorded kernel reads (the optimizers' pointer tables)
  are recorded copies from pinned memory the graph keeps (:meth:`CUDAGraph.constant`).
- **Nothing made on first use inside.** Optimizer state, BatchNorm buffers, compiled kernels:
  a few eager steps before the capture make them (``GraphedStep`` does two).
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

_local = threading.local()


def capturing():
    """The :class:`CUDAGraph` being recorded in this thread, or None."""
    return getattr(_local, "graph", None)


def on_replay(hook) -> None:
    """Register ``hook()`` with the graph being recorded: it runs on the host before each
    replay (e.g. to count the steps the replay makes). Raises RuntimeError outside a
    capture."""
    graph = capturing()
    if graph is None:
        raise RuntimeError("on_replay() is for code running inside minigrad.graphs.graph(...)")
    graph._hooks.append(hook)


class CUDAGraph:
    """A recorded sequence of GPU launches (``torch.cuda.CUDAGraph``): filled by
    :func:`graph`, run by :meth:`replay`."""

    def __init__(self):
        self._graph = None
        self._stream = None
        self._pool = None
        self._hooks = []
        self._keep = []  # host buffers the recorded copies read

    def constant(self, host_array):
        """A device copy of ``host_array`` made by the recorded work (so on every replay),
        from pinned host memory that lives as long as the graph: for tables of pointers and
        the like, which are constant for the graph's life. Only while recording."""
        cp = _cupy()
        # NOTE: pinned memory, so the recorded copy is a real asynchronous one
        mem = cp.cuda.alloc_pinned_memory(host_array.nbytes)
        pinned = np.frombuffer(mem, host_array.dtype, host_array.size).reshape(host_array.shape)
        pinned[...] = host_array
        self._keep.append((mem, pinned))
        out = cp.empty(host_array.shape, dtype=host_array.dtype)
        # NOTE: the runtime's copy itself: CuPy's ndarray.set refuses any host-to-device copy
        # while the stream is capturing (a copy from pinned memory records fine)
        rt = cp.cuda.runtime
        rt.memcpyAsync(out.data.ptr, pinned.ctypes.data, host_array.nbytes,
                       rt.memcpyHostToDevice, cp.cuda.get_current_stream().ptr)
        return out

    @property
    def stream(self):
        """The stream the graph was captured on and is replayed on."""
        return self._stream

    def replay(self) -> None:
        """Run the recorded work (after the :func:`on_replay` hooks), ordered after the work
        already queued on the default stream and before the work queued after it."""
        if self._graph is None:
            raise RuntimeError("CUDAGraph.replay(): nothing was captured")
        for hook in self._hooks:
            hook()
        self._graph.launch(self._stream)


def _cuda():
    import importlib

    cuda = importlib.import_module("minigrad.backend.cuda")  # the module, not the namespace
    if not cuda.is_available():
        raise RuntimeError(f"CUDA graphs need a CUDA GPU: {cuda.unavailable_reason()}")
    return cuda


def _cupy():
    return _cuda().cupy


@contextlib.contextmanager
def graph(g: CUDAGraph, prepare=()):
    """Record the GPU work of the block into ``g`` (nothing runs until ``g.replay()``).

    The block runs on a stream of its own with a memory pool of its own; cuBLAS's handle is
    bound to that stream for the capture (and back to the default stream after). Each
    ``prepare()`` runs first, outside the capture (``minigrad.graphs.graph`` passes the
    kernels' preparation: loading cuBLAS, compiling what only a capture launches)."""
    cp, cublas = _cupy(), _cuda().cublas()
    if capturing() is not None:
        raise RuntimeError("minigrad.graphs.graph: a capture is already in progress")
    # NOTE: a blocking stream, so that replays are ordered with the eager work of the legacy
    # default stream (the input copies before, the logging after) without explicit events.
    g._stream = cp.cuda.Stream(non_blocking=False)
    g._pool = cp.cuda.MemoryPool()
    g._hooks, g._keep = [], []
    cp.cuda.get_current_stream().synchronize()  # what was queued before is not part of it
    for fn in prepare:
        fn()
    handle = cp.cuda.device.get_cublas_handle()
    cublas.setStream(handle, g._stream.ptr)
    _local.graph = g
    try:
        with cp.cuda.using_allocator(g._pool.malloc), g._stream:
            g._stream.begin_capture()
            try:
                yield g
            except BaseException:
                try:  # end the (possibly invalidated) capture; the block's error is the news
                    g._stream.end_capture()
                except Exception:
                    pass
                raise
            g._graph = g._stream.end_capture()
    finally:
        _local.graph = None
        cublas.setStream(handle, cp.cuda.get_current_stream().ptr)
