"""Keras-style ``.npz`` archives: ``x_train``, ``y_train``, ``x_test``, ``y_test``; never pickles."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..backend import xp
from .dataset import DataError, Dataset, to_float_images

KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_npz(path: Path) -> tuple[Dataset, Dataset]:
    """(train, valid) from an npz holding uint8 (or [0, 1] float) images of 28×28 and integer labels."""
    try:
        archive = xp.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz archive ({error})") from error
    with archive:
        missing = [key for key in KEYS if key not in archive.files]
        if missing:
            raise DataError(f"{path}: missing {', '.join(missing)} (a Keras-style .npz has {', '.join(KEYS)})")
        try:
            arrays = {key: archive[key] for key in KEYS}
        except ValueError as error:  # object arrays need pickles, which are never loaded
            raise DataError(f"{path}: holds pickled objects, which sevensteps never loads ({error})") from error
    splits = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        x, y = arrays[x_key], arrays[y_key]
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise DataError(f"{path}: {y_key} must be a 1-D array of integer labels, got {y.dtype} {y.shape}")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{path}: {y_key} has labels outside 0-9 ({int(y.min())}..{int(y.max())})")
        if x.dtype.kind == "f":
            if x.size and (x.min() < 0 or x.max() > 1):
                raise DataError(f"{path}: {x_key} is float but not in [0, 1]")
            images = x.astype(xp.float32)
            if images.ndim != 3 or images.shape[1:] != (28, 28):
                raise DataError(f"{path}: {x_key} images have shape {images.shape[1:]}, expected 28×28")
        elif x.dtype == xp.uint8:
            images = to_float_images(x, f"{path}: {x_key}")
        else:
            raise DataError(f"{path}: {x_key} must hold uint8 pixels or floats in [0, 1], not {x.dtype}")
        splits.append(Dataset(images, y.astype(xp.int64), f"{path} ({x_key[2:]})"))
    return splits[0], splits[1]
