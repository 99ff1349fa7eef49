"""Gradients by nudging versus by calculus.

The seed calls the gradient "just a performance optimization": you could find how the loss changes
with each weight by nudging that weight a little and watching the loss. :func:`gradcheck` does exactly
that, with central differences in float64,

    ∂f/∂wᵢ ≈ (f(w + ε·eᵢ) − f(w − ε·eᵢ)) / 2ε,

one pair of forward passes per weight, and compares it with one backward pass, reporting both the
largest disagreement and how much faster backpropagation was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .autograd import no_grad
from .backend import xp
from .tensor import Tensor


@dataclass
class GradcheckResult:
    """The outcome of comparing numerical and backprop gradients."""

    max_abs_error: float
    max_rel_error: float
    numeric_seconds: float
    backprop_seconds: float
    numeric: list[Any]
    backprop: list[Any]

    @property
    def speedup(self) -> float:
        """How many times faster backprop found the gradient than nudging each weight."""
        return self.numeric_seconds / max(self.backprop_seconds, 1e-12)

    @property
    def count(self) -> int:
        return sum(g.size for g in self.backprop)

    def ok(self, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
        pairs = zip(self.numeric, self.backprop, strict=True)
        return all(bool(xp.allclose(n, b, atol=atol, rtol=rtol)) for n, b in pairs)

    def __str__(self) -> str:
        return (f"{self.count} gradients: largest difference {self.max_abs_error:.2e} "
                f"(relative {self.max_rel_error:.2e}); backprop {self.speedup:,.0f}x faster than nudging")


def _scalar(out: Tensor, projection: Any) -> Tensor:
    """A scalar to differentiate: the output itself, or its dot product with a fixed random vector."""
    return out if projection is None else (out * Tensor(projection)).sum()


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6, seed: int = 0) -> GradcheckResult:
    """Compare backprop with central differences for every element of every input that requires grad.

    ``fn(*inputs)`` may return any shape; a non-scalar output is projected on a fixed random vector
    (this checks the vector-Jacobian product backprop computes). Inputs are converted to float64 copies.
    """
    # Row-major float64 copies: nudging goes through a flat view, which only a contiguous array has.
    inputs = [Tensor(xp.array(t.data, dtype=xp.float64, order="C"), requires_grad=t.requires_grad) for t in inputs]
    wanted = [t for t in inputs if t.requires_grad]
    if not wanted:
        raise ValueError("gradcheck needs at least one input with requires_grad=True")
    with no_grad():
        out = fn(*inputs)
    projection = None
    if out.data.size != 1:
        projection = xp.random.default_rng(seed).standard_normal(out.shape)

    start = time.perf_counter()
    loss = _scalar(fn(*inputs), projection)
    loss.backward()
    backprop_seconds = time.perf_counter() - start
    backprop = [t.grad.data.copy() if t.grad is not None else xp.zeros_like(t.data) for t in wanted]

    start = time.perf_counter()
    numeric = []
    with no_grad():
        for t in wanted:
            grad = xp.zeros(t.shape, dtype=xp.float64)
            flat, flat_grad = t.data.reshape(-1), grad.reshape(-1)  # views: both arrays are row-major
            for i in range(flat.size):
                original = flat[i]
                flat[i] = original + eps
                plus = _scalar(fn(*inputs), projection).item()
                flat[i] = original - eps
                minus = _scalar(fn(*inputs), projection).item()
                flat[i] = original
                flat_grad[i] = (plus - minus) / (2 * eps)
            numeric.append(grad)
    numeric_seconds = time.perf_counter() - start

    abs_errors = [xp.abs(n - b) for n, b in zip(numeric, backprop, strict=True)]
    max_abs = max(float(e.max()) if e.size else 0.0 for e in abs_errors)
    max_rel = max(float((e / xp.maximum(xp.abs(n), 1e-8)).max()) if e.size else 0.0
                  for e, n in zip(abs_errors, numeric, strict=True))
    return GradcheckResult(max_abs, max_rel, numeric_seconds, backprop_seconds, numeric, backprop)


def gradcheck_output_layer(model: Any, x: Tensor, loss: Callable[[Tensor], Tensor],
                           eps: float = 1e-6) -> GradcheckResult:
    """:func:`gradcheck` for a model's last layer (y = x Wᵀ + b): the weights into its first output, and its biases.

    That is every weight of a model with one output, such as the seed's linear model (785 numbers). For more
    outputs, the other rows of weights are held fixed, which keeps the check to about a thousand forward
    passes. The layers before the last are computed once, in float64, and held fixed too. ``model`` is a
    Sequential whose last layer has ``weight`` and ``bias``; ``loss`` maps its scores to a scalar.
    """
    from . import functional as F
    from .tensor import cat

    *body, head = model
    with no_grad():
        for layer in body:
            x = layer(x)
    features = Tensor(xp.asarray(x.data, dtype=xp.float64))
    rest = Tensor(xp.asarray(head.weight.data[1:], dtype=xp.float64))

    def loss_of(first_row: Tensor, bias: Tensor) -> Tensor:
        weight = cat([first_row, rest]) if rest.shape[0] else first_row
        return loss(F.linear(features, weight, bias))

    return gradcheck(loss_of, [Tensor(head.weight.data[:1], requires_grad=True),
                               Tensor(head.bias.data, requires_grad=True)], eps=eps)
