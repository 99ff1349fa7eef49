"""Batch normalisation, as ``torch.nn.functional.batch_norm``: per-channel statistics, running averages."""

from __future__ import annotations

from typing import Any

from .autograd import Context, Function
from .backend import xp
from .tensor import Tensor


class BatchNorm(Function):
    """Per channel c: x̂ = (x − μ_c) / √(σ²_c + ε),  out = γ_c·x̂ + β_c.

    Training: μ, σ² are the batch's mean and (biased) variance over every axis but the channels, and the
    running statistics move towards them (running_var with the unbiased variance, as PyTorch);
    ∂x = (γ/σ̂)·(g − mean(g) − x̂·mean(g·x̂)), the means over a channel's n values, σ̂ = √(σ² + ε).
    Evaluation: μ, σ² are the running statistics, constants, so ∂x = g·γ/σ̂.
    Both: ∂γ = Σ g·x̂,  ∂β = Σ g.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                training: bool, momentum: float, eps: float) -> Any:
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            count = x.size // x.shape[1]
            mean = x.mean(axis=axes)
            centered = x - mean.reshape(shape)
            var = xp.mean(centered * centered, axis=axes)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += momentum * var * (count / (count - 1))
        else:
            centered = x - running_mean.reshape(shape)
            var = running_var
        invstd = (1 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat = centered * invstd.reshape(shape)
        out = x_hat * weight.reshape(shape) if weight is not None else x_hat.copy()
        if bias is not None:
            out += bias.reshape(shape)
        ctx.save_for_backward(x_hat, invstd, weight)
        ctx.axes, ctx.shape, ctx.training = axes, shape, training
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        x_hat, invstd, weight = ctx.saved_tensors
        axes, shape = ctx.axes, ctx.shape
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        grad_w = (g * x_hat).sum(axis=axes) if needs_w else None
        grad_b = g.sum(axis=axes) if needs_b else None
        grad_x = None
        if needs_x:
            scale = invstd if weight is None else invstd * weight
            if ctx.training:
                mean_g = g.mean(axis=axes).reshape(shape)
                mean_g_xhat = (g * x_hat).mean(axis=axes).reshape(shape)
                grad_x = (g - mean_g - x_hat * mean_g_xhat) * scale.reshape(shape)
            else:
                grad_x = g * scale.reshape(shape)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def _batch_norm(layer: str, input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                weight: Tensor | None, bias: Tensor | None, training: bool, momentum: float, eps: float) -> Tensor:
    if input.ndim < 2:
        raise ValueError(f"{layer}: expected input of shape (N, C, ...), got {input.shape}")
    channels = input.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                        ("bias", bias)):
        if value is not None and value.shape != (channels,):
            raise ValueError(f"{layer}: {name} has shape {value.shape}, but the input {input.shape} has "
                             f"{channels} channels (expected ({channels},))")
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{layer}: evaluation needs running_mean and running_var (or training=True)")
    if training and input.numel() // max(channels, 1) <= 1:
        raise ValueError(f"{layer}: expected more than 1 value per channel when training, got input {input.shape}")
    return BatchNorm.apply(input, weight, bias, running_mean, running_var, training=training, momentum=momentum,
                           eps=eps)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel to mean 0, variance 1 (batch statistics in training, running ones otherwise),
    then scale by ``weight`` and shift by ``bias``; training also updates the running statistics in place."""
    return _batch_norm("batch_norm", input, running_mean, running_var, weight, bias, training, momentum, eps)
