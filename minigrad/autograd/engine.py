"""The backward pass: walk the recorded graph from the outputs back to the leaves.

Two halves, read in this order:

- :func:`compute_gradients` is the chain rule and nothing else. It orders the nodes reachable
  from the outputs (:func:`_topo_order`), visits them outputs first, hands each node the sum of
  the gradients that reached its output, and collects what its ``backward`` returns per input.
  Out comes a dict ``{tensor: gradient}``; no ``.grad`` is written. :func:`grad` returns entries
  of that dict.
- :func:`backward` (``Tensor.backward``) is ``compute_gradients`` plus storing: it adds each
  leaf's gradient into its ``.grad`` (:func:`_store_in_leaves`) and then runs the leaves'
  post-accumulate-grad hooks.

Around the chain rule:

- the whole walk runs under ``set_grad_enabled(create_graph)``: with ``create_graph=True`` the
  backward ops are themselves recorded, and the gradients can be differentiated again;
- when specific ``inputs`` are asked for (``grad``), the nodes that cannot reach any of them are
  pruned, and the others are told which of their inputs need a gradient;
- unless ``retain_graph``, every visited node is released at the end; a second backward through
  it raises;
- a node whose tensors were changed in place after it was recorded raises
  (:func:`check_unmodified`), where its backward would read the new values.
"""
from __future__ import annotations

from minigrad.autograd.function import (_FREED, TensorBase, _anomaly_hook, _grad_hooks_used,
                                        _inplace_clock)
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


def compute_gradients(roots, root_grads, inputs=None, retain_graph=None, create_graph=False):
    """The chain rule over the graph behind ``roots``, seeded with ``root_grads``.

    Returns ``{tensor: gradient}`` for every leaf that requires grad and was reached, and, when
    ``inputs`` is given, for each of those tensors that was reached (leaf or not; the nodes
    that cannot reach any of them are skipped). Writes no ``.grad`` (except on ``retain_grad()``
    tensors on the way); runs the tensors' gradient hooks (``Tensor.register_hook``) on each
    gradient once it is complete, not the post-accumulate ones.
    """
    if retain_graph is None:
        retain_graph = create_graph
    order = _topo_order(roots)
    grads, keep = {}, {}  # id(t) -> its gradient so far; id(t) -> t, so that ids stay unique
    for r, g in zip(roots, root_grads):
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g
        keep[id(r)] = r
    # Without create_graph the sums of fan-in are taken on the raw arrays (no graph records them
    # either way; this skips an op's dispatch). detect_anomaly() keeps the op, to check the sums.
    raw_sums = not create_graph and _anomaly_hook[0] is None
    hooks_used = _grad_hooks_used[0]
    targets, masks = None, {}
    token = _grad_enabled.set(bool(create_graph))
    try:
        if inputs is not None:
            targets = {id(t) for t in inputs}
            order, masks = _prune(order, targets)
        for node in order:
            out = node._output_ref()
            if out is None:
                continue
            gy = grads.pop(id(out), None)
            if gy is None:
                continue
            if hooks_used and getattr(out, "_grad_hooks", None):
                gy = _run_grad_hooks(out, gy)
            if out._retains_grad:
                out.grad = gy if out.grad is None else out.grad + gy
            if targets is not None and id(out) in targets:
                grads[id(out)] = gy  # complete: every consumer of `out` came before its node
            if node._clock != _inplace_clock[0]:  # something changed in place since its forward
                check_unmodified(node, out)
            if create_graph and node.once_differentiable:
                raise RuntimeError(
                    f"{type(node).__name__} is once_differentiable: its backward cannot be "
                    "differentiated, so create_graph=True cannot go through it.")
            gxs = node.backward(gy)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            node_inputs = node.inputs
            if len(gxs) != len(node_inputs):
                raise RuntimeError(f"{type(node).__name__}.backward returned {len(gxs)} gradients "
                                   f"for {len(node_inputs)} inputs")
            for t, gx in zip(node_inputs, gxs):  # the chain rule: dL/dt += dL/dout * dout/dt
                if gx is None or not t.requires_grad:
                    continue
                gd, td = gx.data, t.data
                # NOTE: dtypes by identity first (numpy's builtin ones are singletons); _conform
                # tells an equal dtype object from another dtype
                if gd.dtype is not td.dtype or gd.shape != td.shape:
                    gx = _conform(node, gx, t)
                k = id(t)
                prev = grads.get(k)
                if prev is None:
                    grads[k] = gx
                    keep[k] = t
                elif raw_sums:  # see raw_sums above
                    total = prev.data + gx.data
                    if type(total) is not type(td):  # 0-d arrays add up to a numpy scalar
                        total = gx.xp.asarray(total)
                    grads[k] = gx._wrap(total, False, None)
                else:
                    grads[k] = prev + gx
        if hooks_used:  # the leaves' gradients are complete now
            for k, g in grads.items():
                t = keep[k]
                if t._ctx is None and getattr(t, "_grad_hooks", None):
                    grads[k] = _run_grad_hooks(t, g)
    finally:
        _grad_enabled.reset(token)
        for node, mask in masks.items():
            node.needs_input_grad = mask
        if not retain_graph:
            for node in order:
                node._release()
    return {keep[k]: g for k, g in grads.items()}


