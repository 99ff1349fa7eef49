"""The results table of a sweep: one row per configuration, mean ± std over its seeds."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..runs import RunConfig
from .grid import config_label


@dataclass
class Row:
    """One configuration (every setting but the seed) and how its runs went."""

    label: str
    model: str
    hidden: int | None
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    seeds: list[int]
    valid_accuracies: list[float | None]  # each seed's, as its summary.json reports it
    valid_accuracy_mean: float | None
    valid_accuracy_std: float | None
    best_valid_accuracy_mean: float | None
    best_valid_accuracy_std: float | None
    valid_accuracy_spread: float | None  # max - min over seeds: what the seed alone changes
    epochs_run: list[int]
    stopped_because: list[str]
    seconds: float  # training time, summed over the seeds' epochs
    run_dirs: list[str]
    curves: list[list[float | None]] = field(default_factory=list)  # validation accuracy per epoch, per seed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return None, None
    return statistics.fmean(known), statistics.pstdev(known) if len(known) > 1 else 0.0


def summarize(runs: list[tuple[RunConfig, Path, dict[str, Any]]]) -> list[Row]:
    """Rows in the grid's order from (config, run folder, summary) triples."""
    groups: dict[str, list[tuple[RunConfig, Path, dict[str, Any]]]] = {}
    for run in runs:
        groups.setdefault(config_label(run[0]), []).append(run)
    rows = []
    for label, members in groups.items():
        s, rules = members[0][0].settings, members[0][0].rules
        finals = [summary["valid_accuracy"] for _, _, summary in members]
        bests = [summary["best_valid_accuracy"] for _, _, summary in members]
        known = [v for v in finals if v is not None]
        mean, std = _mean_std(finals)
        best_mean, best_std = _mean_std(bests)
        rows.append(Row(
            label, s.model, s.hidden if s.model != "linear" else None, s.optimizer, s.lr, s.batch_size, rules.epochs,
            [c.settings.seed for c, _, _ in members], finals, mean, std, best_mean, best_std,
            max(known) - min(known) if known else None,
            [summary["epochs_run"] for _, _, summary in members],
            sorted({summary["stopped_because"] for _, _, summary in members}),
            sum(e["seconds"] for _, _, summary in members for e in summary["history"]),
            [str(run_dir) for _, run_dir, _ in members],
            [[e.get("valid_accuracy") for e in summary["history"]] for _, _, summary in members]))
    return rows


def best_row(rows: list[Row]) -> Row | None:
    """The configuration with the highest mean final validation accuracy."""
    scored = [r for r in rows if r.valid_accuracy_mean is not None]
    return max(scored, key=lambda r: r.valid_accuracy_mean) if scored else None


def verdict(rows: list[Row], baseline: float) -> str:
    """The best configuration, its margin over pixel similarity, and whether the seed alone could explain it."""
    best = best_row(rows)
    if best is None:
        return "No configuration finished an epoch."
    margin = best.valid_accuracy_mean - baseline
    line = (f"Best: {best.label}, {_pct(best.valid_accuracy_mean)} mean over {len(best.seeds)} "
            f"seed{'s' if len(best.seeds) != 1 else ''}, {_points(margin)} over pixel similarity "
            f"({_pct(baseline)})")
    if len(best.seeds) < 2:
        return line + "; run --seeds 2 or more to see whether the margin exceeds the seed-to-seed spread."
    spread = best.valid_accuracy_spread or 0.0
    exceeds = "exceeds" if abs(margin) > spread else "does not exceed"
    return line + f"; that margin {exceeds} the seed-to-seed spread ({_points(spread, sign=False)}, max - min)."


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _points(x: float, sign: bool = True) -> str:
    return f"{100 * x:+.2f} points" if sign else f"{100 * x:.2f} points"


def _pm(mean: float | None, std: float | None) -> str:
    return "n/a" if mean is None else f"{100 * mean:.2f} ± {100 * (std or 0):.2f}%"


def format_table(rows: list[Row]) -> str:
    """The results table as aligned text."""
    header = ["configuration", "seeds", "final valid acc", "best valid acc", "epochs", "stopped", "time"]
    lines = [[r.label, str(len(r.seeds)), _pm(r.valid_accuracy_mean, r.valid_accuracy_std),
              _pm(r.best_valid_accuracy_mean, r.best_valid_accuracy_std),
              "/".join(str(e) for e in sorted(set(r.epochs_run))), "; ".join(r.stopped_because),
              f"{r.seconds:.1f}s"] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)
