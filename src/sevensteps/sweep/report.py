"""The sweep report: one self-contained ``report.html`` (figures embedded) in the sweep folder.

Accuracy against learning rate per model on a log axis, every run's learning curve overlaid, the spread
over seeds of each configuration, the results table, and the verdict: the best configuration, its margin
over pixel similarity, and whether that margin exceeds what the seed alone changes.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ..files import atomic_write_text
from .results import Row

REPORT = "report.html"


def _series_label(row: Row) -> str:
    """A configuration without its learning rate: the lines of the accuracy-vs-lr figure."""
    return "-".join(part for part in row.label.split("-") if not part.startswith("lr"))


def accuracy_vs_lr(rows: list[Row], baseline: float) -> Figure:
    """Final validation accuracy against learning rate (log axis): each seed a dot, the mean ± std a line."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    series: dict[str, list[Row]] = {}
    for row in rows:
        series.setdefault(_series_label(row), []).append(row)
    for index, (label, members) in enumerate(series.items()):
        members = sorted((r for r in members if r.valid_accuracy_mean is not None), key=lambda r: r.lr)
        color = f"C{index % 10}"
        for r in members:
            finals = [v for v in r.valid_accuracies if v is not None]
            ax.scatter([r.lr] * len(finals), [100 * v for v in finals], color=color, s=12, alpha=0.5)
        ax.errorbar([r.lr for r in members], [100 * r.valid_accuracy_mean for r in members],
                    yerr=[100 * (r.valid_accuracy_std or 0) for r in members], color=color, marker="o",
                    capsize=3, label=label)
    ax.axhline(100 * baseline, color="gray", linestyle="--", label="pixel similarity")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("final validation accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def learning_curves(rows: list[Row], baseline: float) -> Figure:
    """Validation accuracy after each epoch, every run; one colour per configuration."""
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    for index, row in enumerate(rows):
        color = f"C{index % 10}"
        for seed_index, curve in enumerate(row.curves):
            points = [(e + 1, 100 * v) for e, v in enumerate(curve) if v is not None]
            if points:
                ax.plot(*zip(*points, strict=True), color=color, alpha=0.7, linewidth=1,
                        label=row.label if seed_index == 0 else None)
    ax.axhline(100 * baseline, color="gray", linestyle="--", label="pixel similarity")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return fig


def seed_spread(rows: list[Row], baseline: float) -> Figure:
    """Each configuration's final accuracy per seed (dots) and mean ± std (bar), best at the top."""
    shown = sorted((r for r in rows if r.valid_accuracy_mean is not None), key=lambda r: r.valid_accuracy_mean)
    fig = Figure(figsize=(8, max(2.5, 0.35 * len(shown) + 1.2)))
    ax = fig.add_subplot()
    for y, row in enumerate(shown):
        finals = [v for v in row.valid_accuracies if v is not None]
        ax.scatter([100 * v for v in finals], [y] * len(finals), color="C0", s=14, alpha=0.6)
        ax.errorbar([100 * row.valid_accuracy_mean], [y], xerr=[100 * (row.valid_accuracy_std or 0)], color="C3",
                    marker="|", markersize=12, capsize=4)
    ax.axvline(100 * baseline, color="gray", linestyle="--", label="pixel similarity")
    ax.set_yticks(range(len(shown)), [r.label for r in shown], fontsize=7)
    ax.set_xlabel("final validation accuracy (%): dots are seeds, red is mean ± std")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    return fig


CAPTIONS = {
    "accuracy_vs_lr": "Final validation accuracy against learning rate, one line per model and setting; dots are "
                      "single seeds, bars one standard deviation over seeds. Dashed: pixel similarity.",
    "curves": "Validation accuracy after every epoch of every run, one colour per configuration.",
    "spread": "How much the seed alone moves each configuration's accuracy. A difference between "
              "configurations smaller than this spread may be luck.",
}


def _png(fig: Figure) -> str:
    from ..plots import png_bytes

    return base64.b64encode(png_bytes(fig)).decode("ascii")


def _table(rows: list[Row]) -> str:
    def pct(mean: float | None, std: float | None) -> str:
        return "n/a" if mean is None else f"{100 * mean:.2f} ± {100 * (std or 0):.2f}%"

    cells = [[r.label, len(r.seeds), pct(r.valid_accuracy_mean, r.valid_accuracy_std),
              pct(r.best_valid_accuracy_mean, r.best_valid_accuracy_std),
              "/".join(str(e) for e in sorted(set(r.epochs_run))), "; ".join(r.stopped_because), f"{r.seconds:.1f}s",
              ", ".join(Path(d).name for d in r.run_dirs)] for r in rows]
    head = "".join(f"<th>{h}</th>" for h in ("configuration", "seeds", "final valid acc", "best valid acc", "epochs",
                                             "stopped because", "time", "run folders"))
    rows_html = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in line) + "</tr>"
                        for line in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows_html}</tbody></table>"


def build_sweep_report(results: Any) -> Path:
    """Write ``report.html`` for a SweepResults; returns its path."""
    rows, baseline = results.rows, results.baseline_accuracy
    figures = {"accuracy_vs_lr": accuracy_vs_lr(rows, baseline), "curves": learning_curves(rows, baseline),
               "spread": seed_spread(rows, baseline)}
    figures_html = "".join(f'<figure id="{name}"><img alt="{name}" src="data:image/png;base64,{_png(fig)}">'
                           f"<figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>"
                           for name, fig in figures.items())
    first = results.runs[0] if results.runs else {}
    classes = " vs ".join(first.get("data", {}).get("classes", []))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sevensteps sweep {html.escape(results.sweep_dir.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.6em; }} table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: right; }} th {{ background: #f2f2f2; }}
td:first-child, td:last-child {{ text-align: left; }} .verdict {{ font-size: 1.25em; margin: 1em 0; }}
figure {{ margin: 1.5em 0; }} figure img {{ max-width: 100%; }} figcaption {{ color: #555; }}
</style></head><body>
<h1>sevensteps sweep: {html.escape(classes)}, {len(results.runs)} runs in {len(rows)} configurations</h1>
<p class="verdict">{html.escape(results.verdict)}</p>
<p>Training data: {html.escape(str(first.get("data", {}).get("train", "")))}; validation data:
{html.escape(str(first.get("data", {}).get("valid", "")))}. Each run folder works with
<code>sevensteps report</code>, <code>predict</code> and <code>evaluate</code>.</p>
<h2>Results (mean ± std over seeds)</h2>{_table(rows)}
<h2>Figures</h2>{figures_html}
</body></html>
"""
    path = results.sweep_dir / REPORT
    atomic_write_text(path, page)
    return path
