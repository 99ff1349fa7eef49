"""What `pip install .` costs a new user: seconds, and the size and package count of the environment.

    python bench/install.py [--rev f51e714] [--repeats 3]

For each side (this working tree, and the project as it was at ``--rev``, exported with ``git archive``) it
creates a fresh virtual environment with ``python -m venv``, times ``pip install <project>`` (no extras;
pip's own download and wheel cache as it is, warmed by an untimed first install of each side), and measures
the environment's size on disk (``du``) and ``pip list``. An empty venv is measured the same way. Sides run
alternately; the medians are printed. The machine is shared, so the seconds are noisy: compare sides of one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Row

TARGETS = (20.0, 220.0)  # seconds, MB


def venv_size(folder: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(folder)], capture_output=True, text=True, check=True).stdout.split()[0])


def install(project: Path | None, scratch: Path, smoke: bool = False) -> dict[str, float]:
    """A fresh venv, ``pip install project`` timed; project None measures the empty venv.

    ``smoke``: also run ``sevensteps train --no-report`` there (untimed), to show the install works offline
    and prints the chapter's experiment."""
    env = Path(tempfile.mkdtemp(dir=scratch))
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    seconds = 0.0
    if project is not None:
        start = time.perf_counter()
        subprocess.run([*pip, "install", "-q", str(project)], check=True, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        if smoke:
            work = Path(tempfile.mkdtemp(dir=scratch))
            result = subprocess.run([str(env / "bin" / "sevensteps"), "train", "--no-report"], cwd=work,
                                    capture_output=True, text=True, check=True)
            print("\n".join(line for line in result.stdout.splitlines() if not line[:5].strip().isdigit()))
    listed = json.loads(subprocess.run([*pip, "list", "--format", "json"], capture_output=True, text=True,
                                       check=True).stdout)
    size = venv_size(env)
    shutil.rmtree(env)
    return {"seconds": seconds, "mb": size / 1e6, "packages": len(listed)}


def export(rev: str, scratch: Path) -> Path:
    folder = scratch / f"rev-{rev}"
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(rev: str, repeats: int) -> dict[str, list[dict[str, float]]]:
    """Each side's installs: seconds, MB and packages, alternating sides."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        now = scratch / "now"  # a copy of what packaging reads, so no build files land in the working tree
        shutil.copytree(ROOT / "src", now / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, now / name)
        sides = {"empty venv": None, f"before ({rev})": export(rev, scratch), "now": now}
        for project in sides.values():  # warm pip's cache: both sides download the same way when timed
            if project is not None:
                install(project, scratch, smoke=project == now)
        results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
        for _ in range(repeats):
            for name, project in sides.items():
                results[name].append(install(project, scratch))
    return results


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def run(rev: str = "f51e714", repeats: int = 3) -> list[Row]:
    results = measure(rev, repeats)
    empty, before, now = (results[name] for name in results)
    return [Row("8. install", f"`pip install .` in a fresh venv, no extras (median of {repeats})",
                f"{_median(now, 'seconds'):.1f}s, {_median(now, 'mb'):.0f} MB, {_median(now, 'packages'):.0f} packages "
                f"(before, with mlxtend: {_median(before, 'seconds'):.1f}s, {_median(before, 'mb'):.0f} MB, "
                f"{_median(before, 'packages'):.0f} packages; empty venv {_median(empty, 'mb'):.0f} MB)",
                f"< {TARGETS[0]:.0f}s, < {TARGETS[1]:.0f} MB",
                _median(now, "seconds") < TARGETS[0] and _median(now, "mb") < TARGETS[1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="f51e714", help="the 'before' commit (default: the last one with mlxtend)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = measure(args.rev, args.repeats)
    print(f"{'side':<22} {'pip install (s)':>16} {'venv (MB)':>10} {'packages':>9}")
    for name, runs in results.items():
        print(f"{name:<22} {_median(runs, 'seconds'):>16.1f} {_median(runs, 'mb'):>10.0f} "
              f"{int(_median(runs, 'packages')):>9}   (runs: " + ", ".join(f"{r['seconds']:.1f}s" for r in runs) + ")")


if __name__ == "__main__":
    main()
