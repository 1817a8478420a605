"""Optimizers against torch.optim (trajectories, state dicts), their bookkeeping, and grad clipping."""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad
from minigrad import optim
from minigrad.nn import utils as nn_utils
from minigrad.utils import io

try:  # torch is the oracle for the parity tests; the other tests run without it
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

SHAPES = [(5, 8), (8,), (8, 3), (3,)]


# ----------------------------------------------------------------------------- problem
def _init_arrays(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * 0.5).astype(dtype) for s in SHAPES]


def _data(dtype=np.float32):
    rng = np.random.default_rng(123)
    return (rng.standard_normal((16, 5)).astype(dtype), rng.standard_normal((16, 3)).astype(dtype))


def _mg_params(arrays):
    return [minigrad.tensor(a.copy(), requires_grad=True) for a in arrays]


def _mg_loss(params, X, Y):
    """A small MLP regression loss plus a quadratic term: L = mean((tanh(XW1+b1)W2+b2-Y)^2) + .."""
    W1, b1, W2, b2 = params
    h = (minigrad.tensor(X) @ W1 + b1).tanh()
    out = h @ W2 + b2
    return ((out - minigrad.tensor(Y)) ** 2).mean() + 0.05 * (W2 * W2).sum()


def _torch_loss(params, X, Y):
    W1, b1, W2, b2 = params
    h = torch.tanh(torch.from_numpy(X) @ W1 + b1)
    out = h @ W2 + b2
    return ((out - torch.from_numpy(Y)) ** 2).mean() + 0.05 * (W2 * W2).sum()


def _mg_step(opt, params, X, Y):
    opt.zero_grad()
    loss = _mg_loss(params, X, Y)
    loss.backward()
    opt.step()
    return loss.item()


def _torch_step(opt, params, X, Y):
    opt.zero_grad()
    _torch_loss(params, X, Y).backward()
    opt.step()


def _step_both_and_compare(opt, params, topt, tparams, steps):
    """``steps`` steps of a minigrad and a torch optimizer on the same problem, after which
    their parameters agree."""
    X, Y = _data()
    for _ in range(steps):
        _mg_step(opt, params, X, Y)
        _torch_step(topt, tparams, X, Y)
    for a, b in zip(params, tparams):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=2e-5, atol=2e-6)


def _run_mg(opt_cls, kwargs, steps=20, arrays=None):
    X, Y = _data()
    params = _mg_params(arrays if arrays is not None else _init_arrays())
    opt = opt_cls(params, **kwargs)
    traj = []
    for _ in range(steps):
        _mg_step(opt, params, X, Y)
        traj.append([p.data.copy() for p in params])
    return traj, opt


def _run_torch(opt_cls, kwargs, steps=20):
    X, Y = _data()
    params = [torch.tensor(a, requires_grad=True) for a in _init_arrays()]
    opt = opt_cls(params, **kwargs)
    traj = []
    for _ in range(steps):
        _torch_step(opt, params, X, Y)
        traj.append([p.detach().numpy().copy() for p in params])
    return traj, opt


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=2e-3, betas=(0.5, 0.999), amsgrad=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.0, 0.9), maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=5e-3, maximize=True)),
]


def _cfg_id(cfg):
    name, kw = cfg
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@needs_torch
@pytest.mark.parametrize("cfg", CONFIGS, ids=[_cfg_id(c) for c in CONFIGS])
def test_trajectory_matches_torch(cfg, kernels):
    """20 steps from the same start, each library computing its own loss and gradients."""
    name, kwargs = cfg
    ours, mg_opt = _run_mg(getattr(optim, name), kwargs)
    theirs, t_opt = _run_torch(getattr(torch.optim, name), kwargs)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for pa, pb in zip(a, b):
            assert pa.dtype == np.float32
            np.testing.assert_allclose(pa, pb, rtol=2e-5, atol=2e-6, err_msg=f"step {step}")

    # Same state names and (close) values as torch's state dict.
    sd, tsd = mg_opt.state_dict(), t_opt.state_dict()
    stateful = name != "SGD" or kwargs.get("momentum", 0) != 0
    assert sorted(sd["state"]) == sorted(tsd["state"]) == ([0, 1, 2, 3] if stateful else [])
    for i in sd["state"]:
        assert set(sd["state"][i]) == set(tsd["state"][i])
        for key, value in sd["state"][i].items():
            if key == "step":
                assert value == 20 and float(tsd["state"][i][key]) == 20
            else:
                assert isinstance(value, np.ndarray) and value.dtype == np.float32
                np.testing.assert_allclose(value, tsd["state"][i][key].numpy(), rtol=1e-4,
                                           atol=1e-6)
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]
    for key, value in sd["param_groups"][0].items():
        assert tsd["param_groups"][0][key] == value, key


