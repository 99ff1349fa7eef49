"""Keras-style ``.npz`` archives: ``x_train``, ``y_train``, ``x_test``, ``y_test``; never pickles.

An .npz is a zip of .npy files. Each member's header (dtype and shape) is read and checked first: object
arrays (which would need pickle) are refused, and the size the header claims must match the bytes the
member holds, so a header claiming terabytes is refused before anything is allocated.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path
from typing import Any

from ..backend import xp
from ..files import display
from .dataset import DataError, Dataset, to_float_images

KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_ARRAY_BYTES = 1 << 32  # 4 GiB: MNIST's 70,000 images are 55 MB as bytes, 220 MB as float32


def read_npz_arrays(path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """The arrays named ``keys`` from an .npz, each checked against its own header; never unpickles."""
    where = display(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): archive.getinfo(name) for name in archive.namelist()}
            missing = [key for key in keys if key not in members]
            if missing:
                raise DataError(f"{where}: missing {', '.join(missing)} (it holds {', '.join(members) or 'nothing'})")
            return {key: _read_member(archive, members[key], f"{where}: {key}") for key in keys}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as error:
        raise DataError(f"{where}: not a readable .npz archive ({' '.join(str(error).split())})") from error
    except OSError as error:
        raise DataError(f"{where}: cannot read ({error.strerror or error})") from error


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> Any:
    from numpy.lib import format as npy

    with archive.open(info) as member:
        try:
            version = npy.read_magic(member)
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran_order, dtype = read_header(member)
        except ValueError as error:
            raise DataError(f"{where}: not a valid .npy array ({' '.join(str(error).split())[:200]})") from error
        if dtype.hasobject:
            raise DataError(f"{where}: holds Python objects, which would need pickle; sevensteps never loads those")
        claimed = math.prod(shape) * dtype.itemsize
        held = info.file_size - member.tell()
        if claimed > MAX_ARRAY_BYTES:
            raise DataError(f"{where}: its header claims {_size(claimed)} ({shape}), more than the "
                            f"{_size(MAX_ARRAY_BYTES)} limit")
        if claimed != held:
            raise DataError(f"{where}: its header claims {_size(claimed)} ({shape}) "
                            f"but the archive holds {_size(held)}")
        data = bytearray(member.read(claimed))  # a bytearray, so the array is writable like np.load's
    if len(data) != claimed:
        raise DataError(f"{where}: truncated ({len(data)} of {claimed} bytes)")
    return xp.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def _size(nbytes: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def read_npz(path: Path) -> tuple[Dataset, Dataset]:
    """(train, valid) from an npz holding uint8 (or [0, 1] float) images of 28×28 and integer labels."""
    where = display(path)
    arrays = read_npz_arrays(path, KEYS)
    splits = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        x, y = arrays[x_key], arrays[y_key]
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise DataError(f"{where}: {y_key} must be a 1-D array of integer labels, got {y.dtype} {y.shape}")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataError(f"{where}: {y_key} has labels outside 0-9 ({int(y.min())}..{int(y.max())})")
        if x.dtype.kind == "f":
            if x.ndim != 3 or x.shape[1:] != (28, 28):
                raise DataError(f"{where}: {x_key} images have shape {x.shape[1:]}, expected 28×28")
            finite = xp.isfinite(x)
            if not finite.all():
                raise DataError(f"{where}: {x_key} holds {int(x.size - finite.sum())} NaN or infinite pixel values; "
                                f"pixels must be in [0, 1]")
            if x.size and (x.min() < 0 or x.max() > 1):
                raise DataError(f"{where}: {x_key} is float but not in [0, 1] "
                                f"(values from {float(x.min()):g} to {float(x.max()):g})")
            images = x.astype(xp.float32)
        elif x.dtype == xp.uint8:
            images = to_float_images(x, f"{where}: {x_key}")
        else:
            raise DataError(f"{where}: {x_key} must hold uint8 pixels or floats in [0, 1], not {x.dtype}")
        splits.append(Dataset(images, y.astype(xp.int64), f"{where} ({x_key[2:]})"))
    return splits[0], splits[1]
