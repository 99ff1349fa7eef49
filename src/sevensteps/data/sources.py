"""Sources: names (or paths) for where digits come from, resolved into train and validation splits.

========================  ====================================================================
``sample``                built in (default; offline): 5,000 MNIST training digits to train on, and
                          MNIST's 10,000 test digits to validate on
``mnist_test``            built in: MNIST's 10,000 test digits alone (a validation split)
``mnist``                 the full MNIST (60,000 + 10,000), downloaded on first use
``mnist_sample``          fastai's 3s and 7s PNG archive, downloaded on first use
``fashion-mnist``         Fashion-MNIST, from /usr/share/datasets/fashion-mnist or downloaded
a folder of IDX files     ``train-*``/``t10k-*`` pairs; only ``t10k-*``: a validation split
a folder of images        ``<class>/*.png``, or ``train/<class>`` and ``valid/<class>``
a ``.npz`` file           Keras-style: ``x_train``, ``y_train``, ``x_test``, ``y_test``
========================  ====================================================================
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backend import xp
from ..files import home_dir
from .dataset import DataError, Dataset, stratified_split
from .download import RemoteFile, fetch
from .idx import read_idx_folder
from .images import is_image_folder, read_image_folder
from .npz import read_npz
from .sample import load_sample, load_test_set

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
    "http://yann.lecun.com/exdb/mnist",
)
MNIST_FILES = (
    ("train-images-idx3-ubyte.gz", 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", 28881, "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", 1648877, "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", 4542, "ec29112dd5afa0611ce80d1b7f02629c"),
)
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",)
FASHION_FILES = (
    ("train-images-idx3-ubyte.gz", 26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    ("train-labels-idx1-ubyte.gz", 29515, "25c81989df183df01b3e8a0aad5dffbe"),
    ("t10k-images-idx3-ubyte.gz", 4422102, "bef4ecab320f06d8554ea6380940ec79"),
    ("t10k-labels-idx1-ubyte.gz", 5148, "bb300cfdad3c16e7a12a480ee83cd310"),
)
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_NAMES = dict(enumerate(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]))
MNIST_SAMPLE_ARCHIVE = RemoteFile("mnist_sample.tgz", 3214948, "2dbc7ec6f9259b583af0072c55816a88",
                                  ("https://s3.amazonaws.com/fast-ai-sample", "http://files.fast.ai/data/examples"))

Loaded = tuple[Dataset | None, Dataset | None]


def _mnist(log: Callable[[str], None]) -> Loaded:
    folder = home_dir() / "mnist"
    for name, size, md5 in MNIST_FILES:
        fetch(RemoteFile(name, size, md5, MNIST_MIRRORS), folder, log=log)
    return _named(read_idx_folder(folder), "mnist")


def _fashion(log: Callable[[str], None]) -> Loaded:
    if (FASHION_SYSTEM_DIR / "train-images-idx3-ubyte.gz").is_file():
        train, valid = read_idx_folder(FASHION_SYSTEM_DIR)
    else:
        folder = home_dir() / "fashion-mnist"
        for name, size, md5 in FASHION_FILES:
            fetch(RemoteFile(name, size, md5, FASHION_MIRRORS), folder, log=log)
        train, valid = read_idx_folder(folder)
    for split in (train, valid):
        split.names = FASHION_NAMES
    return _named((train, valid), "fashion-mnist")


def _mnist_sample(log: Callable[[str], None]) -> Loaded:
    folder = home_dir() / "mnist_sample"
    done = folder / ".extracted"
    archive = home_dir() / "downloads" / MNIST_SAMPLE_ARCHIVE.name
    if not done.is_file():
        fetch(MNIST_SAMPLE_ARCHIVE, archive.parent, log=log)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(folder.parent, filter="data")  # the 'data' filter refuses paths that escape
        except (tarfile.TarError, OSError) as error:
            raise DataError(f"{archive}: cannot extract ({error})") from error
        done.write_text(MNIST_SAMPLE_ARCHIVE.md5)
    return _named(read_image_folder(folder), "mnist_sample")


def _sample(log: Callable[[str], None]) -> Loaded:
    return load_sample(), load_test_set()


def _mnist_test(log: Callable[[str], None]) -> Loaded:
    return None, load_test_set()


def _named(splits: Loaded, name: str) -> Loaded:
    train, valid = splits
    if train is not None:
        train.source = f"{name} (train)"
    if valid is not None:
        valid.source = f"{name} (valid)"
    return train, valid


NAMED_SOURCES: dict[str, Callable[[Callable[[str], None]], Loaded]] = {
    "sample": _sample,
    "mnist_test": _mnist_test,
    "mnist": _mnist,
    "mnist_sample": _mnist_sample,
    "fashion-mnist": _fashion,
}


def load_source(source: str | Path, log: Callable[[str], None] = print) -> Loaded:
    """(train, valid) of a named source or a path; either may be None when the source lacks it."""
    if isinstance(source, str) and source in NAMED_SOURCES:
        return NAMED_SOURCES[source](log)
    path = Path(source).expanduser()
    if not path.exists():
        names = ", ".join(NAMED_SOURCES)
        raise DataError(f"{source}: no such file or folder, and not a known source ({names})")
    if path.is_file():
        if path.suffix == ".npz":
            return read_npz(path)
        raise DataError(f"{path}: a data file must be a Keras-style .npz; for IDX files give their folder")
    if any(path.glob("*-idx[13]-ubyte*")) or any(path.glob("*.idx[13]-ubyte*")):
        train, valid = read_idx_folder(path)
        if train is None and valid is None:
            raise DataError(f"{path}: IDX files found, but no train-*/t10k-* pair")
        return train, valid
    if is_image_folder(path):
        return read_image_folder(path)
    raise DataError(f"{path}: empty, or not a folder of IDX files or of class sub-folders of images")


@dataclass
class Splits:
    """Training and validation images of the chosen classes, with the targets the model learns.

    With two classes the target is 1 for the first and 0 for the second ("is it a 3?"), as in the chapter;
    with more it is the position of the label in ``classes``.
    """

    train: Dataset
    valid: Dataset
    classes: list[int]

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    def targets(self, data: Dataset) -> Any:
        if self.binary:
            return (data.labels == self.classes[0]).astype(xp.int64)
        lookup = xp.full(max(self.classes) + 1, -1, dtype=xp.int64)
        lookup[self.classes] = xp.arange(len(self.classes))
        return lookup[data.labels]

    def class_names(self) -> list[str]:
        return [self.train.name_of(c) for c in self.classes]

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(self.train.notes + self.valid.notes))


def parse_digits(text: str) -> list[int] | None:
    """``"3,7"`` → [3, 7]; ``"all"`` → None (every class); ``"0-4"`` → [0, 1, 2, 3, 4]."""
    text = text.strip().lower()
    if text == "all":
        return None
    digits: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part:
                low, high = (int(p) for p in part.split("-"))
                digits.extend(range(low, high + 1))
            else:
                digits.append(int(part))
    except ValueError as error:
        raise DataError(f"--digits {text!r}: expected digits with commas (3,7), a range (0-4) or 'all'") from error
    if len(set(digits)) != len(digits) or len(digits) < 2 or not all(0 <= d <= 9 for d in digits):
        raise DataError(f"--digits {text!r}: need two or more different digits from 0 to 9")
    return digits


def load_splits(data: str | Path = "sample", valid: str | Path | None = None, digits: list[int] | None = (3, 7),
                valid_fraction: float = 0.2, log: Callable[[str], None] = print) -> Splits:
    """Resolve sources into :class:`Splits` of the chosen ``digits`` (``None`` = every class).

    If ``valid`` names a second source, every chosen image of ``data`` goes to training (except the built-in
    sample's test digits, which never train) and validation uses that source (its validation split if it has
    one, else all its images). Otherwise a source without a validation split is split 80/20, stratified and
    deterministic.
    """
    train, own_valid = load_source(data, log)
    if valid is not None:
        if data == "sample":
            own_valid = None  # the MNIST test set is for validating, never for training
        train = Dataset.join([train, own_valid], f"{data}") if own_valid is not None and train is not None else (
            train or own_valid)
        other_train, other_valid = load_source(valid, log)
        valid_data = other_valid if other_valid is not None else other_train
    elif train is None:
        raise DataError(f"{data}: holds only a validation split (t10k); train on another source with --valid {data}")
    elif own_valid is None:
        train, valid_data = stratified_split(train, valid_fraction)
    else:
        valid_data = own_valid
    if train is None or len(train) == 0:
        raise DataError(f"{data}: no training images")
    present = sorted(set(train.counts()))
    classes = list(digits) if digits is not None else present
    train, valid_data = train.select(classes), valid_data.select(classes)
    for split, name in ((train, "training"), (valid_data, "validation")):
        absent = [c for c in classes if c not in split.counts()]
        if absent:
            raise DataError(f"{split.source}: the {name} data has no images of class {absent} (it has {present})")
    return Splits(train, valid_data, classes)
