"""Utilities: checkpoint ``save`` / ``load`` (``.npz``, no pickle)."""
from minigrad.utils.io import CheckpointError, load, save

__all__ = ["save", "load", "CheckpointError"]
