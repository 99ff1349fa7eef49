"""Activations and losses, as in ``torch.nn.functional``.

A loss turns a batch of predictions into one number that is small when the model is good (step 3 of
the seven). Losses take ``reduction='mean' | 'sum' | 'none'`` as in PyTorch.
"""

from __future__ import annotations

from . import ops
from .tensor import Tensor, tensor, where


def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ): squashes any number into (0, 1)."""
    return input.sigmoid()


def relu(input: Tensor) -> Tensor:
    """max(x, 0): the nonlinearity that makes a stack of linear layers more than one linear layer."""
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """e^xᵢ / Σⱼ e^xⱼ along ``dim``: scores into probabilities that sum to 1."""
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """log softmax(x), computed without overflow: x − max − log Σ e^(x − max)."""
    return input.log_softmax(dim)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ Wᵀ + b, as one fused op."""
    return ops.Linear.apply(input, weight, bias) if bias is not None else ops.Linear.apply(input, weight)


def _as_target(target: Tensor | object, like: Tensor) -> Tensor:
    """Targets as a tensor of the predictions' shape: (N,) and (N, 1) describe the same batch."""
    target = target if isinstance(target, Tensor) else tensor(target)
    if target.shape != like.shape:
        if target.numel() != like.numel():
            raise ValueError(f"target shape {target.shape} does not match prediction shape {like.shape}")
        target = target.reshape(like.shape)
    return target


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def mnist_loss(predictions: Tensor, targets: Tensor) -> Tensor:
    """The seed's loss: p = σ(prediction); mean of (1 − p) where the target is 1, and of p where it is 0.

    It is the distance from a perfect answer, so it falls smoothly as predictions improve, even when
    accuracy (a step function of the weights) does not change.
    """
    targets = _as_target(targets, predictions)
    p = predictions.sigmoid()
    return where(targets.data == 1, 1 - p, p).mean()


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     reduction: str = "mean") -> Tensor:
    """−[t·log σ(x) + (1 − t)·log(1 − σ(x))], computed from the logit x without overflow."""
    target = _as_target(target, input).to(input.dtype)
    return _reduce(ops.BinaryCrossEntropyWithLogits.apply(input, target), reduction)


def cross_entropy(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """−log softmax(x)[t] for logits x of shape (N, C) and integer class targets t of shape (N,)."""
    target = target if isinstance(target, Tensor) else tensor(target)
    if input.ndim != 2 or target.ndim != 1 or len(target) != len(input):
        raise ValueError(f"cross_entropy expects logits (N, C) and targets (N,), got {input.shape} and {target.shape}")
    if target.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy expects integer class targets, got {target.dtype}")
    classes = input.shape[1]
    if len(target) and (target.data.min() < 0 or target.data.max() >= classes):
        low, high = target.data.min(), target.data.max()
        raise ValueError(f"cross_entropy targets must lie in [0, {classes}), got values from {low} to {high}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    return ops.CrossEntropy.apply(input, target.data, reduction)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean of (x − t)²."""
    diff = input - _as_target(target, input)
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean of |x − t|."""
    return _reduce((input - _as_target(target, input)).abs(), reduction)
