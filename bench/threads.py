"""When splitting an op's work over threads pays: the same MLP epochs with NumPy's own BLAS threads and with
``sevensteps.set_num_threads`` (each op splits its big work; NumPy's BLAS gets one thread).

Each figure is its own process (a process's BLAS settings stay with it), the two sides alternate, and the
median of ``--repeats`` epochs is kept after a warm-up epoch. For the cnn, ``bench/conv.py speed`` compares the
split engine with PyTorch.

    python bench/threads.py [--images 25600] [--hidden 30,128] [--batch-sizes 64,256] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine

ONE_SIDE = """
import sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import sevensteps as ss
import sevensteps.functional as F
from conv import fashion
from sevensteps import cli, threads

side, batch_size, hidden, n_images, n_threads, repeats = sys.argv[2], *map(int, sys.argv[3:])
cli.keep_freed_memory()
if side == "split":
    threads.set_num_threads(n_threads)
x, y = fashion("train")
x, y = np.ascontiguousarray(x[:n_images].reshape(-1, 784)), y[:n_images]
model = ss.nn.Sequential(ss.nn.Linear(784, hidden, generator=ss.Generator(0)), ss.nn.ReLU(),
                         ss.nn.Linear(hidden, 10, generator=ss.Generator(1)))
opt = ss.optim.SGD(model.parameters(), lr=0.1)

def epoch():
    for start in range(0, len(x), batch_size):
        loss = F.cross_entropy(model(ss.Tensor(x[start:start + batch_size])), ss.Tensor(y[start:start + batch_size]))
        loss.backward()
        opt.step()
        opt.zero_grad()

epoch()
times = []
for _ in range(repeats):
    start = time.perf_counter()
    epoch()
    times.append(time.perf_counter() - start)
print(float(np.median(times)))
"""


def one_side(side: str, batch_size: int, hidden: int, images: int, n_threads: int, repeats: int) -> float:
    args = [str(Path(__file__).resolve().parent), side, *map(str, (batch_size, hidden, images, n_threads, repeats))]
    result = subprocess.run([sys.executable, "-c", ONE_SIDE, *args], capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=25_600)
    parser.add_argument("--hidden", default="30,128")
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two sides per figure")
    args = parser.parse_args()
    print(machine(), flush=True)
    print(f"\n784-hidden-10 MLP, {args.images:,} Fashion-MNIST images, SGD, ms per epoch (median of {args.repeats} "
          f"epochs, then of {args.rounds} alternating processes), {args.threads} threads")
    print("\n| hidden | batch | NumPy's BLAS threads | split (set_num_threads) | split / BLAS |\n|---|---|---|---|---|")
    for hidden in map(int, args.hidden.split(",")):
        for batch_size in map(int, args.batch_sizes.split(",")):
            times: dict[str, list[float]] = {"blas": [], "split": []}
            for r in range(args.rounds):
                for side in ("blas", "split") if r % 2 == 0 else ("split", "blas"):
                    times[side].append(one_side(side, batch_size, hidden, args.images, args.threads, args.repeats))
            blas, split = (statistics.median(times[s]) * 1000 for s in ("blas", "split"))
            print(f"| {hidden} | {batch_size} | {blas:.0f} | {split:.0f} | {split / blas:.2f} |", flush=True)


if __name__ == "__main__":
    main()
