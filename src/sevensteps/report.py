"""The run report: the story of one run in the seven steps, with its own numbers and pictures.

``build_report(run_dir)`` works only from what a run folder holds (``config.json``, ``summary.json``,
``model.safetensors``, ``snapshots.safetensors``) and the data its config names, so ``sevensteps report
RUN_DIR`` can rebuild the report of any run, old ones included; numbers a run did not record (the gradient's
size per epoch) are left out with a sentence saying so.

The page leads with the seven steps, then baseline vs model, then the mistakes, then the full history and
the configuration. Digit-sized pictures are drawn with Pillow (:mod:`sevensteps.pictures`), the charts as
SVG (:mod:`sevensteps.charts`); neither needs matplotlib, whose import alone took longer than the training.
"""

from __future__ import annotations

import base64
import html
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backend import xp
from .files import atomic_write_text

LOSS_MEANING = {
    "mnist_loss": "σ(score) is the model's confidence that the image is a {first}; the loss is the average "
                  "distance from the right answer: 1 − σ for a {first}, σ for a {second}. It is 0 when the model "
                  "is right and sure, and, unlike accuracy, it changes a little with every small change of a "
                  "weight, which is what the gradient needs.",
    "bce": "binary cross-entropy: −log of the probability the model gave to the right answer, averaged; "
           "a confident wrong answer costs a lot.",
    "cross_entropy": "softmax turns the {n} outputs into probabilities that add up to 1; the loss is −log of the "
                     "probability given to the right class, averaged over the images.",
}


@dataclass
class Story:
    """The numbers a report tells, all from the run folder (and the data its config names)."""

    run_dir: Path
    config: Any  # runs.RunConfig
    summary: dict[str, Any]
    names: list[str]
    model_kind: str
    parameters: int
    snapshots: dict[int, Any]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return len(self.names) == 2

    @property
    def classes_text(self) -> str:
        return " vs ".join(self.names) if self.binary else f"{len(self.names)} classes ({', '.join(self.names)})"


# ---------------------------------------------------------------- numbers


