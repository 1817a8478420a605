"""minigrad.distributed, DistributedDataParallel, SyncBatchNorm and DistributedSampler.

Two kinds of tests:
- in this process: the API's errors, the one-process group (a script started without a
  launcher is a job of one process), the sampler's arithmetic, and the engine's
  post-accumulate-grad hooks;
- under ``mpiexec -n 2``: tests/mpi_scripts/ddp_checks.py trains with two processes against one
  process on the global batch, tests/mpi_scripts/failing_rank.py checks that a failing rank
  ends the job, and tests/mpi_scripts/gans_train.py trains every GAN variant from the command
  line with two processes.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad
import minigrad.distributed as dist
import minigrad.nn as nn
from minigrad.data import DataLoader, DistributedSampler
from minigrad.nn.parallel import DistributedDataParallel as DDP

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "mpi_scripts"


def _mpiexec():
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


needs_mpi4py = pytest.mark.skipif(not dist.is_available(),
                                  reason='mpi4py is not installed: pip install -e ".[mpi]"')
needs_mpiexec = pytest.mark.skipif(
    not dist.is_available() or _mpiexec() is None,
    reason='needs mpi4py and an mpiexec launcher: pip install -e ".[mpi]" (the MPICH wheel)')


@pytest.fixture
def group():
    """The default group of this one process (MPI's singleton), destroyed afterwards."""
    dist.init_process_group("mpi")
    try:
        yield
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# =============================================================== the API without a group
def test_not_initialized_errors_name_the_fix():
    assert not dist.is_initialized()
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier, dist.destroy_process_group):
        with pytest.raises(RuntimeError, match="init_process_group"):
            fn()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(minigrad.ones(2))
    with pytest.raises(RuntimeError, match="DistributedDataParallel.*init_process_group"):
        DDP(nn.Linear(2, 1))
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        DistributedSampler(np.arange(4))


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'gloo'.*mpi.*nccl"):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_missing_mpi4py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    assert not dist.is_available()
    with pytest.raises(RuntimeError, match=re.escape('pip install -e ".[mpi]"')):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


@pytest.mark.skipif(minigrad.cuda.is_available(), reason="a GPU is present")
def test_nccl_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="backend='nccl' needs CuPy and a CUDA GPU.*'mpi'"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_nccl_backend_reaches_cupy_through_the_backend_module():
    """The NCCL backend asks ``minigrad.backend.cuda`` the module for CuPy and its NCCL bindings
    (the attribute of that name is the namespace object, which has neither: on the first GPU
    run this was an AttributeError)."""
    from minigrad.distributed import backends

    assert hasattr(backends._cuda, "cupy") and callable(backends._cuda.nccl)
    assert callable(backends._cuda.is_available)


@pytest.mark.gpu
@pytest.mark.skipif(not minigrad.cuda.is_available(),
                    reason="needs a CUDA GPU and CuPy: " + (minigrad.cuda.unavailable_reason()
                                                        or "unavailable"))
@needs_mpi4py
def test_nccl_one_rank_collectives_and_ddp_step():
    """The NCCL backend for real, on one GPU: a job of one process (no launcher). all_reduce
    (SUM, AVG, MAX) and broadcast leave a one-rank tensor as it was, in place; a
    DistributedDataParallel step equals the plain step. (Two ranks need two GPUs.)"""
    dist.init_process_group("nccl")
    try:
        assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
        values = np.array([1.5, -2.0, 3.25], np.float32)
        t = minigrad.tensor(values, device="cuda")
        array_before = t.data
        for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX):
            dist.all_reduce(t, op)
        dist.broadcast(t, 0)
        assert t.data is array_before  # in place
        np.testing.assert_array_equal(t.numpy(), values)

        def net():
            minigrad.manual_seed(3)
            return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2),
                                 nn.Linear(8, 1)).to("cuda")
        rng = np.random.default_rng(0)
        x = minigrad.tensor(rng.standard_normal((16, 5)).astype(np.float32), device="cuda")
        plain, wrapped = net(), net()
        ddp = DDP(wrapped)
        for model, module in ((plain, plain), (ddp, wrapped)):
            opt = minigrad.optim.Adam(module.parameters(), lr=1e-2)
            for _ in range(2):
                opt.zero_grad()
                (model(x) ** 2).mean().backward()
                opt.step()
        mine, theirs = plain.state_dict(), wrapped.state_dict()
        assert list(mine) == list(theirs)
        for name in mine:  # state_dict() holds NumPy copies
            np.testing.assert_allclose(theirs[name], mine[name], rtol=1e-6, atol=1e-7,
                                       err_msg=name)
    finally:
        dist.destroy_process_group()


