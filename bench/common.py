"""Helpers for the benchmarks: alternating timing, medians, and twin models with identical weights."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MNIST_TEST_DIR = ROOT.parent / "shared" / "data" / "mnist"


@dataclass
class Row:
    """One line of BENCHMARKS.md: what was measured, the figure, the target, and whether it was met."""

    area: str
    what: str
    figure: str
    target: str = ""
    met: bool | None = None

    def markdown(self) -> str:
        verdict = {True: "yes", False: "**no**", None: ""}[self.met]
        return f"| {self.area} | {self.what} | {self.figure} | {self.target} | {verdict} |"


def alternate(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Run each function once untimed (warm-up: lazy initialisation, caches), then ``repeats`` times
    interleaved (A B A B ...), so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    names = list(functions)
    for function in functions.values():
        function()
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    import os

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}, "
            f"{platform.system()} {platform.machine()}")


def twin_mlp(sizes: tuple[int, ...], seed: int = 0):
    """The same ReLU MLP in sevensteps and in PyTorch, with identical initial weights (the tests use it too,
    through tests/torch_twins.py)."""
    import torch

    import sevensteps as ss

    generator = ss.Generator(seed)
    ours_layers, torch_layers = [], []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layer = ss.nn.Linear(n_in, n_out, generator=generator)
        twin = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.weight.numpy()))
            twin.bias.copy_(torch.from_numpy(layer.bias.numpy()))
        ours_layers.append(layer)
        torch_layers.append(twin)
        if i < len(sizes) - 2:
            ours_layers.append(ss.nn.ReLU())
            torch_layers.append(torch.nn.ReLU())
    return ss.nn.Sequential(*ours_layers), torch.nn.Sequential(*torch_layers)


def twin_cnn(model, n_outputs: int):
    """The built-in cnn in PyTorch with the weights of ``model`` (a ``sevensteps.layers.cnn``) copied in, name by
    name (shifts are applied to the data, outside both models). The tests use it too, through tests/torch_twins.py."""
    import torch

    twin = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)), torch.nn.Identity(),
        torch.nn.Conv2d(1, 32, 3), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 64, 3), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(1600, 128), torch.nn.ReLU(), torch.nn.Dropout(0.5),
        torch.nn.Linear(128, n_outputs))
    with torch.no_grad():
        for (name, ours), (torch_name, theirs) in zip(model.named_parameters(), twin.named_parameters(), strict=True):
            assert name == torch_name, (name, torch_name)
            theirs.copy_(torch.from_numpy(np.ascontiguousarray(ours.data)))
    return twin
