"""CuPy glue of the optimizer kernels (part of :mod:`minigrad.kernels.cupy_gpu`): the one-tensor
fused updates and the multi-tensor ones that update a whole parameter group in one launch."""
from __future__ import annotations


import numpy as np

from . import reference as ref
from .reference_optim import adam_scalars

def _g():
    """The glue module, whose helpers (``_cupy``, ``_launch``, ...) these functions use: looked
    up at call time, so a test's stand-in for CuPy there reaches them too."""
    from . import cupy_gpu

    return cupy_gpu


# ------------------------------------------------------------------------------- optimizers
def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
                weight_decay, step, amsgrad):
    """One fused in-place Adam step; see :func:`minigrad.kernels.reference.adam_update`."""
    state = [exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    if not _g()._fast(param, grad, *state):
        return ref.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr=lr,
                               beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                               step=step, amsgrad=amsgrad)
    scalars = adam_scalars(param.dtype, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                           weight_decay=weight_decay, step=step)
    name = "adam_update_amsgrad" if amsgrad else "adam_update"
    _g()._elementwise(name)(grad, *scalars, param, *state)
    return param


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, centered):
    """One fused in-place RMSprop step; see :func:`reference.rmsprop_update`."""
    use_momentum = momentum > 0
    state = ([square_avg] + ([grad_avg] if centered else [])
             + ([momentum_buffer] if use_momentum else []))
    if not _g()._fast(param, grad, *state):
        return ref.rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, lr=lr,
                                  alpha=alpha, eps=eps, weight_decay=weight_decay,
                                  momentum=momentum, centered=centered)
    dt = param.dtype.type
    name = ("rmsprop_update" + ("_centered" if centered else "")
            + ("_momentum" if use_momentum else ""))
    _g()._elementwise(name)(grad, dt(weight_decay), dt(alpha), dt(1.0 - alpha), dt(eps), dt(lr),
                       dt(momentum), param, *state)
    return param


def sgd_update(param, grad, momentum_buffer, *, lr, momentum=0.0, dampening=0.0,
               weight_decay=0.0, nesterov=False, first_step=False):
    """One fused in-place SGD step; see :func:`minigrad.kernels.reference.sgd_update`."""
    state = [momentum_buffer] if momentum != 0 else []
    if not _g()._fast(param, grad, *state):
        return ref.sgd_update(param, grad, momentum_buffer, lr=lr, momentum=momentum,
                              dampening=dampening, weight_decay=weight_decay,
                              nesterov=nesterov, first_step=first_step)
    dt = param.dtype.type
    if momentum == 0:
        _g()._elementwise("sgd_update")(grad, dt(weight_decay), dt(lr), param)
    else:
        _g()._elementwise("sgd_update_momentum")(
            grad, dt(weight_decay), dt(lr), dt(momentum), dt(1.0 - dampening),
            np.int32(bool(nesterov)), np.int32(bool(first_step)), param, momentum_buffer)
    return param


# ------------------------------------------------------------------ multi-tensor optimizers
# One launch per parameter group (cuda_src.multi_tensor_source). The kernel reads a device
# table of the tensors' pointers; building and uploading it costs a host-to-device copy, so
# tables are kept by the pointers they hold: in a training loop the parameters and optimizer
# state never move and CuPy's pool hands the gradients the same blocks step after step, so
# the table is uploaded once. (A table is a function of its key, so a stale entry is never
# wrong, only unused.)
_tables = {}
_TABLES_KEPT = 64


def _address(a):
    """The device address of array ``a`` (its host address for a NumPy stand-in in tests)."""
    data = a.data
    return data.ptr if hasattr(data, "ptr") else a.ctypes.data


