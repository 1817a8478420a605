"""minigrad.nn: Module semantics (registration, state_dict, modes, repr), every layer against
PyTorch (forward, gradients, second-order gradients), float64 gradcheck/gradgradcheck of each
layer (meaningful without torch), init, and the error messages for bad inputs."""
from __future__ import annotations

import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import Tensor
from minigrad.nn import init

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")



def _rng(seed=0):
    return np.random.default_rng(seed)


def _to_torch(m, t, strict=True):
    """Copy minigrad module m's state into torch module t (the state-dict bridge)."""
    t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()},
                      strict=strict)
    return t


def _randomize(m, seed=0):
    """Random parameters (norm layers' weights away from 0), so parity tests see real values."""
    rng = _rng(seed)
    for name, p in m.named_parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape) if name.endswith("weight") and \
            p.ndim == 1 else rng.standard_normal(p.shape) * 0.5
    return m


# ======================================================================= Module semantics
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(minigrad.ones(1))
        self.conv = nn.Conv2d(1, 2, 3)
        self.register_buffer("step", minigrad.zeros(1))
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
        self.register_buffer("scratch", minigrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(F.relu(self.bn(self.conv(x)))) * self.scale


if torch is not None:
    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(1))
            self.conv = torch.nn.Conv2d(1, 2, 3)
            self.register_buffer("step", torch.zeros(1))
            self.bn = torch.nn.BatchNorm2d(2)
            self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

        def forward(self, x):
            return self.head(torch.relu(self.bn(self.conv(x)))) * self.scale


PARAM_NAMES = ["scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias", "head.1.weight",
               "head.1.bias"]
STATE_KEYS = ["scale", "step", "conv.weight", "conv.bias", "bn.weight", "bn.bias",
              "bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "head.1.weight",
              "head.1.bias"]


def test_registration_order_and_names():
    m = Net()
    assert [n for n, _ in m.named_parameters()] == PARAM_NAMES
    assert list(m.state_dict().keys()) == STATE_KEYS
    assert [n for n, _ in m.named_buffers()] == ["step", "scratch", "bn.running_mean",
                                                 "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in m.named_children()] == ["conv", "bn", "head"]
    assert [n for n, _ in m.named_modules()] == ["", "conv", "bn", "head", "head.0", "head.1"]
    assert [type(c).__name__ for c in m.children()] == ["Conv2d", "BatchNorm2d", "Sequential"]
    assert len(list(m.modules())) == 6
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in m.named_parameters(prefix="model")][0] == "model.scale"


@needs_torch
def test_registration_order_matches_torch():
    m, t = Net(), TorchNet()
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert list(m.state_dict()) == list(t.state_dict())
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in m.named_modules()] == [n for n, _ in t.named_modules()]
    order_m, order_t = [], []
    m.apply(lambda mod: order_m.append(type(mod).__name__))
    t.apply(lambda mod: order_t.append(type(mod).__name__.replace("TorchNet", "Net")))
    assert order_m == order_t


def test_attribute_access_is_plain_and_in_sync():
    m = nn.Linear(3, 2)
    assert "weight" in m.__dict__ and m.weight is m._parameters["weight"]
    new = nn.Parameter(minigrad.zeros(2, 3))
    m.weight = new
    assert m.weight is new and m._parameters["weight"] is new
    other = nn.Parameter(minigrad.ones(2, 3))
    m._parameters["weight"] = other  # direct registry edits stay visible as attributes
    assert m.weight is other
    del m.bias
    assert "bias" not in m._parameters and not hasattr(m, "bias")
    m.bias = None  # a plain attribute now
    assert m.bias is None and "bias" not in m._parameters
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope


def test_setattr_rules():
    m = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = minigrad.zeros(2, 3)
    m.bias = None  # allowed: declares an absent parameter
    assert m._parameters["bias"] is None and [n for n, _ in m.named_parameters()] == ["weight"]
    bn = nn.BatchNorm1d(3)
    bn.running_mean = minigrad.ones(3)  # buffers accept tensors
    assert bn._buffers["running_mean"].data.sum() == 3
    with pytest.raises(TypeError, match="buffer"):
        bn.running_mean = np.ones(3)
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="child module"):
        seq.__setattr__("0", 3)
    # A parameter assigned over a buffer / a plain attribute moves registries, like torch.
    bn.running_var = None
    bn.extra = 5
    bn.extra = nn.Parameter(minigrad.zeros(1))
    assert "extra" in bn._parameters