# ================================================================ a group of one process
@needs_mpi4py
def test_one_process_group(group):
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    t = minigrad.tensor([1.0, -2.0])
    dist.all_reduce(t)
    dist.all_reduce(t, dist.ReduceOp.AVG)
    dist.broadcast(t, 0)
    dist.barrier()
    assert t.numpy().tolist() == [1.0, -2.0]
    strided = minigrad.tensor(np.arange(6.0).reshape(2, 3)).T   # a non-contiguous view
    dist.all_reduce(strided, dist.ReduceOp.MAX)
    assert strided.numpy().tolist() == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(ValueError, match="src=1 is not a rank"):
        dist.broadcast(t, 1)
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(t, "sum")
    with pytest.raises(TypeError, match="AVG needs a floating-point"):
        dist.all_reduce(minigrad.tensor([1, 2]), dist.ReduceOp.AVG)
    with pytest.raises(TypeError, match="minigrad Tensor"):
        dist.all_reduce(np.ones(2))
    with pytest.raises(RuntimeError, match="already initialized"):
        dist.init_process_group("mpi")
    dist.destroy_process_group()
    assert not dist.is_initialized()


@needs_mpi4py
def test_rank_and_world_size_must_match_the_launcher():
    with pytest.raises(ValueError, match="world_size=4 was asked for.*world_size 1"):
        dist.init_process_group("mpi", world_size=4)
    assert not dist.is_initialized()


def _mlp():
    minigrad.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()


@needs_mpi4py
def test_ddp_of_one_process_is_the_module(group):
    x = minigrad.randn(7, 3, dtype="float64")
    ref, net = _mlp(), _mlp()
    ref(x).pow(2).sum().backward()
    ddp = DDP(net, bucket_cap_mb=1e-5)  # a bucket per parameter
    assert ddp.module is net and len(ddp._buckets) == 4
    ddp(x).pow(2).sum().backward()
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert [k.removeprefix("module.") for k in ddp.state_dict()] == list(ref.state_dict())
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DDP(net, bucket_cap_mb=0)


@needs_mpi4py
def test_ddp_gradient_penalty_inner_grad_is_not_reduced(group, monkeypatch):
    """minigrad.grad(create_graph=True) calls no hook: nothing is reduced until backward()."""
    ddp = DDP(_mlp())
    calls = []
    monkeypatch.setattr(dist, "all_reduce", lambda t, op: calls.append(t.shape))
    x = minigrad.randn(4, 3, dtype="float64", requires_grad=True)
    g, = minigrad.grad(ddp(x).sum(), x, create_graph=True)
    assert calls == [] and all(p.grad is None for p in ddp.parameters())
    (ddp(x).mean() + g.pow(2).sum()).backward()  # the critic loss plus the penalty
    assert len(calls) == len(ddp._buckets)


@needs_mpi4py
def test_ddp_unused_parameter(group):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.ModuleDict({"used": nn.Linear(3, 1), "unused": nn.Linear(3, 1)})

        def forward(self, x):
            return self.net["used"](x)

    x = minigrad.randn(4, 3)
    ddp = DDP(Net(), bucket_cap_mb=1e-5)
    ddp(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"no gradient.*net\.unused\.weight.*"
                                           "find_unused_parameters=True"):
        ddp(x)
    ddp = DDP(Net(), bucket_cap_mb=1e-5, find_unused_parameters=True)
    net = ddp.module.net
    for _ in range(2):
        ddp(x).sum().backward()
    assert net["unused"].weight.grad.numpy().tolist() == [[0.0, 0.0, 0.0]]
    np.testing.assert_allclose(net["used"].bias.grad.numpy(), [8.0])  # two backwards of 4


@needs_mpi4py
def test_ddp_frozen_module_reduces_nothing(group):
    """A GAN's G step goes through D frozen: D's parameters get no gradient and no reduction."""
    ddp = DDP(_mlp())
    for p in ddp.parameters():
        p.requires_grad = False
    x = minigrad.randn(4, 3, dtype="float64", requires_grad=True)
    ddp(x).sum().backward()
    assert all(p.grad is None for p in ddp.parameters()) and x.grad is not None
    for p in ddp.parameters():
        p.requires_grad = True
    ddp(x).sum().backward()   # no leftover state from the frozen step
    assert all(p.grad is not None for p in ddp.parameters())


@needs_mpi4py
def test_syncbatchnorm_in_a_group_of_one_is_batchnorm(group):
    _check_syncbn_is_batchnorm()


def test_syncbatchnorm_without_a_group_is_batchnorm():
    _check_syncbn_is_batchnorm()


