"""Hostile and careless input: crafted data files, decompression bombs, garbage weights, full disks.

Each test names the defect of issue #16 it guards against; every failure must be one line naming the file.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sevensteps
from sevensteps import serialize
from sevensteps.data import DataError, load_source, read_idx
from sevensteps.data.images import MAX_IMAGE_PIXELS, read_class_folder
from sevensteps.data.npz import read_npz
from sevensteps.data.preprocess import load_digit_image
from sevensteps.files import FileWriteError, atomic_write_text
from sevensteps.serialize import CHECKPOINT_METADATA, MODEL_METADATA, ModelFileError, check_metadata

SRC = str(Path(sevensteps.__file__).resolve().parent.parent)


def one_line(error: pytest.ExceptionInfo, *fragments: str) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    message.encode("utf-8")  # printable as it is, whatever the file names were
    for fragment in fragments:
        assert fragment in message, message
    return message


def idx_header(*shape: int) -> bytes:
    return bytes([0, 0, 8, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape)


# ---------------------------------------------------------------- IDX: bounded decompression, header sanity


def test_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    """A header promising 10 images followed by 64 MB of zeros: refused after one byte too many."""
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    parts = [compressor.compress(idx_header(10, 28, 28) + bytes(10 * 28 * 28))]
    block = bytes(1 << 20)
    parts += [compressor.compress(block) for _ in range(64)]
    path.write_bytes(b"".join(parts) + compressor.flush())
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as error:
            read_idx(path, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line(error, str(path), "trailing data")
    assert peak < 4 << 20  # the promised 7,840 bytes and gzip's buffers, never the 64 MB


def test_trailing_data_in_a_plain_idx_file_is_refused(tmp_path):
    path = tmp_path / "x-labels-idx1-ubyte"
    path.write_bytes(idx_header(3) + bytes([1, 2, 3, 4]))
    with pytest.raises(DataError) as error:
        read_idx(path, 1)
    one_line(error, "trailing data")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_header_with_absurd_dimensions_is_refused_before_allocating(tmp_path, suffix):
    path = tmp_path / f"x-images-idx3-ubyte{suffix}"
    payload = idx_header(2**31, 28, 28) + bytes(100)
    path.write_bytes(gzip.compress(payload) if suffix else payload)
    with pytest.raises(DataError) as error:
        read_idx(path, 3)
    one_line(error, str(path), "2147483648")
    labels = tmp_path / f"x-labels-idx1-ubyte{suffix}"
    payload = idx_header(2**31 - 1) + bytes(100)
    labels.write_bytes(gzip.compress(payload) if suffix else payload)
    with pytest.raises(DataError) as error:
        read_idx(labels, 1)
    one_line(error, "truncated" if not suffix else "more than a gzip file")


def test_idx_images_of_the_wrong_size_are_refused_from_the_header(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(idx_header(1, 60000, 60000))  # 3.6 GB promised by 16 bytes
    with pytest.raises(DataError) as error:
        read_idx(path, 3)
    one_line(error, "expected 28×28")


# ---------------------------------------------------------------- .npz: no pickle, sizes checked, finite pixels


def npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def keras_npz(path: Path, **overrides: bytes) -> Path:
    arrays = {"x_train": np.zeros((4, 28, 28), np.uint8), "y_train": np.array([3, 7, 3, 7]),
              "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.array([3, 7])}
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            archive.writestr(f"{key}.npy", overrides.get(key) or npy_bytes(array))
    return path


def test_zero_byte_npz_is_one_line(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(DataError) as error:
        load_source(path)
    one_line(error, str(path), "not a readable .npz")


def test_npz_header_claiming_713_tib_is_refused_before_allocating(tmp_path):
    import io

    from numpy.lib import format as npy

    buffer = io.BytesIO()
    npy.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": (999999999999, 28, 28)})
    huge = buffer.getvalue() + bytes(784)
    path = keras_npz(tmp_path / "huge.npz", x_train=huge)
    with pytest.raises(DataError) as error:
        read_npz(path)
    one_line(error, str(path), "x_train", "713.0 TiB")


def test_npz_object_array_is_refused_without_numpys_pickle_hint(tmp_path):
    objects = np.array([{"a": 1}] * 4, dtype=object)
    import io

    buffer = io.BytesIO()
    np.save(buffer, objects, allow_pickle=True)
    path = keras_npz(tmp_path / "pickled.npz", y_train=buffer.getvalue())
    with pytest.raises(DataError) as error:
        read_npz(path)
    message = one_line(error, "y_train", "pickle")
    assert "allow_pickle" not in message


def test_npz_with_nan_pixels_is_refused_naming_the_file(tmp_path):
    images = np.full((4, 28, 28), 0.5, np.float32)
    images[2, 5, 5] = np.nan
    path = keras_npz(tmp_path / "nan.npz", x_train=npy_bytes(images))
    with pytest.raises(DataError) as error:
        read_npz(path)
    one_line(error, str(path), "x_train", "NaN or infinite")
    images[2, 5, 5] = 3.0
    path = keras_npz(tmp_path / "range.npz", x_train=npy_bytes(images))
    with pytest.raises(DataError) as error:
        read_npz(path)
    one_line(error, "not in [0, 1]")


def test_npz_member_shorter_than_its_header_is_truncated(tmp_path):
    path = keras_npz(tmp_path / "short.npz", x_test=npy_bytes(np.zeros((2, 28, 28), np.uint8))[:-100])
    with pytest.raises(DataError) as error:
        read_npz(path)
    one_line(error, "x_test", "the archive holds")


def test_well_formed_npz_still_reads(tmp_path):
    train, valid = read_npz(keras_npz(tmp_path / "ok.npz"))
    assert train.images.shape == (4, 28, 28) and train.images.dtype == np.float32 and train.images.flags.writeable
    assert list(valid.labels) == [3, 7]


# ---------------------------------------------------------------- images: pixel limits, file names as bytes


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width × height`` pixels, with almost no pixel data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("width, height", [(30000, 30000), (12000, 12000), (8000, 6000)])
def test_huge_png_is_refused_before_decoding(tmp_path, width, height):
    """900 MP (Pillow's own bomb error), 144 MP (Pillow's warning range) and 48 MP (our limit): all one line."""
    path = tmp_path / "huge.png"
    path.write_bytes(png_header_only(width, height))
    assert width * height > MAX_IMAGE_PIXELS
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as error:
            load_digit_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line(error, str(path), "pixels")
    assert peak < 8 << 20
    folder = tmp_path / "folder"
    for digit in (3, 7):
        (folder / str(digit)).mkdir(parents=True)
        Image.fromarray(np.full((28, 28), 200, np.uint8)).save(folder / str(digit) / "ok.png")
    (folder / "7" / "huge.png").write_bytes(png_header_only(width, height))
    with pytest.raises(DataError) as error:
        read_class_folder(folder)
    one_line(error, "huge.png", "pixels")


def test_non_utf8_file_names_in_an_image_folder(tmp_path):
    """Linux allows any bytes in a name; the folder still loads, and errors naming such a file still print."""
    folder = tmp_path / "digits"
    for digit in (3, 7):
        (folder / str(digit)).mkdir(parents=True)
        Image.fromarray(np.full((28, 28), 10 * digit, np.uint8)).save(folder / str(digit) / "a.png")
    odd = os.path.join(os.fsencode(folder / "3"), b"caf\xe9-\xff.png")
    with open(odd, "wb") as handle:
        handle.write((folder / "3" / "a.png").read_bytes())
    data = read_class_folder(folder)
    assert data.counts() == {3: 2, 7: 1}
    assert read_class_folder(folder).counts() == {3: 2, 7: 1}  # and again, from the cache
    with open(odd, "wb") as handle:
        handle.write(b"not a png")
    with pytest.raises(DataError) as error:
        read_class_folder(folder)
    one_line(error, "caf\\xe9-\\xff.png", "not a readable image")
    named = tmp_path / "named"
    for name in (b"cat\xff", b"dog"):
        os.makedirs(os.path.join(os.fsencode(named), name))
        Image.fromarray(np.full((28, 28), 99, np.uint8)).save(os.path.join(os.fsencode(named), name, b"x.png"))
    data = read_class_folder(named)
    assert sorted(data.names.values()) == ["cat\\xff", "dog"]


def test_damaged_folder_cache_is_rebuilt(tmp_path, monkeypatch):
    from sevensteps.data import images as images_module

    folder = tmp_path / "digits"
    for digit in (3, 7):
        (folder / str(digit)).mkdir(parents=True)
        Image.fromarray(np.full((28, 28), 10 * digit, np.uint8)).save(folder / str(digit) / "a.png")
    first = read_class_folder(folder)
    cache = images_module._cache_file(folder, images_module._listing(images_module._class_folders(folder), folder))
    for damage in (b"", b"PK\x03\x04garbage"):
        cache.write_bytes(damage)
        again = read_class_folder(folder)
        assert np.array_equal(again.images, first.images)


# ---------------------------------------------------------------- model and checkpoint files


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A real model and checkpoint (mlp, Adam: optimizer state as arrays and scalars) from the CLI."""
    cwd = tmp_path_factory.mktemp("run")
    result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "train", "--epochs", "2", "--model", "mlp",
                             "--optimizer", "adam", "--no-report", "--json"], cwd=cwd, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    return cwd, Path(cwd, summary["model_path"]), Path(cwd, summary["run_dir"]) / "checkpoint.safetensors"


