"""Gradient checking: compare backward's gradients with central finite differences.

Use them on your own functions (float64 inputs)::

    x = minigrad.randn(3, 4, dtype='float64', requires_grad=True)
    minigrad.gradcheck(lambda x: (x.tanh() * x).sum(dim=1), [x])       # first derivatives
    minigrad.gradgradcheck(lambda x: (x.tanh() * x).sum(dim=1), [x])   # second derivatives

``mode="full"`` builds the whole Jacobian, one column per input element (exact, slow for big
inputs); ``mode="fast"`` checks a random projection u^T J v per input (the idea of PyTorch's fast
gradcheck), which catches the same bugs with two function evaluations per input.
"""
from __future__ import annotations

import numpy as np

from minigrad.autograd.engine import grad as _grad
from minigrad.autograd.function import TensorBase


class GradcheckError(AssertionError):
    """Raised when analytical and numerical gradients disagree."""


def _as_outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _check_inputs(inputs):
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, TensorBase):
            raise TypeError(f"gradcheck: input {i} is a {type(t).__name__}, expected a Tensor")
        if t.requires_grad and t.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {t.dtype}; finite differences need float64 "
                            "inputs (create them with dtype='float64' or call .double())")
        if not t.data.flags.c_contiguous:
            t.data = np.ascontiguousarray(t.data)
    return inputs


def _eval(fn, inputs):
    # Grad mode stays on: fn may itself differentiate (gradgradcheck's first derivative).
    return [o.data.astype(np.float64).copy() for o in _as_outputs(fn(*inputs))]


def _report(kind, where, analytical, numerical, atol, rtol):
    diff = np.abs(analytical - numerical)
    tol = atol + rtol * np.abs(numerical)
    worst = np.unravel_index(np.argmax(diff - tol), diff.shape) if diff.size else ()
    rel = diff[worst] / max(abs(numerical[worst]), 1e-300)
    return (f"{kind} mismatch {where} at index {tuple(int(i) for i in worst)}: analytical "
            f"{analytical[worst]:.8g}, numerical {numerical[worst]:.8g}, absolute error "
            f"{diff[worst]:.3g}, relative error {rel:.3g} (atol={atol}, rtol={rtol})")


def _numerical_jacobian(fn, inputs, k, t, eps):
    """d out_k / d t by central differences: shape (t.size, out_k.size)."""
    flat = t.data.reshape(-1)  # a view (inputs are made contiguous): perturbing it perturbs t
    cols = []
    for e in range(flat.size):
        old = flat[e]
        flat[e] = old + eps
        plus = _eval(fn, inputs)[k]
        flat[e] = old - eps
        minus = _eval(fn, inputs)[k]
        flat[e] = old
        cols.append(((plus - minus) / (2 * eps)).reshape(-1))
    if not cols:  # an empty input: no rows (the output's size comes from one evaluation)
        return np.zeros((0, np.size(_eval(fn, inputs)[k])))
    return np.array(cols).reshape(flat.size, -1)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="full",
              raise_exception=True, seed=0) -> bool:
    """Check d fn(*inputs) / d inputs against central differences (inputs must be float64).

    Returns True when every input that requires grad passes; otherwise raises
    :class:`GradcheckError` naming the worst element (or returns False when
    ``raise_exception=False``).
    """
    if mode not in ("full", "fast"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'fast', got {mode!r}")
    inputs = _check_inputs(inputs)
    diff = [(i, t) for i, t in enumerate(inputs) if t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    outputs = _as_outputs(fn(*inputs))
    rng = np.random.default_rng(seed)

    for k, out in enumerate(outputs):
        # One backward per direction u in output space: every unit vector (full) or one random
        # vector (fast). An output that does not require grad has a zero analytical Jacobian.
        n_out = out.data.size
        us = np.eye(n_out) if mode == "full" else rng.standard_normal((1, n_out))
        rows = []  # rows[j][i] = u_j^T d out / d input_i, flattened
        for u in us:
            if out.requires_grad:
                gs = _grad(out, [t for _, t in diff], grad_outputs=out._wrap(
                    u.reshape(out.shape).astype(out.dtype), False, None), retain_graph=True, allow_unused=True)
            else:
                gs = [None] * len(diff)
            rows.append([np.zeros(t.data.size) if g is None else
                         g.data.astype(np.float64).reshape(-1) for (_, t), g in zip(diff, gs)])
        for n, (i, t) in enumerate(diff):
            analytical = np.array([r[n] for r in rows]).reshape(len(us), t.data.size)
            if mode == "full":
                numerical = _numerical_jacobian(fn, inputs, k, t, eps).T
                where = f"for input {i}, output {k} (rows: output elements, cols: input elements)"
            else:
                v = rng.standard_normal(t.data.size)
                flat = t.data.reshape(-1)
                saved = flat.copy()
                flat[:] = saved + eps * v
                plus = _eval(fn, inputs)[k].reshape(-1)
                flat[:] = saved - eps * v
                minus = _eval(fn, inputs)[k].reshape(-1)
                flat[:] = saved
                numerical = np.array([[us[0] @ (plus - minus) / (2 * eps)]])
                analytical = analytical @ v.reshape(-1, 1)
                where = f"in a random direction for input {i}, output {k}"
            if not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(_report("gradient", where, analytical, numerical,
                                                 atol, rtol))
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, mode="full",
                  raise_exception=True, seed=0) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v,
    create_graph=True), with random float64 ``v`` (``grad_outputs``) that also require grad."""
    inputs = _check_inputs(inputs)
    outputs = _as_outputs(fn(*inputs))
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = [o._wrap(rng.standard_normal(o.shape), True, None) for o in outputs]
    else:
        grad_outputs = _as_outputs(grad_outputs)
    diff_idx = [i for i, t in enumerate(inputs) if t.requires_grad]
    n_in = len(inputs)

    def first_derivative(*args):
        xs, vs = list(args[:n_in]), list(args[n_in:])
        outs = _as_outputs(fn(*xs))
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        gs = _grad([o for o, _ in pairs], [xs[i] for i in diff_idx],
                   grad_outputs=[v for _, v in pairs], create_graph=True, allow_unused=True)
        # Where the first derivative does not reach an input, it is a constant zero.
        return tuple(g if g is not None else xs[i]._wrap(np.zeros(xs[i].shape), False, None)
                     for g, i in zip(gs, diff_idx))

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     mode=mode, raise_exception=raise_exception, seed=seed)
