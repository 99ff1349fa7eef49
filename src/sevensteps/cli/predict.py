"""``sevensteps predict``: classify image files with a saved model, saying which model and how sure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .options import add_saved_model_options

UNSURE_BELOW = 0.9  # a top probability under this is reported as "unsure" rather than as a confident label


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("predict", help="classify image files with a saved model",
                                   description="Prepare each image the MNIST way (grayscale, crop to the ink, "
                                   "fit in 20×20, centre in 28×28) and classify it. Unreadable images are "
                                   "reported one line each; the others are still classified.")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    add_saved_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..backend import xp
    from ..data.dataset import DataError
    from ..data.preprocess import load_digit_image
    from ..metrics import probabilities
    from .output import load_saved_model, percent

    path, model, meta = load_saved_model(args)
    names = meta["class_names"]
    images, readable, failures = [], [], []
    for name in args.images:
        try:
            images.append(load_digit_image(Path(name)))
            readable.append(name)
        except (DataError, OSError) as error:
            failures.append(str(error) if name in str(error) else f"{name}: {error}")
    results = []
    if images:
        probs = probabilities(model, xp.stack(images), len(meta["classes"]))
        for name, row in zip(readable, probs, strict=True):
            k = int(row.argmax())
            results.append({"image": name, "prediction": names[k], "probability": float(row[k]),
                            "unsure": bool(row[k] < UNSURE_BELOW),
                            "probabilities": dict(zip(names, map(float, row), strict=True))})
    if args.json:
        print(json.dumps({"model": str(path), "predictions": results, "unreadable": failures}))
    else:
        if results:
            print(f"Model: {path} ({meta['model']}, classes {', '.join(names)})")
        for r in results:
            caveat = (f"; unsure: it may be none of {', '.join(names)}" if r["unsure"] else "")
            print(f"{r['image']}: {r['prediction']} ({percent(r['probability'])}{caveat})")
    for failure in failures:
        print(f"sevensteps: error: {failure}", file=sys.stderr)
    return 2 if failures else 0