def test_registration_rejects_bad_names_and_non_leaf_parameters():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", nn.Parameter(minigrad.zeros(1)))
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", minigrad.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("forward", nn.Parameter(minigrad.zeros(1)))
    x = minigrad.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="leaf"):
        nn.Parameter(x * 2)
    p = nn.Parameter(minigrad.zeros(1))
    p._ctx = (x * 2)._ctx  # forge a non-leaf Parameter
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("p", p)
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("q", minigrad.zeros(1))
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("r", 3)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(minigrad.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_parameter_basics():
    p = nn.Parameter(minigrad.randn(2, 2))
    assert p.requires_grad and p.is_leaf and isinstance(p, Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(minigrad.zeros(2), requires_grad=False).requires_grad
    arr = np.zeros(3, dtype=np.float32)
    assert nn.Parameter(Tensor(arr)).data is arr  # shares the array, like torch
    y = p * 2  # ops on Parameters give plain Tensors
    assert type(y) is Tensor


def test_train_eval_requires_grad_zero_grad():
    m = Net()
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m and not any(c.training for c in m.modules())
    m.train()
    assert all(c.training for c in m.modules())
    m.head.train(False)
    assert m.training and not m.head[1].training
    with pytest.raises(ValueError):
        m.train("no")

    m.train()
    m(minigrad.randn(2, 1, 6, 6)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())

    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    x = minigrad.randn(2, 1, 6, 6, requires_grad=True)
    m(x).sum().backward()  # frozen: only the input gets a gradient (GAN's G step through D)
    assert x.grad is not None and all(p.grad is None for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_to_dtype_keeps_parameter_objects():
    m = Net()
    params = list(m.parameters())
    m.double()
    assert all(a is b for a, b in zip(m.parameters(), params))
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.bn.running_mean.dtype == np.float64
    assert m.bn.num_batches_tracked.dtype == np.int64  # integer buffers are not cast
    assert m(minigrad.randn(2, 1, 6, 6, dtype="float64")).dtype == np.float64
    m.to(np.float32)
    assert all(p.dtype == np.float32 for p in m.parameters())
    assert m.to("cpu") is m
    with pytest.raises(TypeError, match="floating point"):
        m.to(np.int64)


def test_state_dict_round_trip_numpy():
    a, b = Net(), Net()
    a(minigrad.randn(4, 1, 6, 6))  # move running stats away from their init
    sd = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert "scratch" not in sd  # non-persistent buffer
    sd["conv.weight"][...] = 7  # a copy: editing it leaves the model alone
    assert not (a.conv.weight.data == 7).all()
    sd = a.state_dict()
    weight_before = b.conv.weight
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.conv.weight is weight_before  # loaded in place
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    x = minigrad.randn(3, 1, 6, 6)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)
    kv = a.state_dict(keep_vars=True)
    assert kv["conv.weight"] is a.conv.weight


def test_load_state_dict_errors_list_every_key():
    m = Net()
    sd = m.state_dict()
    del sd["conv.bias"], sd["bn.running_var"]
    sd["extra.weight"] = np.zeros(3)
    sd["head.1.weight"] = np.zeros((4, 4))
    sd["scale"] = np.zeros(2)
    before = m.bn.weight.data.copy()
    sd["bn.weight"] = np.full(2, 9.0)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    for key in ["conv.bias", "bn.running_var", "extra.weight", "head.1.weight", "scale"]:
        assert key in msg
    assert "Missing key(s)" in msg and "Unexpected key(s)" in msg and "size mismatch" in msg
    np.testing.assert_array_equal(m.bn.weight.data, before)  # nothing loaded on error
    # strict=False: shape mismatches are still errors (as in torch) ...
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd, strict=False)
    assert "head.1.weight" in str(e.value) and "scale" in str(e.value)
    assert "Missing" not in str(e.value)
    # ... and without them the rest loads and the key lists come back.
    del sd["head.1.weight"], sd["scale"]
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale", "conv.bias", "bn.running_var", "head.1.weight"]
    assert result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(m.bn.weight.data, 9.0)


@needs_torch
def test_state_dict_to_torch_and_back():
    m = Net()
    m(minigrad.randn(4, 1, 6, 6))
    t = TorchNet()
    _to_torch(m, t)
    x_np = _rng(1).standard_normal((3, 1, 6, 6)).astype(np.float32)
    m.eval(), t.eval()
    np.testing.assert_allclose(m(Tensor(x_np)).data, t(torch.from_numpy(x_np)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # torch -> minigrad, straight from torch tensors
    t2 = TorchNet()
    t2.train()
    t2(torch.randn(4, 1, 6, 6))
    t2.eval()
    m2 = Net().eval()
    m2.load_state_dict(t2.state_dict())
    assert int(m2.bn.num_batches_tracked.item()) == 1
    np.testing.assert_allclose(m2(Tensor(x_np)).data,
                               t2(torch.from_numpy(x_np)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_copy_and_pickle():
    m = Net()
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert [n for n, _ in clone.named_parameters()] == PARAM_NAMES
        assert clone.conv.weight is clone._modules["conv"]._parameters["weight"]
        assert clone.conv.weight is not m.conv.weight
        np.testing.assert_array_equal(clone.conv.weight.data, m.conv.weight.data)
        clone.conv.weight.data[...] = 0
        assert m.conv.weight.data.any()
        new = nn.Parameter(minigrad.ones(1))
        clone.scale = new
        assert clone._parameters["scale"] is new and m.scale is not new
        clone(minigrad.randn(2, 1, 6, 6)).sum().backward()


def test_sequential_modulelist_moduledict():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c
    assert all(x is y for x, y in zip(s, [a, b, c]))
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is b
    s.append(nn.Tanh())
    assert len(s) == 4 and [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]
    assert s(minigrad.randn(4, 2)).shape == (4, 1)
    with pytest.raises(IndexError):
        s[7]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert named.fc is named[0]
    del s[3]
    assert len(s) == 3

    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and [n for n, _ in ml.named_parameters()][-1] == "3.bias"
    assert len(list(ml.parameters())) == 8 and isinstance(ml[1:], nn.ModuleList)
    md = nn.ModuleDict({"g": nn.Linear(1, 2), "d": nn.Linear(2, 1)})
    assert list(md.keys()) == ["g", "d"] and "g" in md and len(md) == 2
    assert [n for n, _ in md.named_parameters()] == ["g.weight", "g.bias", "d.weight", "d.bias"]


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    s = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(s.parameters())) == 2
    assert [n for n, _ in s.named_parameters()] == ["0.weight", "0.bias"]


@needs_torch
def test_repr_matches_torch():
    def build(lib):
        n_ = lib.nn if lib is torch else nn
        return n_.Sequential(
            n_.Conv2d(1, 64, 4, 2, 1, bias=False), n_.BatchNorm2d(64),
            n_.LeakyReLU(0.2, inplace=True), n_.Flatten(), n_.Linear(10, 1), n_.Tanh(),
            n_.Dropout(0.3), n_.ConvTranspose2d(3, 4, 4, 2, 1, output_padding=1),
            n_.Upsample(scale_factor=2), n_.Embedding(10, 3), n_.LayerNorm(5),
            n_.InstanceNorm2d(3), n_.ReflectionPad2d(1), n_.Unflatten(1, (2, 3)), n_.ReLU(),
            n_.Sigmoid(), n_.Identity(), n_.Softplus(), n_.Dropout2d(),
            n_.Conv2d(3, 4, (3, 2), dilation=2, padding="same"),
            n_.BatchNorm1d(3, momentum=None, affine=False), n_.ZeroPad2d((1, 2, 3, 4)),
            n_.Softmax(dim=1), n_.ModuleDict({"a": n_.Tanh()}), n_.ReLU(inplace=True),
            n_.Upsample(size=(4, 5)), n_.Embedding(5, 2, padding_idx=0),
            n_.ConvTranspose2d(2, 2, 3, bias=False), n_.LayerNorm((2, 3), bias=False))
    assert repr(build(minigrad)) == repr(build(torch))


def test_custom_extra_repr():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)

        def extra_repr(self):
            return "note=1"

    assert repr(M()) == ("M(\n  note=1\n  (fc): Linear(in_features=1, out_features=1, "
                         "bias=True)\n)")


# ================================================================== layers against torch
def _parity(m, t, x_np, second_order=True, rtol=1e-9, atol=1e-9, integer_input=False):
    """Forward, gradients w.r.t. input and parameters, and (optionally) the gradients of the
    gradient-penalty-like S = ||dL/dx||^2 + sum ||dL/dtheta||^2, against torch, in float64."""
    r = _rng(99)
    ps = list(m.parameters())
    pt = list(t.parameters())
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    if integer_input:
        x, xt = Tensor(x_np), torch.from_numpy(x_np)
        wrt, wrt_t = ps, pt
    else:
        x, xt = Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        wrt, wrt_t = [x] + ps, [xt] + pt
    y, yt = m(x), t(xt)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=rtol, atol=atol)
    r_np = r.standard_normal(y.shape)
    L = (y * Tensor(r_np)).sum()
    Lt = (yt * torch.from_numpy(r_np)).sum()
    gs = minigrad.grad(L, wrt, create_graph=second_order)
    gts = torch.autograd.grad(Lt, wrt_t, create_graph=second_order)
    for g, gt in zip(gs, gts):
        np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=rtol, atol=atol)
    if not second_order:
        return
    S = sum((g * g).sum() for g in gs)
    St = sum((g * g).sum() for g in gts)
    dS = minigrad.grad(S, wrt, allow_unused=True)
    dSt = torch.autograd.grad(St, wrt_t, allow_unused=True)
    for g, gt, ref in zip(dS, dSt, wrt):
        a = np.zeros(ref.shape) if g is None else g.data
        b = np.zeros(ref.shape) if gt is None else gt.numpy()
        np.testing.assert_allclose(a, b, rtol=rtol * 10, atol=atol * 10)


def _pair(make_m, make_t, seed=0):
    m = _randomize(make_m().double(), seed)
    t = _to_torch(m, make_t().double())
    return m, t


def _tnn():
    return torch.nn


def _mlp_case(act: str, *args):
    """Linear(4, 6), the activation class ``act(*args)`` of each framework, Linear(6, 3)."""
    return (lambda: nn.Sequential(nn.Linear(4, 6), getattr(nn, act)(*args), nn.Linear(6, 3)),
            lambda: _tnn().Sequential(_tnn().Linear(4, 6), getattr(_tnn(), act)(*args),
                                      _tnn().Linear(6, 3)),
            (5, 4), True)


LAYER_CASES = {
    # name: (minigrad factory, torch factory, input shape, second order)
    "linear": (lambda: nn.Linear(5, 3), lambda: _tnn().Linear(5, 3), (4, 5), True),
    "linear_3d_input": (lambda: nn.Linear(5, 3), lambda: _tnn().Linear(5, 3), (2, 4, 5), True),
    "linear_no_bias": (lambda: nn.Linear(5, 3, bias=False),
                       lambda: _tnn().Linear(5, 3, bias=False), (4, 5), True),
    "conv2d": (lambda: nn.Conv2d(2, 3, (3, 2), 2, 1), lambda: _tnn().Conv2d(2, 3, (3, 2), 2, 1),
               (2, 2, 7, 6), True),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 4, 2, 1, output_padding=1),
                         lambda: _tnn().ConvTranspose2d(3, 2, 4, 2, 1, output_padding=1),
                         (2, 3, 4, 3), True),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), lambda: _tnn().BatchNorm2d(3), (4, 3, 3, 2), True),
    "batchnorm2d_no_affine": (lambda: nn.BatchNorm2d(3, affine=False),
                              lambda: _tnn().BatchNorm2d(3, affine=False), (4, 3, 3, 2), True),
    "batchnorm1d": (lambda: nn.BatchNorm1d(4), lambda: _tnn().BatchNorm1d(4), (6, 4), True),
    "batchnorm1d_3d": (lambda: nn.BatchNorm1d(4), lambda: _tnn().BatchNorm1d(4), (3, 4, 5), True),
    "batchnorm2d_no_stats": (lambda: nn.BatchNorm2d(3, track_running_stats=False),
                             lambda: _tnn().BatchNorm2d(3, track_running_stats=False),
                             (4, 3, 2, 2), True),
    "instancenorm2d": (lambda: nn.InstanceNorm2d(3), lambda: _tnn().InstanceNorm2d(3),
                       (2, 3, 4, 5), True),
    "instancenorm2d_affine": (lambda: nn.InstanceNorm2d(3, affine=True),
                              lambda: _tnn().InstanceNorm2d(3, affine=True), (2, 3, 4, 5), True),
    "layernorm": (lambda: nn.LayerNorm(6), lambda: _tnn().LayerNorm(6), (4, 6), True),
    "layernorm_2d_shape": (lambda: nn.LayerNorm((4, 5)), lambda: _tnn().LayerNorm((4, 5)),
                           (3, 2, 4, 5), True),
    "layernorm_no_affine": (lambda: nn.LayerNorm(6, elementwise_affine=False),
                            lambda: _tnn().LayerNorm(6, elementwise_affine=False), (4, 6), True),
    "mlp_leaky_relu": _mlp_case("LeakyReLU", 0.2),
    "mlp_relu": _mlp_case("ReLU"),
    "mlp_tanh": _mlp_case("Tanh"),
    "mlp_sigmoid": _mlp_case("Sigmoid"),
    "mlp_softplus": _mlp_case("Softplus"),
    "dcgan_block": (lambda: nn.Sequential(nn.Conv2d(2, 4, 4, 2, 1, bias=False),
                                          nn.BatchNorm2d(4), nn.LeakyReLU(0.2),
                                          nn.Flatten(), nn.Linear(16, 1)),
                    lambda: _tnn().Sequential(_tnn().Conv2d(2, 4, 4, 2, 1, bias=False),
                                              _tnn().BatchNorm2d(4), _tnn().LeakyReLU(0.2),
                                              _tnn().Flatten(), _tnn().Linear(16, 1)),
                    (3, 2, 4, 4), True),
    "generator_block": (lambda: nn.Sequential(nn.ConvTranspose2d(3, 2, 4, 2, 1),
                                              nn.BatchNorm2d(2), nn.ReLU(),
                                              nn.Upsample(scale_factor=2),
                                              nn.ReflectionPad2d(1), nn.Conv2d(2, 1, 3),
                                              nn.Tanh()),
                        lambda: _tnn().Sequential(_tnn().ConvTranspose2d(3, 2, 4, 2, 1),
                                                  _tnn().BatchNorm2d(2), _tnn().ReLU(),
                                                  _tnn().Upsample(scale_factor=2),
                                                  _tnn().ReflectionPad2d(1),
                                                  _tnn().Conv2d(2, 1, 3), _tnn().Tanh()),
                        (2, 3, 2, 3), True),
    "upsample_size": (lambda: nn.Upsample(size=(6, 7)), lambda: _tnn().Upsample(size=(6, 7)),
                      (2, 2, 4, 5), False),
    "upsample_factor_1_5": (lambda: nn.Upsample(scale_factor=1.5),
                            lambda: _tnn().Upsample(scale_factor=1.5), (1, 2, 4, 5), False),
    "upsample_tuple": (lambda: nn.Upsample(scale_factor=(2, 3)),
                       lambda: _tnn().Upsample(scale_factor=(2, 3)), (1, 2, 2, 3), False),
    "reflection_pad": (lambda: nn.ReflectionPad2d((1, 2, 0, 3)),
                       lambda: _tnn().ReflectionPad2d((1, 2, 0, 3)), (2, 1, 4, 5), False),
    "zero_pad": (lambda: nn.ZeroPad2d((1, 2, 0, 3)), lambda: _tnn().ZeroPad2d((1, 2, 0, 3)),
                 (2, 1, 4, 5), False),
    "flatten": (lambda: nn.Flatten(), lambda: _tnn().Flatten(), (2, 3, 4, 5), False),
    "flatten_range": (lambda: nn.Flatten(0, 1), lambda: _tnn().Flatten(0, 1), (2, 3, 4), False),
    "unflatten": (lambda: nn.Unflatten(1, (3, 4)), lambda: _tnn().Unflatten(1, (3, 4)),
                  (2, 12), False),
    "identity": (lambda: nn.Identity(), lambda: _tnn().Identity(), (2, 3), False),
    "softmax": (lambda: nn.Softmax(dim=1), lambda: _tnn().Softmax(dim=1), (3, 5), True),
    "log_softmax": (lambda: nn.LogSoftmax(dim=1), lambda: _tnn().LogSoftmax(dim=1), (3, 5),
                    True),
}


