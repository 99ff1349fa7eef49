"""The seed's experiment: 3 vs 7 trained on the `sample` digits, validated on the real MNIST test set.

sevensteps' Learner (what `sevensteps train` runs: the seven steps, validation every epoch) against the same
loop written in PyTorch, from the same initial weights through the same batches. Prints the ratio of the
median whole-training times and both final accuracies.

    python bench/seed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MNIST_TEST_DIR, Row, alternate, median

import sevensteps as ss
from sevensteps.data import load_splits
from sevensteps.digits import digit_learner
from sevensteps.models import make_model, n_outputs_for
from sevensteps.runs import Rules, Settings


def torch_mnist_loss(predictions, targets):
    p = predictions.sigmoid()
    return torch.where(targets == 1, 1 - p, p).mean()


def torch_fit(splits, settings: Settings, epochs: int) -> float:
    """The Learner's loop, line for line, in PyTorch; returns the final validation accuracy."""
    generator = ss.Generator(settings.seed)  # same draws as Learner.init: weights first, then shuffles
    ours = make_model(settings.model, n_outputs_for(2), settings.hidden, generator)
    layers = []
    for module in ours:
        if isinstance(module, ss.nn.Linear):
            layer = torch.nn.Linear(module.in_features, module.out_features)
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(module.weight.numpy()))
                layer.bias.copy_(torch.from_numpy(module.bias.numpy()))
            layers.append(layer)
        elif isinstance(module, ss.nn.ReLU):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=settings.lr)
    x = torch.from_numpy(splits.train.images.reshape(-1, 784))
    y = torch.from_numpy(splits.targets(splits.train).astype(np.float32).reshape(-1, 1))
    vx = torch.from_numpy(splits.valid.images.reshape(-1, 784))
    vy = torch.from_numpy(splits.targets(splits.valid).astype(np.float32).reshape(-1, 1))
    accuracy = 0.0
    for _ in range(epochs):
        order = torch.from_numpy(generator.permutation(len(x)))
        for start in range(0, len(x), settings.batch_size):
            index = order[start:start + settings.batch_size]
            loss = torch_mnist_loss(model(x[index]), y[index])
            loss.backward()
            opt.step()
            opt.zero_grad()
        with torch.no_grad():
            preds = model(vx)
            torch_mnist_loss(preds, vy).item()
            accuracy = float(((preds > 0).float() == vy).float().mean())
    return accuracy


def compare(splits, settings: Settings, epochs: int, repeats: int) -> Row:
    accuracy = {}

    def ours():
        learner = digit_learner(splits, settings, Rules(epochs=epochs), quiet=True)
        learner.fit()
        accuracy["sevensteps"] = learner.history[-1].valid_accuracy

    def theirs():
        accuracy["pytorch"] = torch_fit(splits, settings, epochs)

    times = alternate({"sevensteps": ours, "pytorch": theirs}, repeats)
    ratio = median(times["sevensteps"]) / median(times["pytorch"])
    recipe = f"lr {settings.lr:g}, batch {settings.batch_size}, {epochs} epochs"
    return Row("1. chapter", f"3 vs 7, {settings.model} ({recipe}), 1,000 sample digits, 2,038 test digits: "
               "training time sevensteps / PyTorch",
               f"{ratio:.2f} ({median(times['sevensteps']):.3f}s vs {median(times['pytorch']):.3f}s; "
               f"accuracy {accuracy['sevensteps']:.2%} vs {accuracy['pytorch']:.2%})", "<= 0.8", ratio <= 0.8)


def run(repeats: int = 5) -> list[Row]:
    if not (MNIST_TEST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        return [Row("1. chapter", "3 vs 7 on the real MNIST test set", f"skipped: {MNIST_TEST_DIR} is absent")]
    splits = load_splits("sample", valid=MNIST_TEST_DIR, log=lambda m: None)
    return [compare(splits, Settings("linear", lr=1.0, batch_size=256), 20, repeats),
            compare(splits, Settings("mlp", lr=0.5, batch_size=64), 40, repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for row in run(args.repeats):
        print(f"{row.what}: {row.figure}  [target {row.target or '-'}]")


if __name__ == "__main__":
    main()
