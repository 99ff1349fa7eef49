"""The seven steps, by name: init, predict, loss, gradient, step, repeat, stop.

``Learner(dls, model, loss_func, opt_func, lr, metrics, cbs)`` trains any model (a Module, or a function
of parameters given as ``params=``) on any DataLoaders, with any loss, optimizer and metrics.
``learn.fit(n)`` runs the steps in order. Each step fires an event before and after it (``before_predict``,
``after_loss``, ... see :data:`EVENTS`); a callback is any object with methods of those names, each
called synchronously, on the fitting thread, with the learner as its one argument. A callback can cancel
the rest of a batch, an epoch or the whole fit by raising :class:`CancelBatchException`,
:class:`CancelEpochException` or :class:`CancelFitException`. Stop rules are small objects that return a
:class:`StopReason` when training should end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from .autograd import no_grad
from .backend import xp
from .callbacks import (
    EVENTS,
    CancelBatchException,
    CancelEpochException,
    CancelFitException,
    NonFiniteError,
    NonFiniteGuard,
    check_callback,
    default_callbacks,
)
from .optim import SGD
from .stopping import Best, Epoch, FitResult, MaxEpochs, StopReason, StopRule
from .tensor import Tensor
from .training import LearnerError, check_setup, evaluate, parameters_of, set_lr

__all__ = ["EVENTS", "Best", "CancelBatchException", "CancelEpochException", "CancelFitException", "Epoch",
           "FitResult", "Learner", "LearnerError", "NonFiniteError", "StopReason"]


class Learner:
    """Trains ``model`` on ``dls.train``, validating on ``dls.valid``, by the seven steps."""

    lr_hint = "lr={lr:g}"  # how advice names a learning rate; the command line makes it "--lr {lr:g}"

    def __init__(self, dls: Any, model: Callable[..., Tensor], loss_func: Callable[[Tensor, Tensor], Tensor],
                 opt_func: Callable[..., Any] = SGD, lr: float = 1e-3, metrics: Any = (), cbs: Iterable[Any] = (),
                 stop_rules: Iterable[StopRule] = (), params: Iterable[Tensor] | None = None, quiet: bool = False):
        self.dls, self.model, self.loss_func, self.opt_func, self.lr = dls, model, loss_func, opt_func, lr
        self.metrics = list(metrics) if isinstance(metrics, list | tuple) else [metrics]
        self.params = parameters_of(model, params)
        self.stop_rules = list(stop_rules)
        self.cbs: list[Any] = []
        for cb in (*default_callbacks(quiet), *cbs):
            self.add_cb(cb)
        self.opt: Any = None
        self.history: list[Epoch] = []
        self.epoch, self.batch = 0, 0
        self.best: Best | None = None
        self.diagnosis: StopReason | None = None  # set by the learning-rate advisor
        self.start_valid_loss: float | None = None  # before any training: the yardstick for "barely moves"
        self._last_good: list[Any] | None = None
        self._stop_request: str | None = None
        self.in_epoch = False

    def add_cb(self, cb: Any) -> None:
        check_callback(cb)
        if getattr(cb, "name", None):
            setattr(self, cb.name, cb)  # learn.recorder, as in fastai
        self.cbs.append(cb)

    def __call__(self, event: str) -> None:
        """Fire ``event``: every callback's method of that name, in order, with the learner."""
        for cb in self.cbs:
            handler = getattr(cb, event, None)
            if handler is not None:
                handler(self)

    def __repr__(self) -> str:
        name = getattr(self.model, "__name__", None) or type(self.model).__name__
        return (f"Learner(model={name}, loss_func={getattr(self.loss_func, '__name__', self.loss_func)}, "
                f"opt_func={getattr(self.opt_func, '__name__', self.opt_func)}, lr={self.lr:g}, "
                f"metrics={[getattr(m, '__name__', m) for m in self.metrics]}, epochs trained={self.epoch})")

    # ------------------------------------------------------------ the seven steps

    def init(self) -> None:
        """Step 1: the optimizer over the model's (random) weights; remember them as the last good ones."""
        self("before_init")
        self.opt = self.opt_func(self.params, self.lr)
        for method in ("step", "zero_grad"):
            if not callable(getattr(self.opt, method, None)):
                raise LearnerError(f"opt_func {getattr(self.opt_func, '__name__', self.opt_func)} returned a "
                                   f"{type(self.opt).__name__} without a {method}() method")
        self._last_good = [p.data.copy() for p in self.params]
        self("after_init")

    def predict(self, xb: Tensor | None = None) -> Tensor:
        """Step 2: the model's output for the batch ``xb`` (the current batch by default)."""
        self.xb = self.xb if xb is None else xb
        self("before_predict")
        self.preds = self.model(self.xb)
        self("after_predict")
        return self.preds

    def loss(self, preds: Tensor | None = None, yb: Tensor | None = None) -> Tensor:
        """Step 3: one number that is small when the predictions are good."""
        preds = self.preds if preds is None else preds
        self.yb = self.yb if yb is None else yb
        self("before_loss")
        self.loss_value = self.loss_func(preds, self.yb)
        self("after_loss")
        return self.loss_value

    def gradient(self) -> None:
        """Step 4: backpropagation: how the loss changes with each weight, into each ``.grad``."""
        self("before_gradient")
        self.loss_value.backward()
        self("after_gradient")

    def step(self) -> None:
        """Step 5: move every weight against its gradient, by the learning rate; then forget the gradients."""
        self("before_step")
        self.opt.step()
        self.opt.zero_grad()
        self("after_step")

    def repeat(self) -> StopReason:
        """Step 6: batch after batch, epoch after epoch, until step 7 gives a reason to stop."""
        self._started = time.perf_counter() - sum(e.seconds for e in self.history)
        while True:
            reason = self.stop()
            if reason:
                return reason
            self.epoch += 1
            reason = self.one_epoch()
            if reason:
                return reason

    def stop(self, during_epoch: bool = False) -> StopReason | None:
        """Step 7: the first stop rule that fires (enough epochs, no longer improving, out of time), or None.

        Asked before each epoch; rules that can fire in the middle of one (a time limit) also after each batch.
        """
        rules = [r for r in self.stop_rules if getattr(r, "during_epoch", False)] if during_epoch else self.stop_rules
        return next((reason for rule in rules if (reason := rule(self))), None)

    # ------------------------------------------------------------ around the steps

    def one_epoch(self) -> StopReason | None:
        """Steps 2-5 on every batch, then validation; returns a reason if a rule stopped it half-way."""
        epoch_start = time.perf_counter()
        self.in_epoch = True
        self("before_epoch")
        total, count, partial, reason = 0.0, 0, False, None
        try:
            for batch, (xb, yb) in enumerate(self.dls.train, start=1):
                self.batch = batch
                loss = self.one_batch(xb, yb)
                if loss is not None:  # None: a callback cancelled the batch
                    total += loss * len(xb)
                    count += len(xb)
                if self._stop_request:
                    raise CancelFitException(self._stop_request)
                reason = self.stop(during_epoch=True)
                if reason:
                    partial = self.batch < len(self.dls.train)
                    break
        except CancelEpochException:
            partial = True
        self.in_epoch = False
        valid_loss, *values = self.validate()
        metrics = {_name(m): v for m, v in zip(self.metrics, values, strict=True)}
        train_loss = total / count if count else float("nan")
        self.history.append(Epoch(self.epoch, train_loss, valid_loss, metrics, time.perf_counter() - epoch_start,
                                  partial))
        self._remember()
        self("after_epoch")
        return reason

    def one_batch(self, xb: Tensor, yb: Tensor) -> float | None:
        """Steps 2 to 5 on one batch; returns the batch's loss, or None if a callback cancelled it."""
        self.xb, self.yb = xb, yb
        try:
            self("before_batch")
            self.predict()
            loss = self.loss()
            self.gradient()
            self.step()
            self("after_batch")
        except CancelBatchException:
            self.opt.zero_grad()
            return None
        return loss.item()

    @no_grad()
    def validate(self, dl: Any = None) -> list[float]:
        """``[loss, *metrics]`` over the whole validation set (each a mean weighted by batch size)."""
        self("before_validate")
        result = evaluate(self.model, dl if dl is not None else self.dls.valid, self.loss_func, self.metrics)
        self("after_validate")
        return result

    @no_grad()
    def get_preds(self, dl: Any = None) -> tuple[Tensor, Tensor]:
        """Model outputs and targets for every item of ``dl`` (the validation set by default)."""
        preds, targets = [], []
        for xb, yb in dl if dl is not None else self.dls.valid:
            preds.append(self.model(xb).data)
            targets.append(yb.data)
        return Tensor(xp.concatenate(preds)), Tensor(xp.concatenate(targets))

    def request_stop(self, reason: str) -> None:
        """Ask training to end after the current batch (for a signal handler or another thread)."""
        self._stop_request = reason

    def _remember(self) -> None:
        self._last_good = [p.data.copy() for p in self.params]
        self.best = Best.update(self.best, self.history[-1], self._last_good)

    def restore(self, weights: list[Any]) -> None:
        for p, saved in zip(self.params, weights, strict=True):
            p.data[...] = saved

    # ------------------------------------------------------------ fit

    def fit(self, n_epoch: int | None = None, lr: float | None = None) -> FitResult:
        """Train ``n_epoch`` more epochs (or until a stop rule fires): init on the first call, then repeat until
        stop. Early stopping restores the best weights; a NaN or a cancel restores the last whole epoch's."""
        if n_epoch is None and not any(isinstance(r, MaxEpochs) for r in self.stop_rules):
            raise LearnerError("fit needs a number of epochs, fit(n), or a stop rule that ends training")
        if lr is not None:
            self.lr = lr
        if self.opt is None:
            self.init()
        elif lr is not None:
            set_lr(self.opt, lr)
        saved_rules = self.stop_rules
        if n_epoch is not None:
            self.stop_rules = [*saved_rules, MaxEpochs(self.epoch + n_epoch)]
        self._stop_request = None
        check_setup(self)
        if self.start_valid_loss is None and not self.history:
            self.start_valid_loss = evaluate(self.model, self.dls.valid, self.loss_func, [])[0]
        interrupted = False
        try:
            self("before_fit")
            # Overflow is caught by the finiteness guard and reported once, in words.
            with xp.errstate(over="ignore", invalid="ignore"):
                reason = self.repeat()
        except CancelFitException as cancel:
            kind = "interrupted" if self._stop_request else "cancelled"
            reason, interrupted = StopReason(kind, str(cancel) or "cancelled by a callback"), True
            self.restore(self._last_good)  # back to the end of the last whole epoch, as in the checkpoint
            self.epoch = len(self.history)
        except NonFiniteError as error:
            self.restore(self._last_good)
            self.opt.zero_grad()
            reason = NonFiniteGuard.stop_reason(self, error)
            self.epoch = self.history[-1].epoch if self.history else 0
        finally:
            self.stop_rules = saved_rules
            self.in_epoch = False
        best_epoch = None
        if reason.kind == "patience" and self.best is not None:
            self.restore(self.best.weights)
            best_epoch = self.best.epoch
            reason = StopReason(reason.kind, reason.message + "; restored those weights")
        self("after_fit")
        return FitResult(reason, list(self.history), best_epoch, interrupted)

    # ------------------------------------------------------------ files and helpers (see checkpoint.py, lr_find.py)

    def save(self, path: Any) -> Any:
        """Weights, optimizer state and history to a safetensors file, to continue later with ``load``."""
        from .checkpoint import save_checkpoint

        return save_checkpoint(self, path)

    def load(self, path: Any) -> Learner:
        from .checkpoint import load_checkpoint

        load_checkpoint(self, path)
        return self

    def export(self, path: Any) -> Any:
        """The model, its loss and metrics as safetensors + JSON, for ``load_learner`` (never pickle)."""
        from .checkpoint import export

        return export(self, path)

    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100) -> Any:
        """Sweep the learning rate over ``num_it`` batches; returns the losses and a suggested rate."""
        from .lr_find import lr_find

        return lr_find(self, start_lr, end_lr, num_it)

    def _repr_png_(self) -> bytes | None:
        """In a notebook, a trained Learner shows its loss and accuracy curves."""
        if not self.history:
            return None
        from .extras import MissingExtra

        try:
            from . import plots
        except MissingExtra:  # without matplotlib a notebook shows the text repr
            return None
        rows = [{**e.to_dict(), "valid_accuracy": next(iter(e.metrics.values()), float("nan"))} for e in self.history]
        return plots.png_bytes(plots.training_curves(rows))


def _name(metric: Any) -> str:
    return getattr(metric, "__name__", type(metric).__name__)