@needs_torch
@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_layer_matches_torch(name):
    make_m, make_t, shape, second = LAYER_CASES[name]
    m, t = _pair(make_m, make_t)
    x_np = _rng(1).standard_normal(shape)
    _parity(m, t, x_np, second_order=second)
    # Layers with state: running statistics after the calls above agree too.
    for (k, v), (kt, vt) in zip(m.state_dict().items(), t.state_dict().items()):
        assert k == kt
        np.testing.assert_allclose(v, vt.numpy(), rtol=1e-9, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4), (2, 3, 2, 2)])
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
def test_softmax_without_dim_takes_torchs_implicit_dim(name, shape):
    """dim=None is dim 0 for 0-, 1- and 3-D inputs and 1 otherwise, with torch's warning (it was
    always -1: a (2, 3, 4) input was normalised along the wrong dim, silently)."""
    x_np = _rng(4).standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice for") as ours:
        y = getattr(nn, name)()(Tensor(x_np))
    with pytest.warns(UserWarning, match="Implicit dimension choice for") as theirs:
        yt = getattr(torch.nn, name)()(torch.from_numpy(x_np))
    assert str(ours[0].message) == str(theirs[0].message)
    assert ours[0].filename == __file__  # points at the module's caller
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-12)


@needs_torch
def test_leaky_relu_second_order_through_kinks():
    """LeakyReLU's mask is constant almost everywhere, so its second derivative vanishes;
    through a following layer the penalty still reaches the first layer's weights."""
    m, t = _pair(lambda: nn.Sequential(nn.Conv2d(1, 3, 3), nn.LeakyReLU(0.1), nn.Conv2d(3, 1, 3)),
                 lambda: _tnn().Sequential(_tnn().Conv2d(1, 3, 3), _tnn().LeakyReLU(0.1),
                                           _tnn().Conv2d(3, 1, 3)))
    _parity(m, t, _rng(2).standard_normal((2, 1, 7, 7)))


