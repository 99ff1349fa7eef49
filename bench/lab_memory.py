"""What a lab session keeps as it plays: traced memory (Python's and NumPy's) between two moments of Play.

A lab session trains the linear model on 10 classes in Play, with no page and no server, in this process;
``tracemalloc`` snapshots are taken ``--warm-up`` seconds in and ``--seconds`` later, and the allocations that
grew the most between them are printed with the lines that made them, beside the resident size.

    python bench/lab_memory.py [--warm-up 15] [--seconds 75] [--top 6]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine

from sevensteps.lab.session import LabSettings, Session


def resident_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm-up", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args()
    print(machine(), flush=True)
    session = Session(LabSettings(digits="all", lr=0.1, epochs=100_000))
    try:
        tracemalloc.start(8)
        session.control("play")
        time.sleep(args.warm_up)
        before, resident_before, batches_before = tracemalloc.take_snapshot(), resident_mib(), session.batches_seen
        time.sleep(args.seconds)
        after, resident_after, batches_after = tracemalloc.take_snapshot(), resident_mib(), session.batches_seen
    finally:
        session.close()

    def traced(snapshot: tracemalloc.Snapshot) -> float:
        return sum(stat.size for stat in snapshot.statistics("filename")) / 2**20

    print(f"{batches_after - batches_before:,} batches in {args.seconds:.0f} s: traced {traced(before):.2f} -> "
          f"{traced(after):.2f} MiB, resident {resident_before:.1f} -> {resident_after:.1f} MiB")
    for stat in after.compare_to(before, "traceback")[: args.top]:
        print(f"\n{stat.size_diff / 1024:+.1f} KiB ({stat.count_diff:+d} blocks), made by:")
        for line in stat.traceback.format()[-6:]:
            print("   ", line)


if __name__ == "__main__":
    main()
