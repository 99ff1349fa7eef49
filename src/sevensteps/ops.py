"""Every primitive op: its forward and its gradient, side by side.

Notation in the docstrings: ``g`` is the gradient arriving from the op's output (∂loss/∂out), and
``∂a`` is what backward returns for input ``a`` (∂loss/∂a). Gradients are returned in the broadcast
shape; ``autograd.unbroadcast`` sums them back to each input's shape. Inputs that are not tensors (a
Python number, an index) get ``None``.
"""

from __future__ import annotations

from typing import Any

from . import threads
from .autograd import Context, Function
from .backend import empty_in_layout, xp

# ---------------------------------------------------------------- dtype promotion, as PyTorch does it

_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}


def _category(dtype: Any) -> int:
    return _KIND_ORDER.get(dtype.kind, 3)


def promote_types(a: Any, b: Any) -> Any:
    """The smallest dtype that holds both; an integer and a float give the float (int64 × float32 → float32)."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb and 2 in (ca, cb):
        return a if ca == 2 else b
    return xp.promote_types(a, b)


def _weak_dtype(x: Any) -> Any:
    """The dtype a Python (or NumPy) number stands for next to tensors: PyTorch's defaults."""
    if isinstance(x, (bool, xp.bool_)):
        return xp.dtype(bool)
    if isinstance(x, (int, xp.integer)):
        return xp.dtype(xp.int64)
    if isinstance(x, (float, xp.floating)):
        return xp.dtype(xp.float32)
    raise TypeError(f"expected a tensor or a number, got {type(x).__name__}")


def _combine(higher: Any, lower: Any) -> Any:
    """PyTorch's rule between priority groups: a lower group only matters if it is of a higher category."""
    if higher is None:
        return lower
    if lower is None or _category(higher) == 2:
        return higher
    if higher.kind == "b" or _category(lower) == 2:
        return promote_types(higher, lower)
    return higher


def result_type(*operands: Any) -> Any:
    """PyTorch's result dtype: tensors with dimensions first, then 0-d tensors, then plain numbers.

    A 0-d tensor or a number changes the dtype only if it is of a higher category (bool < integer <
    float): float32 · (0-d float64) stays float32, int64 · 1.5 is float32, int64 · 2 stays int64.
    """
    dims = zero = wrapped = None
    for x in operands:
        if x is None:
            continue
        if isinstance(x, xp.ndarray):
            if x.ndim:
                dims = promote_types(dims, x.dtype)
            else:
                zero = promote_types(zero, x.dtype)
        else:
            wrapped = promote_types(wrapped, _weak_dtype(x))
    return _combine(dims, _combine(zero, wrapped))


def _as(x: Any, dtype: Any) -> Any:
    if isinstance(x, xp.ndarray):
        return x if x.dtype == dtype else x.astype(dtype)
    return xp.asarray(x, dtype=dtype)


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Both operands as arrays of PyTorch's result dtype (a fast path for the common same-dtype case)."""
    type_a, type_b = type(a), type(b)
    if type_a is xp.ndarray:
        if type_b is xp.ndarray:
            if a.dtype == b.dtype:
                return a, b
        elif (type_b is float or type_b is int) and a.dtype.kind == "f":
            return a, b  # NumPy keeps float32 next to a Python number, as PyTorch does
    elif type_b is xp.ndarray and (type_a is float or type_a is int) and b.dtype.kind == "f":
        return a, b
    dtype = result_type(a, b)
    return _as(a, dtype), _as(b, dtype)


def floating(a: Any) -> Any:
    """``a`` itself if it is floating point, else as float32 (PyTorch's default for exp, log, ... of integers)."""
    return a if a.dtype.kind == "f" else a.astype(xp.float32)

# ---------------------------------------------------------------- arithmetic


