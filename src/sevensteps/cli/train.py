"""``sevensteps train``: the main job. A digit Learner from a recipe, the baseline beside it, a run folder."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from ..recipes import RECIPES
from .options import DATA_DEFAULTS, UsageError, add_data_options, add_model_options, positive_float, positive_int

# What decides a run's numbers: fixed once the run exists, so --resume refuses them.
FIXED_ON_RESUME = ("data", "valid", "digits", "model", "hidden", "loss", "lr", "batch_size", "optimizer", "seed")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("train", help="train a model by the seven steps (the main job)",
                                   description="Train a digit recognizer by SGD and compare it with the "
                                   "pixel-similarity baseline. Default: the chapter's recipe on the sample data.")
    add_data_options(parser, defaults=False)
    add_model_options(parser)
    parser.add_argument("--patience", type=positive_int, default=None,
                        help="stop when validation accuracy has not improved for this many epochs")
    parser.add_argument("--time-limit", type=positive_float, default=None, help="stop after this many seconds")
    parser.add_argument("--out", default="runs", help="folder for run folders (default ./runs)")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="continue an interrupted run (only --epochs, --patience, --time-limit may change)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--json", action="store_true", help="print one JSON object to stdout and nothing else")
    parser.add_argument("--no-report", action="store_true", help="skip the figures and report.html")
    parser.set_defaults(run=run)


def new_config(args: argparse.Namespace) -> Any:
    """The RunConfig of a new run: flags, else the model's recipe; checked before any data is read."""
    from ..data import parse_digits
    from ..recipes import resolve_loss
    from ..runs import Rules, RunConfig, Settings
    from .output import check_digits

    model = args.model or "linear"
    recipe = RECIPES[model]
    if args.hidden is not None and "hidden" not in recipe.options:
        raise UsageError(f"--hidden applies to the mlp model, not to {model}")
    data = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in DATA_DEFAULTS.items()}
    check_digits(data["digits"])
    digits = parse_digits(data["digits"])
    if args.loss is not None and digits is not None:
        try:
            resolve_loss(args.loss, len(digits))
        except ValueError as error:
            raise UsageError(str(error)) from error
    settings = Settings(model, args.hidden or 30, args.loss, args.optimizer or recipe.optimizer, args.lr or recipe.lr,
                        args.batch_size or recipe.batch_size, 42 if args.seed is None else args.seed)
    return RunConfig(data["data"], data["valid"], data["digits"], settings,
                     Rules(args.epochs or recipe.epochs, args.patience, args.time_limit))


def resume_config(args: argparse.Namespace, run_dir: Path) -> Any:
    """The interrupted run's own RunConfig; stop rules given again replace its own."""
    from ..runs import CHECKPOINT, RunConfig
    from ..serialize import CHECKPOINT_FORMAT, load

    given = [f"--{name.replace('_', '-')}" for name in FIXED_ON_RESUME if getattr(args, name) is not None]
    if given:
        raise UsageError(f"--resume continues {run_dir} with its own settings: {', '.join(given)} cannot change "
                         "(only --epochs, --patience and --time-limit can)")
    if (run_dir / CHECKPOINT).is_file():  # a damaged checkpoint is named before anything else
        load(run_dir / CHECKPOINT, CHECKPOINT_FORMAT)
    config = RunConfig.load(run_dir)
    config.rules.epochs = args.epochs or config.rules.epochs
    config.rules.patience = args.patience or config.rules.patience
    config.rules.time_limit = args.time_limit or config.rules.time_limit
    return config


