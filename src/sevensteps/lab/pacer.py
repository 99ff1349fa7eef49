"""The stepping callback: the page drives the Learner by letting it go on, step by step.

:class:`Pacer` is an ordinary Learner callback. After init, predict, loss, gradient and step, after each
batch (repeat, then stop) and after each epoch it records that step's numbers (:mod:`.readouts`), takes a
snapshot for Rewind at the end of a batch or an epoch, refreshes the validation views after an epoch (in
Play at most once a second), publishes a frame, and, if the page asked to stop
there, blocks on the session's condition until the page allows the next step. So the lab has no training
loop of its own: it only decides *when* the Learner's loop may go on.
"""

from __future__ import annotations

import time
from typing import Any

from ..callbacks import CancelBatchException, CancelFitException
from . import snapshots as snaps
from .readouts import describe

# In Play the validation views (one more pass over the validation set) are redrawn at most this often, in
# seconds: at hundreds of batches a second, doing it after every epoch cost as much as training did.
VIEWS_INTERVAL = 1.0


class Pacer:
    """Learner events → the lab session's state; waits where the session's mode says to."""

    def __init__(self, session: Any):
        self.session = session

    def before_epoch(self, learn: Any) -> None:
        # The DataLoader draws this epoch's order right after this event: keep the state it draws from.
        with self.session.cond:
            self.session.epoch_generator = snaps.shuffler(learn).get_state()

    def before_batch(self, learn: Any) -> None:
        session = self.session
        if session.skip_batches and learn.batch <= session.skip_batches:
            raise CancelBatchException  # replaying the shuffle up to a rewound batch: already done
        session.skip_batches = 0

    def after_init(self, learn: Any) -> None:
        self.reached("init", learn)

    def after_predict(self, learn: Any) -> None:
        self.reached("predict", learn)

    def after_loss(self, learn: Any) -> None:
        self.reached("loss", learn)

    def after_gradient(self, learn: Any) -> None:
        self.reached("gradient", learn)

    def after_step(self, learn: Any) -> None:
        self.reached("step", learn)

    def after_batch(self, learn: Any) -> None:
        self.reached("repeat", learn)
        self.reached("stop", learn)

    def after_epoch(self, learn: Any) -> None:
        self.reached("epoch", learn)

    def reached(self, point: str, learn: Any) -> None:
        """Record what ``point`` did, publish, and wait here if the page asked to stop at this point."""
        session = self.session
        describe(session, point, learn)
        if point == "repeat":
            self.snapshot(learn, learn.batch)
        elif point == "epoch":
            if time.perf_counter() - session.views_at >= VIEWS_INTERVAL:
                session.refresh_views()
            self.snapshot(learn, 0)
            session.slow_dirty = True
        if session.mode != "play":  # about to stop here, or stepping by hand: show the latest epoch's views
            session.refresh_views()
        with session.cond:
            if session.cancelled:
                raise CancelFitException("the lab started over")
            session.lit = "stop" if point == "epoch" else point
            mode = session.mode
            stop_here = (mode in ("paused", "step") or (mode == "batch" and point == "stop")
                         or (mode == "epoch" and point == "epoch"))
            if point == "stop" and mode == "play" and session.speed > 0:
                delay = 1 / session.speed - (time.perf_counter() - session.last_batch_time)
                if delay > 0:
                    session.cond.wait_for(lambda: session.mode != "play" or session.cancelled, timeout=delay)
                    stop_here = session.mode == "paused"
                session.last_batch_time = time.perf_counter()
            if not stop_here:
                session._publish(force=False)
                return
            session.mode = "paused"
            session.waiting = True
            session._publish(force=True)
            session.cond.notify_all()  # someone may wait for the learner to pause (save, rewind)
            session.cond.wait_for(lambda: session.mode != "paused" or session.cancelled)
            session.waiting = False
            if session.cancelled:
                raise CancelFitException("the lab started over")

    def snapshot(self, learn: Any, batch: int) -> None:
        """Keep the learner's state for Rewind (the session keeps the last few batches and epochs)."""
        session = self.session
        with session.cond:
            snap = snaps.take(learn, session.next_snapshot_id, batch, session.epoch_generator, session.batches_seen)
            session.next_snapshot_id += 1
            (session.snapshots if batch else session.epoch_snapshots).append(snap)
