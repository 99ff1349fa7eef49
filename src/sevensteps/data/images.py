"""Folders of image files, one sub-folder per class (fastai's ``train/3``, ``valid/7`` layout).

Images of any size or colour are converted the simple way (grayscale, resized to 28×28), and that is
said once in the dataset's notes. A converted folder is cached as an array file, keyed by the names,
sizes and times of its files, so the second load skips decoding.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ..backend import xp
from ..files import atomic_path, home_dir
from .dataset import IMAGE_SHAPE, DataError, Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_image_folder(folder: Path) -> bool:
    """True for ``folder/<class>/*.png`` or ``folder/{train,valid}/<class>/*.png``."""
    sub = _class_folders(folder)
    return bool(sub) and not any(p.is_file() and p.suffix.lower() in {".gz", ".npz"} for p in folder.iterdir())


def _labels_for(class_folders: list[Path], folder: Path) -> tuple[list[int], dict[int, str]]:
    """Digit-named folders keep their digit as label; other names are numbered in sorted order."""
    names = [p.name for p in class_folders]
    if all(n.isdigit() for n in names):
        labels = [int(n) for n in names]
        if max(labels) > 9:
            raise DataError(f"{folder}: class folder {max(labels)} is out of range 0-9")
        return labels, {}
    if len(names) > 10:
        raise DataError(f"{folder}: {len(names)} class folders; sevensteps handles at most 10 classes")
    return list(range(len(names))), dict(enumerate(names))


def _listing(class_folders: list[Path], folder: Path) -> list[tuple[int, os.DirEntry]]:
    """(class index, directory entry) of every file, sorted by name; hidden files are skipped."""
    files = []
    for index, class_folder in enumerate(class_folders):
        with os.scandir(class_folder) as entries:
            named = sorted((entry.name, entry) for entry in entries if not entry.name.startswith("."))
        files.extend((index, entry) for _, entry in named)
    if not files:
        raise DataError(f"{folder}: the class folders hold no images")
    return files


def _cache_file(folder: Path, files: list[tuple[int, os.DirEntry]]) -> Path:
    """A cache name that changes whenever a file is added, removed, renamed, resized or touched."""
    lines = []
    for index, entry in files:
        stat = entry.stat()
        lines.append(f"{index}/{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}")
    digest = hashlib.sha256(str(folder.resolve()).encode() + "\n".join(lines).encode())
    return home_dir() / "cache" / "folders" / f"{digest.hexdigest()[:32]}.npz"


def _decode(path: Path, notes: set[str]) -> Any:
    from PIL import Image, UnidentifiedImageError

    if path.is_dir():
        raise DataError(f"{path}: a folder inside a class folder; expected image files only")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"{path}: not an image file (expected PNG, JPEG, BMP, GIF, TIFF or WebP)")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("L", "1", "P"):
                notes.add(f"converted {image.mode} images to grayscale")
            gray = image.convert("L")
            if gray.size != IMAGE_SHAPE:
                notes.add(f"resized {gray.size[0]}×{gray.size[1]} images to 28×28")
                gray = gray.resize(IMAGE_SHAPE, Image.Resampling.LANCZOS)
            return xp.asarray(gray, dtype=xp.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DataError(f"{path}: not a readable image ({error})") from error


def read_class_folder(folder: Path, source: str | None = None) -> Dataset:
    """All images under ``folder/<class>/``, decoded once and then cached."""
    class_folders = _class_folders(folder)
    if not class_folders:
        raise DataError(f"{folder}: no class sub-folders (expected e.g. {folder}/3/*.png and {folder}/7/*.png)")
    labels_of_folder, names = _labels_for(class_folders, folder)
    files = _listing(class_folders, folder)
    cache = _cache_file(folder, files)
    if cache.is_file():
        try:
            with xp.load(cache, allow_pickle=False) as cached:
                notes = [str(n) for n in cached["notes"]]
                return Dataset(cached["images"], cached["labels"], source or str(folder), names, notes)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    notes: set[str] = set()
    pixels = xp.stack([_decode(Path(entry.path), notes) for _, entry in files])
    labels = xp.asarray([labels_of_folder[i] for i, _ in files], dtype=xp.int64)
    images = pixels.astype(xp.float32) / 255
    noted = sorted(f"{folder}: {n}" for n in notes)
    with atomic_path(cache) as tmp, open(tmp, "wb") as handle:
        xp.savez(handle, images=images, labels=labels, notes=xp.asarray(noted, dtype=str))
    return Dataset(images, labels, source or str(folder), names, noted)


def read_image_folder(folder: Path) -> tuple[Dataset | None, Dataset | None]:
    """(train, valid) from ``train/`` and ``valid/`` (or ``test/``) sub-folders, or (all, None) if flat."""
    train_dir = folder / "train"
    valid_dir = next((folder / n for n in ("valid", "val", "test") if (folder / n).is_dir()), None)
    if train_dir.is_dir() or valid_dir is not None:
        train = read_class_folder(train_dir, f"{folder}/train") if train_dir.is_dir() else None
        valid = read_class_folder(valid_dir, f"{folder}/{valid_dir.name}") if valid_dir else None
        return train, valid
    return read_class_folder(folder), None


__all__ = ["is_image_folder", "read_class_folder", "read_image_folder"]
