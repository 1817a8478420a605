"""minigrad's CUDA C run on the host: every source of ``minigrad/kernels/cuda_src*.py`` compiled
by a C++ compiler with the CUDA built-ins defined as one thread of a one-thread grid (every
kernel loops grid-stride, so that thread visits every element), and called like CuPy's
``RawKernel`` and ``ElementwiseKernel``.

Two users:

- ``tests/test_cuda_kernels.py`` (tier 3) drives each kernel through ``cupy_gpu``'s glue
  against its NumPy reference;
- ``emulated_cuda(kernels="cuda")`` (``benchmarks/cupy_launches.py``) runs whole training
  steps on the emulated GPU through the real glue and these builds, where the default runs
  each kernel's NumPy reference.

The stand-ins check what a GPU would get wrong silently: a RawKernel argument of another type
than its parameter (CuPy passes a Python int as 8 bytes, which shifts every later argument)
and an array that is not C-contiguous where the kernel indexes it as one.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from minigrad.kernels import cuda_src

CXX = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++") or shutil.which("clang++")

# ------------------------------------------------------------------------ the sources
_C_TYPES = {"T": "T", "int32": "int", "int64": "long long", "float32": "float",
            "float64": "double"}


def elementwise_params(spec):
    """[(C type, name)] of an ElementwiseKernel's ``in_params``/``out_params``."""
    return [(_C_TYPES[typ], name) for typ, name in (p.split() for p in spec.split(","))]


def elementwise_global(name, ctype):
    """The CUDA source of ElementwiseKernel ``name`` for element type ``ctype``, expanded the
    way CuPy expands it: ``typedef <ctype> T;``, array parameters as pointers ``_raw_<name>``,
    scalars by value, and inside a loop over the elements (index ``i``) each array parameter
    bound to its element: ``const T &x`` for inputs, ``T &y`` for outputs. CuPy's loop goes
    through an indexer that handles strides and broadcasting; this one takes contiguous arrays
    of one shape (:class:`HostElementwiseKernel` makes them so)."""
    src = cuda_src.ELEMENTWISE[name]
    ins, outs = elementwise_params(src.in_params), elementwise_params(src.out_params)
    arrays = set(src.array_inputs)
    decl, bind = [], []
    for t, n in ins:
        if n in arrays:
            decl.append(f"const {t}* __restrict__ _raw_{n}")
            bind.append(f"const {t} &{n} = _raw_{n}[i];")
        else:
            decl.append(f"const {t} {n}")
    for t, n in outs:
        decl.append(f"{t}* _raw_{n}")
        bind.append(f"{t} &{n} = _raw_{n}[i];")
    decl.append("const long long _n")
    fn = f"ew_{name}_{ctype}"
    body = "\n".join("        " + line for line in bind + src.operation.split("\n"))
    return (f"namespace ns_{fn} {{\ntypedef {ctype} T;\n"
            f"extern \"C\" __global__ void {fn}({', '.join(decl)})\n{{\n"
            f"    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < _n;\n"
            f"         i += (long long)blockDim.x * gridDim.x) {{\n{body};\n    }}\n}}\n}}\n")


def raw_kernels_one_unit():
    """Every RawKernel source for every dtype in one translation unit (one compiler run):
    each verbatim inside its own namespace, its extern "C" function renamed per dtype by the
    preprocessor, and a #line directive so that errors name the kernel."""
    parts = []
    for name, raw in cuda_src.RAW_KERNELS.items():
        for ctype in cuda_src.CTYPES.values():
            parts.append(f"namespace ns_{raw.function}_{ctype} {{\n"
                         f"#define {raw.function} {raw.function}_{ctype}\n"
                         f'#line 1 "{name}_{ctype}.cu"\n'
                         f"{cuda_src.raw_source(name, ctype)}\n#undef {raw.function}\n}}\n")
    return "".join(parts)


def elementwise_one_unit():
    return "".join(f'#line 1 "{name}_{ctype}.cu"\n' + elementwise_global(name, ctype)
                   for name in cuda_src.ELEMENTWISE for ctype in cuda_src.CTYPES.values())


def kernel_parameters(code, function):
    """[(C type, is_pointer, name)] of ``extern "C" __global__ void function(...)`` in
    ``code``, qualifiers (const, __restrict__) dropped."""
    m = re.search(r'extern "C" __global__ void\s+' + function + r"\s*\((.*?)\)\s*\{", code,
                  re.S)
    assert m, f"no extern \"C\" __global__ {function} in its source"
    out = []
    for param in m.group(1).split(","):
        words = re.sub(r"\b(const|__restrict__)\b", " ", param).replace("*", " * ").split()
        out.append((" ".join(w for w in words[:-1] if w != "*"), "*" in words, words[-1]))
    return out


# ------------------------------------------------------------------------ the host build
HOST_PRELUDE = r"""
#include <cmath>
using namespace std;
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads()
struct mg_dim3 { unsigned x, y, z; };
/* one thread, one block: the grid-stride loops visit every element */
static const mg_dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0};
static const mg_dim3 blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
"""

_built = {}  # the sources' hash -> the loaded library


def build():
    """Every CUDA source compiled for the CPU into one shared library, loaded; once per process
    and version of the sources (about a second), in a temporary folder removed at once (the
    library stays loaded). Raises RuntimeError naming the compiler's messages, or the missing
    compiler."""
    if CXX is None:
        raise RuntimeError("no C++ compiler (g++/c++/clang++) to build the CUDA sources for "
                           "the host")
    source = "".join([HOST_PRELUDE, raw_kernels_one_unit(), elementwise_one_unit()])
    digest = hashlib.sha256(source.encode()).hexdigest()
    if digest not in _built:
        with tempfile.TemporaryDirectory(prefix="minigrad-host-cuda-") as folder:
            src, lib = Path(folder) / "kernels.cpp", Path(folder) / "libkernels.so"
            src.write_text(source)
            cmd = [CXX, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(lib),
                   str(src)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)}\n{out.stderr}")
            _built[digest] = ctypes.CDLL(str(lib))
    return _built[digest]


