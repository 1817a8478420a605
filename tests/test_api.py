"""The API surface: numpy's axis=/keepdims= as aliases of dim=/keepdim= on every op that takes a
dim (as torch accepts them), and dimension errors that name the dim and the rank."""
import re

import numpy as np
import pytest

import minigrad
import minigrad.functional as F

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _x():
    return minigrad.tensor(np.random.default_rng(0).standard_normal((3, 4)))


def _same(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
        return
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.numpy(), b.numpy())


# Ops with dim and keepdim: every combination of the four names.
KEEPDIM_OPS = ["sum", "mean", "var", "std", "amax", "amin", "argmax", "argmin", "logsumexp",
               "norm"]


@pytest.mark.parametrize("name", KEEPDIM_OPS)
@pytest.mark.parametrize("method", [False, True], ids=["function", "method"])
def test_axis_and_keepdims_are_aliases(name, method):
    x = _x()
    call = (lambda **kw: getattr(x, name)(**kw)) if method else \
        (lambda **kw: getattr(F, name)(x, **kw))
    want = call(dim=1, keepdim=True)
    assert want.shape[1] == 1
    _same(call(axis=1, keepdims=True), want)
    _same(call(axis=1, keepdim=True), want)
    _same(call(dim=1, keepdims=True), want)
    _same(call(axis=1), call(dim=1))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_axis_give_values_and_indices(name):
    x = _x()
    values, indices = getattr(x, name)(axis=0, keepdims=True)
    want = getattr(x, name)(dim=0, keepdim=True)
    _same((values, indices), tuple(want))
    assert values.shape == (1, 4)


def test_dim_ops_take_axis():
    x = _x()
    _same(F.softmax(x, axis=-1), F.softmax(x, dim=-1))
    _same(x.log_softmax(axis=0), x.log_softmax(dim=0))
    _same(minigrad.cat([x, x], axis=1), minigrad.cat([x, x], dim=1))
    _same(minigrad.stack([x, x], axis=1), minigrad.stack([x, x], dim=1))
    _same(x.unsqueeze(axis=2), x.unsqueeze(dim=2))
    _same(x.unsqueeze(axis=0).squeeze(axis=0), x)
    _same(x.split(2, axis=1), x.split(2, dim=1))
    _same(x.chunk(2, axis=0), x.chunk(2, dim=0))
    assert minigrad.cat([x, x], axis=1).shape == (3, 8)
    assert minigrad.stack([x, x], axis=1).shape == (3, 2, 4)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_aliases_agree_with_torch():
    x = _x()
    t = torch.from_numpy(x.numpy())
    np.testing.assert_allclose(x.sum(axis=1, keepdims=True).numpy(),
                               t.sum(axis=1, keepdims=True).numpy())
    np.testing.assert_allclose(F.softmax(x, axis=-1).numpy(), torch.softmax(t, axis=-1).numpy())
    np.testing.assert_allclose(minigrad.cat([x, x], axis=1).numpy(),
                               torch.cat([t, t], axis=1).numpy())
    np.testing.assert_array_equal(x.argmax(keepdim=True).numpy(),
                                  t.argmax(keepdim=True).numpy())


def test_a_dim_and_its_alias_together_is_an_error():
    x = _x()
    with pytest.raises(TypeError, match="both dim= and its alias axis="):
        x.sum(dim=0, axis=1)
    with pytest.raises(TypeError, match="both keepdim= and its alias keepdims="):
        F.amax(x, 0, keepdim=True, keepdims=False)
    with pytest.raises(TypeError):
        x.sum(axes=0)  # not an alias: an unknown keyword stays an error


def _rank2():
    return minigrad.ones(2, 3)


