"""``Function``: one op, its forward on arrays and its backward in Tensor ops, side by side.

A subclass implements::

    def forward(self, *arrays, **attrs) -> array          # raw numpy/cupy arrays in and out
    def backward(self, gy: Tensor) -> Tensor | tuple        # Tensors in and out, built from ops

``Function.apply(*inputs, **attrs)`` runs forward and, only when grad mode is on and some input
requires grad, records the instance itself as the node of the graph (``output._ctx``). Because
backward is written with minigrad's own ops, running it with grad mode on records a graph of the
gradient: that is all ``create_graph=True`` needs for second (and higher) derivatives.

Rules for a backward (see ops/__init__.py for the names gy, gx, ...):
- Inputs are in ``self.inputs`` (Tensors), the output in ``self.output``.
- Raw arrays stored on ``self`` are constants to higher orders: only store ones whose derivative
  really vanishes (a ReLU mask, an argmax index).
- Return one gradient per input, ``None`` where ``self.needs_input_grad[i]`` is False.
- An op whose backward is not itself differentiable sets ``once_differentiable = True``; the
  engine raises if a ``create_graph=True`` backward reaches it.

In-place changes (``zero_``, ``fill_``, ``copy_``, ``t[i] = v``, an optimizer's step) would make a
backward read values other than those its forward saw. Each one ticks a clock
(:func:`mark_modified`); a recorded node keeps the clock's value, and the engine checks a node's
tensors only when the clock has moved since (PyTorch's version counters, at the cost of one
integer per node). Tensors that share memory share the record of their last change: an op whose
output is a view of an input's data (reshape, indexing, transpose, ...) and ``detach()`` hand
the output the input's ``_version`` box, as PyTorch's views share their base's version counter,
so changing a view counts as changing its base and every other view of it.
"""
from __future__ import annotations

import weakref

import numpy as np

from minigrad.autograd.grad_mode import _grad_enabled
from minigrad import backend
from minigrad.backend.counters import _active as _counting  # the list itself: one test per op
from minigrad.backend.counters import add as _count_event

_FREED = "freed"
# Whether any tensor ever had a gradient hook (Tensor.register_hook): until then the engine does
# not look for them (one test per backward instead of one attribute lookup per node).
_grad_hooks_used = [False]
_ndarray = np.ndarray


class TensorBase:
    """What autograd knows of a Tensor: the class is ``minigrad.tensor.Tensor``, which builds on
    this package (imports point one way: autograd -> ops -> tensor), so autograd recognises
    tensors by this base and makes new ones with an existing tensor's ``_wrap``.

    Fields every Tensor has: ``data`` (array), ``grad``, ``requires_grad``, ``_ctx`` (the
    Function that made it, None for a leaf), ``_retains_grad``.
    """
    __slots__ = ()


