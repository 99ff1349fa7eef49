"""The report's figures: digit-sized pictures with Pillow, charts as SVG."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..backend import xp
from ..files import atomic_write_text
from .story import Story, tell


def _snapshot_choice(snapshots: dict[int, Any]) -> list[tuple[str, Any]]:
    """After init, after epoch 1, a middle epoch, the end (without repeats)."""
    epochs = sorted(snapshots)
    last = epochs[-1]
    wanted = [0, 1, max(1, last // 2), last] if last > 0 else [0]
    chosen = [e for i, e in enumerate(wanted) if e in snapshots and e not in wanted[:i]]
    return [("after init" if e == 0 else f"after epoch {e}", snapshots[e]) for e in chosen]


def _enlarged(kernel: Any, size: int = 28) -> Any:
    """A small kernel (3×3, say) as a size×size picture, each weight a square block (nearest neighbour)."""
    rows = xp.arange(size) * kernel.shape[0] // size
    columns = xp.arange(size) * kernel.shape[1] // size
    return kernel[rows[:, None], columns[None, :]]


def draw_pictures(story: Story, arrays: dict[str, Any], out: Path) -> dict[str, Path]:
    """The digit-sized figures, with Pillow."""
    from ..pictures import Tile, grid, save_png

    first, second = (story.names + ["", ""])[:2]
    paths: dict[str, Path] = {}
    snaps = story.snapshots
    layer = arrays["first_layer"]
    per_pixel = layer.ndim == 2 and layer.shape[-1] == 784  # linear, mlp: one weight per pixel and unit
    if not per_pixel:  # a convolution's first layer: its filters, enlarged, instead of pixel maps
        snaps = {}
    if 0 in snaps:
        start = xp.asarray(snaps[0]).reshape(-1, 784)[:10]
        limit = float(xp.abs(start).max()) or 1.0
        text = (["the random weights"] if story.model_kind == "linear" and story.binary
                else [f"unit {k}" if story.model_kind == "mlp" else f"for {story.names[k]}" for k in range(len(start))])
        paths["init"] = save_png(grid([Tile(w, t, limit) for w, t in zip(start, text, strict=False)],
                                      min(len(start), 5), "Step 1: the weights after init", scale=5 if len(start) == 1
                                      else 3), out / "init.png")
    tiles = []
    for image, true, said, p, score in arrays["predict"]:
        detail = f"score {score:+.2f}" if score is not None else f"true {true}"
        tiles.append(Tile(image, f"{detail}\nsaid {said} ({100 * p:.0f}%)"))
    paths["predict"] = save_png(grid(tiles, min(len(tiles), 8 if story.binary else 5),
                                     "Step 2: the trained model's predictions on validation digits"),
                                out / "predict.png")
    if snaps:
        chosen = _snapshot_choice(snaps)
        limit = max(float(xp.abs(xp.asarray(w).reshape(-1, 784)[0]).max()) for _, w in chosen) or 1.0
        what = "the weights" if story.model_kind == "linear" else "unit 0's input weights"
        paths["snapshots"] = save_png(grid([Tile(xp.asarray(w).reshape(-1, 784)[0], label, limit)
                                            for label, w in chosen], len(chosen),
                                           f"Step 6: {what}, epoch after epoch", scale=4), out / "snapshots.png")
    ideals = arrays["ideals"]
    tiles = [Tile(image, f"ideal {name}") for name, image in ideals.items()]
    if story.binary:
        difference = xp.asarray(ideals[first]) - xp.asarray(ideals[second])
        tiles.append(Tile(difference, f"{first} minus {second}", float(xp.abs(difference).max()) or 1.0))
    paths["ideal_digits"] = save_png(grid(tiles, min(len(tiles), 5), "Pixel similarity: the average training "
                                          "image of each class", scale=4), out / "ideal_digits.png")
    if not per_pixel:
        kernels = layer.reshape(layer.shape[0], -1, *layer.shape[-2:])[:, 0]  # each filter's first channel
        limit = float(xp.abs(kernels).max()) or 1.0
        tiles = [Tile(_enlarged(k), f"filter {i}", limit) for i, k in enumerate(kernels[:32])]
        paths["weights"] = save_png(grid(tiles, 8, "The first convolution's filters (red: bright ink counts "
                                         "for, blue: against)", scale=2), out / "weights.png")
    elif story.model_kind == "linear":
        limit = float(xp.abs(layer).max()) or 1.0
        text = ([f"red: {first}, blue: {second}"] if story.binary
                else [f"weights for {name}" for name in story.names])
        paths["weights"] = save_png(grid([Tile(w, t, limit) for w, t in zip(layer, text, strict=True)],
                                         min(len(layer), 5), "What the linear model learned, pixel by pixel",
                                         scale=6 if story.binary else 4), out / "weights.png")
    else:
        units = layer[:30] - xp.asarray(snaps[0]).reshape(-1, 784)[:30] if 0 in snaps else layer[:30]
        tiles = [Tile(w, f"unit {k}", float(xp.abs(w).max()) or 1.0) for k, w in enumerate(units)]
        paths["weights"] = save_png(grid(tiles, 10, "Hidden units: what training changed in each one's input "
                                         "weights"), out / "weights.png")
    tiles = [Tile(image, f"true {true}, said {said}\n{100 * p:.1f}% sure") for image, true, said, p in
             arrays["mistakes"]]
    if tiles:
        paths["mistakes"] = save_png(grid(tiles, 6, "The most confident mistakes"), out / "mistakes.png")
    return paths


# ---------------------------------------------------------------- charts


def draw_charts(story: Story, arrays: dict[str, Any], out: Path) -> dict[str, Path]:
    """The charts, as SVG (:mod:`sevensteps.charts`)."""
    from ..charts import Chart

    summary, facts = story.summary, story.facts
    history = summary["history"]
    epochs = [h["epoch"] for h in history]

    def number(x: float | None) -> float:
        return math.nan if x is None else x

    charts = {"loss": Chart("Loss per epoch", "epoch", "loss")
              .line(epochs, [number(h["train_loss"]) for h in history], "training loss", "blue")
              .line(epochs, [number(h["valid_loss"]) for h in history], "validation loss", "orange")}
    numeric, backprop = arrays["gradcheck"]
    low, high = float(min(numeric.min(), backprop.min())), float(max(numeric.max(), backprop.max()))
    charts["gradcheck"] = (Chart("Calculus agrees with nudging", "gradient by nudging each weight",
                                 "gradient by backpropagation", integer_x=False)
                           .line([low, high], [low, high], "identity", "red", markers=False)
                           .points(numeric.tolist(), backprop.tolist(), f"{numeric.size} weights", "blue"))
    if facts["grad_norms"]:
        charts["gradient"] = Chart("Size of the gradient per epoch", "epoch", "L2 norm").bars(
            epochs, facts["grad_norms"], "blue")
    if facts["moves"]:
        charts["step"] = Chart("How far the first layer's weights moved, per epoch", "epoch",
                               "distance (L2 norm)").bars(list(range(1, len(facts["moves"]) + 1)), facts["moves"],
                                                          "blue")
    accuracy = [100 * h["valid_accuracy"] for h in history]
    stop = Chart("Validation accuracy per epoch", "epoch", "accuracy (%)").line(epochs, accuracy, "trained model",
                                                                                 "green")
    if summary["baseline_accuracy"] is not None:
        baseline = 100 * summary["baseline_accuracy"]
        stop.hline(baseline, f"pixel similarity ({baseline:.1f}%)", "red", "dashed")
    if history:
        best = max(history, key=lambda h: h["valid_accuracy"])
        stop.star(best["epoch"], 100 * best["valid_accuracy"], f"best (epoch {best['epoch']})", "orange")
        stop.vline(history[-1]["epoch"], f"stopped after epoch {history[-1]['epoch']}", "gray", "dotted")
    charts["stop"] = stop
    paths = {}
    for name, chart in charts.items():
        paths[name] = out / f"{name}.svg"
        atomic_write_text(paths[name], chart.svg())
    return paths


def make_figures(run_dir: Path, splits: Any = None) -> tuple[Story, dict[str, Path]]:
    """Every figure of the run in ``run_dir/figures``: pictures as PNG, charts as SVG."""
    story, arrays = tell(Path(run_dir), splits)
    out = Path(run_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.png"), *out.glob("*.svg")]:
        old.unlink()
    return story, {**draw_pictures(story, arrays, out), **draw_charts(story, arrays, out)}
