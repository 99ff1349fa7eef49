"""The chapter's models: ``linear`` (784 → 1, the seed's) and ``mlp`` (784 → 30 → ReLU → 1).

With more than two classes the last layer has one output per class (softmax cross-entropy).
"""

from __future__ import annotations

from typing import Any

from . import nn
from .autograd import no_grad
from .backend import xp
from .random import Generator
from .tensor import Tensor

MODEL_KINDS = ("linear", "mlp")
INPUT_SIZE = 28 * 28


def make_model(kind: str, n_outputs: int, hidden: int = 30, generator: Generator | None = None) -> nn.Module:
    """A freshly initialised model (step 1, "init": random weights, seeded through ``generator``)."""
    if kind == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(INPUT_SIZE, n_outputs, generator=generator))
    if kind == "mlp":
        if hidden < 1:
            raise ValueError(f"the hidden layer needs at least 1 unit, not {hidden}")
        return nn.Sequential(nn.Flatten(), nn.Linear(INPUT_SIZE, hidden, generator=generator), nn.ReLU(),
                             nn.Linear(hidden, n_outputs, generator=generator))
    raise ValueError(f"unknown model {kind!r}: choose one of {', '.join(MODEL_KINDS)}")


def n_outputs_for(n_classes: int) -> int:
    """One output ("is it the first class?") for two classes, one per class otherwise."""
    return 1 if n_classes == 2 else n_classes


def probabilities(model: nn.Module, images: Any, n_classes: int) -> Any:
    """Class probabilities (N, classes), in the order of the classes: σ(score) and 1 − σ(score) for two
    classes ("is it the first?"), softmax of the outputs for more."""
    with no_grad():
        out = model(Tensor(images))
        if n_classes == 2:
            p = out.reshape(-1).sigmoid().data
            return xp.stack([p, 1 - p], axis=-1)
        return out.softmax(-1).data


def class_index(labels: Any, classes: list[int]) -> Any:
    """Each label's position in ``classes`` (-1 for a label not among them)."""
    lookup = xp.full(max(classes) + 1, -1, dtype=xp.int64)
    lookup[classes] = xp.arange(len(classes))
    return lookup[labels]


def confusion_matrix(labels: Any, predicted: Any, classes: list[int]) -> Any:
    """counts[i, j]: how many images of ``classes[i]`` were called ``classes[j]``."""
    matrix = xp.zeros((len(classes), len(classes)), dtype=xp.int64)
    xp.add.at(matrix, (class_index(labels, classes), class_index(predicted, classes)), 1)
    return matrix
