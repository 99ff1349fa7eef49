"""Any photo or drawing of a digit, prepared the way MNIST's digits were.

MNIST digits are white ink on black, scaled to fit a 20×20 box (keeping their shape) and placed in a
28×28 image so that their centre of mass sits at the centre. A PNG or JPEG of any size, colour, and
polarity (dark on light or light on dark) goes through the same steps here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..backend import xp
from ..files import display
from .dataset import DataError
from .images import open_image

INK_THRESHOLD = 0.2
WORKING_SIZE = 1024  # larger images are shrunk to this many pixels a side first; the digit ends up 20×20 anyway


def load_digit_image(path: Path) -> Any:
    """A 28×28 float32 array in [0, 1], white ink on black, centred by centre of mass.

    Images above :data:`sevensteps.data.images.MAX_IMAGE_PIXELS` are refused before their pixels are decoded.
    """
    from PIL import Image, ImageOps

    with open_image(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image.convert("RGBA"))
        gray = image.convert("L")
        if max(gray.size) > WORKING_SIZE:  # a phone photo: average blocks of pixels before any float copy
            gray = gray.reduce(math.ceil(max(gray.size) / WORKING_SIZE))
        pixels = xp.asarray(gray, dtype=xp.float32) / 255
    return to_mnist(pixels, display(path))


def to_mnist(gray: Any, name: str = "image") -> Any:
    """The MNIST steps on a grayscale array in [0, 1] of any size."""
    from PIL import Image

    border = xp.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(xp.median(border))
    ink = 1 - gray if background > 0.5 else gray.copy()  # dark ink on light paper: invert
    background = min(background, 1 - background)
    ink = xp.clip((ink - background) / max(1 - background, 1e-6), 0, 1)
    rows, cols = xp.nonzero(ink > INK_THRESHOLD * max(float(ink.max()), 1e-6))
    if ink.max() < 0.1 or len(rows) == 0:
        raise DataError(f"{name}: no ink found (the image is blank or has no contrast)")
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = crop.shape
    scale = 20 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = Image.fromarray((crop * 255).astype(xp.uint8)).resize(size, Image.Resampling.LANCZOS)
    box = xp.asarray(fitted, dtype=xp.float32) / 255
    mass = box.sum()
    cy = float((box.sum(axis=1) * xp.arange(box.shape[0])).sum() / mass)
    cx = float((box.sum(axis=0) * xp.arange(box.shape[1])).sum() / mass)
    top = int(min(max(round(13.5 - cy), 0), 28 - box.shape[0]))
    left = int(min(max(round(13.5 - cx), 0), 28 - box.shape[1]))
    canvas = xp.zeros((28, 28), dtype=xp.float32)
    canvas[top:top + box.shape[0], left:left + box.shape[1]] = box
    return canvas
