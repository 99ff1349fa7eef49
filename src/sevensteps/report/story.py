"""The numbers a run report tells, each from the run folder and the data its config names."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backend import xp


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


def _norm(array: Any) -> float:
    return float(xp.sqrt((xp.asarray(array, dtype=xp.float64) ** 2).sum()))


def tell(run_dir: Path, splits: Any = None) -> tuple[Story, dict[str, Any]]:
    """The story's numbers, and the arrays its pictures need."""
    from ..autograd import no_grad
    from ..baseline import PixelSimilarity
    from ..callbacks import WeightSnapshots
    from ..data import load_splits, parse_digits
    from ..digits import gradient_check, load_model
    from ..metrics import class_index, confusion_matrix, probabilities
    from ..runs import RunConfig, read_summary
    from ..tensor import Tensor

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
                  model.num_parameters(), snapshots.snapshots)
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
    check = gradient_check(splits, model, settings["loss"], batch=64)
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
