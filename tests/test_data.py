"""Sources, readers and their errors, the DataLoader, and the pixel-similarity baseline."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sevensteps as ss
from sevensteps.baseline import PixelSimilarity
from sevensteps.data import (
    DataError,
    DataLoader,
    TensorDataset,
    load_source,
    load_splits,
    parse_digits,
    read_idx,
    read_idx_folder,
    write_idx,
)

FASHION = Path("/usr/share/datasets/fashion-mnist")


def fake_digits(n=40, seed=0, classes=(3, 7)):
    """Blobby fake digits: each class a bright square in a different place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.array([classes[i % len(classes)] for i in range(n)], dtype=np.uint8)
    pixels = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
    for i, label in enumerate(labels):
        r = 4 + 2 * (label % 5)
        pixels[i, r:r + 8, r:r + 8] = 250
    return pixels, labels


def write_pair(folder: Path, prefix: str, pixels, labels, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", pixels)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


# ---------------------------------------------------------------- the embedded sample


# The built-in sample and test set are checked in tests/test_embedded.py.


def test_targets_are_is_it_the_first_digit_for_two_classes():
    splits = load_splits("sample", digits=[7, 3])
    targets = splits.targets(splits.train)
    assert set(np.unique(targets)) == {0, 1}
    assert np.array_equal(targets == 1, splits.train.labels == 7)
    ten = load_splits("sample", digits=None)
    assert ten.classes == list(range(10))
    assert np.array_equal(ten.targets(ten.valid), ten.valid.labels)
    three = load_splits("sample", digits=[1, 5, 9])
    assert set(np.unique(three.targets(three.train))) == {0, 1, 2}


@pytest.mark.parametrize("text, expected", [("3,7", [3, 7]), ("all", None), ("0-3", [0, 1, 2, 3]), (" 1, 8 ", [1, 8])])
def test_parse_digits(text, expected):
    assert parse_digits(text) == expected


@pytest.mark.parametrize("text", ["3", "3,3", "3,x", "3,12", ""])
def test_parse_digits_errors(text):
    with pytest.raises(DataError, match="--digits"):
        parse_digits(text)


# ---------------------------------------------------------------- IDX


def test_idx_round_trip_plain_and_gzip(tmp_path):
    pixels, labels = fake_digits()
    for gz in (True, False):
        folder = tmp_path / f"gz{gz}"
        write_pair(folder, "train", pixels, labels, gz)
        write_pair(folder, "t10k", pixels[:10], labels[:10], gz)
        train, valid = read_idx_folder(folder)
        assert np.array_equal(train.images, pixels / np.float32(255))
        assert train.labels.dtype == np.int64 and np.array_equal(train.labels, labels)
        assert len(valid) == 10


def test_idx_folder_with_only_t10k_is_a_validation_split(tmp_path, mnist_test_dir):
    train, valid = load_source(mnist_test_dir)
    assert train is None and len(valid) == 10_000
    with pytest.raises(DataError, match="only a validation split"):
        load_splits(mnist_test_dir)


def test_real_mnist_test_set_has_fastais_validation_counts(mnist_test_dir):
    splits = load_splits("sample", valid=mnist_test_dir)
    assert splits.valid.counts() == {3: 1010, 7: 1028}
    assert splits.train.counts() == {3: 500, 7: 500}  # every chosen sample image trains


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"\x00\x00\x09\x03" + b[4:], "value type 0x09"),
    (lambda b: b"\x12\x34" + b[2:], "bad magic number"),
    (lambda b: b[:-100], "truncated"),
    (lambda b: b"\x00\x00\x08\x02" + b[4:], "2 dimensions"),
])
def test_idx_damage_is_a_clear_error(tmp_path, damage, message):
    pixels, _ = fake_digits()
    path = tmp_path / "x-images-idx3-ubyte"
    write_idx(path, pixels)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=message) as error:
        read_idx(path, 3)
    assert str(path) in str(error.value)


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    pixels, _ = fake_digits()
    path = tmp_path / "x-images-idx3-ubyte.gz"
    write_idx(path, pixels)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match="gzip"):
        read_idx(path, 3)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="gzip"):
        read_idx(path, 3)


