"""Grouped convolutions (``groups``, depthwise included) and the 1-d convolutions (Conv1d,
ConvTranspose1d, which run Conv2d's machinery on (N, C, 1, L)): values and gradients against
torch's layers with the same weights, gradcheck and gradgradcheck of the functionals, reprs and
the argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")


def _twin(mine, theirs):
    """theirs in float64 with mine's weights (mine's turned float64 too)."""
    for p in mine.parameters():
        p.data = p.data.astype(np.float64)
    theirs.double().load_state_dict({k: torch.tensor(np.asarray(v))
                                     for k, v in mine.state_dict().items()})


def _compare(mine, theirs, shape, seed=0, **call):
    x = np.random.default_rng(seed).standard_normal(shape)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ym, yt = mine(xm, **call), theirs(xt, **call)
    np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (ym * ym).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("kind,kw", [
    ("Conv2d", dict(kernel_size=3, padding=1)),
    ("Conv2d", dict(kernel_size=(2, 3), stride=2, dilation=(1, 2))),
    ("Conv2d", dict(kernel_size=3, padding="same", bias=False)),
    ("ConvTranspose2d", dict(kernel_size=4, stride=2, padding=1)),
    ("ConvTranspose2d", dict(kernel_size=3, stride=2, output_padding=1, dilation=1)),
])
def test_grouped_2d_layers_match_torch(kind, kw, groups):
    mine, theirs = getattr(nn, kind)(4, 8, groups=groups, **kw), \
        getattr(torch.nn, kind)(4, 8, groups=groups, **kw)
    _twin(mine, theirs)
    assert repr(mine) == repr(theirs)
    assert mine.weight.shape == tuple(theirs.weight.shape)
    _compare(mine, theirs, (2, 4, 6, 5))


def test_depthwise_conv_matches_torch():
    mine, theirs = nn.Conv2d(6, 12, 3, padding=1, groups=6), \
        torch.nn.Conv2d(6, 12, 3, padding=1, groups=6)
    _twin(mine, theirs)
    _compare(mine, theirs, (2, 6, 5, 5))


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("kind,kw", [
    ("Conv1d", dict(kernel_size=3, padding=1)),
    ("Conv1d", dict(kernel_size=3, stride=2, padding=2, dilation=2)),
    ("Conv1d", dict(kernel_size=4, padding="same", bias=False)),
    ("Conv1d", dict(kernel_size=(3,), padding="valid")),
    ("ConvTranspose1d", dict(kernel_size=3, stride=2, padding=1, output_padding=1)),
    ("ConvTranspose1d", dict(kernel_size=4, stride=3, dilation=2)),
])
@pytest.mark.parametrize("shape", [(2, 4, 9), (4, 9)])
def test_1d_layers_match_torch(kind, kw, groups, shape):
    mine, theirs = getattr(nn, kind)(4, 6, groups=groups, **kw), \
        getattr(torch.nn, kind)(4, 6, groups=groups, **kw)
    _twin(mine, theirs)
    assert repr(mine) == repr(theirs)
    _compare(mine, theirs, shape)


@pytest.mark.parametrize("fn,args", [
    (F.conv2d, dict(stride=1, padding=1, groups=2)),
    (F.conv_transpose2d, dict(stride=2, padding=1, groups=2)),
])
def test_grouped_functionals_pass_gradcheck_and_gradgradcheck(fn, args):
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((1, 4, 3, 3)), requires_grad=True)
    # conv2d: (OC, C / groups, ...) with OC = 4; conv_transpose2d: (C, OC / groups, ...), OC = 2
    shape, oc = ((4, 2, 2, 2), 4) if fn is F.conv2d else ((4, 1, 2, 2), 2)
    w = mg.tensor(rng.standard_normal(shape), requires_grad=True)
    b = mg.tensor(rng.standard_normal(oc), requires_grad=True)
    call = lambda x, w, b: fn(x, w, b, **args)  # noqa: E731
    assert mg.gradcheck(call, [x, w, b])
    assert mg.gradgradcheck(call, [x, w, b])


@pytest.mark.parametrize("fn,wshape,args", [
    (F.conv1d, (4, 2, 3), dict(stride=2, padding=1, groups=2)),
    (F.conv_transpose1d, (4, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
])
def test_1d_functionals_pass_gradcheck_and_gradgradcheck(fn, wshape, args):
    rng = np.random.default_rng(2)
    x = mg.tensor(rng.standard_normal((2, 4, 5)), requires_grad=True)
    w = mg.tensor(rng.standard_normal(wshape), requires_grad=True)
    call = lambda x, w: fn(x, w, **args)  # noqa: E731
    assert mg.gradcheck(call, [x, w])
    assert mg.gradgradcheck(call, [x, w])
    want = getattr(torch.nn.functional, fn.__name__)(
        torch.tensor(x.numpy()), torch.tensor(w.numpy()), **args)
    np.testing.assert_allclose(call(x, w).numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call,error,match", [
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError,
     r"out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: nn.Conv1d(3, 6, 3, groups=2), ValueError,
     r"in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(4, 8, 3, groups=0), ValueError, r"groups must be a whole number >= 1"),
    (lambda: F.conv2d(mg.ones(1, 4, 3, 3), mg.ones(8, 4, 1, 1), groups=2), ValueError,
     r"expects 8 \(2 groups of 4\)"),
    (lambda: F.conv1d(mg.ones(1, 1, 2, 3), mg.ones(2, 1, 1)), ValueError,
     r"conv1d expects a 3-D input \(N, C, L\) or a 2-D one"),
    (lambda: nn.Conv1d(2, 4, 3)(mg.ones(1, 3, 5)), ValueError, r"expects 2 input channels"),
    (lambda: nn.ConvTranspose1d(2, 4, 3, stride=2, output_padding=2), ValueError,
     r"output_padding \(2,\) must be smaller than the stride"),
    (lambda: nn.Conv1d(2, 4, (3, 3)), ValueError, r"kernel_size must be an int or a 1-tuple"),
])
def test_argument_errors_name_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call()
