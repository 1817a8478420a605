"""minigrad's random generator on a CUDA device: counter-based, its counter in device memory.

``minigrad.randn``/``rand`` (and Dropout) on a GPU draw from :func:`generator`'s
:class:`CudaGenerator`, not from cuRAND: Philox4x32-10 (the kernels ``philox_fill``/``philox_advance`` of
:mod:`minigrad.kernels`), keyed by the seed, with a 64-bit counter that lives on the device.
A draw reads the counter and a one-thread kernel moves it on, so the host never sends a value
that a captured CUDA graph would freeze: a graph replay draws fresh numbers exactly as the
eager step would have (cuRAND refuses to run inside a stream capture at all). The draws do not
depend on the launch shape, and ``manual_seed`` makes them reproducible.

``minigrad.randint`` (the labels a conditional GAN's step draws) takes integers from the same
draws. Other samplers (``uniform``, ``normal``... as called by ``nn.init`` and spectral norm at
construction time) are CuPy's ``cupy.random`` (``minigrad.backend.rng``), reseeded by
``manual_seed`` too.
"""
from __future__ import annotations

import importlib

import numpy as np

# NOTE: the module (its cupy), not ``minigrad.backend.cuda`` the attribute, which is the
# torch-like namespace object shadowing the submodule once minigrad.backend is imported
_cuda = importlib.import_module("minigrad.backend.cuda")

_MASK64 = (1 << 64) - 1


class CudaGenerator:
    """Philox4x32-10 draws on CUDA device ``index``; ``seed`` None: from the OS's entropy."""

    def __init__(self, index: int = 0, seed: int | None = None):
        self.index = int(index)
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        self._key = self.first_key = int(seed) & _MASK64
        self._ctr = None  # the device counter, made (zero) on the first draw

    def _counter(self):
        if self._ctr is None:
            cp = _cuda.cupy
            with cp.cuda.Device(self.index):
                self._ctr = cp.zeros(2, dtype=cp.uint32)
        return self._ctr

    def _draw(self, size, dtype, normal):
        from minigrad import kernels  # the package, for the registry's choice of back end

        cp = _cuda.cupy
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"random draws are float32 or float64, not {dtype}")
        shape = () if size is None else (tuple(size) if isinstance(size, (tuple, list))
                                         else (int(size),))
        ctr = self._counter()
        with cp.cuda.Device(self.index):
            out = cp.empty(shape, dtype=dtype)
            kernels.get("philox_fill", cp)(out, self._key & 0xFFFFFFFF, self._key >> 32, ctr,
                                           normal)
            kernels.get("philox_advance", cp)(ctr, (out.size + 3) // 4)
        return out

    def standard_normal(self, size=None, dtype=np.float64):
        """N(0, 1) samples of shape ``size`` (numpy's Generator signature)."""
        return self._draw(size, dtype, True)

    def random(self, size=None, dtype=np.float64):
        """Uniform samples in [0, 1) of shape ``size``."""
        return self._draw(size, dtype, False)

    def integers(self, low, high=None, size=None, dtype=np.int64):
        """Integers in [low, high) (numpy's ``Generator.integers``; ``high`` None: [0, low)):
        ``low + floor(u (high - low))`` from one uniform draw u per value, u a 32-bit word over
        2**32 (the multiply-shift mapping without its rejection step: each value's chance is off
        by at most (high - low) / 2**32; ``u (high - low)`` stays below ``high - low`` in float64
        rounding)."""
        if high is None:
            low, high = 0, low
        low, high = int(low), int(high)
        if high <= low:
            raise ValueError(f"integers: high ({high}) must exceed low ({low})")
        u = self._draw(size, np.float64, False)
        u *= high - low
        out = u.astype(dtype)
        if low:
            out += low
        return out

    def get_state(self) -> dict:
        """The seed and the counter (one device-to-host copy), JSON-able."""
        c = [0, 0] if self._ctr is None else [int(v) for v in self._ctr.get()]
        return {"key": self._key, "counter": c[0] | (c[1] << 32)}

    def set_state(self, state: dict) -> None:
        self._key = int(state["key"]) & _MASK64
        counter = int(state["counter"])
        self._counter()[...] = _cuda.cupy.asarray(
            np.array([counter & 0xFFFFFFFF, counter >> 32], dtype=np.uint32))

    def __getattr__(self, name):  # uniform, normal, integers, randint...: CuPy's
        return getattr(_cuda.cupy.random, name)


_generators = {}  # device index -> (manual_seed count it was made at, CudaGenerator)


def generator(dev) -> CudaGenerator:
    """The counter-based generator of CUDA device ``dev`` (a Device), made on first use and
    remade after each ``minigrad.manual_seed`` (seeded with that seed plus the device index)."""
    from minigrad import backend

    index = dev.index or 0
    epoch, gen = _generators.get(index, (None, None))
    if gen is None or epoch != backend.seed_epoch:
        seed = None if backend.cuda_seed is None else backend.cuda_seed + index
        gen = CudaGenerator(index, seed)
        _generators[index] = (backend.seed_epoch, gen)
    if index in backend._gpu_rng_pending:  # a state set_rng_state restored
        saved = backend._gpu_rng_pending.pop(index)
        gen.set_state(saved if saved is not None else {"key": gen.first_key, "counter": 0})
    return gen


def _states() -> dict:
    """{device index: state} of the generators made since the last manual_seed (what
    ``backend.get_rng_state`` saves), each a restored state not yet applied as it is."""
    from minigrad import backend

    states = {str(i): gen.get_state() for i, (epoch, gen) in _generators.items()
              if epoch == backend.seed_epoch}
    states.update({str(i): s if s is not None else {"key": _generators[i][1].first_key,
                                                    "counter": 0}
                   for i, s in backend._gpu_rng_pending.items()})
    return states


def _register():
    from minigrad import backend

    backend._gpu_rng_states = _states


_register()