def rewrite(source: Path, target: Path, arrays=None, **metadata_changes) -> Path:
    """A copy of a safetensors file with some tensors and metadata fields replaced (None deletes a field)."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(source), framework="numpy") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        header = dict(handle.metadata())
    tensors.update(arrays or {})
    for key, value in metadata_changes.items():
        if value is None:
            header.pop(key, None)
        elif isinstance(value, str) and value.startswith("RAW:"):  # not JSON at all
            header[key] = value[4:]
        else:
            header[key] = json.dumps(value)
    save_file(tensors, str(target), metadata=header)
    return target


def test_real_files_pass_the_full_schemas(trained_run):
    _, model, checkpoint = trained_run
    arrays, meta = serialize.load(model, serialize.FORMAT, schema=MODEL_METADATA,
                                  expect_shapes={"1.weight": (30, 784), "3.weight": (1, 30)})
    assert meta["hidden"] == 30 and arrays["1.weight"].dtype == np.float32
    arrays, meta = serialize.load(checkpoint, serialize.CHECKPOINT_FORMAT, schema=CHECKPOINT_METADATA)
    assert meta["epoch"] == 2 and any(name.startswith("optim.") for name in arrays)


@pytest.mark.parametrize("fill", [np.nan, np.inf])
def test_nan_or_infinite_weights_are_refused(trained_run, tmp_path, fill):
    _, model, checkpoint = trained_run
    weight = np.full((30, 784), fill, np.float32)
    bad = rewrite(model, tmp_path / "model.safetensors", {"1.weight": weight})
    with pytest.raises(ModelFileError) as error:
        serialize.load(bad, serialize.FORMAT)
    one_line(error, str(bad), "'1.weight'", "NaN or infinite")
    assert not np.isfinite(serialize.load(bad, serialize.FORMAT, finite=False)[0]["1.weight"]).any()  # on purpose
    bad = rewrite(checkpoint, tmp_path / "checkpoint.safetensors", {"optim.0.exp_avg": weight})
    with pytest.raises(ModelFileError) as error:
        serialize.load(bad, serialize.CHECKPOINT_FORMAT)
    one_line(error, "'optim.0.exp_avg'")


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int64])
def test_weights_of_another_dtype_are_never_cast_silently(trained_run, tmp_path, dtype):
    _, model, _ = trained_run
    bad = rewrite(model, tmp_path / "model.safetensors", {"3.bias": np.zeros(1, dtype)})
    with pytest.raises(ModelFileError) as error:
        serialize.load(bad, serialize.FORMAT)
    one_line(error, "'3.bias'", f"is {np.dtype(dtype).name}, expected float32")
    arrays, _ = serialize.load(bad, serialize.FORMAT, dtype=None)  # a caller may accept any dtype, on purpose
    assert arrays["3.bias"].dtype == dtype


def test_shapes_are_checked_against_expectations_before_reading(trained_run):
    _, model, _ = trained_run
    with pytest.raises(ModelFileError) as error:
        serialize.load(model, serialize.FORMAT, expect_shapes={"1.weight": (31, 784)})
    one_line(error, "'1.weight'", "[30, 784]", "[31, 784]")
    with pytest.raises(ModelFileError) as error:
        serialize.load(model, serialize.FORMAT, expect_shapes=lambda meta: {"5.weight": (1, meta["hidden"])})
    one_line(error, "'5.weight' is missing")


@pytest.mark.parametrize("field, value, fragment", [
    ("hidden", "30", "'hidden' must be an integer"),
    ("hidden", 1e9, "'hidden' must be an integer"),
    ("hidden", 10**9, "to 65536"),
    ("hidden", True, "'hidden' must be an integer"),
    ("classes", [3, 10**9], "'classes[1]' must be an integer from 0 to 9"),
    ("classes", [3, 3], "must not repeat"),
    ("classes", "3,7", "'classes' must be a list"),
    ("class_names", ["3"], "'class_names' must be a list of 2 to 10"),
    ("class_names", [3, 7], "'class_names[0]' must be a string"),
    ("class_names", ["a", "b", "c"], "'class_names' has 3 names for 2 classes"),
    ("input_size", [32, 32], "'input_size' must be [28, 28]"),
    ("model", 7, "'model' must be a string"),
    ("format", "sevensteps-checkpoint", "is not a sevensteps-model file"),
    ("hidden", "RAW:{not json", "'hidden' is not valid JSON"),
])
def test_model_metadata_is_validated(trained_run, tmp_path, field, value, fragment):
    _, model, _ = trained_run
    bad = rewrite(model, tmp_path / "model.safetensors", **{field: value})
    with pytest.raises(ModelFileError) as error:
        serialize.load(bad, serialize.FORMAT)
    one_line(error, str(bad), fragment)


def test_missing_model_metadata_is_named_by_the_full_schema(trained_run, tmp_path):
    _, model, _ = trained_run
    bad = rewrite(model, tmp_path / "model.safetensors", hidden=None)
    serialize.load(bad, serialize.FORMAT)  # without a schema only the fields present are checked
    with pytest.raises(ModelFileError) as error:
        serialize.load(bad, serialize.FORMAT, schema=MODEL_METADATA)
    one_line(error, "'hidden' is missing")


@pytest.mark.parametrize("field, value, fragment", [
    ("generator", "garbage", "'generator' must be the state of a NumPy random generator"),
    ("generator", {"bit_generator": "PCG64", "state": {"state": -1, "inc": "x"}}, "not a valid PCG64 state"),
    ("history", [{"epoch": "one"}], "'history[0].epoch' must be an integer"),
    ("history", [{"epoch": 1, "valid_accuracy": 7}], "'history[0].valid_accuracy' must be a finite number"),
    ("history", {"epoch": 1}, "'history' must be a list"),
    ("epoch", -1, "'epoch' must be an integer from 0"),
    ("epoch", 2.5, "'epoch' must be an integer"),
    ("optimizer_groups", [{"lr": "fast"}], "'optimizer_groups[0].lr' must be a finite number"),
    ("optimizer_groups", [], "'optimizer_groups' must be a list of 1 to 100"),
    ("optimizer_scalars", {"0": {"step": "eight"}}, "'optimizer_scalars.0.step' must be a finite number"),
    ("best", [0.9, "x"], "'best[1]' must be the epoch"),
    ("best", "yes", "'best' must be a list"),
    ("settings", {"lr": -1}, "'settings.lr' must be a finite number from 0"),
    ("settings", {"hidden": "many"}, "'settings.hidden' must be an integer"),
    ("classes", [3], "'classes' must be a list of 2 to 10"),
])
def test_checkpoint_metadata_is_validated(trained_run, tmp_path, field, value, fragment):
    _, _, checkpoint = trained_run
    bad = rewrite(checkpoint, tmp_path / "checkpoint.safetensors", **{field: value})
    with pytest.raises(ModelFileError) as error:
        serialize.load(bad, serialize.CHECKPOINT_FORMAT)
    one_line(error, str(bad), fragment)


def test_check_metadata_on_its_own():
    check_metadata("m.safetensors", {"format": "sevensteps-model", "model": "linear", "hidden": 30,
                                     "classes": [3, 7], "input_size": [28, 28]}, MODEL_METADATA)
    with pytest.raises(ModelFileError, match=r"^m\.safetensors: metadata field 'classes' is missing$"):
        check_metadata("m.safetensors", {"format": "sevensteps-model", "model": "linear", "hidden": 30,
                                         "input_size": [28, 28]}, MODEL_METADATA)
    with pytest.raises(ModelFileError, match=r"'history\[0\]\.epoch' is missing"):
        check_metadata("c", {"history": [{}]}, CHECKPOINT_METADATA, partial=True)


def assert_clean_cli_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sevensteps: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sevensteps.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC}, timeout=300, check=False)


def test_cli_refuses_garbage_weights_and_metadata_in_one_line(trained_run, tmp_path):
    """`predict` with NaN weights used to print "3 (nan%)" and exit 0; bad metadata gave a traceback."""
    _, model, _ = trained_run
    digit = tmp_path / "digit.png"
    ink = np.zeros((28, 28), np.uint8)
    ink[6:22, 12:16] = 255
    Image.fromarray(ink).save(digit)
    nan_model = rewrite(model, tmp_path / "nan.safetensors", {"3.weight": np.full((1, 30), np.nan, np.float32)})
    assert_clean_cli_error(cli("predict", str(digit), "--model", str(nan_model), cwd=tmp_path),
                           "nan.safetensors", "NaN or infinite")
    assert_clean_cli_error(cli("evaluate", "--model", str(nan_model), cwd=tmp_path), "NaN or infinite")
    for name, change in (("hidden", {"hidden": "30"}), ("classes", {"classes": [3, 10**9]}),
                         ("half", {})):
        arrays = {"1.weight": np.zeros((30, 784), np.float16)} if name == "half" else None
        bad = rewrite(model, tmp_path / f"{name}.safetensors", arrays, **change)
        assert_clean_cli_error(cli("predict", str(digit), "--model", str(bad), cwd=tmp_path), f"{name}.safetensors")
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header_only(30000, 30000))
    assert_clean_cli_error(cli("predict", str(huge), "--model", str(model), cwd=tmp_path), "huge.png", "pixels")


# ---------------------------------------------------------------- disk full, permission denied


SAVE_UNDER_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
import numpy as np
from sevensteps import serialize
from sevensteps.files import atomic_write_text
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
for write in (lambda: serialize.save(sys.argv[1], {"w": np.zeros(100_000, np.float32)}, {"format": "x"}),
              lambda: atomic_write_text(sys.argv[2], "y" * 200_000)):
    try:
        write()
    except OSError as error:
        print(error)
"""