def test_count_mismatch_and_label_range_are_errors(tmp_path):
    pixels, labels = fake_digits()
    write_pair(tmp_path / "a", "train", pixels, labels[:-1])
    with pytest.raises(DataError, match=r"40 images but .* 39 labels"):
        read_idx_folder(tmp_path / "a")
    bad = labels.copy()
    bad[0] = 12
    write_pair(tmp_path / "b", "train", pixels, bad)
    with pytest.raises(DataError, match="label 12 is out of range"):
        read_idx_folder(tmp_path / "b")


def test_idx_images_must_be_28_by_28(tmp_path):
    write_pair(tmp_path, "train", np.zeros((3, 32, 32), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="expected 28×28"):
        read_idx_folder(tmp_path)


def test_missing_partner_file_is_named(tmp_path):
    pixels, _ = fake_digits()
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", pixels)
    with pytest.raises(DataError, match="no matching labels"):
        read_idx_folder(tmp_path)


@pytest.mark.skipif(not FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_loads_from_the_debian_package():
    splits = load_splits("fashion-mnist", digits=None)
    assert len(splits.train) == 60_000 and len(splits.valid) == 10_000
    assert splits.class_names()[9] == "Ankle boot"


# ---------------------------------------------------------------- image folders


def write_png_folder(root: Path, pixels, labels, mode="L", size=(28, 28)):
    for i, (image, label) in enumerate(zip(pixels, labels, strict=True)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(image).convert(mode)
        if size != (28, 28):
            picture = picture.resize(size)
        picture.save(folder / f"{i}.png")


def test_fastai_style_folders_train_and_valid(tmp_path):
    pixels, labels = fake_digits(30)
    write_png_folder(tmp_path / "train", pixels[:20], labels[:20])
    write_png_folder(tmp_path / "valid", pixels[20:], labels[20:])
    splits = load_splits(tmp_path)
    assert len(splits.train) == 20 and len(splits.valid) == 10
    ordered = np.argsort(labels[:20], kind="stable")
    assert np.allclose(np.sort(splits.train.images.reshape(20, -1), axis=0),
                       np.sort(pixels[:20][ordered].reshape(20, -1) / 255, axis=0), atol=1e-6)


def test_flat_folder_is_split_and_cached(tmp_path, monkeypatch):
    from sevensteps.data import images as images_module

    pixels, labels = fake_digits(50)
    write_png_folder(tmp_path / "digits", pixels, labels)
    first = load_splits(tmp_path / "digits")
    assert len(first.train) == 40 and len(first.valid) == 10
    decode = images_module._decode

    def no_decoding(path, notes):
        raise AssertionError(f"{path} was decoded again instead of read from the cache")

    monkeypatch.setattr(images_module, "_decode", no_decoding)
    again = load_splits(tmp_path / "digits")
    assert np.array_equal(first.train.images, again.train.images)
    monkeypatch.setattr(images_module, "_decode", decode)
    # a changed folder is read again, not served stale from the cache
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "digits" / "3" / "extra.png")
    assert len(load_splits(tmp_path / "digits").train) + len(load_splits(tmp_path / "digits").valid) == 51


def test_colour_and_other_sizes_are_converted_and_said_once(tmp_path):
    pixels, labels = fake_digits(10)
    write_png_folder(tmp_path / "rgb", pixels, labels, mode="RGB", size=(56, 56))
    train, _ = load_source(tmp_path / "rgb")
    assert train.images.shape == (10, 28, 28)
    assert any("grayscale" in n for n in train.notes) and any("resized 56×56" in n for n in train.notes)
    assert len(train.notes) == 2


def test_non_image_file_in_a_class_folder_is_named(tmp_path):
    pixels, labels = fake_digits(6)
    write_png_folder(tmp_path / "d", pixels, labels)
    (tmp_path / "d" / "3" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"notes\.txt: not an image file"):
        load_source(tmp_path / "d")
    (tmp_path / "d" / "3" / "notes.txt").unlink()
    (tmp_path / "d" / "3" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png: not a readable image"):
        load_source(tmp_path / "d")


def test_empty_folders_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_source(tmp_path / "empty")
    (tmp_path / "hollow" / "3").mkdir(parents=True)
    with pytest.raises(DataError, match="hold no images"):
        load_source(tmp_path / "hollow")
    with pytest.raises(DataError, match="no such file"):
        load_source(tmp_path / "absent")


# ---------------------------------------------------------------- npz


def test_keras_npz(tmp_path):
    pixels, labels = fake_digits(20)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=pixels, y_train=labels, x_test=pixels[:5], y_test=labels[:5])
    splits = load_splits(path)
    assert len(splits.train) == 20 and len(splits.valid) == 5


def test_npz_missing_keys_and_pickles_are_refused(tmp_path):
    pixels, labels = fake_digits(4)
    np.savez(tmp_path / "partial.npz", x_train=pixels, y_train=labels)
    with pytest.raises(DataError, match="missing x_test, y_test"):
        load_source(tmp_path / "partial.npz")
    objects = np.array([{"a": 1}] * 4, dtype=object)
    np.savez(tmp_path / "pickled.npz", x_train=pixels, y_train=objects, x_test=pixels, y_test=labels)
    with pytest.raises(DataError, match="pickle"):
        load_source(tmp_path / "pickled.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a readable"):
        load_source(tmp_path / "junk.npz")


# ---------------------------------------------------------------- DataLoader


def test_dataloader_batches_shuffle_reproducibly_and_drop_last():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    assert [len(b[0]) for b in loader] == [4, 4, 2] and len(loader) == 3
    assert len(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)) == 2
    runs = []
    for _ in range(2):
        shuffled = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=ss.Generator(5))
        runs.append([b[1].tolist() for b in shuffled])
    assert runs[0] == runs[1]
    flat = sorted(v for batch in runs[0] for v in batch)
    assert flat == list(range(10)) and runs[0][0] != [0, 1, 2, 3]
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=3, shuffle=True):
        assert np.array_equal(xb.numpy()[:, 0], yb.numpy())


