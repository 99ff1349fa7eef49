"""Step 7, stop: rules that say when, the reason they give, and what a fit leaves behind.

A stop rule is any callable ``rule(learn) -> StopReason | None``; the Learner asks its rules before each
epoch, and those with ``during_epoch = True`` also after each batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StopReason:
    """Why training ended: ``kind`` for programs (epochs, patience, time, interrupted, cancelled,
    non_finite), ``message`` for people."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Epoch:
    """One row of the history: losses, metric values by name, seconds, and whether it was cut short."""

    epoch: int
    train_loss: float
    valid_loss: float
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    partial: bool = False
    grad_norm: float | None = None  # mean over the epoch's batches of ‖∇‖, when a GradientNorm callback measured it

    @property
    def valid_accuracy(self) -> float:
        return self.metrics.get("accuracy", math.nan)

    def to_dict(self) -> dict[str, Any]:
        """As JSON wants it (``valid_<metric>`` keys); a loss that is not finite (no batch finished) is None."""

        def number(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"epoch": self.epoch, "train_loss": number(self.train_loss), "valid_loss": number(self.valid_loss),
                **{f"valid_{k}": number(v) for k, v in self.metrics.items()},
                "seconds": self.seconds, "partial": self.partial,
                **({} if self.grad_norm is None else {"grad_norm": number(self.grad_norm)})}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Epoch:
        def number(x: Any) -> float:
            return math.nan if x is None else float(x)

        metrics = {k[6:]: number(v) for k, v in row.items() if k.startswith("valid_") and k != "valid_loss"}
        grad_norm = row.get("grad_norm")
        return cls(int(row["epoch"]), number(row["train_loss"]), number(row["valid_loss"]), metrics,
                   float(row["seconds"]), bool(row.get("partial", False)),
                   None if grad_norm is None else float(grad_norm))


@dataclass
class Best:
    """The best epoch so far by the monitored value, and the weights it had."""

    value: float
    epoch: int
    weights: list[Any]
    monitor: str = "accuracy"

    def improved_by(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return value < self.value if self.monitor == "valid_loss" else value > self.value

    @staticmethod
    def monitor_of(epoch: Epoch) -> str:
        """What "best" means: the first metric (higher is better), else the validation loss (lower is better)."""
        return next(iter(epoch.metrics), "valid_loss")

    @classmethod
    def update(cls, best: Best | None, epoch: Epoch, weights: list[Any]) -> Best | None:
        """The new best after ``epoch`` (with these ``weights``), or the old one if it was not better."""
        monitor = cls.monitor_of(epoch)
        value = epoch.metrics[monitor] if monitor != "valid_loss" else epoch.valid_loss
        if best is None or best.improved_by(value):
            return cls(value, epoch.epoch, weights, monitor)
        return best


@dataclass
class FitResult:
    """What ``fit`` returns: why it stopped, the history, the epoch whose weights were restored, if any."""

    stopped: StopReason
    history: list[Epoch] = field(default_factory=list)
    best_epoch: int | None = None
    interrupted: bool = False

    @property
    def stopped_because(self) -> str:
        return self.stopped.message


class StopRule:
    """Base of the stop rules: ``rule(learn)`` returns a StopReason or None."""

    during_epoch = False

    def __call__(self, learn: Any) -> StopReason | None:
        raise NotImplementedError


class MaxEpochs(StopRule):
    def __init__(self, epochs: int):
        self.epochs = epochs

    def __call__(self, learn: Any) -> StopReason | None:
        if learn.epoch >= self.epochs:
            return StopReason("epochs", f"reached {self.epochs} epoch{'s' if self.epochs != 1 else ''}")
        return None


class Patience(StopRule):
    """Stop when the monitored value has not improved for ``epochs`` epochs (the best weights come back)."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def __call__(self, learn: Any) -> StopReason | None:
        best = learn.best
        if best is None or learn.epoch - best.epoch < self.epochs:
            return None
        value = f"{best.value:.2%}" if best.monitor == "accuracy" else f"{best.value:.4g}"
        name = "accuracy" if best.monitor == "accuracy" else best.monitor.replace("valid_", "")
        return StopReason("patience", f"validation {name} did not improve for {self.epochs} epochs "
                          f"(best {value} at epoch {best.epoch})")


class TimeLimit(StopRule):
    """Stop after ``seconds`` of training, counted over resumes too, even in the middle of an epoch."""

    during_epoch = True

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __call__(self, learn: Any) -> StopReason | None:
        if time.perf_counter() - learn._started <= self.seconds:
            return None
        where = f"during epoch {learn.epoch}" if learn.in_epoch else f"after epoch {learn.epoch}"
        return StopReason("time", f"time limit of {self.seconds:g}s reached {where}")
