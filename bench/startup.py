"""Start-up: wall time of `sevensteps --help` against a bare `python -c pass`, in fresh processes.

    python bench/startup.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row


def wall(command: list[str], repeats: int = 15) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> list[Row]:
    script = shutil.which("sevensteps") or str(Path(sys.executable).parent / "sevensteps")
    wall([sys.executable, "-c", "pass"], 2)  # warm the file cache
    bare = wall([sys.executable, "-c", "pass"])
    helped = wall([script, "--help"])
    extra = helped - bare
    return [Row("5. start-up", "`sevensteps --help` minus a bare `python -c pass`",
                f"{extra:.3f}s ({helped:.3f}s vs {bare:.3f}s)", "< 0.3s", extra < 0.3)]


if __name__ == "__main__":
    for row in run():
        print(f"{row.what}: {row.figure}")
