"""``detect_anomaly()``: stop at the first op that makes a NaN or an inf, forward or backward.

    with minigrad.detect_anomaly():
        loss = model(x).log().mean()     # AnomalyError here if log sees a negative number
        loss.backward()                  # or here, naming the op whose backward made the NaN

While the mode is on:

- **forward**: every op's output must be finite. The error names the op (its ``Function``
  class), the shapes and dtypes of its inputs, and the line of your code that called it.
- **backward**: every gradient a node's ``backward`` returns must be finite. A NaN found there
  is reported against the op that produced it, with the lines of your code that *created the op
  during the forward pass*: the traceback of ``loss.backward()`` alone would only show the
  engine.

How it works, and why it costs nothing when off: ``Function.apply`` calls
``function._anomaly_hook[0](ctx, out, inputs)`` after every op if that slot is not None, so
with the mode off each op pays one comparison. With it on, a recorded node gets

- ``_anomaly_origin``: a few (file, line, function) entries of the stack outside minigrad's own
  files, taken when the node is created (the "where was this made" the backward error needs);
- an instance attribute ``backward`` that shadows the class's method: it runs the real backward,
  then checks what it returned. ``Function._release`` clears both with the rest of the node.

Ops run *by* a node's backward are not checked one by one: the node's returned gradient is, and
the error names the node. With ``create_graph=True`` those ops are recorded nodes too; they get
the same treatment (for the next backward through them) and remember which node's backward made
them, so a NaN in a second derivative (a WGAN-GP penalty) is traced back to its forward op.

A NaN that the code masks on purpose (``where(x > 0, log(x), 0)``) also stops the forward check;
use ``detect_anomaly(check_forward=False)`` to check only the backward, as PyTorch does.
"""
from __future__ import annotations

import contextlib
import linecache
import os
import sys

from minigrad import backend
from minigrad.autograd import function as _function

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled"]

# Frames from files under this folder are minigrad's own and are left out of the traces.
_MINIGRAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_FRAMES = 4  # user frames kept per node: enough to see the call site and its caller or two

# Why an op commonly makes a NaN or inf, said as what to do about it.
_HINTS = {
    "Log": "log(x) is NaN for x < 0 and -inf at 0: keep its input positive (x.clamp(min=eps)), "
           "or for a loss start from logits (binary_cross_entropy_with_logits, log_softmax)",
    "Sqrt": "sqrt(x) is NaN for x < 0, and its derivative 1 / (2 sqrt(x)) is infinite at 0: "
            "take sqrt(x + eps), or use minigrad.norm, which is safe at 0",
    "Div": "a division by zero (x / 0 is inf, 0 / 0 is NaN): add an eps to the denominator",
    "PowConst": "x ** p is NaN for x < 0 with a fractional p, and inf at 0 for p < 0 "
                "(its derivative p x^(p-1) too for p < 1)",
    "Exp": "exp(x) overflows for x > 88 in float32: subtract the max first (logsumexp and "
           "softmax do), or lower the learning rate if the values blew up during training",
    "MatMul": "a product of very large values overflowed: the weights or activations blew up; "
              "lower the learning rate or clip the gradients (nn.utils.clip_grad_norm_)",
    "Linear": "a product of very large values overflowed: the weights or activations blew up; "
              "lower the learning rate or clip the gradients (nn.utils.clip_grad_norm_)",
}


class AnomalyError(RuntimeError):
    """An op produced a NaN or an inf while ``detect_anomaly()`` was on."""


# Nodes whose backward is running now (innermost last): ops created meanwhile belong to it.
_running = []


