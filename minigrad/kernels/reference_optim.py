"""NumPy references of the optimizer kernels (part of :mod:`minigrad.kernels.reference`, the
specification of every kernel: see its docstring for the dtype policy)."""

import math

import numpy as np

from .reference import _scalar, _xp


# --------------------------------------------------------------------------- optimizers

def adam_scalars(dtype, *, lr, beta1, beta2, eps, weight_decay, step):
    """The scalars of one Adam step as the fused kernels take them, derived in float64 and
    cast to ``dtype``: (weight_decay, beta1, 1 - beta1, beta2, 1 - beta2,
    lr / (1 - beta1**step), sqrt(1 - beta2**step), eps)."""
    dt = np.dtype(dtype).type
    bias_correction1 = 1.0 - beta1 ** step
    bias_correction2 = 1.0 - beta2 ** step
    return (dt(weight_decay), dt(beta1), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2),
            dt(lr / bias_correction1), dt(math.sqrt(bias_correction2)), dt(eps))


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
                weight_decay, step, amsgrad):
    """One Adam step, in place, with torch.optim.Adam's formula (L2 weight decay).

    Args:
        param: parameter array, updated in place.
        grad: its gradient (same shape; not modified).
        exp_avg, exp_avg_sq: first/second moment buffers (same shape), updated in place.
        max_exp_avg_sq: running max of exp_avg_sq for AMSGrad (updated in place), or None.
        step: the 1-based number of this step (used for bias correction).

    Math (all in param's dtype; scalars are derived in float64 then cast)::

        g  = grad + weight_decay * param
        m  = beta1 * m + (1 - beta1) * g
        v  = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_max, v) if amsgrad else v
        denom = sqrt(v_hat) / sqrt(1 - beta2**step) + eps
        param -= (lr / (1 - beta1**step)) * m / denom
    """
    xp = _xp(param)
    bias_correction1 = 1.0 - beta1 ** step
    bias_correction2 = 1.0 - beta2 ** step
    step_size = _scalar(lr / bias_correction1, param)
    bc2_sqrt = _scalar(math.sqrt(bias_correction2), param)

    if weight_decay != 0:
        grad = grad + _scalar(weight_decay, param) * param

    exp_avg *= _scalar(beta1, param)
    exp_avg += _scalar(1.0 - beta1, param) * grad
    exp_avg_sq *= _scalar(beta2, param)
    exp_avg_sq += _scalar(1.0 - beta2, param) * grad * grad

    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v_hat = max_exp_avg_sq
    else:
        v_hat = exp_avg_sq
    denom = xp.sqrt(v_hat) / bc2_sqrt + _scalar(eps, param)
    param -= step_size * exp_avg / denom
    return param


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, centered):
    """One RMSprop step, in place, with torch.optim.RMSprop's formula.

    Args:
        param: parameter array, updated in place.
        grad: its gradient (same shape; not modified).
        square_avg: running mean of g*g, updated in place.
        grad_avg: running mean of g (needed iff ``centered``), updated in place, or None.
        momentum_buffer: velocity (needed iff ``momentum > 0``), updated in place, or None.

    Math (all in param's dtype)::

        g   = grad + weight_decay * param
        sq  = alpha * sq + (1 - alpha) * g * g
        if centered:  ga = alpha * ga + (1 - alpha) * g
                      avg = sqrt(sq - ga * ga) + eps
        else:         avg = sqrt(sq) + eps
        if momentum > 0:  buf = momentum * buf + g / avg;  param -= lr * buf
        else:             param -= lr * g / avg
    """
    xp = _xp(param)
    if weight_decay != 0:
        grad = grad + _scalar(weight_decay, param) * param

    square_avg *= _scalar(alpha, param)
    square_avg += _scalar(1.0 - alpha, param) * grad * grad

    if centered:
        grad_avg *= _scalar(alpha, param)
        grad_avg += _scalar(1.0 - alpha, param) * grad
        avg = xp.sqrt(square_avg - grad_avg * grad_avg) + _scalar(eps, param)
    else:
        avg = xp.sqrt(square_avg) + _scalar(eps, param)

    if momentum > 0:
        momentum_buffer *= _scalar(momentum, param)
        momentum_buffer += grad / avg
        param -= _scalar(lr, param) * momentum_buffer
    else:
        param -= _scalar(lr, param) * grad / avg
    return param


def sgd_update(param, grad, momentum_buffer, *, lr, momentum=0.0, dampening=0.0,
               weight_decay=0.0, nesterov=False, first_step=False):
    """One SGD step, in place, with torch.optim.SGD's formula.

    Args:
        param, grad: parameter (updated in place) and gradient (not modified).
        momentum_buffer: velocity buffer (needed iff ``momentum != 0``), or None.
        first_step: True on the first step, when torch initialises the buffer to
            ``g`` itself (no dampening) instead of updating it.

    Math::

        g = grad + weight_decay * param
        if momentum:  buf = g if first_step else momentum * buf + (1 - dampening) * g
                      g = g + momentum * buf if nesterov else buf
        param -= lr * g
    """
    if weight_decay != 0:
        grad = grad + _scalar(weight_decay, param) * param
    if momentum != 0:
        if first_step:
            momentum_buffer[...] = grad
        else:
            momentum_buffer *= _scalar(momentum, param)
            momentum_buffer += _scalar(1.0 - dampening, param) * grad
        if nesterov:
            grad = grad + _scalar(momentum, param) * momentum_buffer
        else:
            grad = momentum_buffer
    param -= _scalar(lr, param) * grad
    return param


# ------------------------------------------------------------------ multi-tensor optimizers

def adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *, lr, beta1,
                      beta2, eps, weight_decay, steps, amsgrad):
    """:func:`adam_update` on every tensor of a parameter group: lists of arrays (one entry per
    tensor; ``max_exp_avg_sqs`` entries None without amsgrad) and ``steps``, each tensor's
    1-based step number. A GPU does them all in one launch (``cupy_gpu``); here, one by one."""
    for p, g, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                      steps):
        adam_update(p, g, m, v, vmax, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                    weight_decay=weight_decay, step=step, amsgrad=amsgrad)


def adam_update_multi_device_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, *,
                                   lr, beta1, beta2, eps, weight_decay, steps, amsgrad):
    """:func:`adam_update_multi` with ``steps`` an int64 array (one entry per tensor) that may
    live on the device, read by the kernel itself: the variant a CUDA graph replays, where no
    host value may change between replays (the bias corrections are computed in the kernel)."""
    host_steps = steps.get() if hasattr(steps, "get") else np.asarray(steps)
    adam_update_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, lr=lr, beta1=beta1,
                      beta2=beta2, eps=eps, weight_decay=weight_decay,
                      steps=[int(s) for s in host_steps], amsgrad=amsgrad)


def rmsprop_update_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, *, lr, alpha,
                         eps, weight_decay, momentum, centered):
    """:func:`rmsprop_update` on every tensor of a parameter group (lists of arrays; entries of
    ``grad_avgs``/``momentum_buffers`` None where unused)."""
    for p, g, sq, ga, buf in zip(params, grads, square_avgs, grad_avgs, momentum_buffers):
        rmsprop_update(p, g, sq, ga, buf, lr=lr, alpha=alpha, eps=eps,
                       weight_decay=weight_decay, momentum=momentum, centered=centered)
