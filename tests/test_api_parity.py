"""Behaviours that match PyTorch's: containers, train/eval, attribute assignment, nn.init and
nn.utils in place, clip_grad_norm_'s norm types, optimizer state dicts. Each test states what
torch does; the ones that can compare against torch do where it is installed."""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn


def _names(container):
    return list(container._modules)


# ------------------------------------------------------------------ Sequential del / insert
def test_sequential_del_renumbers_like_torch():
    a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity()
    s = nn.Sequential(a, b, c, d)
    del s[0]
    assert _names(s) == ["0", "1", "2"] and list(s) == [b, c, d]
    assert s[0] is b and s._modules["0"] is b and s.__dict__["0"] is b
    del s[1:]
    assert _names(s) == ["0"] and list(s) == [b]
    assert "1" not in s.__dict__ and "2" not in s.__dict__
    s.append(a)  # numbering goes on from the renumbered keys
    assert _names(s) == ["0", "1"] and list(s) == [b, a]


def test_sequential_insert_negative_index_counts_like_list_insert():
    for index in range(-3, 4):
        mods = [nn.ReLU(), nn.Tanh(), nn.Sigmoid()]
        new = nn.Identity()
        s = nn.Sequential(*mods)
        s.insert(index, new)
        mods.insert(index, new)
        assert list(s) == mods and _names(s) == ["0", "1", "2", "3"], index
    for index in (-4, 4):
        with pytest.raises(IndexError):
            nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid()).insert(index, nn.Identity())


def test_sequential_del_and_insert_match_torch():
    torch = pytest.importorskip("torch")

    def keys_and_types(lib, edit):
        s = lib.Sequential(lib.ReLU(), lib.Tanh(), lib.Sigmoid())
        edit(s, lib)
        return [(k, type(m).__name__) for k, m in s._modules.items()]

    edits = [lambda s, lib: s.__delitem__(0), lambda s, lib: s.__delitem__(-2),
             lambda s, lib: s.__delitem__(slice(0, 2)), lambda s, lib: s.insert(-1, lib.Identity()),
             lambda s, lib: s.insert(-3, lib.Identity()), lambda s, lib: s.insert(3, lib.Identity())]
    for edit in edits:
        assert keys_and_types(nn, edit) == keys_and_types(torch.nn, edit)


# ------------------------------------------------------------------ train / eval
def _recording(lib):
    class Recording(lib.Module):
        """Counts its train() calls and keeps its Dropout child in eval mode, always."""

        def __init__(self):
            super().__init__()
            self.calls = []
            self.drop = lib.Dropout(0.5)

        def train(self, mode=True):
            self.calls.append(mode)
            super().train(mode)
            self.drop.training = False
            return self

    return Recording


def test_train_and_eval_call_each_childs_train():
    rec = _recording(nn)()
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(rec))
    m.eval()
    m.train()
    assert rec.calls == [False, True]
    assert m.training and rec.training and not rec.drop.training  # the override was honoured
    m.train(False)
    assert rec.calls == [False, True, False] and not m[0].training


def test_train_override_matches_torch():
    torch = pytest.importorskip("torch")
    states = []
    for lib in (nn, torch.nn):
        rec = _recording(lib)()
        m = lib.Sequential(lib.Linear(2, 2), lib.Sequential(rec))
        m.eval()
        m.train()
        states.append((rec.calls, [x.training for x in m.modules()]))
    assert states[0] == states[1]


# ------------------------------------------------------------------ attribute assignment
def test_module_assigned_over_a_parameter_is_refused():
    lin = nn.Linear(2, 2)
    weight = lin.weight
    with pytest.raises(TypeError, match=r"cannot assign 'Linear' as parameter 'weight' "
                                        r"\(minigrad.nn.Parameter or None expected\)"):
        lin.weight = nn.Linear(2, 2)
    assert lin.weight is weight and lin._parameters["weight"] is weight
    assert "weight" not in lin._modules
    lin.weight = None  # None is still accepted, as in torch
    assert lin._parameters["weight"] is None


def test_module_assigned_over_a_parameter_matches_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"as parameter 'weight' \(torch.nn.Parameter or None"):
        torch.nn.Linear(2, 2).weight = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"as parameter 'weight' \(minigrad.nn.Parameter or None"):
        nn.Linear(2, 2).weight = nn.Linear(2, 2)


# ------------------------------------------------------------------ nn.init / nn.utils in place
_FILLS = {
    "uniform_": lambda init, t: init.uniform_(t, -1.0, 1.0),
    "normal_": lambda init, t: init.normal_(t, 0.0, 1.0),
    "constant_": lambda init, t: init.constant_(t, 0.3),
    "zeros_": lambda init, t: init.zeros_(t),
    "ones_": lambda init, t: init.ones_(t),
    "xavier_uniform_": lambda init, t: init.xavier_uniform_(t),
    "xavier_normal_": lambda init, t: init.xavier_normal_(t),
    "kaiming_uniform_": lambda init, t: init.kaiming_uniform_(t),
    "kaiming_normal_": lambda init, t: init.kaiming_normal_(t),
}


