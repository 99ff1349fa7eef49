"""The report's charts as SVG: lines and bars per epoch, a scatter against the identity line.

A report chart is a few dozen points, two axes and a legend. Importing and running matplotlib for them took
most of the report's time (see BENCHMARKS.md), so they are written here as SVG text, which any browser draws
sharply at any size and whose labels stay real text. The legend always sits below the plot, so it never
hides a line; an axis gets at most six ticks at round numbers, so its labels never overlap. matplotlib
remains for figures outside the report (notebooks, ``sevensteps gradcheck --plot``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH, HEIGHT = 560, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 34, 62  # margins in pixels; the legend lives in the bottom one
FONT = 'font-family="system-ui, sans-serif"'
COLORS = {"blue": "#1f77b4", "orange": "#ff7f0e", "green": "#2ca02c", "red": "#d62728", "gray": "#666666"}
DASHES = {"solid": "", "dashed": ' stroke-dasharray="7 4"', "dotted": ' stroke-dasharray="2 3"'}


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round numbers covering [low, high], at most ``most`` of them: steps of 1, 2, 2.5 or 5 × 10ⁿ."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    raw = (high - low) / (most - 1)
    power = 10 ** math.floor(math.log10(raw))
    for step in (m * power * scale for scale in (1, 10) for m in (1, 2, 2.5, 5)):
        if step < raw:
            continue
        first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
        if last - first + 1 <= most:
            return [round(k * step, 12) for k in range(first, last + 1)]
    return [low, high]


def tick_labels(ticks: list[float]) -> list[str]:
    """Short labels that tell neighbouring ticks apart: fixed decimals for ordinary numbers, else the
    fewest significant digits (3e-11, 1.2e+04) that keep every label different."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    largest = max(abs(t) for t in ticks)
    if 1e-3 <= step and largest < 1e5:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9))
        labels = [f"{t:.{decimals}f}" for t in ticks]
        if len(set(labels)) < len(labels):  # a step of 2.5 × 10ⁿ needs one more decimal
            labels = [f"{t:.{decimals + 1}f}" for t in ticks]
    else:
        labels = next(candidate for digits in range(1, 13)
                      if len(set(candidate := [f"{t:.{digits}g}" for t in ticks])) == len(ticks))
    return ["0" if float(text) == 0 else text.replace("-", "−") for text in labels]


