"""Batches: step 6's "batch after batch", seeded, for anything indexable.

``DataLoader(dataset, batch_size, shuffle)`` collates like PyTorch: a batch of numbers becomes a tensor,
a batch of tensors (or arrays) is stacked, a batch of ``(x, y)`` pairs becomes ``(xs, ys)``, and strings
stay a list. A :class:`TensorDataset` takes a fast path: one gather per array per batch, no per-item work.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence
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

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(a[index]) for a in self.arrays)


def collate(items: Sequence[Any]) -> Any:
    """One batch from a list of items, as PyTorch's ``default_collate`` makes it."""
    first = items[0]
    if isinstance(first, Tensor | xp.ndarray):
        return Tensor(xp.stack([x.data if isinstance(x, Tensor) else x for x in items]))
    if isinstance(first, str | bytes):
        return list(items)
    if isinstance(first, bool | numbers.Number | xp.generic):
        return Tensor(xp.asarray(items))
    if isinstance(first, tuple | list):
        if any(len(item) != len(first) for item in items):
            raise ValueError(f"the items of a batch have different lengths ({len(first)} and others): "
                             "each item should be a pair (x, y)")
        return tuple(collate([item[i] for item in items]) for i in range(len(first)))
    if isinstance(first, dict):
        return {key: collate([item[key] for item in items]) for key in first}
    raise TypeError(f"cannot make a batch of {type(first).__name__} items: give numbers, tensors, arrays, "
                    "strings, or tuples of them")


class DataLoader:
    """Yields batches of ``dataset`` (anything with ``len`` and ``[i]``), reshuffled every epoch if asked,
    with the order drawn from ``generator`` (default: the one ``manual_seed`` seeds)."""

    def __init__(self, dataset: Any, batch_size: int = 64, shuffle: bool = False, drop_last: bool = False,
                 generator: Generator | None = None):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader needs a data set with len() and [i] (a list, a range, a TensorDataset), "
                            f"not {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number of at least 1, not {batch_size!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = get_generator(self.generator).permutation(n) if self.shuffle else None
        for batch in range(len(self)):
            start = batch * self.batch_size
            stop = min(start + self.batch_size, n)
            if isinstance(self.dataset, TensorDataset):
                if order is None:  # a view, no copy
                    yield tuple(Tensor(a[start:stop]) for a in self.dataset.arrays)
                else:
                    yield tuple(Tensor(a.take(order[start:stop], axis=0)) for a in self.dataset.arrays)
            else:
                index = range(start, stop) if order is None else order[start:stop]
                yield collate([self.dataset[int(i)] for i in index])

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle})")


def first(iterable: Any) -> Any:
    """The first item (the first batch of a DataLoader), as fastcore's ``first``."""
    return next(iter(iterable))


class DataLoaders:
    """A training and a validation DataLoader: ``dls.train``, ``dls.valid`` (fastai's names)."""

    def __init__(self, train: DataLoader, valid: DataLoader | None = None):
        self.train, self.valid = train, valid

    @classmethod
    def from_arrays(cls, train_x: Any, train_y: Any, valid_x: Any = None, valid_y: Any = None, batch_size: int = 64,
                    generator: Generator | None = None, valid_batch_size: int = 4096) -> DataLoaders:
        """Shuffled training batches and in-order validation batches from arrays or tensors."""
        train = DataLoader(TensorDataset(train_x, train_y), batch_size, shuffle=True, generator=generator)
        valid = None
        if valid_x is not None:
            valid = DataLoader(TensorDataset(valid_x, valid_y), valid_batch_size)
        return cls(train, valid)

    def __getitem__(self, index: int) -> DataLoader | None:
        return (self.train, self.valid)[index]

    def __repr__(self) -> str:
        return f"DataLoaders(train={self.train!r}, valid={self.valid!r})"