def run(args: argparse.Namespace) -> int:
    from ..baseline import PixelSimilarity
    from ..callbacks import Checkpointer, EpochTable, ProgressBar, WeightSnapshots
    from ..checkpoint import load_checkpoint
    from ..digits import digit_learner
    from ..runs import CHECKPOINT, CONFIG, SNAPSHOTS, RunError, checkpoint_metadata, new_run_dir
    from . import SPLIT_MODELS, use_every_core
    from .output import data_line, load_data, percent, say

    resume_dir = Path(args.resume) if args.resume else None
    if resume_dir is not None:
        if not (resume_dir / CHECKPOINT).is_file() and not (resume_dir / CONFIG).is_file():
            raise UsageError(f"{resume_dir}: no checkpoint.safetensors to resume from")
        config = resume_config(args, resume_dir)
    else:
        config = new_config(args)
    if config.settings.model in SPLIT_MODELS:
        use_every_core()
    splits = load_data(argparse.Namespace(data=config.data, valid=config.valid, digits=config.digits))
    baseline = PixelSimilarity("l1").fit(splits.train, splits.classes).evaluate(splits.valid)
    quiet = args.quiet or args.json
    try:
        learner = digit_learner(splits, config.settings, config.rules, quiet=True)
    except ValueError as error:
        raise UsageError(str(error)) from error
    learner.lr_hint = "--lr {lr:g}"
    if not quiet:
        say(args, data_line(splits))
        per_class = ", ".join(f"{name}: {percent(acc)}" for name, _, acc in baseline.rows())
        say(args, f"Baseline (pixel similarity, nearest ideal image by L1): {percent(baseline.accuracy)} ({per_class})")

    run_dir = resume_dir if resume_dir is not None else new_run_dir(Path(args.out), config.settings.model,
                                                                   splits.classes)
    snapshots = WeightSnapshots()
    checkpoint = run_dir / CHECKPOINT
    learner.add_cb(Checkpointer(checkpoint, checkpoint_metadata(config.settings, splits.classes)))
    learner.add_cb(snapshots)
    if not quiet and sys.stderr.isatty():  # never with --quiet or --json, never into a pipe
        learner.add_cb(ProgressBar())
    if not quiet:
        learner.add_cb(EpochTable(file=sys.stdout))
    if resume_dir is not None and checkpoint.is_file():
        trained_on = load_checkpoint(learner, checkpoint).get("classes")
        if trained_on != splits.classes:
            raise RunError(f"{checkpoint}: trained on classes {trained_on}, not {splits.classes}")
        if (run_dir / SNAPSHOTS).is_file():
            snapshots.load(run_dir / SNAPSHOTS)
        say(args, *([] if quiet else [f"Resuming {run_dir} after epoch {learner.epoch}"]))
    elif resume_dir is None:
        config.save(run_dir)
    s = config.settings
    if not quiet:
        say(args, f"Model: {s.model} ({learner.model.num_parameters():,} weights), loss {learner.loss_name}, "
                  f"{s.optimizer} lr {s.lr:g}, batch {s.batch_size}, seed {s.seed}")
    result, received = fit_with_signals(learner)
    summary = finish(args, run_dir, learner, result, splits, baseline, snapshots)
    if args.json:
        print(json.dumps(summary))
    else:
        print_summary(summary, learner, result)
    return 128 + received[0] if result.interrupted and received else 0  # 130 for Ctrl-C, 143 for SIGTERM


def fit_with_signals(learner: Any) -> tuple[Any, list[int]]:
    """Fit; Ctrl-C or SIGTERM ends it after the current batch, keeping the last whole epoch."""
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        received.append(signum)
        learner.request_stop(f"interrupted by {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return learner.fit(), received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def finish(args: argparse.Namespace, run_dir: Path, learner: Any, result: Any, splits: Any, baseline: Any,
           snapshots: Any) -> dict[str, Any]:
    """Model, snapshots, summary.json and (unless --no-report) the report; returns the summary."""
    from ..runs import save_run

    return save_run(run_dir, learner, result, splits, baseline, snapshots, report=not args.no_report)


def print_summary(summary: dict[str, Any], learner: Any, result: Any) -> None:
    from .output import percent

    trained, baseline, best = summary["valid_accuracy"], summary["baseline_accuracy"], summary["best_valid_accuracy"]
    if learner.diagnosis is not None and learner.diagnosis.kind in ("saturated", "barely_moves"):
        verdict = "the trained model is stuck, not trained (see the learning-rate note below)"
    elif trained is not None and trained > baseline:
        verdict = "the trained model beats pixel similarity"
    else:
        verdict = "the trained model does not beat pixel similarity"
    print(f"Summary: baseline {percent(baseline)} -> trained {percent(trained)} (best {percent(best)}); {verdict}")
    print(f"Stopped: {result.stopped_because}")
    if learner.diagnosis is not None:
        print(f"Learning rate: {learner.diagnosis.message}")
    print(f"Run saved in {summary['run_dir']} (model: {summary['model_path']})")
    if "report" in summary:
        print(f"Report: {summary['report']}")
    if result.interrupted:
        print(f"Resume with: sevensteps train --resume {summary['run_dir']}")
