"""The page's diagnosis, in words: the loss went NaN, rises, the weights blew up, or nothing moves.

Watches every batch (the library's LearningRateAdvisor only looks after each epoch, and its verdict is
used too, as the last word, when none of these batch-level signs fired).
"""

from __future__ import annotations

from typing import Any

from ..backend import xp


def diagnose(learn: Any, lr: float, finished: str | None, curve: list[tuple[int, float | None, float | None]],
             update_ratio: Any, weight_norm: float, init_weight_norm: float, n_classes: int) -> str | None:
    """What is wrong with the run so far and what to try, or None when nothing is."""
    if finished and ("became" in finished or "non-finite" in finished):
        return (f"The loss became NaN or infinite: the learning rate {lr:g} is far too high. "
                f"The weights went back to the last good epoch; try lr {lr / 10:g} and press Play.")
    losses = [v for _, v, _ in curve if v is not None]  # the curve holds None for NaN and infinity
    if len(losses) >= 12:
        best = float(xp.convolve(xp.asarray(losses), xp.full(4, 0.25), mode="valid").min())  # of 4 in a row
        recent = sum(losses[-4:]) / 4
        if recent > 2 * best + 0.02:
            return (f"The loss is rising (now {recent:.3g}, it was {best:.3g}): the learning rate {lr:g} is too "
                    f"high, each step overshoots. Try lr {lr / 10:g}, or rewind to before it rose.")
    # The first steps from small random weights are always large next to them; after that a step
    # several times the weights' own size means the learning rate is far too high.
    later = [ratio for seen, ratio in update_ratio if seen > 2]
    if later and max(later) > 3.0:
        return (f"A step changed the weights by {max(later):.3g} times their own size: the learning rate {lr:g} "
                f"is far too high (the outputs saturate and learning stalls). Try lr {lr / 100:g}.")
    if later and weight_norm > 30 * init_weight_norm and sorted(later)[len(later) // 2] < 1e-3:
        return (f"The weights have grown to {weight_norm / init_weight_norm:.0f} times their size "
                f"at init and hardly move any more: the outputs saturate and the gradient vanishes. The "
                f"learning rate {lr:g} is too high; try lr {lr / 100:g}.")
    history = learn.history
    chance = 1 / n_classes
    if len(history) >= 2 and history[-1].valid_accuracy < chance + 0.1:
        hint = "too low: try 10 times more" if lr < 0.01 else "unsuitable: try 10 times less"
        return (f"Training is stuck near chance ({history[-1].valid_accuracy:.1%} after {len(history)} epochs): "
                f"the learning rate {lr:g} is probably {hint}.")
    if len(losses) >= 20 and len(history) >= 1:
        change = abs(losses[0] - sum(losses[-5:]) / 5) / max(abs(losses[0]), 1e-12)
        if change < 0.02:
            return (f"The loss has barely moved ({change:.1%} since the start): the learning rate {lr:g} is too "
                    f"low. Try lr {lr * 10:g}.")
    if learn.diagnosis is not None:
        return f"The learning-rate advisor says: {learn.diagnosis.message}."
    return None