def _run_grad_hooks(t, g):
    """``g`` through t's gradient hooks, in registration order (a hook may replace it)."""
    for hook in list(t._grad_hooks.values()):
        new = hook(g)
        if new is not None:
            if not isinstance(new, TensorBase) or new.shape != g.shape:
                raise RuntimeError(f"a gradient hook returned {_describe(new)} for a gradient of "
                                   f"shape {tuple(g.shape)}: return a tensor of that shape, or "
                                   "None to keep it")
            g = new
    return g


def check_unmodified(node, out):
    """Raise if an input or the output of ``node`` was changed in place after the node was
    recorded (function.mark_modified): its backward would compute from values its forward never
    saw (PyTorch: "modified by an inplace operation")."""
    for t in (*node.inputs, out):
        box = getattr(t, "_version", None)  # shared with the tensors over the same memory
        if box is not None and box[0] > node._clock:
            role = "output" if t is out else "input"
            raise RuntimeError(
                f"{type(node).__name__}'s backward needs its {role} of shape {tuple(t.shape)}, "
                "which was changed in place after the forward (zero_, fill_, copy_, t[...] = v, an "
                "optimizer's step or load_state_dict), so the gradient would be wrong. Compute the "
                "loss again after the change (in a GAN: the generator's loss after D's optimizer "
                "step, from a new D(fake)), or change a clone() instead.")


def _prune(order, targets):
    """For ``grad(..., inputs)`` (``targets``: their ids): keep the nodes from which one of the
    inputs can be reached, and tell each (by ``needs_input_grad``) which of its own inputs lead
    there. Returns the kept nodes and their original masks, which the caller puts back."""
    needed = {}  # node -> its original needs_input_grad
    for node in reversed(order):  # leaves' creators first
        leads = [id(t) in targets or t._ctx in needed for t in node.inputs]
        if any(leads):
            needed[node] = mask = node.needs_input_grad
            node.needs_input_grad = tuple(m and r for m, r in zip(mask, leads))
    return [n for n in order if n in needed], needed


def _conform(node, gx, t):
    """A gradient ``backward`` returned, checked against its input: a wrong shape is a bug in
    the op; a dtype other than the input's is cast to it."""
    if gx.data.shape != t.data.shape:
        raise RuntimeError(f"{type(node).__name__}.backward returned a gradient of shape "
                           f"{gx.data.shape} for an input of shape {t.data.shape}")
    return gx if gx.data.dtype == t.data.dtype else gx.to(dtype=t.data.dtype)