@needs_torch
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_defaults_match_torch(name):
    ours = getattr(optim, name)([minigrad.zeros(2, requires_grad=True)])
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
    for key, value in ours.defaults.items():
        assert theirs.defaults[key] == value, key


@needs_torch
def test_param_groups_with_different_lr():
    arrays = _init_arrays()
    p = _mg_params(arrays)
    opt = optim.Adam([{"params": p[:2], "lr": 0.05}, {"params": p[2:]}], lr=0.005, betas=(0.8, 0.99))
    tp = [torch.tensor(a, requires_grad=True) for a in arrays]
    topt = torch.optim.Adam([{"params": tp[:2], "lr": 0.05}, {"params": tp[2:]}], lr=0.005,
                            betas=(0.8, 0.99))
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.005]
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)
    _step_both_and_compare(opt, p, topt, tp, steps=20)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]


def test_add_param_group_and_lr_change():
    a = minigrad.tensor([1.0, 2.0], requires_grad=True)
    b = minigrad.tensor([3.0], requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 1.0})
    assert opt.param_groups[1]["momentum"] == 0 and opt.param_groups[1]["lr"] == 1.0
    (a.sum() + b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.data, [0.9, 1.9])
    np.testing.assert_allclose(b.data, [2.0])
    opt.param_groups[1]["lr"] = 0.5  # schedulers edit the group in place
    opt.step()
    np.testing.assert_allclose(b.data, [1.5])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_constructor_errors():
    x = minigrad.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([])
    with pytest.raises(TypeError, match="set"):
        optim.SGD({x})
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(x)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2])
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([x, x])
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([x], momentum=0, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.RMSprop([x], lr=-1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    (dict(betas=(1.0, 0.999)), r"beta parameter at index 0: 1.0 \(must be in \[0, 1\)\)"),
    (dict(betas=(0.9, -0.1)), "beta parameter at index 1: -0.1"),
    (dict(betas=(0.9,)), "betas must be a pair"),
    (dict(eps=-1.0), "Invalid epsilon value"),
    (dict(weight_decay=-0.1), "Invalid weight_decay value"),
])
def test_adam_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        optim.Adam([minigrad.zeros(2, requires_grad=True)], **kwargs)


def test_adam_validates_edited_group_at_step():
    x = minigrad.zeros(2, requires_grad=True)
    opt = optim.Adam([x])
    x.sum().backward()
    opt.param_groups[0]["betas"] = (0.9, 1.5)
    with pytest.raises(ValueError, match="index 1"):
        opt.step()


# ------------------------------------------------------------------------- bookkeeping
def test_zero_grad_semantics():
    x = minigrad.randn(3, 2, requires_grad=True)
    y = minigrad.randn(4, requires_grad=True)  # never gets a grad
    opt = optim.SGD([x, y], lr=0.1)
    (x * x).sum().backward()
    old = x.grad
    old_data = old.data.copy()
    opt.zero_grad(set_to_none=False)
    assert x.grad is not None and x.grad.shape == (3, 2) and x.grad.dtype == np.float32
    assert not x.grad.data.any()
    np.testing.assert_array_equal(old.data, old_data)  # a grad someone kept is not clobbered
    assert y.grad is None
    opt.zero_grad()
    assert x.grad is None
    # Accumulation after zeroing: exactly one backward's worth.
    opt.zero_grad(set_to_none=False)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)),
    ("Adam", dict(weight_decay=0.1, amsgrad=True, maximize=True)),
    ("RMSprop", dict(weight_decay=0.1, centered=True, momentum=0.5, maximize=True)),
])
def test_step_never_modifies_grad(name, kwargs, kernels):
    x = minigrad.randn(4, 3, requires_grad=True)
    opt = getattr(optim, name)([x], **kwargs)
    for _ in range(3):
        (x * x).sum().backward()
        g = x.grad
        before = g.data.copy()
        opt.step()
        assert x.grad is g
        np.testing.assert_array_equal(g.data, before)
        opt.zero_grad()


