"""embedding and one_hot of ``minigrad.nn.functional``: index lookups."""
from __future__ import annotations

import numpy as np

from minigrad import functional as _F
from minigrad.autograd.anomaly import is_anomaly_enabled
from minigrad.tensor import Tensor


# ============================================================================= embedding
def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input`` (any shape) ->
    input.shape + (dim,). The gradient scatter-adds into the picked rows (repeats add up); the
    row ``padding_idx`` receives none.

    An index outside [0, num_embeddings) raises IndexError, as in PyTorch (a negative one would
    otherwise pick a row from the end): always on the CPU, on a GPU under ``detect_anomaly()``
    only, since the check reads the indices back (and CuPy wraps out-of-range indices)."""
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    n = weight.shape[0]
    if padding_idx is not None and not -n <= padding_idx < n:
        raise ValueError(f"embedding: padding_idx must be within num_embeddings = {n}, got "
                         f"{padding_idx}")
    if (type(idx) is np.ndarray or is_anomaly_enabled()) and idx.size and \
            (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range: indices must lie in [0, {n}), got "
                         f"values in [{int(idx.min())}, {int(idx.max())}]")
    out = weight[weight.xp.asarray(idx)]
    if padding_idx is not None:
        keep = weight.xp.asarray(idx != (padding_idx % n))[..., None]
        out = _F.where(keep, out, out.detach())
    return out


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding: labels of shape S -> S + (num_classes,) (torch semantics; call
    ``.float()`` to mix it with activations). ``num_classes=-1`` uses max(label) + 1. A label
    outside [0, num_classes) raises, as in PyTorch: always on the CPU, on a GPU under
    ``detect_anomaly()`` (the check would read the labels back to the host every call; unchecked,
    such a label's row is all zeros)."""
    idx = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {idx.dtype}")
    xp = tensor.xp if isinstance(tensor, Tensor) else np
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if (type(idx) is np.ndarray or is_anomaly_enabled()) and idx.size and \
            (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    out = (idx[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._wrap(out, False, None)
