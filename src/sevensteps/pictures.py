"""Digit-sized pictures drawn straight with Pillow: digits, weights as images, and grids of them with labels.

A 28×28 image needs no axes, so drawing it through a plotting library only costs time; here each tile is
its pixels, enlarged without smoothing, with a line or two of text above it. Pillow is imported only when
this module is. Colours: digits in gray (ink white on black, as MNIST stores them); weights on a diverging
scale, red for positive (votes for the first class), blue for negative, white for zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from .backend import xp
from .files import atomic_path

# ColorBrewer's RdBu, reversed: dark blue, blue, near-white, red, dark red (for -1, -0.5, 0, 0.5, 1).
DIVERGING_ANCHORS = ((5, 48, 97), (67, 147, 195), (247, 247, 247), (214, 96, 77), (103, 0, 31))
SCALE = 3  # screen pixels per image pixel
GAP = 8
FONT_SIZE = 13


@dataclass
class Tile:
    """One picture in a grid: a 28×28 array, its text (one or two lines), and how to colour it.

    ``limit`` None: a digit, values in [0, 1] shown in gray. A number: weights, shown on the diverging
    scale from −limit (blue) to +limit (red).
    """

    image: Any
    text: str = ""
    limit: float | None = None


def colorize(image: Any, limit: float | None = None) -> Any:
    """RGB uint8 (28, 28, 3) of a 28×28 array: gray for a digit, the diverging scale for weights."""
    values = xp.asarray(image, dtype=xp.float64).reshape(28, 28)
    if limit is None:
        gray = (xp.clip(values, 0, 1) * 255).round().astype(xp.uint8)
        return xp.repeat(gray[:, :, None], 3, axis=2)
    position = (xp.clip(values / (limit or 1.0), -1, 1) + 1) * 2  # 0 .. 4 along the anchors
    anchors = xp.asarray(DIVERGING_ANCHORS, dtype=xp.float64)
    low = xp.minimum(position.astype(xp.int64), 3)
    fraction = (position - low)[:, :, None]
    return (anchors[low] * (1 - fraction) + anchors[low + 1] * fraction).round().astype(xp.uint8)


@cache
def font(size: int = FONT_SIZE) -> Any:
    """Pillow's own font (no system fonts needed), loaded once per size."""
    return ImageFont.load_default(size=size)


def grid(tiles: list[Tile], columns: int, title: str = "", scale: int = SCALE) -> Image.Image:
    """The tiles in rows of ``columns``, each with its text above it, under an optional title."""
    text_font, title_font = font(), font(FONT_SIZE + 2)
    side = 28 * scale
    lines = max((t.text.count("\n") + 1 for t in tiles if t.text), default=0)
    label_height = lines * (FONT_SIZE + 3)
    widest = max((text_font.getlength(line) for t in tiles for line in t.text.split("\n")), default=0)
    cell_width = max(side, int(widest) + 4) + GAP
    cell_height = label_height + side + GAP
    rows = -(-len(tiles) // columns)
    top = FONT_SIZE + 12 if title else 4
    width = max(columns * cell_width + GAP, int(title_font.getlength(title)) + 2 * GAP)
    canvas = Image.new("RGB", (width, top + rows * cell_height + GAP), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((GAP, 4), title, fill="black", font=title_font)
    for k, tile in enumerate(tiles):
        row, column = divmod(k, columns)
        x, y = GAP + column * cell_width, top + row * cell_height
        draw.multiline_text((x, y), tile.text, fill="black", font=text_font, spacing=3)
        picture = Image.fromarray(colorize(tile.image, tile.limit)).resize((side, side), Image.NEAREST)
        canvas.paste(picture, (x, y + label_height))
    return canvas


def save_png(picture: Image.Image, path: Path) -> Path:
    """Write the picture as PNG, atomically."""
    with atomic_path(Path(path)) as tmp:
        picture.save(tmp, format="PNG", compress_level=6)
    return Path(path)
