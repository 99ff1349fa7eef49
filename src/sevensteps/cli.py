"""The ``sevensteps`` command: train, baseline, steps, gradcheck, predict, evaluate.

Only the standard library is imported at start-up, so ``sevensteps --help`` is instant; each command
imports what it needs when it runs. Every expected failure (bad flags, files, models, images) prints
one line starting ``sevensteps: error:`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


class UsageError(Exception):
    """A bad value given on the command line."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"sevensteps: error: {message} (see '{self.prog} --help')\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="sample",
                        help="training source: sample (default), mnist, mnist_sample, fashion-mnist, or a path")
    parser.add_argument("--valid", default=None,
                        help="validation source (default: the training source's own validation split)")
    parser.add_argument("--digits", default="3,7", help="classes to tell apart: 3,7 (default), 0-4, or all")


def build_parser() -> Parser:
    parser = Parser(prog="sevensteps", description="Show, run and measure how a neural network learns: "
                    "MNIST 3s vs 7s, from pixel similarity to SGD in seven steps.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    train = commands.add_parser("train", help="train a model by the seven steps (the main job)",
                                description="Train a digit recognizer by SGD and compare it with the "
                                "pixel-similarity baseline. Default: the chapter's recipe on the sample data.")
    add_data_options(train)
    train.add_argument("--model", choices=["linear", "mlp"], default="linear", help="linear (784→1) or mlp (784→30→1)")
    train.add_argument("--hidden", type=positive_int, default=30, help="hidden units of the mlp (default 30)")
    train.add_argument("--loss", choices=["mnist_loss", "bce", "cross_entropy"], default=None,
                       help="default: mnist_loss for two classes, cross_entropy for more")
    train.add_argument("--epochs", type=positive_int, default=None,
                       help="stop after this many epochs (default 20; when resuming, the run's own)")
    train.add_argument("--lr", type=positive_float, default=None, help="learning rate (default 1.0 linear, 0.1 mlp)")
    train.add_argument("--batch-size", type=positive_int, default=256, help="images per batch (default 256)")
    train.add_argument("--optimizer", choices=["sgd", "momentum", "adam"], default="sgd", help="default sgd")
    train.add_argument("--seed", type=int, default=42, help="random seed for weights and shuffling (default 42)")
    train.add_argument("--patience", type=positive_int, default=None,
                       help="stop when validation accuracy has not improved for this many epochs")
    train.add_argument("--time-limit", type=positive_float, default=None, help="stop after this many seconds")
    train.add_argument("--out", default="runs", help="folder for run folders (default ./runs)")
    train.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run")
    train.add_argument("--quiet", action="store_true", help="print only the summary")
    train.add_argument("--json", action="store_true", help="print one JSON object to stdout and nothing else")
    train.add_argument("--no-report", action="store_true", help="skip the figures and report.html")

    baseline = commands.add_parser("baseline", help="the pixel-similarity program alone",
                                   description="Average each class into an ideal image; call each validation "
                                   "image whichever ideal is closest.")
    add_data_options(baseline)
    baseline.add_argument("--metric", choices=["l1", "rmse"], default="l1", help="distance (default l1)")
    baseline.add_argument("--json", action="store_true", help="print one JSON object")

    steps = commands.add_parser("steps", help="walk once through the seven steps, with real numbers",
                                description="One pass through init, predict, loss, gradient, step, repeat "
                                "and stop on real digits, printing what each step did.")
    add_data_options(steps)
    steps.add_argument("--lr", type=positive_float, default=1.0, help="learning rate (default 1.0)")
    steps.add_argument("--batch-size", type=positive_int, default=256)
    steps.add_argument("--seed", type=int, default=42)

    gradcheck = commands.add_parser("gradcheck", help="gradients by nudging each weight vs by backpropagation",
                                    description="The seed's claim that calculus is 'just a performance "
                                    "optimization', measured on one batch for all 785 weights.")
    add_data_options(gradcheck)
    gradcheck.add_argument("--batch-size", type=positive_int, default=256)
    gradcheck.add_argument("--seed", type=int, default=42)
    gradcheck.add_argument("--eps", type=positive_float, default=1e-6, help="nudge size (default 1e-6)")
    gradcheck.add_argument("--json", action="store_true", help="print one JSON object")
    gradcheck.add_argument("--plot", default=None, metavar="PNG", help="also draw nudging vs backprop to this file")

    report = commands.add_parser("report", help="rebuild the figures and report.html of a run",
                                 description="Draw a finished run's figures and write its self-contained "
                                 "report.html (images embedded).")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a run folder made by 'sevensteps train'")

    predict = commands.add_parser("predict", help="classify image files with a saved model",
                                  description="Prepare each image the MNIST way (grayscale, crop to the ink, "
                                  "fit in 20×20, centre in 28×28) and classify it.")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    predict.add_argument("--model", default=None, help="a model.safetensors (default: the newest under ./runs)")
    predict.add_argument("--json", action="store_true", help="print one JSON object")

    evaluate = commands.add_parser("evaluate", help="accuracy and confusion matrix of a saved model",
                                   description="Evaluate a saved model on a source's validation split (for a "
                                   "source without one, the same held-out 20%% that training validated on).")
    evaluate.add_argument("--model", default=None, help="a model.safetensors (default: the newest under ./runs)")
    evaluate.add_argument("--data", default="sample", help="source to evaluate on (default sample)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"sevensteps {version('sevensteps')}")
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handlers = {"train": cmd_train, "baseline": cmd_baseline, "steps": cmd_steps, "gradcheck": cmd_gradcheck,
                "predict": cmd_predict, "evaluate": cmd_evaluate, "report": cmd_report}
    from .data.dataset import DataError
    from .serialize import ModelFileError

    try:
        return handlers[args.command](args) or 0
    except (UsageError, DataError, ModelFileError) as error:
        print(f"sevensteps: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # the file system said no: a folder that is a file, no permission, disk full
        where = f"{error.filename}: " if error.filename else ""
        print(f"sevensteps: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sevensteps: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- shared helpers


def say(args: argparse.Namespace, *lines: str) -> None:
    """Human-readable output: to stdout normally, to nowhere with --json (stdout is for the JSON)."""
    if not getattr(args, "json", False):
        for line in lines:
            print(line, flush=True)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_data(args: argparse.Namespace) -> Any:
    from .data import load_splits, parse_digits

    digits = parse_digits(args.digits)
    splits = load_splits(args.data, args.valid, digits, log=note)
    for line in splits.notes:
        note(f"note: {line}")
    return splits


def describe_counts(counts: dict[int, int], names: Any) -> str:
    return ", ".join(f"{names(c)}: {n}" for c, n in counts.items())


def data_line(splits: Any) -> str:
    names = splits.train.name_of
    classes = " vs ".join(splits.class_names()) if len(splits.classes) <= 3 else f"{len(splits.classes)} classes"
    return (f"Data: {classes} | train {len(splits.train)} ({describe_counts(splits.train.counts(), names)}) from "
            f"{splits.train.source} | valid {len(splits.valid)} ({describe_counts(splits.valid.counts(), names)}) "
            f"from {splits.valid.source}")


def percent(x: float) -> str:
    return f"{100 * x:.2f}%"


# ---------------------------------------------------------------- train


class ProgressPrinter:
    """A callback: a live bar on stderr (terminals only) and one table row per epoch on stdout."""

    def __init__(self, show_rows: bool, show_bar: bool):
        self.show_rows, self.show_bar = show_rows, show_bar
        self.header_done = False
        self.last_drawn = 0.0

    def before_epoch(self, learn: Any) -> None:
        self.n_batches = -(-len(learn.train_y) // learn.settings.batch_size)
        if self.show_rows and not self.header_done:
            print(f"{'epoch':>5}  {'train_loss':>10}  {'valid_loss':>10}  {'accuracy':>8}  {'time':>7}", flush=True)
            self.header_done = True

    def after_batch(self, learn: Any) -> None:
        now = time.monotonic()
        if self.show_bar and now - self.last_drawn > 0.1:  # at most ten redraws a second
            self.last_drawn = now
            done = learn.batch / self.n_batches
            bar = "#" * int(30 * done)
            loss = learn.loss_value.item()
            print(f"\repoch {learn.epoch} [{bar:<30}] {learn.batch}/{self.n_batches} loss {loss:.4f}",
                  end="", file=sys.stderr, flush=True)

    def after_epoch(self, learn: Any) -> None:
        if self.show_bar:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
        if self.show_rows:
            e = learn.history[-1]
            flag = " (partial)" if e.partial else ""
            print(f"{e.epoch:>5}  {e.train_loss:>10.4f}  {e.valid_loss:>10.4f}  {percent(e.valid_accuracy):>8}  "
                  f"{e.seconds:>6.3f}s{flag}", flush=True)


def new_run_dir(out: Path, model: str, classes: list[int]) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    label = "v".join(str(c) for c in classes) if len(classes) <= 3 else f"{len(classes)}class"
    base = out / f"{stamp}-{model}-{label}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = Path(f"{base}-{n}")
    path.mkdir(parents=True)
    return path


def cmd_train(args: argparse.Namespace) -> int:
    from .baseline import PixelSimilarity
    from .files import atomic_write_text
    from .learner import Learner, Settings, StopRules, WeightSnapshots
    from .serialize import CHECKPOINT_FORMAT
    from .serialize import load as load_file

    resume_dir = Path(args.resume) if args.resume else None
    if resume_dir is not None:
        checkpoint = resume_dir / "checkpoint.safetensors"
        if not checkpoint.is_file():
            raise UsageError(f"{resume_dir}: no checkpoint.safetensors to resume from")
        _, meta = load_file(checkpoint, CHECKPOINT_FORMAT)
        try:
            saved = json.loads((resume_dir / "config.json").read_text())
            args.data, args.valid, args.digits = saved["data"], saved["valid"], saved["digits"]
            settings = Settings(**meta["settings"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"{resume_dir}: config.json is missing or damaged ({error}); cannot resume") from error
        # Stop rules not given again are the interrupted run's own.
        saved_rules = saved.get("rules", {})
        args.epochs = args.epochs or saved_rules.get("epochs", 20)
        args.patience = args.patience or saved_rules.get("patience")
        args.time_limit = args.time_limit or saved_rules.get("time_limit")
    else:
        args.epochs = args.epochs or 20
        lr = args.lr if args.lr is not None else (1.0 if args.model == "linear" else 0.1)
        settings = Settings(args.model, args.hidden, args.loss, args.optimizer, lr, args.batch_size, args.seed)

    splits = load_data(args)
    baseline = PixelSimilarity("l1").fit(splits.train, splits.classes).evaluate(splits.valid)
    quiet = args.quiet or args.json
    if not quiet:
        say(args, data_line(splits))
        per_class = ", ".join(f"{name}: {percent(acc)}" for name, _, acc in baseline.rows())
        say(args, f"Baseline (pixel similarity, nearest ideal image by L1): {percent(baseline.accuracy)} ({per_class})")

    show_bar = not args.quiet and sys.stderr.isatty()
    progress = ProgressPrinter(show_rows=not quiet, show_bar=show_bar)
    snapshots = WeightSnapshots()
    try:
        learner = Learner(splits, settings, callbacks=[progress, snapshots])
    except ValueError as error:
        raise UsageError(str(error)) from error

    if resume_dir is not None:
        run_dir = resume_dir
        learner.load_checkpoint(run_dir / "checkpoint.safetensors")
        if (run_dir / "snapshots.safetensors").is_file():
            snapshots.load(run_dir / "snapshots.safetensors")
        if not quiet:
            say(args, f"Resuming {run_dir} after epoch {learner.epoch}")
    else:
        run_dir = new_run_dir(Path(args.out), settings.model, splits.classes)
        config = {"data": str(args.data), "valid": None if args.valid is None else str(args.valid),
                  "digits": args.digits, "settings": vars(settings),
                  "rules": {"epochs": args.epochs, "patience": args.patience, "time_limit": args.time_limit}}
        atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2))
    if not quiet:
        from .models import make_model, n_outputs_for
        from .random import Generator

        shape_only = make_model(settings.model, n_outputs_for(len(splits.classes)), settings.hidden, Generator(0))
        weights = shape_only.num_parameters()
        say(args, f"Model: {settings.model} ({weights:,} weights), loss {learner.loss_name}, "
                  f"{settings.optimizer} lr {settings.lr:g}, batch {settings.batch_size}, seed {settings.seed}")

    rules = StopRules(args.epochs, args.patience, args.time_limit)

    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        received.append(signum)
        learner.request_stop(f"interrupted by {signal.Signals(signum).name}")

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = learner.fit(rules, checkpoint=run_dir / "checkpoint.safetensors", resume=resume_dir is not None)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

    model_path = run_dir / "model.safetensors"
    learner.save_model(model_path)
    snapshots.snapshots = {e: w for e, w in snapshots.snapshots.items() if e <= learner.epoch}
    snapshots.save(run_dir / "snapshots.safetensors")
    history = [e.to_dict() for e in result.history]
    final = history[-1]["valid_accuracy"] if history else None
    best = max((e["valid_accuracy"] for e in history), default=None)
    summary = {
        "baseline_accuracy": baseline.accuracy, "valid_accuracy": final, "best_valid_accuracy": best,
        "epochs_run": len(history), "stopped_because": result.stopped_because, "interrupted": result.interrupted,
        "run_dir": str(run_dir), "model_path": str(model_path), "history": history,
        "data": {"train": splits.train.source, "valid": splits.valid.source, "classes": splits.class_names(),
                 "labels": splits.classes,
                 "train_counts": splits.train.counts(), "valid_counts": splits.valid.counts()},
        "baseline_per_class": baseline.to_dict()["per_class"],
        "settings": {**vars(settings), "loss": learner.loss_name},
    }
    if result.best_epoch is not None:
        summary["valid_accuracy"] = learner.best[0]
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
    if not args.no_report and history:
        from .report import build_report

        summary["report"] = str(build_report(run_dir, splits))
    if args.json:
        print(json.dumps(summary))
    else:
        trained = summary["valid_accuracy"]
        verdict = "beats" if trained is not None and trained > baseline.accuracy else "does not beat"
        print(f"Summary: baseline {percent(baseline.accuracy)} -> trained "
              f"{percent(trained) if trained is not None else 'n/a'} (best {percent(best) if best else 'n/a'}); "
              f"the trained model {verdict} pixel similarity")
        print(f"Stopped: {result.stopped_because}")
        print(f"Run saved in {run_dir} (model: {model_path})")
        if "report" in summary:
            print(f"Report: {summary['report']}")
        if result.interrupted:
            print(f"Resume with: sevensteps train --resume {run_dir}")
    return 128 + received[0] if result.interrupted and received else 0  # 130 for Ctrl-C, 143 for SIGTERM


# ---------------------------------------------------------------- baseline


def cmd_baseline(args: argparse.Namespace) -> int:
    from .baseline import PixelSimilarity

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


# ---------------------------------------------------------------- steps


def cmd_steps(args: argparse.Namespace) -> int:
    from .backend import xp
    from .learner import Learner, Settings

    def numbers(values: Any, digits: int = 4) -> str:
        return "[" + ", ".join(f"{float(v):.{digits}f}" for v in values) + "]"

    splits = load_data(args)
    if len(splits.classes) != 2:
        raise UsageError("steps walks through the seed's linear model with one output: choose two --digits")
    learner = Learner(splits, Settings("linear", lr=args.lr, batch_size=args.batch_size, seed=args.seed))
    first, second = splits.class_names()
    print(data_line(splits))
    learner.init()
    weight, bias = learner.model[1].weight, learner.model[1].bias
    centre = [14 * 28 + c for c in range(12, 17)]  # five pixels across the middle row
    print(f"\n1. init: {weight.numel()} random weights (one per pixel) and 1 bias, seed {args.seed}.")
    print(f"   weights of five pixels in the middle row: {numbers(weight.data[0, centre])}; bias {bias.item():.4f}")
    valid_loss, valid_acc = learner.validate()
    print(f"   untrained, the model is a coin toss: validation accuracy {percent(valid_acc)}, loss {valid_loss:.4f}")

    batches = iter(learner_batches(learner))
    xb, yb = next(batches)
    preds = learner.predict(xb)
    labels = [first if t else second for t in yb.data[:5, 0]]
    print(f"\n2. predict: a score for each of the {len(xb)} images of a shuffled batch: pixels · weights + bias.")
    print(f"   Above 0 means '{first}', below 0 '{second}'. First scores: {numbers(preds.data[:5, 0], 3)}")
    print(f"   their labels: {labels}; correct in this batch: "
          f"{percent(float((learner.decide(preds.data) == yb.data[:, 0]).mean()))}")

    loss = learner.loss(preds, yb)
    print(f"\n3. loss ({learner.loss_name}): sigmoid squashes each score into (0, 1); the loss is the average distance "
          f"from the right answer (1 for '{first}', 0 for '{second}'): {loss.item():.4f}")

    learner.gradient()
    grad = weight.grad.data[0]
    biggest = xp.argsort(-xp.abs(grad))[:5]
    print(f"\n4. gradient: backpropagation gives d(loss)/d(weight) for all {grad.size + 1} weights at once.")
    print(f"   size (L2 norm) {float(xp.sqrt((grad * grad).sum())):.4f}; bias gradient {bias.grad.item():.4f}; "
          f"{int((grad == 0).sum())} weights get exactly 0 (pixels that are blank in every image of the batch)")
    print(f"   largest gradients, at pixels (row, column) {[divmod(int(i), 28) for i in biggest]}: "
          f"{numbers(grad[biggest])}")

    before = weight.data[0, biggest].copy()
    learner.step()
    after_loss = learner.loss_func(learner.model(xb), yb).item()
    print(f"\n5. step: weight <- weight - lr × gradient, with lr {args.lr:g}.")
    print(f"   those weights: {numbers(before)} -> {numbers(weight.data[0, biggest])}")
    print(f"   the same batch's loss: {loss.item():.4f} -> {after_loss:.4f}")

    losses = [learner.one_batch(xb, yb) for xb, yb in batches]
    valid_loss, valid_acc = learner.validate()
    if losses:
        print(f"\n6. repeat: steps 2-5 for the other {len(losses)} batches of the epoch (loss per batch "
              f"{numbers(losses, 3)}); validation accuracy after one epoch: {percent(valid_acc)}")
    else:
        print(f"\n6. repeat: the batch held the whole epoch; validation accuracy after it: {percent(valid_acc)}")
    print("\n7. stop: after a number of epochs, when validation accuracy stops improving, or when time runs out.")
    print("   Run 'sevensteps train' to repeat for 20 epochs and compare with the pixel-similarity baseline.")
    return 0


def learner_batches(learner: Any) -> Any:
    from .data.loader import DataLoader, TensorDataset

    return DataLoader(TensorDataset(learner.train_x, learner.train_y), learner.settings.batch_size,
                      shuffle=True, generator=learner.generator)


# ---------------------------------------------------------------- gradcheck


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from . import functional as F
    from .gradcheck import gradcheck
    from .learner import Learner, Settings
    from .tensor import Tensor

    splits = load_data(args)
    if len(splits.classes) != 2:
        raise UsageError("gradcheck uses the seed's linear model with one output: choose two --digits")
    learner = Learner(splits, Settings("linear", batch_size=args.batch_size, seed=args.seed))
    learner.init()
    x = Tensor(learner.train_x[: args.batch_size].astype("float64"))
    y = Tensor(learner.train_y[: args.batch_size])
    layer = learner.model[1]
    result = gradcheck(lambda w, b: F.mnist_loss(F.linear(x, w, b), y), [layer.weight, layer.bias], eps=args.eps)
    if args.plot:
        from .backend import xp
        from .plots import gradcheck_scatter, save_png

        save_png(gradcheck_scatter(xp.concatenate([g.ravel() for g in result.numeric]),
                                   xp.concatenate([g.ravel() for g in result.backprop])), Path(args.plot))
    if args.json:
        print(json.dumps({"weights": result.count, "batch": len(x), "max_abs_diff": result.max_abs_error,
                          "max_rel_diff": result.max_rel_error, "speedup": result.speedup,
                          "numeric_seconds": result.numeric_seconds, "backprop_seconds": result.backprop_seconds}))
        return 0
    print(f"Gradient of the loss on one batch of {len(x)} images, for all {result.count} weights of the linear model:")
    print(f"  by nudging each weight (2 x {result.count} forward passes): {result.numeric_seconds:.3f}s")
    print(f"  by backpropagation (1 forward + 1 backward pass):      {result.backprop_seconds * 1000:.2f}ms")
    print(f"  largest difference: {result.max_abs_error:.2e} (relative {result.max_rel_error:.2e})")
    print(f"  backpropagation was {result.speedup:,.0f}x faster: calculus is 'just a performance optimization'")
    return 0


# ---------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run folder")
    path = build_report(run_dir)
    print(f"Report: {path} (figures in {run_dir / 'figures'})")
    return 0


# ---------------------------------------------------------------- predict and evaluate


def find_model(path: str | None) -> Path:
    if path is not None:
        return Path(path)
    runs = Path("runs")
    candidates = sorted(runs.glob("*/model.safetensors"), key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
    if not candidates:
        raise UsageError("no --model given and no runs/*/model.safetensors here; train one with 'sevensteps train'")
    return candidates[-1]


def cmd_predict(args: argparse.Namespace) -> int:
    from .backend import xp
    from .data.preprocess import load_digit_image
    from .learner import load_model
    from .models import probabilities

    path = find_model(args.model)
    model, meta = load_model(path)
    images = xp.stack([load_digit_image(Path(p)) for p in args.images])
    probs = probabilities(model, images, len(meta["classes"]))
    results = []
    for name, row in zip(args.images, probs, strict=True):
        k = int(row.argmax())
        results.append({"image": name, "prediction": meta["class_names"][k], "probability": float(row[k]),
                        "probabilities": dict(zip(meta["class_names"], map(float, row), strict=True))})
    if args.json:
        print(json.dumps({"model": str(path), "predictions": results}))
    else:
        for r in results:
            print(f"{r['image']}: {r['prediction']} ({percent(r['probability'])})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .backend import xp
    from .data import load_source, stratified_split
    from .learner import load_model
    from .models import confusion_matrix, probabilities

    path = find_model(args.model)
    model, meta = load_model(path)
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


if __name__ == "__main__":
    sys.exit(main())

