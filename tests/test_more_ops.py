"""Everyday torch ops beyond the op table's gradient checks: their argument errors (named, as
torch's are), the ops with no gradient (checked against torch's values), and the copies-not-views
rule where torch copies. The differentiable ones are in ``op_specs.SPECS``."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def _pair(values, dtype=np.float32):
    a = np.asarray(values, dtype=dtype)
    return mg.tensor(a), torch.tensor(a)


def _same(got, want):
    want = want.detach().numpy()
    assert got.dtype == want.dtype, f"dtype {got.dtype}, torch {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, torch {want.shape}"
    np.testing.assert_array_equal(got.numpy(), want)


# ------------------------------------------------------------------ flip, roll, repeat, t
@pytest.mark.parametrize("call,error,match", [
    (lambda x: x.t(), ValueError, r"t: expects a tensor with <= 2 dimensions, got 3"),
    (lambda x: x.flip(0, -3), ValueError, r"flip: dims \(0, -3\) name a dim more than once"),
    (lambda x: x.flip(3), IndexError, r"flip: dimension 3 is out of range for a tensor of rank 3"),
    (lambda x: x.flip(), TypeError, "flip: give the dims once"),
    (lambda x: mg.roll(x, (1, 2), 0), ValueError, "roll: shifts .* must have the same length"),
    (lambda x: mg.roll(x, (1, 2)), ValueError, "roll: 2 shifts need as many dims"),
    (lambda x: x.roll(1, 5), IndexError, "roll: dimension 5 is out of range"),
    (lambda x: x.repeat(2, 2), ValueError, r"repeat: 2 sizes \(2, 2\) for a tensor of 3 dims"),
    (lambda x: x.repeat(1, -1, 1), ValueError, "repeat: sizes must be ints >= 0"),
    (lambda x: x.view_as(mg.zeros(5)), ValueError, "reshape: cannot reshape"),
])
def test_shape_op_errors_name_the_problem(call, error, match):
    x = mg.ones(1, 2, 3)
    with pytest.raises(error, match=match):
        call(x)
    with pytest.raises(Exception):  # torch refuses the same calls
        call(torch.ones(1, 2, 3))


def test_flip_roll_repeat_copy_as_torch():
    """torch's flip, roll and repeat return new memory: changing the result leaves x alone."""
    for op in (lambda x: x.flip(0), lambda x: x.roll(1, 0), lambda x: x.repeat(1, 1),
               lambda x: mg.flip(x, ())):
        x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
        op(x).zero_()
        np.testing.assert_array_equal(x.numpy(), [[1, 2], [3, 4]])


@pytest.mark.parametrize("values", [[[1, 2, 3], [4, 5, 6]], [True, False], 7])
def test_shape_ops_keep_integer_and_bool_dtypes(values):
    x, xt = _pair(values, np.asarray(values).dtype)
    _same(x.flip(tuple(range(x.ndim))), xt.flip(tuple(range(xt.ndim))))
    _same(x.roll(1), xt.roll(1))
    _same(x.repeat(*(2,) * (x.ndim + 1)), xt.repeat((2,) * (xt.ndim + 1)))
    _same(x.t(), xt.t())


@pytest.mark.parametrize("name", ["log1p", "expm1", "rsqrt", "reciprocal", "square", "neg"])
def test_elementwise_dtypes_and_edges_as_torch(name):
    """Integer tensors give float32 for the float ops (square and neg keep int64); 0 and the
    extremes as torch has them."""
    x, xt = _pair([0, 1, 3])
    i, it = _pair([0, 1, 3], np.int64)
    with np.errstate(divide="ignore"):
        got, got_i = getattr(mg, name)(x), getattr(mg, name)(i)
    np.testing.assert_allclose(got.numpy(), getattr(torch, name)(xt).numpy(), rtol=1e-6)
    _same(got_i, getattr(torch, name)(it))


def test_log1p_and_expm1_are_exact_for_tiny_values():
    x = mg.tensor([1e-10, -1e-12], dtype="float64")
    np.testing.assert_allclose(x.log1p().numpy(), [1e-10 - 5e-21, -1e-12 - 5e-25], rtol=1e-15)
    np.testing.assert_allclose(x.expm1().numpy(), [1e-10 + 5e-21, -1e-12 + 5e-25], rtol=1e-15)
