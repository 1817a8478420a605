"""minigrad.optim.lr_scheduler against torch.optim.lr_scheduler: the lr sequences float for
float, the warnings, resuming, the argument checks, and the optimizers stepping with the lr a
scheduler set (on the CPU, with both kernel modes; the CUDA-graph replay refuses a changed lr)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import minigrad
from minigrad import optim
from minigrad.backend import graphs
from minigrad.optim import lr_scheduler as mls

try:  # torch is the oracle for the parity tests; the other tests run without it
    import torch
    import torch.optim.lr_scheduler as tls
except ImportError:
    torch = tls = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

LRS = (0.1, 0.03)  # two parameter groups with different base lrs
STEPS = 50


def _mg_opt(lrs=LRS, cls=None, **kw):
    cls = cls or optim.SGD
    groups = [{"params": [minigrad.zeros(3, requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kw)


def _torch_opt(lrs=LRS, cls=None, **kw):
    cls = cls or torch.optim.SGD
    groups = [{"params": [torch.zeros(3, requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kw)


class Scale:
    """A callable object (not a function): its attributes go into LambdaLR's state dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** epoch


# (id, build(lib, opt)): lib is the scheduler module (minigrad's or torch's)
CASES = [
    ("lambda", lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e)),
    ("lambda-per-group", lambda L, o: L.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e])),
    ("multiplicative", lambda L, o: L.MultiplicativeLR(o, lambda e: 0.95)),
    ("multiplicative-per-group",
     lambda L, o: L.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 1.0 + 0.01 * (e % 3)])),
    ("step", lambda L, o: L.StepLR(o, step_size=7, gamma=0.5)),
    ("step-3", lambda L, o: L.StepLR(o, 3, gamma=0.9)),
    ("multistep", lambda L, o: L.MultiStepLR(o, [5, 12, 30], gamma=0.3)),
    ("multistep-repeated", lambda L, o: L.MultiStepLR(o, [4, 4, 20], gamma=0.5)),
    ("constant", lambda L, o: L.ConstantLR(o)),
    ("constant-0.3-10", lambda L, o: L.ConstantLR(o, factor=0.3, total_iters=10)),
    ("linear", lambda L, o: L.LinearLR(o)),
    ("linear-warmup-40", lambda L, o: L.LinearLR(o, start_factor=0.05, total_iters=40)),
    ("linear-decay", lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                             total_iters=20)),
    ("exponential", lambda L, o: L.ExponentialLR(o, gamma=0.93)),
    ("exponential-up", lambda L, o: L.ExponentialLR(o, 1.02)),
    ("cosine-10", lambda L, o: L.CosineAnnealingLR(o, T_max=10)),  # past T_max: up again
    ("cosine-7-eta", lambda L, o: L.CosineAnnealingLR(o, 7, eta_min=1e-3)),
    ("cosine-50", lambda L, o: L.CosineAnnealingLR(o, T_max=50, eta_min=0.001)),
    ("sequential-warmup-cosine", lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5), L.CosineAnnealingLR(o, T_max=20)],
        milestones=[5])),
    ("sequential-constant-exp", lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.1, total_iters=20), L.ExponentialLR(o, gamma=0.9)],
        milestones=[20])),
    ("sequential-three", lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.5, total_iters=3), L.StepLR(o, 4, gamma=0.7),
            L.MultiplicativeLR(o, lambda e: 0.97)], milestones=[5, 15])),
]


def _run(sched, opt, steps=STEPS):
    """The lrs after each of ``steps`` epochs (optimizer step, then scheduler step), and the
    groups' lrs, which must be the same values."""
    seen = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        last = sched.get_last_lr()
        assert last == [g["lr"] for g in opt.param_groups]
        seen.append(last)
    return seen


# ------------------------------------------------------------------------- lr sequences
@needs_torch
@pytest.mark.parametrize("name,build", CASES, ids=[c[0] for c in CASES])
def test_lr_sequence_equals_torch_float_for_float(name, build):
    ours = _run(build(mls, opt := _mg_opt()), opt)
    theirs = _run(build(tls, topt := _torch_opt()), topt)
    assert ours == theirs  # exact: the same formulas, operation for operation
    assert len({tuple(x) for x in ours}) > 1, "the schedule never changed the lr"
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)


