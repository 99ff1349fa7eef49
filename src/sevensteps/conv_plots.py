"""Pictures of what a convolutional network learned: the first layer's filters, and what they see in one digit.

Like :mod:`sevensteps.plots`, every function returns a matplotlib ``Figure`` built without pyplot; save it
with ``plots.save_png``. matplotlib is imported only when this module is.
"""

from __future__ import annotations

from typing import Any

from . import nn
from .autograd import no_grad
from .backend import xp
from .layers import Conv2d
from .plots import Figure
from .tensor import Tensor

DIVERGING = "RdBu_r"


def first_conv(model: nn.Module) -> tuple[int, Conv2d]:
    """The position (among the model's direct children, or 0 for a bare layer) and the first Conv2d."""
    if isinstance(model, Conv2d):
        return 0, model
    for k, child in enumerate(model.children()):
        if isinstance(child, Conv2d):
            return k, child
    raise ValueError(f"the model has no Conv2d layer among its children: {type(model).__name__}")


def _grid(count: int, max_columns: int = 8) -> tuple[int, int]:
    columns = min(max(count, 1), max_columns)
    return -(-count // columns), columns


def conv_filters(model: nn.Module, max_filters: int = 32) -> Figure:
    """Each first-layer kernel (its first input channel) as a small heatmap: red adds where the image is
    bright, blue subtracts. Edges and strokes show up as red beside blue."""
    _, layer = first_conv(model)
    kernels = layer.weight.data[:max_filters, 0]
    rows, columns = _grid(len(kernels))
    fig = Figure(figsize=(1.2 * columns + 1, 1.3 * rows + 0.6))
    limit = float(xp.abs(kernels).max()) or 1.0
    for k, kernel in enumerate(kernels):
        ax = fig.add_subplot(rows, columns, k + 1)
        shown = ax.imshow(kernel, cmap=DIVERGING, vmin=-limit, vmax=limit)
        ax.set_title(f"filter {k}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(shown, ax=fig.axes, fraction=0.03, pad=0.02, label="weight")
    kh, kw = layer.kernel_size
    fig.suptitle(f"First convolution: {len(kernels)} filters of {kh}×{kw} weights", fontsize=11)
    return fig


def feature_maps(model: nn.Module, image: Any, max_maps: int = 16, title: str = "") -> Figure:
    """One image and what the first convolution makes of it: each filter's output through a ReLU, a map of
    where (and how strongly) that filter found its pattern."""
    _, layer = first_conv(model)
    with no_grad():
        x = Tensor(xp.asarray(image, dtype=layer.weight.dtype).reshape(1, 1, 28, 28))
        maps = layer(x).relu().data[0, :max_maps]
    rows, columns = _grid(len(maps) + 1)
    fig = Figure(figsize=(1.4 * columns, 1.5 * rows + 0.6))
    ax = fig.add_subplot(rows, columns, 1)
    ax.imshow(xp.asarray(image).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    ax.set_title("input", fontsize=8)
    for k, feature in enumerate(maps):
        ax = fig.add_subplot(rows, columns, k + 2)
        ax.imshow(feature, cmap="magma")
        ax.set_title(f"filter {k}", fontsize=8)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or f"Feature maps: what {len(maps)} first-layer filters see in one image", fontsize=11)
    return fig
