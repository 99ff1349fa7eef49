"""Rewind: snapshots of a Learner at the end of a batch or an epoch, and putting one back exactly.

A snapshot holds the weights, the optimizer's state, the history, the best epoch so far and the state of
the shuffling generator at the start of that epoch; continuing replays the same shuffle and skips the
batches already done, so the numbers after a rewind are the numbers the run had the first time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .settings import LabError


@dataclass
class Snapshot:
    """Everything needed to continue exactly from the end of a batch or of an epoch."""

    id: int
    epoch: int  # the epoch this batch belongs to (or that just ended when batch == 0)
    batch: int  # batches done in that epoch; 0 = the whole epoch is done
    weights: list[Any]  # learn.params' arrays, in order
    optimizer: dict[str, Any]
    generator: str  # at the start of `epoch` (mid-epoch) or now (epoch done): replays the same shuffle
    history: list[Any]
    best: Any
    curve_length: int

    def label(self) -> str:
        return f"after epoch {self.epoch}" if self.batch == 0 else f"epoch {self.epoch}, batch {self.batch}"


def shuffler(learn: Any) -> Any:
    """The generator the training DataLoader draws each epoch's order from (digit_learner's own)."""
    from ..random import get_generator

    return get_generator(learn.dls.train.generator)


def take(learn: Any, id: int, batch: int, epoch_generator: str, curve_length: int) -> Snapshot:
    """The learner now, at the end of batch ``batch`` of its current epoch (0: at the end of the epoch)."""
    return Snapshot(id, learn.epoch, batch, [p.data.copy() for p in learn.params], learn.opt.state_dict(),
                    epoch_generator if batch else shuffler(learn).get_state(), list(learn.history), learn.best,
                    curve_length)


def restore(learn: Any, snap: Snapshot) -> int:
    """Put ``snap`` back into ``learn`` (the optimizer's lr is the snapshot's); returns how many batches of
    the next epoch the Learner must skip to continue where the snapshot was taken."""
    learn.restore(snap.weights)
    learn.opt.zero_grad()  # a fit cancelled half-way through a batch may have left gradients behind
    learn.opt.load_state_dict({"state": {k: dict(v) for k, v in snap.optimizer["state"].items()},
                               "param_groups": [dict(g) for g in snap.optimizer["param_groups"]]})
    shuffler(learn).set_state(snap.generator)
    learn.history = list(snap.history)
    learn.best = snap.best
    learn._last_good = [w.copy() for w in snap.weights]  # where a NaN would go back to
    learn.batch = snap.batch
    if snap.batch:  # fit's repeat counts the epoch up again before replaying it
        learn.epoch = snap.epoch - 1
        return snap.batch
    learn.epoch = snap.epoch
    return 0


def rewind(session: Any, snapshot_id: Any) -> str:
    """Back to an earlier batch or epoch of ``session``'s run, ready to continue (with the current settings' lr):
    the training thread is stopped, the snapshot put back, and the next Step, Batch, Epoch or Play goes on."""
    with session.cond:
        snap = next((s for s in session.all_snapshots() if s.id == snapshot_id), None)
    if snap is None:
        raise LabError(f"snapshot {snapshot_id!r}: no such snapshot (the lab keeps the last {session.max_snapshots} "
                       "batches and epochs)")
    session.quiesce()
    session._stop_thread()
    with session.cond:
        session.skip_batches = restore(session.learner, snap)
        session.set_lr(session.settings.lr)
        session.curve = [point for point in session.curve if point[0] <= snap.curve_length]
        session.batches_seen = snap.curve_length
        session.snapshots = deque((s for s in session.snapshots if s.id <= snap.id), maxlen=session.max_snapshots)
        session.epoch_snapshots = deque((s for s in session.epoch_snapshots if s.id <= snap.id),
                                        maxlen=session.max_snapshots)
        session.update_ratio.clear()
        session.views["epochs"] = -1  # other weights now
        session.refresh_views()
        session.mode, session.waiting, session.finished, session.cancelled = "paused", False, None, False
        session.thread = None
        session.lit = "repeat"
        session.texts["repeat"] = f"rewound to {snap.label()}"
        session.message = f"rewound to {snap.label()}; Step, Batch, Epoch or Play continue from there"
        session._publish(force=True)
    return session.message
