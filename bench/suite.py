"""The whole benchmark suite: runs every comparison and writes BENCHMARKS.md.

    python bench/suite.py [--repeats 5] [--out BENCHMARKS.md]

Each comparison runs both sides in this one run, on the same data, batches and initial weights, and
reports ratios: these machines are shared and noisy, and absolute times drift from run to run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data as data_bench
import engine
import gradients
import install
import mainjob
import memory
import seed
import startup
import torch
from common import ROOT, machine

from sevensteps.files import atomic_write_text

# Everything in BENCHMARKS.md from this line on (the write-ups of measurements made by the other bench scripts:
# peers.py, scaling.py, conv.py, lab.py, sweep.py) is kept when the suite rewrites the table above it.
KEEP = "<!-- kept by bench/suite.py: the write-ups below -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="epochs or fits timed per side (default 5)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--no-install", action="store_true", help="skip the (slow) fresh-venv install benchmark")
    args = parser.parse_args()
    rows = []
    benches = [("chapter", lambda: seed.run(args.repeats)), ("scale", lambda: engine.run(args.repeats)),
               ("gradients", gradients.run), ("data", data_bench.run), ("start-up", startup.run),
               ("memory", memory.run), ("main job", lambda: mainjob.run(max(args.repeats, 9)))]
    if not args.no_install:
        benches.append(("install", lambda: install.run(repeats=3)))
    for name, bench in benches:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        for row in bench():
            print(f"  {row.what}: {row.figure}", file=sys.stderr, flush=True)
            rows.append(row)
    lines = [
        "# Benchmarks",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; PyTorch {torch.__version__} (CPU) with its default "
        f"{torch.get_num_threads()} threads. Each comparison runs both sides alternately in one run, on the same "
        "data, batches and initial weights; ratios below 1 mean sevensteps is faster. These machines are shared "
        "and noisy: ratios from one run are what count, absolute times drift.",
        "",
        "| area | what | figure | target | met |",
        "|---|---|---|---|---|",
        *(row.markdown() for row in rows),
        "",
        "## Reproduce",
        "",
        "```bash",
        'pip install -e ".[test]"                 # torch==2.13.0 CPU comes with the test extra',
        "apt-get install dataset-fashion-mnist     # Fashion-MNIST for the scale, data and memory rows",
        f"python bench/suite.py --repeats {args.repeats}   # all of it, rewrites BENCHMARKS.md",
        "python bench/engine.py                    # or one area: seed.py engine.py gradients.py data.py ...",
        "python bench/mainjob.py                   # the main job, with where the report's time goes",
        "python bench/install.py                   # pip install . in fresh venvs, now and before (with mlxtend)",
        "```",
        "",
        "Rows 1 need the real MNIST test set in `../shared/data/mnist` (beside the project). Row 7 runs",
        "`sevensteps train` and `sevensteps train --no-report` alternately as whole processes. Row 8 creates fresh",
        "venvs (`python -m venv`), times `pip install .` with pip's cache warmed by one untimed install of each side,",
        "and measures the venv with `du -sb` and `pip list`; 'before' is the project at commit f51e714, exported",
        "with `git archive`.",
        "",
    ]
    out = Path(args.out)
    old = out.read_text() if out.is_file() else ""
    kept = old[old.index(KEEP):] if KEEP in old else KEEP + "\n"  # the measured write-ups below the table stay
    atomic_write_text(out, "\n".join(lines) + "\n" + kept)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
