"""Data-parallel checks, run as ``mpiexec -n 2 python tests/mpi_scripts/ddp_checks.py [HOW]``.

HOW: nothing, the ``mpi`` backend on the CPU; ``--nccl``, the ``nccl`` backend on CUDA tensors
(a GPU per rank); ``--emulated-nccl``, the same on two emulated GPUs and NCCL
(benchmarks/cupy_launches.py, benchmarks/emulated_nccl.py), which needs no GPU: there an array
call on another GPU than the current one raises, as in CuPy, so each rank must work on its own.

Each check trains the same model twice on every process: with DistributedDataParallel on this
process's shard of each global batch, and, as the reference, alone on the whole global batch
(every process can compute the reference, so no second job is needed). Every process prints
``rank R PASS name`` or ``rank R FAIL name: why`` per check; tests/test_distributed.py reads
those lines. A failed check does not stop the others: every check makes the same collective
calls whatever its outcome.
"""
import sys
import traceback

import numpy as np

import minigrad
import minigrad.distributed as dist
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.backend import counters
from minigrad.data import DataLoader, DistributedSampler
from minigrad.nn.parallel import DistributedDataParallel as DDP

HOW = sys.argv[1] if len(sys.argv) > 1 else "--mpi"
if HOW == "--emulated-nccl":
    from contextlib import ExitStack

    from benchmarks.cupy_launches import emulated_cuda
    from benchmarks.emulated_nccl import emulated_nccl

    _emulation = ExitStack()
    _emulation.enter_context(emulated_cuda(devices=2))
    _emulation.enter_context(emulated_nccl())
DEV = "cpu" if HOW == "--mpi" else "cuda"
dist.init_process_group("mpi" if HOW == "--mpi" else "nccl")
RANK, WORLD = dist.get_rank(), dist.get_world_size()


def T(array, **kwargs):
    """A tensor of ``array`` on this job's device."""
    return minigrad.tensor(array, device=DEV, **kwargs)
N, B, STEPS = 48, 16, 5  # dataset size, global batch, optimizer steps


def global_batches(seed):
    """The global batches of STEPS steps: for each step, each rank's sample indices."""
    samplers = [DistributedSampler(np.arange(N), WORLD, r, shuffle=True, seed=seed)
                for r in range(WORLD)]
    steps, epoch = [], 0
    while len(steps) < STEPS:
        for s in samplers:
            s.set_epoch(epoch)
        shards = [s.indices() for s in samplers]
        b = B // WORLD
        for k in range(len(shards[0]) // b):
            steps.append([sh[k * b:(k + 1) * b] for sh in shards])
        epoch += 1
    return steps[:STEPS]


def my_batches(arrays, seed):
    """This rank's batches through DataLoader + DistributedSampler, epochs as in global_batches."""
    sampler = DistributedSampler(arrays[0], shuffle=True, seed=seed)
    loader = DataLoader(arrays, batch_size=B // WORLD, sampler=sampler, drop_last=True,
                        device=DEV)
    out, epoch = [], 0
    while len(out) < STEPS:
        sampler.set_epoch(epoch)
        out.extend(loader)
        epoch += 1
    return out[:STEPS]


def perturb_off_rank0(model):
    """Different initial weights on the other ranks: DDP must replace them with rank 0's."""
    if RANK != 0:
        for p in model.parameters():
            p.data += 0.5


def train(model, loss_fn, batches, lr=1e-2):
    opt = minigrad.optim.Adam(model.parameters(), lr=lr)
    for batch in batches:
        opt.zero_grad()
        loss_fn(model, *batch).backward()
        opt.step()


def params_of(model):
    return [p.numpy().copy() for p in model.parameters()]


def assert_close(got, want, what, rtol=1e-9, atol=1e-11):
    for i, (g, w) in enumerate(zip(got, want)):
        if not np.allclose(g, w, rtol=rtol, atol=atol):
            raise AssertionError(f"{what} {i}: max abs diff {np.abs(g - w).max():.3g}")


def assert_identical_across_ranks(arrays, what):
    """Bitwise: rank 0's bytes broadcast and compared on every rank."""
    for i, a in enumerate(arrays):
        t = T(a.copy())
        dist.broadcast(t, 0)
        if t.numpy().tobytes() != a.tobytes():
            raise AssertionError(f"{what} {i} differs from rank 0's")


def mse_loss(model, x, y):
    return F.mse_loss(model(x), y)


# ------------------------------------------------------------------------------ checks
def check_mlp():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(N, 6)), rng.normal(size=(N, 1))

    def make():
        minigrad.manual_seed(0)
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.LeakyReLU(0.2),
                             nn.Linear(16, 1)).double().to(DEV)

    ref = make()
    train(ref, mse_loss, [(T(X[np.concatenate(idx)]), T(Y[np.concatenate(idx)]))
                          for idx in global_batches(7)])
    net = make()
    perturb_off_rank0(net)
    ddp = DDP(net, bucket_cap_mb=0.001)  # several buckets of a few hundred parameters
    assert len(ddp._buckets) > 1, "expected several buckets"
    train(ddp, mse_loss, my_batches((X, Y), 7))
    assert_close(params_of(ddp.module), params_of(ref), "MLP parameter")
    assert_identical_across_ranks(params_of(ddp.module), "MLP parameter")
    assert list(ddp.module.state_dict()) == list(ref.state_dict())