def _store_in_leaves(grads, root_grads, create_graph, only=None):
    """``backward``'s second half: add each leaf's gradient (or, given ``only``, a set of ids,
    each of those tensors' gradient, leaf or not) into its ``.grad``; returns the leaves that have
    post-accumulate-grad hooks."""
    # One gradient may reach two leaves (x + y), or be the caller's own `gradient` passed through
    # (x + 1): never alias .grad with either (nor with a view of either: the ids of the arrays
    # and of the views' bases are kept).
    handed_out = set()
    for g in root_grads:
        handed_out.update(_memory_ids(g.data))
    hooked = []
    for t, g in grads.items():
        if (t._ctx is not None if only is None else id(t) not in only) or not t.requires_grad:
            continue
        if t._ctx is None and getattr(t, "_post_accumulate_grad_hooks", None):
            hooked.append(t)
        if create_graph:  # Tensor ops, so that .grad keeps its graph
            if id(g) in handed_out:
                g = g * 1
            handed_out.add(id(g))
            t.grad = g if t.grad is None else t.grad + g
            continue
        if t.grad is not None:
            data = t.grad.data + g.data
        else:
            # NOTE: copied when it is an array handed out already or a view of one, a slice
            # (its base holds more: a concatenation's gradient, which the other parts' leaves
            # get slices of), read-only (a broadcast from a sum's backward) or not C-contiguous
            # (a leaf's .grad has the layout of the leaf, as torch's gradient layout contract
            # asks: the optimizers' kernels read both as flat runs). A reshape of an array
            # nothing else holds (a weight gradient's (OC, C, KH, KW) view of its product) is
            # kept as it is: a copy kernel fewer on a GPU.
            data = g.data
            base = data.base
            if (id(data) in handed_out or not getattr(data.flags, "writeable", True)
                    or not data.flags.c_contiguous
                    or (base is not None and (id(base) in handed_out or base.size != data.size))):
                data = data.copy()
        handed_out.update(_memory_ids(data))
        t.grad = t._wrap(data, False, None)
    return hooked


def _memory_ids(a):
    """The ids that name ``a``'s memory: its own, and its base's when it is a view (NumPy and
    CuPy name as a view's base the array that owns the memory)."""
    return (id(a),) if a.base is None else (id(a), id(a.base))


def _describe(t):
    return (f"a tensor of shape {tuple(t.shape)} that does not require grad"
            if isinstance(t, TensorBase) else type(t).__name__)


def _as_gradient(g, like):
    """``g`` (a Tensor, an array, a list or a number) as a Tensor of ``like``'s dtype and
    device; None gives ones (the gradient of a scalar output with respect to itself)."""
    if g is None:
        return like._wrap(like.xp.ones_like(like.data), False, None)
    if isinstance(g, TensorBase):
        return g
    return like._wrap(like.xp.asarray(g, dtype=like.dtype), False, None)


def backward(tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """``Tensor.backward``: accumulate d(tensor)/d(leaf) into every leaf's ``.grad`` (or, given
    ``inputs``, only into those tensors' ``.grad``, leaves or not, as in torch)."""
    only = None
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, TensorBase) else list(inputs)
        if not inputs:
            raise RuntimeError("backward(): inputs= is empty: leave it out to accumulate into "
                               "every leaf, or name the tensors whose .grad should be filled")
        for t in inputs:
            if not isinstance(t, TensorBase) or not t.requires_grad:
                raise RuntimeError(f"backward(): each of inputs= must be a tensor that requires "
                                   f"grad, got {_describe(t)}")
        only = {id(t) for t in inputs}
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
    grads = compute_gradients([tensor], [gradient], inputs, retain_graph, create_graph)
    # After every leaf has its gradient (DistributedDataParallel reduces them from here).
    for t in _store_in_leaves(grads, [gradient], create_graph, only):
        for hook in list(t._post_accumulate_grad_hooks.values()):
            hook(t)


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
            raise RuntimeError(f"grad(): grad_outputs is needed for a non-scalar output (shape "
                               f"{o.shape}): call .sum() or .mean() first, or pass grad_outputs= "
                               "of that shape.")
        g = _as_gradient(g, o)
        if g.shape != o.shape:
            raise RuntimeError(f"grad(): grad_output shape {g.shape} does not match output shape "
                               f"{o.shape}")
        roots.append(o)
        root_grads.append(g)
    grads = compute_gradients(roots, root_grads, inputs, retain_graph, create_graph)
    for t in inputs:
        if t not in grads and not allow_unused:
            raise RuntimeError(
                "One of the differentiated Tensors appears to not have been used in the "
                f"graph (shape {t.shape}). Set allow_unused=True if this is what you want.")
    return tuple(grads.get(t) for t in inputs)