def is_anomaly_enabled() -> bool:
    return _function._anomaly_hook[0] is not None


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager (or decorator): raise :class:`AnomalyError` at the first NaN or inf
    produced by an op's forward (``check_forward=True``) or returned by a node's backward.

    Graphs recorded inside keep their checks when their backward runs later, outside the block.
    Nested blocks are allowed; the innermost one's ``check_forward`` applies.
    """

    def __init__(self, check_forward: bool = True):
        self.check_forward = bool(check_forward)
        self._prev = []

    def __enter__(self):
        self._prev.append(_function._anomaly_hook[0])
        _function._anomaly_hook[0] = _on_op if self.check_forward else _on_op_backward_only
        return self

    def __exit__(self, *exc):
        _function._anomaly_hook[0] = self._prev.pop()
        return False


# ------------------------------------------------------------------------------ the hook
def _on_op(ctx, out, inputs):
    if not _running and out.dtype.kind == "f" and not _finite(out.data):
        raise AnomalyError(_forward_message(ctx, out, inputs))
    if out._ctx is ctx:
        _instrument(ctx)


def _on_op_backward_only(ctx, out, inputs):
    if out._ctx is ctx:
        _instrument(ctx)


def _instrument(ctx):
    """Remember where ``ctx`` was created and make its backward check its gradients."""
    # (op name, user frames, the same for the node whose backward created this one, or None)
    ctx._anomaly_origin = (type(ctx).__name__, _user_frames(),
                           _running[-1]._anomaly_origin if _running else None)
    cls_backward = type(ctx).backward

    def backward(gy):
        _running.append(ctx)
        try:
            gxs = cls_backward(ctx, gy)
        finally:
            _running.pop()
        _check_gradients(ctx, gy, gxs)
        return gxs

    # NOTE: an instance attribute shadows the class's method for this node only; the closure
    # refers to ctx (a cycle the garbage collector frees) and _release() drops it with the rest.
    ctx.backward = backward


def _check_gradients(ctx, gy, gxs):
    for i, gx in enumerate(gxs if isinstance(gxs, tuple) else (gxs,)):
        if gx is None or gx.dtype.kind != "f" or _finite(gx.data):
            continue
        name = type(ctx).__name__
        inputs = ctx.inputs
        target = inputs[i] if i < len(inputs) else None
        of = (f" for its input {i} (shape {tuple(target.shape)})" if target is not None else "")
        gy_note = ("The incoming gradient was finite, so this op made it."
                   if _finite(gy.data) else
                   "The incoming gradient already held NaN/inf: it was passed to backward() or "
                   "grad() that way.")
        raise AnomalyError(
            f"{name}.backward returned a gradient with {_count(gx.data)}{of}. {gy_note}\n"
            f"  op: {name}, inputs: {_describe(inputs)}, output shape {tuple(gy.shape)}\n"
            + _where(ctx) + _hint(name))


def _forward_message(ctx, out, inputs):
    name = type(ctx).__name__
    bad_in = [i for i, t in enumerate(inputs) if t.dtype.kind == "f" and not _finite(t.data)]
    if bad_in:
        cause = (f"Input {bad_in[0]} already held NaN/inf: it came from outside the checked ops "
                 "(the data, a tensor changed in place, or one made before detect_anomaly() "
                 "was entered).")
    else:
        cause = "Its inputs were finite, so this op made it."
    frames = _user_frames()
    return (f"{name} produced {_count(out.data)} in its forward (output shape "
            f"{tuple(out.shape)}). {cause}\n"
            f"  op: {name}, inputs: {_describe(inputs)}\n"
            + _format_frames(frames, "  called at (most recent call last):") + _hint(name))


# ----------------------------------------------------------------------------- helpers
def _finite(a) -> bool:
    xp = backend.get_array_module(a)
    return bool(xp.isfinite(a).all())


def _count(a) -> str:
    xp = backend.get_array_module(a)
    n_nan, n_inf = int(xp.isnan(a).sum()), int(xp.isinf(a).sum())
    parts = [f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "inf")) if n]
    return " and ".join(parts) + f" (of {a.size} elements)"


def _describe(inputs) -> str:
    return ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in inputs)


def _user_frames():
    """(file, line, function) of the innermost frames outside minigrad, innermost first."""
    frames = []
    f = sys._getframe(2)
    while f is not None and len(frames) < _FRAMES:
        filename = f.f_code.co_filename
        if not filename.startswith(_MINIGRAD_DIR) and not filename.startswith("<frozen"):
            frames.append((filename, f.f_lineno, f.f_code.co_name))
        f = f.f_back
    return frames


def _format_frames(frames, title) -> str:
    lines = [title]
    for filename, lineno, func in reversed(frames):  # most recent call last, like Python
        lines.append(f'    File "{filename}", line {lineno}, in {func}')
        src = linecache.getline(filename, lineno).strip()
        if src:
            lines.append(f"      {src}")
    if not frames:
        lines.append("    (no frame outside minigrad)")
    return "\n".join(lines) + "\n"


def _where(ctx) -> str:
    origin = getattr(ctx, "_anomaly_origin", None)
    if origin is None:
        return ""
    name, frames, parent = origin
    text = _format_frames(frames, f"  {name} was created at (most recent call last):")
    while parent is not None:  # made by the backward of `parent` (create_graph=True)
        pname, pframes, parent = parent
        text += _format_frames(pframes, f"  ... by the backward of {pname}, created at:")
    return text


def _hint(name) -> str:
    hint = _HINTS.get(name)
    return f"  hint: {hint}" if hint else ""
