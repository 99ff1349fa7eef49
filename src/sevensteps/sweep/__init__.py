"""Sweeps: a grid of runs (learning rates, models, batch sizes, optimizers, hidden sizes, epochs, seeds) on
Dask's distributed scheduler, each an ordinary run folder under one sweep folder, with a results table and a
report. Dask is an optional extra (``pip install "sevensteps[cluster]"``); nothing here imports it until a
sweep runs.

A sweep folder holds ``sweep.json`` (the grid, so ``--resume`` can rebuild it), ``runs/<name>/`` (one run
folder per configuration and seed), ``results.json`` (the table) and ``report.html``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .grid import Grid, GridError, run_name
from .results import Row, summarize, verdict

__all__ = ["Grid", "GridError", "SweepError", "SweepResults", "sweep"]

SWEEP_FORMAT = "sevensteps-sweep"
SWEEP_FILE = "sweep.json"
RESULTS_FILE = "results.json"
RUNS = "runs"


class SweepError(ValueError):
    """A sweep folder that cannot be resumed, or a sweep that cannot start."""


@dataclass
class SweepResults:
    """What a sweep found: the table (one Row per configuration), the baseline and the verdict."""

    sweep_dir: Path
    rows: list[Row]
    baseline_accuracy: float
    verdict: str
    trained: int  # runs trained (or continued) by this call
    skipped: int  # runs already finished in the sweep folder
    report: Path | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)  # each run's summary.json

    def to_dict(self) -> dict[str, Any]:
        return {"sweep_dir": str(self.sweep_dir), "baseline_accuracy": self.baseline_accuracy,
                "verdict": self.verdict, "trained": self.trained, "skipped": self.skipped,
                "report": None if self.report is None else str(self.report),
                "rows": [row.to_dict() for row in self.rows]}


def new_sweep_dir(out: Path) -> Path:
    """A fresh folder ``out/<date>-<time>-sweep`` (numbered if that exists)."""
    from ..runs import fresh_dir

    return fresh_dir(Path(out) / f"{time.strftime('%Y%m%d-%H%M%S')}-sweep")


def load_grid(sweep_dir: Path) -> Grid:
    """The grid saved in ``sweep_dir/sweep.json``; a missing or damaged one is a SweepError naming it."""
    path = Path(sweep_dir) / SWEEP_FILE
    try:
        saved = json.loads(path.read_text())
        if saved.get("format") != SWEEP_FORMAT:
            raise ValueError(f"format {saved.get('format')!r}, not {SWEEP_FORMAT!r}")
        return Grid(**saved["grid"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SweepError(f"{path}: not a sweep folder to resume ({error})") from error


def check_data(grid: Grid) -> tuple[Any, Any]:
    """Read the data here before any worker does, so a bad --data or --loss is one clear error; returns the
    splits and the baseline."""
    from ..data import parse_digits
    from ..recipes import resolve_loss
    from .run import load_data

    digits = parse_digits(grid.digits)
    if grid.loss is not None and digits is not None:
        resolve_loss(grid.loss, len(digits))
    return load_data(grid.data, grid.valid, grid.digits)


def sweep(out: str | Path = "sweeps", *, resume: str | Path | None = None, model: Any = None, lr: Any = None,
          batch_size: Any = None, optimizer: Any = None, hidden: Any = None, epochs: Any = None, seeds: int = 1,
          data: str = "sample", valid: str | None = None, digits: str = "3,7", loss: str | None = None,
          patience: int | None = None, time_limit: float | None = None, workers: int | None = None,
          scheduler: str | None = None, client: Any = None, yes: bool = False, report: bool = True,
          run_reports: bool = False,
          on_start: Callable[[Path, int, int], None] | None = None,
          on_done: Callable[[Path, dict[str, Any]], None] | None = None) -> SweepResults:
    """Run every combination of the given values (each a value, a list, or a comma string such as
    ``lr="0.1,1,10"``) over ``seeds`` seeds (0..seeds-1); returns the results table.

    ``resume`` continues the sweep in that folder instead (its grid; finished runs are skipped, the others
    continue from their checkpoints). The runs go to ``client`` if given, else to the Dask scheduler at
    ``scheduler``, else to a new LocalCluster of ``workers`` processes (default: one per core).
    ``on_start(sweep_dir, to_train, already_finished)`` and ``on_done(run_dir, summary)`` report progress.
    """
    from .engine import connect, run_all
    from .run import is_finished

    if resume is not None:
        sweep_dir = Path(resume).resolve()  # workers may run elsewhere: they get absolute paths
        grid = load_grid(sweep_dir)
        configs = grid.configs()
    else:
        grid = Grid.from_values(model=model, lr=lr, batch_size=batch_size, optimizer=optimizer, hidden=hidden,
                                epochs=epochs, seeds=seeds, data=data, valid=valid, digits=digits, loss=loss,
                                patience=patience, time_limit=time_limit)
        configs = grid.check_size(yes)
    _, baseline = check_data(grid)
    if resume is None:
        from ..files import atomic_write_text

        sweep_dir = new_sweep_dir(Path(out).resolve())
        atomic_write_text(sweep_dir / SWEEP_FILE, json.dumps({"format": SWEEP_FORMAT, "grid": asdict(grid)},
                                                             indent=2))
    runs = [(sweep_dir / RUNS / run_name(config), config) for config in configs]
    pending = [(run_dir, config) for run_dir, config in runs if not is_finished(run_dir)]
    if on_start is not None:
        on_start(sweep_dir, len(pending), len(runs) - len(pending))
    if pending:
        if client is not None:
            run_all(client, pending, run_reports, on_done)
        else:
            with connect(scheduler, workers) as own_client:
                run_all(own_client, pending, run_reports, on_done)
    return collect(sweep_dir, runs, baseline.accuracy, trained=len(pending), report=report)


def collect(sweep_dir: Path, runs: list[tuple[Path, Any]], baseline: float, trained: int = 0,
            report: bool = True) -> SweepResults:
    """The table from the run folders' summaries; writes results.json and (with ``report``) report.html."""
    from ..files import atomic_write_text
    from ..runs import read_summary

    summaries = [read_summary(run_dir) for run_dir, _ in runs]
    rows = summarize([(config, run_dir, s) for (run_dir, config), s in zip(runs, summaries, strict=True)])
    results = SweepResults(sweep_dir, rows, baseline, verdict(rows, baseline), trained, len(runs) - trained,
                           runs=summaries)
    if report:
        from .report import build_sweep_report

        results.report = build_sweep_report(results)
    atomic_write_text(sweep_dir / RESULTS_FILE, json.dumps(results.to_dict(), indent=2))
    return results