@dataclass
class Chart:
    """One plot: x and y ranges follow what is drawn; :meth:`svg` writes it out."""

    title: str
    xlabel: str
    ylabel: str
    integer_x: bool = True
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (label, colour, line style or mark)
    xs: list[float] = field(default_factory=list)  # every x and y drawn, for the axes' ranges
    ys: list[float] = field(default_factory=list)
    drawn: list[tuple] = field(default_factory=list)

    def _extend(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        self.xs += [float(x) for x in xs if math.isfinite(x)]
        self.ys += [float(y) for y in ys if math.isfinite(y)]

    def line(self, xs: Sequence[float], ys: Sequence[float], label: str, color: str, style: str = "solid",
             markers: bool = True) -> Chart:
        """A line through the points (a gap where y is not a number), with a dot at each point."""
        self._extend(xs, ys)
        self.drawn.append(("line", list(xs), list(ys), COLORS[color], style, markers))
        self.legend.append((label, COLORS[color], style))
        return self

    def hline(self, y: float, label: str, color: str, style: str = "dashed") -> Chart:
        self._extend([], [y])
        self.drawn.append(("hline", y, COLORS[color], style))
        self.legend.append((label, COLORS[color], style))
        return self

    def vline(self, x: float, label: str, color: str, style: str = "dotted") -> Chart:
        self._extend([x], [])
        self.drawn.append(("vline", x, COLORS[color], style))
        self.legend.append((label, COLORS[color], style))
        return self

    def star(self, x: float, y: float, label: str, color: str) -> Chart:
        self._extend([x], [y])
        self.drawn.append(("star", x, y, COLORS[color]))
        self.legend.append((label, COLORS[color], "star"))
        return self

    def bars(self, xs: Sequence[float], ys: Sequence[float], color: str) -> Chart:
        self._extend(list(xs) + [min(xs) - 0.5, max(xs) + 0.5], list(ys) + [0.0])
        self.drawn.append(("bars", list(xs), list(ys), COLORS[color]))
        return self

    def points(self, xs: Sequence[float], ys: Sequence[float], label: str, color: str) -> Chart:
        self._extend(xs, ys)
        self.drawn.append(("points", list(xs), list(ys), COLORS[color]))
        self.legend.append((label, COLORS[color], "point"))
        return self

    def svg(self, width: int = WIDTH, height: int = HEIGHT) -> str:
        """The chart as a standalone SVG document."""
        x_ticks = nice_ticks(min(self.xs, default=0), max(self.xs, default=1))
        y_ticks = nice_ticks(min(self.ys, default=0), max(self.ys, default=1))
        if self.integer_x:
            x_ticks = [t for t in x_ticks if t == int(t)] or x_ticks
            low, high = min(self.xs, default=0), max(self.xs, default=1)
            x0, x1 = (low - 0.5, high + 0.5) if high - low < 1 else (low - (high - low) * 0.03,
                                                                     high + (high - low) * 0.03)
            x_ticks = [t for t in x_ticks if x0 <= t <= x1]
        else:
            x0, x1 = x_ticks[0], x_ticks[-1]
        y0, y1 = y_ticks[0], y_ticks[-1]
        plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
        legend_rows = self._legend_rows(width)
        height += 18 * (len(legend_rows) - 1)  # more legend rows make the picture taller, never the plot smaller

        def px(x: float) -> float:
            return LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

        def py(y: float) -> float:
            return TOP + (1 - (y - y0) / ((y1 - y0) or 1)) * plot_h

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" {FONT} font-size="12">',
               f'<rect width="{width}" height="{height}" fill="white"/>',
               f'<text x="{LEFT + plot_w / 2:.1f}" y="20" text-anchor="middle" font-size="14">'
               f"{escape(self.title)}</text>"]
        for t, label in zip(y_ticks, tick_labels(y_ticks), strict=True):
            out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e4e4e4"/>'
                       f'<text x="{LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{label}</text>')
        for t, label in zip(x_ticks, tick_labels(x_ticks), strict=True):
            out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#e4e4e4"/>'
                       f'<text x="{px(t):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{label}</text>')
        out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>')
        out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h + 32}" text-anchor="middle">'
                   f"{escape(self.xlabel)}</text>")
        out.append(f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
                   f"{escape(self.ylabel)}</text>")
        for item in self.drawn:
            out.append(self._item(item, px, py, x0, x1, y0, y1))
        out.append(self._legend(legend_rows, width, TOP + plot_h + 52))
        out.append("</svg>")
        return "\n".join(out)

    @staticmethod
    def _item(item: tuple, px, py, x0: float, x1: float, y0: float, y1: float) -> str:
        kind = item[0]
        if kind == "line":
            _, xs, ys, color, style, markers = item
            runs: list[list[str]] = [[]]
            dots = []
            for x, y in zip(xs, ys, strict=True):
                if not math.isfinite(y):
                    runs.append([])
                    continue
                runs[-1].append(f"{px(x):.1f},{py(y):.1f}")
                if markers:
                    dots.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}"/>')
            lines = "".join(f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" stroke-width="1.8"'
                            f"{DASHES[style]}/>" for r in runs if r)
            return lines + "".join(dots)
        if kind == "hline":
            _, y, color, style = item
            return (f'<line x1="{px(x0):.1f}" x2="{px(x1):.1f}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="{color}" '
                    f'stroke-width="1.5"{DASHES[style]}/>')
        if kind == "vline":
            _, x, color, style = item
            return (f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{py(y0):.1f}" y2="{py(y1):.1f}" stroke="{color}" '
                    f'stroke-width="1.5"{DASHES[style]}/>')
        if kind == "star":
            _, x, y, color = item
            return _star(px(x), py(y), 8, color)
        if kind == "bars":
            _, xs, ys, color = item
            width = (px(1) - px(0)) * 0.75
            return "".join(f'<rect x="{px(x) - width / 2:.1f}" y="{min(py(y), py(0)):.1f}" width="{width:.1f}" '
                           f'height="{abs(py(0) - py(y)):.1f}" fill="{color}"/>' for x, y in zip(xs, ys, strict=True))
        _, xs, ys, color = item  # points
        return "".join(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{color}" fill-opacity="0.6"/>'
                       for x, y in zip(xs, ys, strict=True))

    def _legend_rows(self, width: int) -> list[list[tuple[str, str, str, float]]]:
        """The legend's entries (label, colour, kind, width) in rows that fit the picture's width."""
        rows: list[list[tuple[str, str, str, float]]] = [[]]
        for label, color, kind in self.legend:
            size = 36 + 6.8 * len(label)
            if rows[-1] and sum(e[3] for e in rows[-1]) + size > width - LEFT - RIGHT:
                rows.append([])
            rows[-1].append((label, color, kind, size))
        return rows

    @staticmethod
    def _legend(rows: list[list[tuple[str, str, str, float]]], width: int, top: float) -> str:
        """The legend under the plot and its axis label: it never covers what is drawn."""
        out = []
        for r, row in enumerate(rows):
            x = LEFT + (width - LEFT - RIGHT - sum(e[3] for e in row)) / 2
            y = top + 18 * r
            for label, color, kind, size in row:
                if kind == "star":
                    out.append(_star(x + 10, y - 4, 6, color))
                elif kind == "point":
                    out.append(f'<circle cx="{x + 10:.1f}" cy="{y - 4:.1f}" r="3" fill="{color}"/>')
                else:
                    out.append(f'<line x1="{x:.1f}" x2="{x + 22:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}" '
                               f'stroke="{color}" stroke-width="2"{DASHES[kind]}/>')
                out.append(f'<text x="{x + 28:.1f}" y="{y:.1f}">{escape(label)}</text>')
                x += size
        return "".join(out)


def _star(cx: float, cy: float, r: float, color: str) -> str:
    corners = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.45
        angle = math.pi / 2 + k * math.pi / 5
        corners.append(f"{cx + radius * math.cos(angle):.1f},{cy - radius * math.sin(angle):.1f}")
    return f'<polygon points="{" ".join(corners)}" fill="{color}"/>'
