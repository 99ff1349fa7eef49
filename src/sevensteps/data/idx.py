"""The IDX format of MNIST and Fashion-MNIST, plain or gzipped.

An IDX file is a 4-byte magic number (0, 0, type code, number of dimensions), one big-endian uint32 per
dimension, then the values. sevensteps reads unsigned bytes (type 0x08): 3 dimensions for images,
1 for labels.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

from ..backend import xp
from .dataset import DataError, Dataset, to_float_images

UNSIGNED_BYTE = 0x08


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when its name ends in .gz; a damaged file is a DataError."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from error
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a valid gzip file or truncated ({error})") from error


def read_idx(path: Path, ndim: int) -> Any:
    """The array in an IDX file of unsigned bytes with ``ndim`` dimensions."""
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    if data[2] != UNSIGNED_BYTE:
        raise DataError(f"{path}: IDX value type 0x{data[2]:02x} is not supported, expected unsigned bytes (0x08)")
    if data[3] != ndim:
        kind = "images" if ndim == 3 else "labels"
        raise DataError(f"{path}: has {data[3]} dimensions, expected {ndim} for {kind}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int(n) for n in xp.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(xp.prod(shape))
    if len(data) - header < expected:
        held = len(data) - header
        raise DataError(f"{path}: truncated: the header promises {expected} values, the file holds {held}")
    return xp.frombuffer(data, dtype=xp.uint8, count=expected, offset=header).reshape(shape)


def read_idx_pair(images_path: Path, labels_path: Path, source: str | None = None) -> Dataset:
    """Images and labels from a matching pair of IDX files, checked against each other."""
    pixels = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if len(pixels) != len(labels):
        raise DataError(f"{images_path} holds {len(pixels)} images but {labels_path} holds {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: label {int(labels.max())} is out of range 0-9")
    return Dataset(to_float_images(pixels, str(images_path)), labels.astype(xp.int64), source or str(images_path))


def _find(folder: Path, prefix: str, kind: str) -> Path | None:
    for suffix in ("", ".gz"):
        for sep in ("-", "."):
            candidate = folder / f"{prefix}-{kind}{sep}idx{3 if kind == 'images' else 1}-ubyte{suffix}"
            if candidate.is_file():
                return candidate
    return None


def read_idx_folder(folder: Path) -> tuple[Dataset | None, Dataset | None]:
    """(train, valid) from a folder of ``train-*`` and ``t10k-*`` IDX pairs; either may be absent."""
    splits = []
    for prefix in ("train", "t10k"):
        images, labels = _find(folder, prefix, "images"), _find(folder, prefix, "labels")
        if images is None and labels is None:
            splits.append(None)
            continue
        if images is None or labels is None:
            present = images or labels
            raise DataError(f"{present} has no matching {'labels' if labels is None else 'images'} file in {folder}")
        splits.append(read_idx_pair(images, labels, f"{folder} ({prefix})"))
    return splits[0], splits[1]


def write_idx(path: Path, array: Any) -> None:
    """Write unsigned bytes as IDX (gzipped if the name ends in .gz): for tests and for exporting."""
    array = xp.ascontiguousarray(array, dtype=xp.uint8)
    header = bytes([0, 0, UNSIGNED_BYTE, array.ndim]) + xp.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.tobytes()
    path.write_bytes(gzip.compress(payload, compresslevel=1) if path.suffix == ".gz" else payload)
