"""Every primitive op: its forward and its gradient, side by side.

Notation in the docstrings: ``g`` is the gradient arriving from the op's output (∂loss/∂out), and
``∂a`` is what backward returns for input ``a`` (∂loss/∂a). Gradients are returned in the broadcast
shape; ``autograd.unbroadcast`` sums them back to each input's shape. Inputs that are not tensors (a
Python number, an index) get ``None``.
"""

from __future__ import annotations

from typing import Any

from .autograd import Context, Function
from .backend import xp

# ---------------------------------------------------------------- arithmetic


class Add(Function):
    """out = a + b;  ∂a = g,  ∂b = g."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        return xp.add(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g, g


class Sub(Function):
    """out = a − b;  ∂a = g,  ∂b = −g."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        return xp.subtract(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """out = a·b;  ∂a = g·b,  ∂b = g·a."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return xp.multiply(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None, g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    """out = a / b;  ∂a = g / b,  ∂b = −g·a / b² = −g·out / b."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        out = xp.true_divide(a, b)
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        b, out = ctx.saved_tensors
        return (g / b if ctx.needs_input_grad[0] else None, -g * out / b if ctx.needs_input_grad[1] else None)


class Pow(Function):
    """out = aᵇ;  ∂a = g·b·aᵇ⁻¹,  ∂b = g·out·ln a."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        out = xp.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b, out = ctx.saved_tensors
        grad_a = g * b * xp.power(a, b - 1) if ctx.needs_input_grad[0] else None
        grad_b = g * out * xp.log(a) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Neg(Function):
    """out = −a;  ∂a = −g."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        return xp.negative(a)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return (-g,)


class MatMul(Function):
    """out = a @ b (batched, broadcasting, 1-D as in NumPy);  ∂a = g @ bᵀ,  ∂b = aᵀ @ g."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return xp.matmul(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        # A vector is a 1-row (left) or 1-column (right) matrix whose extra axis the product dropped.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        if a.ndim == 1:
            g = xp.expand_dims(g, -2)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = xp.matmul(g, xp.swapaxes(b2, -1, -2))
            grad_a = grad_a.reshape(grad_a.shape[:-2] + (a.shape[-1],)) if a.ndim == 1 else grad_a
        if ctx.needs_input_grad[1]:
            grad_b = xp.matmul(xp.swapaxes(a2, -1, -2), g)
            grad_b = grad_b.reshape(grad_b.shape[:-2] + (b.shape[0],)) if b.ndim == 1 else grad_b
        return grad_a, grad_b


# ---------------------------------------------------------------- elementwise functions


class Exp(Function):
    """out = eᵃ;  ∂a = g·out."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        out = xp.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        return (g * out,)


class Log(Function):
    """out = ln a;  ∂a = g / a."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return xp.log(a)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        return (g / a,)


class Sqrt(Function):
    """out = √a;  ∂a = g / (2·out)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        out = xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        return (g / (2 * out),)