@needs_torch
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_batchnorm_running_stats_and_eval_match_torch(momentum, kind):
    if kind == "2d":
        m = nn.BatchNorm2d(3, momentum=momentum).double()
        t = torch.nn.BatchNorm2d(3, momentum=momentum).double()
        shape = (4, 3, 3, 2)
    else:
        m = nn.BatchNorm1d(3, momentum=momentum).double()
        t = torch.nn.BatchNorm1d(3, momentum=momentum).double()
        shape = (5, 3)
    _randomize(m)
    _to_torch(m, t)
    rng = _rng(3)
    for step in range(4):
        x_np = rng.standard_normal(shape) * (step + 1) + step
        np.testing.assert_allclose(m(Tensor(x_np)).data,
                                   t(torch.from_numpy(x_np)).detach().numpy(), rtol=1e-10,
                                   atol=1e-10)
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k], v.numpy(), rtol=1e-12, atol=1e-12)
    assert int(m.num_batches_tracked.item()) == 4
    m.eval(), t.eval()
    x_np = rng.standard_normal(shape)
    _parity(m, t, x_np)
    np.testing.assert_allclose(m.running_mean.data, t.running_mean.numpy(), rtol=1e-12)


@needs_torch
def test_instance_norm_running_stats_match_torch():
    m = nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()
    t = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()
    _to_torch(_randomize(m), t)
    rng = _rng(4)
    for _ in range(3):
        x_np = rng.standard_normal((2, 3, 4, 4)) * 2 + 1
        np.testing.assert_allclose(m(Tensor(x_np)).data,
                                   t(torch.from_numpy(x_np)).detach().numpy(), rtol=1e-10)
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k], v.numpy(), rtol=1e-12)
    m.eval(), t.eval()
    _parity(m, t, rng.standard_normal((2, 3, 4, 4)))


