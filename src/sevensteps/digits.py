"""The built-in digit task as ordinary Learner arguments: digit splits become DataLoaders, a recipe name a
model, optimizer and loss; and the model files (``model.safetensors``) that ``predict`` and ``evaluate`` read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import serialize
from .backend import xp
from .callbacks import GradientNorm
from .data.loader import DataLoaders
from .learner import Learner
from .metrics import accuracy
from .models import INPUT_SIZE, n_outputs_for
from .random import Generator
from .recipes import build_model, loss_function, optimizer_function, recipe_callbacks, resolve_loss
from .runs import Rules, Settings
from .stopping import MaxEpochs, Patience, StopRule, TimeLimit


def targets(splits: Any, data: Any) -> Any:
    """Binary targets as a float column (N, 1) to match the one output; class indices otherwise."""
    values = splits.targets(data)
    return values.astype(xp.float32).reshape(-1, 1) if len(splits.classes) == 2 else values


def stop_rules(rules: Rules) -> list[StopRule]:
    found: list[StopRule] = [MaxEpochs(rules.epochs)]
    if rules.patience is not None:
        found.append(Patience(rules.patience))
    if rules.time_limit is not None:
        found.append(TimeLimit(rules.time_limit))
    return found


def digit_learner(splits: Any, settings: Settings | None = None, rules: Rules | None = None, cbs: Iterable[Any] = (),
                  quiet: bool = False) -> Learner:
    """A Learner for ``splits`` with a built-in model: random weights and shuffling both drawn from one
    generator seeded with ``settings.seed``, so a run is reproducible and resumable bit for bit."""
    settings = settings or Settings()
    n_classes = len(splits.classes)
    loss_name = resolve_loss(settings.loss, n_classes)
    opt_func = optimizer_function(settings.optimizer)
    if isinstance(settings.batch_size, bool) or settings.batch_size < 1 or not settings.lr > 0:
        raise ValueError(f"need batch size >= 1 and lr > 0, got {settings.batch_size} and {settings.lr}")
    generator = Generator(settings.seed)
    model = build_model(settings.model, n_outputs_for(n_classes), generator, hidden=settings.hidden)
    dls = DataLoaders.from_arrays(splits.train.images.reshape(-1, INPUT_SIZE), targets(splits, splits.train),
                                  splits.valid.images.reshape(-1, INPUT_SIZE), targets(splits, splits.valid),
                                  batch_size=settings.batch_size, generator=generator)
    learn = Learner(dls, model, loss_function(loss_name), opt_func, settings.lr, metrics=[accuracy],
                    cbs=[GradientNorm(), *recipe_callbacks(settings.model), *cbs],
                    stop_rules=stop_rules(rules or Rules()), quiet=quiet)
    learn.loss_name, learn.settings, learn.classes = loss_name, settings, list(splits.classes)
    learn.class_names = splits.class_names()
    return learn


def model_metadata(learn: Learner) -> dict[str, Any]:
    from . import __version__

    return {"format": serialize.FORMAT, "model": learn.settings.model, "hidden": learn.settings.hidden,
            "classes": learn.classes, "class_names": learn.class_names, "input_size": [28, 28],
            "normalisation": "pixel / 255, white ink on black as in MNIST", "loss": learn.loss_name,
            "versions": {"sevensteps": __version__, "numpy": xp.__version__}}


def save_model(learn: Learner, path: Path) -> None:
    """The weights and what is needed to use them, for ``predict`` and ``evaluate``."""
    serialize.save(path, {name: t.data for name, t in learn.model.state_dict().items()}, model_metadata(learn))


def load_model(path: Path) -> tuple[Any, dict[str, Any]]:
    """A saved model, ready to predict, and its metadata; names what does not match."""
    arrays, meta = serialize.load(path, serialize.FORMAT, schema=serialize.MODEL_METADATA)
    try:
        model = build_model(meta["model"], n_outputs_for(len(meta["classes"])), None, hidden=meta["hidden"])
        model.load_state_dict(arrays)
    except (KeyError, ValueError, TypeError) as error:
        raise serialize.ModelFileError(f"{path}: weights do not match a {meta['model']} model ({error})") from error
    model.eval()
    return model, meta


def gradient_check(splits: Any, model: Any, loss_name: str = "mnist_loss", batch: int = 256,
                   eps: float = 1e-6) -> Any:
    """Nudging vs backpropagation on one batch of training images in float64, for the output layer's weights
    (all of them for the seed's linear model: the seed's claim that calculus is "just a performance
    optimization"); see :func:`sevensteps.gradcheck.gradcheck_output_layer`. Used by ``sevensteps gradcheck``
    and by the run report."""
    from .gradcheck import gradcheck_output_layer
    from .tensor import Tensor

    x = Tensor(splits.train.images[:batch].reshape(-1, INPUT_SIZE).astype(xp.float64))
    y = Tensor(targets(splits, splits.train)[:batch])
    loss = loss_function(loss_name)
    return gradcheck_output_layer(model, x, lambda scores: loss(scores, y), eps=eps)