def _stale_backward_raises(lib, init, fill):
    """Whether a backward through a graph that saved a weight raises after ``fill`` refilled it
    (torch: 'modified by an inplace operation'; minigrad: 'changed in place')."""
    w = lib.nn.Parameter(lib.randn(3, 4))
    loss = (w * w).sum()
    assert fill(init, w) is w
    try:
        loss.backward()
    except RuntimeError as e:
        assert "in place" in str(e) or "inplace" in str(e)
        return True
    return False


@pytest.mark.parametrize("name", sorted(_FILLS))
def test_init_fill_makes_a_stale_backward_raise(name):
    """The gradient would be computed from values the forward never saw."""
    assert _stale_backward_raises(minigrad, nn.init, _FILLS[name])


@pytest.mark.parametrize("name", sorted(_FILLS))
def test_init_fill_and_stale_backward_match_torch(name):
    torch = pytest.importorskip("torch")
    assert _stale_backward_raises(minigrad, nn.init, _FILLS[name]) \
        == _stale_backward_raises(torch, torch.nn.init, _FILLS[name])


def test_clamp_makes_a_stale_backward_raise():
    clamp = lambda utils, w: utils.clamp_([w], -0.01, 0.01) or w  # noqa: E731
    assert _stale_backward_raises(minigrad, nn.utils, clamp)


# ------------------------------------------------------------------ clip_grad_norm_ norm types
def _with_grads(lib, grads):
    params = []
    for g in grads:
        p = lib.nn.Parameter(lib.zeros(*g.shape))
        p.grad = lib.tensor(g.copy())
        params.append(p)
    return params


def _example_grads():
    return [np.array([3.0, -4.0, 0.0, 0.5], np.float32),
            np.array([[0.25, -2.0], [1.0, 1.0]], np.float32), np.zeros(3, np.float32)]


def test_clip_grad_norm_computes_minus_inf_zero_and_negative_norms():
    """torch's total norm is the p-norm of the per-gradient p-norms, for every p: -inf is the
    smallest |g| (0 here), 0 counts the gradients whose norm is not 0, p < 0 is 0 as soon as
    one element is 0."""
    grads = _example_grads()
    for norm_type, total in ((-math.inf, 0.0), (0, 2.0), (0.0, 2.0), (-1, 0.0), ("-inf", 0.0)):
        params = _with_grads(minigrad, grads)
        out = nn.utils.clip_grad_norm_(params, 1.0, norm_type)
        assert out.dtype == np.float32 and out.item() == total, norm_type
        coef = min(1.0, 1.0 / (total + 1e-6))
        for p, g in zip(params, grads):
            np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-6)
    grads = [g + 0.125 for g in grads]  # no zero element
    total = nn.utils.clip_grad_norm_(_with_grads(minigrad, grads), 1.0, -2.0).item()
    norms = [np.sum(np.abs(g.astype(np.float64)) ** -2.0) ** -0.5 for g in grads]
    assert total == pytest.approx(np.sum(np.array(norms) ** -2.0) ** -0.5, rel=1e-5)
    assert total == pytest.approx(np.sum(np.abs(np.concatenate([g.ravel() for g in grads]))
                                         ** -2.0) ** -0.5, rel=1e-5)
    total = nn.utils.clip_grad_norm_(_with_grads(minigrad, grads), 1.0, math.nan)
    assert math.isnan(total.item())


def test_clip_grad_norm_minus_inf_of_an_empty_gradient_raises():
    """A min over nothing has no value; torch raises for -inf and p < 0 as well."""
    for norm_type in (-math.inf, -1.0):
        params = _with_grads(minigrad, [np.ones(2, np.float32), np.ones(0, np.float32)])
        with pytest.raises(RuntimeError, match="empty"):
            nn.utils.clip_grad_norm_(params, 1.0, norm_type)
        np.testing.assert_array_equal(params[0].grad.data, np.ones(2))


