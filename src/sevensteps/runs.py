"""Run folders: what ``sevensteps train`` writes, and the one place that reads and writes ``config.json``.

A run folder holds ``config.json`` (what was asked), ``checkpoint.safetensors`` (to resume),
``model.safetensors`` (to predict), ``snapshots.safetensors`` (first-layer weights for pictures),
``summary.json`` (what happened), ``figures/`` and ``report.html``. Train, resume, report, predict,
evaluate, the lab and sweeps all find these files through this module.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG = "config.json"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.safetensors"
MODEL = "model.safetensors"
SNAPSHOTS = "snapshots.safetensors"
FIGURES = "figures"
REPORT = "report.html"


class RunError(Exception):
    """A run folder that is missing, damaged or not a run folder."""


@dataclass
class Settings:
    """Everything that decides a run's numbers; saved in config.json, checkpoints and model files."""

    model: str = "linear"
    hidden: int = 30
    loss: str | None = None  # mnist_loss for two classes, cross_entropy for more
    optimizer: str = "sgd"
    lr: float = 1.0
    batch_size: int = 256
    seed: int = 42


@dataclass
class Rules:
    """When to stop: after ``epochs``, after ``patience`` epochs without a better accuracy, or out of time."""

    epochs: int = 20
    patience: int | None = None
    time_limit: float | None = None  # seconds of training, over all resumes


@dataclass
class RunConfig:
    """The contents of config.json: the data asked for, the settings and the stop rules."""

    data: str = "sample"
    valid: str | None = None
    digits: str = "3,7"
    settings: Settings = field(default_factory=Settings)
    rules: Rules = field(default_factory=Rules)

    def save(self, run_dir: Path) -> None:
        from .files import atomic_write_text

        atomic_write_text(Path(run_dir) / CONFIG, json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, run_dir: Path) -> RunConfig:
        """Read ``run_dir/config.json``; a missing or damaged one is a :class:`RunError` naming it."""
        path = Path(run_dir) / CONFIG
        try:
            saved = json.loads(path.read_text())
            return cls(str(saved["data"]), None if saved["valid"] is None else str(saved["valid"]),
                       str(saved["digits"]), Settings(**saved["settings"]), Rules(**saved.get("rules", {})))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RunError(f"{path}: missing or damaged ({error})") from error


def read_summary(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / SUMMARY
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: missing or damaged ({error})") from error


def fresh_dir(base: Path) -> Path:
    """Make and return ``base``, or ``base-2``, ``base-3``, ... if it exists: never an existing folder.

    The folder is claimed by ``mkdir`` itself, so two commands started in the same second get one each."""
    path, n = Path(base), 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = Path(f"{base}-{n}")


def new_run_dir(out: Path, model: str, classes: list[int]) -> Path:
    """A fresh folder ``out/<date>-<time>-<model>-<classes>`` (numbered if that exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    label = "v".join(str(c) for c in classes) if len(classes) <= 3 else f"{len(classes)}class"
    return fresh_dir(Path(out) / f"{stamp}-{model}-{label}")


def find_model(path: str | Path | None, runs: Path = Path("runs")) -> Path:
    """The model file to use: ``path`` itself, ``path/model.safetensors`` for a run folder, or the newest
    ``runs/*/model.safetensors`` when no path is given."""
    if path is not None:
        path = Path(path)
        if path.is_dir():
            if not (path / MODEL).is_file():
                raise RunError(f"{path}: a folder without {MODEL}; give a run folder or a model file")
            return path / MODEL
        return path
    candidates = sorted(runs.glob(f"*/{MODEL}"), key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
    if not candidates:
        raise RunError(f"no --model given and no {runs}/*/{MODEL} here; train one with 'sevensteps train'")
    return candidates[-1]


def checkpoint_metadata(settings: Settings, classes: list[int]) -> dict[str, Any]:
    """What a run's checkpoint carries besides the Learner: ``--resume`` checks the classes against the data."""
    return {"settings": asdict(settings), "classes": classes}


def save_run(run_dir: Path, learner: Any, result: Any, splits: Any, baseline: Any, snapshots: Any,
             report: bool = True) -> dict[str, Any]:
    """The end of a run, as ``sevensteps train`` and the lab write it: model, snapshots, summary.json and
    (if ``report``) the figures and report.html; returns the summary. ``result`` is the FitResult, ``baseline``
    the pixel-similarity BaselineReport on the validation set, ``snapshots`` the WeightSnapshots callback."""
    from .digits import save_model
    from .files import atomic_write_text

    model_path = run_dir / MODEL
    save_model(learner, model_path)
    snapshots.snapshots = {e: w for e, w in snapshots.snapshots.items() if e <= learner.epoch}
    snapshots.save(run_dir / SNAPSHOTS)
    history = [e.to_dict() for e in result.history]
    final = history[-1]["valid_accuracy"] if history else None
    best = max((e["valid_accuracy"] for e in history if e["valid_accuracy"] is not None), default=None)
    summary = {
        "baseline_accuracy": baseline.accuracy, "valid_accuracy": final, "best_valid_accuracy": best,
        "epochs_run": len(history), "stopped_because": result.stopped_because, "interrupted": result.interrupted,
        "run_dir": str(run_dir), "model_path": str(model_path), "history": history,
        "data": {"train": splits.train.source, "valid": splits.valid.source, "classes": splits.class_names(),
                 "labels": splits.classes,
                 "train_counts": splits.train.counts(), "valid_counts": splits.valid.counts()},
        "baseline_per_class": baseline.to_dict()["per_class"],
        "settings": {**vars(learner.settings), "loss": learner.loss_name},
        "diagnosis": None if learner.diagnosis is None else {"kind": learner.diagnosis.kind,
                                                             "message": learner.diagnosis.message},
    }
    if result.best_epoch is not None:
        summary["valid_accuracy"] = learner.best.value
    atomic_write_text(run_dir / SUMMARY, json.dumps(summary, indent=2))
    if report and history:
        from .report import build_report

        summary["report"] = str(build_report(run_dir, splits))
    return summary