@needs_torch
def test_two_schedulers_on_one_optimizer_compose_as_torch():
    # the recursive forms chain: a decay every epoch and a drop at the milestones
    def build(L, o):
        return [L.ExponentialLR(o, gamma=0.9), L.MultiStepLR(o, milestones=[10, 25], gamma=0.1)]

    def run(scheds, opt):
        out = []
        for _ in range(40):
            opt.step()
            for s in scheds:
                s.step()
            out.append([g["lr"] for g in opt.param_groups])
        return out

    ours = run(build(mls, opt := _mg_opt()), opt)
    assert ours == run(build(tls, topt := _torch_opt()), topt)
    assert ours[10][0] == pytest.approx(0.1 * 0.9 ** 11 * 0.1, rel=1e-12)


@needs_torch
@pytest.mark.parametrize("name,build", [c for c in CASES if c[0] in (
    "step", "multistep", "exponential", "cosine-10", "linear-warmup-40", "constant")],
    ids=lambda c: c if isinstance(c, str) else "")
def test_step_with_an_epoch_uses_the_closed_form_and_warns_as_torch(name, build):
    s, ts = build(mls, opt := _mg_opt()), build(tls, topt := _torch_opt())
    for epoch in (3, 7, 12, 30, 1, 45):
        opt.step(), topt.step()
        with pytest.warns(UserWarning, match="deprecated"):
            s.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts.step(epoch)
        assert s.get_last_lr() == ts.get_last_lr() and s.last_epoch == epoch


LAST_EPOCH_CASES = [
    ("step", lambda L, o, k: L.StepLR(o, 4, gamma=0.5, last_epoch=k)),
    ("multistep", lambda L, o, k: L.MultiStepLR(o, [3, 9, 14], gamma=0.3, last_epoch=k)),
    ("exponential", lambda L, o, k: L.ExponentialLR(o, 0.9, last_epoch=k)),
    ("cosine", lambda L, o, k: L.CosineAnnealingLR(o, 9, eta_min=1e-3, last_epoch=k)),
    ("linear", lambda L, o, k: L.LinearLR(o, start_factor=0.1, total_iters=12, last_epoch=k)),
    ("constant", lambda L, o, k: L.ConstantLR(o, factor=0.5, total_iters=8, last_epoch=k)),
    ("lambda", lambda L, o, k: L.LambdaLR(o, lambda e: 0.9 ** e, last_epoch=k)),
]


@needs_torch
@pytest.mark.parametrize("name,build", LAST_EPOCH_CASES, ids=[c[0] for c in LAST_EPOCH_CASES])
def test_built_with_last_epoch_resumes_as_torch(name, build):
    def run(L, opt):
        for g, lr in zip(opt.param_groups, (0.2, 0.05)):
            g["initial_lr"] = lr  # what a loaded optimizer state dict holds
        return _run(build(L, opt, 6), opt, 20)

    ours = run(mls, _mg_opt())
    assert ours == run(tls, _torch_opt())
    assert len({tuple(x) for x in ours}) > 1


@needs_torch
@pytest.mark.parametrize("kw", [
    dict(), dict(patience=2, factor=0.5), dict(mode="max", threshold_mode="abs", threshold=0.05,
                                               patience=1, cooldown=2, min_lr=[0.01, 0.02]),
    dict(patience=0, threshold=0.2, factor=0.3, min_lr=0.005, eps=1e-4)])
def test_reduce_on_plateau_equals_torch(kw):
    rng = np.random.default_rng(3)
    metrics = list(1.0 / np.arange(1, 11)) + list(0.1 + 0.02 * rng.standard_normal(50))
    if kw.get("mode") == "max":
        metrics = [-m for m in metrics]

    def run(L, opt):
        s = L.ReduceLROnPlateau(opt, **kw)
        out = []
        for m in metrics:
            opt.step()
            s.step(m)
            out.append((s.get_last_lr(), [g["lr"] for g in opt.param_groups], s.num_bad_epochs,
                        s.best, s.last_epoch))
        return out

    ours = run(mls, _mg_opt())
    assert ours == run(tls, _torch_opt())
    assert ours[-1][0] != list(LRS), "the lr was never reduced"


