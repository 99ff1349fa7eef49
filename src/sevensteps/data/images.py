"""Folders of image files, one sub-folder per class (fastai's ``train/3``, ``valid/7`` layout).

Images of any size or colour are converted the simple way (grayscale, resized to 28×28), and that is
said once in the dataset's notes. A converted folder is cached as an array file, keyed by the names,
sizes and times of its files, so the second load skips decoding.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..backend import xp
from ..files import FileWriteError, atomic_path, display, home_dir
from .dataset import IMAGE_SHAPE, DataError, Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}
MAX_IMAGE_PIXELS = 40_000_000  # a 40-megapixel photo decodes to 40 MB of gray; larger ones are refused unread


@contextlib.contextmanager
def open_image(path: Path) -> Iterator[Any]:
    """A Pillow image whose size has been checked but whose pixels are not decoded yet.

    Only the header is read before the check, so a decompression bomb (a small file of 30,000 × 30,000
    pixels) is refused without allocating its pixels. Every failure is a one-line DataError naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    where = display(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except FileNotFoundError as error:
        raise DataError(f"{where}: no such image file") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(f"{where}: too many pixels ({' '.join(str(error).split())})") from error
    except UnidentifiedImageError as error:
        raise DataError(f"{where}: not a readable image (an unknown format, or damaged)") from error
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{where}: not a readable image ({' '.join(str(error).split())})") from error
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise DataError(f"{where}: {width}×{height} is {width * height / 1e6:.0f} megapixels, more than the "
                            f"{MAX_IMAGE_PIXELS / 1e6:.0f} sevensteps reads; scale it down first")
        try:
            yield image
        except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
            raise DataError(f"{where}: not a readable image ({' '.join(str(error).split())})") from error


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_image_folder(folder: Path) -> bool:
    """True for ``folder/<class>/*.png`` or ``folder/{train,valid}/<class>/*.png``."""
    sub = _class_folders(folder)
    return bool(sub) and not any(p.is_file() and p.suffix.lower() in {".gz", ".npz"} for p in folder.iterdir())


def _labels_for(class_folders: list[Path], folder: Path) -> tuple[list[int], dict[int, str]]:
    """Digit-named folders keep their digit as label; other names are numbered in sorted order."""
    names = [display(p.name) for p in class_folders]
    if all(n.isdigit() for n in names):
        labels = [int(n) for n in names]
        if max(labels) > 9:
            raise DataError(f"{display(folder)}: class folder {max(labels)} is out of range 0-9")
        return labels, {}
    if len(names) > 10:
        raise DataError(f"{display(folder)}: {len(names)} class folders; sevensteps handles at most 10 classes")
    return list(range(len(names))), dict(enumerate(names))


def _listing(class_folders: list[Path], folder: Path) -> list[tuple[int, os.DirEntry]]:
    """(class index, directory entry) of every file, sorted by name; hidden files are skipped."""
    files = []
    for index, class_folder in enumerate(class_folders):
        with os.scandir(class_folder) as entries:
            named = sorted((entry.name, entry) for entry in entries if not entry.name.startswith("."))
        files.extend((index, entry) for _, entry in named)
    if not files:
        raise DataError(f"{display(folder)}: the class folders hold no images")
    return files


def _cache_file(folder: Path, files: list[tuple[int, os.DirEntry]]) -> Path:
    """A cache name that changes whenever a file is added, removed, renamed, resized or touched.

    Names are hashed as the bytes the OS gave (they need not be UTF-8).
    """
    digest = hashlib.sha256(os.fsencode(folder.resolve()))
    for index, entry in files:
        stat = entry.stat()
        digest.update(b"\n%d/%s\0%d\0%d" % (index, os.fsencode(entry.name), stat.st_size, stat.st_mtime_ns))
    return home_dir() / "cache" / "folders" / f"{digest.hexdigest()[:32]}.npz"


def _decode(path: Path, notes: set[str]) -> Any:
    from PIL import Image

    if path.is_dir():
        raise DataError(f"{display(path)}: a folder inside a class folder; expected image files only")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"{display(path)}: not an image file (expected PNG, JPEG, BMP, GIF, TIFF or WebP)")
    with open_image(path) as image:
        image.load()
        if image.mode not in ("L", "1", "P"):
            notes.add(f"converted {image.mode} images to grayscale")
        gray = image.convert("L")
        if gray.size != IMAGE_SHAPE:
            notes.add(f"resized {gray.size[0]}×{gray.size[1]} images to 28×28")
            gray = gray.resize(IMAGE_SHAPE, Image.Resampling.LANCZOS)
        return xp.asarray(gray, dtype=xp.uint8)


def _read_cache(cache: Path, source: str, names: dict[int, str]) -> Dataset | None:
    """The cached dataset, or None when the cache is absent, damaged or not what this module writes."""
    from .npz import read_npz_arrays

    if not cache.is_file():
        return None
    try:
        cached = read_npz_arrays(cache, ("images", "labels", "notes"))
    except DataError:
        return None
    images, labels, notes = cached["images"], cached["labels"], cached["notes"]
    if (images.dtype != xp.float32 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE
            or labels.dtype != xp.int64 or labels.shape != images.shape[:1] or notes.dtype.kind != "U"
            or not xp.isfinite(images).all() or images.min(initial=0) < 0 or images.max(initial=0) > 1):
        return None
    return Dataset(images, labels, source, names, [str(n) for n in notes])


def read_class_folder(folder: Path, source: str | None = None) -> Dataset:
    """All images under ``folder/<class>/``, decoded once and then cached."""
    class_folders = _class_folders(folder)
    if not class_folders:
        where = display(folder)
        raise DataError(f"{where}: no class sub-folders (expected e.g. {where}/3/*.png and {where}/7/*.png)")
    labels_of_folder, names = _labels_for(class_folders, folder)
    files = _listing(class_folders, folder)
    cache = _cache_file(folder, files)
    source = source or display(folder)
    cached = _read_cache(cache, source, names)
    if cached is not None:
        return cached
    notes: set[str] = set()
    pixels = xp.stack([_decode(Path(entry.path), notes) for _, entry in files])
    labels = xp.asarray([labels_of_folder[i] for i, _ in files], dtype=xp.int64)
    images = pixels.astype(xp.float32) / 255
    noted = sorted(f"{display(folder)}: {n}" for n in notes)
    with contextlib.suppress(FileWriteError):  # the cache only saves time: a full disk must not stop the run
        with atomic_path(cache) as tmp, open(tmp, "wb") as handle:
            xp.savez(handle, images=images, labels=labels, notes=xp.asarray(noted, dtype=str))
    return Dataset(images, labels, source, names, noted)


def read_image_folder(folder: Path) -> tuple[Dataset | None, Dataset | None]:
    """(train, valid) from ``train/`` and ``valid/`` (or ``test/``) sub-folders, or (all, None) if flat."""
    train_dir = folder / "train"
    valid_dir = next((folder / n for n in ("valid", "val", "test") if (folder / n).is_dir()), None)
    if train_dir.is_dir() or valid_dir is not None:
        train = read_class_folder(train_dir, display(folder / "train")) if train_dir.is_dir() else None
        valid = read_class_folder(valid_dir, display(valid_dir)) if valid_dir else None
        return train, valid
    return read_class_folder(folder), None


__all__ = ["MAX_IMAGE_PIXELS", "is_image_folder", "open_image", "read_class_folder", "read_image_folder"]
