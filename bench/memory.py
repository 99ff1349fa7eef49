"""Memory: peak resident memory of `sevensteps train` on Fashion-MNIST's 60,000 images, vs the data size.

    python bench/memory.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row

FASHION = Path("/usr/share/datasets/fashion-mnist")

# The command's own peak, read from /proc (VmHWM): getrusage's figure for a child would also count the
# pages it shared with this (large) process between fork and exec.
PEAK_OF_CLI = """
import sys
from sevensteps.cli import main
code = main(sys.argv[1:])
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(line.split()[1], file=sys.stderr)
sys.exit(code)
"""


def run() -> list[Row]:
    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        return [Row("6. memory", "training on 60,000 images", "skipped: apt-get install dataset-fashion-mnist")]
    with tempfile.TemporaryDirectory() as tmp:
        args = ["train", "--data", "fashion-mnist", "--digits", "all", "--model", "mlp", "--hidden", "128",
                "--lr", "0.1", "--epochs", "1", "--no-report", "--quiet", "--out", tmp]
        result = subprocess.run([sys.executable, "-c", PEAK_OF_CLI, *args], capture_output=True, text=True, check=True)
    peak_mb = int(result.stderr.strip().splitlines()[-1]) / 1024
    data_mb = 70_000 * 784 * 4 / 2**20  # 60,000 training + 10,000 validation images as float32
    limit = 2 * data_mb + 150
    return [Row("6. memory", "peak resident memory of `sevensteps train` (mlp 784-128-10, 1 epoch) on "
                "Fashion-MNIST", f"{peak_mb:.0f} MB for {data_mb:.0f} MB of float32 images "
                f"({peak_mb / data_mb:.2f}x)", f"< 2 x data + 150 MB = {limit:.0f} MB", peak_mb < limit)]


if __name__ == "__main__":
    for row in run():
        print(f"{row.what}: {row.figure}")
