"""``minigrad.nn.functional``: the functional form of every layer, activations and losses.

Names, argument orders and defaults follow ``torch.nn.functional``. Everything here except the
three convolutions (primitives in ``minigrad.ops.conv``), the fused ``linear`` and training-mode
``batch_norm`` (``minigrad.ops.norm``, whose backward is built of differentiable ops) is a
*composition* of primitive ops, with no backward of its own, so each is differentiable to any
order (batch_norm's second derivative included: nothing is detached or cached as a constant).

Losses take a ``reduction`` of ``'mean'`` (default), ``'sum'`` or ``'none'`` and check that input
and target shapes match (PyTorch only warns, then silently broadcasts, which has hidden many a
(N, 1) vs (N,) bug). Classifier losses take **logits** (``cross_entropy``,
``binary_cross_entropy_with_logits``); feeding them softmax or sigmoid outputs is the bug
PyTorch-GAN's acgan/infogan ship with.

Checks on *values* (probabilities or targets outside [0, 1], class or embedding indices out of
range) must read the data back: on the CPU that is a min/max over a small array and they always
run; on a GPU it is a device-to-host synchronisation on every call, so there they run only under
``minigrad.detect_anomaly()``, and otherwise the losses take their numerically safe form
unconditionally. Checks on shapes and dtypes, which cost nothing, always run.

Notation: N batch, C channels/classes, H x W image size, L sequence length.

This module is the table of exports; the definitions live beside it, one module per kind:
``_conv.py`` (linear, convolutions), ``_activation.py``, ``_norm.py``, ``_pool.py``,
``_dropout.py``, ``_embedding.py``, ``_resample.py``, ``_loss.py`` and ``_attention.py``
(scaled_dot_product_attention).
"""
from __future__ import annotations

from minigrad import functional as _F
# (_LinearOp, _conv2d, _conv_transpose2d, _output_padding_for, _pair, _check_p, _update_running,
# _pool_args, _scale_pair: what the layers in minigrad.nn.layers call as F._name)
from minigrad.nn._attention import scaled_dot_product_attention
from minigrad.nn._conv import (_LinearOp, _conv2d, _conv_transpose2d, _output_padding_for, _pair,
                               _single, conv1d, conv2d, conv_transpose1d, conv_transpose2d,
                               linear)
from minigrad.nn._dropout import _check_p, dropout, dropout2d
from minigrad.nn._embedding import embedding, one_hot
from minigrad.nn._activation import (celu, cosine_similarity, elu, gelu, glu, hardsigmoid,
                                     hardswish, hardtanh, logsigmoid, mish, normalize, prelu,
                                     relu6, selu, silu, softsign)
from minigrad.nn._loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                               cross_entropy, gaussian_kl, huber_loss, kl_div, l1_loss, mse_loss,
                               nll_loss, smooth_l1_loss)
from minigrad.nn._norm import _update_running, batch_norm, group_norm, instance_norm, layer_norm
from minigrad.nn._pool import (_pool_args, adaptive_avg_pool1d, adaptive_avg_pool2d,
                               adaptive_max_pool1d, adaptive_max_pool2d, avg_pool1d, avg_pool2d,
                               max_pool1d, max_pool2d)
from minigrad.nn._resample import _scale_pair, interpolate, reflection_pad2d, upsample_nearest

# Activations and shape ops: one definition, in minigrad.functional.
relu = _F.relu
leaky_relu = _F.leaky_relu
tanh = _F.tanh
sigmoid = _F.sigmoid
softplus = _F.softplus
softmax = _F.softmax
log_softmax = _F.log_softmax
logsumexp = _F.logsumexp
pad = _F.pad


__all__ = [
    "relu", "leaky_relu", "tanh", "sigmoid", "softplus", "softmax", "log_softmax", "logsumexp",
    "pad", "linear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "batch_norm",
    "instance_norm", "layer_norm",
    "group_norm", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
    "dropout", "dropout2d", "embedding", "one_hot", "upsample_nearest",
    "interpolate", "reflection_pad2d", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div", "gaussian_kl",
    "gelu", "elu", "selu", "celu", "silu", "mish", "hardtanh", "relu6", "hardsigmoid",
    "hardswish", "logsigmoid", "softsign", "glu", "prelu", "normalize", "cosine_similarity",
    "smooth_l1_loss", "huber_loss", "scaled_dot_product_attention",
]