def test_disk_full_names_the_file_and_keeps_the_old_one(tmp_path):
    """Under `ulimit -f` (works without root): one line per write naming the user's file; old files intact."""
    model, text = tmp_path / "model.safetensors", tmp_path / "summary.json"
    serialize.save(model, {"w": np.ones(10, np.float32)}, {"format": "x"})
    text.write_text("old")
    result = subprocess.run([sys.executable, "-c", SAVE_UNDER_A_FILE_SIZE_LIMIT, str(model), str(text)],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=120,
                            check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines == [f"{model}: cannot write it: the disk is full or a file size limit (ulimit -f) was reached; "
                     f"any previous version is intact",
                     f"{text}: cannot write it: the disk is full or a file size limit (ulimit -f) was reached; "
                     f"any previous version is intact"]
    arrays, _ = serialize.load(model, "x")
    assert np.array_equal(arrays["w"], np.ones(10, np.float32)) and text.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "summary.json"]


def test_permission_denied_names_the_users_file_not_the_temporary_one(tmp_path, monkeypatch):
    import errno
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".plot.png.abc123.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(FileWriteError) as error:
        atomic_write_text(tmp_path / "plot.png", "x")
    message = one_line(error, f"{tmp_path / 'plot.png'}: cannot write it: permission denied")
    assert ".tmp" not in message
    assert isinstance(error.value, OSError) and error.value.filename == str(tmp_path / "plot.png")


