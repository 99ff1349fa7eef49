"""The report's words and its one self-contained HTML page."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from ..files import atomic_write_text
from ..metrics import percent
from .figures import make_figures
from .story import Story

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
                 f"<strong>{e(s['stopped_because'])}</strong>. Final validation accuracy {percent(s['valid_accuracy'])}"
                 f" (best {percent(s['best_valid_accuracy'])}).")
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
            from ..serialize import ModelFileError

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
    per_class = [[name, percent(summary["baseline_per_class"].get(str(label), summary["baseline_per_class"].get(name))),
                  percent(story.facts["model_per_class"][name])]
                 for name, label in zip(data["classes"], data["labels"], strict=True)]
    compare = _table([["all classes", percent(summary["baseline_accuracy"]), percent(summary["valid_accuracy"])],
                      *per_class], ["validation images", "pixel similarity (L1)", "trained model"])
    history = [[h["epoch"], _num(h["train_loss"]), _num(h["valid_loss"]), percent(h["valid_accuracy"]),
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
<p class="verdict">Pixel similarity <strong>{percent(summary["baseline_accuracy"])}</strong> &rarr; trained model
<strong>{percent(summary["valid_accuracy"])}</strong> (best {percent(summary["best_valid_accuracy"])}) after
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