class Add(Function):
    """out = a + b;  ∂a = g,  ∂b = g."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        if type(a) is not xp.ndarray or type(b) is not xp.ndarray or a.dtype is not b.dtype:  # (the hot path skips)
            a, b = promote(a, b)
        return xp.add(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g, g


class Sub(Function):
    """out = a − b;  ∂a = g,  ∂b = −g."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        if type(a) is not xp.ndarray or type(b) is not xp.ndarray or a.dtype is not b.dtype:  # (the hot path skips)
            a, b = promote(a, b)
        return xp.subtract(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """out = a·b;  ∂a = g·b,  ∂b = g·a."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        if type(a) is not xp.ndarray or type(b) is not xp.ndarray or a.dtype is not b.dtype:  # (the hot path skips)
            a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return xp.multiply(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None, g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    """out = a / b;  ∂a = g / b,  ∂b = −g·a / b²."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        a, b = promote(a, b)
        if type(a) is xp.ndarray and a.dtype.kind != "f":  # integer / integer is a float, as in PyTorch
            a, b = floating(a), floating(b)
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return xp.true_divide(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        return (g / b if ctx.needs_input_grad[0] else None, -g * a / (b * b) if ctx.needs_input_grad[1] else None)


class Pow(Function):
    """out = aᵇ;  ∂a = g·b·aᵇ⁻¹ (0 where b = 0),  ∂b = g·out·ln a (0 where a = 0 and b ≥ 0).

    The two exceptions are PyTorch's: a⁰ = 1 is flat in a even at a = 0 (where aᵇ⁻¹ is infinite), and
    0ᵇ = 0 for every b > 0 (where ln a is −∞).
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        a, b = promote(a, b)
        out = xp.power(a, b)
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)  # out only for ∂b, as PyTorch
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b, out = ctx.saved_tensors
        grad_a = grad_b = None
        with xp.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:
                grad_a = xp.where(b == 0, 0, g * b * xp.power(a, b - 1)).astype(g.dtype, copy=False)
            if ctx.needs_input_grad[1]:
                grad_b = xp.where((a == 0) & (b >= 0), 0, g * out * xp.log(a)).astype(g.dtype, copy=False)
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
    """out = a @ b (batched, broadcasting, 1-D as in NumPy);  ∂a = g @ bᵀ,  ∂b = aᵀ @ g.

    Products of two matrices are split over the threads (:func:`sevensteps.threads.matmul`).
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return threads.matmul(a, b)

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
            grad_a = threads.matmul(g, xp.swapaxes(b2, -1, -2))
            grad_a = grad_a.reshape(grad_a.shape[:-2] + (a.shape[-1],)) if a.ndim == 1 else grad_a
        if ctx.needs_input_grad[1]:
            grad_b = threads.matmul(xp.swapaxes(a2, -1, -2), g)
            grad_b = grad_b.reshape(grad_b.shape[:-2] + (b.shape[0],)) if b.ndim == 1 else grad_b
        return grad_a, grad_b


# ---------------------------------------------------------------- elementwise functions


class Exp(Function):
    """out = eᵃ;  ∂a = g·out."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        if a.dtype.kind != "f":
            a = floating(a)
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
        a = floating(a)
        ctx.save_for_backward(a)
        with xp.errstate(divide="ignore", invalid="ignore"):  # log 0 = −inf and log(−1) = nan, quietly as PyTorch
            return xp.log(a)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (a,) = ctx.saved_tensors
        return (g / a,)


class Sqrt(Function):
    """out = √a;  ∂a = g / (2·out)."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        if a.dtype.kind != "f":
            a = floating(a)
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
        out = stable_sigmoid(a if a.dtype.kind == "f" else floating(a))
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
        if a.dtype.kind != "f":
            a = floating(a)
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
        a, b = promote(a, b)
        ctx.save_for_backward(a, b)
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        share_a = (a > b) + 0.5 * (a == b)
        return (g * share_a if ctx.needs_input_grad[0] else None,
                g * (1 - share_a) if ctx.needs_input_grad[1] else None)


class Clamp(Function):
    """out = min(max(a, low), high), bounds numbers or tensors;
    ∂a = g where low ≤ a ≤ high;  ∂low = g where a < low (and low < high);  ∂high = g where a > high (or
    high < low, where the output is high). These are PyTorch's rules, ties included."""

    @staticmethod
    def forward(ctx: Context, a: Any, low: Any, high: Any) -> Any:
        dtype = result_type(a, low, high)
        a = _as(a, dtype)
        low = None if low is None else _as(low, dtype)
        high = None if high is None else _as(high, dtype)
        ctx.save_for_backward(a, low, high)
        if low is None:
            return xp.minimum(a, high)
        out = xp.maximum(a, low)
        return out if high is None else xp.minimum(out, high)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, low, high = ctx.saved_tensors
        inside = True
        if low is not None:
            inside = inside & (a >= low)
        if high is not None:
            inside = inside & (a <= high)
        grad_low = grad_high = None
        if ctx.needs_input_grad[1]:
            below = a < low if high is None else (a < low) & (low < high)
            grad_low = xp.where(below, g, 0)
        if ctx.needs_input_grad[2]:
            above = a > high if low is None else (a > high) | (high < low)
            grad_high = xp.where(above, g, 0)
        return xp.where(inside, g, 0), grad_low, grad_high


class Where(Function):
    """out = a where cond else b;  ∂a = g where cond,  ∂b = g where not cond."""

    @staticmethod
    def forward(ctx: Context, cond: Any, a: Any, b: Any) -> Any:
        if type(a) is not xp.ndarray or type(b) is not xp.ndarray or a.dtype is not b.dtype:
            a, b = promote(a, b)
        ctx.save_for_backward(cond)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (cond,) = ctx.saved_tensors
        return (None, xp.where(cond, g, 0) if ctx.needs_input_grad[1] else None,
                xp.where(cond, 0, g) if ctx.needs_input_grad[2] else None)


# ---------------------------------------------------------------- reductions


def check_dim(dim: Any, ndim: int) -> int:
    """``dim`` as an index in [0, ndim) (a 0-d tensor accepts 0 and −1), or PyTorch's IndexError."""
    if isinstance(dim, bool) or not isinstance(dim, (int, xp.integer)):
        raise TypeError(f"dim must be an integer, not {type(dim).__name__} {dim!r}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-size}, {size - 1}], but got {dim})")
    return int(dim) % size


def _axes(dim: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, xp.integer)) else tuple(dim)
    axes = [check_dim(d, ndim) for d in dims]
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dim {dim} names a dimension more than once")
    return tuple(sorted(axes)) if ndim else ()


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
        if a.dtype.kind != "f":
            raise RuntimeError(f"mean(): could not infer output dtype: the input must be floating point, not "
                               f"{a.dtype}; use .float() first")
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
        axis = check_dim(dim, a.ndim)
        if a.ndim == 0:  # the max of one number along its only "dimension" is itself
            ctx.shape, ctx.axis, ctx.index, ctx.keepdim = (), None, None, keepdim
            return a.copy()
        if a.shape[axis] == 0:
            raise IndexError(f"max(): cannot take the max along dim {dim} of size 0 (shape {a.shape})")
        index = xp.expand_dims(xp.argmax(a, axis=axis), axis)
        ctx.shape, ctx.axis, ctx.index, ctx.keepdim = a.shape, axis, index, keepdim
        out = xp.take_along_axis(a, index, axis=axis)
        return out if keepdim else xp.squeeze(out, axis)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        if ctx.axis is None:
            return (g,)
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        g = g if ctx.keepdim else xp.expand_dims(g, ctx.axis)
        xp.put_along_axis(grad, ctx.index, g, axis=ctx.axis)
        return (grad,)


# ---------------------------------------------------------------- shapes


class Reshape(Function):
    """out = a with a new shape, same elements in the same order;  ∂a = g reshaped back."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, a: Any, shape: tuple[int, ...]) -> Any:
        ctx.shape = a.shape
        # an input in another memory order (a cnn's feature maps, say) gets its gradient in that order too,
        # so that the ops before it run over matching layouts rather than striding across each other;
        # a C-ordered input (contiguous, or a strided slice of one) takes the reshaped gradient as it is
        permuted = list(a.strides) != sorted(a.strides, reverse=True) and min(a.strides, default=0) > 0
        ctx.strides = a.strides if permuted else None
        try:
            return xp.reshape(a, shape)
        except ValueError as error:
            raise RuntimeError(f"shape {tuple(shape)} is invalid for a tensor of shape {a.shape}") from error

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        grad = xp.reshape(g, ctx.shape)
        if ctx.strides is not None:
            laid_out = empty_in_layout(ctx.shape, ctx.strides, g.dtype)
            xp.copyto(laid_out, grad)
            grad = laid_out
        return (grad, None)


class Permute(Function):
    """out = a with its axes reordered;  ∂a = g with the inverse order."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, a: Any, dims: tuple[int, ...]) -> Any:
        if len(dims) != a.ndim:
            raise RuntimeError(f"permute({dims}): the number of dims does not match the tensor's {a.ndim}")
        ctx.dims = tuple(check_dim(d, a.ndim) for d in dims)
        if sorted(ctx.dims) != list(range(a.ndim)):
            raise RuntimeError(f"permute({dims}) does not name each of the {a.ndim} dimensions once")
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

    is_view = True  # a basic index (ints, slices) gives a view; an array index a copy (then nothing is shared)

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
        if not arrays:
            raise RuntimeError("cat() needs a non-empty list of tensors")
        dim = ctx.dim = check_dim(dim, arrays[0].ndim)
        dtype = result_type(*(a if a.ndim else a.reshape(1) for a in arrays))
        ctx.splits = xp.cumsum([a.shape[dim] for a in arrays])[:-1]
        try:
            return xp.concatenate([_as(a, dtype) for a in arrays], axis=dim)
        except ValueError as error:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise RuntimeError(f"cat(dim={dim}): the tensors' shapes {shapes} differ outside dim {dim}") from error

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return tuple(xp.split(g, ctx.splits, axis=ctx.dim))


class Stack(Function):
    """out = the inputs stacked along a new axis ``dim``;  ∂ each input = its slice of g."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, dim: int = 0) -> Any:
        if not arrays:
            raise RuntimeError("stack() needs a non-empty list of tensors")
        ctx.dim = check_dim(dim, arrays[0].ndim + 1)
        if any(a.shape != arrays[0].shape for a in arrays):
            raise RuntimeError(f"stack() needs tensors of one shape, got {[a.shape for a in arrays]}")
        dtype = result_type(*(a if a.ndim else a.reshape(1) for a in arrays))
        return xp.stack([_as(a, dtype) for a in arrays], axis=ctx.dim)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return tuple(xp.moveaxis(g, ctx.dim, 0))


class Expand(Function):
    """out = a broadcast to ``shape`` (a read-only view);  ∂a = g summed over the stretched axes."""

    is_view = True

    @staticmethod
    def forward(ctx: Context, a: Any, shape: tuple[int, ...]) -> Any:
        extra = len(shape) - a.ndim
        if extra < 0:
            raise RuntimeError(f"expand{tuple(shape)}: the shape has fewer dimensions than the tensor's {a.shape}")
        target = tuple(a.shape[i - extra] if n == -1 and i >= extra else n for i, n in enumerate(shape))
        try:
            return xp.broadcast_to(a, target)
        except ValueError as error:
            raise RuntimeError(f"expand{tuple(shape)}: a tensor of shape {a.shape} can only stretch dimensions "
                               "of size 1") from error

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g, None  # the engine's unbroadcast sums g back to a's shape


class Gather(Function):
    """out[i][j] = a[i][index[i][j]] along ``dim`` (shown for dim 1);  ∂a = g added back at the indices."""

    @staticmethod
    def forward(ctx: Context, a: Any, dim: int, index: Any) -> Any:
        ctx.shape, ctx.dim, ctx.index = a.shape, check_dim(dim, a.ndim), index
        if index.dtype.kind not in "iu":
            raise RuntimeError(f"gather(): the index must be an integer tensor, not {index.dtype}")
        if index.ndim != a.ndim:
            raise RuntimeError(f"gather(): index has {index.ndim} dimensions but the input has {a.ndim}")
        if a.ndim == 0:
            return a.copy()
        if any(i > n for d, (i, n) in enumerate(zip(index.shape, a.shape, strict=True)) if d != ctx.dim):
            raise RuntimeError(f"gather(): index of shape {index.shape} is larger than the input {a.shape} "
                               f"outside dim {ctx.dim}")
        # only the part of ``a`` that the index covers outside ``dim`` takes part, as in PyTorch
        part = tuple(slice(None) if d == ctx.dim else slice(0, n) for d, n in enumerate(index.shape))
        return xp.take_along_axis(a[part], index, axis=ctx.dim)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        if not ctx.shape:
            return g, None, None
        grad = xp.zeros(ctx.shape, dtype=g.dtype)
        axes = list(xp.ix_(*(xp.arange(n) for n in ctx.index.shape)))
        axes[ctx.dim] = ctx.index
        xp.add.at(grad, tuple(axes), g)  # an index may pick the same element twice: add, not assign
        return grad, None, None


class SetItem(Function):
    """out = a with out[index] = value (``a[index] = value`` on a tensor in the graph);
    ∂a = g with the overwritten places set to 0,  ∂value = g at those places."""

    @staticmethod
    def forward(ctx: Context, a: Any, index: Any, value: Any) -> Any:
        ctx.index = index
        out = a.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        grad_a = None
        if ctx.needs_input_grad[0]:
            grad_a = g.copy()
            grad_a[ctx.index] = 0
        return grad_a, None, (g[ctx.index] if ctx.needs_input_grad[2] else None)


class Clone(Function):
    """out = a copy of a;  ∂a = g."""

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        return a.copy()

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return (g,)


class Cast(Function):
    """out = a converted to another floating dtype;  ∂a = g converted back (the engine casts it)."""

    @staticmethod
    def forward(ctx: Context, a: Any, dtype: Any) -> Any:
        return a.astype(dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g, None


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
    if a.size == 0:
        return a.copy()
    shifted = a - _reduce(xp.maximum, a, axis)
    return shifted - xp.log(_reduce(xp.add, xp.exp(shifted), axis))


class Softmax(Function):
    """out = e^a / Σ e^a along ``dim``;  ∂a = out·(g − Σ g·out)."""

    @staticmethod
    def forward(ctx: Context, a: Any, dim: int) -> Any:
        a = floating(a)
        ctx.dim = check_dim(dim, a.ndim) if a.ndim else -1
        out = xp.exp(_log_softmax(a, ctx.dim))
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
        a = floating(a)
        ctx.dim = check_dim(dim, a.ndim) if a.ndim else -1
        out = _log_softmax(a, ctx.dim)
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
        out = threads.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        x, weight = ctx.saved_tensors
        needs_x, needs_w, needs_b = (ctx.needs_input_grad + (False,))[:3]
        if g.ndim != 2:  # a stack of batches: the weight's gradient sums over all of them
            x, g2 = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
        else:
            g2 = g
        grad_x = threads.matmul(g, weight) if needs_x else None
        grad_w = threads.matmul(x.T, g2).T if needs_w else None
        grad_b = xp.add.reduce(g2, axis=0) if needs_b else None
        return grad_x, grad_w, grad_b


class CrossEntropy(Function):
    """loss_i = −log softmax(x_i)[t_i] = log Σ_j e^(x_ij − m_i) − (x_it − m_i) per row (m_i the row's max),
    then reduced (mean, sum or none);  ∂x_i = g_i·(softmax(x_i) − onehot(t_i)), with g_i = g/N for the mean.

    The reduction lives inside the op: one op per batch instead of two on the training hot path. The forward
    keeps the softmax it computes on the way, so the backward needs no second exponential.
    """

    @staticmethod
    def forward(ctx: Context, logits: Any, target: Any, reduction: str = "mean") -> Any:
        rows = xp.arange(len(target))
        if logits.size:
            shifted = logits - _reduce(xp.maximum, logits, -1)
            probs = xp.exp(shifted)
            sums = _reduce(xp.add, probs, -1)
            losses = xp.log(sums[:, 0]) - shifted[rows, target]
            probs /= sums
        else:  # an empty batch: nothing to reduce over
            probs, losses = logits.copy(), logits[:, 0].copy()
        ctx.save_for_backward(probs, target)
        ctx.rows, ctx.reduction = rows, reduction
        if reduction == "mean":  # an empty batch's mean is 0/0 = nan, as in PyTorch
            return losses.sum() / len(target) if len(target) else xp.array(xp.nan, dtype=logits.dtype)
        return losses.sum() if reduction == "sum" else losses

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        probs, target = ctx.saved_tensors
        grad = probs.copy()  # not in place: backward may run again (retain_graph)
        grad[ctx.rows, target] -= 1
        if ctx.reduction == "none":
            return (grad * g[:, None], None, None)
        grad *= g / len(target) if ctx.reduction == "mean" else g
        return (grad, None, None)


class BinaryCrossEntropyWithLogits(Function):
    """out = −[p·t·log σ(x) + (1 − t)·log(1 − σ(x))] = (1 − t)·x + (1 + (p − 1)·t)·softplus(−x), where
    softplus(−x) = log(1 + e⁻ˣ) = max(−x, 0) + log(1 + e^−|x|) never overflows; p (``pos_weight``) is 1 unless given.
    With l = 1 + (p − 1)·t:  ∂x = g·((1 − t) − l·σ(−x)),  ∂t = g·((p − 1)·softplus(−x) − x),  ∂p = g·t·softplus(−x).
    (For p = 1: ∂x = g·(σ(x) − t).)"""

    @staticmethod
    def forward(ctx: Context, x: Any, target: Any, pos_weight: Any = None) -> Any:
        softplus = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        ctx.save_for_backward(x, target, pos_weight)
        if pos_weight is None:
            return (1 - target) * x + softplus
        return (1 - target) * x + (1 + (pos_weight - 1) * target) * softplus

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        x, target, pos_weight = ctx.saved_tensors
        needs = ctx.needs_input_grad + (False,)
        if pos_weight is None:
            grad_x = g * (stable_sigmoid(x) - target) if needs[0] else None
            return grad_x, (-g * x if needs[1] else None), None
        softplus = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        weight = 1 + (pos_weight - 1) * target
        grad_x = g * ((1 - target) - weight * stable_sigmoid(-x)) if needs[0] else None
        grad_t = g * ((pos_weight - 1) * softplus - x) if needs[1] else None
        grad_p = g * target * softplus if needs[2] else None
        return grad_x, grad_t, grad_p
