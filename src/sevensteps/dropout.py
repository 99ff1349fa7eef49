"""Dropout, as ``torch.nn.functional.dropout``: seeded random zeros while training, nothing in evaluation."""

from __future__ import annotations

from typing import Any

from .autograd import Context, Function
from .backend import xp
from .random import Generator, get_generator
from .tensor import Tensor


class Dropout(Function):
    """out = x·m / (1 − p), with m a random 0/1 mask that keeps each value with probability 1 − p;
    ∂x = g·m / (1 − p). The scaling keeps the expected value, so nothing changes at evaluation, where
    dropout is off."""

    @staticmethod
    def forward(ctx: Context, x: Any, p: float, generator: Generator) -> Any:
        if p == 1:
            scale = xp.zeros(x.shape, dtype=x.dtype)
        else:
            keep = generator.uniform(0.0, 1.0, x.shape, x.dtype) >= p
            scale = keep * xp.asarray(1 / (1 - p), dtype=x.dtype)
        ctx.scale = scale
        return x * scale

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g * ctx.scale, None, None


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator: Generator | None = None) -> Tensor:
    """Zero each value with probability ``p`` while training (seeded through ``generator``), scaling the rest."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be between 0 and 1, not {p}")
    if not training or p == 0:
        return input
    return Dropout.apply(input, p, get_generator(generator))
