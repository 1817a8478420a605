"""Rank 1 fails while rank 0 waits in a collective: the job must end, non-zero, with rank 1's
error shown (``mpiexec -n 2 python tests/mpi_scripts/failing_rank.py [raise|abort]``): an
uncaught exception, or an error handled by printing one line and calling dist.abort(3)."""
import sys

import minigrad
import minigrad.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == 1:
    if sys.argv[1] == "abort":
        print("error: rank 1 stops on purpose", file=sys.stderr, flush=True)
        dist.abort(3)
    raise ValueError("rank 1 fails on purpose")
t = minigrad.ones(3)
dist.all_reduce(t)  # rank 0 would wait here forever without the abort
print("rank 0 got past the all_reduce: the job did not abort", flush=True)
