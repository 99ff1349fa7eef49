"""The seven steps, by name: init, predict, loss, gradient, step, repeat, stop.

``Learner.fit`` runs them in that order. Each step fires an event before and after it
(``before_predict``, ``after_loss``, ...); a callback is any object with methods of those names, each
called with the learner as its one argument, so nothing is delegated behind the reader's back. A
callback can cancel the rest of a batch, an epoch or the whole fit by raising
:class:`CancelBatchException`, :class:`CancelEpochException` or :class:`CancelFitException`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import functional as F
from . import optim, serialize
from .autograd import no_grad
from .backend import xp
from .data.loader import DataLoader, TensorDataset
from .data.sources import Splits
from .models import INPUT_SIZE, make_model, n_outputs_for
from .random import Generator
from .tensor import Tensor

EVENTS = ("fit", "epoch", "batch", "init", "predict", "loss", "gradient", "step", "validate")
BINARY_LOSSES = {"mnist_loss": F.mnist_loss, "bce": F.binary_cross_entropy_with_logits}
MULTICLASS_LOSSES = {"cross_entropy": F.cross_entropy}
OPTIMIZERS = ("sgd", "momentum", "adam")


class CancelBatchException(Exception):
    """Skip the rest of this batch."""


class CancelEpochException(Exception):
    """Skip the rest of this epoch's batches (validation still runs)."""


class CancelFitException(Exception):
    """End training now; the message says why."""


class NonFiniteError(Exception):
    """The loss or a gradient became NaN or infinite."""


@dataclass
class Settings:
    """Everything that decides a run's numbers; saved in checkpoints and model files."""

    model: str = "linear"
    hidden: int = 30
    loss: str | None = None  # mnist_loss for two classes, cross_entropy for more
    optimizer: str = "sgd"
    lr: float = 1.0
    batch_size: int = 256
    seed: int = 42

    def resolved_loss(self, n_classes: int) -> str:
        if self.loss is None:
            return "mnist_loss" if n_classes == 2 else "cross_entropy"
        allowed = BINARY_LOSSES if n_classes == 2 else MULTICLASS_LOSSES
        if self.loss not in allowed:
            kind = "two classes" if n_classes == 2 else f"{n_classes} classes"
            raise ValueError(f"loss {self.loss!r} does not fit {kind}: choose {', '.join(allowed)}")
        return self.loss


@dataclass
class Epoch:
    """One row of the history."""

    epoch: int
    train_loss: float
    valid_loss: float
    valid_accuracy: float
    seconds: float
    partial: bool = False

    def to_dict(self) -> dict[str, Any]:
        """As JSON wants it: a loss that is not a finite number (no batch finished) becomes None."""

        def number(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"epoch": self.epoch, "train_loss": number(self.train_loss), "valid_loss": number(self.valid_loss),
                "valid_accuracy": self.valid_accuracy, "seconds": self.seconds, "partial": self.partial}


@dataclass
class StopRules:
    """When step 7 says stop; any that fires ends training, and its reason is reported."""

    epochs: int = 20
    patience: int | None = None  # epochs without a better validation accuracy
    time_limit: float | None = None  # seconds of training


@dataclass
class FitResult:
    stopped_because: str
    history: list[Epoch] = field(default_factory=list)
    best_epoch: int | None = None
    interrupted: bool = False


def _copy_state(model_state: dict[str, Tensor]) -> dict[str, Any]:
    return {name: t.data.copy() for name, t in model_state.items()}


