"""The main job as a new user runs it: `sevensteps train` with its report, against `--no-report`, end to end.

    python bench/mainjob.py [--repeats 9]

Both commands run alternately as whole processes (interpreter start, imports, data, training, files, report)
in a scratch folder; the medians and the spread are printed. Then one report is rebuilt in this process with
each phase timed, to show where the report's time goes. The machine may be shared: compare the two commands
of one run, and read medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_command(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sevensteps.cli", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def phases(run_dir: Path) -> dict[str, float]:
    """Seconds of each phase of building one report, in this process (matplotlib not yet imported)."""
    from sevensteps import report

    times: dict[str, float] = {}
    start = time.perf_counter()
    story, arrays = report.tell(run_dir)
    times["numbers (data, model, gradient check)"] = time.perf_counter() - start
    out = run_dir / "figures"
    start = time.perf_counter()
    report.draw_pictures(story, arrays, out)
    times["digit pictures (Pillow)"] = time.perf_counter() - start
    start = time.perf_counter()
    import matplotlib.figure  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401

    times["import matplotlib"] = time.perf_counter() - start
    start = time.perf_counter()
    report.draw_charts(story, arrays, out)
    times["charts (matplotlib)"] = time.perf_counter() - start
    start = time.perf_counter()
    report.build_report(run_dir)
    times["whole report, charts in a forked process"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    sides = {"sevensteps train": ["train"], "sevensteps train --no-report": ["train", "--no-report"]}
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        timed_command(["train", "--quiet"], cwd)  # warm the file cache and Python's bytecode cache
        for _ in range(args.repeats):
            for name, command in sides.items():
                seconds[name].append(timed_command(command, cwd))
        result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "train", "--json", "--no-report"], cwd=cwd,
                                check=True, capture_output=True, text=True)
        breakdown = phases(cwd / json.loads(result.stdout)["run_dir"])
    print(f"{'command':<30} {'median':>8} {'min':>7} {'max':>7}   ({args.repeats} runs each, alternating)")
    for name, values in seconds.items():
        print(f"{name:<30} {statistics.median(values):>7.2f}s {min(values):>6.2f}s {max(values):>6.2f}s")
    difference = statistics.median(seconds["sevensteps train"]) - statistics.median(seconds[
        "sevensteps train --no-report"])
    print(f"the report adds {difference:.2f}s (difference of medians)")
    print("one report, phase by phase:")
    for name, value in breakdown.items():
        print(f"  {name:<42} {value:.3f}s")


if __name__ == "__main__":
    main()
