"""Compile CUDA C on a machine with no GPU: ``nvcc`` where the toolkit is installed, otherwise
NVRTC, the runtime compiler CuPy itself hands every RawKernel and ElementwiseKernel to.

NVRTC comes as a wheel (``nvidia-cuda-nvrtc``, CUDA 13, a dev dependency on x86-64 Linux) and
needs no driver and no device, so the CUDA sources of ``minigrad/kernels/cuda_src*.py`` compile
in every CI run, not only on the rare machine with a GPU. It is loaded with ctypes from the
wheel's folder, or from wherever the dynamic loader finds ``libnvrtc``.

:func:`compiler` returns None where neither exists; the tests then skip and say so.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class CompileError(AssertionError):
    """The compiler's messages: the source's ``#line`` file names say which kernel failed."""


def _nvcc_path():
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc") if os.path.exists(p)),
        None)


def _nvrtc_path():
    for package in ("nvidia.cu13", "nvidia.cuda_nvrtc"):  # CUDA 13's wheel, then CUDA 12's
        try:
            spec = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            found = sorted(glob.glob(os.path.join(folder, "lib", "libnvrtc.so*")))
            found = [f for f in found if "builtins" not in f and ".alt." not in f]
            if found:
                return found[0]
    return ctypes.util.find_library("nvrtc")


class Nvcc:
    def __init__(self, path):
        self.path, self.name = path, "nvcc"

    def compile(self, source: str, arch: str) -> bytes:
        kind = "--ptx" if arch.startswith("compute_") else "--cubin"
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp) / "unit.cu", Path(tmp) / "unit.out"
            src.write_text(source)
            cmd = [self.path, kind, f"-arch={arch.replace('compute_', 'sm_')}", "-o", str(out),
                   str(src)]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise CompileError(f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
            return out.read_bytes()


class Nvrtc:
    """NVRTC through ctypes: create a program, compile it for ``arch``, read the log and the
    PTX (``compute_XY``) or the CUBIN (``sm_XY``, which also runs the assembler)."""

    def __init__(self, path):
        self.lib, self.name = ctypes.CDLL(path), f"NVRTC ({os.path.basename(path)})"
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
        self.version = (major.value, minor.value)

    def _check(self, status, what):
        if status != 0:
            self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
            raise CompileError(f"{what}: {self.lib.nvrtcGetErrorString(status).decode()}")

    def _read(self, program, size_fn, get_fn):
        size = ctypes.c_size_t()
        self._check(size_fn(program, ctypes.byref(size)), size_fn.__name__)
        buf = ctypes.create_string_buffer(size.value)
        self._check(get_fn(program, buf), get_fn.__name__)
        return buf.raw[:size.value]

    def compile(self, source: str, arch: str) -> bytes:
        lib, program = self.lib, ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"unit.cu",
                                           0, None, None), "nvrtcCreateProgram")
        try:
            options = [f"--gpu-architecture={arch}".encode()]
            status = lib.nvrtcCompileProgram(program, len(options),
                                             (ctypes.c_char_p * len(options))(*options))
            if status != 0:
                log = self._read(program, lib.nvrtcGetProgramLogSize, lib.nvrtcGetProgramLog)
                raise CompileError(f"NVRTC {self.version}, --gpu-architecture={arch}:\n"
                                   + log.decode(errors="replace"))
            if arch.startswith("compute_"):
                return self._read(program, lib.nvrtcGetPTXSize, lib.nvrtcGetPTX).rstrip(b"\0")
            return self._read(program, lib.nvrtcGetCUBINSize, lib.nvrtcGetCUBIN)
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(program))


def compiler():
    """nvcc if installed, else NVRTC if its library loads, else None."""
    nvcc = _nvcc_path()
    if nvcc:
        return Nvcc(nvcc)
    path = _nvrtc_path()
    if path:
        try:
            return Nvrtc(path)
        except OSError:
            return None
    return None
