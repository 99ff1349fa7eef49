"""One configuration of a sweep, trained in-process on a Dask worker into an ordinary run folder.

This is ``sevensteps train`` without its terminal: the same data, baseline, Learner, checkpoints and
``summary.json`` (built from the very functions ``train`` uses), so every run folder of a sweep works with
``report``, ``predict``, ``evaluate`` and ``train --resume``, and its weights are bit for bit those of the
same configuration trained alone. No signal handlers: a worker runs tasks off its main thread, and an
interrupted run is continued from its last checkpoint instead.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..runs import (
    CHECKPOINT,
    CONFIG,
    SNAPSHOTS,
    SUMMARY,
    RunConfig,
    RunError,
    checkpoint_metadata,
    read_summary,
    save_run,
)


def is_finished(run_dir: Path) -> bool:
    """A run folder whose training ended on its own (summary.json written, not interrupted)."""
    if not (Path(run_dir) / SUMMARY).is_file():
        return False
    try:
        return not read_summary(run_dir).get("interrupted", True)
    except RunError:
        return False


@functools.lru_cache(maxsize=4)
def load_data(data: str, valid: str | None, digits: str) -> tuple[Any, Any]:
    """The splits and the pixel-similarity baseline, read once per process (a worker's cache): tasks carry
    only a RunConfig, never the images."""
    from ..baseline import PixelSimilarity
    from ..data import load_splits, parse_digits

    splits = load_splits(data, valid, parse_digits(digits), log=lambda message: None)
    baseline = PixelSimilarity("l1").fit(splits.train, splits.classes).evaluate(splits.valid)
    return splits, baseline


def train_one(run_dir: str | Path, config: RunConfig, run_report: bool = False) -> dict[str, Any]:
    """Train ``config`` in ``run_dir``: start it, continue it from its checkpoint, or (already finished)
    just read its summary. Returns the run's summary.json contents."""
    from ..callbacks import Checkpointer, WeightSnapshots
    from ..checkpoint import load_checkpoint
    from ..digits import digit_learner

    run_dir = Path(run_dir)
    if is_finished(run_dir):
        return read_summary(run_dir)
    splits, baseline = load_data(config.data, config.valid, config.digits)
    learner = digit_learner(splits, config.settings, config.rules, quiet=True)
    learner.lr_hint = "--lr {lr:g}"
    snapshots = WeightSnapshots()
    checkpoint = run_dir / CHECKPOINT
    learner.add_cb(Checkpointer(checkpoint, checkpoint_metadata(config.settings, splits.classes)))
    learner.add_cb(snapshots)
    if checkpoint.is_file():
        trained_on = load_checkpoint(learner, checkpoint).get("classes")
        if trained_on != splits.classes:
            raise RunError(f"{checkpoint}: trained on classes {trained_on}, not {splits.classes}")
        if (run_dir / SNAPSHOTS).is_file():
            snapshots.load(run_dir / SNAPSHOTS)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not (run_dir / CONFIG).is_file():
            config.save(run_dir)
    result = learner.fit()
    return save_run(run_dir, learner, result, splits, baseline, snapshots, report=run_report)
