"""Devices and array namespaces, chosen in one place.

A :class:`Device` knows its array module ``xp`` (``numpy`` or ``cupy``). Ops never test which one
they have: they call ``xp.<function>`` and let the module do the work.
"""
from __future__ import annotations

import numpy as np

from minigrad.backend import counters
from minigrad.backend import cuda as _cuda
from minigrad.backend.tuning import tune, tuning_report  # noqa: F401


class Device:
    """A place where arrays live: ``Device('cpu')``, ``Device('cuda:1')``, or ``Device('cuda')``,
    the current GPU (``minigrad.cuda.set_device``; GPU 0 unless set), taken when it is made."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu"):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        name, colon, idx = str(spec).partition(":")
        if name not in ("cpu", "cuda") or (colon and not idx.isdigit()):  # 'cuda:' too
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:<index>'")
        self.type = name
        self.index = int(idx) if idx else (_cuda.current_device() if name == "cuda" else None)

    @property
    def xp(self):
        if self.type == "cpu":
            return np
        if not _cuda.is_available():
            raise RuntimeError(f"device 'cuda' requested but {_cuda.unavailable_reason()}")
        return _cuda.cupy

    def __eq__(self, other):
        try:
            other = Device(other)
        except (ValueError, TypeError):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


device = Device
CPU = Device("cpu")


def array_types() -> tuple:
    """The array classes minigrad accepts as tensor storage."""
    if _cuda.cupy is not None:
        return (np.ndarray, _cuda.cupy.ndarray)
    return (np.ndarray,)


def get_array_module(*arrays):
    """``numpy`` or ``cupy``, whichever the arrays belong to (numpy for scalars and lists)."""
    if _cuda.cupy is not None:
        for a in arrays:
            if isinstance(a, _cuda.cupy.ndarray):
                return _cuda.cupy
    return np


def device_of(array) -> Device:
    if type(array) is np.ndarray or _cuda.cupy is None or not isinstance(array, _cuda.cupy.ndarray):
        return CPU
    return Device(f"cuda:{array.device.id}")


_constants = {}  # (array module, device, dtype, shape, bytes) -> the device's copy


def device_constant(host, like):
    """The NumPy array ``host`` on the device of array ``like``: itself on the CPU; on a GPU a
    copy made the first time these values are asked for there and reused after, so a step
    copies nothing from the host for an index table or a divisor computed from shapes alone
    (a copy costs a wait for the device, and a CUDA graph capture refuses it). Shared: never
    write into what it returns."""
    xp = get_array_module(like)
    if xp is np:
        return host
    key = (xp, device_of(like), host.dtype.str, host.shape, host.tobytes())
    out = _constants.get(key)
    if out is None:
        out = _constants[key] = to_device(np.ascontiguousarray(host), device_of(like))
    return out


def to_device(array, dev) -> object:
    """Copy ``array`` to ``dev`` (a no-op when it already lives there)."""
    dev = Device(dev)
    if dev.type == "cpu":
        if _cuda.cupy is not None and isinstance(array, _cuda.cupy.ndarray):
            return array.get()
        return np.asarray(array)
    xp = dev.xp
    with xp.cuda.Device(dev.index):
        return xp.asarray(array)


def to_host(array) -> np.ndarray:
    """``array`` as a NumPy array: a device-to-host copy for a CUDA array (one ``to_host``
    event in :mod:`minigrad.backend.counters`, on every device)."""
    counters.add("to_host")
    return to_device(array, "cpu")


class _Cuda:
    """``minigrad.cuda``: ``is_available()``, ``device_count()``, ``set_device()``... as in
    torch.cuda."""

    @staticmethod
    def is_available() -> bool:
        return _cuda.is_available()

    @staticmethod
    def device_count() -> int:
        return _cuda._n_devices

    @staticmethod
    def current_device() -> int:
        """The GPU that ``'cuda'`` means: 0 unless :meth:`set_device` chose another."""
        return _cuda.current_device()

    @staticmethod
    def set_device(device) -> None:
        """Make GPU ``device`` (an index, ``'cuda:i'`` or a Device) the current one: ``'cuda'``
        means it from now on, and CuPy launches there (one GPU per process in a data-parallel
        job: ``set_device(local_rank)``, which the nccl backend does itself)."""
        if isinstance(device, int) and not isinstance(device, bool):
            index = device
        else:
            index = Device(device).index
            if Device(device).type != "cuda":
                raise ValueError(f"set_device({device!r}): not a GPU ('cuda:<index>' or an "
                                 "index)")
        if not _cuda.is_available():
            raise RuntimeError(f"set_device({device!r}): {_cuda.unavailable_reason()}")
        if not 0 <= index < _cuda._n_devices:
            raise ValueError(f"set_device({device!r}): there are {_cuda._n_devices} GPU(s), "
                             f"indices 0 to {_cuda._n_devices - 1}")
        _cuda.cupy.cuda.Device(index).use()

    @staticmethod
    def unavailable_reason() -> str:
        """Why ``is_available()`` is False ('' when it is True), e.g. for a test's skip reason."""
        return _cuda.unavailable_reason()

    @staticmethod
    def synchronize():
        if _cuda.is_available():
            _cuda.cupy.cuda.get_current_stream().synchronize()


