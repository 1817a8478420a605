"""The communication backends, chosen in one place (:data:`BACKENDS`).

A backend moves raw arrays between the processes of one job, in place:
``all_reduce(array, op)``, ``broadcast(array, src)``, ``barrier()``, ``abort(code)``,
``close()``, and knows ``rank`` and ``world_size``. Tensors, autograd and the public API live
in :mod:`minigrad.distributed`; nothing else imports mpi4py or touches NCCL.

- ``mpi`` (mpi4py): CPU arrays; CuPy arrays are staged through host memory (the MPICH wheel
  is not CUDA-aware). Rank and world size come from the launcher (``mpiexec -n 2 ...``); a
  script started without a launcher is a job of one process.
- ``nccl`` (CuPy's NCCL bindings): CuPy arrays on the GPU, reduced on the GPU. MPI still starts
  the job and hands every process NCCL's unique id; each process takes GPU ``local_rank %
  device_count``.
"""
from __future__ import annotations

import enum
import importlib

import numpy as np

# NOTE: the module itself (its cupy and nccl()), not ``minigrad.backend.cuda`` the attribute: that
# is the torch-like namespace object, which shadows the submodule of the same name.
_cuda = importlib.import_module("minigrad.backend.cuda")

MPI_INSTALL_HINT = ('pip install -e ".[mpi]" (installs mpi4py and the MPICH wheel, so no system '
                    'MPI is needed), then start the job with: mpiexec -n 2 python script.py')


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the processes' values (``torch.distributed.ReduceOp``)."""
    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"  # SUM divided by the world size; floating-point arrays only


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"minigrad.distributed needs mpi4py and an MPI library ({e}): "
                           f"{MPI_INSTALL_HINT}") from None
    return MPI


def _check_array(array, what):
    if not getattr(array.flags, "writeable", True):
        raise ValueError(f"{what}: the tensor's array is read-only (a broadcast view?); "
                         "pass a tensor that owns its data (.clone())")


def _check_avg(array, op):
    if op is ReduceOp.AVG and array.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating-point tensor, got "
                        f"{array.dtype}")


class MPIBackend:
    name = "mpi"

    def __init__(self):
        MPI = _import_mpi()
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()  # our own communicator: freed by close()
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                     ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}

    def local_rank(self) -> int:
        """This process's index among the processes of its node."""
        node = self.comm.Split_type(self._MPI.COMM_TYPE_SHARED)
        try:
            return node.Get_rank()
        finally:
            node.Free()

    def _in_place(self, array, what, fn):
        """Run ``fn(host_buffer)`` on a contiguous host copy of ``array`` when one is needed
        (a CuPy array, a strided view), and write the result back."""
        _check_array(array, what)
        if isinstance(array, np.ndarray) and array.flags.c_contiguous:
            fn(array)
            return
        host = np.ascontiguousarray(_to_host(array))
        fn(host)
        array[...] = host if isinstance(array, np.ndarray) else _cuda.cupy.asarray(host)

    def all_reduce(self, array, op: ReduceOp = ReduceOp.SUM):
        _check_avg(array, op)
        self._in_place(array, "all_reduce",
                       lambda buf: self.comm.Allreduce(self._MPI.IN_PLACE, buf, self._ops[op]))
        if op is ReduceOp.AVG:
            array /= self.world_size

    def broadcast(self, array, src: int):
        self._in_place(array, "broadcast", lambda buf: self.comm.Bcast(buf, root=src))

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code: int = 1):
        self.comm.Abort(code)

    def close(self):
        self.comm.Free()


def _to_host(array):
    if isinstance(array, np.ndarray):
        return array
    return array.get()


class NCCLBackend:
    name = "nccl"

    def __init__(self):
        if not _cuda.is_available():
            raise RuntimeError(f"backend='nccl' needs CuPy and a CUDA GPU, but "
                               f"{_cuda.unavailable_reason()}; on CPUs use backend='mpi'")
        cupy, nccl = _cuda.cupy, _cuda.nccl()
        if not getattr(nccl, "available", True):
            raise RuntimeError("backend='nccl': this CuPy was built without NCCL (install the "
                               "NCCL library, e.g. pip install nvidia-nccl-cu12); on CPUs use "
                               "backend='mpi'")
        self._cupy, self._nccl = cupy, nccl
        self._mpi = MPIBackend()  # starts the job, gives the ranks and passes NCCL's id around
        self.rank, self.world_size = self._mpi.rank, self._mpi.world_size
        self.device = self._mpi.local_rank() % cupy.cuda.runtime.getDeviceCount()
        cupy.cuda.Device(self.device).use()  # 'cuda' means this GPU from now on
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self._mpi.comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(self.world_size, uid, self.rank)
        self._dtypes = {np.dtype(np.float32): nccl.NCCL_FLOAT32,
                        np.dtype(np.float64): nccl.NCCL_FLOAT64,
                        np.dtype(np.float16): nccl.NCCL_FLOAT16,
                        np.dtype(np.int32): nccl.NCCL_INT32,
                        np.dtype(np.int64): nccl.NCCL_INT64,
                        np.dtype(np.uint8): nccl.NCCL_UINT8}
        # NOTE: AVG is a SUM and a division here, which works with every NCCL version.
        self._ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.AVG: nccl.NCCL_SUM,
                     ReduceOp.PRODUCT: nccl.NCCL_PROD, ReduceOp.MIN: nccl.NCCL_MIN,
                     ReduceOp.MAX: nccl.NCCL_MAX}

    def _buffer(self, array, what):
        if not isinstance(array, self._cupy.ndarray):
            raise TypeError(f"{what}: backend 'nccl' works on CUDA tensors, got one on the CPU: "
                            "move it with .to('cuda'), or use backend='mpi'")
        _check_array(array, what)
        if array.dtype not in self._dtypes:
            raise TypeError(f"{what}: backend 'nccl' does not reduce {array.dtype} arrays")
        if not array.flags.c_contiguous:
            raise ValueError(f"{what}: backend 'nccl' needs a contiguous tensor (.contiguous())")
        return array.data.ptr, array.size, self._dtypes[array.dtype]

    def all_reduce(self, array, op: ReduceOp = ReduceOp.SUM):
        _check_avg(array, op)
        ptr, n, dtype = self._buffer(array, "all_reduce")
        stream = self._cupy.cuda.get_current_stream().ptr
        self.comm.allReduce(ptr, ptr, n, dtype, self._ops[op], stream)
        if op is ReduceOp.AVG:
            array /= self.world_size

    def broadcast(self, array, src: int):
        ptr, n, dtype = self._buffer(array, "broadcast")
        self.comm.bcast(ptr, n, dtype, src, self._cupy.cuda.get_current_stream().ptr)

    def local_rank(self) -> int:
        return self._mpi.local_rank()

    def barrier(self):
        self._cupy.cuda.get_current_stream().synchronize()
        self._mpi.barrier()

    def abort(self, code: int = 1):
        self._mpi.abort(code)

    def close(self):
        self._cupy.cuda.get_current_stream().synchronize()
        self.comm.destroy()
        self._mpi.close()


BACKENDS = {"mpi": MPIBackend, "nccl": NCCLBackend}
