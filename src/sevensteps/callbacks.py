"""Callbacks: objects with methods named after the Learner's events (:data:`EVENTS`), each called with the
learner; they may raise the Cancel exceptions to skip a batch, an epoch or the rest of the fit.

The Learner always has a :class:`NonFiniteGuard`, a :class:`Recorder` (``learn.recorder``) and a
:class:`LearningRateAdvisor`, and by default an :class:`EpochTable`; the command line adds a
:class:`Checkpointer`, :class:`WeightSnapshots` and a :class:`ProgressBar`.
"""

from __future__ import annotations

import difflib
import math
import sys
from pathlib import Path
from typing import Any

from .stopping import StopReason
from .training import LearnerError

STEPS = ("init", "predict", "loss", "gradient", "step", "validate")
EVENTS = tuple(f"{when}_{what}" for what in ("fit", "epoch", "batch", *STEPS) for when in ("before", "after"))


class CancelBatchException(Exception):
    """Skip the rest of this batch."""


class CancelEpochException(Exception):
    """Skip the rest of this epoch's batches (validation still runs)."""


class CancelFitException(Exception):
    """End training now; the message says why."""


def check_callback(callback: Any) -> None:
    """A callback method named like an event but not one (``before_epcoh``) is an error, not a silent no-op."""
    for name in dir(callback):
        if name.startswith(("before_", "after_")) and name not in EVENTS:
            close = difflib.get_close_matches(name, EVENTS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f"; events are {', '.join(EVENTS)}"
            raise LearnerError(f"callback {type(callback).__name__} has a method {name} that is no event{hint}")


class NonFiniteError(Exception):
    """The loss or a gradient became NaN or infinite."""


class NonFiniteGuard:
    """Stops training the moment the loss (step 3) or a gradient (step 4) is NaN or infinite."""

    def after_loss(self, learn: Any) -> None:
        value = learn.loss_value.item()
        if not math.isfinite(value):
            raise NonFiniteError(f"the loss became {value} (step 3, loss)")

    def after_gradient(self, learn: Any) -> None:
        names = dict(learn.model.named_parameters()) if hasattr(learn.model, "named_parameters") else {}
        by_id = {id(p): name for name, p in names.items()}
        for i, param in enumerate(learn.params):
            if param.grad is not None and not math.isfinite(float(param.grad.data.sum())):
                raise NonFiniteError(f"the gradient of {by_id.get(id(param), f'parameter {i}')} became non-finite "
                                     "(step 4, gradient)")

    @staticmethod
    def stop_reason(learn: Any, error: NonFiniteError) -> StopReason:
        """Why the fit stopped, in words, with a smaller learning rate to try."""
        done = learn.history[-1].epoch if learn.history else 0
        return StopReason("non_finite", f"{error} at epoch {learn.epoch}, batch {learn.batch}; kept the weights from "
                          f"the end of epoch {done}. The learning rate {learn.lr:g} is probably too high: try "
                          f"{learn.lr_hint.format(lr=learn.lr / 10)}")


class GradientNorm:
    """Step 4's size: ‖∇‖ = √(Σ g²) over every weight, after each backward pass, averaged over the epoch's batches
    into its history row (``grad_norm``), for the report's gradient step."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def before_epoch(self, learn: Any) -> None:
        self.total, self.count = 0.0, 0

    def after_gradient(self, learn: Any) -> None:
        squares = sum(float((p.grad.data.astype(float) ** 2).sum()) for p in learn.params if p.grad is not None)
        self.total += math.sqrt(squares)
        self.count += 1

    def after_epoch(self, learn: Any) -> None:
        if self.count and learn.history and learn.history[-1].epoch == learn.epoch:
            learn.history[-1].grad_norm = self.total / self.count


class Recorder:
    """fastai's recorder: ``values`` ([train_loss, valid_loss, *metrics] per epoch) and ``losses`` (per batch)."""

    name = "recorder"

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.learn: Any = None

    def before_fit(self, learn: Any) -> None:
        self.learn = learn

    def after_batch(self, learn: Any) -> None:
        self.losses.append(learn.loss_value.item())

    @property
    def values(self) -> list[list[float]]:
        history = self.learn.history if self.learn is not None else []
        return [[e.train_loss, e.valid_loss, *e.metrics.values()] for e in history]

    @property
    def metric_names(self) -> list[str]:
        history = self.learn.history if self.learn is not None else []
        return ["train_loss", "valid_loss", *(history[0].metrics if history else [])]


class LearningRateAdvisor:
    """After each epoch, says in words when the numbers show a learning rate that does not work: the weights
    and the loss barely move (too low), the loss grows (diverges), or accuracy stays at chance (saturated).
    Sets ``learn.diagnosis`` once, the first time it sees it."""

    def before_fit(self, learn: Any) -> None:
        self.start = [p.data.copy() for p in learn.params]

    def moved(self, learn: Any) -> float:
        """How far the weights went since this fit began, relative to their size."""
        change = sum(float(((p.data - s) ** 2).sum()) for p, s in zip(learn.params, self.start, strict=True))
        size = sum(float((s**2).sum()) for s in self.start)
        return math.sqrt(change / size) if size else math.inf

    def after_epoch(self, learn: Any) -> None:
        if learn.diagnosis is not None or learn.start_valid_loss is None or not learn.history:
            return
        last, start, lr = learn.history[-1], learn.start_valid_loss, learn.lr
        higher, lower = learn.lr_hint.format(lr=lr / 10), learn.lr_hint.format(lr=lr * 10)
        chance = 1 / max(2, getattr(learn, "n_outputs", 2))
        accuracy = next((v for k, v in last.metrics.items() if "accuracy" in k), None)
        if last.epoch >= 2 and abs(start - last.valid_loss) < 0.02 * abs(start) and self.moved(learn) < 0.01:
            learn.diagnosis = StopReason("barely_moves", f"the validation loss barely moved ({start:.4f} -> "
                                         f"{last.valid_loss:.4f}): the learning rate {lr:g} is probably too low; "
                                         f"try {lower} or lr_find()")
        elif math.isfinite(last.valid_loss) and last.valid_loss > 1.5 * start + 1e-12:
            learn.diagnosis = StopReason("diverges", f"the validation loss grew from {start:.4f} to "
                                         f"{last.valid_loss:.4f}: the learning rate {lr:g} is too high; try {higher} "
                                         "or lr_find()")
        elif last.epoch >= 2 and accuracy is not None and accuracy <= chance + 0.03:
            learn.diagnosis = StopReason("saturated", f"accuracy is stuck at {accuracy:.2%}, no better than a coin "
                                         f"toss: the learning rate {lr:g} has probably saturated the model; try "
                                         f"{higher} or lr_find()")


class EpochTable:
    """The epoch table: in a terminal one printed row per epoch, in Jupyter one HTML table that grows."""

    def __init__(self, file: Any = None):
        self.file = file
        self.header_done = False
        self.handle: Any = None

    @staticmethod
    def columns(learn: Any) -> list[str]:
        return ["epoch", "train_loss", "valid_loss", *(getattr(m, "__name__", type(m).__name__) for m in learn.metrics),
                "time"]

    @staticmethod
    def cells(learn: Any) -> list[str]:
        e = learn.history[-1]
        values = [f"{v:.2%}" if name == "accuracy" else f"{v:.4f}" for name, v in e.metrics.items()]
        return [str(e.epoch), f"{e.train_loss:.4f}", f"{e.valid_loss:.4f}", *values,
                f"{e.seconds:.3f}s" + (" (partial)" if e.partial else "")]

    def before_fit(self, learn: Any) -> None:
        self.rows: list[list[str]] = []
        self.notebook = _in_notebook() and self.file is None

    def after_epoch(self, learn: Any) -> None:
        names, cells = self.columns(learn), self.cells(learn)
        self.rows.append(cells)
        if self.notebook:
            self._show_html(learn, names)
            return
        out = self.file or sys.stdout
        widths = [7 if n == "time" else max(len(n), 5) for n in names]
        if not self.header_done:
            print("  ".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True)), file=out, flush=True)
            self.header_done = True
        print("  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)), file=out, flush=True)
        if learn.diagnosis is not None and not getattr(self, "said", False):
            print(f"Warning: {learn.diagnosis.message}", file=out, flush=True)
            self.said = True

    def _show_html(self, learn: Any, names: list[str]) -> None:
        from IPython.display import HTML, display

        page = HTML(html_table(names, self.rows, learn.diagnosis.message if learn.diagnosis else None))
        if self.handle is None:
            self.handle = display(page, display_id=True)
        else:
            self.handle.update(page)


def html_table(names: list[str], rows: list[list[str]], note: str | None = None) -> str:
    """The epoch table as HTML (plain text in the cells: no arrays, no terminal escape codes)."""
    import html

    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    warning = f"<p><strong>Warning:</strong> {html.escape(note)}</p>" if note else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{warning}"


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    return shell is not None and "ipykernel" in sys.modules


class ProgressBar:
    """A tqdm bar of the batches on a terminal's stderr, shown only once an epoch has run for ``delay``
    seconds (so fast epochs print nothing extra), never into a pipe."""

    def __init__(self, delay: float = 1.5, file: Any = None):
        self.delay, self.file = delay, file or sys.stderr
        self.bar: Any = None

    def before_epoch(self, learn: Any) -> None:
        if not self.file.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is a declared dependency; without it, no bar rather than no training
            return

        self.bar = tqdm(total=len(learn.dls.train), desc=f"epoch {learn.epoch}", delay=self.delay, file=self.file,
                        leave=False, unit="batch")

    def after_batch(self, learn: Any) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{learn.loss_value.item():.4f}", refresh=False)
            self.bar.update(1)

    def after_epoch(self, learn: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    after_fit = after_epoch


class Checkpointer:
    """Writes a checkpoint (weights, optimizer, random state, history) after every epoch, atomically."""

    def __init__(self, path: Path, metadata: dict[str, Any] | None = None):
        self.path, self.metadata = Path(path), metadata or {}

    def after_epoch(self, learn: Any) -> None:
        from .checkpoint import save_checkpoint

        save_checkpoint(learn, self.path, self.metadata)


class WeightSnapshots:
    """The first layer's weights after init and after some epochs, for pictures. At most ``keep`` are held:
    epochs 0 and 1, the latest, and evenly spaced ones between (the spacing doubles as epochs pass), so
    memory and the snapshots file stay the same size however long training runs."""

    def __init__(self, keep: int = 12):
        self.keep = keep
        self.snapshots: dict[int, Any] = {}
        self.stride = 1

    @staticmethod
    def _first_layer(learn: Any) -> Any:
        return learn.params[0].data.copy()

    def after_init(self, learn: Any) -> None:
        self.snapshots = {0: self._first_layer(learn)}

    def after_epoch(self, learn: Any) -> None:
        self.snapshots[learn.epoch] = self._first_layer(learn)
        self._thin(learn.epoch)
        while len(self.snapshots) > self.keep:
            self.stride *= 2
            self._thin(learn.epoch)

    def _thin(self, latest: int) -> None:
        self.snapshots = {e: w for e, w in self.snapshots.items() if e <= 1 or e == latest or e % self.stride == 0}

    def save(self, path: Path) -> None:
        from . import serialize

        serialize.save(path, {f"epoch.{k}": v for k, v in self.snapshots.items()},
                       {"format": "sevensteps-snapshots", "stride": self.stride})

    def load(self, path: Path) -> None:
        from . import serialize

        arrays, meta = serialize.load(path, "sevensteps-snapshots")
        self.snapshots = {int(k.split(".")[1]): v for k, v in arrays.items()}
        stride = meta.get("stride", 1)
        self.stride = stride if isinstance(stride, int) and stride >= 1 else 1


def default_callbacks(quiet: bool = False) -> list[Any]:
    """What every Learner has: the guard first (it must see a NaN before anyone else), the recorder, the
    learning-rate advisor, and unless ``quiet`` the epoch table."""
    return [NonFiniteGuard(), Recorder(), LearningRateAdvisor(), *([] if quiet else [EpochTable()])]