class Learner:
    """Trains a digit model on ``splits`` by the seven steps."""

    def __init__(self, splits: Splits, settings: Settings | None = None, callbacks: Iterable[Any] = ()):
        self.splits = splits
        self.settings = settings or Settings()
        self.callbacks = list(callbacks)
        self.n_classes = len(splits.classes)
        self.loss_name = self.settings.resolved_loss(self.n_classes)
        self.loss_func: Callable[[Tensor, Tensor], Tensor] = {**BINARY_LOSSES, **MULTICLASS_LOSSES}[self.loss_name]
        if self.settings.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.settings.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.settings.batch_size < 1 or not self.settings.lr > 0:
            raise ValueError(f"need batch size >= 1 and lr > 0, got {self.settings.batch_size} and {self.settings.lr}")
        self.train_x = splits.train.images.reshape(-1, INPUT_SIZE)
        self.train_y = self._targets(splits.targets(splits.train))
        self.valid_x = splits.valid.images.reshape(-1, INPUT_SIZE)
        self.valid_y = self._targets(splits.targets(splits.valid))
        self.history: list[Epoch] = []
        self.epoch = 0
        self.batch = 0
        self.model = None
        self.best: tuple[float, int, dict[str, Any]] | None = None  # (accuracy, epoch, weights)
        self._last_good: dict[str, Any] | None = None
        self._stop_request: str | None = None

    def _targets(self, targets: Any) -> Any:
        """Binary targets as a float column (N, 1) to match the one output; class indices otherwise."""
        return targets.astype(xp.float32).reshape(-1, 1) if self.n_classes == 2 else targets

    # ------------------------------------------------------------ events

    def event(self, name: str) -> None:
        for callback in self.callbacks:
            handler = getattr(callback, name, None)
            if handler is not None:
                handler(self)

    # ------------------------------------------------------------ the seven steps

    def init(self) -> None:
        """Step 1: random weights, one per pixel (and per hidden unit) plus biases, from the seed."""
        self.event("before_init")
        self.generator = Generator(self.settings.seed)
        n_out = n_outputs_for(self.n_classes)
        self.model = make_model(self.settings.model, n_out, self.settings.hidden, self.generator)
        params = list(self.model.parameters())
        lr = self.settings.lr
        if self.settings.optimizer == "sgd":
            self.opt = optim.SGD(params, lr=lr)
        elif self.settings.optimizer == "momentum":
            self.opt = optim.SGD(params, lr=lr, momentum=0.9)
        else:
            self.opt = optim.Adam(params, lr=lr)
        self._last_good = _copy_state(self.model.state_dict())
        self.event("after_init")

    def predict(self, xb: Tensor) -> Tensor:
        """Step 2: the model's output for each image (a score: above 0 means "the first class")."""
        self.event("before_predict")
        self.preds = self.model(xb)
        self.event("after_predict")
        return self.preds

    def loss(self, preds: Tensor, yb: Tensor) -> Tensor:
        """Step 3: one number that is small when the predictions are good."""
        self.event("before_loss")
        self.loss_value = self.loss_func(preds, yb)
        if not math.isfinite(self.loss_value.item()):
            raise NonFiniteError(f"the loss became {self.loss_value.item()} (step 3, loss)")
        self.event("after_loss")
        return self.loss_value

    def gradient(self) -> None:
        """Step 4: backpropagation: how the loss changes with each weight, into each ``.grad``."""
        self.event("before_gradient")
        self.loss_value.backward()
        for name, param in self.model.named_parameters():
            if param.grad is not None and not math.isfinite(float(param.grad.data.sum())):
                raise NonFiniteError(f"the gradient of {name} became non-finite (step 4, gradient)")
        self.event("after_gradient")

    def step(self) -> None:
        """Step 5: move every weight against its gradient, by the learning rate; then forget the gradients."""
        self.event("before_step")
        self.opt.step()
        self.opt.zero_grad()
        self.event("after_step")

    def repeat(self, rules: StopRules, checkpoint: Path | None = None) -> str:
        """Step 6: batch after batch, epoch after epoch, until step 7 says stop; returns why."""
        loader = DataLoader(TensorDataset(self.train_x, self.train_y), self.settings.batch_size,
                            shuffle=True, generator=self.generator)
        started = time.perf_counter() - sum(e.seconds for e in self.history)
        while True:
            reason = self.stop(rules, started)
            if reason:
                return reason
            self.epoch += 1
            epoch_start = time.perf_counter()
            self.event("before_epoch")
            total, count, partial, out_of_time = 0.0, 0, False, False
            try:
                for self.batch, (xb, yb) in enumerate(loader, start=1):
                    loss = self.one_batch(xb, yb)
                    if loss is not None:  # None: a callback cancelled the batch
                        total += loss * len(xb)
                        count += len(xb)
                    if self._stop_request:
                        raise CancelFitException(self._stop_request)
                    if rules.time_limit is not None and time.perf_counter() - started > rules.time_limit:
                        partial, out_of_time = self.batch < len(loader), True
                        break
            except CancelEpochException:
                partial = True
            valid_loss, valid_accuracy = self.validate()
            self.history.append(Epoch(self.epoch, total / count if count else float("nan"), valid_loss,
                                      valid_accuracy, time.perf_counter() - epoch_start, partial))
            self._remember(valid_accuracy)
            self.event("after_epoch")
            if checkpoint is not None:
                self.save_checkpoint(checkpoint)
            if out_of_time:
                return f"time limit of {rules.time_limit:g}s reached during epoch {self.epoch}"

    def stop(self, rules: StopRules, started: float) -> str | None:
        """Step 7: a reason to stop (enough epochs, no longer improving, out of time), or None.

        Asked before each epoch; running out of time in the middle of one is caught by ``repeat``.
        """
        if rules.time_limit is not None and time.perf_counter() - started > rules.time_limit:
            return f"time limit of {rules.time_limit:g}s reached after epoch {self.epoch}"
        if rules.patience is not None and self.best is not None and self.epoch - self.best[1] >= rules.patience:
            return (f"validation accuracy did not improve for {rules.patience} epochs "
                    f"(best {self.best[0]:.2%} at epoch {self.best[1]})")
        if self.epoch >= rules.epochs:
            return f"reached {rules.epochs} epochs"
        return None

    # ------------------------------------------------------------ around the steps

    def one_batch(self, xb: Tensor, yb: Tensor) -> float | None:
        """Steps 2 to 5 on one batch; returns the batch's loss, or None if a callback cancelled it."""
        try:
            self.event("before_batch")
            preds = self.predict(xb)
            loss = self.loss(preds, yb)
            self.gradient()
            self.step()
            self.event("after_batch")
        except CancelBatchException:
            self.opt.zero_grad()
            return None
        return loss.item()

    @no_grad()
    def validate(self, chunk: int = 4096) -> tuple[float, float]:
        """Loss and accuracy over the whole validation set (exact counts, not a mean of batch means)."""
        self.event("before_validate")
        self.model.eval()
        total_loss, correct = 0.0, 0
        n = len(self.valid_y)
        for start in range(0, n, chunk):
            xb, yb = Tensor(self.valid_x[start:start + chunk]), Tensor(self.valid_y[start:start + chunk])
            preds = self.model(xb)
            total_loss += self.loss_func(preds, yb).item() * len(yb)
            correct += int((self.decide(preds.data) == yb.data.reshape(-1)).sum())
        self.model.train()
        self.event("after_validate")
        return total_loss / max(n, 1), correct / max(n, 1)

    def decide(self, outputs: Any) -> Any:
        """Targets from model outputs: score > 0 (σ > 0.5) for two classes, the largest output otherwise."""
        if self.n_classes == 2:
            return (outputs.reshape(-1) > 0).astype(xp.float32)
        return outputs.argmax(axis=-1)

    def _repr_png_(self) -> bytes | None:
        """In a notebook, a finished Learner shows its loss and accuracy curves."""
        if not self.history:
            return None
        from . import plots

        return plots.png_bytes(plots.training_curves([e.to_dict() for e in self.history]))

    def request_stop(self, reason: str) -> None:
        """Ask training to end after the current batch (for a signal handler)."""
        self._stop_request = reason

    def _remember(self, accuracy: float) -> None:
        state = _copy_state(self.model.state_dict())
        self._last_good = state
        if self.best is None or accuracy > self.best[0]:
            self.best = (accuracy, self.epoch, state)

    def restore(self, weights: dict[str, Any]) -> None:
        self.model.load_state_dict(weights)

    # ------------------------------------------------------------ fit

    def fit(self, rules: StopRules | None = None, checkpoint: Path | None = None, resume: bool = False) -> FitResult:
        """init (unless resuming), then repeat until stop; early stopping restores the best weights."""
        rules = rules or StopRules()
        if not resume or self.model is None:
            self.init()
        self._stop_request = None
        self.event("before_fit")
        interrupted = False
        try:
            # Overflow is caught by the finiteness checks of steps 3 and 4 and reported there, once.
            with xp.errstate(over="ignore", invalid="ignore"):
                reason = self.repeat(rules, checkpoint)
        except CancelFitException as cancel:
            reason, interrupted = str(cancel) or "cancelled by a callback", True
            self.restore(self._last_good)  # back to the end of the last whole epoch, as in the checkpoint
            self.epoch = len(self.history)
        except NonFiniteError as error:
            self.restore(self._last_good)
            self.opt.zero_grad()
            done = self.history[-1].epoch if self.history else 0
            reason = (f"{error} at epoch {self.epoch}, batch {self.batch}; kept the weights from the end of epoch "
                      f"{done}. The learning rate {self.settings.lr:g} is probably too high: try --lr "
                      f"{self.settings.lr / 10:g}")
            self.epoch = done
        best_epoch = None
        if self.best is not None and rules.patience is not None and "did not improve" in reason:
            self.restore(self.best[2])
            best_epoch = self.best[1]
            reason += "; restored those weights"
        self.event("after_fit")
        return FitResult(reason, list(self.history), best_epoch, interrupted)

    # ------------------------------------------------------------ checkpoints and model files

    def model_metadata(self) -> dict[str, Any]:
        from . import __version__

        return {"format": serialize.FORMAT, "model": self.settings.model, "hidden": self.settings.hidden,
                "classes": self.splits.classes, "class_names": self.splits.class_names(),
                "input_size": [28, 28], "normalisation": "pixel / 255, white ink on black as in MNIST",
                "loss": self.loss_name, "versions": {"sevensteps": __version__, "numpy": xp.__version__}}

    def save_model(self, path: Path) -> None:
        arrays = {name: t.data for name, t in self.model.state_dict().items()}
        serialize.save(path, arrays, self.model_metadata())

    def save_checkpoint(self, path: Path) -> None:
        """Weights, optimizer state, random state and history, written atomically."""
        arrays = {f"model.{k}": v.data for k, v in self.model.state_dict().items()}
        if self.best is not None:
            arrays.update({f"best.{k}": v for k, v in self.best[2].items()})
        opt_state = self.opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, values in opt_state["state"].items():
            for key, value in values.items():
                if isinstance(value, xp.ndarray):
                    arrays[f"optim.{index}.{key}"] = value
                else:
                    scalars.setdefault(str(index), {})[key] = value
        metadata = {"format": serialize.CHECKPOINT_FORMAT, "settings": vars(self.settings),
                    "classes": self.splits.classes, "epoch": self.epoch,
                    "history": [e.to_dict() for e in self.history], "generator": self.generator.get_state(),
                    "optimizer_groups": opt_state["param_groups"], "optimizer_scalars": scalars,
                    "best": None if self.best is None else [self.best[0], self.best[1]]}
        serialize.save(path, arrays, metadata)

    def load_checkpoint(self, path: Path) -> None:
        """Continue from a checkpoint: same weights, optimizer, random state and history."""
        arrays, meta = serialize.load(path, serialize.CHECKPOINT_FORMAT)
        if meta["classes"] != self.splits.classes:
            raise serialize.ModelFileError(f"{path}: trained on classes {meta['classes']}, not {self.splits.classes}")
        self.init()
        try:
            self.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model.")})
        except (KeyError, ValueError) as error:
            raise serialize.ModelFileError(f"{path}: does not fit this model ({error})") from error
        state: dict[int, dict[str, Any]] = {}
        for key, value in arrays.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        for index, values in meta["optimizer_scalars"].items():
            state.setdefault(int(index), {}).update(values)
        groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["optimizer_groups"]]
        self.opt.load_state_dict({"state": state, "param_groups": groups})
        self.generator.set_state(meta["generator"])
        self.history = [Epoch(**{k: float("nan") if v is None else v for k, v in e.items()}) for e in meta["history"]]
        self.epoch = meta["epoch"]
        self._last_good = _copy_state(self.model.state_dict())
        if meta["best"] is not None:
            best = {k[5:]: v for k, v in arrays.items() if k.startswith("best.")}
            self.best = (meta["best"][0], meta["best"][1], best)


