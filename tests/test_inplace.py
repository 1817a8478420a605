"""In-place changes and the graph: a backward that would read values changed after its forward
raises (PyTorch's "modified by an inplace operation"), and the in-place methods refuse to run on
a tensor that requires grad while grad mode is on."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim

STALE = "changed in place after the forward"


# torch's in-place methods (minigrad.functional): the same rule as zero_, fill_ and copy_
INPLACE_OPS = [
    lambda t: t.add_(mg.tensor([1.0, 2.0, 3.0]), alpha=2),
    lambda t: t.sub_(0.5),
    lambda t: t.mul_(mg.tensor(3.0)),
    lambda t: t.div_(2),
    lambda t: t.clamp_(-0.1, 0.1),
    lambda t: t.clip_(max=0.0),
    lambda t: t.lerp_(mg.zeros(3), 0.25),
    lambda t: t.masked_fill_(mg.tensor([True, False, True]), 0.0),
    lambda t: t.uniform_(-1, 1),
    lambda t: t.normal_(0.0, 2.0),
]


@pytest.mark.parametrize("change", [
    lambda t: t.zero_(),
    lambda t: t.fill_(2.0),
    lambda t: t.copy_(np.ones(3, np.float32)),
    lambda t: t.__setitem__(0, 5.0),
] + INPLACE_OPS)
def test_inplace_method_on_a_tensor_that_requires_grad_raises_in_grad_mode(change):
    x = mg.randn(3, requires_grad=True)
    y = x.exp()
    for t in (x, y):
        before = t.data.copy()
        with pytest.raises(RuntimeError, match="requires grad would corrupt its graph"):
            change(t)
        np.testing.assert_array_equal(t.data, before)  # nothing was written


@pytest.mark.parametrize("change", [
    lambda t: t.zero_(),
    lambda t: t.fill_(2.0),
    lambda t: t.copy_(np.ones(3, np.float32)),
    lambda t: t.__setitem__(0, 5.0),
    lambda t: t.detach().fill_(0.5),  # same data: counts as a change of t
] + INPLACE_OPS + [lambda t: t.detach().lerp_(mg.ones(3), 0.5)])
def test_backward_through_a_tensor_changed_after_its_forward_raises(change):
    x = mg.randn(3, requires_grad=True)
    y = x.exp()          # Exp's backward reads its output y
    loss = (y * 2).sum()
    with mg.no_grad():
        change(y)
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()
    assert x.grad is None


def test_a_change_before_the_forward_or_after_the_backward_is_fine():
    x = mg.randn(3, requires_grad=True)
    with mg.no_grad():
        x.fill_(0.5)                     # before the forward
    loss = x.exp().sum()
    other = mg.randn(3)
    other.zero_()                        # a tensor the graph never saw
    loss.backward()
    np.testing.assert_allclose(x.grad.data, np.exp(0.5 * np.ones(3)), rtol=1e-6)
    with mg.no_grad():
        x.zero_()                        # after: the graph is gone
    assert x.data.sum() == 0


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.1),
])
def test_optimizer_step_between_forward_and_backward_raises(make_opt):
    """The classic GAN mistake: G's loss computed through D before D's step, backpropagated after
    it, would mix D's old activations with its new weights."""
    d = nn.Linear(4, 1)
    opt_d = make_opt(d.parameters())
    fake = mg.randn(8, 4, requires_grad=True)
    d_loss = d(fake.detach()).mean()
    g_loss = -d(fake).mean()             # before D's step
    d_loss.backward()
    opt_d.step()
    with pytest.raises(RuntimeError, match=STALE):
        g_loss.backward()
    # the right order: G's loss from a new D(fake), after the step
    (-d(fake).mean()).backward()
    assert fake.grad is not None


def test_load_state_dict_between_forward_and_backward_raises():
    m = nn.Linear(3, 2)
    loss = m(mg.randn(5, 3)).sum()
    m.load_state_dict(nn.Linear(3, 2).state_dict())
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


