"""What the Learner needs around the steps: its parameters, one clear check of the whole setup before the
first batch, and evaluation over a DataLoader."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .autograd import no_grad
from .tensor import Tensor


class LearnerError(ValueError):
    """The Learner's setup does not fit together: the message names the object and what was expected."""


def _name(thing: Any) -> str:
    return getattr(thing, "__name__", None) or type(thing).__name__


def parameters_of(model: Any, params: Iterable[Tensor] | None) -> list[Tensor]:
    """The weights to train: ``params`` if given, else ``model.parameters()``."""
    if params is None:
        if not callable(getattr(model, "parameters", None)):
            raise LearnerError(f"model {_name(model)} has no parameters(): for a function, pass its weights as "
                               "Learner(..., params=[w1, b1, ...])")
        params = model.parameters()
    params = list(params)
    if not params:
        raise LearnerError(f"model {_name(model)} has no parameters to train")
    for p in params:
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise LearnerError(f"model {_name(model)}: every parameter must be a tensor with requires_grad=True")
    return params


def set_lr(opt: Any, lr: float) -> None:
    """Change an optimizer's learning rate: in every param group (ours, PyTorch's) or as ``opt.lr``."""
    if hasattr(opt, "param_groups"):
        for group in opt.param_groups:
            group["lr"] = lr
    else:
        opt.lr = lr


def _as_pair(batch: Any, where: str) -> tuple[Any, Any]:
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        kind = f"a {type(batch).__name__}" + (f" of {len(batch)}" if isinstance(batch, tuple | list) else "")
        raise LearnerError(f"the {where} data gives {kind}, not (x, y) pairs: use a data set of (input, target) "
                           "items, e.g. list(zip(xs, ys))")
    return batch[0], batch[1]


def check_setup(learn: Any) -> None:
    """Before the first batch: data sets that are not empty and give (x, y) pairs, a model output whose
    shape fits the targets, a loss that is one number, metrics that work. Looks at the first two items
    directly, so the shuffling order (and a resumed run's numbers) are untouched."""
    from .data.loader import DataLoader, collate

    if learn.dls is None:
        raise LearnerError("this Learner has no data: give it DataLoaders(train_dl, valid_dl) as learn.dls")
    for where, dl in (("training", learn.dls.train), ("validation", learn.dls.valid)):
        if dl is None:
            if where == "validation":
                raise LearnerError("the DataLoaders have no validation set: give DataLoaders(train_dl, valid_dl)")
            continue
        dataset = dl.dataset if isinstance(dl, DataLoader) else None
        if dataset is not None and len(dataset) == 0:
            raise LearnerError(f"the {where} data set is empty")
    train = learn.dls.train
    if not isinstance(train, DataLoader):
        return
    xb, yb = _as_pair(collate([train.dataset[i] for i in range(min(2, len(train.dataset)))]), "training")
    with no_grad():
        preds = learn.model(xb)
        if not isinstance(preds, Tensor):
            raise LearnerError(f"model {_name(learn.model)} returned a {type(preds).__name__}, not a tensor")
        learn.n_outputs = preds.shape[-1] if preds.ndim == 2 else 1
        if isinstance(yb, Tensor) and preds.ndim >= 1 and yb.ndim >= 1:
            if preds.shape[0] != yb.shape[0]:
                raise LearnerError(f"model {_name(learn.model)} gave {preds.shape[0]} outputs for a batch of "
                                   f"{yb.shape[0]} targets")
            if preds.ndim != yb.ndim and 1 in (preds.shape[-1:] + yb.shape[-1:]) and preds.numel() == yb.numel():
                raise LearnerError(f"model output of shape {tuple(preds.shape)} and targets of shape "
                                   f"{tuple(yb.shape)} would broadcast against each other: make the targets "
                                   f"{'(N, 1), e.g. y.unsqueeze(1)' if preds.ndim == 2 else '(N,)'}")
        try:
            loss = learn.loss_func(preds, yb)
        except (ValueError, TypeError) as error:
            raise LearnerError(f"loss_func {_name(learn.loss_func)} failed on the model's output "
                               f"{tuple(preds.shape)} and targets: {error}") from error
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise LearnerError(f"loss_func {_name(learn.loss_func)} returned {shape}, not one number: "
                               "reduce it, e.g. with .mean()")
        for metric in learn.metrics:
            _metric_value(metric, preds, yb)


def _metric_value(metric: Callable[..., Any], preds: Tensor, yb: Any) -> float:
    try:
        value = metric(preds, yb)
        return float(value.item() if isinstance(value, Tensor) else value)
    except Exception as error:  # a user's metric may raise anything; say which one and why
        raise LearnerError(f"metric {_name(metric)} failed on a batch ({type(error).__name__}: {error}); a metric "
                           "takes (predictions, targets) and returns one number") from error


@no_grad()
def evaluate(model: Any, dl: Iterable[Any], loss_func: Callable[..., Tensor], metrics: list[Any]) -> list[float]:
    """``[loss, *metrics]`` over ``dl``, each a mean over batches weighted by their size (exact for accuracy)."""
    if hasattr(model, "eval"):
        model.eval()
    totals = [0.0] * (1 + len(metrics))
    n = 0
    try:
        for xb, yb in dl:
            preds = model(xb)
            size = len(yb)
            totals[0] += loss_func(preds, yb).item() * size
            for i, metric in enumerate(metrics, start=1):
                totals[i] += _metric_value(metric, preds, yb) * size
            n += size
    finally:
        if hasattr(model, "train"):
            model.train()
    return [t / n if n else float("nan") for t in totals]