@needs_torch
def test_embedding_matches_torch():
    m = nn.Embedding(10, 4).double()
    t = _to_torch(m, torch.nn.Embedding(10, 4).double())
    idx = np.array([[1, 2, 1], [9, 0, 1]])
    _parity(m, t, idx, integer_input=True, second_order=False)  # linear in the weight
    mp = nn.Embedding(6, 3, padding_idx=2).double()
    assert not mp.weight.data[2].any()
    _randomize(mp)
    tp = _to_torch(mp, torch.nn.Embedding(6, 3, padding_idx=2).double())
    _parity(mp, tp, np.array([2, 3, 2, 5]), integer_input=True, second_order=False)
    with minigrad.detect_anomaly(), pytest.raises(IndexError, match=r"out of range.*\[0, 10\)"):
        m(Tensor(np.array([10])))
    with pytest.raises(IndexError):  # unchecked: numpy's indexing refuses it on CPU
        m(Tensor(np.array([10])))


# ============================================================== float64 gradchecks per layer
GRADCHECK_CASES = {
    "linear": (lambda: nn.Linear(3, 2), (4, 3)),
    "conv2d": (lambda: nn.Conv2d(2, 2, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
               (1, 2, 5, 5)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(2, 2, 3, 2, 1, output_padding=1),
                         (1, 2, 3, 2)),
    "batchnorm1d": (lambda: nn.BatchNorm1d(3), (4, 3)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2)),
    "batchnorm2d_eval": (lambda: nn.BatchNorm2d(2).eval(), (3, 2, 2, 2)),
    "instancenorm2d": (lambda: nn.InstanceNorm2d(2, affine=True), (2, 2, 3, 2)),
    "layernorm": (lambda: nn.LayerNorm((2, 3)), (2, 2, 3)),
    "leaky_relu_mlp": (lambda: nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 1)),
                       (3, 3)),
    "tanh": (lambda: nn.Tanh(), (3, 4)),
    "sigmoid": (lambda: nn.Sigmoid(), (3, 4)),
    "softplus": (lambda: nn.Softplus(beta=2.0), (3, 4)),
    "upsample": (lambda: nn.Upsample(scale_factor=2), (1, 2, 2, 3)),
    "upsample_size": (lambda: nn.Upsample(size=(3, 5)), (1, 1, 2, 3)),
    "reflection_pad": (lambda: nn.ReflectionPad2d((1, 0, 2, 1)), (1, 1, 3, 3)),
    "embedding_like_unflatten": (lambda: nn.Unflatten(1, (2, 3)), (2, 6)),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_layer_gradcheck_gradgradcheck(name):
    make, shape = GRADCHECK_CASES[name]
    minigrad.manual_seed(1)
    m = _randomize(make().double(), 1)
    x = Tensor(_rng(5).standard_normal(shape), requires_grad=True)
    ps = list(m.parameters())
    fn = lambda x, *ps: m(x)  # noqa: E731  (parameters are perturbed in place)
    assert minigrad.gradcheck(fn, [x] + ps)
    assert minigrad.gradgradcheck(fn, [x] + ps, mode="fast")