def test_writing_over_a_folder_names_the_users_path(tmp_path):
    """`gradcheck --plot DIR` named its temporary file; now the message names DIR and says what to do."""
    folder = tmp_path / "plots"
    folder.mkdir()
    with pytest.raises(FileWriteError) as error:
        atomic_write_text(folder, "x")
    one_line(error, f"{folder}: cannot write it: it is a folder; give a file name")
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_large_photo_is_shrunk_before_the_float_steps(tmp_path):
    """A 4000×3000 photo of a dark 7 on white paper: recognised as ink, with memory far below its float size."""
    page = np.full((3000, 4000), 235, np.uint8)
    page[600:700, 1200:2800] = 20  # the bar of a 7
    for row in range(700, 2400):
        column = 2800 - (row - 700) * 900 // 1700
        page[row, column - 50:column + 50] = 20
    path = tmp_path / "photo.png"
    Image.fromarray(page).save(path)
    tracemalloc.start()
    try:
        digit = load_digit_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    small = tmp_path / "small.png"
    Image.fromarray(page).resize((400, 300), Image.Resampling.BOX).save(small)
    assert digit.shape == (28, 28) and digit.dtype == np.float32 and digit.max() > 0.9
    assert np.abs(digit - load_digit_image(small)).mean() < 0.02  # the same 7 as from a small copy
    assert peak < 4000 * 3000 * 4  # never the whole photo as float32 (48 MB)