def _pointer_table(rows, sizes):
    key = (tuple(_address(a) for row in rows for a in row), tuple(sizes))
    from minigrad.backend import graphs

    graph = graphs.capturing()
    if graph is not None:  # recorded: a copy from pinned memory the graph keeps alive
        return graph.constant(np.array(key[0], dtype=np.uint64)), graph.constant(
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    table = _tables.get(key)
    if table is None:
        cp = _g()._cupy()
        ptrs = np.array(key[0], dtype=np.uint64)
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if len(_tables) >= _TABLES_KEPT:
            _tables.clear()
        table = _tables[key] = (cp.asarray(ptrs), cp.asarray(starts))
    return table


def _multi(name, rows, scalars, single):
    """Launch multi-tensor kernel ``name`` once per (device, dtype, key) over ``rows``.

    ``rows``: ``(key, arrays, fallback)`` per tensor, ``arrays`` in the kernel's order (the
    gradient first, then the arrays updated in place); ``scalars(key, dtype)``: the kernel's
    scalar arguments for a group. A tensor outside the fast path (not CuPy, another dtype, an
    in-place array that is not C-contiguous) goes to ``single(*fallback)``, the one-tensor
    kernel.
    """
    groups = {}
    for key, arrays, fallback in rows:
        if _g()._fast(*arrays) and all(a.flags.c_contiguous for a in arrays[1:]):
            device = getattr(arrays[0].device, "id", 0)
            groups.setdefault((device, arrays[0].dtype, key), []).append(arrays)
        else:
            single(*fallback)
    cp = _g()._cupy()
    for (_, dtype, key), group in groups.items():
        group = [[cp.ascontiguousarray(arrays[0])] + arrays[1:] for arrays in group]
        group = [arrays for arrays in group if arrays[0].size]
        sizes = [arrays[0].size for arrays in group]
        total = int(sum(sizes))
        if not total:
            continue
        if total >= _g()._INT32_LIMIT:  # the kernel indexes with 32-bit ints: one launch per tensor
            for arrays in group:
                _multi_launch(name, [arrays], [arrays[0].size], scalars(key, dtype), dtype)
            continue
        _multi_launch(name, group, sizes, scalars(key, dtype), dtype)


def _multi_launch(name, group, sizes, scalars, dtype):
    with _g()._device_scope(group[0][0]):
        ptrs, starts = _pointer_table(group, sizes)
        total = int(sum(sizes))
        _g()._launch(_g()._raw_kernel(name, dtype), total,
                (ptrs, starts, np.int32(len(group)), np.int32(total)) + scalars)


def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *, lr, beta1,
                      beta2, eps, weight_decay, steps, amsgrad):
    """Fused Adam over a parameter group, one launch per (dtype, step); see
    :func:`minigrad.kernels.reference.adam_update_multi`."""
    rows = []
    for p, g, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                      steps):
        arrays = [g, p, m, v] + ([vmax] if amsgrad else [])
        rows.append((step, arrays, (p, g, m, v, vmax, step)))

    def scalars(step, dtype):
        return adam_scalars(dtype, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                            weight_decay=weight_decay, step=step)

    def single(p, g, m, v, vmax, step):
        adam_update(p, g, m, v, vmax, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                    weight_decay=weight_decay, step=step, amsgrad=amsgrad)

    _multi("multi_adam_update_amsgrad" if amsgrad else "multi_adam_update", rows, scalars,
           single)


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha,
                         eps, weight_decay, momentum, centered):
    """Fused RMSprop over a parameter group, one launch per dtype; see
    :func:`minigrad.kernels.reference.rmsprop_update_multi`."""
    use_momentum = momentum > 0
    rows = []
    for p, g, sq, ga, buf in zip(params, grads, square_avgs, grad_avgs, momentum_buffers):
        arrays = [g, p, sq] + ([ga] if centered else []) + ([buf] if use_momentum else [])
        rows.append((None, arrays, (p, g, sq, ga, buf)))

    def scalars(_, dtype):
        dt = dtype.type
        return (dt(weight_decay), dt(alpha), dt(1.0 - alpha), dt(eps), dt(lr), dt(momentum))

    def single(p, g, sq, ga, buf):
        rmsprop_update(p, g, sq, ga, buf, lr=lr, alpha=alpha, eps=eps,
                       weight_decay=weight_decay, momentum=momentum, centered=centered)

    name = ("multi_rmsprop_update" + ("_centered" if centered else "")
            + ("_momentum" if use_momentum else ""))
    _multi(name, rows, scalars, single)


def adam_update_multi_device_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *,
                                   lr, beta1, beta2, eps, weight_decay, steps, amsgrad):
    """Fused Adam over a parameter group in one launch, the steps read from the device array
    ``steps``; see :func:`minigrad.kernels.reference.adam_update_multi_device_steps`."""
    cp = _g()._cupy()
    rows = [[g, p, m, v] + ([vmax] if amsgrad else [])
            for p, g, m, v, vmax in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)]
    if cp is None or not rows or not isinstance(steps, cp.ndarray) or not all(
            _g()._fast(*r) and all(a.flags.c_contiguous for a in r[1:]) and r[0].size for r in rows) \
            or len({r[0].dtype for r in rows}) != 1:
        return ref.adam_update_multi_device_steps(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, lr=lr, beta1=beta1,
            beta2=beta2, eps=eps, weight_decay=weight_decay, steps=steps, amsgrad=amsgrad)
    rows = [[cp.ascontiguousarray(r[0])] + r[1:] for r in rows]
    sizes = [r[0].size for r in rows]
    dtype = rows[0][0].dtype
    dt = dtype.type
    name = ("multi_adam_update_amsgrad" if amsgrad else "multi_adam_update") + "_device_steps"
    scalars = (dt(weight_decay), dt(beta1), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2), dt(eps),
               steps, np.float64(lr), np.float64(beta1), np.float64(beta2))
    _multi_launch(name, rows, sizes, scalars, dtype)
