"""The cost curve: epoch time and peak memory against batch size and hidden width, each point in its own process.

Two sweeps of the 784-H-10 ReLU MLP over Fashion-MNIST, with the sides of ``bench/peers.py`` (sevensteps,
PyTorch, the hand-fused NumPy epoch, the matrix-product floor, and JAX unless left out): batch size
16 … 1024 at hidden width 128, and hidden width 32 … 2048 at batch 256. Every point is a fresh process per side
and repeat (same data, batches, initial weights and thread count; a short warm-up excluded); the figure is the
median time and the peak resident memory while training, above what the data, weights and libraries take
(VmHWM, reset once they are loaded). It writes
docs/scaling.png (two panels of time, two of memory) and prints the table.

    python bench/scaling.py                 # the full sweep in BENCHMARKS.md: 13 points, 4 sides, 3 repeats,
                                            # 20,000 images: about 5-10 minutes on a quiet 2-core machine
    python bench/scaling.py --quick         # a few points, 10,000 images, 1 repeat: a few minutes
    python bench/scaling.py --quick --clock cpu   # draw CPU time: on a shared machine wall time is mostly noise
    python bench/scaling.py --batch-sizes 32,256 --widths 64,512 --repeats 1 --images 20000 --sides sevensteps,numpy
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import ROOT, SIDES, prepare, run_child

# JAX (about 20 s of compilation per point), the CLI variant and PyTorch's floor are left to --sides: with them
# the full sweep would not fit in about ten minutes.
DEFAULT_SIDES = ("sevensteps", "pytorch", "numpy", "floor")

FULL_BATCHES = (16, 32, 64, 128, 256, 512, 1024)
FULL_WIDTHS = (32, 64, 128, 256, 512, 1024, 2048)
QUICK_BATCHES = (32, 256, 1024)
QUICK_WIDTHS = (32, 256, 2048)
STYLE = {"sevensteps": ("C0", "o"), "sevensteps-cli": ("C9", "."), "pytorch": ("C3", "s"), "numpy": ("C2", "^"),
         "floor": ("0.4", "x"), "jax": ("C1", "D")}


def sweep(points: list[tuple[int, int]], sides: list[str], repeats: int, threads: int, images: int,
          warmup: int) -> list[dict]:
    """Each (batch, hidden) point: every side ``repeats`` times, alternating, each run a process of its own."""
    rows = []
    for batch_size, hidden in points:
        paths = prepare(hidden, images)
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for r in range(repeats):
            for side in sides if r % 2 == 0 else sides[::-1]:
                spec = {"side": side, "batch_size": batch_size, "images": images, "warmup_batches": warmup, **paths}
                runs[side].append(run_child(spec, threads))
        for side, results in runs.items():
            rows.append({"side": side, "batch_size": batch_size, "hidden": hidden,
                         "epoch_s": statistics.median(r["epoch_s"] for r in results),
                         "cpu_s": statistics.median(r["cpu_s"] for r in results),
                         "peak_mb": max(r["peak_mb"] for r in results),
                         "train_peak_mb": max(r["peak_mb"] - r["rss_before_mb"] for r in results)})
            print(f"  batch {batch_size:5d} hidden {hidden:5d} {side:10s} {rows[-1]['epoch_s']:.3f}s "
                  f"peak {rows[-1]['peak_mb']:.0f} MB (+{rows[-1]['train_peak_mb']:.0f} MB training)",
                  file=sys.stderr)
    return rows


def draw(batch_rows: list[dict], width_rows: list[dict], sides: list[str], title: str, path: Path,
         clock: str = "wall") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex="col")
    for column, (rows, key, label) in enumerate(((batch_rows, "batch_size", "batch size (hidden width 128)"),
                                                 (width_rows, "hidden", "hidden width (batch 256)"))):
        for side in sides:
            time_key = "cpu_s" if clock == "cpu" else "epoch_s"
            points = sorted((r[key], r[time_key], r["train_peak_mb"]) for r in rows if r["side"] == side)
            if not points:
                continue
            xs, times, memory = zip(*points, strict=True)
            color, marker = STYLE[side]
            axes[0][column].plot(xs, times, marker=marker, color=color, label=side)
            axes[1][column].plot(xs, memory, marker=marker, color=color, label=side)
        axes[0][column].set_ylabel("epoch CPU time (s, median)" if clock == "cpu" else "epoch time (s, median)")
        axes[1][column].set_ylabel("peak memory above the data (MB)")
        axes[1][column].set_xlabel(label)
        ticks = sorted({r[key] for r in rows})
        for row in (0, 1):
            axes[row][column].set_xscale("log", base=2)
            axes[row][column].set_xticks(ticks, [str(v) for v in ticks])
            axes[row][column].set_yscale("log")
            axes[row][column].grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp.png")
    fig.savefig(temp, dpi=110)
    temp.replace(path)


def table(rows: list[dict], key: str) -> str:
    sides = list(dict.fromkeys(r["side"] for r in rows))
    values = sorted({r[key] for r in rows})
    by = {(r["side"], r[key]): r for r in rows}
    head = f"| {key.replace('_', ' ')} | " + " | ".join(f"{s} (s, CPU s / MB)" for s in sides) + " |"
    lines = [head, "|" + "---|" * (len(sides) + 1)]
    for v in values:
        cells = []
        for s in sides:
            row = by.get((s, v))
            cells.append(f"{row['epoch_s']:.3f}, {row.get('cpu_s', float('nan')):.3f} / {row['train_peak_mb']:.0f}"
                         if row else "-")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 batch sizes, 3 widths, 10,000 images, 1 repeat")
    parser.add_argument("--batch-sizes", help=f"default {','.join(map(str, FULL_BATCHES))}")
    parser.add_argument("--widths", help=f"default {','.join(map(str, FULL_WIDTHS))}")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--images", type=int)
    parser.add_argument("--threads", type=int, default=1, help="threads for every side (0: each library's default)")
    parser.add_argument("--warmup-batches", type=int, default=10)
    parser.add_argument("--sides", default=",".join(DEFAULT_SIDES), help=f"any of {', '.join(SIDES)}")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "scaling.png")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="draw wall time, or CPU time (steadier on a machine shared with other work)")
    args = parser.parse_args()
    quick = args.quick
    batches = [int(b) for b in args.batch_sizes.split(",")] if args.batch_sizes else \
        list(QUICK_BATCHES if quick else FULL_BATCHES)
    widths = [int(w) for w in args.widths.split(",")] if args.widths else list(QUICK_WIDTHS if quick else FULL_WIDTHS)
    repeats = args.repeats or (1 if quick else 3)
    images = args.images or (10_000 if quick else 20_000)
    sides = [s.strip() for s in args.sides.split(",")]
    unknown = [s for s in sides if s not in SIDES]
    if unknown or repeats < 1 or images < max(batches):
        parser.error(f"unknown side(s) {unknown}" if unknown else "--repeats must be >= 1 and --images at least "
                     "the largest batch size")
    batch_rows = sweep([(b, 128) for b in batches], sides, repeats, args.threads, images, args.warmup_batches)
    done = {(r["side"], r["batch_size"], r["hidden"]): r for r in batch_rows}  # batch 256, width 128 is in both
    width_rows = sweep([(256, w) for w in widths if (256, w) not in {(b, 128) for b in batches}], sides, repeats,
                       args.threads, images, args.warmup_batches)
    width_rows += [r for (side, b, w), r in done.items() if b == 256 and w in widths]
    title = (f"784-H-10 MLP, one epoch of {images:,} Fashion-MNIST images, each point its own process, median of "
             f"{repeats}, {args.threads or 'default'} thread(s)")
    if args.json:
        args.json.write_text(json.dumps({"batch": batch_rows, "width": width_rows}, indent=1))
    draw(batch_rows, width_rows, sides, title + f", {args.clock} clock", args.out, args.clock)
    print(title + f"; drawn in {args.out}\n\nepoch time (s), CPU time (s) / training's peak memory above the data (MB)"
          ", hidden width 128\n")
    print(table(batch_rows, "batch_size"))
    print("\nhidden width, batch 256\n")
    print(table(width_rows, "hidden"))


if __name__ == "__main__":
    main()