cuda = _Cuda()

# Random numbers: one numpy Generator for the CPU; on a GPU, CuPy's for the samplers it serves
# (nn.init) and minigrad's counter-based one for randn/rand (minigrad.kernels.cuda_random),
# which reads the seed manual_seed records here.
_rng = np.random.default_rng()
cuda_seed = None    # the seed of the last manual_seed (None: OS entropy)
seed_epoch = 0      # how many times manual_seed was called (the GPU generators reseed on a change)


def rng(dev=CPU):
    """The random generator for ``dev``: minigrad's numpy Generator, or ``cupy.random``."""
    dev = Device(dev)
    if dev.type == "cuda":
        return dev.xp.random  # dev.xp raises a clear error when CUDA is unavailable
    return _rng


#: Set by minigrad.kernels.cuda_random when it is imported (this package sits below the kernels,
#: so they register here instead of being imported): () -> {device index: state} of the GPUs'
#: counter-based generators made since the last manual_seed.
_gpu_rng_states = None
#: {device index: state} that set_rng_state restored for the GPUs' generators (None: as first
#: made); cuda_random applies each when its generator is next asked for (manual_seed drops them).
_gpu_rng_pending = {}


def get_rng_state() -> dict:
    """The state of minigrad's generators (JSON-able), for exact resumption: the CPU's (numpy's
    bit_generator state) and, under ``"cuda"``, the seed the GPUs' counter-based generators are
    keyed from (None: the OS's entropy) with the key and counter of each one made since the last
    ``manual_seed`` (one small copy from each device; none on a CPU run)."""
    state = dict(_rng.bit_generator.state)
    made = _gpu_rng_states() if _gpu_rng_states is not None else {}
    state["cuda"] = {"seed": cuda_seed, "generators": made}
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`get_rng_state` returned. The GPUs' generators come back as they were,
    those made since the save included (as first made: a ``manual_seed`` in between, as VAE's
    elbo and the classifiers' training make, leaks nothing). A state without ``"cuda"`` (a
    checkpoint from before it was saved) leaves the GPUs' generators as they are."""
    global cuda_seed, seed_epoch
    state = dict(state)
    gpu = state.pop("cuda", None)
    _rng.bit_generator.state = state
    if gpu is None:
        return
    if gpu["seed"] is None or gpu["seed"] != cuda_seed:  # the generators are remade; one kept
        cuda_seed, seed_epoch = gpu["seed"], seed_epoch + 1  # keeps its counter's memory
    made_since = _gpu_rng_states() if _gpu_rng_states is not None else {}
    _gpu_rng_pending.clear()
    # None: back to the state it was made in (see minigrad.kernels.cuda_random.generator)
    _gpu_rng_pending.update({int(i): None for i in made_since})
    _gpu_rng_pending.update({int(i): saved for i, saved in gpu["generators"].items()})


def manual_seed(seed: int) -> None:
    """Make runs reproducible: reseeds minigrad's numpy generator, the GPUs' counter-based
    ones (minigrad.kernels.cuda_random) and, if present, CuPy's."""
    global _rng, cuda_seed, seed_epoch
    _rng = np.random.default_rng(seed)
    cuda_seed, seed_epoch = int(seed), seed_epoch + 1
    _gpu_rng_pending.clear()
    if _cuda.is_available():
        _cuda.cupy.random.seed(seed)