def test_python_api_arguments_are_checked(tmp_path):
    from sevensteps.data import write_idx
    from sevensteps.data.dataset import Dataset, stratified_split
    from sevensteps.data.download import RemoteFile, fetch

    with pytest.raises(ValueError, match=r"values must be integers from 0 to 255, got int64 from 0 to 300"):
        write_idx(tmp_path / "x-labels-idx1-ubyte", np.array([0, 300]))
    with pytest.raises(ValueError, match=r"got float64"):
        write_idx(tmp_path / "x-labels-idx1-ubyte", np.array([0.5]))
    assert not (tmp_path / "x-labels-idx1-ubyte").exists()
    data = Dataset(np.zeros((4, 28, 28), np.float32), np.array([3, 7, 3, 7]), "four")
    with pytest.raises(DataError, match=r"split seed must be a non-negative integer, not -1"):
        stratified_split(data, 0.5, seed=-1)
    for bad in ({"deadline": float("nan")}, {"max_bytes": 0}, {"timeout": -1}):
        with pytest.raises(ValueError, match=r"must be a positive number"):
            fetch(RemoteFile("f.bin", 1, "0" * 32, ()), tmp_path, log=quiet, **bad)


def quiet(message: str) -> None:
    pass


def test_odd_metadata_shapes_stay_one_line(trained_run, tmp_path):
    """An unhashable format, JSON nested 100,000 deep, and a shapes function that the metadata breaks."""
    _, model, _ = trained_run
    for name, change, fragment in (("list", {"format": [1, 2]}, "is not a sevensteps-model file ([1, 2])"),
                                   ("deep", {"hidden": "RAW:" + "[" * 100_000 + "]" * 100_000}, "nested too deeply"),
                                   ("long", {"classes": list(range(1000))}, "not a list of 1000 items")):
        bad = rewrite(model, tmp_path / f"{name}.safetensors", **change)
        with pytest.raises(ModelFileError) as error:
            serialize.load(bad, serialize.FORMAT)
        one_line(error, fragment)
    bad = rewrite(model, tmp_path / "list.safetensors", format=[1, 2])
    serialize.load(bad, dtype=None)  # no format expected: an unknown format is no reason to fail
    with pytest.raises(ModelFileError) as error:
        serialize.load(model, serialize.FORMAT, expect_shapes=lambda meta: {"1.weight": (meta["width"], 784)})
    one_line(error, "does not describe its tensors", "width")