@pytest.mark.parametrize("norm_type", [-math.inf, "-inf", -2.5, -1, 0, math.nan])
@pytest.mark.parametrize("zero_element", [False, True])
def test_clip_grad_norm_norm_types_match_torch(norm_type, zero_element):
    torch = pytest.importorskip("torch")
    grads = _example_grads()
    if not zero_element:
        grads = [g + 0.125 for g in grads]
    ours, theirs = _with_grads(minigrad, grads), _with_grads(torch, grads)
    total = nn.utils.clip_grad_norm_(ours, 1.0, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
    np.testing.assert_allclose(total.item(), t_total.item(), rtol=1e-5)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ optimizer state dicts
def _adam_with_state():
    p = nn.Parameter(minigrad.ones(2))
    opt = minigrad.optim.Adam([p], lr=0.1, weight_decay=0.5)
    p.grad = minigrad.ones(2)
    opt.step()
    return p, opt


def test_adam_refuses_a_state_dict_with_decoupled_weight_decay():
    """An AdamW state (torch's Adam/AdamW save decoupled_weight_decay=True) would be trained
    with Adam's L2 decay instead: minigrad's Adam has no decoupled decay, so it refuses."""
    _, source = _adam_with_state()
    state = source.state_dict()
    state["param_groups"][0]["decoupled_weight_decay"] = True
    p, opt = _adam_with_state()
    before = opt.state_dict()
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        opt.load_state_dict(state)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"] and opt.state[p]["step"] == 1
    state["param_groups"][0]["decoupled_weight_decay"] = False  # torch's Adam: loads
    opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.1


def test_adam_refuses_torch_adamw_state_dict():
    torch = pytest.importorskip("torch")
    tp = torch.nn.Parameter(torch.ones(2))
    adamw = torch.optim.AdamW([tp], lr=0.1)
    tp.grad = torch.ones(2)
    adamw.step()
    p, opt = _adam_with_state()
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        opt.load_state_dict(adamw.state_dict())
    # torch's own Adam takes the flag and becomes AdamW; minigrad's cannot, so it refuses.
    t_adam = torch.optim.Adam([torch.nn.Parameter(torch.ones(2))])
    t_adam.load_state_dict(adamw.state_dict())
    assert t_adam.param_groups[0]["decoupled_weight_decay"] is True


# ------------------------------------------------------------------ containers refuse non-Modules
@pytest.mark.parametrize("kind", ["Sequential", "ModuleList"])
def test_containers_refuse_a_non_module_before_changing_anything(kind):
    """Every way in raises a TypeError naming the bad type and leaves the container as it was
    (torch's extend appends the good modules before the bad one, and its inserts raise
    AssertionError or nothing at all)."""
    a, b = nn.ReLU(), nn.Tanh()
    make = (lambda: nn.Sequential(a, b)) if kind == "Sequential" else \
        (lambda: nn.ModuleList([a, b]))
    edits = {"append": lambda c: c.append(3), "extend": lambda c: c.extend([nn.Sigmoid(), 3]),
             "insert": lambda c: c.insert(0, 3), "insert at end": lambda c: c.insert(2, 3),
             "setitem": lambda c: c.__setitem__(0, 3)}
    if kind == "ModuleList":
        edits["+="] = lambda c: c.__iadd__([nn.Sigmoid(), 3])
    for what, edit in edits.items():
        c = make()
        with pytest.raises(TypeError, match=r"\bint\b"):
            edit(c)
        assert _names(c) == ["0", "1"] and list(c) == [a, b], what
        assert "2" not in c.__dict__, what
    with pytest.raises(TypeError, match=r"\bint\b"):
        nn.Sequential(a, 3) if kind == "Sequential" else nn.ModuleList([a, 3])


# ------------------------------------------------------------------ nn.init argument checks
def test_init_uniform_and_normal_refuse_bad_ranges():
    """torch raises for from > to and for std < 0 (nan included); the message names the
    arguments, and the tensor is left as it was."""
    t = minigrad.ones(2, 3)
    for a, b in ((2.0, 1.0), (math.nan, 1.0), (0.0, math.nan)):
        with pytest.raises(ValueError, match=r"uniform_.*a <= b.*a=.*b="):
            nn.init.uniform_(t, a, b)
    for std in (-1.0, -1e-9, math.nan):
        with pytest.raises(ValueError, match=r"normal_.*std >= 0.*std="):
            nn.init.normal_(t, 0.0, std)
    with pytest.raises(ValueError, match=r"normal_.*std="):
        nn.init.xavier_normal_(t, gain=-1.0)
    with pytest.raises(ValueError, match=r"uniform_.*a <= b"):
        nn.init.xavier_uniform_(t, gain=-1.0)
    np.testing.assert_array_equal(t.data, np.ones((2, 3)))
    assert nn.init.uniform_(t, 0.5, 0.5) is t and (t.data == 0.5).all()  # a == b: a constant
    assert nn.init.normal_(t, 0.25, 0.0) is t and (t.data == 0.25).all()  # std 0: the mean


def test_init_bad_ranges_raise_in_torch_too():
    torch = pytest.importorskip("torch")
    refused = []
    for lib, init, t in ((minigrad, nn.init, minigrad.ones(2, 3)),
                         (torch, torch.nn.init, torch.ones(2, 3))):
        outcome = []
        for fill in (lambda: init.uniform_(t, 2.0, 1.0), lambda: init.normal_(t, 0.0, -1.0),
                     lambda: init.normal_(t, 0.0, math.nan),
                     lambda: init.xavier_normal_(t, gain=-1.0)):
            try:
                fill()
                outcome.append(False)
            except (ValueError, RuntimeError):  # torch raises RuntimeError, minigrad ValueError
                outcome.append(True)
        refused.append(outcome)
    assert refused[0] == refused[1] == [True] * 4
