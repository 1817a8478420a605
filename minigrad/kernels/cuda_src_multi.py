"""CUDA C of the multi-tensor optimizers (part of :mod:`minigrad.kernels.cuda_src`), generated
from the one-tensor ElementwiseKernel sources there, so each formula is written once."""

from .cuda_src import ELEMENTWISE, RAW_KERNELS, RawKernelSource

# ------------------------------------------------------------------- multi-tensor optimizers
# One launch updates every tensor of a parameter group (PyTorch's foreach/fused optimizers,
# apex's multi_tensor_apply): the kernel gets a device table of pointers, one row per tensor
# (its array parameters in the ElementwiseKernel's order: the array inputs, then the outputs),
# and the tensors' start offsets in the concatenated index space [0, total); each thread finds
# its tensor by binary search in ``starts`` and runs the elementwise body on its element. The
# body is the ElementwiseKernel's ``operation`` above, unchanged: the formulas are written once.

#: ElementwiseKernel parameter types -> C types
C_TYPES = {"T": "T", "int32": "int", "int64": "long long", "float32": "float",
           "float64": "double"}

#: multi-tensor kernel name -> the ELEMENTWISE variant whose body it runs
MULTI_TENSOR = {f"multi_{name}": name for name in ELEMENTWISE
                if name.startswith(("adam_update", "rmsprop_update"))}
MULTI_TENSOR.update({f"multi_{name}_device_steps": name for name in ELEMENTWISE
                     if name.startswith("adam_update")})


def _split_params(spec):
    return [(C_TYPES[typ], name) for typ, name in (p.split() for p in spec.split(","))]


#: Adam's step-dependent scalars, computed in the kernel from per-tensor step counts in device
#: memory (the variant a CUDA graph replays: no host value changes between replays). In
#: double, as the host computes them for the other variants, then rounded to T.
_DEVICE_STEP_PROLOGUE = """const double _s = (double)_steps[_lo];
const T step_size = (T)(_lr / (1.0 - pow(_beta1, _s)));
const T bc2_sqrt = (T)sqrt(1.0 - pow(_beta2, _s));"""
_DEVICE_STEP_PARAMS = ("const long long* __restrict__ _steps, const double _lr, "
                       "const double _beta1, const double _beta2")


def multi_tensor_source(name: str) -> RawKernelSource:
    """The RawKernel of multi-tensor kernel ``name`` (a key of :data:`MULTI_TENSOR`)::

        minigrad_<name>(const unsigned long long* ptrs, const long long* starts,
                        int n_tensors, int total, <the scalar parameters, in order>)

    ``ptrs`` holds n_tensors rows of pointers (array inputs, then outputs); ``starts`` n_tensors
    + 1 offsets (starts[0] = 0, starts[n_tensors] = total)."""
    device_steps = name.endswith("_device_steps")
    src = ELEMENTWISE[MULTI_TENSOR[name]]
    ins, outs = _split_params(src.in_params), _split_params(src.out_params)
    if device_steps:
        ins = [(t, n) for t, n in ins if n not in ("step_size", "bc2_sqrt")]
    arrays = [(t, n, True) for t, n in ins if n in src.array_inputs] + [(t, n, False)
                                                                       for t, n in outs]
    scalars = [f"const {t} {n}" for t, n in ins if n not in src.array_inputs]
    bind = [f"{'const ' if is_in else ''}{t} &{n} = "
            f"(({'const ' if is_in else ''}{t}*)_row[{k}])[_e];"
            for k, (t, n, is_in) in enumerate(arrays)]
    prologue = _DEVICE_STEP_PROLOGUE.split("\n") if device_steps else []
    body = "\n".join("        " + line
                     for line in bind + prologue + src.operation.split("\n"))
    if device_steps:
        scalars.append(_DEVICE_STEP_PARAMS)
    function = "minigrad_" + name
    # NOTE: the loop's own names start with an underscore, so the body's names cannot clash
    code = f"""
extern "C" __global__ void {function}(
        const unsigned long long* __restrict__ _ptrs, const long long* __restrict__ _starts,
        const int _n_tensors, const int _total, {", ".join(scalars)})
{{
    const long long _stride = (long long)blockDim.x * gridDim.x;
    for (long long _t = (long long)blockIdx.x * blockDim.x + threadIdx.x; _t < _total;
         _t += _stride) {{
        int _lo = 0, _hi = _n_tensors - 1;   /* the last tensor whose start is <= _t */
        while (_lo < _hi) {{
            const int _mid = (_lo + _hi + 1) / 2;
            if (_starts[_mid] <= _t) _lo = _mid; else _hi = _mid - 1;
        }}
        const long long _e = _t - _starts[_lo];
        const unsigned long long* _row = _ptrs + (long long)_lo * {len(arrays)};
{body};
    }}
}}
"""
    return RawKernelSource(function, code)


RAW_KERNELS.update({name: multi_tensor_source(name) for name in MULTI_TENSOR})
