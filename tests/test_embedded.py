"""The MNIST digits built into the package: what they hold, how they are checked, and the default source."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sevensteps.data import DataError, load_source, load_splits, read_idx_folder, stratified_split
from sevensteps.data.sample import EMBEDDED, array_digest, load_sample, load_test_set, read_embedded

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DIR = ROOT / "src" / "sevensteps" / "data" / "embedded"
MNIST_TEST_COUNTS = {0: 980, 1: 1135, 2: 1032, 3: 1010, 4: 982, 5: 892, 6: 958, 7: 1028, 8: 974, 9: 1009}


def test_sample_has_5000_real_digits_500_per_class():
    data = load_sample()
    assert data.images.shape == (5000, 28, 28) and data.images.dtype == np.float32
    assert data.images.min() == 0.0 and data.images.max() == 1.0
    assert data.labels.dtype == np.int64 and data.counts() == {d: 500 for d in range(10)}


def test_test_set_is_the_real_mnist_test_set(mnist_test_dir):
    data = load_test_set()
    assert data.counts() == MNIST_TEST_COUNTS
    _, real = read_idx_folder(mnist_test_dir)
    assert np.array_equal(data.images, real.images) and np.array_equal(data.labels, real.labels)


def test_the_sample_shares_no_digit_with_the_test_set():
    test_rows = {row.tobytes() for row in load_test_set().images}
    assert not any(row.tobytes() in test_rows for row in load_sample().images)


def test_each_file_is_small():
    for name in EMBEDDED:
        assert (EMBEDDED_DIR / f"{name}.npz").stat().st_size < 2_000_000


def test_default_source_trains_on_the_sample_and_validates_on_the_test_set():
    splits = load_splits()
    assert splits.classes == [3, 7]
    assert splits.train.counts() == {3: 500, 7: 500}
    assert splits.valid.counts() == {3: 1010, 7: 1028}  # exactly fastai's validation set
    assert splits.train.source == "sample" and splits.valid.source == "MNIST test set"
    ten = load_splits(digits=None)
    assert len(ten.train) == 5000 and ten.valid.counts() == MNIST_TEST_COUNTS


def test_test_digits_never_train_even_with_another_validation_source():
    splits = load_splits("sample", valid="mnist_test")
    assert splits.train.counts() == {3: 500, 7: 500} and len(splits.valid) == 2038
    train, valid = load_source("mnist_test")
    assert train is None and len(valid) == 10_000
    with pytest.raises(DataError, match="only a validation split"):
        load_splits("mnist_test")


def test_stratified_split_of_the_sample_is_deterministic_and_disjoint():
    a, b = stratified_split(load_sample()), stratified_split(load_sample())
    assert a[0].counts() == {d: 400 for d in range(10)} and a[1].counts() == {d: 100 for d in range(10)}
    assert np.array_equal(a[1].images, b[1].images)
    train_rows = {row.tobytes() for row in a[0].images}
    assert not any(row.tobytes() in train_rows for row in a[1].images)


def copy_embedded(tmp_path: Path) -> Path:
    folder = tmp_path / "embedded"
    shutil.copytree(EMBEDDED_DIR, folder)
    return folder


def test_a_changed_pixel_is_caught_by_the_checksum(tmp_path):
    folder = copy_embedded(tmp_path)
    pixels, labels = read_embedded("mnist_test", folder)
    pixels = pixels.copy()
    pixels[1234, 14, 14] ^= 1
    np.savez_compressed(folder / "mnist_test.npz", pixels=pixels, labels=labels.astype(np.uint8))
    with pytest.raises(DataError, match=r"mnist_test\.npz: the built-in MNIST data is damaged") as caught:
        read_embedded("mnist_test", folder)
    assert "\n" not in str(caught.value) and "reinstall" in str(caught.value)
    read_embedded("mnist_sample", folder)  # the other file is untouched and still loads


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "cannot be read"),
    (lambda p: p.write_bytes(b""), "cannot be read"),
    (lambda p: p.unlink(), "cannot be read"),
    (lambda p: np.savez(p, pixels=np.zeros((3, 28, 28), np.uint8), labels=np.zeros(3, np.uint8)), "has shape"),
    (lambda p: np.savez(p, pixels=np.array([None], dtype=object), labels=np.zeros(1)), "cannot be read"),
])
def test_damaged_files_are_one_clear_error(tmp_path, damage, message):
    folder = copy_embedded(tmp_path)
    damage(folder / "mnist_sample.npz")
    with pytest.raises(DataError, match=message) as caught:
        read_embedded("mnist_sample", folder)
    assert "mnist_sample.npz" in str(caught.value) and "\n" not in str(caught.value)


def test_digests_are_of_the_arrays():
    pixels, labels = read_embedded("mnist_sample")
    assert array_digest(pixels, labels) == EMBEDDED["mnist_sample"][1]
    expected = hashlib.sha256(pixels.tobytes() + labels.astype(np.uint8).tobytes()).hexdigest()
    assert array_digest(pixels, labels) == expected


def test_build_script_reproduces_the_shipped_test_set_byte_for_byte(tmp_path, mnist_test_dir):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "embed_mnist.py"), "--test-dir",
                             str(mnist_test_dir), "--out", str(tmp_path)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert EMBEDDED["mnist_test"][1] in result.stdout
    assert (tmp_path / "mnist_test.npz").read_bytes() == (EMBEDDED_DIR / "mnist_test.npz").read_bytes()


def test_the_package_data_rule_ships_both_files_and_no_mlxtend():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["sevensteps.data"]
    shipped = {p.name for pattern in patterns for p in (ROOT / "src" / "sevensteps" / "data").glob(pattern)}
    assert shipped == {f"{name}.npz" for name in EMBEDDED}
    assert not any("mlxtend" in d for d in project["project"]["dependencies"])
    assert project["project"]["license"] == "MIT AND CC-BY-SA-3.0"  # SPDX: the code, and the MNIST digits
    assert "CC BY-SA 3.0" in (ROOT / "LICENSE").read_text()
