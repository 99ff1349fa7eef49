"""The main job as a new user runs it: `sevensteps train` with its report, against `--no-report`, end to end.

    python bench/mainjob.py [--repeats 9]

Both commands run alternately as whole processes (interpreter start, imports, data, training, files, report)
in a scratch folder; the medians and the spread are printed. Then one report is rebuilt in this process with
each phase timed, to show where the report's time goes, next to what matplotlib would cost. The machine may
be shared: compare the two commands of one run, and read medians.
"""

from __future__ import annotations

import argparse
import io
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


def timed_command(args: list[str], cwd: Path) -> float:
    command = [sys.executable, "-m", "sevensteps.cli", *args]
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def phases(run_dir: Path) -> dict[str, float]:
    """Seconds of building one report, then of each of its phases alone, in this process; and, for
    comparison, what matplotlib would cost (the report drew its charts with it before)."""
    from sevensteps import report

    times: dict[str, float] = {}
    start = time.perf_counter()
    report.build_report(run_dir)
    times["whole report (data reloaded)"] = time.perf_counter() - start
    start = time.perf_counter()
    story, arrays = report.tell(run_dir)
    times["numbers (data reloaded, model, gradient check)"] = time.perf_counter() - start
    out = run_dir / "figures"
    start = time.perf_counter()
    report.draw_pictures(story, arrays, out)
    times["digit pictures (Pillow)"] = time.perf_counter() - start
    start = time.perf_counter()
    report.draw_charts(story, arrays, out)
    times["charts (SVG)"] = time.perf_counter() - start
    start = time.perf_counter()
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure

    times["for comparison: importing matplotlib"] = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(4):  # the report's four charts were about this much each
        figure = Figure(figsize=(5.5, 3.4))
        axes = figure.add_subplot(1, 1, 1)
        axes.plot(range(20), range(20), "o-", label="a line")
        axes.legend()
        figure.savefig(io.BytesIO(), format="png", dpi=90)
    times["for comparison: four simple matplotlib charts"] = time.perf_counter() - start
    return times


def measure(repeats: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds of each whole command (alternating runs), and the phases of one report."""
    sides = {"sevensteps train": ["train"], "sevensteps train --no-report": ["train", "--no-report"]}
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
    return [Row("7. main job", f"`sevensteps train` with its report, whole command (median of {repeats})",
                f"{whole:.2f}s (without the report {bare:.2f}s; the report adds {whole - bare:.2f}s)",
                f"< {TARGET_SECONDS}s", whole < TARGET_SECONDS)]


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
