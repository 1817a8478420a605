"""minigrad.data and minigrad.save/load against PyTorch's semantics (torch.utils.data,
torch.save/torch.load): where minigrad takes a PyTorch name, the same call gives the same answer.
Engine-light and torch-free: the expected values are what torch gives (noted beside each)."""

import numpy as np

import minigrad
from minigrad.data import DataLoader, DistributedSampler
from minigrad.utils import io


def _epoch(loader):
    return [tuple(np.asarray(b) for b in batch) for batch in loader]


def test_default_batch_size_is_one():
    # torch: DataLoader(x) has batch_size=1, so len 10 and batches of one sample
    loader = DataLoader(np.arange(10.0), to_tensor=False)
    assert len(loader) == 10
    assert [b[0].shape for b in loader] == [(1,)] * 10


def test_tensor_batches_do_not_alias_the_dataset():
    # torch's collate stacks into a new tensor: changing a batch never changes the data
    x = np.zeros((4, 2), np.float32)
    for (xb,) in DataLoader(x, batch_size=2):
        xb += 1
    assert not x.any()