def _check_syncbn_is_batchnorm():
    x = minigrad.randn(6, 3, 4, 4, dtype="float64", requires_grad=True)
    minigrad.manual_seed(1)
    bn = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3, momentum=None)).double()
    minigrad.manual_seed(1)
    sbn = nn.SyncBatchNorm.convert_sync_batchnorm(
        nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3, momentum=None)).double())
    assert type(sbn[1]) is nn.SyncBatchNorm and sbn[1].momentum is None
    outs = []
    for m in (bn, sbn):
        y = m(x)
        g, = minigrad.grad(y.pow(3).sum(), x, create_graph=True)
        outs.append([y.numpy(), g.numpy(), minigrad.grad(g.sum(), x)[0].numpy(),
                     m[1].running_var.numpy()])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def test_convert_sync_batchnorm_shares_state():
    bn = nn.BatchNorm1d(4, affine=True, bias=False, momentum=0.3)
    bn.eval()
    net = nn.Sequential(nn.Linear(2, 4), bn, nn.Sequential(nn.BatchNorm2d(2)))
    out = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert out is net and type(net[1]) is nn.SyncBatchNorm and type(net[2][0]) is nn.SyncBatchNorm
    s = net[1]
    assert s.weight is bn.weight and s.bias is None and s.running_mean is bn.running_mean
    assert not s.training and s.momentum == 0.3 and s.eps == bn.eps
    assert list(net.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.running_mean",
                                      "1.running_var", "1.num_batches_tracked", "2.0.weight",
                                      "2.0.bias", "2.0.running_mean", "2.0.running_var",
                                      "2.0.num_batches_tracked"]
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm2d(3))
    assert type(single) is nn.SyncBatchNorm


# ============================================================================ sampler
@pytest.mark.parametrize("n,replicas,drop_last", [(12, 3, False), (10, 4, False), (10, 4, True),
                                                  (3, 5, False)])