# ------------------------------------------------------------------------ the stand-ins
_CT = {"float": ctypes.c_float, "double": ctypes.c_double, "int": ctypes.c_int,
       "long long": ctypes.c_longlong}

#: A kernel parameter's C type -> the NumPy dtype its argument must have ("T": the element type).
_ABI = {"int": np.int32, "unsigned int": np.uint32, "long long": np.int64,
        "unsigned long long": np.uint64, "float": np.float32, "double": np.float64}


def _ptr(a, what):
    assert isinstance(a, np.ndarray) and a.flags.c_contiguous, \
        f"{what}: the kernel indexes it as C-contiguous, got strides {a.strides} for {a.shape}"
    return ctypes.c_void_p(a.ctypes.data)


class HostRawKernel:
    """Stands in for ``cupy.RawKernel(code, name)``: calls the host build of the same source,
    after checking each argument as the GPU will read it. CuPy passes a RawKernel's arguments
    by their own types (a Python int as a 64-bit integer, a float as a double), not the
    parameters', so an argument of another type than its parameter shifts every later one:
    each scalar must be the NumPy scalar of its parameter's type, each array of its dtype and
    C-contiguous. ``on_launch(name)``: called before each launch (the emulator counts it)."""

    def __init__(self, lib, code, name, on_launch=None):
        ctype = re.match(r"typedef (\w+) T;", code).group(1)
        self.name, self.fn = name, getattr(lib, f"{name}_{ctype}")
        self.params = kernel_parameters(code, name)
        self.t = {"float": np.float32, "double": np.float64}[ctype]
        self.on_launch = on_launch

    def compile(self):
        pass

    def __call__(self, grid, block, args, **launch_options):
        assert len(args) == len(self.params), \
            f"{self.name}: {len(args)} arguments for {len(self.params)} parameters"
        call = []
        for a, (ctype, pointer, pname) in zip(args, self.params):
            want = np.dtype(self.t if ctype == "T" else _ABI[ctype])
            if pointer:
                assert isinstance(a, np.ndarray) and a.dtype == want, \
                    f"{self.name}({pname}): needs a {want} array, got {type(a).__name__} " \
                    f"{getattr(a, 'dtype', '')}"
                call.append(_ptr(a, f"{self.name}({pname})"))
            else:
                assert isinstance(a, np.generic) and a.dtype == want, \
                    f"{self.name}({pname}): needs a NumPy {want} scalar, got " \
                    f"{type(a).__name__} {a!r} (CuPy would pass it with another size)"
                call.append(np.ctypeslib.as_ctypes_type(want)(a.item()))
        if self.on_launch is not None:
            self.on_launch(self.name)
        self.fn(*call)


class HostElementwiseKernel:
    """Stands in for ``cupy.ElementwiseKernel``: same constructor and call convention (inputs,
    then optional outputs; missing outputs are allocated by ``empty(shape, dtype)``). As
    CuPy's, the array inputs broadcast together and may be strided (contiguous copies are
    handed to the host build), and a strided output is written through a contiguous copy."""

    def __init__(self, lib, in_params, out_params, operation, name, empty=np.empty,
                 on_launch=None):
        self.lib, self.name = lib, name[len("minigrad_"):]
        self.ins, self.outs = elementwise_params(in_params), elementwise_params(out_params)
        self.arrays = set(cuda_src.ELEMENTWISE[self.name].array_inputs)
        assert cuda_src.ELEMENTWISE[self.name].operation == operation
        self.empty, self.on_launch = empty, on_launch

    def __call__(self, *args):
        n_in = len(self.ins)
        inputs = [a for (t, n), a in zip(self.ins, args[:n_in]) if n in self.arrays]
        shape = np.broadcast_shapes(*[a.shape for a in inputs + list(args[n_in:])])
        dtype = next(a.dtype for a in inputs + list(args[n_in:]) if a.dtype.kind == "f")
        outs = list(args[n_in:]) or [self.empty(shape, dtype) for _ in self.outs]
        assert len(outs) == len(self.outs), f"{self.name}: {len(outs)} outputs"
        ctype = {"float32": "float", "float64": "double"}[dtype.name]
        call, keep = [], []
        for (t, n), a in zip(self.ins, args[:n_in]):
            if n in self.arrays:
                want = dtype if t == "T" else np.dtype(_ABI[t])
                assert a.dtype == want, f"{self.name}({n}): {a.dtype}, expected {want}"
                host = np.ascontiguousarray(np.broadcast_to(a.view(np.ndarray), shape))
                keep.append(host)
                call.append(_ptr(host, f"{self.name}({n})"))
            else:
                call.append(_CT[ctype if t == "T" else t](a))
        written = []
        for (t, n), o in zip(self.outs, outs):
            assert o.shape == shape and o.dtype == dtype, \
                f"{self.name}({n}): {o.dtype}{o.shape}, expected {dtype}{shape}"
            host = o.view(np.ndarray)
            if not host.flags.c_contiguous:
                written.append((host, np.ascontiguousarray(host)))
                host = written[-1][1]
            call.append(_ptr(host, f"{self.name}({n})"))
        call.append(ctypes.c_longlong(int(np.prod(shape, dtype=np.int64))))
        if self.on_launch is not None:
            self.on_launch(self.name)
        getattr(self.lib, f"ew_{self.name}_{ctype}")(*call)
        for strided, contiguous in written:
            strided[...] = contiguous
        return outs[0] if len(outs) == 1 else tuple(outs)
