"""The chapter's models: ``linear`` (784 → 1, the seed's) and ``mlp`` (784 → 30 → ReLU → 1).

With more than two classes the last layer has one output per class (softmax cross-entropy). Both are
``nn.Sequential`` (so weights keep the names ``1.weight``, ``3.bias`` that run folders store), and
:func:`first_layer` / :func:`last_layer` name the layers a picture or a gradient check needs.
"""

from __future__ import annotations

from . import nn
from .random import Generator

INPUT_SIZE = 28 * 28


def linear(n_outputs: int, generator: Generator | None = None) -> nn.Sequential:
    """784 pixels → ``n_outputs`` scores: one weight per pixel (and per output) plus a bias."""
    return nn.Sequential(nn.Flatten(), nn.Linear(INPUT_SIZE, n_outputs, generator=generator))


def mlp(n_outputs: int, generator: Generator | None = None, hidden: int = 30) -> nn.Sequential:
    """784 pixels → ``hidden`` ReLU units → ``n_outputs`` scores."""
    if not 1 <= hidden <= 100_000:
        raise ValueError(f"the hidden layer needs between 1 and 100000 units, not {hidden}")
    return nn.Sequential(nn.Flatten(), nn.Linear(INPUT_SIZE, hidden, generator=generator), nn.ReLU(),
                         nn.Linear(hidden, n_outputs, generator=generator))


def layers_with_weights(model: nn.Module) -> list[nn.Module]:
    """The model's layers that own weights, input side first."""
    return [m for _, m in model.named_modules() if m._parameters]


def first_layer(model: nn.Module) -> nn.Module:
    """The layer that sees the pixels (its weights can be drawn as images)."""
    return layers_with_weights(model)[0]


def last_layer(model: nn.Module) -> nn.Module:
    """The layer that gives the scores."""
    return layers_with_weights(model)[-1]


def n_outputs_for(n_classes: int) -> int:
    """One output ("is it the first class?") for two classes, one per class otherwise."""
    return 1 if n_classes == 2 else n_classes


def make_model(kind: str, n_outputs: int, hidden: int = 30, generator: Generator | None = None) -> nn.Module:
    """A freshly initialised built-in model by name (see :mod:`sevensteps.recipes`)."""
    from .recipes import build_model

    return build_model(kind, n_outputs, generator, hidden=hidden)