def test_dropout_gradcheck_with_fixed_mask():
    x = Tensor(_rng(6).standard_normal((4, 5)), requires_grad=True)

    def fn(x):
        minigrad.manual_seed(3)  # the same mask on every evaluation
        return F.dropout(x, 0.4)

    assert minigrad.gradcheck(fn, [x])
    assert minigrad.gradgradcheck(fn, [x])


def test_dropout2d_and_embedding_gradchecks():
    x = Tensor(_rng(9).standard_normal((2, 3, 2, 2)), requires_grad=True)

    def fn(x):
        minigrad.manual_seed(4)
        return F.dropout2d(x, 0.5)

    assert minigrad.gradcheck(fn, [x])
    assert minigrad.gradgradcheck(fn, [x])
    emb = nn.Embedding(5, 3).double()
    idx = np.array([[0, 1, 4], [4, 4, 2]])  # repeated rows: their gradients add up
    assert minigrad.gradcheck(lambda w: F.embedding(idx, w), [emb.weight])
    assert minigrad.gradgradcheck(lambda w: F.embedding(idx, w) ** 2, [emb.weight])


def test_batchnorm_second_derivative_is_exact():
    """d/dx of ||d(sum r * bn(x)) / dx||^2 against central differences: catches a detached
    batch mean or a cached 1/std (tinygrad's and DeZero's first-order-only shortcuts)."""
    m = _randomize(nn.BatchNorm2d(2).double())
    x = Tensor(_rng(7).standard_normal((3, 2, 2, 2)), requires_grad=True)
    r = Tensor(_rng(8).standard_normal((3, 2, 2, 2)))

    def penalty(x):
        g, = minigrad.grad((m(x) * r).sum(), [x], create_graph=True)
        return (g * g).sum()

    assert minigrad.gradcheck(penalty, [x])


