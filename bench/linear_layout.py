"""Why nn.Linear keeps W column-major: the layer's three products in each layout, alternately, in CPU time.

    python bench/linear_layout.py [--repeats 5] [--steps 50]

W has PyTorch's shape (out, in) either way. Row-major (PyTorch's layout) computes ∂W = gᵀ @ x; column-major
(sevensteps') computes (xᵀ @ g)ᵀ, the same numbers. The script prints, per layer shape and batch size, the CPU
time of forward (x @ Wᵀ), ∂x (g @ W) and ∂W in each layout, and their ratio column-major / row-major.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def products(x, w, g, column_major: bool):
    out = x @ w.T
    grad_x = g @ w
    grad_w = (x.T @ g).T if column_major else g.T @ x
    return out, grad_x, grad_w


def measure(n_in: int, n_out: int, batch: int, steps: int, repeats: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n_in), dtype=np.float32)
    g = rng.standard_normal((batch, n_out), dtype=np.float32)
    w = rng.standard_normal((n_out, n_in), dtype=np.float32)
    layouts = {"row-major": (np.ascontiguousarray(w), False), "column-major": (np.asfortranarray(w), True)}
    times: dict[str, list[float]] = {name: [] for name in layouts}
    for weight, column in layouts.values():  # warm-up
        products(x, weight, g, column)
    for r in range(repeats):
        for name in list(layouts) if r % 2 == 0 else list(layouts)[::-1]:
            weight, column = layouts[name]
            start = time.process_time()
            for _ in range(steps):
                products(x, weight, g, column)
            times[name].append((time.process_time() - start) / steps)
    return statistics.median(times["row-major"]), statistics.median(times["column-major"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    print("| layer (in → out) | batch | row-major, µs CPU | column-major, µs CPU | column / row |")
    print("|---|---|---|---|---|")
    for n_in, n_out in ((784, 128), (128, 10), (784, 1)):
        for batch in (256, 64):
            row, column = measure(n_in, n_out, batch, args.steps, args.repeats)
            print(f"| {n_in} → {n_out} | {batch} | {row * 1e6:.0f} | {column * 1e6:.0f} | {column / row:.2f} |")


if __name__ == "__main__":
    main()
