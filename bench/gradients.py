"""Gradients: backpropagation vs nudging each weight (central differences, float64), on one batch.

    python bench/gradients.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row

import sevensteps as ss
import sevensteps.functional as F
from sevensteps.data import load_splits
from sevensteps.models import make_model


def check(splits, kind: str, batch: int) -> Row:
    x = ss.Tensor(splits.train.images[:batch].reshape(-1, 784).astype("float64"))
    y = ss.Tensor(splits.targets(splits.train)[:batch].reshape(-1, 1))
    model = make_model(kind, 1, 30, ss.Generator(0))
    params = [p for module in model if isinstance(module, ss.nn.Linear) for p in (module.weight, module.bias)]
    n_layers = len(params) // 2

    def loss(*weights):
        h = x
        for i in range(n_layers):
            h = F.linear(h, weights[2 * i], weights[2 * i + 1])
            if i < n_layers - 1:
                h = h.relu()
        return F.mnist_loss(h, y)

    result = ss.gradcheck(loss, params)
    linear = kind == "linear"
    return Row("3. gradients", f"{kind}: {result.count:,} weights, batch {batch}: backprop vs nudging",
               f"{result.speedup:,.0f}x faster, largest difference {result.max_abs_error:.1e} "
               f"(nudging {result.numeric_seconds:.2f}s, backprop {result.backprop_seconds * 1e3:.2f}ms)",
               ">= 100x, < 1e-6" if linear else "",
               (result.speedup >= 100 and result.max_abs_error < 1e-6) if linear else None)


def run() -> list[Row]:
    splits = load_splits("sample", log=lambda m: None)
    return [check(splits, "linear", 256), check(splits, "mlp", 64)]


if __name__ == "__main__":
    for row in run():
        print(f"{row.what}: {row.figure}")