class Abs(Function):
    """out = |a|;  ∂a = g·sign(a) (0 at 0, as in PyTorch)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return xp.abs(a)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        return (g * xp.sign(a),)


def stable_sigmoid(a: Any) -> Any:
    """σ(a) = 1 / (1 + e⁻ᵃ), computed from e^−|a| so that no exponential can overflow."""
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    """out = σ(a) = 1 / (1 + e⁻ᵃ);  ∂a = g·out·(1 − out)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        out = stable_sigmoid(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        return (g * out * (1 - out),)


class Tanh(Function):
    """out = tanh a;  ∂a = g·(1 − out²)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        out = xp.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        return (g * (1 - out * out),)


class ReLU(Function):
    """out = max(a, 0);  ∂a = g where a > 0, else 0."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        out = xp.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        # g·mask, not where(mask, g, 0): same numbers for finite g, and 8x faster on a random mask.
        return (g * (out > 0),)


class Maximum(Function):
    """out = max(a, b) elementwise;  the larger input gets g, a tie splits it in half (as PyTorch does)."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        share_a = (a > b) + 0.5 * (a == b)
        return (g * share_a if ctx.needs_input_grad[0] else None,
                g * (1 - share_a) if ctx.needs_input_grad[1] else None)


class Clamp(Function):
    """out = min(max(a, low), high);  ∂a = g where low ≤ a ≤ high, else 0."""

    @staticmethod
    def forward(ctx: Context, a: Any, low: float | None, high: float | None) -> Any:
        ctx.save_for_backward(a)
        ctx.low, ctx.high = low, high
        return xp.clip(a, low, high)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        inside = xp.ones(a.shape, dtype=bool)
        if ctx.low is not None:
            inside &= a >= ctx.low
        if ctx.high is not None:
            inside &= a <= ctx.high
        return (xp.where(inside, g, 0), None, None)


class Where(Function):
    """out = a where cond else b;  ∂a = g where cond,  ∂b = g where not cond."""

    @staticmethod
    def forward(ctx: Context, cond: Any, a: Any, b: Any) -> Any:
        ctx.save_for_backward(cond)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (cond,) = ctx.saved_tensors
        return (None, xp.where(cond, g, 0) if ctx.needs_input_grad[1] else None,
                xp.where(cond, 0, g) if ctx.needs_input_grad[2] else None)


# ---------------------------------------------------------------- reductions


def _axes(dim: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(d % max(ndim, 1) for d in dims)) if ndim else ()


def _expand_reduced(g: Any, shape: tuple[int, ...], axes: tuple[int, ...], keepdim: bool) -> Any:
    """Put back the reduced axes as size 1 (unless keepdim kept them) and broadcast to ``shape``."""
    if not keepdim:
        for axis in axes:
            g = xp.expand_dims(g, axis)
    return xp.broadcast_to(g, shape)


class Sum(Function):
    """out = Σ a over ``dim``;  ∂a = g, copied to every element that was summed."""

    @staticmethod
    def forward(ctx: Context, a: Any, dim: Any = None, keepdim: bool = False) -> Any:
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, _axes(dim, a.ndim), keepdim
        return xp.sum(a, axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return (_expand_reduced(g, ctx.shape, ctx.axes, ctx.keepdim),)


class Mean(Function):
    """out = (1/n)·Σ a over ``dim``;  ∂a = g / n for every element."""

    @staticmethod
    def forward(ctx: Context, a: Any, dim: Any = None, keepdim: bool = False) -> Any:
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, _axes(dim, a.ndim), keepdim
        ctx.count = 1
        for axis in ctx.axes:
            ctx.count *= a.shape[axis]
        return xp.mean(a, axis=ctx.axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return (_expand_reduced(g / ctx.count, ctx.shape, ctx.axes, ctx.keepdim),)


class Max(Function):
    """out = max a over all elements;  ∂a = g shared equally among the elements equal to the max."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        if a.size == 0:
            raise RuntimeError("max() of an empty tensor")
        out = xp.max(a)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, out = ctx.saved_tensors
        winners = a == out
        return (xp.where(winners, g / winners.sum(), 0),)


class MaxDim(Function):
    """out = max a along ``dim``, with the index that won;  ∂a = g at that index, 0 elsewhere."""

    @staticmethod
    def forward(ctx: Context, a: Any, dim: int, keepdim: bool = False) -> Any:
        (axis,) = _axes(dim, a.ndim) or (0,)
        index = xp.expand_dims(xp.argmax(a, axis=axis), axis)
        ctx.shape, ctx.axis, ctx.index, ctx.keepdim = a.shape, axis, index, keepdim
        out = xp.take_along_axis(a, index, axis=axis)
        return out if keepdim else xp.squeeze(out, axis)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        g = g if ctx.keepdim else xp.expand_dims(g, ctx.axis)
        xp.put_along_axis(grad, ctx.index, g, axis=ctx.axis)
        return (grad,)


# ---------------------------------------------------------------- shapes


class Reshape(Function):
    """out = a with a new shape, same elements in the same order;  ∂a = g reshaped back."""

    @staticmethod
    def forward(ctx: Context, a: Any, shape: tuple[int, ...]) -> Any:
        ctx.shape = a.shape
        try:
            return xp.reshape(a, shape)
        except ValueError as error:
            raise RuntimeError(f"shape {tuple(shape)} is invalid for a tensor of shape {a.shape}") from error

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return (xp.reshape(g, ctx.shape), None)


class Permute(Function):
    """out = a with its axes reordered;  ∂a = g with the inverse order."""

    @staticmethod
    def forward(ctx: Context, a: Any, dims: tuple[int, ...]) -> Any:
        if sorted(d % max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
            raise RuntimeError(f"permute({dims}) does not name each of the {a.ndim} dimensions once")
        ctx.dims = tuple(d % a.ndim for d in dims)
        return xp.transpose(a, ctx.dims)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return (xp.transpose(g, xp.argsort(ctx.dims)), None)


def _is_basic_index(index: Any) -> bool:
    """Ints, slices, None and ``...`` select a view; arrays of indices can repeat an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class Index(Function):
    """out = a[index] (basic, integer-array or boolean);  ∂a = g added back at the selected places."""

    @staticmethod
    def forward(ctx: Context, a: Any, index: Any) -> Any:
        ctx.shape, ctx.index = a.shape, index
        return a[index]

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        if _is_basic_index(ctx.index):
            grad[ctx.index] = g
        else:
            xp.add.at(grad, ctx.index, g)  # an index may select the same element twice: add, not assign
        return (grad, None)


class Cat(Function):
    """out = the inputs joined along ``dim``;  ∂ each input = its slice of g."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, dim: int = 0) -> Any:
        ctx.dim = dim
        ctx.splits = xp.cumsum([a.shape[dim] for a in arrays])[:-1]
        return xp.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return tuple(xp.split(g, ctx.splits, axis=ctx.dim))


class Stack(Function):
    """out = the inputs stacked along a new axis ``dim``;  ∂ each input = its slice of g."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, dim: int = 0) -> Any:
        ctx.dim = dim
        return xp.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return tuple(xp.moveaxis(g, ctx.dim, 0))


# ---------------------------------------------------------------- softmax family


def _reduce(ufunc: Any, a: Any, axis: int) -> Any:
    """``ufunc.reduce`` along ``axis``, keeping it as size 1.

    Along a short last axis (10 class scores per row) NumPy reduces row by row, which is slow; reducing
    a transposed copy runs across all rows at once, several times faster.
    """
    if a.ndim == 2 and axis in (-1, 1) and a.shape[1] <= 64:
        return ufunc.reduce(a.T.copy(), axis=0)[:, None]
    return ufunc.reduce(a, axis=axis, keepdims=True)


def _log_softmax(a: Any, axis: int) -> Any:
    """log softmax = a − max − log Σ e^(a − max): subtracting the max keeps every exponent ≤ 0."""
    shifted = a - _reduce(xp.maximum, a, axis)
    return shifted - xp.log(_reduce(xp.add, xp.exp(shifted), axis))


class Softmax(Function):
    """out = e^a / Σ e^a along ``dim``;  ∂a = out·(g − Σ g·out)."""

    @staticmethod
    def forward(ctx: Context, a: Any, dim: int) -> Any:
        ctx.dim = dim
        out = xp.exp(_log_softmax(a, dim))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        return (out * (g - _reduce(xp.add, g * out, ctx.dim)), None)


class LogSoftmax(Function):
    """out = a − log Σ e^a along ``dim``;  ∂a = g − softmax(a)·Σ g."""

    @staticmethod
    def forward(ctx: Context, a: Any, dim: int) -> Any:
        ctx.dim = dim
        out = _log_softmax(a, dim)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (out,) = ctx.saved_tensors
        return (g - xp.exp(out) * _reduce(xp.add, g, ctx.dim), None)


# ---------------------------------------------------------------- fused ops for the hot path


class Linear(Function):
    """out = x @ Wᵀ + b (one layer);  ∂x = g @ W,  ∂W = gᵀ @ x = (xᵀ @ g)ᵀ,  ∂b = Σ g over the batch.

    One op instead of three (transpose, matmul, add) and no ∂x when x is data that needs none. ∂W is
    computed as (xᵀ @ g)ᵀ: the same numbers in column-major order, the layout ``nn.Linear`` keeps W in.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any, bias: Any = None) -> Any:
        ctx.save_for_backward(x, weight)
        out = xp.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        x, weight = ctx.saved_tensors
        needs_x, needs_w, needs_b = (ctx.needs_input_grad + (False,))[:3]
        g2 = g.reshape(-1, g.shape[-1])
        grad_x = xp.matmul(g, weight) if needs_x else None
        grad_w = xp.matmul(x.reshape(-1, x.shape[-1]).T, g2).T if needs_w else None
        grad_b = g2.sum(axis=0) if needs_b else None
        return grad_x, grad_w, grad_b


class CrossEntropy(Function):
    """loss_i = −log softmax(x_i)[t_i] per row, then reduced (mean, sum or none);
    ∂x_i = g_i·(softmax(x_i) − onehot(t_i)), with g_i = g/N for the mean.

    The reduction lives inside the op: one op per batch instead of two on the training hot path.
    """

    @staticmethod
    def forward(ctx: Context, logits: Any, target: Any, reduction: str = "mean") -> Any:
        log_probs = _log_softmax(logits, -1)
        ctx.save_for_backward(log_probs, target)
        ctx.reduction = reduction
        losses = -log_probs[xp.arange(len(target)), target]
        if reduction == "mean":
            return losses.sum() / max(len(target), 1)
        return losses.sum() if reduction == "sum" else losses

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        log_probs, target = ctx.saved_tensors
        grad = xp.exp(log_probs)
        grad[xp.arange(len(target)), target] -= 1
        if ctx.reduction == "none":
            return (grad * g[:, None], None, None)
        scale = g / len(target) if ctx.reduction == "mean" else g
        grad *= scale
        return (grad, None, None)


class BinaryCrossEntropyWithLogits(Function):
    """out = −[t·log σ(x) + (1 − t)·log(1 − σ(x))] = max(x, 0) − x·t + log(1 + e^−|x|);  ∂x = g·(σ(x) − t)."""

    @staticmethod
    def forward(ctx: Context, x: Any, target: Any) -> Any:
        ctx.save_for_backward(x, target)
        return xp.maximum(x, 0) - x * target + xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        x, target = ctx.saved_tensors
        grad_x = g * (stable_sigmoid(x) - target) if ctx.needs_input_grad[0] else None
        grad_t = -g * x if ctx.needs_input_grad[1] else None
        return grad_x, grad_t