def test_a_training_loop_with_optimizer_steps_runs_unchanged():
    """Forward, backward, step, repeated: each graph is recorded after the last step, so the
    check never fires, and the result equals the same loop written on raw arrays."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 1)).astype(np.float32)
    xs = rng.standard_normal((4, 6, 3)).astype(np.float32)
    w = mg.tensor(w0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    ref = w0.copy()
    for x in xs:
        opt.zero_grad()
        ((mg.tensor(x) @ w) ** 2).mean().backward()
        opt.step()
        ref -= 0.1 * (2 * x.T @ (x @ ref) / len(x))
    np.testing.assert_allclose(w.data, ref, rtol=1e-5)


def test_augmented_assignment_under_no_grad_changes_the_parameter_itself():
    """A hand-written SGD step: `p -= lr * p.grad` must change the model's parameter (before,
    Python rebound the loop variable to a new tensor and the model never changed)."""
    m = nn.Linear(2, 1)
    w0, b0 = m.weight.data.copy(), m.bias.data.copy()
    m(mg.tensor(np.ones((3, 2), np.float32))).sum().backward()
    with mg.no_grad():
        for p in m.parameters():
            p -= 0.1 * p.grad
    np.testing.assert_allclose(m.weight.data, w0 - 0.1 * 3, rtol=1e-6)
    np.testing.assert_allclose(m.bias.data, b0 - 0.1 * 3, rtol=1e-6)
    t = mg.tensor(np.ones(3, np.float32))
    alias = t
    t += 1
    t *= 3
    t /= 2
    t -= mg.tensor(np.ones(3, np.float32))
    assert t is alias
    np.testing.assert_array_equal(alias.data, np.full(3, 2.0, np.float32))


def test_augmented_assignment_in_grad_mode():
    """A parameter (a leaf that requires grad) refuses, as in PyTorch; a tensor computed by ops
    becomes a new node (t = t + v), so its gradient is right."""
    w = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="under minigrad.no_grad"):
        w += 1
    x = mg.randn(3, requires_grad=True)
    y = x * 2
    y += x
    y *= 3
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full(3, 9.0), rtol=1e-6)


def test_augmented_assignment_on_a_tensor_a_graph_saved_raises_at_backward():
    x = mg.randn(3, requires_grad=True)
    y = x.exp()
    loss = y.sum()
    with mg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


def test_a_detached_tensor_keeps_no_graph_alive_and_pickles():
    """detach() remembers its source weakly (for the in-place check): keeping detached values
    (a log of losses, a list of samples) must not keep their graphs, and they copy and pickle."""
    import copy
    import gc
    import pickle
    import weakref

    x = mg.randn(3, requires_grad=True)
    y = x.exp() * 2
    kept = y.detach()
    alive = weakref.ref(y)
    del y
    gc.collect()
    assert alive() is None
    kept.fill_(1.0)  # the source is gone: nothing to mark, no error
    for twin in (copy.deepcopy(kept), pickle.loads(pickle.dumps(kept))):
        np.testing.assert_array_equal(twin.data, kept.data)


# Views share their base's record of changes, as PyTorch's views share its version counter: an op
# whose output is a view of an input's memory (reshape, indexing, transpose) links the two.
@pytest.mark.parametrize("saved, change", [
    (lambda b: b.reshape(4), lambda b: b.zero_()),                  # the base, after a view
    (lambda b: b, lambda b: b[0].fill_(3.0)),                        # a view, after the base
    (lambda b: b.reshape(4), lambda b: b.T.fill_(3.0)),              # a sibling view
    (lambda b: b.reshape(4)[1:], lambda b: b.__setitem__((1, 1), 7.0)),  # a view of a view
    (lambda b: b.T.detach(), lambda b: b.reshape(4).copy_(np.ones(4, np.float32))),
])
def test_a_change_through_another_view_of_the_same_memory_raises(saved, change):
    b = mg.randn(2, 2)
    s = saved(b)
    w = mg.randn(*s.shape, requires_grad=True)
    loss = (s * w).sum()  # Mul's backward reads s for w's gradient
    with mg.no_grad():
        change(b)
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


def test_a_copy_is_not_a_view_and_its_source_may_change():
    b = mg.randn(2, 2)
    w = mg.randn(4, requires_grad=True)
    for s in (b.T.reshape(4), b.clone().reshape(4), b * 1.0):  # new memory
        s = s.reshape(4)
        loss = (s * w).sum()
        expected = s.data.copy()
        b.fill_(9.0)
        loss.backward()
        np.testing.assert_array_equal(w.grad.data, expected)
        w.grad = None


def test_a_view_keeps_no_graph_alive():
    import gc
    import weakref

    x = mg.randn(2, 3, requires_grad=True)
    y = x.exp() * 2
    with mg.no_grad():
        v = y.reshape(6)  # shares y's memory
    alive = weakref.ref(y)
    del y
    gc.collect()
    assert alive() is None
    v.fill_(1.0)  # nothing left that saved it: no error


# ------------------------------------------------- torch's in-place methods, against torch
def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name,args,kw", [
    ("add_", ([1.0, -2.0, 0.5],), {}),
    ("add_", ([1.0, -2.0, 0.5],), {"alpha": -0.5}),
    ("add_", (2,), {}),
    ("sub_", ([[1.0, -2.0, 0.5]],), {"alpha": 3}),  # a 1 x 3 operand into a 1 x 3 tensor
    ("sub_", (0.25,), {}),
    ("mul_", ([1.0, -2.0, 0.5],), {}),
    ("mul_", (-1.5,), {}),
    ("div_", ([4.0, -2.0, 0.5],), {}),
    ("div_", (3,), {}),
    ("clamp_", (-0.2, 0.3), {}),
    ("clamp_", (), {"min": 0.0}),
    ("clip_", (), {"max": 0.1}),
    ("lerp_", ([1.0, 1.0, -1.0], 0.25), {}),
    ("lerp_", ([1.0, 1.0, -1.0], 0.9), {}),
    ("masked_fill_", ("mask", -1.0), {}),
])
def test_inplace_methods_match_torch_and_return_self(name, args, kw):
    torch = _torch()
    start = np.array([[0.5, -0.25, 2.0]], np.float32)

    def make(L, a):
        if isinstance(a, list):
            return L.tensor(np.broadcast_to(np.array(a, np.float32), (1, 3)) if name == "sub_"
                            else np.array(a, np.float32))
        if a == "mask":
            return L.tensor([True, False, True])
        return a

    x, xt = mg.tensor(start), torch.tensor(start)
    out = getattr(x, name)(*[make(mg, a) for a in args], **kw)
    out_t = getattr(xt, name)(*[make(torch, a) for a in args], **kw)
    assert out is x and out_t is xt
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.numpy(), xt.numpy(), rtol=1e-6)


def test_inplace_methods_change_a_parameter_under_no_grad():
    """The EMA of a generator's weights, as written for torch."""
    torch = _torch()
    w0, p0 = np.array([1.0, 2.0], np.float32), np.array([3.0, -1.0], np.float32)
    ema, p = mg.nn.Parameter(mg.tensor(w0)), mg.nn.Parameter(mg.tensor(p0))
    ema_t, p_t = torch.nn.Parameter(torch.tensor(w0)), torch.nn.Parameter(torch.tensor(p0))
    with mg.no_grad():
        ema.lerp_(p, 1 - 0.999)
        ema.mul_(2).add_(p, alpha=0.5)
    with torch.no_grad():
        ema_t.lerp_(p_t, 1 - 0.999)
        ema_t.mul_(2).add_(p_t, alpha=0.5)
    np.testing.assert_allclose(ema.data, ema_t.detach().numpy(), rtol=1e-6)
    assert ema.requires_grad


