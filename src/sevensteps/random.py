"""Seeded randomness: the same seed gives the same numbers, and a generator's state can be saved.

``manual_seed(s)`` reseeds the default generator, as ``torch.manual_seed`` does. Every function that
draws random numbers also takes an explicit ``generator=``.
"""

from __future__ import annotations

import json
from typing import Any

from .backend import default_rng


class Generator:
    """A seedable source of random numbers (PCG64), with state that round-trips through JSON."""

    def __init__(self, seed: int | None = None):
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> Generator:
        self.initial_seed = seed
        self.bits = default_rng(seed)
        return self

    def get_state(self) -> str:
        """The full state as a JSON string (safe to store next to a checkpoint; never a pickle)."""
        return json.dumps(self.bits.bit_generator.state)

    def set_state(self, state: str) -> None:
        self.bits.bit_generator.state = json.loads(state)

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.bits.standard_normal(shape, dtype=dtype)

    def uniform(self, low: float, high: float, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.bits.uniform(low, high, shape).astype(dtype, copy=False)

    def integers(self, low: int, high: int, shape: tuple[int, ...]) -> Any:
        return self.bits.integers(low, high, shape)

    def permutation(self, n: int) -> Any:
        return self.bits.permutation(n)


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def get_generator(generator: Generator | None) -> Generator:
    return default_generator if generator is None else generator