def check_syncbn_conv():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(N, 1, 8, 8)), rng.normal(size=(N, 1))

    # NOTE: no bias before a BatchNorm (as in DCGAN): its exact gradient is 0, and Adam would
    # turn the rounding noise there into steps of size lr, which no two summation orders share.
    def make():
        minigrad.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.2),
            # 4 x 8 x 8
            nn.Conv2d(4, 6, 4, 2, 1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),    # 6 x 4 x 4
            nn.Flatten(), nn.Linear(96, 8, bias=False), nn.BatchNorm1d(8), nn.Tanh(),
            nn.Linear(8, 1)).double().to(DEV)

    steps = global_batches(11)
    # first-order gradients of one step on the global batch, then 5 steps of training
    ref = make()
    idx = np.concatenate(steps[0])
    mse_loss(ref, T(X[idx]), T(Y[idx])).backward()
    ref_grads = [p.grad.numpy().copy() for p in ref.parameters()]
    ref = make()
    train(ref, mse_loss, [(T(X[np.concatenate(i)]), T(Y[np.concatenate(i)])) for i in steps])

    net = nn.SyncBatchNorm.convert_sync_batchnorm(make())
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in net.modules()) == 3
    perturb_off_rank0(net)
    ddp = DDP(net)
    mine = my_batches((X, Y), 11)
    with counters.count() as c:  # no value read on the host: the step never waits for it
        mse_loss(ddp, *mine[0]).backward()
    assert c["to_host"] == c["device_to_host"] == c["uncapturable"] == 0, dict(c)
    assert_close([p.grad.numpy() for p in ddp.module.parameters()], ref_grads,
                 "SyncBatchNorm net gradient of step 1")
    ddp.module.zero_grad()
    for m in ddp.module.modules():  # forget step 1's running statistics: train from the start
        if isinstance(m, nn.SyncBatchNorm):
            m.reset_running_stats()
    train(ddp, mse_loss, mine)
    assert_close(params_of(ddp.module), params_of(ref), "SyncBatchNorm net parameter")
    assert_close([b.numpy() for b in ddp.module.buffers()], [b.numpy() for b in ref.buffers()],
                 "SyncBatchNorm net buffer")
    assert_identical_across_ranks(params_of(ddp.module), "SyncBatchNorm net parameter")


def check_syncbn_uneven():
    """Processes with different batch sizes, rank 0 with a single sample (the one case where
    SyncBatchNorm reads the global count on the host): the statistics, the output and the
    running statistics are BatchNorm's on the concatenated batch."""
    sizes = [2 * r + 1 for r in range(WORLD)]
    x = np.random.default_rng(5).normal(size=(sum(sizes), 3))
    mine = x[sum(sizes[:RANK]):sum(sizes[:RANK + 1])]
    minigrad.manual_seed(0)
    sbn, ref = nn.SyncBatchNorm(3).double().to(DEV), nn.BatchNorm1d(3).double().to(DEV)
    with counters.count() as c:
        y = sbn(T(mine))
    assert c["to_host"] == (1 if sizes[RANK] == 1 else 0), dict(c)
    want = ref(T(x)).numpy()[sum(sizes[:RANK]):sum(sizes[:RANK + 1])]
    assert_close([y.numpy()], [want], "SyncBatchNorm output, uneven batches")
    assert_close([b.numpy() for b in sbn.buffers()], [b.numpy() for b in ref.buffers()],
                 "SyncBatchNorm running statistics, uneven batches")


