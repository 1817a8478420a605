"""Samplers: the order in which a DataLoader visits a dataset's indices."""
from __future__ import annotations

import math

import numpy as np

from .loader import _as_arrays

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """This process's shard of a dataset's indices (``torch.utils.data.DistributedSampler``).

    Every process draws the same permutation (from ``seed + epoch``) and takes every
    ``num_replicas``-th index of it from position ``rank``, so the shards are disjoint and
    together cover the dataset. Without ``drop_last`` the permutation is padded with its own
    first indices up to a multiple of ``num_replicas`` (every process gets the same number of
    samples, a few samples twice); with ``drop_last`` its tail is dropped instead.

    Args:
        dataset: anything with ``len()`` (an array, an ``ArrayDataset``, a tuple of arrays: the
            first array's length).
        num_replicas, rank: default to the world size and rank of the default process group.
        shuffle: a fresh permutation each epoch; call ``set_epoch(epoch)`` before each epoch.
        seed: shared by all processes.
        drop_last: drop the tail instead of padding.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from minigrad import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: give num_replicas and rank, or call "
                                   "minigrad.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.n = _length(dataset)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        if self.drop_last and self.n % self.num_replicas:
            self.num_samples = math.ceil((self.n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(self.n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s permutation (the same on every process)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This process's indices for the current epoch, in order (int64)."""
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.total_size > self.n:  # pad (repeating the order as often as needed)
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(n={self.n}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last}, epoch={self.epoch})")


def _length(dataset) -> int:
    arrays = _as_arrays(dataset)
    return len(arrays[0]) if arrays else len(dataset)
