"""The lab's one training session: the project's Learner, driven step by step through its events.

Training runs ``Learner.fit`` (a Learner built by :func:`sevensteps.digits.digit_learner`) in a background
thread; the :class:`~.pacer.Pacer` callback may block after each step until the page allows the next one
(Step, Batch, Epoch), or let it run (Play). So there is no second training loop: the lab only decides
*when* the Learner's own loop may go on. The session holds the state the pacer, the page's actions and the
frames share, under one condition (``cond``).

The rest of the lab, one idea each: :mod:`.settings` (what the page can set), :mod:`.fitting` (the
training thread), :mod:`.pacer` (the stepping callback), :mod:`.readouts` (each step's numbers),
:mod:`.snapshots` (rewind), :mod:`.frames` (publishing what the page shows), :mod:`.views` (what it
draws), :mod:`.diagnosis`, :mod:`.drawing` (draw-a-digit verdicts), :mod:`.nudging` (nudging vs calculus),
:mod:`.runfolder` (save and open run folders), :mod:`.guard` (request checks) and :mod:`.server`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from . import snapshots as snaps
from .diagnosis import diagnose
from .fitting import start_fit, stop_fit
from .frames import publish
from .pacer import Pacer
from .settings import LabError, LabSettings, check_lr
from .views import refresh

__all__ = ["MODES", "STEPS", "LabError", "LabSettings", "Session"]

STEPS = ("init", "predict", "loss", "gradient", "step", "repeat", "stop")
MODES = ("paused", "step", "batch", "epoch", "play")


class Session:
    """One learner, its data, its controls and its latest frame; safe to call from several threads."""

    def __init__(self, settings: LabSettings | None = None, out: Path = Path("runs"), fps: float = 30.0,
                 max_snapshots: int = 60, log: Callable[[str], None] = lambda message: None):
        self.out = Path(out)
        self.fps = fps
        self.max_snapshots = max_snapshots
        self.log = log
        self.cond = threading.Condition()
        self.listeners: list[Callable[[], None]] = []
        self.frame: dict[str, Any] = {}
        self.live: dict[str, Any] = {}
        self.published: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        self.version = 0
        self.slow_version = 0
        self.thread: threading.Thread | None = None
        self.learner: Any = None
        self.splits: Any = None
        self.data_key: tuple[str, str] | None = None
        self.configure(settings or LabSettings())

    # ------------------------------------------------------------ building a learner

    def _load_data(self, settings: LabSettings) -> dict[str, Any]:
        """The data and its pixel-similarity baseline (reused when the same data is loaded already)."""
        from ..baseline import PixelSimilarity
        from ..data import DataError, load_splits, parse_digits
        from .drawing import far_distance

        key = (settings.data, settings.digits)
        if key == self.data_key:
            return {"splits": self.splits, "baseline": self.baseline, "data_key": key,
                    "baseline_accuracy": self.baseline_accuracy, "far_distance": self.far_distance}
        try:
            splits = load_splits(settings.data, None, parse_digits(settings.digits), log=self.log)
        except DataError as error:
            raise LabError(str(error)) from error
        baseline = PixelSimilarity("l1").fit(splits.train, splits.classes)
        return {"splits": splits, "baseline": baseline, "data_key": key,
                "baseline_accuracy": baseline.evaluate(splits.valid).accuracy,
                "far_distance": far_distance(baseline, splits)}

    def configure(self, settings: LabSettings, keep_weights: bool = False) -> str:
        """Use these settings. Only lr and the epoch limit keep the run; anything else (model, loss,
        optimizer, batch size, seed, data) starts again from init. Bad settings change nothing."""
        from ..callbacks import WeightSnapshots
        from ..digits import digit_learner

        settings = replace(settings).checked()
        old = getattr(self, "settings", None)
        if keep_weights and old is not None and self.learner is not None and all(
                getattr(old, k) == getattr(settings, k) for k in asdict(settings) if k not in ("lr", "epochs")):
            with self.cond:
                self.settings = settings
                self.set_epoch_limit(settings.epochs)
                self.set_lr(settings.lr)
                self._publish(force=True)
            return "lr and the epoch limit take effect at the next step"
        data = self._load_data(settings)
        config = settings.run_config()
        snapshots_cb = WeightSnapshots()
        try:
            learner = digit_learner(data["splits"], config.settings, config.rules, cbs=[Pacer(self), snapshots_cb],
                                    quiet=True)
        except ValueError as error:
            raise LabError(str(error)) from error
        self._stop_thread()
        with self.cond:
            for name, value in data.items():
                setattr(self, name, value)
            self.settings = settings
            self.snapshots_cb = snapshots_cb
            self.learner = learner
            self._reset_state()
        self._start_thread()  # runs init, then waits for the page
        with self.cond:
            self.cond.wait_for(lambda: self.waiting or self.finished is not None, timeout=30)
        return "new weights from init" if old is not None else "ready"

    def _reset_state(self) -> None:
        self.mode = "paused"
        self.waiting = False
        self.cancelled = False
        self.finished: str | None = None
        self.lit = "init"
        self.texts: dict[str, str] = dict.fromkeys(STEPS, "")
        self.curve: list[tuple[int, float | None, float | None]] = []  # (batch, loss, batch accuracy)
        self.curve_stride = 1
        self.curve_head_length = 0  # the curve's points in the slow part (frames.py)
        self.gradient_text_at = 0.0
        self.batches_seen = 0
        self.snapshots: deque[snaps.Snapshot] = deque(maxlen=self.max_snapshots)
        self.epoch_snapshots: deque[snaps.Snapshot] = deque(maxlen=self.max_snapshots)
        self.next_snapshot_id = 1
        self.skip_batches = 0
        self.epoch_generator = ""
        self.batch_accuracy = float("nan")
        self.grad_norm = 0.0
        self.weights_before: list[Any] = []
        self.update_ratio: deque[tuple[int, float]] = deque(maxlen=20)
        self.init_weight_norm = 1.0
        self.weight_norm = 1.0
        self.views: dict[str, Any] = {"confusion": None, "mistakes": [], "epochs": 0}
        self.views_at = 0.0
        self.speed = 0.0  # batches per second in Play; 0 = as fast as it goes
        self.last_batch_time = 0.0
        self.last_publish = 0.0
        self.slow: dict[str, Any] | None = None
        self.slow_dirty = True
        self.message = ""

    @property
    def epoch_limit(self) -> int:
        from ..stopping import MaxEpochs

        return next(rule.epochs for rule in self.learner.stop_rules if isinstance(rule, MaxEpochs))

    def set_epoch_limit(self, epochs: int) -> None:
        """The Learner's own MaxEpochs rule (step 7) now stops after ``epochs``."""
        from ..stopping import MaxEpochs

        for rule in self.learner.stop_rules:
            if isinstance(rule, MaxEpochs):
                rule.epochs = max(epochs, 1)

    # ------------------------------------------------------------ the training thread (:mod:`.fitting`)

    def _start_thread(self) -> None:
        start_fit(self)

    def _stop_thread(self) -> None:
        stop_fit(self)

    def close(self) -> None:
        self._stop_thread()

    # ------------------------------------------------------------ frames

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (from any thread) whenever a new frame is out; returns the unsubscribe function."""
        with self.cond:
            self.listeners.append(listener)

        def unsubscribe() -> None:
            with self.cond:
                if listener in self.listeners:
                    self.listeners.remove(listener)

        return unsubscribe

    def _publish(self, force: bool) -> None:
        """A new frame (caller holds the lock); see :func:`.frames.publish`."""
        publish(self, force)

    def refresh_views(self) -> None:
        """The validation views of the weights now, unless they are of this epoch (:func:`.views.refresh`)."""
        refresh(self)

    def publish(self) -> None:
        with self.cond:
            self._publish(force=True)

    def lr_now(self) -> float:
        learn = self.learner
        return learn.opt.param_groups[0]["lr"] if learn.opt is not None else self.settings.lr

    def all_snapshots(self) -> list[snaps.Snapshot]:
        return sorted([*self.epoch_snapshots, *self.snapshots], key=lambda s: s.id)

    def diagnosis(self) -> str | None:
        """What is wrong with the run, in words (caller holds the lock); see :mod:`.diagnosis`."""
        return diagnose(self.learner, self.lr_now(), self.finished, self.curve, self.update_ratio, self.weight_norm,
                        self.init_weight_norm, len(self.splits.classes))

    def code(self) -> str:
        """Python that reproduces the current setup with the library's own API."""
        return self.settings.code()

    # ------------------------------------------------------------ actions from the page

    def control(self, action: str, speed: float | None = None) -> str:
        """Step, batch, epoch, play, pause; returns a line for the page."""
        if action not in MODES:
            raise LabError(f"unknown action {action!r}: choose one of step, batch, epoch, play, pause, reset")
        with self.cond:
            if speed is not None:
                if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 <= speed <= 1000:
                    raise LabError(f"speed {speed!r}: expected batches per second from 0 (as fast as it goes) to 1000")
                self.speed = float(speed)
            alive = self.thread is not None and self.thread.is_alive()
            if action == "paused":
                self.mode = "paused"
                self.cond.notify_all()
                return "pausing"
            if not alive:
                if self.finished and self.learner.epoch >= self.epoch_limit:
                    self.set_epoch_limit(self.learner.epoch + self.settings.epochs)
                    self.message = f"the epoch limit is now {self.epoch_limit}"
                self.mode = action
                self._start_thread()
                return f"{action}: continuing"
            self.mode = action
            self.cond.notify_all()
        return action

    def set_lr(self, lr: float) -> None:
        """A new learning rate for the next step: the optimizer's, the Learner's and the settings' own."""
        from ..training import set_lr

        lr = check_lr(lr)
        self.settings.lr = lr
        learn = self.learner
        learn.lr = learn.settings.lr = lr
        if learn.opt is not None:
            set_lr(learn.opt, lr)

    def change_lr(self, lr: Any) -> str:
        with self.cond:
            self.set_lr(lr)
            self._publish(force=True)
        return f"lr {self.settings.lr:g} from the next step"

    def quiesce(self, timeout: float = 10.0) -> None:
        """Pause and wait until the training thread waits in the pacer (or has ended)."""
        with self.cond:
            self.mode = "paused"
            self.cond.notify_all()
            ok = self.cond.wait_for(lambda: self.waiting or self.finished is not None or self.thread is None
                                    or not self.thread.is_alive(), timeout=timeout)
        if not ok:
            raise LabError("the learner did not pause in time; try again")

    def rewind(self, snapshot_id: Any) -> str:
        """Back to an earlier batch or epoch of this run (see :func:`.snapshots.rewind`)."""
        return snaps.rewind(self, snapshot_id)

    # ------------------------------------------------------------ views on demand, run folders

    def current_weights(self) -> dict[str, Any]:
        with self.cond:
            return {k: v.data.copy() for k, v in self.learner.model.state_dict().items()}

    def classify(self, image: Any) -> dict[str, Any]:
        """What the model and the baseline make of one 28×28 image (already prepared like ``predict``)."""
        from .drawing import classify

        return classify(image, self.settings, self.current_weights(), self.splits, self.baseline, self.far_distance)

    def gradcheck(self, which: str) -> dict[str, Any]:
        """The current batch's gradient by nudging weights and by backprop, side by side, with times."""
        from .nudging import nudge_current_batch

        return nudge_current_batch(self, which)

    def save_run(self) -> Path:
        """The lab's run as a run folder like ``sevensteps train`` writes (report, predict, evaluate, --resume)."""
        from .runfolder import save_run

        return save_run(self)

    def open_run(self, run_dir: Path) -> str:
        """Continue a run folder made by ``train`` or the lab, from its checkpoint."""
        from .runfolder import open_run

        return open_run(self, Path(run_dir))
