"""``sevensteps report``: rebuild the figures and report.html of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .options import UsageError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="rebuild the figures and report.html of a run",
                                   description="Draw a finished run's figures and write its self-contained "
                                   "report.html (images embedded).")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder made by 'sevensteps train'")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..report import build_report
    from ..runs import FIGURES

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run folder")
    path = build_report(run_dir)
    print(f"Report: {path} (figures in {run_dir / FIGURES})")
    return 0