def test_reduce_on_plateau_takes_a_one_element_tensor():
    opt = _mg_opt()
    s = mls.ReduceLROnPlateau(opt, patience=0)
    opt.step()
    s.step(minigrad.tensor(1.0))
    s.step(minigrad.tensor(2.0))
    assert s.get_last_lr() == pytest.approx([0.01, 0.003], rel=1e-12)


# ------------------------------------------------------------------------- protocol
def test_constructor_records_initial_lr_and_makes_the_initial_step():
    opt = _mg_opt()
    s = mls.LinearLR(opt, start_factor=0.5, total_iters=4)
    assert s.last_epoch == 0 and s._step_count == 1
    assert s.base_lrs == list(LRS)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.015] == s.get_last_lr()
    s.get_last_lr().append(1.0)  # a copy
    assert len(s.get_last_lr()) == 2
    # a second scheduler keeps the recorded initial_lr (setdefault), as torch
    s2 = mls.ExponentialLR(opt, gamma=0.5)
    assert s2.base_lrs == list(LRS)
    assert mls._LRScheduler is mls.LRScheduler
    assert optim.lr_scheduler is mls and "lr_scheduler" in optim.__all__
    assert set(mls.__all__) >= {"LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR",
                                "ConstantLR", "LinearLR", "ExponentialLR", "SequentialLR",
                                "CosineAnnealingLR", "ReduceLROnPlateau", "LRScheduler"}


def test_a_custom_scheduler_overrides_get_lr_as_in_torch():
    class Halve(mls.LRScheduler):
        def get_lr(self):
            return [b * 0.5 ** self.last_epoch for b in self.base_lrs]

    opt = _mg_opt()
    s = Halve(opt)
    opt.step()
    s.step()
    s.step()
    assert s.get_last_lr() == [0.025, 0.0075]


# ------------------------------------------------------------------------- warnings
def test_scheduler_step_before_optimizer_step_warns():
    opt = _mg_opt()
    s = mls.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        s.step()


def test_the_right_order_does_not_warn():
    opt = _mg_opt()
    s = mls.CosineAnnealingLR(opt, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.step()
            s.step()


def test_get_lr_outside_step_points_to_get_last_lr():
    s = mls.ExponentialLR(_mg_opt(), 0.9)
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()


# ------------------------------------------------------------------------- resuming
RESUME = [c for c in CASES if c[0] in (
    "lambda", "multiplicative", "step", "multistep-repeated", "constant-0.3-10",
    "linear-warmup-40", "exponential", "cosine-7-eta", "sequential-warmup-cosine",
    "sequential-three")]


@pytest.mark.parametrize("through_file", [False, True], ids=["in-memory", "minigrad.save"])
@pytest.mark.parametrize("name,build", RESUME, ids=[c[0] for c in RESUME])
def test_resumed_schedule_continues_exactly(name, build, through_file, tmp_path):
    total, cut = 40, 13
    opt = _mg_opt(cls=optim.SGD, momentum=0.9)
    whole = _run(build(mls, opt), opt, total)

    opt = _mg_opt(cls=optim.SGD, momentum=0.9)
    s = build(mls, opt)
    first = _run(s, opt, cut)
    ckpt = {"opt": opt.state_dict(), "sched": s.state_dict()}
    for _ in range(5):  # the state dict is a snapshot: later steps do not change it
        opt.step()
        s.step()
    if through_file:
        minigrad.save(ckpt, tmp_path / "ckpt.npz")
        ckpt = minigrad.load(tmp_path / "ckpt.npz")

    opt2 = _mg_opt(cls=optim.SGD, momentum=0.9)
    s2 = build(mls, opt2)        # build, then load (the constructor writes group['lr'])
    opt2.load_state_dict(ckpt["opt"])
    s2.load_state_dict(ckpt["sched"])
    assert s2.get_last_lr() == first[-1] == [g["lr"] for g in opt2.param_groups]
    rest = _run(s2, opt2, total - cut)
    assert first + rest[1:] == whole


def test_state_dicts_hold_no_optimizer_and_no_functions():
    opt = _mg_opt()
    s = mls.StepLR(opt, 3, gamma=0.5)
    sd = s.state_dict()
    assert "optimizer" not in sd
    assert {"base_lrs", "last_epoch", "_step_count", "_last_lr", "step_size", "gamma"} <= set(sd)

    scale = Scale(0.9)
    s = mls.LambdaLR(opt, [lambda e: 1.0, scale])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"rate": 0.9}] and "optimizer" not in sd
    scale.rate = 0.5
    s.load_state_dict(sd)  # the callable object's attributes come back; the function stays
    assert scale.rate == 0.9 and callable(s.lr_lambdas[0])

    s = mls.SequentialLR(opt, [mls.ConstantLR(opt), mls.ExponentialLR(opt, 0.9)], [3])
    sd = s.state_dict()
    assert "optimizer" not in sd and all("optimizer" not in x for x in sd["_schedulers"])


