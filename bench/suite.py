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
import memory
import seed
import startup
import torch
from common import ROOT, machine

from sevensteps.files import atomic_write_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="epochs or fits timed per side (default 5)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    rows = []
    for name, bench in (("seed", lambda: seed.run(args.repeats)), ("scale", lambda: engine.run(args.repeats)),
                        ("gradients", gradients.run), ("data", data_bench.run), ("start-up", startup.run),
                        ("memory", memory.run)):
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
        "```",
        "",
        "The seed rows need the real MNIST test set in `../shared/data/mnist` (beside the project).",
        "",
    ]
    atomic_write_text(Path(args.out), "\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
