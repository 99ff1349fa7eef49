"""What the lab's page can set, checked: one bad value is one LabError naming it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LR_RANGE = (1e-5, 1e4)
MAX_BATCH_SIZE = 8192


class LabError(ValueError):
    """A request the lab cannot follow; the message says what is wrong and what would be right."""


# The built-in models the lab drives (recipes.py). The page draws the first layer's weights: one 28×28
# image per unit for linear and mlp, one small tile per filter for the cnn's first convolution.
LAB_MODELS = ("linear", "mlp", "cnn")


@dataclass
class LabSettings:
    """Everything the page can set; all of it fits in the page's URL."""

    data: str = "sample"
    digits: str = "3,7"
    model: str = "linear"
    hidden: int = 30
    loss: str = "auto"
    optimizer: str = "sgd"
    lr: float = 1.0
    batch_size: int = 256
    seed: int = 42
    epochs: int = 20

    def checked(self) -> LabSettings:
        """These settings if every value is allowed; else a LabError naming the bad one."""
        from ..recipes import BINARY_LOSSES, MULTICLASS_LOSSES, OPTIMIZERS

        if self.model not in LAB_MODELS:
            raise LabError(f"model {self.model!r}: choose one of {', '.join(LAB_MODELS)}")
        if self.optimizer not in OPTIMIZERS:
            raise LabError(f"optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.loss not in ("auto", *BINARY_LOSSES, *MULTICLASS_LOSSES):
            raise LabError(f"loss {self.loss!r}: choose auto, {', '.join([*BINARY_LOSSES, *MULTICLASS_LOSSES])}")
        check_lr(self.lr)
        for name, low, high in (("batch_size", 1, MAX_BATCH_SIZE), ("hidden", 1, 1024), ("epochs", 1, 100_000),
                                ("seed", 0, 2**32 - 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise LabError(f"{name} {value!r}: expected a whole number from {low} to {high}")
        return self

    def run_config(self) -> Any:
        """The same setup as the RunConfig that ``sevensteps train`` reads and writes (config.json)."""
        from ..runs import Rules, RunConfig, Settings

        settings = Settings(self.model, self.hidden, None if self.loss == "auto" else self.loss, self.optimizer,
                            self.lr, self.batch_size, self.seed)
        return RunConfig(self.data, None, self.digits, settings, Rules(self.epochs))

    def code(self) -> str:
        """Python that reproduces these settings with the library's own API (the page's code panel)."""
        loss = "None" if self.loss == "auto" else repr(self.loss)
        return (f"from sevensteps.data import load_splits, parse_digits\n"
                f"from sevensteps.digits import digit_learner\n"
                f"from sevensteps.runs import Rules, Settings\n\n"
                f"splits = load_splits({self.data!r}, None, parse_digits({self.digits!r}))\n"
                f"settings = Settings(model={self.model!r}, hidden={self.hidden}, loss={loss}, "
                f"optimizer={self.optimizer!r},\n"
                f"                    lr={self.lr:g}, batch_size={self.batch_size}, seed={self.seed})\n"
                f"learn = digit_learner(splits, settings, Rules(epochs={self.epochs}))\n"
                f"result = learn.fit()\n"
                f"print(result.stopped_because, result.history[-1])\n")

    @classmethod
    def from_run_config(cls, config: Any) -> LabSettings:
        s = config.settings
        return cls(config.data, config.digits, s.model, s.hidden, s.loss or "auto", s.optimizer, s.lr, s.batch_size,
                   s.seed, config.rules.epochs)


def check_lr(lr: Any) -> float:
    """A learning rate the lab accepts: a finite number in LR_RANGE."""
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr):
        raise LabError(f"lr {lr!r}: expected a finite number")
    if not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        raise LabError(f"lr {lr!r}: expected a number from {LR_RANGE[0]:g} to {LR_RANGE[1]:g}")
    return float(lr)
