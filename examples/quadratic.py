"""Fit a quadratic a·t² + b·t + c to noisy "speed" measurements by SGD, as in the chapter's roller coaster.

    python examples/quadratic.py [--steps 10] [--lr 1e-5] [--seed 42]

Each line shows the seven steps at work: predict, measure the loss, compute the gradient, step.
"""

from __future__ import annotations

import argparse

import sevensteps as ss


def measurements(seed: int) -> tuple[ss.Tensor, ss.Tensor]:
    """20 seconds of a speed that rises and falls: 0.75·(t − 9.5)² + 1, plus noise."""
    generator = ss.Generator(seed)
    time = ss.arange(0, 20).float()
    speed = ss.randn(20, generator=generator) * 3 + 0.75 * (time - 9.5) ** 2 + 1
    return time, speed


def quadratic(t: ss.Tensor, params: ss.Tensor) -> ss.Tensor:
    a, b, c = params[0], params[1], params[2]
    return a * (t**2) + (b * t) + c


def fit(steps: int = 10, lr: float = 1e-5, seed: int = 42) -> list[float]:
    """Train the three parameters; returns the loss before each step."""
    time, speed = measurements(seed)
    params = ss.randn(3, generator=ss.Generator(seed + 1)).requires_grad_()  # 1. init
    losses = []
    for step in range(steps):  # 6. repeat, 7. stop after `steps`
        predictions = quadratic(time, params)  # 2. predict
        loss = ss.functional.mse_loss(predictions, speed)  # 3. loss
        loss.backward()  # 4. gradient
        with ss.no_grad():  # 5. step
            params -= lr * params.grad
        params.grad = None
        losses.append(loss.item())
        print(f"step {step:2d}  loss {loss.item():10.2f}  params {[round(p, 4) for p in params.tolist()]}")
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    fit(args.steps, args.lr, args.seed)


if __name__ == "__main__":
    main()