def test_distributed_sampler_shards(n, replicas, drop_last):
    shards = [DistributedSampler(np.zeros((n, 2)), replicas, r, seed=1, drop_last=drop_last)
              for r in range(replicas)]
    for s in shards:
        s.set_epoch(2)
    idx = [list(s) for s in shards]
    assert len({len(i) for i in idx}) == 1 and len(idx[0]) == len(shards[0])
    flat = np.concatenate(idx)
    counts = np.bincount(flat, minlength=n)
    if drop_last:  # disjoint, the tail dropped
        assert counts.max() == 1 and counts.sum() == n // replicas * replicas
    else:          # cover; padding repeats as few samples as possible
        assert counts.min() >= 1 and counts.sum() == -(-n // replicas) * replicas
        assert counts.max() - counts.min() <= 1
    if n % replicas == 0:
        assert sorted(flat) == list(range(n))


def test_distributed_sampler_epochs_and_seed():
    a, b = DistributedSampler(range(20), 2, 0, seed=3), DistributedSampler(range(20), 2, 0, seed=3)
    first = list(a)
    assert first == list(b) and first == list(a)   # the same seed and epoch: the same shard
    a.set_epoch(1)
    other = DistributedSampler(range(20), 2, 1, seed=3)
    other.set_epoch(1)
    assert list(a) != first and sorted(list(a) + list(other)) == list(range(20))
    plain = DistributedSampler(range(7), 2, 1, shuffle=False)
    assert list(plain) == [1, 3, 5, 0]             # padded with the first index
    with pytest.raises(ValueError, match=r"invalid rank 2.*\[0, 1\]"):
        DistributedSampler(range(4), 2, 2)


def test_dataloader_with_a_sampler():
    x = np.arange(10.0)
    sampler = DistributedSampler(x, 2, 1, shuffle=False)
    loader = DataLoader(x, batch_size=2, sampler=sampler)
    assert len(loader) == 3
    assert [b[0].numpy().tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]
    assert len(DataLoader(x, batch_size=2, sampler=sampler, drop_last=True)) == 2
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(x, batch_size=2, sampler=sampler, shuffle=True)


# ======================================================= post-accumulate-grad hooks
def test_post_accumulate_grad_hook():
    w = minigrad.tensor([1.0, 2.0], requires_grad=True)
    v = minigrad.tensor([3.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(
        lambda t: seen.append((t.grad.numpy().tolist(), v.grad is not None)))
    (w * w).sum().backward()
    minigrad.grad((w * v).sum(), w)                         # leaves .grad alone: no call
    (w * v).sum().backward()
    assert seen == [([2.0, 4.0], False), ([5.0, 7.0], True)]  # after accumulation, all leaves
    handle.remove()
    w.sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


# ======================================================================= two processes
def _run_mpi(script, timeout, *args):
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path,
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    try:
        return subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(SCRIPTS / script), *args],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"mpiexec -n 2 {script} hung for {timeout} s:\n{e.stdout}\n{e.stderr}")


@pytest.fixture(scope="module", params=["--mpi", "--emulated-nccl"])
def ddp_checks(request):
    """The checks' output: with the ``mpi`` backend on the CPU, and with the ``nccl`` backend
    on CUDA tensors of the emulated GPU and NCCL (benchmarks/emulated_nccl.py; two ranks of
    real NCCL need two GPUs)."""
    if not dist.is_available() or _mpiexec() is None:
        pytest.skip('needs mpi4py and an mpiexec launcher: pip install -e ".[mpi]"')
    return _run_mpi("ddp_checks.py", 300, request.param)


@needs_mpiexec
@pytest.mark.parametrize("check", ["devices", "collectives", "mlp", "syncbn_conv", "syncbn_uneven",
                                   "gradient_penalty", "sampler_shards"])
def test_two_processes_match_one(ddp_checks, check):
    """2 ranks at batch B/2 match 1 process at batch B after 5 Adam steps (float64, 1e-9),
    parameters bitwise equal across ranks, on the CPU (mpi) and on the emulated GPU (nccl);
    see tests/mpi_scripts/ddp_checks.py."""
    out = ddp_checks.stdout + ddp_checks.stderr
    for rank in (0, 1):
        assert re.search(rf"rank {rank} PASS check_{check}\b", ddp_checks.stdout), out
    assert ddp_checks.returncode == 0, out


@needs_mpiexec
@pytest.mark.parametrize("how,message", [("raise", "ValueError: rank 1 fails on purpose"),
                                         ("abort", "error: rank 1 stops on purpose")])
def test_a_failing_rank_ends_the_job(how, message):
    r = _run_mpi("failing_rank.py", 120, how)
    assert r.returncode != 0
    assert message in r.stderr
    assert "did not abort" not in r.stdout


@needs_mpiexec
def test_distributed_benchmark_runs(tmp_path):
    """A smoke run of benchmarks/distributed.py (its speed is not tested)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                 "")]))
    subprocess.run([sys.executable, "-m", "benchmarks.distributed", "--steps", "1", "--warmup",
                    "1", "--repeats", "2", "--out", str(tmp_path)], check=True, cwd=ROOT,
                   env=env, capture_output=True, timeout=300)
    import json
    result = json.loads((tmp_path / "distributed.json").read_text())
    one, two = result["runs"]
    assert (one["processes"], one["threads"], two["processes"], two["threads"]) == (1, 2, 2, 1)
    for title in ("MLP GAN step (batch 100)", "DCGAN-28 step (batch 64)"):
        assert one["cases"][title]["steps_per_s"] > 0
        assert one["cases"][title]["allreduce_ms_per_step"] == 0  # one process reduces nothing
        assert two["cases"][title]["allreduce_ms_per_step"] > 0
        assert two["cases"][title]["batch_per_process"] * 2 == one["cases"][title][
            "batch_per_process"]
    assert [r["bytes"] for r in two["allreduce"]] == [4 << 10, 256 << 10, 4 << 20, 25 << 20]
    assert "| MLP GAN step" in (tmp_path / "distributed.md").read_text()


# ======================================================= the GAN zoo under mpiexec -n 2
@needs_mpiexec
def test_every_variant_trains_with_two_processes(tmp_path):
    """``mpiexec -n 2 python -m gans train`` for every variant (rank 0 writes the run folder);
    a one-process run resumes with two; replicas bitwise identical after fit (DCGAN with
    SyncBatchNorm, WGAN-GP's penalty); ``--device cuda`` on two emulated GPUs, a process on
    each; see tests/mpi_scripts/gans_train.py."""
    import gans
    from gans.__main__ import main

    assert main(["train", "--model", "vanilla", "--dataset", "random", "--max-steps", "2",
                 "--batch-size", "4", "--sample-every", "0", "--no-progress", "--out",
                 str(tmp_path / "resume")]) == 0
    run = _run_mpi("gans_train.py", 600, str(tmp_path))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    for rank in (0, 1):
        for name in gans.available():
            assert f"OK train {name} rank {rank}" in out, out
        for check in ("resume", "identical dcgan", "identical wgan_gp", "gpus"):
            assert f"OK {check} rank {rank}" in out, out
    assert out.count("(2 processes)") == len(gans.available()) + 2  # rank 0 alone prints


@needs_mpiexec
def test_a_command_line_error_ends_every_process(tmp_path):
    """Both processes stop on the same error: one line, a non-zero status, no hang."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                  "")]))
    try:
        run = subprocess.run([_mpiexec(), "-n", "2", sys.executable, "-m", "gans", "train",
                              "--model", "dcgan", "--dataset", "random", "--batch-size", "7",
                              "--out", str(tmp_path / "x")], capture_output=True, text=True,
                             timeout=120, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the job hung: {e.stdout}\n{e.stderr}")
    assert run.returncode != 0
    assert "gans: error: the batch size 7 does not split over 2 processes" in run.stderr
