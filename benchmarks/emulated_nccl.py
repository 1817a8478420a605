"""NCCL for the emulated GPU (``benchmarks/cupy_launches.py``), so that minigrad's ``nccl``
backend, DistributedDataParallel and SyncBatchNorm on CUDA tensors run with two ranks on a
machine without GPUs (a real NCCL job of two ranks needs two GPUs)::

    with emulated_cuda(), emulated_nccl():
        dist.init_process_group("nccl")      # under mpiexec -n 2

``cupy.cuda.nccl`` as minigrad uses it: ``get_unique_id``, ``NcclCommunicator(n, id, rank)``
with ``allReduce``/``bcast`` on device pointers and a stream, ``destroy``, and the dtype and
operation constants. The emulated GPU's arrays live in host memory, so each call reduces the
memory behind the pointers it is given through MPI (mpi4py), in place, as NCCL would on the
device; each counts one launch (``launch.nccl_allReduce``, ...), as NCCL's are kernels.
"""
from __future__ import annotations

import ctypes
import importlib
import types
from contextlib import contextmanager

import numpy as np

from benchmarks.cupy_launches import launch

_DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
           6: np.float16, 7: np.float32, 8: np.float64}  # ncclDataType_t's values
_OPS = ("SUM", "PROD", "MAX", "MIN")                      # ncclRedOp_t's, in order


def _memory(ptr: int, count: int, datatype: int) -> np.ndarray:
    """The ``count`` elements of type ``datatype`` at address ``ptr``, as a NumPy view."""
    dtype = np.dtype(_DTYPES[datatype])
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


class NcclCommunicator:
    """One rank's communicator; the job's ranks are MPI's (the launcher started them)."""

    def __init__(self, ndev: int, commId, rank: int):
        from mpi4py import MPI

        self._mpi, self._comm = MPI, MPI.COMM_WORLD
        if (self._comm.Get_size(), self._comm.Get_rank()) != (ndev, rank):
            raise RuntimeError(f"emulated NCCL: rank {rank} of {ndev} asked for, but MPI has "
                               f"rank {self._comm.Get_rank()} of {self._comm.Get_size()}")
        ids = self._comm.allgather(tuple(commId))
        if any(i != ids[0] for i in ids):
            raise RuntimeError("emulated NCCL: the ranks were given different unique ids")
        self._live = True

    def _check(self):
        if not self._live:
            raise RuntimeError("emulated NCCL: the communicator was destroyed")

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        self._check()
        launch("nccl_allReduce")
        mpi_op = getattr(self._mpi, _OPS[op])
        recv = _memory(recvbuf, count, datatype)
        if sendbuf == recvbuf:
            self._comm.Allreduce(self._mpi.IN_PLACE, recv, op=mpi_op)
        else:
            self._comm.Allreduce(_memory(sendbuf, count, datatype).copy(), recv, op=mpi_op)

    def bcast(self, buff, count, datatype, root, stream):
        self._check()
        launch("nccl_broadcast")
        self._comm.Bcast(_memory(buff, count, datatype), root=root)

    def destroy(self):
        self._live = False


def _module():
    m = types.SimpleNamespace(available=True, NcclCommunicator=NcclCommunicator,
                              get_unique_id=lambda: tuple(np.random.default_rng().integers(
                                  0, 128, 128).tolist()))
    for value, dtype in _DTYPES.items():
        setattr(m, f"NCCL_{np.dtype(dtype).name.upper()}", value)
    for value, name in enumerate(_OPS):
        setattr(m, f"NCCL_{name}", value)
    return m


@contextmanager
def emulated_nccl():
    """Inside (and inside ``emulated_cuda()``): ``minigrad.backend.cuda.nccl()`` is the
    emulation above."""
    cuda_mod = importlib.import_module("minigrad.backend.cuda")
    saved = cuda_mod.nccl
    fake = _module()
    cuda_mod.nccl = lambda: fake
    try:
        yield fake
    finally:
        cuda_mod.nccl = saved
