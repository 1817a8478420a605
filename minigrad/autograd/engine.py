"""The backward pass: walk the recorded graph from the outputs back to the leaves.

One routine, :func:`_run_backward`, serves ``Tensor.backward`` (accumulate into leaves' ``.grad``)
and :func:`grad` (return the gradients, leave ``.grad`` alone). Steps:

1. Topological order of the nodes reachable from the outputs, by an iterative depth-first search
   (no recursion limit, linear time).
2. When specific ``inputs`` are asked for, prune the nodes that cannot reach any of them.
3. Visit nodes from the outputs down; each node gets the sum of the gradients of its output and
   calls its ``backward``, which returns one gradient per input.
4. All of it runs under ``set_grad_enabled(create_graph)``: with ``create_graph=True`` the
   backward ops are themselves recorded, and the returned gradients can be differentiated again.
5. Unless ``retain_graph``, every visited node is released at the end; a second backward through
   it raises.
6. ``backward()`` then calls the leaves' post-accumulate-grad hooks, once all of them hold
   their gradient.
"""
from __future__ import annotations

from minigrad.autograd.function import _FREED, TensorBase
from minigrad.autograd.grad_mode import _grad_enabled


def _topo_order(roots):
    """Nodes reachable from ``roots`` (Tensors), each after every node that consumes its output."""
    order, seen = [], set()
    stack = [(r._ctx, False) for r in roots if r._ctx is not None]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        inputs = node.inputs
        if inputs is _FREED:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {type(node).__name__}"
                "): its saved values were freed by the first backward. Usually a tensor computed "
                "before that backward is used again after it (in a GAN: the generator's fake batch "
                "reused for the G step): recompute it, or detach() it where no gradient should "
                "flow back. If you really need to go through the graph twice, pass "
                "retain_graph=True to the first backward() or grad().")
        for t in inputs:
            c = t._ctx
            if c is not None and c not in seen:
                stack.append((c, False))
    order.reverse()  # outputs first
    return order


def _run_backward(roots, root_grads, inputs=None, retain_graph=None, create_graph=False,
                  allow_unused=False):
    if retain_graph is None:
        retain_graph = create_graph
    order = _topo_order(roots)

    targets = None
    if inputs is not None:
        targets = {id(t) for t in inputs}
        # needed: nodes from which some target can be reached (so their backward must run).
        needed = set()
        for node in reversed(order):  # leaves' creators first
            for t in node.inputs:
                if id(t) in targets or (t._ctx is not None and t._ctx in needed):
                    needed.add(node)
                    break
        order = [n for n in order if n in needed]

    grads = {}  # id(tensor) -> accumulated gradient Tensor
    keep = {}   # id -> tensor, so ids stay unique while we hold gradients for them
    for r, g in zip(roots, root_grads):
        _accumulate(grads, keep, r, g)

    captured = {}
    token = _grad_enabled.set(bool(create_graph))
    try:
        for node in order:
            out = node._output_ref()
            gy = grads.pop(id(out), None) if out is not None else None
            if gy is None:
                continue
            if out._retains_grad:
                out.grad = gy if out.grad is None else out.grad + gy
            if targets is not None and id(out) in targets:
                captured[id(out)] = gy
            if create_graph and node.once_differentiable:
                raise RuntimeError(
                    f"{type(node).__name__} is once_differentiable: its backward cannot be "
                    "differentiated, so create_graph=True cannot go through it.")
            node_inputs = node.inputs
            saved_mask = node.needs_input_grad
            if targets is not None:
                node.needs_input_grad = tuple(
                    m and (id(t) in targets or (t._ctx is not None and t._ctx in needed))
                    for m, t in zip(saved_mask, node_inputs))
            try:
                gxs = node.backward(gy)
            finally:
                node.needs_input_grad = saved_mask
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            if len(gxs) != len(node_inputs):
                raise RuntimeError(f"{type(node).__name__}.backward returned {len(gxs)} gradients "
                                   f"for {len(node_inputs)} inputs")
            for t, gx in zip(node_inputs, gxs):
                if gx is None or not t.requires_grad:
                    continue
                if gx.shape != t.shape:
                    raise RuntimeError(f"{type(node).__name__}.backward returned a gradient of "
                                       f"shape {gx.shape} for an input of shape {t.shape}")
                if gx.dtype != t.dtype:
                    gx = gx.to(dtype=t.dtype)
                _accumulate(grads, keep, t, gx)
    finally:
        _grad_enabled.reset(token)
        if not retain_graph:
            for node in order:
                node._release()

    # What is left in `grads` belongs to leaves (and to non-leaf targets that are roots).
    if inputs is not None:
        result = []
        for t in inputs:
            g = captured.get(id(t), grads.get(id(t)))
            if g is None and not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    f"graph (shape {t.shape}). Set allow_unused=True if this is what you want.")
            result.append(g)
        return tuple(result)

    # One gradient may reach two leaves (x + y), or be the caller's own `gradient` passed through
    # (x + 1): never alias .grad with either.
    handed_out = {id(g.data) for g in root_grads}
    hooked = []
    for tid, g in grads.items():
        t = keep[tid]
        if t._ctx is None and t.requires_grad:
            if getattr(t, "_post_accumulate_grad_hooks", None):
                hooked.append(t)
            if create_graph:
                if id(g) in handed_out:
                    g = g * 1
                handed_out.add(id(g))
                t.grad = g if t.grad is None else t.grad + g
                continue
            if t.grad is not None:
                data = t.grad.data + g.data
            else:
                # NOTE: a view (reshape/slice of another gradient, a read-only broadcast from a
                # sum's backward) would alias another leaf's .grad or be unwritable: copy it.
                data = g.data
                if id(data) in handed_out or not data.flags.owndata or \
                        not getattr(data.flags, "writeable", True):
                    data = data.copy()
            handed_out.add(id(data))
            t.grad = t._wrap(data, False, None)
    # After every leaf has its gradient (DistributedDataParallel reduces them from here).
    for t in hooked:
        for hook in list(t._post_accumulate_grad_hooks.values()):
            hook(t)
    return None