def _snapshot_choice(snapshots: dict[int, Any]) -> list[tuple[str, Any]]:
    """After init, after epoch 1, a middle epoch, the end (without repeats)."""
    epochs = sorted(snapshots)
    last = epochs[-1]
    wanted = [0, 1, max(1, last // 2), last] if last > 0 else [0]
    chosen = [e for i, e in enumerate(wanted) if e in snapshots and e not in wanted[:i]]
    return [("after init" if e == 0 else f"after epoch {e}", snapshots[e]) for e in chosen]


def _norm(array: Any) -> float:
    return float(xp.sqrt((xp.asarray(array, dtype=xp.float64) ** 2).sum()))


def gradient_check(splits: Any, model: Any, loss_name: str, batch: int = 64) -> Any:
    """Nudging vs backprop for the output layer's weights of the first output (all 785 for the linear model).

    Earlier layers are held fixed and computed once; for more than two classes only the first output's
    row of weights and the biases are nudged, to keep the check to about a thousand forward passes.
    """
    from . import functional as F
    from .autograd import no_grad
    from .gradcheck import gradcheck
    from .tensor import Tensor, cat

    x = Tensor(splits.train.images[:batch].reshape(-1, 784).astype(xp.float64))
    layers = list(model)
    with no_grad():
        for layer in layers[:-1]:
            x = layer(x)
    features = Tensor(xp.asarray(x.data, dtype=xp.float64))
    targets = splits.targets(splits.train)[:batch]
    loss = {"mnist_loss": F.mnist_loss, "bce": F.binary_cross_entropy_with_logits,
            "cross_entropy": F.cross_entropy}[loss_name]
    y = Tensor(targets.reshape(-1, 1).astype(xp.float64)) if len(splits.classes) == 2 else Tensor(targets)
    last = layers[-1]
    rest = Tensor(xp.asarray(last.weight.data[1:], dtype=xp.float64))
    first_row = Tensor(last.weight.data[:1], requires_grad=True)

    def loss_of(row: Any, bias: Any) -> Any:
        weight = cat([row, rest]) if rest.shape[0] else row
        return loss(F.linear(features, weight, bias), y)

    return gradcheck(loss_of, [first_row, Tensor(last.bias.data, requires_grad=True)])


def tell(run_dir: Path, splits: Any = None) -> tuple[Story, dict[str, Any]]:
    """The story's numbers, and the arrays its pictures need."""
    from .autograd import no_grad
    from .baseline import PixelSimilarity
    from .callbacks import WeightSnapshots
    from .data import load_splits, parse_digits
    from .digits import load_model
    from .metrics import class_index, confusion_matrix, probabilities
    from .runs import RunConfig, read_summary
    from .tensor import Tensor

    config = RunConfig.load(run_dir)
    summary = read_summary(run_dir)
    if splits is None:
        splits = load_splits(config.data, config.valid, parse_digits(config.digits), log=lambda m: None)
    model, meta = load_model(run_dir / "model.safetensors")
    snapshots = WeightSnapshots()
    if (run_dir / "snapshots.safetensors").is_file():
        snapshots.load(run_dir / "snapshots.safetensors")
    names = meta["class_names"]
    story = Story(run_dir, config, summary, names, meta["model"],
                  sum(int(p.data.size) for p in model.parameters()), snapshots.snapshots)
    history = summary["history"]
    settings = summary["settings"]
    facts = story.facts
    arrays: dict[str, Any] = {"history": history}

    # 1. init
    if 0 in snapshots.snapshots:
        start = xp.asarray(snapshots.snapshots[0], dtype=xp.float64)
        facts["init"] = {"std": float(start.std()), "low": float(start.min()), "high": float(start.max())}

    # 2. predict: a few validation digits of each class, first ones in file order (the same every time)
    images = splits.valid.images
    flat = images.reshape(len(images), -1)
    per_class = 4 if story.binary else 1
    chosen = xp.concatenate([xp.flatnonzero(splits.valid.labels == c)[:per_class] for c in splits.classes])
    with no_grad():
        scores = model(Tensor(flat[chosen])).data
    probs = probabilities(model, flat, len(splits.classes))
    predicted = probs.argmax(axis=-1)
    truth = class_index(splits.valid.labels, splits.classes)
    arrays["predict"] = [(images[i], names[truth[i]], names[predicted[i]], float(probs[i, predicted[i]]),
                          float(scores[k].reshape(-1)[0]) if story.binary else None)
                         for k, i in enumerate(chosen)]

    # 3. loss
    losses = [h["train_loss"] for h in history if h["train_loss"] is not None]
    facts["loss"] = {"first": losses[0] if losses else None, "last": losses[-1] if losses else None,
                     "valid_last": history[-1]["valid_loss"] if history else None}

    # 4. gradient
    norms = [h.get("grad_norm") for h in history]
    facts["grad_norms"] = norms if norms and all(n is not None for n in norms) else None
    check = gradient_check(splits, model, settings["loss"])
    facts["gradcheck"] = {"count": check.count, "batch": min(64, len(splits.train)), "max_abs": check.max_abs_error,
                          "speedup": check.speedup, "numeric_seconds": check.numeric_seconds,
                          "backprop_seconds": check.backprop_seconds}
    arrays["gradcheck"] = (xp.concatenate([n.ravel() for n in check.numeric]),
                           xp.concatenate([b.ravel() for b in check.backprop]))

    # 5. step: how far the first layer's weights moved in each epoch (from the snapshots)
    epochs = sorted(snapshots.snapshots)
    moves = [_norm(snapshots.snapshots[b] - snapshots.snapshots[a]) for a, b in itertools.pairwise(epochs)
             if b == a + 1]
    facts["moves"] = moves if len(moves) == len(epochs) - 1 and moves else None
    if len(epochs) > 1:
        first, last = snapshots.snapshots[epochs[0]], snapshots.snapshots[epochs[-1]]
        facts["moved_total"] = _norm(last - first)
        facts["start_size"] = _norm(first)

    # 6. repeat
    n_train = sum(summary["data"]["train_counts"].values())
    batches = math.ceil(n_train / settings["batch_size"])
    facts["repeat"] = {"images": n_train, "batches": batches, "epochs": len(history),
                       "steps": batches * len(history), "seconds": sum(h["seconds"] for h in history),
                       "partial": sum(1 for h in history if h.get("partial"))}

    # baseline vs model, mistakes
    baseline = PixelSimilarity("l1").fit(splits.train, splits.classes)
    arrays["ideals"] = baseline.ideal_images()
    arrays["first_layer"] = next(iter(model.parameters())).data
    matrix = confusion_matrix(splits.valid.labels, xp.asarray(splits.classes)[predicted], splits.classes)
    facts["confusion"] = matrix
    facts["model_per_class"] = {names[i]: float(matrix[i, i] / max(matrix[i].sum(), 1)) for i in range(len(names))}
    wrong = xp.flatnonzero(predicted != truth)
    facts["wrong"] = int(wrong.size)
    facts["valid_images"] = len(images)
    confidence = probs[wrong, predicted[wrong]]
    worst = wrong[xp.argsort(-confidence, kind="stable")][:12]
    arrays["mistakes"] = [(images[i], names[truth[i]], names[predicted[i]], float(probs[i, predicted[i]]))
                          for i in worst]
    return story, arrays


# ---------------------------------------------------------------- pictures


def _enlarged(kernel: Any, size: int = 28) -> Any:
    """A small kernel (3×3, say) as a size×size picture, each weight a square block (nearest neighbour)."""
    rows = xp.arange(size) * kernel.shape[0] // size
    columns = xp.arange(size) * kernel.shape[1] // size
    return kernel[rows[:, None], columns[None, :]]


def draw_pictures(story: Story, arrays: dict[str, Any], out: Path) -> dict[str, Path]:
    """The digit-sized figures, with Pillow."""
    from .pictures import Tile, grid, save_png

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
    from .charts import Chart

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


# ---------------------------------------------------------------- the page


def captions(story: Story) -> dict[str, str]:
    """One caption per figure, in the words of this run (its classes, its model)."""
    first, second = (story.names + ["", ""])[:2]
    facts = story.facts
    binary = story.binary
    linear = story.model_kind == "linear"
    if linear and binary:
        weights = (f"What the model learned: each pixel's weight multiplies that pixel's ink; red pixels push "
                   f"the score towards '{first}', blue towards '{second}'.")
    elif linear:
        weights = (f"What the model learned: one image of weights for each of the {len(story.names)} classes; "
                   "red pixels raise that class's output, blue ones lower it.")
    else:
        weights = ("What each hidden unit learned: its input weights minus their random start. Each unit became "
                   "a detector of a stroke pattern; the output layer combines their votes.")
    checked = facts["gradcheck"]["count"]
    which = ("every weight of the model" if linear and binary
             else "the output layer's weights into its first output, and its biases")
    return {
        "init": "Step 1, init: random weights, one per pixel" + (" and hidden unit" if not linear else "")
                + "; at this point the model knows nothing.",
        "predict": (f"Step 2, predict: validation digits with the trained model's score (above 0 means "
                    f"'{first}', below 0 '{second}') and its answer." if binary else
                    f"Step 2, predict: one validation digit per class, the trained model's answer and how sure "
                    f"it was (softmax over the {len(story.names)} outputs)."),
        "loss": "Step 3, loss: training and validation loss after each epoch.",
        "gradient": "Step 4, gradient: the size (L2 norm) of the gradient, averaged over each epoch's batches.",
        "gradcheck": f"Step 4, gradient: for {which} ({checked} numbers), the gradient by nudging each weight (x) "
                     "and by backpropagation (y). They agree.",
        "step": "Step 5, step: how far the weights moved in each epoch (the L2 norm of the change of the first "
                "layer). Big moves first, smaller ones as the loss flattens.",
        "snapshots": "Step 6, repeat: the same weights at moments of training, from random noise to a pattern.",
        "stop": "Step 7, stop: validation accuracy after each epoch, the pixel-similarity baseline (dashed), "
                "the best epoch (star) and where training stopped (dotted).",
        "ideal_digits": ("The pixel-similarity program: the average training image of each class"
                         + (f", and where the ideal {first} and {second} differ" if binary else
                            f" ({len(story.names)} classes)")
                         + ". A new image is called whichever ideal it is closest to (mean absolute difference)."),
        "weights": weights,
        "confusion": f"Validation images of {story.classes_text} by true class (rows) and the model's answer "
                     "(columns).",
        "mistakes": "The validation images the model was most sure about and got wrong.",
    }


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def confusion_table(matrix: Any, names: list[str]) -> str:
    """The confusion matrix as an HTML table, each cell shaded by its share of its row."""
    head = "".join(f"<th>said {html.escape(n)}</th>" for n in names)
    rows = []
    for name, row in zip(names, matrix.tolist(), strict=True):
        total = max(sum(row), 1)
        cells = "".join(f'<td style="background: rgba(33, 102, 172, {0.85 * v / total:.2f});'
                        f'{" color: white;" if v / total > 0.5 else ""}">{v:,}</td>' for v in row)
        rows.append(f"<tr><th>true {html.escape(name)}</th>{cells}</tr>")
    return f'<table class="confusion"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def step_texts(story: Story) -> list[tuple[str, str, list[str]]]:
    """(heading, paragraph HTML, figure names) for each of the seven steps, with this run's numbers."""
    s, f = story.summary, story.facts
    settings = s["settings"]
    first, second = (story.names + ["", ""])[:2]
    e = html.escape
    init = f.get("init")
    init_text = (f"{story.parameters:,} numbers (weights and biases), drawn at random from seed {settings['seed']}"
                 + (f" (first layer: spread {init['std']:.3f}, from {init['low']:.3f} to {init['high']:.3f})"
                    if init else "") + ". The model starts as a coin toss.")
    if story.model_kind == "mlp":
        init_text += f" The mlp has a hidden layer of {settings['hidden']} units, each with 784 input weights."
    if story.binary:
        predict_text = (f"For each image, the model computes a score: the pixels times the weights, plus the bias"
                        f"{' (through the hidden layer and ReLU)' if story.model_kind == 'mlp' else ''}. "
                        f"Above 0 means '{e(first)}', below 0 '{e(second)}'.")
    else:
        predict_text = (f"For each image the model computes {len(story.names)} outputs, one per class; the largest "
                        "one is its answer.")
    loss = f["loss"]
    meaning = LOSS_MEANING[settings["loss"]].format(first=e(first), second=e(second), n=len(story.names))
    loss_text = (f"Loss {e(settings['loss'])}: {meaning} In this run the training loss fell from "
                 f"{_num(loss['first'])} (epoch 1) to {_num(loss['last'])}; validation loss ended at "
                 f"{_num(loss['valid_last'])}.")
    g = f["gradcheck"]
    gradient_text = ("Backpropagation computes, for every weight at once, how the loss changes when that weight "
                     "changes. ")
    if f["grad_norms"]:
        norms = f["grad_norms"]
        gradient_text += f"Its size went from {norms[0]:.4f} in epoch 1 to {norms[-1]:.4f} in the last epoch. "
    else:
        gradient_text += "(This run did not record the gradient's size per epoch.) "
    gradient_text += (f"Checked on a batch of {g['batch']} training images by nudging each of {g['count']} weights "
                      "up and down and watching the loss: the "
                      f"largest difference was {g['max_abs']:.1e}, and backpropagation was {g['speedup']:,.0f} "
                      f"times faster ({1000 * g['backprop_seconds']:.2f} ms vs {g['numeric_seconds']:.2f} s).")
    step_text = (f"weight ← weight − lr × gradient, with lr {settings['lr']:g} ({e(settings['optimizer'])}), "
                 f"after every batch of {settings['batch_size']} images.")
    if "moved_total" in f:
        step_text += (f" Over the whole run the first layer's weights moved by {f['moved_total']:.3f} "
                      f"(L2 norm of the change), against {f['start_size']:.3f} for the random start.")
    r = f["repeat"]
    repeat_text = (f"{r['images']:,} training images in batches of {settings['batch_size']}: {r['batches']} "
                   f"batches per epoch × {r['epochs']} epochs = {r['steps']:,} steps"
                   + (f" (at most: {r['partial']} epoch(s) ended early)" if r["partial"] else "")
                   + f", in {r['seconds']:.2f} s of training.")
    rules = story.config.rules
    rule_list = [f"after {rules.epochs} epochs"]
    if rules.patience:
        rule_list.append(f"when validation accuracy has not improved for {rules.patience} epochs")
    if rules.time_limit:
        rule_list.append(f"after {rules.time_limit:g} s")
    stop_text = (f"The rules: stop {', or '.join(rule_list)}. The one that fired: "
                 f"<strong>{e(s['stopped_because'])}</strong>. Final validation accuracy {_pct(s['valid_accuracy'])}"
                 f" (best {_pct(s['best_valid_accuracy'])}).")
    if s.get("interrupted"):
        stop_text += " Training was interrupted; <code>sevensteps train --resume RUN_DIR</code> continues it."
    gradient_figures = (["gradient"] if f["grad_norms"] else []) + ["gradcheck"]
    return [("1. init", init_text, ["init"]), ("2. predict", predict_text, ["predict"]),
            ("3. loss", loss_text, ["loss"]), ("4. gradient", gradient_text, gradient_figures),
            ("5. step", step_text, ["step"]), ("6. repeat", repeat_text, ["snapshots"]),
            ("7. stop", stop_text, ["stop"])]


def build_report(run_dir: Path, splits: Any = None) -> Path:
    """Figures plus ``report.html`` for a finished run folder."""
    run_dir = Path(run_dir)
    for needed in ("config.json", "summary.json", "model.safetensors"):
        if not (run_dir / needed).is_file():
            from .serialize import ModelFileError

            raise ModelFileError(f"{run_dir}: not a finished run folder (no {needed})")
    story, paths = make_figures(run_dir, splits)
    summary, settings, data = story.summary, story.summary["settings"], story.summary["data"]
    texts = captions(story)

    def figure(name: str) -> str:
        if name == "confusion":
            return (f'<figure id="confusion">{confusion_table(story.facts["confusion"], story.names)}'
                    f"<figcaption>{html.escape(texts[name])}</figcaption></figure>")
        if name not in paths:
            return ""
        encoded = base64.b64encode(paths[name].read_bytes()).decode("ascii")
        kind = "svg+xml" if paths[name].suffix == ".svg" else "png"
        return (f'<figure id="{name}"><img alt="{html.escape(texts[name])}" src="data:image/{kind};base64,{encoded}">'
                f"<figcaption>{html.escape(texts[name])}</figcaption></figure>")

    steps_html = "".join(f'<section class="step"><h3>{html.escape(heading)}</h3><p>{text}</p>'
                         + "".join(figure(n) for n in names) + "</section>"
                         for heading, text, names in step_texts(story))
    per_class = [[name, _pct(summary["baseline_per_class"].get(str(label), summary["baseline_per_class"].get(name))),
                  _pct(story.facts["model_per_class"][name])]
                 for name, label in zip(data["classes"], data["labels"], strict=True)]
    compare = _table([["all classes", _pct(summary["baseline_accuracy"]), _pct(summary["valid_accuracy"])],
                      *per_class], ["validation images", "pixel similarity (L1)", "trained model"])
    history = [[h["epoch"], _num(h["train_loss"]), _num(h["valid_loss"]), _pct(h["valid_accuracy"]),
                f"{h['seconds']:.3f}s" + (" (partial)" if h.get("partial") else "")] for h in summary["history"]]
    shown = {k: v for k, v in settings.items() if not (k == "hidden" and settings["model"] == "linear")}
    config_rows = [["training data", data["train"]], ["validation data", data["valid"]],
                   ["classes", ", ".join(data["classes"])], *([k.replace("_", " "), v] for k, v in shown.items())]
    counts = [[name, data["train_counts"][str(label)], data["valid_counts"][str(label)]]
              for name, label in zip(data["classes"], data["labels"], strict=True)]
    wrong, total = story.facts["wrong"], story.facts["valid_images"]
    title = f"{story.classes_text}, {settings['model']} model"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sevensteps run {html.escape(run_dir.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222;
       line-height: 1.45; }}
h1 {{ font-size: 1.6em; }} h3 {{ margin-bottom: 0.3em; }} table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: right; }} th {{ background: #f2f2f2; }}
td:first-child {{ text-align: left; }} .verdict {{ font-size: 1.25em; margin: 1em 0; }}
section.step {{ border-left: 4px solid #4393c3; padding-left: 1em; margin: 1.5em 0; }}
figure {{ margin: 1em 0; }} figure img {{ max-width: 100%; }} figcaption {{ color: #555; }}
</style></head><body>
<h1>sevensteps: {html.escape(title)}</h1>
<p class="verdict">Pixel similarity <strong>{_pct(summary["baseline_accuracy"])}</strong> &rarr; trained model
<strong>{_pct(summary["valid_accuracy"])}</strong> (best {_pct(summary["best_valid_accuracy"])}) after
{summary["epochs_run"]} epochs, on {total:,} validation images ({html.escape(data["valid"])}).</p>
<p>Stopped because: {html.escape(summary["stopped_because"])}.</p>
<h2>The seven steps of this run</h2>{steps_html}
<h2>Baseline vs trained model</h2>
<p>The baseline has no weights: it averages the training images of each class and calls a new image whichever
average it is closest to. The trained model learned its weights by the seven steps above.</p>
{compare}{figure("ideal_digits")}{figure("weights")}
<h2>Mistakes</h2><p>The model got {wrong:,} of {total:,} validation images wrong.</p>
{figure("confusion")}{figure("mistakes")}
<h2>History</h2>{_table(history, ["epoch", "train loss", "valid loss", "accuracy", "time"])}
<h2>Configuration</h2>{_table(config_rows, ["setting", "value"])}
<h2>Data</h2>{_table(counts, ["class", "training images", "validation images"])}
</body></html>
"""
    path = run_dir / "report.html"
    atomic_write_text(path, page)
    return path