def test_parameter_without_grad_is_skipped():
    a = minigrad.randn(3, requires_grad=True)
    b = minigrad.randn(3, requires_grad=True)
    b0 = b.data.copy()
    for opt in (optim.SGD([a, b], lr=0.1, momentum=0.9, weight_decay=0.1),
                optim.Adam([a, b], weight_decay=0.1), optim.RMSprop([a, b], weight_decay=0.1)):
        opt.zero_grad()
        (a * a).sum().backward()
        opt.step()
        np.testing.assert_array_equal(b.data, b0)
        assert b not in opt.state and a in opt.state
        assert list(opt.state_dict()["state"]) == [0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(momentum=0.9)), ("Adam", dict(amsgrad=True)),
    ("RMSprop", dict(centered=True, momentum=0.9)),
])
def test_state_dtype_follows_parameter(dtype, name, kwargs, kernels):
    x = minigrad.randn(5, 2, dtype=dtype, requires_grad=True)
    opt = getattr(optim, name)([x], **kwargs)
    for _ in range(2):
        opt.zero_grad()
        (x * x).sum().backward()
        opt.step()
    assert x.dtype == dtype
    arrays = {k: v for k, v in opt.state[x].items() if k != "step"}
    assert arrays and all(v.dtype == dtype and v.shape == (5, 2) for v in arrays.values())
    loaded = getattr(optim, name)([x], **kwargs)
    sd = opt.state_dict()
    loaded.load_state_dict(sd)
    assert all(v.dtype == dtype for k, v in loaded.state[x].items() if k != "step")


def test_closure():
    x = minigrad.tensor([3.0], requires_grad=True)
    opt = optim.SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with minigrad.no_grad():  # the closure gets grad mode back
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(x.data, [1.5])


# --------------------------------------------------------------------------- state dicts
STATEFUL = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("through_file", [False, True], ids=["memory", "file"])
@pytest.mark.parametrize("name, kwargs", STATEFUL, ids=[s[0] for s in STATEFUL])
def test_state_dict_round_trip(name, kwargs, through_file, tmp_path):
    """Save after 10 steps, then continue in a new optimizer: the same trajectory, bit for bit."""
    X, Y = _data()
    cls = getattr(optim, name)
    params = _mg_params(_init_arrays())
    opt = cls(params, **kwargs)
    for _ in range(10):
        _mg_step(opt, params, X, Y)
    saved_params = [p.data.copy() for p in params]
    sd = opt.state_dict()
    if through_file:
        io.save({"params": saved_params, "optim": sd}, tmp_path / "opt.npz")
    expected = [_mg_step(opt, params, X, Y) for _ in range(10)]
    expected_params = [p.data.copy() for p in params]

    if through_file:
        ckpt = io.load(tmp_path / "opt.npz")
        saved_params, sd = ckpt["params"], ckpt["optim"]
    params2 = _mg_params(saved_params)
    opt2 = cls(params2, lr=123.0)  # the hyperparameters come from the state dict
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    got = [_mg_step(opt2, params2, X, Y) for _ in range(10)]
    assert got == expected
    for a, b in zip(params2, expected_params):
        np.testing.assert_array_equal(a.data, b)


def test_state_dict_format_and_snapshot():
    X, Y = _data()
    params = _mg_params(_init_arrays())
    opt = optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}])
    _mg_step(opt, params, X, Y)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2, 3]]
    assert sd["state"][0]["step"] == 1 and isinstance(sd["state"][0]["step"], int)
    assert isinstance(sd["state"][2]["exp_avg"], np.ndarray)
    before = sd["state"][0]["exp_avg"].copy()
    _mg_step(opt, params, X, Y)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)  # a snapshot
    # Loading does not alias the caller's arrays either.
    opt.load_state_dict(sd)
    _mg_step(opt, params, X, Y)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)


def test_load_state_dict_errors():
    a, b = minigrad.zeros(2, requires_grad=True), minigrad.zeros(3, requires_grad=True)
    sd = optim.SGD([a, b]).state_dict()
    with pytest.raises(ValueError, match="parameter group"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.SGD([a]).load_state_dict({"state": {}})
    opt = optim.Adam([a, b])
    (a.sum() + b.sum()).backward()
    opt.step()
    bad = opt.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="shape"):
        optim.Adam([a, b]).load_state_dict(bad)