def _accumulate(grads, keep, t, g):
    k = id(t)
    prev = grads.get(k)
    if prev is None:
        grads[k] = g
        keep[k] = t
    else:
        grads[k] = prev + g


def _as_gradient(g, like):
    """``g`` (a Tensor, an array, a list or a number) as a Tensor of ``like``'s dtype and
    device; None gives ones (the gradient of a scalar output with respect to itself)."""
    if g is None:
        return like._wrap(like.xp.ones_like(like.data), False, None)
    if isinstance(g, TensorBase):
        return g
    return like._wrap(like.xp.asarray(g, dtype=like.dtype), False, None)


def backward(tensor, gradient=None, retain_graph=None, create_graph=False):
    """``Tensor.backward``: accumulate d(tensor)/d(leaf) into every leaf's ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError("backward() called on a tensor that does not require grad and has no "
                           "graph: did you compute it under no_grad() or from detached tensors?")
    if gradient is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"backward() needs a gradient argument for a non-scalar output (shape "
                f"{tensor.shape}): call .sum() or .mean() first, or pass gradient= of that shape.")
    gradient = _as_gradient(gradient, tensor)
    if gradient.shape != tensor.shape:
        raise RuntimeError(f"backward(): gradient shape {gradient.shape} does not match the "
                           f"tensor's shape {tensor.shape}")
    _run_backward([tensor], [gradient], None, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` is left alone).

    The semantics of ``torch.autograd.grad``. With ``create_graph=True`` the returned gradients
    carry a graph of their own and can be differentiated again (WGAN-GP's gradient penalty)::

        gx, = minigrad.grad(y.sum(), x, create_graph=True)
        gx.pow(2).sum().backward()          # a second derivative reaches x's graph
    """
    outputs = [outputs] if isinstance(outputs, TensorBase) else list(outputs)
    inputs = [inputs] if isinstance(inputs, TensorBase) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, TensorBase):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError(f"grad(): an input (shape {t.shape}) does not require grad")
    roots, root_grads = [], []
    for o, g in zip(outputs, grad_outputs):
        if not o.requires_grad:
            raise RuntimeError(f"grad(): an output (shape {o.shape}) does not require grad and "
                               "has no graph")
        if g is None and o.data.size != 1:
            raise RuntimeError(f"grad(): grad_outputs is needed for a non-scalar output "
                               f"(shape {o.shape})")
        g = _as_gradient(g, o)
        if g.shape != o.shape:
            raise RuntimeError(f"grad(): grad_output shape {g.shape} does not match output shape "
                               f"{o.shape}")
        roots.append(o)
        root_grads.append(g)
    return _run_backward(roots, root_grads, inputs, retain_graph, create_graph, allow_unused)