def load_model(path: Path) -> tuple[Any, dict[str, Any]]:
    """A saved model, ready to predict, and its metadata; names what does not match."""
    arrays, meta = serialize.load(path, serialize.FORMAT)
    for key in ("model", "classes", "hidden"):
        if key not in meta:
            raise serialize.ModelFileError(f"{path}: metadata lacks {key!r}")
    if meta.get("input_size") != [28, 28]:
        raise serialize.ModelFileError(f"{path}: input size {meta.get('input_size')} is not 28×28")
    try:
        model = make_model(meta["model"], n_outputs_for(len(meta["classes"])), meta["hidden"])
        model.load_state_dict(arrays)
    except (KeyError, ValueError) as error:
        raise serialize.ModelFileError(f"{path}: weights do not match a {meta['model']} model ({error})") from error
    model.eval()
    return model, meta


class WeightSnapshots:
    """A callback keeping the first layer's weights after init and after every epoch, for pictures."""

    def __init__(self) -> None:
        self.snapshots: dict[int, Any] = {}

    def _first_layer(self, learn: Learner) -> Any:
        return next(iter(learn.model.parameters())).data.copy()

    def after_init(self, learn: Learner) -> None:
        self.snapshots = {0: self._first_layer(learn)}

    def after_epoch(self, learn: Learner) -> None:
        self.snapshots[learn.epoch] = self._first_layer(learn)

    def save(self, path: Path) -> None:
        serialize.save(path, {f"epoch.{k}": v for k, v in self.snapshots.items()}, {"format": "sevensteps-snapshots"})

    def load(self, path: Path) -> None:
        arrays, _ = serialize.load(path, "sevensteps-snapshots")
        self.snapshots = {int(k.split(".")[1]): v for k, v in arrays.items()}