BN_SHAPES = [(4, 3), (3, 4, 5), (3, 2, 2, 2)]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_fused_batch_norm_gradcheck_gradgradcheck(shape, affine):
    """The fused training-mode op and its two gradient ops, every input differentiated, and a
    third order: the gradient of a penalty on the gradients (WGAN-GP's pattern)."""
    rng = _rng(11)
    x = Tensor(rng.standard_normal(shape), requires_grad=True)
    w = Tensor(rng.uniform(0.5, 1.5, shape[1]), requires_grad=True)
    b = Tensor(rng.standard_normal(shape[1]), requires_grad=True)
    if affine:
        fn, args = (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)), [x, w, b]
    else:
        fn, args = (lambda x: F.batch_norm(x, None, None, training=True)), [x]
    assert minigrad.gradcheck(fn, args)
    assert minigrad.gradgradcheck(fn, args)
    r = Tensor(rng.standard_normal(shape))

    def penalty(*args):
        y = fn(*args)  # y * y: the incoming gradient of the op depends on the inputs too
        gs = minigrad.grad((y * y * r).sum(), args, create_graph=True)
        return sum((g * g * g).sum() for g in gs)

    assert minigrad.gradgradcheck(penalty, args, mode="fast")


@needs_torch
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_fused_batch_norm_second_order_matches_torch(shape, affine):
    rng = _rng(12)
    x, w, b, r = (rng.standard_normal(shape), rng.uniform(0.5, 1.5, shape[1]),
                  rng.standard_normal(shape[1]), rng.standard_normal(shape))
    mg = [Tensor(a, requires_grad=True) for a in ((x, w, b) if affine else (x,))]
    th = [torch.tensor(a, requires_grad=True) for a in ((x, w, b) if affine else (x,))]
    y = F.batch_norm(mg[0], None, None, *(mg[1:] if affine else (None, None)), training=True)
    ty = torch.nn.functional.batch_norm(th[0], None, None, *(th[1:] if affine else (None, None)),
                                        training=True)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    gs = minigrad.grad((y * Tensor(r)).sum(), mg, create_graph=True)
    tgs = torch.autograd.grad((ty * torch.tensor(r)).sum(), th, create_graph=True)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-9, atol=1e-10)
    # d/d(inputs) of sum(g^2 * s) over every first-order gradient g (b's second derivative is 0)
    ss = [rng.standard_normal(g.shape) for g in gs]
    pen = sum((g * g * Tensor(s)).sum() for g, s in zip(gs, ss))
    tpen = sum((g * g * torch.tensor(s)).sum() for g, s in zip(tgs, ss))
    ggs = minigrad.grad(pen, mg, allow_unused=True)
    tggs = torch.autograd.grad(tpen, th, allow_unused=True)
    for g, tg in zip(ggs, tggs):
        if tg is None:
            assert g is None or not g.numpy().any()
        else:
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-8, atol=1e-9)


# ======================================================================== dropout behaviour
def test_dropout_statistics_and_modes():
    x = minigrad.ones(200_000)
    y = F.dropout(x, 0.3)
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    d = nn.Dropout(0.3)
    x = minigrad.randn(10, 10, requires_grad=True)
    y = d(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, (y.data != 0) / 0.7, rtol=1e-6)
    d.eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    minigrad.manual_seed(5)
    a = F.dropout(x, 0.5).data
    minigrad.manual_seed(5)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).data)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_drops_whole_channels():
    x = minigrad.ones(64, 32, 3, 3)
    y = nn.Dropout2d(0.5)(x).data
    per_channel = y.reshape(64, 32, -1)
    assert (per_channel.min(-1) == per_channel.max(-1)).all()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert abs((y == 0).mean() - 0.5) < 0.05
    d = nn.Dropout2d(0.5).eval()
    assert d(x) is x


# ==================================================================================== init
@needs_torch
def test_calculate_gain_matches_torch():
    for nl, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
                      ("conv_transpose2d", None)]:
        assert init.calculate_gain(nl, param) == pytest.approx(
            torch.nn.init.calculate_gain(nl, param))
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn,expected_std", [
    (lambda t: init.kaiming_uniform_(t), math.sqrt(2 / 1.0001) / math.sqrt(400)),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2) / math.sqrt(400)),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     math.sqrt(2) / math.sqrt(300 * 4)),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(400) / math.sqrt(3)),
    (lambda t: init.xavier_uniform_(t), math.sqrt(2 / (400 + 1200))),
    (lambda t: init.xavier_normal_(t, gain=2.0), 2 * math.sqrt(2 / (400 + 1200))),
    (lambda t: init.normal_(t, 0.0, 0.02), 0.02),
    (lambda t: init.uniform_(t, -1, 1), 1 / math.sqrt(3)),
])
def test_init_distributions(fn, expected_std):
    t = minigrad.zeros(300, 100, 2, 2)  # fan_in 400, fan_out 1200
    out = fn(t)
    assert out is t and t.dtype == np.float32
    assert abs(t.data.mean()) < 3 * expected_std / math.sqrt(t.data.size) + 1e-6
    assert t.data.std() == pytest.approx(expected_std, rel=0.02)


