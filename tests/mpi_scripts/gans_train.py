"""Run by tests/test_distributed.py under ``mpiexec -n 2``: the GAN zoo's command line and
trainer with two processes. Prints one ``OK ...`` line per check and rank; any failure raises
(and the uncaught exception takes the job down with a non-zero status).

    mpiexec -n 2 python tests/mpi_scripts/gans_train.py OUT_FOLDER
"""
import hashlib
import sys
from pathlib import Path

import numpy as np

import gans
import minigrad
import minigrad.distributed as dist
from gans import datasets
from gans.__main__ import main
from gans.trainer import fit
from minigrad.data import DataLoader, DistributedSampler

out = Path(sys.argv[1])
dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2, world


def same_on_every_rank(values: bytes) -> bool:
    """Whether ``values`` (a digest) is the same on all processes."""
    x = minigrad.tensor(np.frombuffer(values, np.uint8).astype(np.float64))
    lo, hi = minigrad.tensor(x.numpy().copy()), minigrad.tensor(x.numpy().copy())
    dist.all_reduce(lo, dist.ReduceOp.MIN)
    dist.all_reduce(hi, dist.ReduceOp.MAX)
    return bool(np.array_equal(lo.numpy(), hi.numpy()))


# 1. every variant trains from the command line, rank 0 writing the run folder
for name in gans.available():
    folder = out / name
    code = main(["train", "--model", name, "--dataset", "random", "--max-steps", "2",
                 "--batch-size", "4", "--sample-every", "0", "--no-progress", "--out",
                 str(folder)])
    assert code == 0, (name, code)
    dist.barrier()
    assert (folder / "checkpoint.npz").exists() and (folder / "metrics.csv").exists(), name
    print(f"OK train {name} rank {rank}", flush=True)

# 2. a run folder of one process resumes with two (the test made it: 2 steps of vanilla)
code = main(["train", "--model", "vanilla", "--dataset", "random", "--max-steps", "4",
             "--batch-size", "4", "--sample-every", "0", "--no-progress", "--out",
             str(out / "resume")])
assert code == 0
dist.barrier()
rows = (out / "resume" / "metrics.csv").read_text().strip().splitlines()
assert len(rows) == 1 + 4, rows  # header + steps 1..4
print(f"OK resume rank {rank}", flush=True)

# 3. after training through fit, the replicas are bitwise identical (BatchNorm synchronised,
#    the gradient penalty's double backprop local, the averaged gradients the same)
for name, cfg in (("dcgan", dict(g_features=8, d_features=8)),
                  ("wgan_gp", dict(critic="conv", g_features=8, d_features=8, d_steps=2))):
    minigrad.manual_seed(0)
    model = gans.get_model(name)(gans.get_config(name)(**cfg))
    minigrad.manual_seed(1 + rank)
    ds = datasets.load("random", n=32)
    sampler = DistributedSampler(ds, shuffle=True, seed=0, drop_last=True)
    loader = DataLoader(ds, batch_size=4, sampler=sampler, drop_last=True)
    fit(model, loader, epochs=2, out_dir=out / f"fit_{name}", progress=False, sample_every=0)
    digest = hashlib.sha256()
    for net in model.nets.values():
        for key, value in sorted(net.state_dict().items()):
            digest.update(np.ascontiguousarray(np.asarray(value)).tobytes())
    assert model.d_step == 8, model.d_step
    assert same_on_every_rank(digest.digest()), f"{name}: the replicas differ"
    print(f"OK identical {name} rank {rank}", flush=True)

# 4. --device cuda on a machine of two (emulated) GPUs: each process trains on its own (an array
#    call on another GPU than the current one raises there, as in CuPy)
from benchmarks.cupy_launches import emulated_cuda  # noqa: E402

with emulated_cuda(devices=2):
    code = main(["train", "--model", "dcgan", "--dataset", "random", "--device", "cuda",
                 "--max-steps", "2", "--batch-size", "4", "--g-features", "8", "--d-features",
                 "8", "--sample-every", "0", "--no-progress", "--out", str(out / "gpus")])
    assert code == 0, code
    assert minigrad.cuda.current_device() == dist.get_node_local_rank() % 2
    assert rank != 0 or (out / "gpus" / "checkpoint.npz").exists()
    dist.barrier()
print(f"OK gpus rank {rank} on cuda:{rank % 2}", flush=True)

dist.destroy_process_group()