class Function:
    # Set by apply(): inputs (tuple of Tensor), needs_input_grad (tuple of bool), _output_ref and
    # _clock (when recorded), xp (when not numpy). NOTE: those set on every recorded node are slots
    # (an op with no attributes of its own then never makes a __dict__: a node costs less to
    # make and to free); the ops' own attributes (self.c, self.saved, ...) go in the __dict__.
    __slots__ = ("inputs", "needs_input_grad", "_output_ref", "_clock", "__dict__", "__weakref__")
    once_differentiable = False
    xp = np  # the array module of the inputs; apply() sets it on the node when not numpy

    def forward(self, *arrays, **attrs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, gy):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    @property
    def output(self):
        """The Tensor this node produced (alive for as long as backward can reach the node)."""
        out = self._output_ref()
        if out is None:
            raise RuntimeError(f"{type(self).__name__}: its output was freed before backward")
        return out

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Run the op on Tensors (``inputs`` must already be Tensors) and record it if needed."""
        # NOTE: every op of every model passes here, so it is written for speed: one pass over
        # the inputs, the grad-mode ContextVar read only when some input requires grad.
        ctx = _new(cls)
        x = inputs[0]
        first = x.data
        t0 = type(first)
        if t0 is not _ndarray:  # NOTE: the class attribute xp is numpy
            ctx.xp = backend.get_array_module(first)
        if len(inputs) == 1:  # NOTE: the commonest case, without building tuples
            record = x.requires_grad and _grad_enabled.get()
            if record:
                ctx.inputs = inputs
                ctx.needs_input_grad = (True,)
            y = ctx.forward(first, **attrs) if attrs else ctx.forward(first)  # NOTE: ** costs
        else:
            if len(inputs) == 2:
                b = inputs[1]
                arrays = (first, b.data)
                if type(arrays[1]) is not t0:
                    _device_mismatch(cls, inputs)
                needs = (x.requires_grad, b.requires_grad)
            else:
                arrays = [t.data for t in inputs]
                for a in arrays:
                    if type(a) is not t0:
                        _device_mismatch(cls, inputs)
                needs = tuple([t.requires_grad for t in inputs])
            record = True in needs and _grad_enabled.get()
            if record:
                ctx.inputs = inputs
                ctx.needs_input_grad = needs
            y = ctx.forward(*arrays, **attrs) if attrs else ctx.forward(*arrays)
        if type(y) is not _ndarray and not isinstance(y, backend.array_types()):
            y = ctx.xp.asarray(y)
        if record:
            out = x._wrap(y, True, ctx)  # a plain Tensor
            ctx._output_ref = weakref.ref(out)
            ctx._clock = _inplace_clock[0]
        else:
            out = x._wrap(y, False, None)
        if y.base is not None or y is first:  # NOTE: rare; most ops' outputs own their memory
            _share_version(out, y, inputs)
        if _anomaly_hook[0] is not None:  # detect_anomaly(): checks every op, recorded or not
            _anomaly_hook[0](ctx, out, inputs)
        if _counting:  # backend.counters.count() is open
            _count_event("op")
        return out

    def _release(self):
        """Free what backward needed; a later backward through this node raises."""
        self.__dict__.clear()
        self.inputs = _FREED

    def __repr__(self):
        return f"<{type(self).__name__}>"


_new = object.__new__
# The in-place clock: how many in-place changes of tensors there have been (see mark_modified).
_inplace_clock = [0]


def mark_modified(tensors):
    """Record that ``tensors`` were just changed in place: a backward through any node recorded
    before now that saved one of them, or a tensor sharing its memory (a view made by an op, the
    tensor it views, another view of that, a ``detach()``-ed twin), raises
    (engine.check_unmodified) instead of computing a gradient from the new values."""
    clock = _inplace_clock[0] = _inplace_clock[0] + 1
    for t in tensors:
        box = getattr(t, "_version", None)
        if box is None:
            t._version = [clock]
        else:
            box[0] = clock


def version_box(t):
    """The one-element list holding the clock of the last in-place change of ``t``'s memory,
    shared by every tensor over that memory (made on first use: -1, never changed)."""
    box = getattr(t, "_version", None)
    if box is None:
        box = t._version = [-1]
    return box


def _share_version(out, y, inputs):
    """``out`` (array ``y``) came from an op: if ``y`` is an input's array or a view of it, ``out``
    shares that input's version box. (NumPy and CuPy name as a view's ``base`` the array that
    owns the memory, so one comparison with an input's array and its base covers views of views.)"""
    base = y.base
    for t in inputs:
        td = t.data
        if y is td or (base is not None and (base is td or base is td.base)):
            out._version = version_box(t)
            return


# detect_anomaly() (autograd/anomaly.py) installs hook(ctx, out, inputs) here, called after every
# op; None (the mode off) costs one test per op.
_anomaly_hook = [None]


def _device_mismatch(cls, inputs):
    devs = ", ".join(str(backend.device_of(t.data)) for t in inputs)
    raise RuntimeError(
        f"{cls.__name__}: expected all tensors on the same device, got tensors on {devs}. "
        "Move them with .to(device) first.")
