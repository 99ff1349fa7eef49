"""Batches: step 6's "batch after batch", with seeded shuffling and no per-image Python work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..backend import xp
from ..random import Generator, get_generator
from ..tensor import Tensor


class TensorDataset:
    """Arrays (or tensors) of equal length, indexed together."""

    def __init__(self, *arrays: Any):
        self.arrays = [a.data if isinstance(a, Tensor) else xp.asarray(a) for a in arrays]
        if not self.arrays or any(len(a) != len(self.arrays[0]) for a in self.arrays):
            raise ValueError("TensorDataset needs one or more arrays of the same length")

    def __len__(self) -> int:
        return len(self.arrays[0])


class DataLoader:
    """Yields tuples of batch tensors. Without shuffling each batch is a view (no copy); with it, one
    gather per array per batch along a permutation drawn from ``generator`` once per epoch."""

    def __init__(self, dataset: TensorDataset, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, generator: Generator | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        order = get_generator(self.generator).permutation(n) if self.shuffle else None
        for batch in range(len(self)):
            start = batch * self.batch_size
            stop = min(start + self.batch_size, n)
            if order is None:
                yield tuple(Tensor(a[start:stop]) for a in self.dataset.arrays)
            else:
                index = order[start:stop]
                yield tuple(Tensor(a.take(index, axis=0)) for a in self.dataset.arrays)
