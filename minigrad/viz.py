"""Pictures of the autograd graph behind a tensor: the path its gradient takes back to the leaves.

    from minigrad import viz
    print(viz.to_text(loss, params=dict(model.named_parameters())))   # no dependency
    viz.render(loss, "loss.svg", params=dict(model.named_parameters()))  # needs Graphviz

What is drawn (the same in all three outputs):

- an **op** node per recorded ``Function`` (its class name, e.g. ``Linear``, ``LeakyReLU``,
  ``Mean``) with the shape of the tensor it produced;
- a **leaf** node per input that no op produced: named by ``Tensor.name``, or by its name in
  ``params`` (``dict(model.named_parameters())``); leaves that require grad (parameters, inputs
  you differentiate with respect to) are marked, constants (data, targets) are drawn dashed;
- edges from each input to the op that consumed it, so arrows follow the forward pass from the
  leaves down to the output; backward walks them in reverse, and a gradient reaches exactly the
  marked leaves that have a path to the output. Edges from constants are dashed: no gradient
  flows along them.

A graph is only there until a backward frees it: draw before calling ``backward()``, or pass
``retain_graph=True`` to it. A freed node is drawn as ``<op> (freed)`` with no inputs.

Graphs of gradients (``grad(..., create_graph=True)``) are graphs like any other: drawing a
gradient penalty shows the forward ops, the backward ops computed from them (``LeakyReLUGrad``,
``Linear`` with transposed weights, ...), and the same parameter leaves feeding both.

``to_dot`` writes the Graphviz source by hand (no dependency); ``render`` needs the ``graphviz``
Python package and Graphviz's ``dot`` program (``pip install graphviz`` and
``apt-get install graphviz``, or ``pip install -e ".[viz]"`` in this checkout for the first).
"""
from __future__ import annotations

from pathlib import Path

from minigrad.autograd.function import _FREED
from minigrad.tensor import Tensor

__all__ = ["to_dot", "to_text", "render", "GraphvizNotFound"]


class GraphvizNotFound(RuntimeError):
    """The graphviz Python package or the dot program is missing (render() needs both)."""


# ------------------------------------------------------------------------- the graph
class _Graph:
    """The nodes and edges reachable from ``root``, in a stable order (ids n0, n1, ...)."""

    def __init__(self, root: Tensor, params=None):
        if not isinstance(root, Tensor):
            raise TypeError(f"viz: expected a minigrad Tensor, got {type(root).__name__}")
        self.names = {id(p): name for name, p in (params or {}).items()}
        self.ids = {}      # id(node or leaf tensor) -> "nK"
        self.ops = []      # (nid, ctx, output shape, inputs or None if freed)
        self.leaves = []   # (nid, tensor)
        self.edges = []    # (src nid, dst nid, carries_grad)
        self.root_id = None
        self._keep = []    # keep what we id() alive while we draw
        self._walk(root)

    def _nid(self, obj):
        k = id(obj)
        if k not in self.ids:
            self.ids[k] = f"n{len(self.ids)}"
            self._keep.append(obj)
        return self.ids[k]

    def _walk(self, root):
        if root._ctx is None:
            self.root_id = self._nid(root)
            self.leaves.append((self.root_id, root))
            return
        self.root_id = self._nid(root._ctx)
        # Iterative depth-first walk (a deep graph must not hit the recursion limit).
        stack, seen = [(root._ctx, root.shape)], set()
        while stack:
            ctx, shape = stack.pop()
            if id(ctx) in seen:
                continue
            seen.add(id(ctx))
            nid = self._nid(ctx)
            inputs = ctx.inputs if getattr(ctx, "inputs", _FREED) is not _FREED else None
            self.ops.append((nid, ctx, shape, inputs))
            todo = []
            for t in inputs or ():
                if t._ctx is not None:
                    src = self._nid(t._ctx)
                    todo.append((t._ctx, t.shape))
                else:
                    is_new = id(t) not in self.ids
                    src = self._nid(t)
                    if is_new:
                        self.leaves.append((src, t))
                self.edges.append((src, nid, t.requires_grad))
            stack.extend(reversed(todo))  # first input explored first

    def leaf_label(self, t: Tensor) -> str:
        name = self.names.get(id(t)) or t.name
        if name is None:
            name = "input" if t.requires_grad else "const"
        return name

    def op_label(self, ctx) -> str:
        return type(ctx).__name__


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


