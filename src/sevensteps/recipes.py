"""The built-in digit models and their tested default recipes, in one table.

Adding a model is one entry: where its builder lives (``module:function``, called as
``builder(n_outputs, generator, **options)``), the options it takes, and the optimizer, learning rate,
batch size and epochs that the test suite shows reach the chapter's results with it. This module
imports only the standard library, so the command line can offer the names without loading NumPy.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """How to build a model and how to train it by default."""

    builder: str  # "module:function"
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    options: tuple[str, ...] = ()  # keyword options the builder takes, e.g. ("hidden",)
    about: str = ""
    schedule: str = "constant"  # how lr moves during the run: "constant", or "cosine" (see CosineDecay)


RECIPES: dict[str, Recipe] = {
    # 97.0-97.5% on the real MNIST test 3s/7s after training on the sample's 1,000 (tests/test_cli.py)
    "linear": Recipe("sevensteps.models:linear", "sgd", 1.0, 256, 20, about="784→1, one weight per pixel"),
    # 97.84% on the same (tests/test_cli.py): lr 0.1 with batch 256 got 96.96%
    "mlp": Recipe("sevensteps.models:mlp", "sgd", 0.5, 64, 40, ("hidden",), about="784→hidden→ReLU→1"),
    # bench/conv.py: 99.36% on the same with batch 32, 20 epochs (98.58% with batch 64, 12 epochs); random shifts
    # of up to 2 pixels while training (seeded, off in eval()) are part of the model
    "cnn": Recipe("sevensteps.layers:cnn", "adam", 1e-3, 32, 20, schedule="cosine",
                  about="random shifts, two 3×3 conv blocks with max pooling, 1600→128→dropout→out"),
}
SCHEDULES = ("constant", "cosine")

OPTIMIZERS = ("sgd", "momentum", "adam")
BINARY_LOSSES = ("mnist_loss", "bce")
MULTICLASS_LOSSES = ("cross_entropy",)
LOSSES = BINARY_LOSSES + MULTICLASS_LOSSES


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(RECIPES)}")
    return RECIPES[name]


def cosine_lr(lr: float, step: int, total_steps: int) -> float:
    """The cosine schedule: lr·(1 + cos(π·step/total_steps))/2, from lr at step 0 down to 0 at the end."""
    return lr * (1 + math.cos(math.pi * min(step, total_steps) / max(total_steps, 1))) / 2


class CosineDecay:
    """A Learner callback: before each batch, the learning rate falls along half a cosine from ``learn.lr`` to 0
    over the whole run (:func:`cosine_lr`, batch by batch), so the last steps are small and the final weights do
    not jump around.

    The rate depends only on where the run is (epoch, batch, planned epochs), never on what came before, so a
    run resumed from its checkpoint takes the same steps. The planned length is the smallest ``MaxEpochs``
    among the stop rules (with none, the rate stays at ``learn.lr``); changing ``--epochs`` on resume
    stretches the rest of the curve.
    """

    def before_batch(self, learn: Any) -> None:
        from .stopping import MaxEpochs
        from .training import set_lr

        planned = [rule.epochs for rule in learn.stop_rules if isinstance(rule, MaxEpochs)]
        if not planned:
            return
        per_epoch = len(learn.dls.train)
        step = (learn.epoch - 1) * per_epoch + learn.batch - 1
        set_lr(learn.opt, cosine_lr(learn.lr, step, min(planned) * per_epoch))


def recipe_callbacks(name: str) -> list[Any]:
    """The callbacks a built-in model's recipe trains with (its learning-rate schedule)."""
    return [CosineDecay()] if recipe(name).schedule == "cosine" else []


def build_model(name: str, n_outputs: int, generator: Any = None, **options: Any) -> Any:
    """A freshly initialised built-in model (step 1, "init": random weights drawn from ``generator``).

    Options the model does not take (``hidden`` for ``linear``) are ignored here; the command line refuses them.
    """
    entry = recipe(name)
    module, function = entry.builder.split(":")
    builder = getattr(importlib.import_module(module), function)
    return builder(n_outputs, generator, **{k: v for k, v in options.items() if k in entry.options})


def resolve_loss(name: str | None, n_classes: int) -> str:
    """The loss's name: mnist_loss for two classes and cross_entropy for more unless one is asked for."""
    if name is None:
        return "mnist_loss" if n_classes == 2 else "cross_entropy"
    allowed = BINARY_LOSSES if n_classes == 2 else MULTICLASS_LOSSES
    if name not in allowed:
        kind = "two classes" if n_classes == 2 else f"{n_classes} classes"
        raise ValueError(f"loss {name!r} does not fit {kind}: choose {', '.join(allowed)}")
    return name


def loss_function(name: str) -> Any:
    from . import functional as F

    losses = {"mnist_loss": F.mnist_loss, "bce": F.binary_cross_entropy_with_logits, "cross_entropy": F.cross_entropy}
    return losses[name]


def optimizer_function(name: str) -> Any:
    """``opt_func(params, lr)`` for an optimizer name (momentum is SGD with momentum 0.9)."""
    from functools import partial

    from . import optim

    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    return {"sgd": optim.SGD, "momentum": partial(optim.SGD, momentum=0.9), "adam": optim.Adam}[name]
