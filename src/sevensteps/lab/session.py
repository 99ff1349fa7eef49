"""The lab's one training session: the project's Learner, driven step by step through its events.

This is the only module of the lab that touches the Learner's API. Training runs ``Learner.fit`` in a
background thread; :class:`Pacer` is a callback whose ``after_X`` handlers may block on a
``threading.Condition`` until the page allows the next step (Step, Batch, Epoch), or let it run (Play).
So there is no second training loop: the lab only decides *when* the Learner's own loop may go on.

After each step the pacer writes that step's latest numbers and, at a bounded rate (latest state
wins), publishes a *frame*: a JSON-ready dict that the server streams to every open page.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import xp

if TYPE_CHECKING:
    from ..tensor import Tensor

STEPS = ("init", "predict", "loss", "gradient", "step", "repeat", "stop")
MODES = ("paused", "step", "batch", "epoch", "play")
LR_RANGE = (1e-5, 1e4)
MAX_BATCH_SIZE = 8192
MAX_CURVE_POINTS = 600
MAX_MISTAKES = 8


class LabError(ValueError):
    """A request the lab cannot follow; the message says what is wrong and what would be right."""


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
        from ..learner import BINARY_LOSSES, MULTICLASS_LOSSES, OPTIMIZERS
        from ..models import MODEL_KINDS

        if self.model not in MODEL_KINDS:
            raise LabError(f"model {self.model!r}: choose one of {', '.join(MODEL_KINDS)}")
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


def check_lr(lr: Any) -> float:
    """A learning rate the lab accepts: a finite number in LR_RANGE."""
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not math.isfinite(lr):
        raise LabError(f"lr {lr!r}: expected a finite number")
    if not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        raise LabError(f"lr {lr!r}: expected a number from {LR_RANGE[0]:g} to {LR_RANGE[1]:g}")
    return float(lr)


@dataclass
class Snapshot:
    """Everything needed to continue exactly from the end of a batch or of an epoch (for Rewind)."""

    id: int
    epoch: int  # the epoch this batch belongs to (or that just ended when batch == 0)
    batch: int  # batches done in that epoch; 0 = the whole epoch is done
    model: dict[str, Any]
    optimizer: dict[str, Any]
    generator: str  # at the start of `epoch` (mid-epoch) or now (epoch done): replays the same shuffle
    history: list[Any]
    best: Any
    curve_length: int

    def label(self) -> str:
        return f"after epoch {self.epoch}" if self.batch == 0 else f"epoch {self.epoch}, batch {self.batch}"


def encode_weights(weights: Any) -> dict[str, Any]:
    """A weight matrix (units, 784) as int8 levels of ±max|w| in base64: small enough to stream."""
    weights = xp.asarray(weights, dtype=xp.float32).reshape(-1, 784)
    finite = xp.where(xp.isfinite(weights), weights, 0)
    scale = float(xp.abs(finite).max()) or 1.0
    levels = xp.round(finite / scale * 127).astype(xp.int8)
    return {"units": int(weights.shape[0]), "scale": scale, "data": base64.b64encode(levels.tobytes()).decode()}


def encode_image(image: Any) -> str:
    """A 28×28 image in [0, 1] as 784 bytes in base64."""
    pixels = xp.clip(xp.asarray(image, dtype=xp.float32).reshape(784) * 255, 0, 255).astype(xp.uint8)
    return base64.b64encode(pixels.tobytes()).decode()


def number(x: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return x if x is not None and math.isfinite(x) else None


class Pacer:
    """The callback that lets the page drive the Learner: it may block after each of the seven steps."""

    def __init__(self, session: Session):
        self.session = session

    def before_epoch(self, learn: Any) -> None:
        self.session.epoch_started(learn)

    def before_batch(self, learn: Any) -> None:
        self.session.batch_started(learn)

    def after_init(self, learn: Any) -> None:
        self.session.after_step("init", learn)

    def after_predict(self, learn: Any) -> None:
        self.session.after_step("predict", learn)

    def after_loss(self, learn: Any) -> None:
        self.session.after_step("loss", learn)

    def after_gradient(self, learn: Any) -> None:
        self.session.after_step("gradient", learn)

    def after_step(self, learn: Any) -> None:
        self.session.after_step("step", learn)

    def after_batch(self, learn: Any) -> None:
        self.session.after_step("repeat", learn)
        self.session.after_step("stop", learn)

    def after_epoch(self, learn: Any) -> None:
        self.session.after_step("epoch", learn)


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

        key = (settings.data, settings.digits)
        if key == self.data_key:
            return {"splits": self.splits, "baseline": self.baseline, "data_key": key,
                    "baseline_accuracy": self.baseline_accuracy, "far_distance": self.far_distance}
        try:
            splits = load_splits(settings.data, None, parse_digits(settings.digits), log=self.log)
        except DataError as error:
            raise LabError(str(error)) from error
        baseline = PixelSimilarity("l1").fit(splits.train, splits.classes)
        # "Looks like no digit I know": farther from every ideal than 99.5% of the training images are.
        nearest = baseline.distances(splits.train.images).min(axis=-1)
        return {"splits": splits, "baseline": baseline, "data_key": key,
                "baseline_accuracy": baseline.evaluate(splits.valid).accuracy,
                "far_distance": float(xp.quantile(nearest, 0.995))}

    def configure(self, settings: LabSettings, keep_weights: bool = False) -> str:
        """Use these settings. Only lr and the epoch limit keep the run; anything else (model, loss,
        optimizer, batch size, seed, data) starts again from init. Bad settings change nothing."""
        from ..learner import Learner, Settings, StopRules, WeightSnapshots

        settings = replace(settings).checked()
        old = getattr(self, "settings", None)
        if keep_weights and old is not None and self.learner is not None and all(
                getattr(old, k) == getattr(settings, k) for k in asdict(settings) if k not in ("lr", "epochs")):
            with self.cond:
                self.settings = settings
                self.rules.epochs = max(settings.epochs, 1)
                self.set_lr(settings.lr)
                self._publish(force=True)
            return "lr and the epoch limit take effect at the next step"
        data = self._load_data(settings)
        loss = None if settings.loss == "auto" else settings.loss
        learner_settings = Settings(settings.model, settings.hidden, loss, settings.optimizer, settings.lr,
                                    settings.batch_size, settings.seed)
        try:
            learner = Learner(data["splits"], learner_settings, callbacks=[])
        except ValueError as error:
            raise LabError(str(error)) from error
        self._stop_thread()
        with self.cond:
            for name, value in data.items():
                setattr(self, name, value)
            self.settings = settings
            self.snapshots_cb = WeightSnapshots()
            learner.callbacks = [Pacer(self), self.snapshots_cb]
            self.learner = learner
            self.rules = StopRules(epochs=settings.epochs)
            self._reset_state()
        self._start_thread(resume=False)  # runs init, then waits for the page
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
        self.curve: list[tuple[int, float, float]] = []  # (batch number, loss, batch accuracy)
        self.curve_stride = 1
        self.batches_seen = 0
        self.snapshots: deque[Snapshot] = deque(maxlen=self.max_snapshots)
        self.epoch_snapshots: deque[Snapshot] = deque(maxlen=self.max_snapshots)
        self.next_snapshot_id = 1
        self.skip_batches = 0
        self.epoch_generator = ""
        self.epoch_order: Any = None
        self.batch_accuracy = float("nan")
        self.grad_norm = 0.0
        self.weights_before: list[Any] = []
        self.update_ratio: deque[tuple[int, float]] = deque(maxlen=20)
        self.init_weight_norm = 1.0
        self.weight_norm = 1.0
        self.views: dict[str, Any] = {"confusion": None, "mistakes": []}
        self.speed = 0.0  # batches per second in Play; 0 = as fast as it goes
        self.last_batch_time = 0.0
        self.last_publish = 0.0
        self.slow: dict[str, Any] | None = None
        self.slow_dirty = True
        self.message = ""

    # ------------------------------------------------------------ the training thread

    def _start_thread(self, resume: bool) -> None:
        learner, rules = self.learner, self.rules

        def run() -> None:
            from ..learner import CancelFitException

            reason = ""
            try:
                result = learner.fit(rules, resume=resume)
                reason = result.stopped_because
            except CancelFitException as cancel:  # cancelled in after_init, outside fit's own handler
                reason = str(cancel)
            except Exception as error:  # the lab must say what went wrong, and keep serving
                reason = f"training failed: {type(error).__name__}: {error}"
            with self.cond:
                if self.learner is learner and not self.cancelled:
                    self.finished = reason
                    self.mode = "paused"
                    self.lit = "stop"
                    self.texts["stop"] = f"stopped: {reason}"
                    self._publish(force=True)
                self.cond.notify_all()

        self.cancelled = False
        self.finished = None
        self.thread = threading.Thread(target=run, name="sevensteps-lab-fit", daemon=True)
        self.thread.start()

    def _stop_thread(self) -> None:
        """Cancel a running fit (the pacer raises CancelFitException at its next step) and wait for it."""
        thread = self.thread
        if thread is None or not thread.is_alive():
            return
        with self.cond:
            self.cancelled = True
            if self.learner is not None:
                self.learner.request_stop("the lab started over")
            self.cond.notify_all()
        thread.join(timeout=30)

    def close(self) -> None:
        self._stop_thread()

    # ------------------------------------------------------------ called by the pacer, in the training thread

    def epoch_started(self, learn: Any) -> None:
        from ..random import Generator

        state = learn.generator.get_state()
        replay = Generator()
        replay.set_state(state)
        with self.cond:
            self.epoch_generator = state
            # The DataLoader draws its permutation right after this event: the same draw tells us each batch.
            self.epoch_order = replay.permutation(len(learn.train_y))

    def batch_started(self, learn: Any) -> None:
        from ..learner import CancelBatchException

        if self.skip_batches and learn.batch <= self.skip_batches:
            raise CancelBatchException  # replaying the shuffle up to a rewound batch: already done
        self.skip_batches = 0

    def batch_indices(self, learn: Any) -> Any:
        size = learn.settings.batch_size
        return self.epoch_order[(learn.batch - 1) * size: learn.batch * size]

    def after_step(self, point: str, learn: Any) -> None:
        """Record what ``point`` did, publish, and wait here if the page asked to stop at this point."""
        from ..learner import CancelFitException

        self._describe(point, learn)
        with self.cond:
            if self.cancelled:
                raise CancelFitException("the lab started over")
            self.lit = "stop" if point == "epoch" else point
            mode = self.mode
            stop_here = (mode in ("paused", "step") or (mode == "batch" and point == "stop")
                         or (mode == "epoch" and point == "epoch"))
            if point == "stop" and mode == "play" and self.speed > 0:
                delay = 1 / self.speed - (time.perf_counter() - self.last_batch_time)
                if delay > 0:
                    self.cond.wait_for(lambda: self.mode != "play" or self.cancelled, timeout=delay)
                    stop_here = self.mode == "paused"
                self.last_batch_time = time.perf_counter()
            if not stop_here:
                self._publish(force=False)
                return
            self.mode = "paused"
            self.waiting = True
            self._publish(force=True)
            self.cond.notify_all()  # someone may wait for the learner to pause (save, rewind)
            self.cond.wait_for(lambda: self.mode != "paused" or self.cancelled)
            self.waiting = False
            if self.cancelled:
                raise CancelFitException("the lab started over")

    def _describe(self, point: str, learn: Any) -> None:
        """The numbers each step shows, computed right after it ran."""
        texts = self.texts
        params = list(learn.model.parameters())
        if point == "init":
            self.init_weight_norm = float(math.sqrt(sum(float((p.data ** 2).sum()) for p in params))) or 1.0
            n = sum(p.data.size for p in params)
            texts["init"] = f"{n:,} random weights from seed {learn.settings.seed} (size {self.init_weight_norm:.2f})"
        elif point == "predict":
            index = self.batch_indices(learn)
            targets = learn.train_y[index].reshape(-1)
            self.batch_accuracy = float((learn.decide(learn.preds.data) == targets).mean())
            texts["predict"] = f"{len(index)} images, {self.batch_accuracy:.1%} right"
        elif point == "loss":
            value = learn.loss_value.item()
            texts["loss"] = f"{learn.loss_name} = {value:.4f}"
            self.batches_seen += 1
            self.curve.append((self.batches_seen, value, self.batch_accuracy))
            if len(self.curve) > MAX_CURVE_POINTS:  # keep every other point: bounded memory, whole run shown
                self.curve = self.curve[::2]
                self.curve_stride *= 2
            elif self.curve_stride > 1 and self.batches_seen % self.curve_stride:
                self.curve.pop()
        elif point == "gradient":
            grads = [p.grad.data for p in params if p.grad is not None]
            self.grad_norm = float(math.sqrt(sum(float((g * g).sum()) for g in grads)))
            first = xp.abs(grads[0]).reshape(-1, 784).max(axis=0)
            top = xp.argsort(-first)[:3]
            where = ", ".join(f"({int(i) // 28},{int(i) % 28}) {float(first[i]):.2g}" for i in top)
            texts["gradient"] = f"|∇| = {self.grad_norm:.4g}; largest at pixel {where}"
            self.weights_before = [p.data.copy() for p in params]
        elif point == "step":
            lr = learn.opt.param_groups[0]["lr"]
            moved = math.sqrt(sum(float(((p.data - w) ** 2).sum()) for p, w in zip(params, self.weights_before,
                                                                                    strict=True)))
            size = math.sqrt(sum(float((w * w).sum()) for w in self.weights_before)) or 1.0
            self.update_ratio.append((self.batches_seen, moved / size))
            self.weight_norm = math.sqrt(sum(float((p.data ** 2).sum()) for p in params))
            texts["step"] = (f"lr × |∇| = {lr:g} × {self.grad_norm:.3g} = {lr * self.grad_norm:.3g}; "
                             f"weights moved {moved:.3g}")
        elif point == "repeat":
            n = -(-len(learn.train_y) // learn.settings.batch_size)
            texts["repeat"] = f"epoch {learn.epoch}, batch {learn.batch} of {n} done"
            self._snapshot(learn, learn.epoch, learn.batch)
        elif point == "stop":
            texts["stop"] = f"no rule fires yet: stops after epoch {self.rules.epochs} (now in epoch {learn.epoch})"
        elif point == "epoch":
            last = learn.history[-1]
            self._validation_views(learn)
            texts["stop"] = (f"epoch {last.epoch} done: valid accuracy {last.valid_accuracy:.1%} (baseline "
                             f"{self.baseline_accuracy:.1%}); stops after epoch {self.rules.epochs}")
            self._snapshot(learn, learn.epoch, 0)
            self.slow_dirty = True

    def _snapshot(self, learn: Any, epoch: int, batch: int) -> None:
        snap = Snapshot(self.next_snapshot_id, epoch, batch,
                        {k: v.data.copy() for k, v in learn.model.state_dict().items()}, learn.opt.state_dict(),
                        self.epoch_generator if batch else learn.generator.get_state(), list(learn.history),
                        learn.best, self.batches_seen)
        self.next_snapshot_id += 1
        with self.cond:
            (self.snapshots if batch else self.epoch_snapshots).append(snap)

    def _validation_views(self, learn: Any) -> None:
        """The validation confusion matrix and the most confidently wrong digits (once per epoch)."""
        from ..models import class_index, confusion_matrix, probabilities

        splits = self.splits
        probs = probabilities(learn.model, learn.valid_x, len(splits.classes))
        guess = probs.argmax(axis=-1)
        classes = xp.asarray(splits.classes)
        truth = class_index(splits.valid.labels, splits.classes)
        wrong = xp.nonzero(guess != truth)[0]
        confidence = probs[wrong, guess[wrong]]
        order = wrong[xp.argsort(-confidence)][:MAX_MISTAKES]
        names = splits.class_names()
        mistakes = [{"image": encode_image(splits.valid.images[i]), "true": names[int(truth[i])],
                     "predicted": names[int(guess[i])], "probability": float(probs[i, guess[i]])} for i in order]
        matrix = confusion_matrix(splits.valid.labels, classes[guess], splits.classes)
        with self.cond:
            self.views = {"confusion": matrix.tolist(), "mistakes": mistakes}

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
        """Build a new frame (caller holds the lock). Without ``force`` at most ``fps`` frames a second.

        A frame has a live part (numbers that change every batch) and a slow part (history, views,
        snapshots, code) rebuilt only when it changed, so streaming stays cheap while playing; the server
        sends the slow part only to pages that have not seen its ``slow_version`` yet.
        """
        now = time.perf_counter()
        if not force and now - self.last_publish < 1 / self.fps:
            return
        self.last_publish = now
        self.version += 1
        if force or self.slow_dirty or self.slow is None:
            self.slow_version += 1
            self.slow = self._build_slow()
            self.slow_dirty = False
        self.live = self._build_live()
        self.frame = {**self.live, **self.slow}
        self.published = (self.frame, self.live)
        for listener in list(self.listeners):
            listener()

    def publish(self) -> None:
        with self.cond:
            self._publish(force=True)

    def _status(self) -> str:
        if self.finished is not None:
            return f"stopped: {self.finished}"
        if self.mode == "play":
            return "playing"
        if self.waiting:
            return f"paused after {self.lit}"
        if self.thread is None or not self.thread.is_alive():
            return "paused"
        return "running"

    def _build_live(self) -> dict[str, Any]:
        learn = self.learner
        weights = None
        if learn.model is not None:
            weights = encode_weights(next(iter(learn.model.parameters())).data)
        return {
            "version": self.version, "slow_version": self.slow_version, "status": self._status(),
            "mode": self.mode, "lit": self.lit, "steps": dict(self.texts), "speed": self.speed,
            "lr_now": learn.opt.param_groups[0]["lr"] if learn.model is not None else self.settings.lr,
            "epoch": learn.epoch, "batch": learn.batch,
            "n_batches": -(-len(learn.train_y) // learn.settings.batch_size),
            "curve": [[b, number(v), number(a)] for b, v, a in self.curve], "weights": weights,
            "diagnosis": self.diagnosis(),
        }

    def _build_slow(self) -> dict[str, Any]:
        learn = self.learner
        return {
            "settings": asdict(self.settings), "classes": self.splits.class_names(),
            "baseline_accuracy": self.baseline_accuracy, "history": [e.to_dict() for e in learn.history],
            "model": learn.settings.model, "confusion": self.views["confusion"], "mistakes": self.views["mistakes"],
            "snapshots": [{"id": s.id, "label": s.label()} for s in self._all_snapshots()],
            "message": self.message, "code": self.code(),
            "train_size": len(learn.train_y), "valid_size": len(learn.valid_y),
        }

    def _all_snapshots(self) -> list[Snapshot]:
        return sorted([*self.epoch_snapshots, *self.snapshots], key=lambda s: s.id)

    # ------------------------------------------------------------ diagnosis

    def diagnosis(self) -> str | None:
        """In words: the loss went NaN, is rising, the weights blew up, or nothing moves (caller holds the lock)."""
        lr = self.learner.opt.param_groups[0]["lr"] if self.learner.model is not None else self.settings.lr
        if self.finished and ("became" in self.finished or "non-finite" in self.finished):
            return (f"The loss became NaN or infinite: the learning rate {lr:g} is far too high. "
                    f"The weights went back to the last good epoch; try lr {lr / 10:g} and press Play.")
        losses = [v for _, v, _ in self.curve if math.isfinite(v)]
        if len(losses) >= 12:
            best = min(sum(losses[i:i + 4]) / 4 for i in range(len(losses) - 3))
            recent = sum(losses[-4:]) / 4
            if recent > 2 * best + 0.02:
                return (f"The loss is rising (now {recent:.3g}, it was {best:.3g}): the learning rate {lr:g} is too "
                        f"high, each step overshoots. Try lr {lr / 10:g}, or rewind to before it rose.")
        # The first steps from small random weights are always large next to them; after that a step
        # several times the weights' own size means the learning rate is far too high.
        later = [ratio for seen, ratio in self.update_ratio if seen > 2]
        if later and max(later) > 3.0:
            return (f"A step changed the weights by {max(later):.3g} times their own size: the learning rate {lr:g} "
                    f"is far too high (the outputs saturate and learning stalls). Try lr {lr / 100:g}.")
        if later and self.weight_norm > 30 * self.init_weight_norm and sorted(later)[len(later) // 2] < 1e-3:
            return (f"The weights have grown to {self.weight_norm / self.init_weight_norm:.0f} times their size "
                    f"at init and hardly move any more: the outputs saturate and the gradient vanishes. The "
                    f"learning rate {lr:g} is too high; try lr {lr / 100:g}.")
        history = self.learner.history
        chance = 1 / len(self.splits.classes)
        if len(history) >= 2 and history[-1].valid_accuracy < chance + 0.1:
            hint = "too low: try 10 times more" if lr < 0.01 else "unsuitable: try 10 times less"
            return (f"Training is stuck near chance ({history[-1].valid_accuracy:.1%} after {len(history)} epochs): "
                    f"the learning rate {lr:g} is probably {hint}.")
        if len(losses) >= 20 and len(history) >= 1:
            change = abs(losses[0] - sum(losses[-5:]) / 5) / max(abs(losses[0]), 1e-12)
            if change < 0.02:
                return (f"The loss has barely moved ({change:.1%} since the start): the learning rate {lr:g} is too "
                        f"low. Try lr {lr * 10:g}.")
        return None

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
                if self.finished and self.learner.epoch >= self.rules.epochs:
                    self.rules.epochs = self.learner.epoch + self.settings.epochs
                    self.message = f"the epoch limit is now {self.rules.epochs}"
                self.mode = action
                self._start_thread(resume=True)
                return f"{action}: continuing"
            self.mode = action
            self.cond.notify_all()
        return action

    def set_lr(self, lr: float) -> None:
        """A new learning rate for the next step (caller may or may not hold the lock: RLock semantics not needed)."""
        lr = check_lr(lr)
        self.settings.lr = lr
        if self.learner is not None and self.learner.model is not None:
            for group in self.learner.opt.param_groups:
                group["lr"] = lr
        self.learner.settings.lr = lr

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
                                    or not self.thread.is_alive(),
                                    timeout=timeout)
        if not ok:
            raise LabError("the learner did not pause in time; try again")

    def rewind(self, snapshot_id: Any) -> str:
        """Back to an earlier batch or epoch of this run, ready to continue (with the current settings' lr)."""
        with self.cond:
            snap = next((s for s in self._all_snapshots() if s.id == snapshot_id), None)
        if snap is None:
            raise LabError(f"snapshot {snapshot_id!r}: no such snapshot (the lab keeps the last {self.max_snapshots} "
                           "batches and epochs)")
        self.quiesce()
        self._stop_thread()
        learn = self.learner
        lr = self.settings.lr
        with self.cond:
            learn.model.load_state_dict(snap.model)
            learn.opt.load_state_dict({"state": {k: dict(v) for k, v in snap.optimizer["state"].items()},
                                       "param_groups": [dict(g) for g in snap.optimizer["param_groups"]]})
            self.set_lr(lr)
            learn.generator.set_state(snap.generator)
            learn.history = list(snap.history)
            learn.best = snap.best
            learn._last_good = {k: v.copy() for k, v in snap.model.items()}  # where a NaN would go back to
            if snap.batch:
                learn.epoch, self.skip_batches = snap.epoch - 1, snap.batch
            else:
                learn.epoch, self.skip_batches = snap.epoch, 0
            learn.batch = snap.batch
            self.curve = [point for point in self.curve if point[0] <= snap.curve_length]
            self.batches_seen = snap.curve_length
            self.snapshots = deque((s for s in self.snapshots if s.id <= snap.id), maxlen=self.max_snapshots)
            self.epoch_snapshots = deque((s for s in self.epoch_snapshots if s.id <= snap.id),
                                         maxlen=self.max_snapshots)
            self.update_ratio.clear()
            self.mode, self.waiting, self.finished, self.cancelled = "paused", False, None, False
            self.thread = None
            self.lit = "repeat"
            self.texts["repeat"] = f"rewound to {snap.label()}"
            self.message = f"rewound to {snap.label()}; Step, Batch, Epoch or Play continue from there"
            self._publish(force=True)
        return self.message

    # ------------------------------------------------------------ views on demand

    def current_weights(self) -> dict[str, Any]:
        with self.cond:
            return {k: v.data.copy() for k, v in self.learner.model.state_dict().items()}

    def classify(self, image: Any) -> dict[str, Any]:
        """What the model and the baseline make of one 28×28 image (already prepared like ``predict``)."""
        from ..models import make_model, n_outputs_for, probabilities

        learn, splits = self.learner, self.splits
        model = make_model(learn.settings.model, n_outputs_for(len(splits.classes)), learn.settings.hidden)
        weights = self.current_weights()
        model.load_state_dict(weights)
        model.eval()
        probs = probabilities(model, image.reshape(1, 784), len(splits.classes))[0]
        names = splits.class_names()
        k = int(probs.argmax())
        distances = self.baseline.distances(image)
        nearest = int(distances.argmin())
        result: dict[str, Any] = {
            "input": encode_image(image), "prediction": names[k], "probability": float(probs[k]),
            "probabilities": dict(zip(names, map(float, probs), strict=True)),
            "baseline": {"prediction": names[nearest], "distances": dict(zip(names, map(float, distances),
                                                                              strict=True))},
            "far_distance": self.far_distance,
        }
        unknown = []
        if float(distances.min()) > self.far_distance:
            unknown.append(f"it is farther from every ideal digit ({float(distances.min()):.3f}) than 99.5% of the "
                           f"training images are ({self.far_distance:.3f})")
        if float(probs[k]) < 0.6:
            unknown.append(f"the model is unsure ({float(probs[k]):.0%})")
        result["unknown"] = ("This looks like no digit I know: " + " and ".join(unknown)) if unknown else None
        if learn.settings.model == "linear":
            first = next(v for name, v in weights.items() if name.endswith("weight"))
            row = first[0] if first.shape[0] == 1 else first[k]
            # Pixel × weight: positive evidence votes for the prediction (for two classes: for the first class).
            evidence = image.reshape(784) * row
            if first.shape[0] == 1 and k == 1:
                evidence = -evidence
            result["evidence"] = encode_weights(evidence)
        return result

    def gradcheck(self, which: str) -> dict[str, Any]:
        """The current batch's gradient by nudging weights and by backprop, side by side, with times."""
        from .. import functional as F
        from ..gradcheck import gradcheck
        from ..tensor import Tensor

        learn = self.learner
        if learn.settings.model not in ("linear", "mlp"):
            raise LabError(f"nudging vs calculus covers the linear and mlp models, not {learn.settings.model!r}")
        if which not in ("chosen", "all"):
            raise LabError(f"weights {which!r}: choose 'chosen' (a few) or 'all'")
        with self.cond:
            if self.epoch_order is not None and learn.batch:
                index = self.batch_indices(learn)
            else:
                index = xp.arange(min(learn.settings.batch_size, len(learn.train_y)))
            names, arrays = zip(*self.current_weights().items(), strict=True)
        x = Tensor(learn.train_x[index].astype(xp.float64))
        y = Tensor(learn.train_y[index])
        loss_func = learn.loss_func

        def loss_of(*params: Tensor) -> Tensor:
            if learn.settings.model == "linear":
                return loss_func(F.linear(x, params[0], params[1]), y)
            return loss_func(F.linear(F.relu(F.linear(x, params[0], params[1])), params[2], params[3]), y)

        count = sum(a.size for a in arrays)
        if which == "all":
            if count > 30_000:
                raise LabError(f"'all' would nudge {count:,} weights one by one; choose 'chosen' for this model")
            result = gradcheck(loss_of, [Tensor(a, requires_grad=True) for a in arrays])
            numeric = xp.concatenate([g.ravel() for g in result.numeric])
            backprop = xp.concatenate([g.ravel() for g in result.backprop])
            pick = xp.argsort(-xp.abs(backprop))[:12]
            return {"weights": count, "batch": len(index), "numeric_seconds": result.numeric_seconds,
                    "backprop_seconds": result.backprop_seconds, "max_abs_diff": result.max_abs_error,
                    "rows": [{"weight": self._weight_name(names, arrays, int(i)), "nudging": float(numeric[i]),
                              "backprop": float(backprop[i])} for i in pick]}
        return self._nudge_chosen(loss_of, names, arrays, len(index))

    def _weight_name(self, names: Any, arrays: Any, flat: int) -> str:
        for name, array in zip(names, arrays, strict=True):
            if flat < array.size:
                position = xp.unravel_index(flat, array.shape)
                return f"{name}[{', '.join(str(int(p)) for p in position)}]"
            flat -= array.size
        return "?"

    def _nudge_chosen(self, loss_of: Callable[..., Tensor], names: Any, arrays: Any, batch: int,
                      eps: float = 1e-6) -> dict[str, Any]:
        """Central differences (f(w+ε) − f(w−ε)) / 2ε for the 12 weights with the largest gradient."""
        from ..autograd import no_grad
        from ..tensor import Tensor

        params = [Tensor(xp.array(a, dtype=xp.float64), requires_grad=True) for a in arrays]
        start = time.perf_counter()
        loss_of(*params).backward()
        backprop_seconds = time.perf_counter() - start
        backprop = xp.concatenate([p.grad.data.ravel() for p in params])
        pick = [int(i) for i in xp.argsort(-xp.abs(backprop))[:12]]
        offsets = xp.cumsum([0] + [p.data.size for p in params])
        numeric = []
        start = time.perf_counter()
        with no_grad():
            for flat in pick:
                k = int(xp.searchsorted(offsets, flat, side="right")) - 1
                view = params[k].data.reshape(-1)
                original = view[flat - offsets[k]]
                view[flat - offsets[k]] = original + eps
                plus = loss_of(*params).item()
                view[flat - offsets[k]] = original - eps
                minus = loss_of(*params).item()
                view[flat - offsets[k]] = original
                numeric.append((plus - minus) / (2 * eps))
        numeric_seconds = time.perf_counter() - start
        rows = [{"weight": self._weight_name(names, arrays, flat), "nudging": n, "backprop": float(backprop[flat])}
                for flat, n in zip(pick, numeric, strict=True)]
        return {"weights": len(pick), "batch": batch, "numeric_seconds": numeric_seconds,
                "backprop_seconds": backprop_seconds, "rows": rows,
                "max_abs_diff": max(abs(r["nudging"] - r["backprop"]) for r in rows)}

    def code(self) -> str:
        """Python that reproduces the current setup with the library's own API."""
        s = self.settings
        loss = "None" if s.loss == "auto" else repr(s.loss)
        return (f"from sevensteps.data import load_splits, parse_digits\n"
                f"from sevensteps.learner import Learner, Settings, StopRules\n\n"
                f"splits = load_splits({s.data!r}, None, parse_digits({s.digits!r}))\n"
                f"settings = Settings(model={s.model!r}, hidden={s.hidden}, loss={loss}, optimizer={s.optimizer!r},\n"
                f"                    lr={s.lr:g}, batch_size={s.batch_size}, seed={s.seed})\n"
                f"learner = Learner(splits, settings)\n"
                f"result = learner.fit(StopRules(epochs={s.epochs}))\n"
                f"print(result.stopped_because, result.history[-1])\n")

    # ------------------------------------------------------------ run folders

    def save_run(self) -> Path:
        """The lab's run as a run folder like ``sevensteps train`` writes (report, predict, evaluate, --resume)."""
        from ..cli import new_run_dir
        from ..files import atomic_write_text
        from ..report import build_report

        self.quiesce()
        learn, splits, settings = self.learner, self.splits, self.settings
        with self.cond:
            run_dir = new_run_dir(self.out, settings.model, splits.classes)
            config = {"data": settings.data, "valid": None, "digits": settings.digits,
                      "settings": vars(learn.settings),
                      "rules": {"epochs": self.rules.epochs, "patience": None, "time_limit": None}}
            atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2))
            # A checkpoint counts whole epochs; the weights are the ones on screen (mid-epoch batches included).
            in_epoch = learn.epoch
            learn.epoch = len(learn.history)
            try:
                learn.save_checkpoint(run_dir / "checkpoint.safetensors")
            finally:
                learn.epoch = in_epoch
            learn.save_model(run_dir / "model.safetensors")
            self.snapshots_cb.save(run_dir / "snapshots.safetensors")
            history = [e.to_dict() for e in learn.history]
            baseline = self.baseline.evaluate(splits.valid)
            summary = {
                "baseline_accuracy": baseline.accuracy,
                "valid_accuracy": history[-1]["valid_accuracy"] if history else None,
                "best_valid_accuracy": max((e["valid_accuracy"] for e in history), default=None),
                "epochs_run": len(history), "stopped_because": self.finished or "saved from the lab",
                "interrupted": self.finished is None, "run_dir": str(run_dir),
                "model_path": str(run_dir / "model.safetensors"), "history": history,
                "data": {"train": splits.train.source, "valid": splits.valid.source, "classes": splits.class_names(),
                         "labels": splits.classes, "train_counts": splits.train.counts(),
                         "valid_counts": splits.valid.counts()},
                "baseline_per_class": baseline.to_dict()["per_class"],
                "settings": {**vars(learn.settings), "loss": learn.loss_name},
            }
            atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
        if history:
            build_report(run_dir, splits)
        with self.cond:
            self.message = f"saved in {run_dir}"
            self._publish(force=True)
        return run_dir

    def open_run(self, run_dir: Path) -> str:
        """Continue a run folder made by ``train`` or the lab, from its checkpoint."""
        from ..serialize import ModelFileError

        run_dir = Path(run_dir)
        try:
            config = json.loads((run_dir / "config.json").read_text())
            saved = config["settings"]
            settings = LabSettings(str(config["data"]), str(config["digits"]), saved["model"], saved["hidden"],
                                   saved["loss"] or "auto", saved["optimizer"], saved["lr"], saved["batch_size"],
                                   saved["seed"], config.get("rules", {}).get("epochs", 20))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise LabError(f"{run_dir}: not a run folder with a readable config.json ({error})") from error
        if not (run_dir / "checkpoint.safetensors").is_file():
            raise LabError(f"{run_dir}: no checkpoint.safetensors to continue from")
        self.configure(settings)
        self.quiesce()
        self._stop_thread()
        learn = self.learner
        pacer = learn.callbacks
        learn.callbacks = [self.snapshots_cb]  # load_checkpoint runs init: nothing may wait for the page here
        try:
            learn.load_checkpoint(run_dir / "checkpoint.safetensors")
        except ModelFileError as error:
            raise LabError(str(error)) from error
        finally:
            learn.callbacks = pacer
        if (run_dir / "snapshots.safetensors").is_file():
            self.snapshots_cb.load(run_dir / "snapshots.safetensors")
        with self.cond:
            self.rules.epochs = max(self.rules.epochs, learn.epoch + 1)
            self.mode, self.waiting, self.finished, self.cancelled, self.thread = "paused", False, None, False, None
            self.lit = "repeat"
            if learn.history:
                self._validation_views(learn)
            self.message = f"opened {run_dir} after epoch {learn.epoch}"
            self.texts["repeat"] = self.message
            self._publish(force=True)
        return self.message