@needs_torch
def test_torch_state_dict_loads_and_continues_as_torch():
    ts = tls.MultiStepLR(topt := _torch_opt(), [4, 9], gamma=0.5)
    for _ in range(6):
        topt.step()
        ts.step()
    s = mls.MultiStepLR(opt := _mg_opt(), [4, 9], gamma=0.5)
    opt.load_state_dict({"state": {}, "param_groups": [
        {k: v for k, v in g.items()} for g in topt.state_dict()["param_groups"]]})
    s.load_state_dict(ts.state_dict())
    assert _run(s, opt, 10) == _run(ts, topt, 10)


def test_load_state_dict_refuses_what_is_not_one():
    s = mls.StepLR(_mg_opt(), 3)
    with pytest.raises(ValueError, match="scheduler state dict"):
        s.load_state_dict({"foo": 1})
    other = mls.StepLR(_mg_opt(lrs=(0.1,)), 3).state_dict()
    with pytest.raises(ValueError, match="1 base_lrs, the optimizer 2"):
        s.load_state_dict(other)


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make,exc,match", [
    (lambda o: mls.StepLR(o, step_size=-1), ValueError, "step_size must be >= 1"),
    (lambda o: mls.StepLR(o, step_size=0), ValueError, "step_size must be >= 1"),
    (lambda o: mls.StepLR(o, step_size=2.5), TypeError, "step_size must be an integer"),
    (lambda o: mls.StepLR(o, 5, gamma=0), ValueError, "gamma must be a number > 0"),
    (lambda o: mls.ExponentialLR(o, gamma=-0.5), ValueError, "gamma must be a number > 0"),
    (lambda o: mls.MultiStepLR(o, [10, 5]), ValueError, "milestones must be increasing"),
    (lambda o: mls.MultiStepLR(o, [3, 8], gamma=0.0), ValueError, "gamma"),
    (lambda o: mls.MultiStepLR(o, 5), TypeError, "milestones must be a list"),
    (lambda o: mls.LambdaLR(o, [lambda e: 1.0]), ValueError, "expected 2 lr_lambdas"),
    (lambda o: mls.MultiplicativeLR(o, [lambda e: 1.0] * 3), ValueError,
     "expected 2 lr_lambdas"),
    (lambda o: mls.LambdaLR(o, 0.5), TypeError, "lr_lambda should be a function"),
    (lambda o: mls.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be >= 1"),
    (lambda o: mls.CosineAnnealingLR(o, 10, eta_min=-1.0), ValueError, "eta_min"),
    (lambda o: mls.ConstantLR(o, factor=1.5), ValueError, "factor must be in"),
    (lambda o: mls.ConstantLR(o, factor=0.0), ValueError, "factor must be in"),
    (lambda o: mls.LinearLR(o, start_factor=0), ValueError, "start_factor"),
    (lambda o: mls.LinearLR(o, end_factor=2.0), ValueError, "end_factor"),
    (lambda o: mls.LinearLR(o, total_iters=0), ValueError, "total_iters must be >= 1"),
    (lambda o: mls.StepLR(o, 3, last_epoch=-2), ValueError, "last_epoch must be >= -1"),
    (lambda o: mls.StepLR(o, 3, last_epoch=4), KeyError, "initial_lr"),
    (lambda o: mls.SequentialLR(o, [mls.ConstantLR(o), mls.ExponentialLR(o, 0.9)], [2, 4]),
     ValueError, "one milestone fewer than schedulers"),
    (lambda o: mls.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
    (lambda o: mls.SequentialLR(o, [mls.ConstantLR(o), mls.ExponentialLR(_mg_opt(), 0.9)], [2]),
     ValueError, "same optimizer"),
    (lambda o: mls.SequentialLR(o, [mls.ConstantLR(o), mls.ReduceLROnPlateau(o)], [2]),
     ValueError, "ReduceLROnPlateau"),
    (lambda o: mls.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor must be in"),
    (lambda o: mls.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode must be 'min' or 'max'"),
    (lambda o: mls.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold_mode"),
    (lambda o: mls.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs"),
    (lambda o: mls.ReduceLROnPlateau(o, patience=-1), ValueError, "patience must be >= 0"),
])
def test_bad_arguments_raise_naming_the_problem(make, exc, match):
    with pytest.raises(exc, match=match):
        make(_mg_opt())


@pytest.mark.parametrize("cls", ["StepLR", "ReduceLROnPlateau", "LambdaLR"])
def test_a_non_minigrad_optimizer_is_refused(cls):
    args = {"StepLR": (3,), "ReduceLROnPlateau": (), "LambdaLR": (lambda e: 1.0,)}[cls]
    with pytest.raises(TypeError, match="is not an Optimizer"):
        getattr(mls, cls)("sgd", *args)
    if torch is not None:
        with pytest.raises(TypeError, match="SGD is not an Optimizer.*minigrad.optim"):
            getattr(mls, cls)(_torch_opt(), *args)


def test_a_group_added_after_the_scheduler_is_named():
    opt = _mg_opt()
    s = mls.LambdaLR(opt, lambda e: 0.9 ** e)  # computes from base_lrs: one per old group
    opt.add_param_group({"params": [minigrad.zeros(2, requires_grad=True)]})
    opt.step()
    with pytest.raises(RuntimeError, match="2 lrs for 3 parameter groups"):
        s.step()


# ------------------------------------------------------------------------- the optimizers
OPTIMIZERS = [
    ("sgd", "SGD", {}),
    ("sgd-momentum-nesterov", "SGD", dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", "Adam", dict(betas=(0.8, 0.99))),
    ("adam-amsgrad-wd", "Adam", dict(amsgrad=True, weight_decay=0.1)),
    ("rmsprop", "RMSprop", {}),
    ("rmsprop-centered-momentum", "RMSprop", dict(centered=True, momentum=0.5)),
]


@needs_torch
@pytest.mark.parametrize("name,cls,kw", OPTIMIZERS, ids=[c[0] for c in OPTIMIZERS])
def test_optimizers_step_with_the_scheduled_lr_as_torch(name, cls, kw, kernels):
    """Same initial values, same gradients, same schedule: the parameters after every step
    equal torch's to rounding. An optimizer that ignored the new lr would be off by ~lr."""
    rng = np.random.default_rng(7)
    init = [rng.standard_normal((4, 3)), rng.standard_normal(5)]
    grads = [[rng.standard_normal(a.shape) for a in init] for _ in range(12)]

    ps = [minigrad.tensor(a.copy(), requires_grad=True) for a in init]
    tps = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(optim, cls)([{"params": [ps[0]], "lr": 0.05}, {"params": [ps[1]], "lr": 0.02}],
                              **kw)
    topt = getattr(torch.optim, cls)([{"params": [tps[0]], "lr": 0.05},
                                      {"params": [tps[1]], "lr": 0.02}], **kw)

    def schedule(L, o):
        return L.SequentialLR(o, [L.LinearLR(o, start_factor=0.2, total_iters=3),
                                  L.StepLR(o, step_size=2, gamma=0.3)], milestones=[4])

    s, ts = schedule(mls, opt), schedule(tls, topt)
    unscheduled = [a.copy() for a in init]
    for step, gs in enumerate(grads):
        for p, tp, g in zip(ps, tps, gs):
            p.grad = minigrad.tensor(g.copy())
            tp.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
        s.step()
        ts.step()
        assert s.get_last_lr() == ts.get_last_lr()
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-13,
                                       err_msg=f"step {step}")
    # the schedule mattered: the lrs moved by orders of magnitude, and the result is far from
    # what the constant lr would have given
    assert s.get_last_lr()[0] < 0.05 * 0.3 ** 3
    plain = [minigrad.tensor(a, requires_grad=True) for a in unscheduled]
    popt = getattr(optim, cls)([{"params": [plain[0]], "lr": 0.05},
                                {"params": [plain[1]], "lr": 0.02}], **kw)
    for gs in grads:
        for p, g in zip(plain, gs):
            p.grad = minigrad.tensor(g.copy())
        popt.step()
    assert np.abs(plain[0].data - ps[0].data).max() > 1e-3


# ------------------------------------------------------------------------- CUDA-graph replay
class _FakeCapture:
    """Run ``opt.step()`` as if inside minigrad.graphs.graph(...) (on the CPU: the kernels run
    eagerly; what matters here is the replay hooks the step registers)."""

    def __init__(self):
        self.graph = graphs.CUDAGraph()

    def __enter__(self):
        graphs._local.graph = self.graph
        return self.graph

    def __exit__(self, *exc):
        graphs._local.graph = None

    def replay_hooks(self):
        for hook in self.graph._hooks:
            hook()


@pytest.mark.parametrize("cls", ["SGD", "Adam", "RMSprop"])
def test_a_replay_after_the_scheduler_changed_the_lr_raises(cls):
    opt = _mg_opt(cls=getattr(optim, cls))
    for g in opt.param_groups:
        g["params"][0].grad = minigrad.ones(3)
    opt.step()  # eager: the state exists
    if cls == "Adam":  # what _prepare_capture makes on a GPU: the device copy of the counts
        for g in opt.param_groups:
            opt._device_steps[id(g)] = np.array([opt.state[p]["step"] for p in g["params"]])
    s = mls.StepLR(opt, step_size=1, gamma=0.5)
    capture = _FakeCapture()
    with capture:
        opt.step()
    capture.replay_hooks()  # nothing changed: replays go on
    steps = [opt.state[g["params"][0]]["step"] for g in opt.param_groups] if cls != "SGD" else 0
    s.step()
    with pytest.raises(RuntimeError, match=r"parameter group 0 of .* changed since the step was "
                                           r"recorded \(lr 0.1 -> 0.05\)"):
        capture.replay_hooks()
    if cls == "Adam":  # refused before Adam's hook counted a step that will not run
        assert [opt.state[g["params"][0]]["step"] for g in opt.param_groups] == steps


def test_reduce_on_plateau_resumes_through_a_checkpoint(tmp_path):
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]

    def run(s, opt, ms):
        out = []
        for m in ms:
            opt.step()
            s.step(m)
            out.append(s.get_last_lr())
        return out

    opt = _mg_opt()
    whole = run(mls.ReduceLROnPlateau(opt, patience=1, cooldown=1), opt, metrics)
    opt = _mg_opt()
    s = mls.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    mls_first = run(s, opt, metrics[:1])  # best is finite; the fresh state's best is inf
    minigrad.save({"opt": opt.state_dict(), "sched": s.state_dict(),
                   "fresh": mls.ReduceLROnPlateau(_mg_opt(), mode="max").state_dict()},
                  tmp_path / "ckpt.npz")
    ckpt = minigrad.load(tmp_path / "ckpt.npz")
    assert ckpt["fresh"]["best"] == -math.inf
    opt2 = _mg_opt()
    s2 = mls.ReduceLROnPlateau(opt2, patience=5)  # the state dict brings patience and cooldown
    opt2.load_state_dict(ckpt["opt"])
    s2.load_state_dict(ckpt["sched"])
    assert mls_first + run(s2, opt2, metrics[1:]) == whole
    assert whole[-1] != list(LRS)
