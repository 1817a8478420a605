"""Datasets and mini-batch loading (pure NumPy): the IDX reader, the data cache (its atomic
``.npz`` files: ``load_cache_file``, ``save_cache_file``), ``ArrayDataset``,
``DataLoader`` and the samplers.

The GAN zoo's data (MNIST, Fashion-MNIST, the toy mixtures, CIFAR-10) lives in ``gans/`` since
issue 25 (gans/mnist.py, gans/toy_data.py, gans/cifar.py); the old names below still resolve,
to those, on first use.
"""

from . import datasets
from .datasets import (
    ArrayDataset,
    DatasetError,
    DatasetNotFoundError,
    cache_dir,
    load_cache_file,
    load_idx_folder,
    read_idx,
    save_cache_file,
    to_unit_range,
    write_idx,
)
from .loader import DataLoader
from .sampler import DistributedSampler

__all__ = [
    "ArrayDataset",
    "DataLoader",
    "DatasetError",
    "DatasetNotFoundError",
    "DistributedSampler",
    "cache_dir",
    "load_cache_file",
    "load_idx_folder",
    "read_idx",
    "save_cache_file",
    "to_unit_range",
    "write_idx",
]


def __getattr__(name):
    """The names that moved to gans/ (``minigrad.data.load_mnist``, ``mnist_dataset``,
    ``ring_of_gaussians``, ...), from their new home."""
    return datasets.__getattr__(name)