def check_gradient_penalty():
    """WGAN-GP: critic steps with the penalty's inner gradient from minigrad.grad(create_graph=
    True), and generator steps through the frozen critic."""
    rng = np.random.default_rng(3)
    real, z, eps = rng.normal(size=(N, 4)), rng.normal(size=(N, 3)), rng.uniform(size=(N, 1))

    def make():
        minigrad.manual_seed(0)
        return (nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 4)).double().to(DEV),
                nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1)).double().to(DEV))

    def run(G, D, batches):
        opt_g = minigrad.optim.Adam(G.parameters(), lr=1e-2, betas=(0.0, 0.9))
        opt_d = minigrad.optim.Adam(D.parameters(), lr=1e-2, betas=(0.0, 0.9))
        for x, zb, e in batches:
            fake = G(zb).detach()
            x_hat = T((e * x + (1 - e) * fake).numpy(), requires_grad=True)
            g, = minigrad.grad(D(x_hat).sum(), x_hat, create_graph=True)
            gp = ((g.pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()
            loss_d = D(fake).mean() - D(x).mean() + 10 * gp
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            for p in D.parameters():
                p.requires_grad = False
            loss_g = -D(G(zb)).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            for p in D.parameters():
                p.requires_grad = True

    G0, D0 = make()
    run(G0, D0, [tuple(T(a[np.concatenate(i)]) for a in (real, z, eps))
                 for i in global_batches(5)])
    G1, D1 = make()
    perturb_off_rank0(G1)
    perturb_off_rank0(D1)
    G, D = DDP(G1), DDP(D1)
    run(G, D, my_batches((real, z, eps), 5))
    assert_close(params_of(D.module) + params_of(G.module), params_of(D0) + params_of(G0),
                 "WGAN-GP parameter")
    assert_identical_across_ranks(params_of(D.module) + params_of(G.module), "WGAN-GP parameter")


def check_sampler_shards():
    for n, drop_last in ((48, False), (47, False), (47, True)):
        s = DistributedSampler(np.arange(n), shuffle=True, seed=4, drop_last=drop_last)
        s.set_epoch(3)
        mine = s.indices()
        counts = T(np.bincount(mine, minlength=n).astype(np.int64))
        dist.all_reduce(counts)
        c = counts.numpy()
        if drop_last or n % WORLD == 0:
            assert c.max() == 1, f"n={n}: shards overlap"
            assert c.sum() == (n // WORLD) * WORLD, f"n={n}: {c.sum()} samples in all"
            if n % WORLD == 0:
                assert c.min() == 1, f"n={n}: shards do not cover the dataset"
        else:
            assert c.min() >= 1, f"n={n}: shards do not cover the dataset"
            assert c.sum() == len(s) * WORLD and (c == 2).sum() == len(s) * WORLD - n


def check_devices():
    """With nccl, each rank works on GPU local_rank % device_count: 'cuda' means that one."""
    if DEV == "cpu":
        return
    mine = dist.get_node_local_rank() % minigrad.cuda.device_count()
    assert minigrad.cuda.current_device() == mine, minigrad.cuda.current_device()
    assert minigrad.device("cuda") == f"cuda:{mine}" and T([1.0]).device == f"cuda:{mine}"
    net = nn.Linear(2, 1).to("cuda")
    assert all(p.device == f"cuda:{mine}" for p in net.parameters())


def check_collectives():
    t = T([float(RANK + 1), 2.0 * (RANK + 1)])
    dist.all_reduce(t)
    want = sum(r + 1 for r in range(WORLD))
    assert t.numpy().tolist() == [want, 2 * want], t
    t = T([float(RANK + 1)])
    dist.all_reduce(t, dist.ReduceOp.MAX)
    assert t.item() == WORLD
    t = T([float(RANK + 1)])
    dist.all_reduce(t, dist.ReduceOp.AVG)
    assert t.item() == want / WORLD
    t = T(np.full((3, 2), RANK, dtype=np.float32))
    dist.broadcast(t, WORLD - 1)
    assert (t.numpy() == WORLD - 1).all()
    x = T([1.0, 2.0], dtype="float64", requires_grad=True)
    from minigrad.distributed.functional import all_reduce
    y = all_reduce(x * (RANK + 1))
    (y * y).sum().backward()   # d/dx_r of sum_s |sum_q x (q + 1)|^2 = 2 * WORLD * S * (r + 1)
    S = sum(q + 1 for q in range(WORLD)) * np.array([1.0, 2.0])
    assert np.allclose(x.grad.numpy(), 2 * WORLD * S * (RANK + 1)), x.grad
    dist.barrier()


for check in (check_devices, check_collectives, check_mlp, check_syncbn_conv, check_syncbn_uneven,
              check_gradient_penalty, check_sampler_shards):
    try:
        check()
        sys.stdout.write(f"rank {RANK} PASS {check.__name__}\n")  # one write: one line
        sys.stdout.flush()
    except Exception as e:  # report and go on: the other checks still run on every rank
        traceback.print_exc()
        sys.stdout.write(f"rank {RANK} FAIL {check.__name__}: {type(e).__name__}: {e}\n")
        sys.stdout.flush()

dist.destroy_process_group()
if HOW == "--emulated-nccl":
    _emulation.close()
