"""Embedding: a lookup table."""
from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.layers._common import _param, _size
from minigrad.nn.module import Module


# ============================================================================= embedding
class Embedding(Module):
    """A lookup table: integer indices of any shape -> shape + (embedding_dim,); weight
    (num_embeddings, embedding_dim) ~ N(0, 1) (PyTorch's init)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings = _size("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _size("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError("padding_idx must be within num_embeddings")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        self.weight = _param(self.num_embeddings, self.embedding_dim)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s if self.padding_idx is None else s + f", padding_idx={self.padding_idx}"