@pytest.mark.parametrize("call", [
    lambda L: L.ones(3).add_(L.ones(2, 3)),                  # would need a bigger tensor
    lambda L: L.tensor([1, 2]).div_(2),                      # float into int64
    lambda L: L.tensor([1, 2]).add_(0.5),
    lambda L: L.tensor([1, 2]).uniform_(),
    lambda L: L.ones(3).masked_fill_(L.tensor([1, 0, 1]), 0.0),
    lambda L: L.ones(3).uniform_(1.0, -1.0),
    lambda L: L.ones(3).normal_(0.0, -1.0),
])
def test_inplace_methods_refuse_what_torch_refuses(call):
    torch = _torch()
    with pytest.raises(Exception):
        call(torch)
    with pytest.raises((TypeError, ValueError), match=r"_\(\)|masked_fill|needs|expects"):
        call(mg)


def test_random_fills_follow_manual_seed_and_the_distribution():
    mg.manual_seed(3)
    want = mg.randn(4000) * 2.0 + 1.0
    mg.manual_seed(3)
    x = mg.zeros(4000).normal_(1.0, 2.0)
    np.testing.assert_array_equal(x.numpy(), want.numpy())  # the draws of minigrad.randn
    assert abs(x.numpy().mean() - 1.0) < 0.15 and abs(x.numpy().std() - 2.0) < 0.15
    mg.manual_seed(3)
    u = mg.zeros(4000, dtype="float64").uniform_(-2.0, 3.0)
    assert u.dtype == np.float64
    assert u.numpy().min() >= -2.0 and u.numpy().max() < 3.0
    assert abs(u.numpy().mean() - 0.5) < 0.15
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.zeros(4000, dtype="float64").uniform_(-2.0, 3.0).numpy(),
                                  u.numpy())
