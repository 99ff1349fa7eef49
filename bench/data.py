"""Data: reading 60,000 Fashion-MNIST IDX images, and 10,000 PNGs in class folders (first time, cached).

    python bench/data.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row

from sevensteps.data import load_source
from sevensteps.data.idx import read_idx_pair

FASHION = Path("/usr/share/datasets/fashion-mnist")


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> list[Row]:
    rows = []
    images, labels = FASHION / "train-images-idx3-ubyte.gz", FASHION / "train-labels-idx1-ubyte.gz"
    if images.is_file():
        seconds = timed(lambda: read_idx_pair(images, labels))
        rows.append(Row("4. data", "read 60,000 Fashion-MNIST training images from gzipped IDX (float32)",
                        f"{seconds:.3f}s", "< 0.5s", seconds < 0.5))
    else:
        rows.append(Row("4. data", "read 60,000 IDX images", "skipped: apt-get install dataset-fashion-mnist"))

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SEVENSTEPS_HOME"] = str(Path(tmp) / "home")  # an empty cache, not the user's
        folder = Path(tmp) / "pngs"
        rng = np.random.default_rng(0)
        pixels = (rng.random((10_000, 28, 28)) * 255).astype(np.uint8)
        for i, image in enumerate(pixels):
            target = folder / str(i % 10)
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target / f"{i}.png")
        start = time.perf_counter()
        load_source(folder)
        first = time.perf_counter() - start
        cached = timed(lambda: load_source(folder))
    rows.append(Row("4. data", "read 10,000 PNGs (class folders), first time: decode and cache", f"{first:.2f}s"))
    rows.append(Row("4. data", "read the same 10,000 PNGs again, from the cache", f"{cached:.3f}s", "< 0.2s",
                    cached < 0.2))
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row.what}: {row.figure}")
