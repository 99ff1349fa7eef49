"""Option types and shared options of the command line. Standard library only (and the stdlib-only recipe
table), so that ``sevensteps --help`` is instant."""

from __future__ import annotations

import argparse

from ..recipes import LOSSES, OPTIMIZERS, RECIPES

MODEL_NAMES = tuple(RECIPES)
MAX_SEED = 2**32 - 1
MAX_HIDDEN = 65_536  # the bound model files are checked against (serialize.MAX_HIDDEN), kept stdlib-only here


class UsageError(Exception):
    """A bad value given on the command line."""


def whole_number(text: str, low: int, high: int | None, expected: str) -> int:
    """``text`` as an int from ``low`` to ``high``, or an argparse error saying what was ``expected``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1, None, "a number of at least 1")


def hidden_units(text: str) -> int:
    value = positive_int(text)
    if value > MAX_HIDDEN:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_HIDDEN:,} hidden units, got {value:,}")
    return value


def seed(text: str) -> int:
    return whole_number(text, 0, MAX_SEED, f"a seed from 0 to {MAX_SEED}")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


DATA_DEFAULTS = {"data": "sample", "valid": None, "digits": "3,7"}


def add_data_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """--data, --valid, --digits; without ``defaults`` they stay None when not given (train fills them in,
    so that it can tell which flags a resumed run was given)."""
    parser.add_argument("--data", default="sample" if defaults else None,
                        help="training source: sample (default), mnist, mnist_sample, fashion-mnist, or a path")
    parser.add_argument("--valid", default=None,
                        help="validation source (default: the training source's own validation split)")
    parser.add_argument("--digits", default="3,7" if defaults else None,
                        help="classes to tell apart: 3,7 (default), 0-4, or all")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model and the recipe's overridable values; defaults (None) come from the model's recipe."""
    models = ", ".join(f"{name} ({r.about}: {r.optimizer} lr {r.lr:g}, batch {r.batch_size}, {r.epochs} epochs)"
                       for name, r in RECIPES.items())
    parser.add_argument("--model", choices=MODEL_NAMES, default=None, help=f"default linear; recipes: {models}")
    parser.add_argument("--hidden", type=hidden_units, default=None, help="hidden units of the mlp (default 30)")
    parser.add_argument("--loss", choices=LOSSES, default=None,
                        help="default: mnist_loss for two classes, cross_entropy for more")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="stop after this many epochs (default: the model's recipe; when resuming, the run's own)")
    parser.add_argument("--lr", type=positive_float, default=None, help="learning rate (default: the model's recipe)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="images per batch (default: the model's recipe)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="default: the model's recipe")
    parser.add_argument("--seed", type=seed, default=None, help="random seed for weights and shuffling (default 42)")


def add_one_batch_options(parser: argparse.ArgumentParser, batch_help: str, seed_help: str) -> None:
    """The data options, --batch-size (default 256) and --seed (default 42): the commands that take one fresh
    linear model through one batch (steps, gradcheck)."""
    add_data_options(parser)
    parser.add_argument("--batch-size", type=positive_int, default=256, help=f"{batch_help} (default 256)")
    parser.add_argument("--seed", type=seed, default=42, help=f"{seed_help} (default 42)")


def add_saved_model_options(parser: argparse.ArgumentParser) -> None:
    """--model (a saved model) and --json: the commands that use a trained model (predict, evaluate)."""
    parser.add_argument("--model", default=None,
                        help="a run folder or its model.safetensors (default: the newest under ./runs)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
