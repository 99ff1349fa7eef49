"""``sevensteps baseline``: the pixel-similarity program alone."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .options import add_data_options


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("baseline", help="the pixel-similarity program alone",
                                   description="Average each class into an ideal image; call each validation "
                                   "image whichever ideal is closest.")
    add_data_options(parser)
    parser.add_argument("--metric", choices=["l1", "rmse"], default="l1", help="distance (default l1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..baseline import PixelSimilarity
    from .output import data_line, load_data, percent

    splits = load_data(args)
    report = PixelSimilarity(args.metric).fit(splits.train, splits.classes).evaluate(splits.valid)
    if args.json:
        print(json.dumps({"metric": args.metric, **report.to_dict(), "valid": splits.valid.source,
                          "counts": {splits.train.name_of(c): n for c, n in report.counts.items()}}))
        return 0
    print(data_line(splits))
    print(f"Pixel similarity ({args.metric}): {percent(report.accuracy)} of {len(splits.valid)} validation images")
    for name, count, accuracy in report.rows():
        print(f"  {name:>12}: {percent(accuracy):>8} of {count}")
    return 0
