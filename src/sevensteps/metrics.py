"""What the predictions are worth: accuracy, probabilities, class indices, confusion matrix.

One output means two classes ("is it the first class?": score > 0, i.e. σ(score) > 0.5); more outputs
mean one per class (the largest wins).
"""

from __future__ import annotations

from typing import Any

from .autograd import no_grad
from .backend import xp
from .tensor import Tensor


def _array(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def decide(outputs: Any) -> Any:
    """Class positions from model outputs: score > 0 for one output, the largest output otherwise."""
    outputs = _array(outputs)
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        return (outputs.reshape(-1) > 0).astype(xp.int64)
    return outputs.argmax(axis=-1)


def accuracy(preds: Tensor, targets: Tensor) -> float:
    """The fraction of ``preds`` that name the right class: for one output a target of 1 means
    "the first class" (score > 0), for several outputs a target is the class position."""
    predicted = decide(preds)
    wanted = _array(targets).reshape(-1).astype(xp.int64)
    if predicted.shape != wanted.shape:
        raise ValueError(f"accuracy: {predicted.shape[0]} predictions but {wanted.shape[0]} targets")
    return float((predicted == wanted).mean()) if len(wanted) else float("nan")


def probabilities(model: Any, images: Any, n_classes: int, chunk: int = 1000) -> Any:
    """Class probabilities (N, classes), in the order of the classes: σ(score) and 1 − σ(score) for two
    classes ("is it the first?"), softmax of the outputs for more. Images go through ``chunk`` at a time, so a
    convolutional model's intermediate maps stay small."""
    parts = []
    with no_grad():
        for start in range(0, max(len(images), 1), chunk):
            out = model(Tensor(images[start:start + chunk]))
            if n_classes == 2:
                p = out.reshape(-1).sigmoid().data
                parts.append(xp.stack([p, 1 - p], axis=-1))
            else:
                parts.append(out.softmax(-1).data)
    return xp.concatenate(parts)


def class_index(labels: Any, classes: list[int]) -> Any:
    """Each label's position in ``classes`` (-1 for a label not among them)."""
    labels = xp.asarray(labels)
    lookup = xp.full(max(max(classes), int(labels.max(initial=0))) + 1, -1, dtype=xp.int64)
    lookup[classes] = xp.arange(len(classes))
    return lookup[labels]


def confusion_matrix(labels: Any, predicted: Any, classes: list[int]) -> Any:
    """counts[i, j]: how many images of ``classes[i]`` were called ``classes[j]``."""
    matrix = xp.zeros((len(classes), len(classes)), dtype=xp.int64)
    xp.add.at(matrix, (class_index(labels, classes), class_index(predicted, classes)), 1)
    return matrix


def percent(x: float | None) -> str:
    """0.9784 → "97.84%" (None → "n/a"): the one way accuracies are printed."""
    return "n/a" if x is None else f"{100 * x:.2f}%"