@needs_torch
def test_load_torch_state_dict():
    """A torch.optim.Adam state dict (tensors, float 'step') loads and training continues alike."""
    X, Y = _data()
    tp = [torch.tensor(a, requires_grad=True) for a in _init_arrays()]
    topt = torch.optim.Adam(tp, lr=0.01, amsgrad=True)
    for _ in range(5):
        _torch_step(topt, tp, X, Y)
    params = _mg_params([p.detach().numpy() for p in tp])
    opt = optim.Adam(params)
    opt.load_state_dict(topt.state_dict())
    assert opt.state[params[0]]["step"] == 5 and opt.param_groups[0]["amsgrad"] is True
    _step_both_and_compare(opt, params, topt, tp, steps=5)


def test_large_step_is_fast():
    """One kernel call per parameter: a 2.9M-parameter Adam step takes milliseconds, not seconds."""
    import time
    params = [minigrad.zeros(784 * 1024, requires_grad=True), minigrad.zeros(1024 * 1024,
                                                                           requires_grad=True),
              minigrad.zeros(1024 * 1024, requires_grad=True)]
    for p in params:
        p.grad = minigrad.ones(p.shape)
    opt = optim.Adam(params)
    opt.step()  # allocates state, compiles/loads numba
    t0 = time.perf_counter()
    for _ in range(3):
        opt.step()
    assert (time.perf_counter() - t0) / 3 < 0.5


# ------------------------------------------------------------------------- clipping
def _grads_pair(seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (3,), (2, 2, 2)]]
    grads = [rng.standard_normal(a.shape).astype(np.float32) for a in arrays]
    ours = [minigrad.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    for p, t, g in zip(ours, theirs, grads):
        p.grad = minigrad.tensor(g.copy())
        t.grad = torch.tensor(g.copy())
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _grads_pair()
    old = [p.grad for p in ours]
    old_data = [g.data.copy() for g in old]
    total = nn_utils.clip_grad_norm_(ours, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, minigrad.Tensor) and total.shape == () and total.dtype == np.float32
    np.testing.assert_allclose(total.item(), t_total.item(), rtol=1e-5)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-5, atol=1e-7)
    for g, d in zip(old, old_data):  # replaced, never scaled in place
        np.testing.assert_array_equal(g.data, d)
    if max_norm < 1:
        assert all(p.grad is not g for p, g in zip(ours, old))


def test_clip_grad_norm_edge_cases():
    x = minigrad.zeros(3, requires_grad=True)
    y = minigrad.zeros(2, requires_grad=True)
    assert nn_utils.clip_grad_norm_([x, y], 1.0).item() == 0.0  # no grads at all
    x.grad = minigrad.tensor([3.0, 4.0, 0.0])
    total = nn_utils.clip_grad_norm_(x, 1.0)  # a single Tensor works; y (no grad) is ignored
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(x.grad.data, [0.6, 0.8, 0.0], rtol=1e-5)
    x.grad = minigrad.tensor([math.inf, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn_utils.clip_grad_norm_([x], 1.0, error_if_nonfinite=True)
    total = nn_utils.clip_grad_norm_([x], 1.0)
    assert math.isinf(total.item())


@needs_torch
def test_clip_grad_value_matches_torch():
    ours, theirs = _grads_pair(1)
    old = [p.grad for p in ours]
    old_data = [g.data.copy() for g in old]
    nn_utils.clip_grad_value_(ours, 0.3)
    torch.nn.utils.clip_grad_value_(theirs, 0.3)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())
        assert p.grad.dtype == np.float32
    for g, d in zip(old, old_data):
        np.testing.assert_array_equal(g.data, d)


def test_clamp_weights_in_place_after_step():
    """WGAN's critic: clamp every weight into [-c, c] after the optimizer step."""
    w = minigrad.tensor(np.linspace(-1, 1, 7), requires_grad=True, dtype=np.float32)
    data = w.data
    opt = optim.RMSprop([w], lr=5e-5)
    (w * w).sum().backward()
    opt.step()
    nn_utils.clamp_([w], -0.01, 0.01)
    assert w.data is data and w.dtype == np.float32  # in place: the optimizer's view stays valid
    assert np.abs(w.data).max() <= 0.01 and w.data[3] == 0
    nn_utils.clamp_(w, None, -0.005)
    assert w.data.max() <= -0.005
    with pytest.raises(ValueError):
        nn_utils.clamp_([w], 1.0, -1.0)
