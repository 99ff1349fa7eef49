"""A sweep's grid: comma lists of values become one RunConfig per combination, checked before anything runs.

Standard library only (with the recipe table), so the command line can refuse a bad grid instantly.
Every combination keeps the model's recipe for what was not given, so ``sweep --model linear,mlp`` compares
each model at its own tested defaults. Configurations that differ only in an option the model does not take
(``--hidden`` for ``linear``) are one configuration, not several.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..recipes import OPTIMIZERS, RECIPES
from ..runs import Rules, RunConfig, Settings

MAX_RUNS_WITHOUT_YES = 100
MAX_SEEDS = 1000
MAX_HIDDEN = 100_000
LISTS = ("model", "lr", "batch_size", "optimizer", "hidden", "epochs")


class GridError(ValueError):
    """A grid that cannot run: a bad value, an empty list, or too many runs without consent."""


def _whole(text: str) -> int:
    value = int(text)  # ValueError for "abc" and "1.5", reported by parse_list
    if value < 1:
        raise ValueError("not at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("not a positive number")
    return value


def _hidden(text: str) -> int:
    value = _whole(text)
    if value > MAX_HIDDEN:
        raise ValueError(f"more than {MAX_HIDDEN:,} hidden units")
    return value


def _choice(names: Sequence[str]) -> Callable[[str], str]:
    def choose(text: str) -> str:
        if text not in names:
            raise ValueError(f"not one of {', '.join(names)}")
        return text

    return choose


PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "model": (_choice(tuple(RECIPES)), "a model name"),
    "lr": (_positive_float, "a positive number"),
    "batch_size": (_whole, "a whole number of at least 1"),
    "optimizer": (_choice(OPTIMIZERS), "an optimizer name"),
    "hidden": (_hidden, f"a whole number from 1 to {MAX_HIDDEN:,}"),
    "epochs": (_whole, "a whole number of at least 1"),
}


def parse_list(name: str, text: str | Sequence[Any] | None) -> list[Any] | None:
    """``"0.1,1,10"`` → ``[0.1, 1.0, 10.0]`` for the flag ``name``; None stays None (the recipe decides).

    Repeated values count once, in the order given. A single value, list or tuple is checked the same way.
    """
    if text is None:
        return None
    flag = f"--{name.replace('_', '-')}"
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
    else:
        parts = [str(p) for p in (text if isinstance(text, Sequence) else [text])]
    if not parts or any(p == "" for p in parts):
        raise GridError(f"{flag} {text!r}: an empty value; give one or more values separated by commas")
    convert, wanted = PARSERS[name]
    values: list[Any] = []
    for part in parts:
        try:
            value = convert(part)
        except ValueError:
            raise GridError(f"{flag} {text!r}: {part!r} is not {wanted}") from None
        if value not in values:
            values.append(value)
    return values


@dataclass
class Grid:
    """What a sweep asks for: lists of values (None: the model's recipe) on one data set, over ``seeds`` seeds."""

    model: list[str] | None = None
    lr: list[float] | None = None
    batch_size: list[int] | None = None
    optimizer: list[str] | None = None
    hidden: list[int] | None = None
    epochs: list[int] | None = None
    seeds: int = 1
    data: str = "sample"
    valid: str | None = None
    digits: str = "3,7"
    loss: str | None = None
    patience: int | None = None
    time_limit: float | None = None

    @classmethod
    def from_values(cls, **values: Any) -> Grid:
        """A Grid from strings or sequences (``lr="0.1,1"`` or ``lr=[0.1, 1]``), each list checked."""
        lists = {name: parse_list(name, values.pop(name, None)) for name in LISTS}
        seeds = values.pop("seeds", 1)
        if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
            raise GridError(f"--seeds {seeds!r}: need a whole number from 1 to {MAX_SEEDS}")
        return cls(**lists, seeds=seeds, **values)

    def configs(self) -> list[RunConfig]:
        """One RunConfig per combination and seed, in a stable order (seeds innermost)."""
        models = self.model or ["linear"]
        if self.hidden is not None and not any("hidden" in RECIPES[m].options for m in models):
            raise GridError(f"--hidden applies to the mlp model, not to {', '.join(models)}")
        found: list[RunConfig] = []
        seen: set[tuple[Any, ...]] = set()
        for model in models:
            recipe = RECIPES[model]
            hiddens = (self.hidden or [30]) if "hidden" in recipe.options else [30]
            for optimizer, lr, batch, hidden, epochs in itertools.product(
                    self.optimizer or [recipe.optimizer], self.lr or [recipe.lr],
                    self.batch_size or [recipe.batch_size], hiddens, self.epochs or [recipe.epochs]):
                for seed in range(self.seeds):
                    settings = Settings(model, hidden, self.loss, optimizer, lr, batch, seed)
                    key = (model, hidden, optimizer, lr, batch, epochs, seed)
                    if key not in seen:
                        seen.add(key)
                        found.append(RunConfig(self.data, self.valid, self.digits, settings,
                                               Rules(epochs, self.patience, self.time_limit)))
        return found

    def check_size(self, yes: bool = False) -> list[RunConfig]:
        """The configs, refusing a grid of more than MAX_RUNS_WITHOUT_YES runs unless ``yes``."""
        configs = self.configs()
        if len(configs) > MAX_RUNS_WITHOUT_YES and not yes:
            raise GridError(f"this grid is {len(configs):,} runs (more than {MAX_RUNS_WITHOUT_YES}); "
                            "add --yes to run them all, or give shorter lists")
        return configs


def run_name(config: RunConfig) -> str:
    """The run folder's name inside the sweep folder: every value that varies a run, readable and stable."""
    s = config.settings
    hidden = f"-h{s.hidden}" if "hidden" in RECIPES[s.model].options else ""
    return (f"{s.model}{hidden}-{s.optimizer}-lr{s.lr:g}-bs{s.batch_size}-e{config.rules.epochs}"
            f"-seed{s.seed}")


def config_label(config: RunConfig) -> str:
    """A configuration without its seed (what seeds are repeats of)."""
    return run_name(config).rsplit("-seed", 1)[0]
