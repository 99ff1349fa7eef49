"""The lab's run as an ordinary run folder (what ``sevensteps train`` writes, through the same functions),
and a run folder opened in the lab to continue from its checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .settings import LabError, LabSettings


def save_run(session: Any) -> Path:
    """A new run folder under ``session.out``: config.json, checkpoint, model, snapshots, summary.json and
    report.html, so ``report``, ``predict``, ``evaluate`` and ``train --resume`` work on it."""
    from ..checkpoint import save_checkpoint
    from ..runs import CHECKPOINT, checkpoint_metadata, new_run_dir
    from ..runs import save_run as write_run
    from ..stopping import FitResult, StopReason

    session.quiesce()
    learn, splits = session.learner, session.splits
    with session.cond:
        config = session.settings.run_config()
        config.rules.epochs = session.epoch_limit
        run_dir = new_run_dir(session.out, config.settings.model, splits.classes)
        config.save(run_dir)
        stopped = StopReason("lab", session.finished or "saved from the lab")
        result = FitResult(stopped, list(learn.history), None, interrupted=session.finished is None)
        # A run folder counts whole epochs (the checkpoint resumes after the last one, the snapshots of an
        # unfinished epoch are left out); the weights are the ones on screen, mid-epoch batches included.
        in_epoch, learn.epoch = learn.epoch, len(learn.history)
        try:
            save_checkpoint(learn, run_dir / CHECKPOINT, checkpoint_metadata(learn.settings, splits.classes))
            write_run(run_dir, learn, result, splits, session.baseline.evaluate(splits.valid), session.snapshots_cb,
                      report=False)  # the report is drawn below, without holding up the training thread
        finally:
            learn.epoch = in_epoch
    if learn.history:
        from ..report import build_report

        build_report(run_dir, splits)
    with session.cond:
        session.message = f"saved in {run_dir}"
        session._publish(force=True)
    return run_dir


def open_run(session: Any, run_dir: Path) -> str:
    """Start ``session`` over with the run folder's settings, then load its checkpoint to continue it."""
    from ..checkpoint import load_checkpoint
    from ..runs import CHECKPOINT, SNAPSHOTS, RunConfig, RunError
    from ..serialize import ModelFileError

    try:
        config = RunConfig.load(run_dir)
    except RunError as error:
        raise LabError(f"{run_dir}: not a run folder with a readable config.json ({error})") from error
    if not (run_dir / CHECKPOINT).is_file():
        raise LabError(f"{run_dir}: no {CHECKPOINT} to continue from")
    session.configure(LabSettings.from_run_config(config))
    session.quiesce()
    session._stop_thread()
    learn = session.learner
    try:
        load_checkpoint(learn, run_dir / CHECKPOINT)
    except ModelFileError as error:
        raise LabError(str(error)) from error
    if (run_dir / SNAPSHOTS).is_file():
        session.snapshots_cb.load(run_dir / SNAPSHOTS)
    with session.cond:
        session.set_epoch_limit(max(session.epoch_limit, learn.epoch + 1))
        session.mode, session.waiting, session.finished, session.cancelled = "paused", False, None, False
        session.thread = None
        session.lit = "repeat"
        session.views["epochs"] = -1  # other weights now: the views are stale
        session.message = f"opened {run_dir} after epoch {learn.epoch}"
        session.texts["repeat"] = session.message
    session.refresh_views()
    session.publish()
    return session.message
