"""The program with no weights: pixel similarity.

Average every training image of a class into its "ideal" image, then call a new image whichever ideal
it is closest to. For two classes that is the seed's ideal 3 and ideal 7; for ten it is a
nearest-centroid classifier. Distance is L1 (mean absolute difference, the seed's choice) or RMSE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backend import xp
from .data.dataset import Dataset


@dataclass
class BaselineReport:
    """Accuracy overall and per class, on one data set."""

    accuracy: float
    per_class: dict[int, float]
    counts: dict[int, int]
    names: dict[int, str]

    def rows(self) -> list[tuple[str, int, float]]:
        return [(self.names.get(c, str(c)), self.counts[c], self.per_class[c]) for c in self.per_class]

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy,
                "per_class": {self.names.get(c, str(c)): acc for c, acc in self.per_class.items()}}


class PixelSimilarity:
    """Nearest ideal image, by ``metric='l1'`` (mean |x − ideal|) or ``'rmse'`` (√mean (x − ideal)²)."""

    def __init__(self, metric: str = "l1"):
        if metric not in ("l1", "rmse"):
            raise ValueError(f"metric must be 'l1' or 'rmse', not {metric!r}")
        self.metric = metric
        self.classes: list[int] = []
        self.ideals: Any = None
        self.names: dict[int, str] = {}

    def fit(self, data: Dataset, classes: list[int] | None = None) -> PixelSimilarity:
        """The mean image of each class: ideals[k] is the ideal of classes[k]."""
        self.classes = list(classes) if classes is not None else sorted(data.counts())
        missing = [c for c in self.classes if not (data.labels == c).any()]
        if missing:
            raise ValueError(f"{data.source} has no images of class {missing} to average")
        self.ideals = xp.stack([data.images[data.labels == c].mean(axis=0) for c in self.classes])
        self.names = {c: data.name_of(c) for c in self.classes}
        return self

    def distances(self, images: Any) -> Any:
        """(N, classes) distance of each image to each ideal; one class at a time to bound memory."""
        columns = []
        for ideal in self.ideals:
            diff = images - ideal
            if self.metric == "l1":
                columns.append(xp.abs(diff).mean(axis=(-1, -2)))
            else:
                columns.append(xp.sqrt((diff * diff).mean(axis=(-1, -2))))
        return xp.stack(columns, axis=-1)

    def predict(self, images: Any) -> Any:
        """The label of the nearest ideal for each image."""
        if self.ideals is None:
            raise RuntimeError("call fit() before predict()")
        return xp.asarray(self.classes)[self.distances(images).argmin(axis=-1)]

    def evaluate(self, data: Dataset) -> BaselineReport:
        predictions = self.predict(data.images)
        correct = predictions == data.labels
        per_class, counts = {}, {}
        for c in self.classes:
            mask = data.labels == c
            counts[c] = int(mask.sum())
            per_class[c] = float(correct[mask].mean()) if counts[c] else float("nan")
        return BaselineReport(float(correct.mean()), per_class, counts, self.names)

    def _repr_png_(self) -> bytes | None:
        """In a notebook, a fitted baseline shows its ideal digits."""
        if self.ideals is None:
            return None
        from .extras import MissingExtra

        try:
            from . import plots
        except MissingExtra:  # without matplotlib a notebook shows the text repr
            return None
        return plots.png_bytes(plots.ideal_digits(self.ideal_images()))

    def ideal_images(self) -> dict[str, Any]:
        """The ideal image of each class, by name, for plotting."""
        return {self.names[c]: self.ideals[k] for k, c in enumerate(self.classes)}
