"""Scale: one epoch of a 784-128-10 ReLU MLP over Fashion-MNIST's 60,000 training images.

sevensteps vs PyTorch CPU (same initial weights, same batches, softmax cross-entropy, SGD lr 0.1), and vs
the floor: the same epoch's matrix products alone, in NumPy. All three alternate in this one process;
the ratios of median epoch times are what count (ratio < 1: sevensteps is faster).

    python bench/engine.py [--repeats 5] [--batch-sizes 256,64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, alternate, median, twin_mlp

import sevensteps as ss
import sevensteps.functional as F
from sevensteps.data import load_splits


def fashion():
    splits = load_splits("fashion-mnist", digits=None, log=lambda m: None)
    return (splits.train.images.reshape(-1, 784), splits.train.labels,
            splits.valid.images.reshape(-1, 784), splits.valid.labels)


def compare(x, y, vx, vy, batch_size: int, repeats: int, lr: float) -> list[Row]:
    """One batch size: sevensteps, PyTorch and the matmul floor, alternating, over the same batches."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    ours, theirs = twin_mlp((784, 128, 10))
    ours_opt = ss.optim.SGD(ours.parameters(), lr=lr)
    torch_opt = torch.optim.SGD(theirs.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(x)) for _ in range(repeats + 1)]  # the warm-up epoch, then the timed ones
    epochs_done = {"sevensteps": 0, "pytorch": 0, "floor": 0, "floor, other layout": 0}
    w1, _, w2, _ = (np.asfortranarray(p.numpy()) for p in ours.parameters())  # the engine's layout
    w1c, w2c = np.ascontiguousarray(w1), np.ascontiguousarray(w2)
    g1, g2 = np.ones((batch_size, 128), np.float32), np.ones((batch_size, 10), np.float32)

    def batches(engine: str):
        """Every engine sees the same batches in the same order, epoch by epoch."""
        order = orders[epochs_done[engine]]
        epochs_done[engine] += 1
        return [order[i:i + batch_size] for i in range(0, len(x), batch_size)]

    def sevensteps_epoch():
        for index in batches("sevensteps"):
            loss = F.cross_entropy(ours(ss.Tensor(x[index])), ss.Tensor(y[index]))
            loss.backward()
            ours_opt.step()
            ours_opt.zero_grad()

    def pytorch_epoch():
        for index in batches("pytorch"):
            index = torch.from_numpy(index)
            loss = torch.nn.functional.cross_entropy(theirs(xt[index]), yt[index])
            loss.backward()
            torch_opt.step()
            torch_opt.zero_grad()

    def matmul_floor():
        """The five matrix products of one step (two forward, three backward), nothing else, in the
        engine's layout: column-major weights, weight gradients as (xᵀ @ g)ᵀ."""
        for index in batches("floor"):
            xb = x[index]
            n = len(xb)
            h = xb @ w1.T
            _ = h @ w2.T
            _ = (h.T @ g2[:n]).T
            _ = g2[:n] @ w2
            _ = (xb.T @ g1[:n]).T

    def matmul_floor_other_layout():
        """The same products with row-major weights (PyTorch's layout): the floor is the faster of the two."""
        for index in batches("floor, other layout"):
            xb = x[index]
            n = len(xb)
            h = xb @ w1c.T
            _ = h @ w2c.T
            _ = g2[:n].T @ h
            _ = g2[:n] @ w2c
            _ = g1[:n].T @ xb

    times = alternate({"sevensteps": sevensteps_epoch, "pytorch": pytorch_epoch, "floor": matmul_floor,
                       "floor, other layout": matmul_floor_other_layout}, repeats)
    ours_t, torch_t = median(times["sevensteps"]), median(times["pytorch"])
    floor_t = min(median(times["floor"]), median(times["floor, other layout"]))
    with ss.no_grad(), torch.no_grad():
        ours_acc = float((ours(ss.Tensor(vx)).numpy().argmax(1) == vy).mean())
        torch_acc = float((theirs(torch.from_numpy(vx)).numpy().argmax(1) == vy).mean())
    label = f"784-128-10 MLP, batch {batch_size}, 60,000 images"
    floor_target = batch_size == 256
    return [
        Row("2. scale", f"{label}: epoch time sevensteps / PyTorch",
            f"{ours_t / torch_t:.2f} ({ours_t:.3f}s vs {torch_t:.3f}s; accuracy {ours_acc:.2%} vs {torch_acc:.2%} "
            f"after {repeats + 1} epochs)", "<= 0.8", ours_t / torch_t <= 0.8),
        Row("2. scale", f"{label}: sevensteps / matrix-product floor", f"{ours_t / floor_t:.2f} (floor {floor_t:.3f}s)",
            "<= 1.4" if floor_target else "", ours_t / floor_t <= 1.4 if floor_target else None),
    ]


def run(repeats: int = 5, batch_sizes: tuple[int, ...] = (256, 64), lr: float = 0.1) -> list[Row]:
    x, y, vx, vy = fashion()
    return [row for batch_size in batch_sizes for row in compare(x, y, vx, vy, batch_size, repeats, lr)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", default="256,64")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for row in run(args.repeats, tuple(int(b) for b in args.batch_sizes.split(","))):
        print(f"{row.what}: {row.figure}  [target {row.target or '-'}]")


if __name__ == "__main__":
    main()
