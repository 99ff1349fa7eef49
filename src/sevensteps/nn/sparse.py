"""Embedding: a lookup table of learned rows (``torch.nn.modules.sparse``)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..backend import as_dtype
from ..random import Generator, get_generator
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` (shape (num_embeddings, embedding_dim)) for index ``i``; N(0, 1) init."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 generator: Generator | None = None, dtype: Any = None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        self.padding_idx = padding_idx
        weight = get_generator(generator).normal((num_embeddings, embedding_dim), as_dtype(dtype or "float32"))
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, indices: Tensor) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        extra = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"
