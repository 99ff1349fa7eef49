"""What every source yields: images as float32 in [0, 1] with integer labels, and the error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..backend import xp

IMAGE_SHAPE = (28, 28)


class DataError(Exception):
    """Bad or missing data: the message names the file or value and what is wrong, in one line."""


@dataclass
class Dataset:
    """Images of shape (N, 28, 28), float32 in [0, 1], and their labels (N,), int64.

    ``names`` maps a label to a readable class name (``{3: "3"}`` for digits, ``{0: "T-shirt/top"}``...).
    ``notes`` collects what was converted on the way in (colour to grayscale, resized), said once.
    """

    images: Any
    labels: Any
    source: str
    names: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.source}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def name_of(self, label: int) -> str:
        return self.names.get(int(label), str(int(label)))

    def counts(self) -> dict[int, int]:
        values, counts = xp.unique(self.labels, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}

    def subset(self, index: Any, source: str | None = None) -> Dataset:
        return Dataset(self.images[index], self.labels[index], source or self.source, self.names, self.notes)

    def select(self, classes: list[int] | None) -> Dataset:
        """Only the images whose label is one of ``classes`` (all of them for ``None``)."""
        if classes is None:
            return self
        keep = xp.isin(self.labels, classes)
        return self if keep.all() else self.subset(keep)  # no copy of 60,000 images to keep them all

    @staticmethod
    def join(parts: list[Dataset], source: str) -> Dataset:
        parts = [p for p in parts if p is not None]
        names = {k: v for p in parts for k, v in p.names.items()}
        notes = [n for p in parts for n in p.notes]
        images = xp.concatenate([p.images for p in parts])
        labels = xp.concatenate([p.labels for p in parts])
        return Dataset(images, labels, source, names, notes)


def stratified_split(data: Dataset, valid_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split each class separately, so train and validation keep the same class balance.

    The split depends only on ``seed`` (fixed by default), never on the training seed: the validation
    set stays the same from run to run.
    """
    if not 0 < valid_fraction < 1:
        raise DataError(f"the validation fraction must be between 0 and 1, not {valid_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError(f"the split seed must be a non-negative integer, not {seed!r}")
    rng = xp.random.default_rng(seed)
    train_index, valid_index = [], []
    for label in sorted(data.counts()):
        index = xp.flatnonzero(data.labels == label)
        index = index[rng.permutation(len(index))]
        cut = round(len(index) * valid_fraction)
        valid_index.append(index[:cut])
        train_index.append(index[cut:])
    train = xp.sort(xp.concatenate(train_index))
    valid = xp.sort(xp.concatenate(valid_index))
    return data.subset(train, f"{data.source} (train split)"), data.subset(valid, f"{data.source} (valid split)")


def to_float_images(pixels: Any, source: str) -> Any:
    """uint8 pixels (N, 28, 28) to float32 in [0, 1]."""
    if pixels.ndim != 3 or pixels.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{source}: images have shape {pixels.shape[1:]}, expected 28×28")
    images = pixels.astype(xp.float32)
    images /= 255
    return images
