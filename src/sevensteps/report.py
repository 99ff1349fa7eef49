"""The run report: figures of a finished run and one self-contained ``report.html`` (images embedded).

``build_report(run_dir)`` works from what a run folder holds (config, summary, model, weight snapshots)
and reloads the data it names, so ``sevensteps report RUN_DIR`` can rebuild it at any time.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from .backend import xp
from .files import atomic_write_text

FIGURES = ("ideal_digits", "weights", "snapshots", "curves", "confusion", "mistakes", "gradcheck")


def _snapshot_choice(snapshots: dict[int, Any]) -> list[tuple[str, Any]]:
    """After init, after epoch 1, a middle epoch, the end (without repeats)."""
    epochs = sorted(snapshots)
    last = epochs[-1]
    wanted = [0, 1, max(1, last // 2), last] if last > 0 else [0]
    chosen = [e for i, e in enumerate(wanted) if e in snapshots and e not in wanted[:i]]
    return [("after init" if e == 0 else f"after epoch {e}", snapshots[e]) for e in chosen]


def make_figures(run_dir: Path, splits: Any = None) -> dict[str, Path]:
    """Write every figure of the run as PNG into ``run_dir/figures``; returns name → path."""
    from . import plots
    from .baseline import PixelSimilarity
    from .data import load_splits, parse_digits
    from .learner import WeightSnapshots, load_model
    from .models import class_index, confusion_matrix, probabilities

    config = json.loads((run_dir / "config.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    if splits is None:
        splits = load_splits(config["data"], config["valid"], parse_digits(config["digits"]), log=lambda m: None)
    model, meta = load_model(run_dir / "model.safetensors")
    names = meta["class_names"]
    out = run_dir / "figures"
    figures: dict[str, Any] = {}

    baseline = PixelSimilarity("l1").fit(splits.train, splits.classes)
    figures["ideal_digits"] = plots.ideal_digits(baseline.ideal_images())
    first = next(iter(model.parameters())).data
    snapshots = WeightSnapshots()
    if (run_dir / "snapshots.safetensors").is_file():
        snapshots.load(run_dir / "snapshots.safetensors")
    if meta["model"] == "linear":
        figures["weights"] = plots.linear_weights(first, names)
    elif 0 in snapshots.snapshots:
        # A hidden unit's random start can hide what it learned: show the change since init.
        figures["weights"] = plots.hidden_units(
            first - snapshots.snapshots[0],
            title="Hidden layer: what training changed in each of {n} units (weights minus their random start)")
    else:
        figures["weights"] = plots.hidden_units(first)
    if snapshots.snapshots:
        figures["snapshots"] = plots.weight_snapshots(_snapshot_choice(snapshots.snapshots))
    figures["curves"] = plots.training_curves(summary["history"], summary["baseline_accuracy"])

    images = splits.valid.images
    probs = probabilities(model, images.reshape(len(images), -1), len(splits.classes))
    predicted = probs.argmax(axis=-1)
    truth = class_index(splits.valid.labels, splits.classes)
    k = len(splits.classes)
    matrix = confusion_matrix(splits.valid.labels, xp.asarray(splits.classes)[predicted], splits.classes)
    figures["confusion"] = plots.confusion_matrix(matrix, names)
    wrong = xp.flatnonzero(predicted != truth)
    confidence = probs[wrong, predicted[wrong]]
    worst = wrong[xp.argsort(-confidence)][:12]
    figures["mistakes"] = plots.confident_mistakes(images[worst], [names[t] for t in truth[worst]],
                                                   [names[p] for p in predicted[worst]],
                                                   probs[worst, predicted[worst]])
    if meta["model"] == "linear" and k == 2:
        figures["gradcheck"] = gradcheck_figure(splits, model)
    paths = {}
    for name, fig in figures.items():
        paths[name] = plots.save_png(fig, out / f"{name}.png")
    return paths


def gradcheck_figure(splits: Any, model: Any, batch: int = 256) -> Any:
    """Nudging vs backprop for every weight of a linear model, on one batch of training images."""
    from . import functional as F
    from . import plots
    from .gradcheck import gradcheck
    from .tensor import Tensor

    x = Tensor(splits.train.images[:batch].reshape(-1, 784).astype(xp.float64))
    y = Tensor(splits.targets(splits.train)[:batch].reshape(-1, 1))
    layer = model[1]
    result = gradcheck(lambda w, b: F.mnist_loss(F.linear(x, w, b), y), [layer.weight, layer.bias])
    return plots.gradcheck_scatter(xp.concatenate([n.ravel() for n in result.numeric]),
                                   xp.concatenate([b.ravel() for b in result.backprop]))


CAPTIONS = {
    "ideal_digits": "The pixel-similarity program: the average training image of each class. A new image is "
                    "called whichever ideal it is closest to (mean absolute difference).",
    "weights": "What the model learned. Each pixel's weight multiplies that pixel's ink; red pixels push "
               "the score towards the first class, blue towards the other.",
    "hidden": "What each hidden unit learned: its input weights minus their random start. Each unit became "
              "a detector of a stroke pattern; the output layer combines their votes.",
    "snapshots": "The same weights at moments of training: random noise at first, a pattern by the end.",
    "curves": "Loss falls as the weights improve; validation accuracy against the baseline's (dashed).",
    "confusion": "Validation images by true class (rows) and predicted class (columns).",
    "mistakes": "The validation images the model was most sure about and got wrong.",
    "gradcheck": "The gradient of one batch's loss for every weight, by nudging each weight (x) and by "
                 "backpropagation (y): they agree, and backprop is hundreds of times faster.",
}


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_report(run_dir: Path, splits: Any = None) -> Path:
    """Figures plus ``report.html`` for a finished run folder."""
    run_dir = Path(run_dir)
    for needed in ("config.json", "summary.json", "model.safetensors"):
        if not (run_dir / needed).is_file():
            from .serialize import ModelFileError

            raise ModelFileError(f"{run_dir}: not a finished run folder (no {needed})")
    paths = make_figures(run_dir, splits)
    summary = json.loads((run_dir / "summary.json").read_text())
    data = summary["data"]
    settings = summary["settings"]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}%"

    config_rows = [["training data", data["train"]], ["validation data", data["valid"]],
                   ["classes", ", ".join(data["classes"])]]
    config_rows += [[k.replace("_", " "), v] for k, v in settings.items()]
    counts = [[name, data["train_counts"][str(label)], data["valid_counts"][str(label)]]
              for name, label in zip(data["classes"], data["labels"], strict=True)]
    def loss(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.4f}"

    history = [[h["epoch"], loss(h["train_loss"]), loss(h["valid_loss"]), pct(h["valid_accuracy"]),
                f"{h['seconds']:.3f}s"] for h in summary["history"]]
    figures_html = ""
    for name in FIGURES:
        if name in paths:
            encoded = base64.b64encode(paths[name].read_bytes()).decode("ascii")
            caption = CAPTIONS["hidden" if name == "weights" and settings["model"] != "linear" else name]
            figures_html += (f'<figure id="{name}"><img alt="{name}" src="data:image/png;base64,{encoded}">'
                             f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sevensteps run {html.escape(run_dir.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
h1 {{ font-size: 1.6em; }} table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: right; }} th {{ background: #f2f2f2; }}
td:first-child {{ text-align: left; }} .verdict {{ font-size: 1.25em; margin: 1em 0; }}
figure {{ margin: 1.5em 0; }} figure img {{ max-width: 100%; }} figcaption {{ color: #555; }}
</style></head><body>
<h1>sevensteps: {html.escape(" vs ".join(data["classes"]))}, {html.escape(settings["model"])} model</h1>
<p class="verdict">Pixel similarity <strong>{pct(summary["baseline_accuracy"])}</strong> &rarr; trained model
<strong>{pct(summary["valid_accuracy"])}</strong> (best {pct(summary["best_valid_accuracy"])}) after
{summary["epochs_run"]} epochs.</p>
<p>Stopped because: {html.escape(summary["stopped_because"])}.</p>
<h2>Configuration</h2>{_table(config_rows, ["setting", "value"])}
<h2>Data</h2>{_table(counts, ["class", "training images", "validation images"])}
<h2>Baseline vs trained</h2>{_table([["pixel similarity (L1)", pct(summary["baseline_accuracy"])],
                                     ["trained model, final", pct(summary["valid_accuracy"])],
                                     ["trained model, best epoch", pct(summary["best_valid_accuracy"])]],
                                    ["program", "validation accuracy"])}
<h2>History</h2>{_table(history, ["epoch", "train loss", "valid loss", "accuracy", "time"])}
<h2>Figures</h2>{figures_html}
</body></html>
"""
    path = run_dir / "report.html"
    atomic_write_text(path, page)
    return path