# (call, the bad dim, the valid range) for a rank-2 tensor x.
DIM_ERRORS = {
    "transpose": (lambda x: x.transpose(0, 5), 5, "[-2, 1]"),
    "permute": (lambda x: x.permute(0, -3), -3, "[-2, 1]"),
    "sum": (lambda x: x.sum(2), 2, "[-2, 1]"),
    "mean": (lambda x: x.mean(axis=(0, 7)), 7, "[-2, 1]"),
    "var": (lambda x: x.var(3), 3, "[-2, 1]"),
    "amax": (lambda x: x.amax(-3), -3, "[-2, 1]"),
    "max": (lambda x: x.max(4), 4, "[-2, 1]"),
    "argmax": (lambda x: x.argmax(2), 2, "[-2, 1]"),
    "argmin": (lambda x: x.argmin(axis=-5), -5, "[-2, 1]"),
    "softmax": (lambda x: F.softmax(x, 2), 2, "[-2, 1]"),
    "log_softmax": (lambda x: F.log_softmax(x, 2), 2, "[-2, 1]"),
    "logsumexp": (lambda x: x.logsumexp(2), 2, "[-2, 1]"),
    "norm": (lambda x: x.norm(dim=2), 2, "[-2, 1]"),
    "cat": (lambda x: minigrad.cat([x, x], 2), 2, "[-2, 1]"),
    "stack": (lambda x: minigrad.stack([x, x], 3), 3, "[-3, 2]"),
    "unsqueeze": (lambda x: x.unsqueeze(3), 3, "[-3, 2]"),
    "squeeze": (lambda x: x.squeeze(2), 2, "[-2, 1]"),
    "split": (lambda x: x.split(1, 2), 2, "[-2, 1]"),
    "chunk": (lambda x: x.chunk(2, -3), -3, "[-2, 1]"),
    "flatten": (lambda x: x.flatten(0, 2), 2, "[-2, 1]"),
    "flip": (lambda x: x.flip(2), 2, "[-2, 1]"),
    "roll": (lambda x: x.roll(1, -3), -3, "[-2, 1]"),
    "cumsum": (lambda x: x.cumsum(-3), -3, "[-2, 1]"),
    "gather": (lambda x: x.gather(2, minigrad.zeros(2, 3, dtype="int64")), 2, "[-2, 1]"),
    "size": (lambda x: x.size(-3), -3, "[-2, 1]"),
    "Unflatten": (lambda x: minigrad.nn.Unflatten(2, (3, 1))(x), 2, "[-2, 1]"),
}


@pytest.mark.parametrize("name", sorted(DIM_ERRORS))
def test_dimension_errors_name_the_dim_and_the_rank(name):
    call, dim, valid = DIM_ERRORS[name]
    with pytest.raises(IndexError) as info:
        call(_rank2())
    msg = str(info.value)
    assert f"dimension {dim} " in msg and "rank 2" in msg and valid in msg, msg


def test_transpose_out_of_range_like_torch():
    with pytest.raises(IndexError, match=re.escape("dimension 5 is out of range for a tensor of "
                                                   "rank 2 (expected a dim in [-2, 1])")):
        minigrad.ones(2, 3).transpose(0, 5)
    if torch is not None:
        with pytest.raises(IndexError, match=re.escape("[-2, 1], but got 5")):
            torch.ones(2, 3).transpose(0, 5)


def test_negative_and_edge_dims_still_work():
    x = _x()
    assert x.transpose(-1, 0).shape == (4, 3)
    assert minigrad.stack([x, x], -1).shape == (3, 4, 2)
    assert x.unsqueeze(-1).shape == (3, 4, 1)
    s = minigrad.tensor(2.0)  # a 0-d tensor takes dims -1 and 0, as in torch
    assert s.sum(0).item() == 2.0 and s.unsqueeze(0).shape == (1,)
    assert s.argmax(0).item() == 0
    with pytest.raises(IndexError, match="rank 0"):
        s.sum(1)


# ------------------------------------------------------------------ import structure
ROOT = __import__("pathlib").Path(minigrad.__file__).parent


