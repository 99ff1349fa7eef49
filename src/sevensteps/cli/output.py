"""Printing for the commands: human lines to stdout (none with --json), notes to stderr, the data line."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from ..metrics import percent
from .options import UsageError

__all__ = ["UsageError", "data_line", "load_data", "note", "percent", "plural", "say"]


def say(args: argparse.Namespace, *lines: str) -> None:
    """Human-readable output: to stdout normally, to nowhere with --json (stdout is for the JSON)."""
    if not getattr(args, "json", False):
        for line in lines:
            print(line, flush=True)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plural(n: int, word: str) -> str:
    """1 epoch, 2 epochs."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def check_digits(text: str) -> None:
    """Refuse absurd --digits (0-99999999999) before anything expands them."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if any(n > 9 for n in numbers):
        raise UsageError(f"--digits {text!r}: need two or more different digits from 0 to 9")


def load_data(args: argparse.Namespace) -> Any:
    from ..data import load_splits, parse_digits

    check_digits(args.digits)
    digits = parse_digits(args.digits)
    splits = load_splits(args.data, args.valid, digits, log=note)
    for line in splits.notes:
        note(f"note: {line}")
    return splits


def load_saved_model(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(path, model, metadata) of the model ``--model`` names (a run folder or a file; default the newest run)."""
    from ..digits import load_model
    from ..runs import find_model

    path = find_model(args.model)
    return (path, *load_model(path))


def describe_counts(counts: dict[int, int], names: Any) -> str:
    return ", ".join(f"{names(c)}: {n}" for c, n in counts.items())


def data_line(splits: Any) -> str:
    names = splits.train.name_of
    classes = " vs ".join(splits.class_names()) if len(splits.classes) <= 3 else f"{len(splits.classes)} classes"
    return (f"Data: {classes} | train {len(splits.train)} ({describe_counts(splits.train.counts(), names)}) from "
            f"{splits.train.source} | valid {len(splits.valid)} ({describe_counts(splits.valid.counts(), names)}) "
            f"from {splits.valid.source}")
