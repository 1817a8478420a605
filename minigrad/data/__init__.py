"""Datasets and mini-batch loading (pure NumPy).

See :mod:`minigrad.data.datasets` for where each dataset comes from and how it is cached.
"""

from .datasets import (
    FASHION_MNIST_CLASSES,
    ArrayDataset,
    DatasetError,
    DatasetNotFoundError,
    cache_dir,
    fashion_mnist_dataset,
    gaussian_1d,
    grid_centres,
    grid_of_gaussians,
    load_digits8x8,
    load_fashion_mnist,
    load_idx_folder,
    load_mnist,
    mnist_dataset,
    read_idx,
    ring_centres,
    ring_of_gaussians,
    to_unit_range,
    write_idx,
)
from .loader import DataLoader
from .sampler import DistributedSampler

__all__ = [
    "FASHION_MNIST_CLASSES",
    "ArrayDataset",
    "DataLoader",
    "DatasetError",
    "DatasetNotFoundError",
    "DistributedSampler",
    "cache_dir",
    "fashion_mnist_dataset",
    "gaussian_1d",
    "grid_centres",
    "grid_of_gaussians",
    "load_digits8x8",
    "load_fashion_mnist",
    "load_idx_folder",
    "load_mnist",
    "mnist_dataset",
    "read_idx",
    "ring_centres",
    "ring_of_gaussians",
    "to_unit_range",
    "write_idx",
]
