"""matplotlib figures outside the report: a notebook's ideal digits and training curves, and
``sevensteps gradcheck --plot``. (The report draws its own with Pillow and SVG: see report.py.)

Every function returns a matplotlib ``Figure`` built without pyplot (so no window, no global state);
:func:`save_png` writes one atomically. matplotlib (the ``plots`` extra) is imported only when this module is.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .extras import missing

try:
    from matplotlib.figure import Figure
except ImportError as error:  # matplotlib is the ``plots`` extra: the run report does not need it
    raise missing("this figure", "matplotlib", "plots") from error

from .backend import xp
from .files import atomic_path

GRAY = "gray"
DIVERGING = "RdBu_r"  # red: votes for the first class, blue: for the other


def save_png(fig: Figure, path: Path, dpi: int = 100) -> Path:
    """Write the figure as PNG, atomically."""
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _image(ax: Any, image: Any, title: str, cmap: str = GRAY, limit: float | None = None) -> Any:
    kwargs = {"vmin": -limit, "vmax": limit} if limit is not None else {"vmin": 0, "vmax": 1}
    shown = ax.imshow(xp.asarray(image).reshape(28, 28), cmap=cmap, **kwargs)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def ideal_digits(ideals: dict[str, Any]) -> Figure:
    """The mean image of each class, side by side; for two classes also their difference."""
    names = list(ideals)
    pair = len(names) == 2
    columns = len(names) + (1 if pair else 0)
    fig = Figure(figsize=(2.4 * min(columns, 5), 2.8 * -(-columns // 5)))
    rows = -(-columns // 5)
    for k, name in enumerate(names):
        _image(fig.add_subplot(rows, min(columns, 5), k + 1), ideals[name], f"ideal {name}")
    if pair:
        difference = xp.asarray(ideals[names[0]]) - xp.asarray(ideals[names[1]])
        limit = float(xp.abs(difference).max()) or 1.0
        ax = fig.add_subplot(rows, columns, columns)
        shown = _image(ax, difference, f"{names[0]} minus {names[1]}", DIVERGING, limit)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("Pixel similarity: the average of every training image of a class", fontsize=11)
    return fig


def training_curves(history: list[dict[str, Any]], baseline_accuracy: float | None = None) -> Figure:
    """Training and validation loss, and validation accuracy, per epoch; the baseline as a reference."""
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    loss_ax, acc_ax = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    _loss_lines(loss_ax, history)
    _accuracy_lines(acc_ax, history, baseline_accuracy)
    return fig


def _losses(history: list[dict[str, Any]], key: str) -> list[float]:
    return [xp.nan if h.get(key) is None else h[key] for h in history]  # a gap where there is no loss


def _legend_below(ax: Any, columns: int = 3) -> None:
    """The legend under the plot, so it never hides a line."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=columns, frameon=False, fontsize=9)


def _integer_epochs(ax: Any) -> None:
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)


def _loss_lines(ax: Any, history: list[dict[str, Any]]) -> None:
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, _losses(history, "train_loss"), "o-", label="training loss", markersize=3)
    ax.plot(epochs, _losses(history, "valid_loss"), "s-", label="validation loss", markersize=3)
    ax.set(title="Loss per epoch", xlabel="epoch", ylabel="loss")
    _legend_below(ax)
    _integer_epochs(ax)


def _accuracy_lines(ax: Any, history: list[dict[str, Any]], baseline_accuracy: float | None,
                    stop_epoch: int | None = None, best_epoch: int | None = None) -> None:
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [100 * h["valid_accuracy"] for h in history], "o-", color="C2", label="trained model",
            markersize=3)
    if baseline_accuracy is not None:
        ax.axhline(100 * baseline_accuracy, color="C3", linestyle="--",
                   label=f"pixel similarity ({100 * baseline_accuracy:.1f}%)")
    if best_epoch is not None:
        best = next(h for h in history if h["epoch"] == best_epoch)
        ax.plot([best_epoch], [100 * best["valid_accuracy"]], "*", color="C1", markersize=12,
                label=f"best (epoch {best_epoch})")
    if stop_epoch is not None:
        ax.axvline(stop_epoch, color="0.4", linestyle=":", label=f"stopped after epoch {stop_epoch}")
    ax.set(title="Validation accuracy per epoch", xlabel="epoch", ylabel="accuracy (%)")
    _legend_below(ax, 2)
    _integer_epochs(ax)


def gradcheck_scatter(numeric: Any, backprop: Any) -> Figure:
    """Each weight's gradient by nudging (x) against by backprop (y): all on the identity line."""
    from matplotlib.ticker import MaxNLocator

    numeric, backprop = xp.ravel(numeric), xp.ravel(backprop)
    fig = Figure(figsize=(5, 5))
    fig.subplots_adjust(left=0.17, right=0.95, top=0.9, bottom=0.13)
    ax = fig.add_subplot(1, 1, 1)
    low = float(min(numeric.min(), backprop.min()))
    high = float(max(numeric.max(), backprop.max()))
    ax.plot([low, high], [low, high], color="C3", linewidth=1, label="identity")
    ax.scatter(numeric, backprop, s=6, alpha=0.6, label=f"{numeric.size} weights")
    ax.set(xlabel="gradient by nudging each weight", ylabel="gradient by backpropagation",
           title="Calculus agrees with nudging")
    for axis in (ax.xaxis, ax.yaxis):  # few ticks, one shared power of ten: labels that never overlap
        axis.set_major_locator(MaxNLocator(4))
    ax.ticklabel_format(style="sci", scilimits=(-2, 3), useMathText=True)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig
