"""Mini-batch iteration over in-memory arrays."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["DataLoader", "collate"]


def _as_arrays(data) -> tuple[np.ndarray, ...] | None:
    """The arrays behind ``data`` if it is array-backed, else None (a dataset of samples,
    a list included, as in PyTorch)."""
    if isinstance(data, np.ndarray):
        return (data,)
    if isinstance(data, tuple):
        return tuple(np.asarray(a) for a in data)
    arrays = getattr(data, "arrays", None)
    if arrays is not None:
        return tuple(np.asarray(a) for a in arrays)
    return None


def collate(samples: list):
    """A batch from a list of samples, as ``torch.utils.data.default_collate``: tuples and lists
    give a tuple of batches, dicts a dict, strings a list; arrays and numbers are stacked, keeping
    their dtype (Python float -> float64, int -> int64, bool -> bool)."""
    first = samples[0]
    if isinstance(first, dict):
        return {key: collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError("DataLoader: each sample in a batch should have the same number "
                               f"of fields, got {sorted({len(s) for s in samples})}")
        return tuple(collate(list(field)) for field in zip(*samples))
    if isinstance(first, str):
        return list(samples)
    from minigrad.tensor import Tensor  # lazy: the engine imports this package

    batch = np.stack([np.asarray(s.data if isinstance(s, Tensor) else s) for s in samples])
    if batch.dtype.hasobject:
        raise TypeError("DataLoader: a sample must hold arrays, numbers, strings, dicts, tuples "
                        f"or lists; found {type(first).__name__}")
    return batch


class DataLoader:
    """Iterate over a dataset in mini-batches.

    Args:
        dataset_or_arrays: an ``ArrayDataset`` (or anything with an ``arrays`` attribute), one
            array, or a tuple of equal-length arrays (first axis = samples): batches are indexed
            out of the arrays at once. Any other dataset, a list included, is PyTorch's map-style
            dataset: ``__len__`` and ``__getitem__(i)`` giving one sample, batched by
            :func:`collate` (tuples, dicts, arrays, numbers); one with ``__getitems__(indices)``
            gives the batch's samples in one call instead.
        batch_size: samples per batch (1 by default, as in PyTorch).
        shuffle: draw a fresh permutation at the start of every epoch (every ``iter()``).
        drop_last: skip the final batch if it has fewer than ``batch_size`` samples.
        seed: seed of the ``np.random.Generator`` used for shuffling; two loaders with the same
            seed yield the same sequence of epochs. None: unpredictable.
        device: if not None, every batch tensor is moved with ``tensor.to(device)``.
        to_tensor: if False, yield NumPy arrays instead of ``minigrad.Tensor`` objects.
        sampler: the indices to visit, in order, instead of 0..n-1 (an iterable of ints with
            ``len()``, e.g. a ``DistributedSampler``: this process's shard); excludes
            ``shuffle``, which is the sampler's business then.

    Each batch is a tuple with one entry per array, ``(batch, *shape[1:])``. Dtypes are kept
    (float32 stays float32). Tensors never share memory with the dataset (as PyTorch's collated
    batches: an in-place change of a batch leaves the data alone); with ``to_tensor=False`` and no
    shuffling the entries are views (slices) of the arrays, otherwise copies of the batch only.
    """

    def __init__(self, dataset_or_arrays, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed=None, device=None, to_tensor: bool = True,
                 sampler=None):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) \
                or batch_size < 1:  # PyTorch's check (and its ValueError); 2.5 is not 2
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got "
                             f"{batch_size!r} ({type(batch_size).__name__})")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(a DistributedSampler shuffles itself: shuffle=True there)")
        self.dataset = dataset_or_arrays
        self.arrays = _as_arrays(dataset_or_arrays)
        if self.arrays is not None:
            if not self.arrays:
                raise ValueError("DataLoader needs at least one array")
            lengths = {len(a) for a in self.arrays}
            if len(lengths) != 1:
                raise ValueError(f"arrays differ in length: {[len(a) for a in self.arrays]}")
            self.n = lengths.pop()
        else:
            self.n = len(dataset_or_arrays)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = device
        self.to_tensor = to_tensor
        self.sampler = sampler
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = self.n if self.sampler is None else len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def _fetch(self, index):
        if self.arrays is not None:
            return tuple(a[index] for a in self.arrays)
        indices = range(self.n)[index] if isinstance(index, slice) else index.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(list(indices)) if getitems else [self.dataset[i] for i in indices]
        batch = collate(list(samples))
        return batch if isinstance(batch, (tuple, dict)) else (batch,)

    def _wrap(self, batch):
        if not self.to_tensor:
            return batch
        if isinstance(batch, dict):
            return {key: self._wrap(b) for key, b in batch.items()}
        if isinstance(batch, tuple):
            return tuple(self._wrap(b) for b in batch)
        if isinstance(batch, list):  # strings
            return batch
        from minigrad.tensor import Tensor  # lazy: the engine imports this package

        tensor = Tensor(batch)
        return tensor if self.device is None else tensor.to(self.device)

    def __iter__(self):
        """One epoch's batches; its order is drawn here, at ``iter()`` (not at the first
        ``next()``), so ``state_dict()`` after ``iter()`` describes the epoch after it."""
        if self.sampler is not None:
            # what it yields, as in torch (its len() only sizes len(loader))
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        else:
            order = self.rng.permutation(self.n) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order):
        n = self.n if order is None else len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, n)
            index = slice(start, end) if order is None else order[start:end]
            batch = self._fetch(index)
            if self.to_tensor and order is None and self.arrays is not None:
                batch = tuple(np.array(b) for b in batch)  # views: copy, as torch's stack does
            yield self._wrap(batch)

    # --------------------------------------------------------------- exact resumption
    def state_dict(self) -> dict:
        """What decides the order of the next epoch (the next ``iter()``): the shuffling
        generator's state (JSON-able). ``load_state_dict`` of it, then ``iter()``, yields the
        batches the ``iter()`` after this call would have, so a resumed run repeats a killed
        run's order. A sampler's order is its own business (``set_epoch`` for a
        ``DistributedSampler``)."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self) -> str:
        return (f"DataLoader(n={self.n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                + (f"sampler={self.sampler!r}, " if self.sampler is not None else "")
                + f"drop_last={self.drop_last}, batches={len(self)})")
