"""``sevensteps evaluate``: accuracy and confusion matrix of a saved model."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .options import UsageError, add_saved_model_options


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("evaluate", help="accuracy and confusion matrix of a saved model",
                                   description="Evaluate a saved model on a source's validation split (for a "
                                   "source without one, the same held-out 20% that training validated on).")
    add_saved_model_options(parser)
    parser.add_argument("--data", default="sample", help="source to evaluate on (default sample)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..backend import xp
    from ..data import load_source, stratified_split
    from ..metrics import confusion_matrix, probabilities
    from .output import load_saved_model, note, percent

    path, model, meta = load_saved_model(args)
    classes = meta["classes"]
    train, valid = load_source(args.data, log=note)
    if valid is None:  # the same held-out split that training used, never the training images
        valid = stratified_split(train)[1]
    data = valid.select(classes)
    if len(data) == 0:
        raise UsageError(f"{args.data}: has no images of the model's classes {meta['class_names']}")
    probs = probabilities(model, data.images.reshape(len(data), -1), len(classes))
    predicted = xp.asarray(classes)[probs.argmax(axis=-1)]
    confusion = confusion_matrix(data.labels, predicted, classes).tolist()
    per_class = {name: (confusion[i][i] / max(sum(confusion[i]), 1)) for i, name in enumerate(meta["class_names"])}
    accuracy = float((predicted == data.labels).mean())
    if args.json:
        print(json.dumps({"model": str(path), "data": data.source, "images": len(data), "accuracy": accuracy,
                          "per_class": per_class, "classes": meta["class_names"], "confusion": confusion}))
        return 0
    names = meta["class_names"]
    print(f"Model {path} ({meta['model']}) on {data.source}: {len(data)} images")
    print(f"Accuracy: {percent(accuracy)}")
    for name in names:
        print(f"  {name:>12}: {percent(per_class[name])}")
    width = max(8, *(len(n) + 1 for n in names))
    print("Confusion matrix (rows: true class, columns: predicted):")
    print(" " * width + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, confusion, strict=True):
        print(f"{name:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    return 0