def test_init_constants_and_seed():
    t = minigrad.zeros(3, 4)
    assert (init.ones_(t).data == 1).all() and (init.zeros_(t).data == 0).all()
    assert (init.constant_(t, 2.5).data == 2.5).all()
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(minigrad.zeros(3))
    minigrad.manual_seed(7)
    a = nn.Linear(20, 10).weight.data.copy()
    minigrad.manual_seed(7)
    np.testing.assert_array_equal(a, nn.Linear(20, 10).weight.data)


def test_default_init_bounds_match_torch_formulas():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    conv = nn.Conv2d(16, 32, 5)
    bound = 1 / math.sqrt(16 * 25)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound
    deconv = nn.ConvTranspose2d(16, 32, 5)  # torch's fan_in for (in, out, k, k) is out * k * k
    bound = 1 / math.sqrt(32 * 25)
    assert np.abs(deconv.weight.data).max() <= bound and np.abs(deconv.bias.data).max() <= bound
    assert np.abs(deconv.weight.data).max() > 0.9 * bound
    emb = nn.Embedding(1000, 50)
    assert emb.weight.data.std() == pytest.approx(1.0, rel=0.03)
    bn = nn.BatchNorm2d(5)
    assert (bn.weight.data == 1).all() and (bn.bias.data == 0).all()


# ====================================================================== bad input messages
def test_linear_wrong_features_message():
    lin = nn.Linear(784, 128)
    with pytest.raises(ValueError) as e:
        lin(minigrad.randn(64, 28, 28))
    msg = str(e.value)
    assert "Linear(in_features=784, out_features=128, bias=True)" in msg
    assert "(64, 28, 28)" in msg and "(128, 784)" in msg


def test_conv_wrong_rank_and_channels_messages():
    conv = nn.Conv2d(1, 64, 4, 2, 1)
    with pytest.raises(ValueError, match=r"^Conv2d expects a 4-D input \(N, C, H, W\), got shape "
                                         r"\(3, 28, 28\)$"):
        conv(minigrad.randn(3, 28, 28))
    with pytest.raises(ValueError) as e:
        conv(minigrad.randn(8, 3, 28, 28))
    msg = str(e.value)
    assert repr(conv) in msg and "(8, 3, 28, 28)" in msg and "(64, 1, 4, 4)" in msg
    deconv = nn.ConvTranspose2d(100, 64, 4)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(100, 64.*\(8, 10, 1, 1\).*"
                                         r"\(100, 64, 4, 4\)"):
        deconv(minigrad.randn(8, 10, 1, 1))
    with pytest.raises(ValueError, match="ConvTranspose2d expects a 4-D input"):
        deconv(minigrad.randn(8, 100))
    with pytest.raises(TypeError, match="minigrad Tensor"):
        conv(np.zeros((1, 1, 8, 8)))


def test_batchnorm_messages_and_keyword_only_eps():
    with pytest.raises(TypeError):
        nn.BatchNorm2d(128, 0.8)  # PyTorch-GAN's bug (eps = 0.8) is a TypeError here
    assert nn.BatchNorm2d(128, momentum=0.8).eps == 1e-5
    bn = nn.BatchNorm2d(16)
    with pytest.raises(ValueError, match=r"BatchNorm2d expects a 4-D input \(N, C, H, W\), got "
                                         r"shape \(8, 16\)"):
        bn(minigrad.randn(8, 16))
    with pytest.raises(ValueError, match=r"expects 16 channels .*\(8, 3, 4, 4\)"):
        bn(minigrad.randn(8, 3, 4, 4))
    with pytest.raises(ValueError, match="BatchNorm1d expects a 2-D input"):
        nn.BatchNorm1d(4)(minigrad.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(4)(minigrad.randn(1, 4))
    nn.BatchNorm1d(4).eval()(minigrad.randn(1, 4))  # fine in eval mode


def test_other_layer_messages():
    with pytest.raises(ValueError, match=r"LayerNorm\(\(5,\).*\(3, 4\)"):
        nn.LayerNorm(5)(minigrad.randn(3, 4))
    with pytest.raises(ValueError, match="Upsample expects a 4-D input"):
        nn.Upsample(scale_factor=2)(minigrad.randn(3, 4))
    with pytest.raises(NotImplementedError, match="bilinear"):
        nn.Upsample(scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="cannot be unflattened"):
        nn.Unflatten(1, (3, 5))(minigrad.randn(2, 12))
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"out_channels \(3\) must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(TypeError, match="integers"):
        nn.Embedding(3, 2)(minigrad.randn(4))


def test_upsample_is_a_composite():
    """Nearest upsampling is reshape + expand + reshape: no primitive of its own."""
    x = minigrad.randn(1, 1, 2, 2, requires_grad=True)
    y = nn.Upsample(scale_factor=2)(x)
    np.testing.assert_array_equal(y.data[0, 0], np.repeat(np.repeat(x.data[0, 0], 2, 0), 2, 1))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 4.0)
