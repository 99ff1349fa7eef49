"""A frame: what the page shows, as one JSON-ready dict. Its live part changes every batch (status, the
lit step, each step's numbers, the loss curve's newest points, the first layer's weights, the diagnosis); its
slow part only when an epoch ends, a setting changes or the curve's tail grows long (settings, history, views,
snapshots, the code panel, the rest of the curve)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from .views import encode_weights

# Turning the whole loss curve into JSON 30 times a second cost more than the rest of a frame: the live part
# carries the points since the slow part's copy (at most this many), the page joins the two.
CURVE_TAIL = 50


def status(session: Any) -> str:
    """One word or line for the page: playing, paused after <step>, stopped: <why>, ..."""
    if session.finished is not None:
        return f"stopped: {session.finished}"
    if session.mode == "play":
        return "playing"
    if session.waiting:
        return f"paused after {session.lit}"
    if session.thread is None or not session.thread.is_alive():
        return "paused"
    return "running"


def live_part(session: Any) -> dict[str, Any]:
    learn = session.learner
    return {
        "version": session.version, "slow_version": session.slow_version, "status": status(session),
        "mode": session.mode, "lit": session.lit, "steps": dict(session.texts), "speed": session.speed,
        "lr_now": session.lr_now(), "epoch": learn.epoch, "batch": learn.batch, "n_batches": len(learn.dls.train),
        # (batch, loss, accuracy) with null for NaN: only the points after the slow part's curve_head
        "curve_tail": session.curve[session.curve_head_length:],
        "weights": encode_weights(learn.params[0].data), "diagnosis": session.diagnosis(),
    }


def slow_part(session: Any) -> dict[str, Any]:
    learn = session.learner
    session.curve_head_length = len(session.curve)
    return {
        "curve_head": list(session.curve),
        "settings": asdict(session.settings), "classes": session.splits.class_names(),
        "baseline_accuracy": session.baseline_accuracy, "history": [e.to_dict() for e in learn.history],
        "model": session.settings.model, "confusion": session.views["confusion"],
        "mistakes": session.views["mistakes"],
        "snapshots": [{"id": s.id, "label": s.label()} for s in session.all_snapshots()],
        "message": session.message, "code": session.code(),
        "train_size": len(learn.dls.train.dataset), "valid_size": len(learn.dls.valid.dataset),
    }


def publish(session: Any, force: bool) -> None:
    """Build ``session``'s next frame and tell its listeners (caller holds the lock); without ``force``, at
    most ``session.fps`` frames a second.

    A frame has a live part (numbers that change every batch) and a slow part (history, views,
    snapshots, code, the loss curve but its newest points) rebuilt only when it changed, so streaming
    stays cheap while playing; the server sends the slow part only to pages that have not seen its
    ``slow_version`` yet.
    """
    now = time.perf_counter()
    if not force and now - session.last_publish < 1 / session.fps:
        return
    session.last_publish = now
    session.version += 1
    tail = len(session.curve) - session.curve_head_length
    if tail > CURVE_TAIL or tail < 0:  # the tail grew long, or the curve was thinned or rewound
        session.slow_dirty = True
    if force or session.slow_dirty or session.slow is None:
        session.slow_version += 1
        session.slow = slow_part(session)
        session.slow_dirty = False
    session.live = live_part(session)
    session.frame = {**session.live, **session.slow}
    session.published = (session.frame, session.live)
    for listener in list(session.listeners):
        listener()