# ------------------------------------------------------------------------------- dot
def _q(text: str) -> str:
    # NOTE: "\n" is dot's line break; a raw newline inside quotes is not portable.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(tensor: Tensor, params: dict | None = None, title: str | None = None) -> str:
    """Graphviz dot source of the graph that produced ``tensor`` (written by hand: no dependency).

    Ops are boxes (class name and output shape), leaves are ellipses: filled blue when they
    require grad, dashed grey when they are constants. The output is drawn with a double border.
    Arrows go from inputs to the ops that use them; gradients travel against them.
    """
    g = _Graph(tensor, params)
    lines = ["digraph autograd {",
             '  graph [rankdir=TB, fontname="Helvetica", fontsize=11, nodesep=0.25, '
             "ranksep=0.3];",
             '  node [fontname="Helvetica", fontsize=10, height=0.3];',
             '  edge [arrowsize=0.6, color="#555555"];']
    if title:
        lines.append(f"  labelloc=t; label={_q(title)};")
    for nid, t in g.leaves:
        label = f"{g.leaf_label(t)}\n{_shape(t.shape)}"
        if t.requires_grad:
            style = 'shape=ellipse, style=filled, fillcolor="#cfe3ff", color="#2b6cb0"'
            label += "\nrequires_grad"
        else:
            style = 'shape=ellipse, style=dashed, color="#999999", fontcolor="#666666"'
        if nid == g.root_id:
            style += ", peripheries=2"
        lines.append(f"  {nid} [label={_q(label)}, {style}];")
    for nid, ctx, shape, inputs in g.ops:
        label = f"{g.op_label(ctx)}\n{_shape(shape)}"
        style = 'shape=box, style="rounded,filled", fillcolor="#f4f4f4"'
        if inputs is None:
            label = f"{g.op_label(ctx)} (freed)"
            style = 'shape=box, style="rounded,dashed"'
        if nid == g.root_id:
            style = 'shape=box, style="rounded,filled", fillcolor="#ffe8b0", peripheries=2'
            if tensor.name:
                label = f"{tensor.name}\n{label}"
        lines.append(f"  {nid} [label={_q(label)}, {style}];")
    for src, dst, grad in g.edges:
        lines.append(f"  {src} -> {dst};" if grad else
                     f'  {src} -> {dst} [style=dashed, color="#aaaaaa"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ text
def to_text(tensor: Tensor, params: dict | None = None) -> str:
    """The graph as an indented tree, output first: for a terminal, or when Graphviz is absent.

    Each op shows ``[k]`` (its number), its class name and output shape, then its inputs indented
    below it. An op reached a second time (a shared subgraph) is printed as ``[k] ...`` instead of
    being expanded again. Leaves: ``*`` requires grad (gets a gradient), ``-`` constant.
    """
    g = _Graph(tensor, params)
    number = {nid: k for k, (nid, *_rest) in enumerate(g.ops)}
    by_id = {nid: (ctx, shape, inputs) for nid, ctx, shape, inputs in g.ops}
    lines = []
    if tensor._ctx is None:
        return _leaf_line(g, tensor) + "\n"
    expanded = set()
    # Explicit stack of (nid, tensor that node produced or leaf, prefix, is_last, is_top).
    stack = [(g.root_id, None, "", True, True)]
    while stack:
        nid, leaf, prefix, last, top = stack.pop()
        branch = "" if top else ("`- " if last else "|- ")
        child_prefix = prefix + ("" if top else ("   " if last else "|  "))
        if leaf is not None:
            lines.append(prefix + branch + _leaf_line(g, leaf))
            continue
        ctx, shape, inputs = by_id[nid]
        head = f"[{number[nid]}] {g.op_label(ctx)} {_shape(shape)}"
        if nid in expanded:
            lines.append(prefix + branch + head + " ...")
            continue
        expanded.add(nid)
        if inputs is None:
            lines.append(prefix + branch + head + " (freed by backward: no inputs known)")
            continue
        lines.append(prefix + branch + head)
        children = []
        for t in inputs:
            if t._ctx is not None:
                children.append((g.ids[id(t._ctx)], None))
            else:
                children.append((g.ids[id(t)], t))
        for i in reversed(range(len(children))):
            cid, leaf_t = children[i]
            stack.append((cid, leaf_t, child_prefix, i == len(children) - 1, False))
    return "\n".join(lines) + "\n"


def _leaf_line(g: _Graph, t: Tensor) -> str:
    mark = "*" if t.requires_grad else "-"
    kind = "requires_grad" if t.requires_grad else "constant"
    return f"{mark} {g.leaf_label(t)} {_shape(t.shape)} {kind}"


# ---------------------------------------------------------------------------- render
def render(tensor: Tensor, path, format: str | None = None, params: dict | None = None,
           title: str | None = None) -> Path:
    """Draw the graph of ``tensor`` into ``path`` ('svg' or 'png'; default: the path's suffix,
    else svg) with Graphviz's ``dot``. Returns the path written.

    Needs the ``graphviz`` Python package and the ``dot`` program; without them it raises
    :class:`GraphvizNotFound` saying how to install them (``to_text`` needs neither).
    """
    path = Path(path)
    if format is None:
        format = path.suffix.lstrip(".").lower() or "svg"
    if format not in ("svg", "png"):
        raise ValueError(f"render: format must be 'svg' or 'png', got {format!r}")
    if path.suffix.lower() != "." + format:
        path = path.with_name(path.name + "." + format)
    try:
        import graphviz
    except ImportError:
        raise GraphvizNotFound(
            "render() needs the graphviz Python package: pip install graphviz (or "
            "pip install -e \".[viz]\" in the checkout), and Graphviz's dot program: apt-get "
            "install graphviz (brew install graphviz on macOS). Without them, print(viz.to_text(t)) shows the "
            "same graph as text, and viz.to_dot(t) gives the source to paste into any Graphviz "
            "viewer.") from None
    source = graphviz.Source(to_dot(tensor, params, title))
    try:
        data = source.pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFound(
            "render() found the graphviz Python package but not Graphviz's dot program: "
            "apt-get install graphviz (brew install graphviz on macOS, or see "
            "https://graphviz.org/download/). Meanwhile print(viz.to_text(t)) shows the same "
            "graph as text.") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
