"""What the page draws, as JSON-ready values: weights and digits as compact base64, the validation
confusion matrix and the most confidently wrong validation digits (and when to recompute those)."""

from __future__ import annotations

import base64
import math
import time
from typing import Any

from ..backend import xp

MAX_MISTAKES = 8


def encode_weights(weights: Any) -> dict[str, Any]:
    """A first layer's weights as int8 levels of ±max|w| in base64, small enough to stream: one 28×28 tile
    per unit for a (units, 784) matrix, one k×k tile per filter for a convolution's (filters, 1, k, k)."""
    weights = xp.asarray(weights, dtype=xp.float32)
    if weights.ndim == 4:  # (filters, channels, k, k): the first input channel's kernel of each filter
        side = weights.shape[-1]
        weights = weights[:, 0]
    else:
        side = 28
    weights = weights.reshape(-1, side * side)
    finite = xp.where(xp.isfinite(weights), weights, 0)
    scale = float(xp.abs(finite).max()) or 1.0
    levels = xp.round(finite / scale * 127).astype(xp.int8)
    return {"units": int(weights.shape[0]), "side": side, "scale": scale,
            "data": base64.b64encode(levels.tobytes()).decode()}


def encode_image(image: Any) -> str:
    """A 28×28 image in [0, 1] as 784 bytes in base64."""
    pixels = xp.clip(xp.asarray(image, dtype=xp.float32).reshape(784) * 255, 0, 255).astype(xp.uint8)
    return base64.b64encode(pixels.tobytes()).decode()


def number(x: float | None) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return x if x is not None and math.isfinite(x) else None


def validation_views(model: Any, splits: Any) -> dict[str, Any]:
    """The validation confusion matrix and the most confidently wrong digits, by the library's metrics."""
    from ..autograd import no_grad
    from ..metrics import class_index, confusion_matrix, probabilities

    with no_grad():
        probs = probabilities(model, splits.valid.images.reshape(-1, 784), len(splits.classes))
    guess = probs.argmax(axis=-1)
    truth = class_index(splits.valid.labels, splits.classes)
    wrong = xp.nonzero(guess != truth)[0]
    order = wrong[xp.argsort(-probs[wrong, guess[wrong]])][:MAX_MISTAKES]
    names = splits.class_names()
    mistakes = [{"image": encode_image(splits.valid.images[i]), "true": names[int(truth[i])],
                 "predicted": names[int(guess[i])], "probability": float(probs[i, guess[i]])} for i in order]
    matrix = confusion_matrix(splits.valid.labels, xp.asarray(splits.classes)[guess], splits.classes)
    return {"confusion": matrix.tolist(), "mistakes": mistakes}


def refresh(session: Any) -> None:
    """The validation confusion matrix and mistakes of the weights now, unless they are of this epoch
    already (one more pass over the validation set: in Play, :mod:`.pacer` calls this at most once a second)."""
    learn = session.learner
    if session.views["epochs"] == len(learn.history):
        return
    if not learn.history:
        with session.cond:
            session.views = {"confusion": None, "mistakes": [], "epochs": 0}
        return
    views = validation_views(learn.model, session.splits)
    with session.cond:
        session.views = {**views, "epochs": len(learn.history)}
        session.views_at = time.perf_counter()
        session.slow_dirty = True