# ---------------------------------------------------------------- baseline


def test_baseline_on_the_real_mnist_test_set_beats_95_percent(mnist_test_dir):
    splits = load_splits("sample", valid=mnist_test_dir)
    report = PixelSimilarity("l1").fit(splits.train, splits.classes).evaluate(splits.valid)
    assert report.accuracy >= 0.95
    assert set(report.per_class) == {3, 7} and report.counts == {3: 1010, 7: 1028}
    assert min(report.per_class.values()) > 0.85


def test_baseline_ten_classes_and_rmse():
    splits = load_splits("sample", digits=None)
    for metric in ("l1", "rmse"):
        model = PixelSimilarity(metric).fit(splits.train)
        report = model.evaluate(splits.valid)
        assert 0.5 < report.accuracy < 1.0 and len(report.per_class) == 10
    ideals = model.ideal_images()
    assert ideals["3"].shape == (28, 28)
    np.testing.assert_allclose(ideals["3"], splits.train.images[splits.train.labels == 3].mean(0), rtol=1e-6)


def test_baseline_classifies_by_nearest_ideal():
    pixels, labels = fake_digits(40)
    data = ss.data.Dataset(pixels / np.float32(255), labels.astype(np.int64), "fake")
    model = PixelSimilarity().fit(data, [3, 7])
    assert model.evaluate(data).accuracy == 1.0
    with pytest.raises(ValueError, match="metric"):
        PixelSimilarity("cosine")


def test_gzip_helper_sanity(tmp_path):
    """write_idx gz output is a real gzip stream (guards the fixtures above)."""
    path = tmp_path / "t-labels-idx1-ubyte.gz"
    write_idx(path, np.array([1, 2, 3], np.uint8))
    assert gzip.decompress(path.read_bytes())[:4] == b"\x00\x00\x08\x01"


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os

    from sevensteps.files import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "hello")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
