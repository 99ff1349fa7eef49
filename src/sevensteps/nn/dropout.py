"""Dropout: zero random elements while training."""

from __future__ import annotations

from .. import functional as F
from ..random import Generator
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """While training, zero each element with probability ``p`` and scale the rest by 1/(1 − p)."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.generator = p, generator

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"