def _minigrad_imports(path):
    """Every minigrad module a file imports, at top level or inside a function."""
    import ast
    tree = ast.parse(path.read_text())
    package = ".".join(("minigrad",) + path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("minigrad")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this file's package
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            if base.startswith("minigrad"):
                # `from minigrad import backend` imports the module minigrad.backend
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    found.add(sub if _module_path(sub) is not None else base)
    return found


def _module_path(name):
    """The file or package folder of minigrad module ``name``, or None."""
    rel = ROOT.joinpath(*name.split(".")[1:])
    for candidate in (rel.with_suffix(".py"), rel / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


# The import order: a module may import from its own layer or the ones before it, never after.
LAYERS = [["minigrad.backend"], ["minigrad.kernels"], ["minigrad.autograd"], ["minigrad.ops"],
          ["minigrad.tensor"], ["minigrad.functional", "minigrad.creation", "minigrad.distributed",
                                "minigrad.linalg"],
          ["minigrad.nn"],
          ["minigrad.optim", "minigrad.data", "minigrad.utils", "minigrad.viz"]]


def _layer(module):
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return len(LAYERS)  # the package itself, minigrad/__init__.py


def test_imports_point_one_way():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(("minigrad",) + (parts[:-1] if parts[-1] == "__init__" else parts))
        for target in _minigrad_imports(path):
            if _layer(target) > _layer(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong, wrong


def test_no_late_patching_between_modules():
    # Function.apply makes its outputs with an input's _wrap; nothing sets a Tensor on autograd.
    from minigrad import tensor
    from minigrad.autograd import function
    assert not hasattr(function, "Tensor")
    assert not [n for n in vars(tensor) if "functional" in n.lower()]


# ----------------------------------------------------------------- one definition per op
def test_methods_and_exports_are_the_functional_definitions():
    T = minigrad.Tensor
    for name in F.__all__:
        assert getattr(minigrad, name) is getattr(F, name), name
    for method, fn in [("exp", F.exp), ("sum", F.sum), ("softmax", F.softmax),
                       ("__add__", F.add), ("__radd__", F.add), ("__matmul__", F.matmul),
                       ("__rmatmul__", F.rmatmul), ("__getitem__", F.getitem),
                       ("view", F.reshape), ("clip", F.clamp), ("to", F.to)]:
        assert getattr(T, method) is fn, method
    # the public surface stays what it was: no helper leaks into minigrad's namespace
    assert set(F.__all__) == {
        "abs", "amax", "amin", "argmax", "argmin", "cat", "chunk", "clamp", "clip", "clone", "cos",
        "exp", "flatten", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min",
        "minimum", "norm", "pad", "permute", "pow", "relu", "reshape", "sigmoid", "sin",
        "softmax", "split", "sqrt", "squeeze", "stack", "std", "sum", "tanh", "transpose",
        "unsqueeze", "var", "where",
        # torch's top-level functions (repeat, view_as and reshape_as are methods only, as there)
        "neg", "square", "log1p", "expm1", "rsqrt", "reciprocal", "t", "flip", "roll", "cumsum",
        "gather", "masked_fill", "lerp", "sign", "floor", "ceil", "round", "trunc", "isnan",
        "isinf", "isfinite", "remainder", "floor_divide", "sort", "argsort", "msort", "topk",
        "kthvalue", "median", "narrow", "prod", "cumprod", "tril", "triu", "bmm", "outer", "ger",
        "unbind", "diff", "index_select", "scatter", "scatter_add", "index_add", "nonzero",
        "erf", "erfc", "einsum", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh",
        "acosh", "atanh", "arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh",
        "arctanh", "log2", "log10", "exp2", "logaddexp", "xlogy", "logit", "hypot", "all", "any",
        "clamp_min", "clamp_max", "diagonal", "diag_embed", "diag", "trace", "repeat_interleave",
        "meshgrid", "cummax", "cummin", "nansum", "nanmean", "var_mean", "std_mean",
        "count_nonzero", "bincount", "unique", "searchsorted",
        "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or",
        "logical_xor", "isclose", "allclose", "equal", "nan_to_num", "masked_select", "select",
        "movedim", "moveaxis", "swapaxes", "swapdims", "addcmul", "addcdiv", "mm", "mv", "dot",
        "vstack", "hstack", "unflatten", "sinc", "fmod", "frac", "sgn", "absolute", "negative",
        "multiply", "divide", "true_divide", "subtract", "is_tensor", "is_floating_point",
        "lgamma", "digamma", "polygamma", "cdist", "tensordot", "kron", "cross", "quantile",
        "nanquantile",
        # torch's top-level names for functions of minigrad.linalg
        "inverse", "det", "logdet", "slogdet"}
    assert not hasattr(T, "where") and not hasattr(T, "cat")  # functions only, as in torch
    for name in ("repeat", "view_as", "reshape_as"):  # methods only, as in torch
        assert hasattr(T, name) and not hasattr(minigrad, name), name


def test_registering_an_op_never_overrides_a_tensor_attribute():
    original = minigrad.Tensor.backward

    def backward(x):
        return x
    with pytest.raises(RuntimeError, match="Tensor.backward is already defined"):
        F.op(methods=("backward",), export=False)(backward)
    assert minigrad.Tensor.backward is original


def test_a_new_op_is_one_function_and_one_wrapper(monkeypatch):
    class Cube(minigrad.Function):
        """y = x^3; gx = 3 x^2 gy"""

        def forward(self, x):
            return x ** 3

        def backward(self, gy):
            x = self.inputs[0]
            return gy * x * x * 3

    monkeypatch.setattr(F, "__all__", list(F.__all__))
    try:
        @F.op
        def cube(x):
            return Cube.apply(x)

        x = minigrad.tensor([1.0, -2.0], requires_grad=True)
        y = x.cube()                      # the method
        assert "cube" in F.__all__        # the export
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    finally:
        delattr(minigrad.Tensor, "cube")


def test_nn_init_does_not_import_the_layers():
    # nn.layers imports nn.init to initialise its parameters; the reverse made a cycle.
    imports = _minigrad_imports(ROOT / "nn" / "init.py")
    assert not {m for m in imports if m.startswith("minigrad.nn")}, imports
    assert not hasattr(minigrad.nn.init, "dcgan_weights")
