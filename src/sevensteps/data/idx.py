"""The IDX format of MNIST and Fashion-MNIST, plain or gzipped.

An IDX file is a 4-byte magic number (0, 0, type code, number of dimensions), one big-endian uint32 per
dimension, then the values. sevensteps reads unsigned bytes (type 0x08): 3 dimensions for images,
1 for labels.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import IO, Any

from ..backend import xp
from ..files import atomic_write_bytes, display
from .dataset import IMAGE_SHAPE, DataError, Dataset, to_float_images

UNSIGNED_BYTE = 0x08
MAX_VALUES = 1 << 31  # 2 GiB of pixels (2.7 million 28×28 images): a header promising more is refused
MAX_DEFLATE_RATIO = 1032  # deflate cannot shrink data further; a .gz promising more than this ratio lies


def read_idx(path: Path, ndim: int) -> Any:
    """The array in an IDX file of unsigned bytes with ``ndim`` dimensions (gunzipped if the name ends in .gz).

    The header is checked before anything is allocated, and exactly the number of values it promises is
    decompressed: a gzip bomb is refused after reading one byte too many, never inflated in memory.
    """
    where = display(path)
    try:
        with open(path, "rb") as raw:
            size = _file_size(raw)
            if path.suffix != ".gz":
                return _read_idx_stream(raw, where, ndim, limit=size)
            with gzip.GzipFile(fileobj=raw) as stream:
                return _read_idx_stream(stream, where, ndim, limit=size * MAX_DEFLATE_RATIO, gzipped=True)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(f"{where}: not a valid gzip file or truncated ({' '.join(str(error).split())})") from error
    except OSError as error:
        raise DataError(f"{where}: cannot read ({error.strerror or error})") from error


def _file_size(raw: IO[bytes]) -> int:
    return os.fstat(raw.fileno()).st_size


def _read_exactly(stream: IO[bytes], count: int) -> bytearray:
    """Up to ``count`` bytes (fewer only at the end of the stream), read into one buffer of that size."""
    buffer = bytearray(count)
    view, filled = memoryview(buffer), 0
    while filled < count:
        got = stream.readinto(view[filled:filled + (1 << 24)])
        if not got:
            break
        filled += got
    del view
    if filled < count:
        del buffer[filled:]
    return buffer


def _read_idx_stream(stream: IO[bytes], where: str, ndim: int, limit: int, gzipped: bool = False) -> Any:
    magic = bytes(_read_exactly(stream, 4))
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
        raise DataError(f"{where}: not an IDX file (bad magic number {magic.hex() or 'empty'})")
    if magic[2] != UNSIGNED_BYTE:
        raise DataError(f"{where}: IDX value type 0x{magic[2]:02x} is not supported, expected unsigned bytes (0x08)")
    kind = "images" if ndim == 3 else "labels"
    if magic[3] != ndim:
        raise DataError(f"{where}: has {magic[3]} dimensions, expected {ndim} for {kind}")
    dims = bytes(_read_exactly(stream, 4 * ndim))
    if len(dims) < 4 * ndim:
        raise DataError(f"{where}: truncated header")
    shape = tuple(int.from_bytes(dims[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
    if ndim == 3 and shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{where}: images have shape {shape[1:]}, expected 28×28")
    expected = math.prod(shape)
    header = 4 + 4 * ndim
    if expected > MAX_VALUES:
        raise DataError(f"{where}: the header promises {shape[0]} {kind} ({expected} bytes), more than the "
                        f"{MAX_VALUES}-byte limit for an IDX file")
    if expected > limit - (0 if gzipped else header):
        if not gzipped:
            raise DataError(f"{where}: truncated: the header promises {expected} values, "
                            f"the file holds {max(limit - header, 0)}")
        raise DataError(f"{where}: the header promises {expected} values, more than a gzip file of "
                        f"{limit // MAX_DEFLATE_RATIO} bytes can hold")
    values = _read_exactly(stream, expected)
    if len(values) < expected:
        raise DataError(f"{where}: truncated: the header promises {expected} values, the file holds {len(values)}")
    if stream.read(1):
        raise DataError(f"{where}: trailing data after the {expected} values its header promises "
                        f"(a damaged or crafted file)")
    return xp.frombuffer(values, dtype=xp.uint8).reshape(shape)


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
    """Write unsigned bytes as IDX (gzipped if the name ends in .gz): for tests and for exporting.

    Values must be whole numbers from 0 to 255 (they are stored as bytes; nothing is wrapped or rounded).
    """
    values = xp.asarray(array)
    if values.dtype.kind not in "iub" or (values.size and (values.min() < 0 or values.max() > 255)):
        raise ValueError(f"write_idx({display(path)}): values must be integers from 0 to 255, "
                         f"got {values.dtype} from {values.min() if values.size else '-'} "
                         f"to {values.max() if values.size else '-'}")
    array = xp.ascontiguousarray(values, dtype=xp.uint8)
    header = bytes([0, 0, UNSIGNED_BYTE, array.ndim]) + xp.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.tobytes()
    atomic_write_bytes(path, gzip.compress(payload, compresslevel=1) if path.suffix == ".gz" else payload)
