"""The learning-rate finder: train a few batches with a learning rate that grows exponentially, watch the
loss, and suggest a rate where it falls fastest. The weights and optimizer are put back afterwards."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .backend import xp
from .training import set_lr


@dataclass
class LRFinder:
    """The sweep's learning rates and (smoothed) losses, and the suggested rate."""

    lrs: list[float]
    losses: list[float]
    suggestion: float

    def plot(self) -> Any:
        """Loss against learning rate (log scale), the suggestion marked; a matplotlib Figure."""
        from .plots import Figure

        fig = Figure(figsize=(6, 3.8))
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(self.lrs, self.losses)
        ax.axvline(self.suggestion, color="C3", linestyle="--", label=f"suggested lr {self.suggestion:.2g}")
        ax.set(xscale="log", xlabel="learning rate", ylabel="loss (smoothed)", title="Learning-rate finder")
        ax.legend()
        return fig

    def _repr_png_(self) -> bytes | None:
        from .extras import MissingExtra

        try:
            from .plots import png_bytes
        except MissingExtra:  # without matplotlib a notebook shows the text repr
            return None
        return png_bytes(self.plot())


def suggest(lrs: list[float], losses: list[float]) -> float:
    """A tenth of the rate with the lowest loss: there the loss still falls, safely below where it blows up."""
    return float(lrs[int(xp.argmin(xp.asarray(losses)))] / 10)


def lr_find(learn: Any, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100,
            beta: float = 0.98) -> LRFinder:
    """Sweep from ``start_lr`` to ``end_lr`` over ``num_it`` batches (fewer if the loss explodes)."""
    if learn.opt is None:
        learn.init()
    saved_weights = [p.data.copy() for p in learn.params]
    saved_opt = learn.opt.state_dict() if hasattr(learn.opt, "state_dict") else None
    generator = getattr(learn.dls.train, "generator", None)
    saved_random = generator.get_state() if generator is not None else None
    lrs, losses = [], []
    average, best = 0.0, math.inf
    try:
        with xp.errstate(over="ignore", invalid="ignore"):
            while len(lrs) < num_it:
                for xb, yb in learn.dls.train:
                    lr = start_lr * (end_lr / start_lr) ** (len(lrs) / max(num_it - 1, 1))
                    set_lr(learn.opt, lr)
                    loss = learn.loss_func(learn.model(xb), yb)
                    loss.backward()
                    learn.opt.step()
                    learn.opt.zero_grad()
                    value = loss.item()
                    average = beta * average + (1 - beta) * value
                    smooth = average / (1 - beta ** (len(lrs) + 1))
                    if not math.isfinite(smooth) or smooth > 4 * best:
                        raise StopIteration
                    best = min(best, smooth)
                    lrs.append(lr)
                    losses.append(smooth)
                    if len(lrs) >= num_it:
                        break
    except StopIteration:
        pass
    finally:
        learn.restore(saved_weights)
        if saved_opt is not None:
            learn.opt.load_state_dict(saved_opt)
        set_lr(learn.opt, learn.lr)
        if saved_random is not None:
            generator.set_state(saved_random)
    if not lrs:
        raise ValueError(f"lr_find: the loss was not finite even at lr {start_lr:g}")
    return LRFinder(lrs, losses, suggest(lrs, losses))
