"""NumPy reference of the counter-based random kernels (part of
:mod:`minigrad.kernels.reference`): Philox4x32-10, the spec of ``philox_fill`` and
``philox_advance`` in cuda_src.py."""

import numpy as np

from .reference import _xp


# ------------------------------------------------------------------ counter-based random

_PHILOX_M = (0xD2511F53, 0xCD9E8D57)
_PHILOX_W = (0x9E3779B9, 0xBB67AE85)
_M32 = np.uint64(0xFFFFFFFF)


def _philox_blocks(counters, key0, key1):
    """Philox4x32-10 of counters (G,) uint64 (the block's words (lo, hi, 0, 0)) under the key:
    (G, 4) uint32."""
    c = [counters & _M32, counters >> np.uint64(32), np.zeros_like(counters),
         np.zeros_like(counters)]
    k0, k1 = key0 & 0xFFFFFFFF, key1 & 0xFFFFFFFF
    for _ in range(10):
        p0 = np.uint64(_PHILOX_M[0]) * c[0]
        p1 = np.uint64(_PHILOX_M[1]) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ np.uint64(k0), p1 & _M32,
             (p0 >> np.uint64(32)) ^ c[3] ^ np.uint64(k1), p0 & _M32]
        k0 = (k0 + _PHILOX_W[0]) & 0xFFFFFFFF
        k1 = (k1 + _PHILOX_W[1]) & 0xFFFFFFFF
    return np.stack(c, axis=1).astype(np.uint32)


def philox_fill(out, key0, key1, ctr, normal):
    """Fill the C-contiguous float array ``out`` with Philox4x32-10 draws (the spec of the
    CUDA kernel ``philox_fill``, cuda_src.py).

    Args:
        out: float32/float64 array, overwritten (flat order).
        key0, key1: the generator's key (the seed's two 32-bit words).
        ctr: uint32 array of two, the 64-bit counter (low word first); not modified (see
            :func:`philox_advance`).
        normal: standard normal draws (Box-Muller, in float64) if true, else uniform [0, 1).
    """
    xp = _xp(out)
    n = out.size
    groups = (n + 3) // 4
    c = np.asarray(ctr.get() if hasattr(ctr, "get") else ctr, dtype=np.uint64)
    base = int(c[0]) | (int(c[1]) << 32)
    counters = (np.uint64(base) + np.arange(groups, dtype=np.uint64))
    words = _philox_blocks(counters, key0, key1).astype(np.float64)  # (G, 4)
    if normal:
        u1 = (words[:, 0::2] + 1.0) * 2.0 ** -32
        u2 = words[:, 1::2] * 2.0 ** -32
        rad = np.sqrt(-2.0 * np.log(u1))
        v = np.empty_like(words)
        v[:, 0::2] = rad * np.cos(2 * np.pi * u2)
        v[:, 1::2] = rad * np.sin(2 * np.pi * u2)
    elif out.dtype == np.float32:
        v = np.floor(words / 256.0) * 2.0 ** -24
    else:
        v = words * 2.0 ** -32
    out[...] = xp.asarray(v.reshape(-1)[:n].astype(out.dtype).reshape(out.shape))
    return out


def philox_advance(ctr, groups):
    """``ctr += groups`` in place on the two-word counter (the groups a draw used)."""
    xp = _xp(ctr)
    c = np.asarray(ctr.get() if hasattr(ctr, "get") else ctr, dtype=np.uint64)
    value = (int(c[0]) | (int(c[1]) << 32)) + int(groups)
    ctr[...] = xp.asarray(np.array([value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF],
                                   dtype=np.uint32))
    return ctr
