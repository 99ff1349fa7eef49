"""How a tensor prints: PyTorch's layout, number format and suffixes, so the two can be read side by side.

Floats get 4 decimals (``1.5000``), or a bare point when every value is whole (``1.``), or scientific
notation (``1.0000e-03``) when the values span more than a factor of 1000 or reach beyond 1e8 or below 1e-4.
Every column has one width, lines wrap at 80 characters, and tensors of more than 1000 elements show
three items at each edge around ``...``.
"""

from __future__ import annotations

import math
from typing import Any

from .backend import xp

LINE_WIDTH = 80
THRESHOLD = 1000
EDGE_ITEMS = 3
DEFAULT_DTYPES = (xp.dtype(xp.float32), xp.dtype(xp.int64), xp.dtype(bool))


class _Formatter:
    """One format for every element, chosen from all of them (as torch/_tensor_str.py does)."""

    def __init__(self, values: Any):
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        if not self.floating:
            strings = [str(v) for v in values.reshape(-1).tolist()]
            self.max_width = max((len(s) for s in strings), default=1)
            return
        finite = values[xp.isfinite(values)].astype(xp.float64)
        nonzero = finite[finite != 0]
        self.int_mode = bool(xp.all(xp.ceil(nonzero) == nonzero)) if nonzero.size else True
        if nonzero.size:
            low, high = float(xp.abs(nonzero).min()), float(xp.abs(nonzero).max())
            if self.int_mode:
                self.sci_mode = high / low > 1000 or high > 1e8
            else:
                self.sci_mode = high / low > 1000 or high > 1e8 or low < 1e-4
        # as PyTorch: the width comes from the nonzero finite values; nan, inf and 0 fit in or stick out
        self.max_width = max((len(self._plain(v)) for v in nonzero.tolist()), default=1)

    def _plain(self, value: Any) -> str:
        if not self.floating:
            return str(value)
        if not math.isfinite(value):
            return str(value)
        if self.sci_mode:
            return f"{value:.4e}"
        if self.int_mode:
            return f"{value:.0f}."
        return f"{value:.4f}"

    def format(self, value: Any) -> str:
        return self._plain(value).rjust(self.max_width)


def _summarized(values: Any) -> Any:
    """The elements that are printed: all, or the edges of each dimension when summarizing."""
    if values.ndim == 0:
        return values
    if values.shape[0] > 2 * EDGE_ITEMS:
        values = xp.concatenate([values[:EDGE_ITEMS], values[-EDGE_ITEMS:]])
    return xp.stack([_summarized(v) for v in values]) if values.ndim > 1 and len(values) else values


def _vector(values: Any, indent: int, summarize: bool, fmt: _Formatter) -> str:
    element_length = fmt.max_width + 2
    per_line = max(1, math.floor((LINE_WIDTH - indent) / element_length))
    items = values.tolist()
    if summarize and len(items) > 2 * EDGE_ITEMS:
        strings = [fmt.format(v) for v in items[:EDGE_ITEMS]] + [" ..."] + \
                  [fmt.format(v) for v in items[-EDGE_ITEMS:]]
    else:
        strings = [fmt.format(v) for v in items]
    lines = [strings[i:i + per_line] for i in range(0, len(strings), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(", ".join(line) for line in lines) + "]"


def _body(values: Any, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector(values, indent, summarize, fmt)
    if summarize and values.shape[0] > 2 * EDGE_ITEMS:
        rows = [_body(v, indent + 1, summarize, fmt) for v in values[:EDGE_ITEMS]] + ["..."] + \
               [_body(v, indent + 1, summarize, fmt) for v in values[-EDGE_ITEMS:]]
    else:
        rows = [_body(v, indent + 1, summarize, fmt) for v in values]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def array_str(values: Any, indent: int) -> str:
    if values.size == 0:
        return "[]"
    summarize = values.size > THRESHOLD
    fmt = _Formatter(_summarized(values) if summarize else values)
    return _body(values, indent, summarize, fmt)


def tensor_repr(t: Any, prefix: str = "tensor(") -> str:
    """``tensor([1.5000, 2.0000], requires_grad=True)``, laid out as PyTorch prints it."""
    values = t.data
    body = array_str(values, len(prefix))
    suffixes = []
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if values.dtype != xp.float32:
            suffixes.append(f"dtype=sevensteps.{values.dtype}")
    elif values.dtype not in DEFAULT_DTYPES:
        suffixes.append(f"dtype=sevensteps.{values.dtype}")
    if t._ctx is not None:
        suffixes.append(f"grad_fn={t._ctx!r}")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    text = prefix + body
    for suffix in suffixes:
        last_line = text.rsplit("\n", 1)[-1]
        if len(last_line) + len(suffix) + 2 > LINE_WIDTH:
            text += ",\n" + " " * len(prefix) + suffix
        else:
            text += ", " + suffix
    return text + ")"
