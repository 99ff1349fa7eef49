"""Per-epoch training time: sevensteps vs PyTorch (CPU), same net, same weights, same batches.

A 784-128-10 ReLU MLP, softmax cross-entropy, plain SGD (lr 0.1), batch 256, one epoch over
Fashion-MNIST's 60,000 training images (/usr/share/datasets/fashion-mnist, from Debian's
dataset-fashion-mnist). Both engines run in this one process, alternating, and the ratio of their
median epoch times is printed (ratio < 1: sevensteps is faster). Absolute times drift on shared
machines; the ratio measured in one run is what counts.

    python bench/engine.py [--epochs 5] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import statistics
import time
from itertools import pairwise

import numpy as np
import torch

import sevensteps as ss
import sevensteps.functional as F
from sevensteps.data import load_splits


def fashion() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    splits = load_splits("fashion-mnist", digits=None, log=lambda m: None)
    return (splits.train.images.reshape(-1, 784), splits.train.labels,
            splits.valid.images.reshape(-1, 784), splits.valid.labels)


def twin_weights(seed: int, sizes=(784, 128, 10)) -> list[np.ndarray]:
    generator = ss.Generator(seed)
    layers = [ss.nn.Linear(a, b, generator=generator) for a, b in pairwise(sizes)]
    return [p.numpy().copy() for layer in layers for p in (layer.weight, layer.bias)]


class Ours:
    name = "sevensteps"

    def __init__(self, weights, lr):
        self.model = ss.nn.Sequential(ss.nn.Linear(784, 128), ss.nn.ReLU(), ss.nn.Linear(128, 10))
        for param, value in zip(self.model.parameters(), weights, strict=True):
            param.data[...] = value
        self.opt = ss.optim.SGD(self.model.parameters(), lr=lr)

    def epoch(self, x, y, batches):
        for index in batches:
            loss = F.cross_entropy(self.model(ss.Tensor(x[index])), ss.Tensor(y[index]))
            loss.backward()
            self.opt.step()
            self.opt.zero_grad()

    def accuracy(self, x, y) -> float:
        with ss.no_grad():
            return float((self.model(ss.Tensor(x)).numpy().argmax(1) == y).mean())


class Theirs:
    name = "pytorch"

    def __init__(self, weights, lr):
        self.model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
        with torch.no_grad():
            for param, value in zip(self.model.parameters(), weights, strict=True):
                param.copy_(torch.from_numpy(value))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)

    def epoch(self, x, y, batches):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        for index in batches:
            index = torch.from_numpy(index)
            loss = torch.nn.functional.cross_entropy(self.model(xt[index]), yt[index])
            loss.backward()
            self.opt.step()
            self.opt.zero_grad()

    def accuracy(self, x, y) -> float:
        with torch.no_grad():
            return float((self.model(torch.from_numpy(x)).numpy().argmax(1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()

    x, y, vx, vy = fashion()
    weights = twin_weights(0)
    engines = [Ours(weights, args.lr), Theirs(weights, args.lr)]
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {e.name: [] for e in engines}
    for epoch in range(args.epochs):
        order = rng.permutation(len(x))
        batches = [order[i:i + args.batch_size] for i in range(0, len(x), args.batch_size)]
        for engine in engines if epoch % 2 == 0 else engines[::-1]:
            start = time.perf_counter()
            engine.epoch(x, y, batches)
            times[engine.name].append(time.perf_counter() - start)
    ours, theirs = (statistics.median(times[e.name]) for e in engines)
    print(f"784-128-10 MLP, SGD lr {args.lr}, batch {args.batch_size}, {len(x):,} Fashion-MNIST images, "
          f"{args.epochs} epochs each; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for engine in engines:
        print(f"  {engine.name:>10}: median epoch {statistics.median(times[engine.name]):.3f}s "
              f"(min {min(times[engine.name]):.3f}s), valid accuracy {engine.accuracy(vx, vy):.2%}")
    print(f"  ratio sevensteps / pytorch: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
