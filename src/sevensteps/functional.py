"""Activations and losses, as in ``torch.nn.functional``.

A loss turns a batch of predictions into one number that is small when the model is good (step 3 of
the seven). Losses take ``reduction='mean' | 'sum' | 'none'`` as in PyTorch.
"""

from __future__ import annotations

from . import ops
from .backend import xp
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


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """−[p·t·log σ(x) + (1 − t)·log(1 − σ(x))], computed from the logit x without overflow; p is ``pos_weight``
    (a weight for positive examples, per class), ``weight`` rescales each element's loss."""
    target = _as_target(target, input).to(input.dtype)
    if pos_weight is None:
        loss = ops.BinaryCrossEntropyWithLogits.apply(input, target)
    else:
        pos_weight = pos_weight if isinstance(pos_weight, Tensor) else tensor(pos_weight, dtype=input.dtype)
        loss = ops.BinaryCrossEntropyWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """−[t·log p + (1 − t)·log(1 − p)] for probabilities p; each log is clamped at −100, as in PyTorch."""
    target = _as_target(target, input).to(input.dtype)
    if input.numel() and (float(input.data.min()) < 0 or float(input.data.max()) > 1):
        raise ValueError("binary_cross_entropy: every input must be a probability between 0 and 1 "
                         "(use binary_cross_entropy_with_logits for scores)")
    loss = -(target * input.log().clamp(min=-100) + (1 - target) * (1 - input).log().clamp(min=-100))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_dim_last(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """(N, C) scores and (N,) targets (or (N, C) probabilities) from (N, C), from (C,), or from (N, C, d...)."""
    if input.ndim == 1:
        return input.unsqueeze(0), target.reshape(1) if target.ndim == 0 else target.unsqueeze(0)
    if input.ndim > 2:
        classes = input.shape[1]
        dims = (0,) + tuple(range(2, input.ndim)) + (1,)
        input = input.permute(dims).reshape(-1, classes)
        target = target.permute(dims).reshape(-1, classes) if target.is_floating_point() else target.reshape(-1)
    return input, target


def _check_targets(input: Tensor, target: Tensor, ignore_index: int) -> bool:
    """Raise unless every target is a class index (or ``ignore_index``); True if some are ``ignore_index``."""
    if input.ndim != 2 or target.ndim != 1 or len(target) != len(input):
        raise ValueError(f"expected scores (N, C) and targets (N,), got {input.shape} and {target.shape}")
    classes = input.shape[1]
    if not len(target) or (0 <= target.data.min() and target.data.max() < classes):
        return False  # the usual case, two quick reductions
    ignored = target.data == ignore_index
    valid = target.data[~ignored]
    if valid.size and (valid.min() < 0 or valid.max() >= classes):
        raise ValueError(f"targets must lie in [0, {classes}), got values from {valid.min()} to {valid.max()}")
    return bool(ignored.any())


def _unflatten_loss(loss: Tensor, input: Tensor) -> Tensor:
    """Per-example losses back in the input's batch shape ((N,) for (N, C), () for (C,), (N, d...) for more)."""
    if input.ndim == 1:
        return loss.reshape(())
    return loss.reshape(input.shape[:1] + input.shape[2:])


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """−w[t]·x[t] for log-probabilities x of shape (N, C) and class targets t; the mean divides by Σ w[t]."""
    target = target if isinstance(target, Tensor) else tensor(target)
    if target.dtype.kind not in "iu":
        raise ValueError(f"nll_loss expects integer class targets, got {target.dtype}")
    scores, flat_target = _class_dim_last(input, target)
    _check_targets(scores, flat_target, ignore_index)
    keep = flat_target.data != ignore_index
    safe = xp.where(keep, flat_target.data, 0)
    picked = scores[Tensor(xp.arange(len(safe))), Tensor(safe)]
    w = xp.ones(len(safe), dtype=scores.dtype) if weight is None else weight.data[safe].astype(scores.dtype)
    w = w * keep
    loss = -picked * Tensor(w)
    if reduction == "mean":
        return loss.sum() / Tensor(w.sum())
    return _reduce(_unflatten_loss(loss, input), reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """−log softmax(x)[t] for logits x of shape (N, C) and integer class targets t of shape (N,), or
    −Σ t·log softmax(x) for class probabilities t of x's shape; ``label_smoothing`` ε mixes the target with the
    uniform distribution, (1 − ε)·t + ε/C; ``weight`` weighs each class. The mean is PyTorch's: over the batch
    for probabilities, weighted by w[t] for class indices."""
    target = target if isinstance(target, Tensor) else tensor(target)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be between 0 and 1, got {label_smoothing}")
    if target.dtype.kind not in "iuf":
        raise ValueError(f"cross_entropy expects integer class targets or class probabilities, got {target.dtype}")
    if input.ndim == 2 and target.ndim == 1 and target.dtype.kind in "iu" and weight is None and not label_smoothing:
        if not _check_targets(input, target, ignore_index):
            return ops.CrossEntropy.apply(input, target.data, reduction)  # the hot path: one fused op
    scores, flat_target = _class_dim_last(input, target)
    classes = scores.shape[1]
    log_probs = scores.log_softmax(1)
    if flat_target.is_floating_point():
        if target.shape != input.shape:
            raise ValueError(f"class-probability targets must have the input's shape {input.shape}, got {target.shape}")
        if label_smoothing:
            flat_target = flat_target * (1 - label_smoothing) + label_smoothing / classes
        weighted = log_probs if weight is None else log_probs * weight
        loss = -(weighted * flat_target).sum(1)
        if reduction == "mean":
            return loss.sum() / len(loss) if len(loss) else loss.sum() * xp.nan
        return _reduce(_unflatten_loss(loss, input), reduction)
    _check_targets(scores, flat_target, ignore_index)
    keep = flat_target.data != ignore_index
    loss = nll_loss(log_probs, flat_target, weight, ignore_index, reduction="none")
    if label_smoothing:
        weighted = log_probs if weight is None else log_probs * weight
        smooth = -weighted.sum(1) * Tensor(keep.astype(scores.dtype))
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    if reduction == "mean":
        safe = xp.where(keep, flat_target.data, 0)
        total = keep.sum() if weight is None else (weight.data[safe] * keep).sum()
        return loss.sum() / Tensor(xp.asarray(total, dtype=scores.dtype))
    return _reduce(_unflatten_loss(loss, input), reduction)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by integer indices (of any shape); the padding row gets no gradient."""
    indices = input.data if isinstance(input, Tensor) else xp.asarray(input)
    if indices.dtype.kind not in "iu":
        raise ValueError(f"embedding expects integer indices, got {indices.dtype}")
    if indices.size and (indices.min() < -len(weight) or indices.max() >= len(weight)):
        raise IndexError(f"embedding index out of range: the table has {len(weight)} rows")
    rows = weight[Tensor(indices)]
    if padding_idx is not None:
        padding = (indices == padding_idx)[..., None]
        rows = where(Tensor(padding), rows.detach(), rows)
    return rows


def layer_norm(input: Tensor, normalized_shape: int | tuple[int, ...], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x − mean) / √(var + eps) over the last ``len(normalized_shape)`` dims (biased variance), · weight + bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape:
        raise RuntimeError(f"layer_norm: the input's shape {input.shape} does not end with {shape}")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    centred = input - input.mean(dims, keepdim=True)
    var = (centred * centred).mean(dims, keepdim=True)
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean of (x − t)²."""
    diff = input - _as_target(target, input)
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean of |x − t|."""
    return _reduce((input - _as_target(target, input)).abs(), reduction)


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "embedding", "l1_loss",
    "layer_norm", "linear", "log_softmax", "mnist_loss", "mse_loss", "nll_loss", "relu", "sigmoid", "softmax", "tanh",
]


# Convolution, pooling, dropout and batch norm: their ops live in conv.py (imported last: conv.py builds on
# the tensor and op machinery above).
from .conv import adaptive_avg_pool2d, avg_pool2d, batch_norm, conv2d, dropout, max_pool2d  # noqa: E402

__all__ += ["adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "conv2d", "max_pool2d"]
