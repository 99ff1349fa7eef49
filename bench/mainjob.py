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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row

TARGET_SECONDS = 1.2


# `sevensteps train` as it would run if the command started the report's chart worker before loading the
# data (so matplotlib imports while the data loads and the model trains): the hook proposed for cli.py.
EARLY_WORKER = """
import sys
from sevensteps import cli, report
worker = report.ChartWorker()
build_report = report.build_report
report.build_report = lambda run_dir, splits=None, _=None: build_report(run_dir, splits, worker)
sys.exit(cli.main(["train"]))
"""


def timed_command(args: list[str], cwd: Path) -> float:
    command = [sys.executable, "-c", EARLY_WORKER] if args == ["early"] else [
        sys.executable, "-m", "sevensteps.cli", *args]
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
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


def measure(repeats: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds of each whole command (alternating runs), and the phases of one report."""
    sides = {"sevensteps train": ["train"], "sevensteps train --no-report": ["train", "--no-report"],
             "train, chart worker started first": ["early"]}
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        timed_command(["train", "--quiet"], cwd)  # warm the file cache and Python's bytecode cache
        for _ in range(repeats):
            for name, command in sides.items():
                seconds[name].append(timed_command(command, cwd))
        result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "train", "--json", "--no-report"], cwd=cwd,
                                check=True, capture_output=True, text=True)
        breakdown = phases(cwd / json.loads(result.stdout)["run_dir"])
    return seconds, breakdown


def run(repeats: int = 9) -> list[Row]:
    seconds, _ = measure(repeats)
    whole = statistics.median(seconds["sevensteps train"])
    bare = statistics.median(seconds["sevensteps train --no-report"])
    early = statistics.median(seconds["train, chart worker started first"])
    return [Row("7. main job", f"`sevensteps train` with its report, whole command (median of {repeats})",
                f"{whole:.2f}s (without the report {bare:.2f}s; the report adds {whole - bare:.2f}s)",
                f"< {TARGET_SECONDS}s", whole < TARGET_SECONDS),
            Row("7. main job", "the same, with the report's chart worker forked before the data loads",
                f"{early:.2f}s", f"< {TARGET_SECONDS}s", early < TARGET_SECONDS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    seconds, breakdown = measure(args.repeats)
    print(f"{'command':<34} {'median':>8} {'min':>7} {'max':>7}   ({args.repeats} runs each, alternating)")
    for name, values in seconds.items():
        print(f"{name:<34} {statistics.median(values):>7.2f}s {min(values):>6.2f}s {max(values):>6.2f}s")
    difference = statistics.median(seconds["sevensteps train"]) - statistics.median(seconds[
        "sevensteps train --no-report"])
    print(f"the report adds {difference:.2f}s (difference of medians)")
    print("one report, phase by phase:")
    for name, value in breakdown.items():
        print(f"  {name:<42} {value:.3f}s")


if __name__ == "__main__":
    main()
