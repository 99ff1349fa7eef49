"""The lab's training thread: ``Learner.fit`` runs in a thread of its own, which the :class:`~.pacer.Pacer`
callback holds after each step until the page lets it go on; the lab only starts, cancels and waits for it."""

from __future__ import annotations

import os
import threading
from typing import Any


def blas_threads() -> int:
    """BLAS threads for training in the lab: all cores but two (at least one).

    The page's browser and the server's event loop need a core while the lab plays. OpenBLAS's threads
    spin-wait for each other after every product, so when one of them is descheduled by the browser a
    small product takes milliseconds instead of microseconds: on two cores, two BLAS threads made Play
    with the page open 5× slower than one thread (bench/lab.py).
    """
    return max(1, (os.cpu_count() or 2) - 2)


def start_fit(session: Any) -> None:
    """Run the session's ``Learner.fit`` in a thread; when it ends, say why on the page."""
    learner = session.learner

    def run() -> None:
        from threadpoolctl import threadpool_limits

        from ..callbacks import CancelFitException

        reason = ""
        try:
            with threadpool_limits(blas_threads(), user_api="blas"):
                reason = learner.fit().stopped_because
        except CancelFitException as cancel:  # cancelled in after_init: init runs before fit's own handler
            reason = str(cancel)
        except Exception as error:  # the lab must say what went wrong, and keep serving
            reason = f"training failed: {type(error).__name__}: {error}"
        if session.learner is learner and not session.cancelled:
            session.refresh_views()
        with session.cond:
            if session.learner is learner and not session.cancelled:
                session.finished = reason
                session.mode = "paused"
                session.lit = "stop"
                session.texts["stop"] = f"stopped: {reason}"
                session._publish(force=True)
            session.cond.notify_all()

    session.cancelled = False
    session.finished = None
    session.thread = threading.Thread(target=run, name="sevensteps-lab-fit", daemon=True)
    session.thread.start()


def stop_fit(session: Any) -> None:
    """Cancel a running fit (the pacer raises CancelFitException at its next step) and wait for it."""
    thread = session.thread
    if thread is None or not thread.is_alive():
        return
    with session.cond:
        session.cancelled = True
        if session.learner is not None:
            session.learner.request_stop("the lab started over")
        session.cond.notify_all()
    thread.join(timeout=30)
