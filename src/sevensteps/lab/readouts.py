"""The numbers each of the seven steps shows on the page, recorded right after the step ran.

predict: the batch's accuracy; loss: its value (and the loss curve); gradient: its size and the pixels with
the largest weight gradients (in Play worked out at most once per frame: it costs more than the step);
step: lr × gradient size and how far the weights moved; repeat: batch and epoch; stop: which rule will fire
and when.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..backend import xp
from ..metrics import accuracy
from .views import number

MAX_CURVE_POINTS = 600


def norm(arrays: Any) -> float:
    """√Σ w² over several arrays (a dot product each: no temporary arrays, once per batch in Play)."""
    return math.sqrt(sum(float(xp.vdot(flat, flat)) for flat in (a.ravel(order="K") for a in arrays)))


def largest_gradients(grad: Any) -> str:
    """Where the first layer's gradient is largest: at which pixels (one weight per pixel), or in which
    filter of a convolution and where in its kernel."""
    size = xp.abs(grad)
    if size.ndim == 2:  # (units, 784): each pixel's largest over the units
        first = size.max(axis=0)
        top3 = xp.argpartition(first, -3)[-3:]
        top = top3[xp.argsort(-first[top3])]
        return "at pixel " + ", ".join(f"({int(i) // 28},{int(i) % 28}) {float(first[i]):.2g}" for i in top)
    where = xp.unravel_index(int(size.argmax()), size.shape)  # (filter, channel, row, column)
    return f"in filter {int(where[0])} at ({int(where[-2])},{int(where[-1])}) {float(size.max()):.2g}"


def describe(session: Any, point: str, learn: Any) -> None:
    """Record the numbers ``point`` shows, right after it ran (in the training thread)."""
    texts = session.texts
    params = learn.params
    if point == "init":
        session.init_weight_norm = norm(p.data for p in params) or 1.0
        n = sum(p.data.size for p in params)
        texts["init"] = f"{n:,} random weights from seed {learn.settings.seed} (size {session.init_weight_norm:.2f})"
    elif point == "predict":
        session.batch_accuracy = accuracy(learn.preds, learn.yb)
        texts["predict"] = f"{len(learn.xb)} images, {session.batch_accuracy:.1%} right"
    elif point == "loss":
        value = learn.loss_value.item()
        texts["loss"] = f"{learn.loss_name} = {value:.4f}"
        session.batches_seen += 1
        session.curve.append((session.batches_seen, number(value), number(session.batch_accuracy)))
        if len(session.curve) > MAX_CURVE_POINTS:  # keep every other point: bounded memory, whole run shown
            session.curve = session.curve[::2]
            session.curve_stride *= 2
        elif session.curve_stride > 1 and session.batches_seen % session.curve_stride:
            session.curve.pop()
    elif point == "gradient":
        grads = [p.grad.data for p in params if p.grad is not None]
        session.grad_norm = norm(grads)
        now = time.perf_counter()
        if session.mode != "play" or now - session.gradient_text_at >= 1 / session.fps:  # in Play: once a frame
            session.gradient_text_at = now
            texts["gradient"] = f"|∇| = {session.grad_norm:.4g}; largest {largest_gradients(grads[0])}"
        session.weights_before = [p.data.copy() for p in params]
    elif point == "step":
        lr = learn.opt.param_groups[0]["lr"]
        moved = norm(p.data - w for p, w in zip(params, session.weights_before, strict=True))
        size = norm(session.weights_before) or 1.0
        session.update_ratio.append((session.batches_seen, moved / size))
        session.weight_norm = norm(p.data for p in params)
        texts["step"] = (f"lr × |∇| = {lr:g} × {session.grad_norm:.3g} = {lr * session.grad_norm:.3g}; "
                         f"weights moved {moved:.3g}")
    elif point == "repeat":
        texts["repeat"] = f"epoch {learn.epoch}, batch {learn.batch} of {len(learn.dls.train)} done"
    elif point == "stop":
        texts["stop"] = f"no rule fires yet: stops after epoch {session.epoch_limit} (now in epoch {learn.epoch})"
    elif point == "epoch":
        last = learn.history[-1]
        texts["stop"] = (f"epoch {last.epoch} done: valid accuracy {last.valid_accuracy:.1%} (baseline "
                         f"{session.baseline_accuracy:.1%}); stops after epoch {session.epoch_limit}")
