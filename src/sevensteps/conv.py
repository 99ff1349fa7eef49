"""Convolutions and the layers that come with them: pooling, dropout, batch norm (``torch.nn.functional``'s names).

Images are NCHW arrays: (batch, channels, height, width). Each op is a :class:`Function` with its forward and
its gradient side by side, vectorized over images and pixels; the only Python loops run over the few offsets
of a kernel (9 for a 3×3 one).

How a convolution becomes one matrix product ("im2col"): every output pixel is the dot product of the kernel
with one window of the input. Laying the windows out as the columns of a matrix ``cols`` of shape
(C·kh·kw, N·OH·OW) turns the whole layer into ``W₂ @ cols`` with ``W₂`` the weight reshaped to (O, C·kh·kw).
The windows are read through a strided view of the input (no copying until the single gather into ``cols``).
The gradient runs the same way back: ``∂W₂ = g₂ @ colsᵀ`` and ``∂cols = W₂ᵀ @ g₂``; "col2im" then adds each
kernel offset's slice of ``∂cols`` back onto the input positions it was read from, one vectorized slice-add per
offset (never ``np.add.at``, which is many times slower).
"""

from __future__ import annotations

import math
from typing import Any

from .autograd import Context, Function
from .backend import xp
from .random import Generator, get_generator
from .tensor import Tensor

IntPair = int | tuple[int, int]


def _pair(value: IntPair, what: str, layer: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{layer}: {what} must be an int or a pair of ints, not {value!r}")
    return pair  # type: ignore[return-value]


class Geometry:
    """Where a sliding window goes over an image: kernel, stride, padding, dilation, and the output size.

    ``padding`` is (top, bottom, left, right). Checking happens here, once for every op, so that every bad
    input gets the same kind of one-line error naming the layer and the shapes.
    """

    def __init__(self, layer: str, x_shape: tuple[int, ...], kernel: IntPair, stride: IntPair | None,
                 padding: IntPair | str, dilation: IntPair = 1):
        self.layer = layer
        self.kernel = _pair(kernel, "kernel_size", layer)
        self.stride = self.kernel if stride is None else _pair(stride, "stride", layer)
        self.dilation = _pair(dilation, "dilation", layer)
        if min(self.kernel) < 1:
            raise ValueError(f"{layer}: kernel_size must be positive, not {self.kernel}")
        if min(self.stride) < 1:
            raise ValueError(f"{layer}: stride must be positive, not {self.stride}")
        if min(self.dilation) < 1:
            raise ValueError(f"{layer}: dilation must be positive, not {self.dilation}")
        # the extent of a (dilated) kernel on the input
        self.span = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation, strict=True))
        if padding == "valid":
            padding = 0
        if padding == "same":
            if self.stride != (1, 1):
                raise ValueError(f"{layer}: padding='same' needs stride 1, not {self.stride}")
            extra = [s - 1 for s in self.span]  # PyTorch puts the odd pixel at the bottom/right
            self.padding = (extra[0] // 2, extra[0] - extra[0] // 2, extra[1] // 2, extra[1] - extra[1] // 2)
        elif isinstance(padding, str):
            raise ValueError(f"{layer}: padding must be 'valid', 'same', an int or a pair, not {padding!r}")
        else:
            ph, pw = _pair(padding, "padding", layer)
            if min(ph, pw) < 0:
                raise ValueError(f"{layer}: padding must be >= 0, not {(ph, pw)}")
            self.padding = (ph, ph, pw, pw)
        if len(x_shape) != 4:
            raise ValueError(f"{layer}: expected input of shape (N, C, H, W) (or (C, H, W)), got {tuple(x_shape)}")
        self.height = x_shape[2] + self.padding[0] + self.padding[1]
        self.width = x_shape[3] + self.padding[2] + self.padding[3]
        if self.span[0] > self.height or self.span[1] > self.width:
            raise ValueError(f"{layer}: kernel {self.span[0]}×{self.span[1]} is larger than the padded input "
                             f"{self.height}×{self.width} (input {tuple(x_shape)}, padding {self.padding}); "
                             "the output would be empty")
        self.out = ((self.height - self.span[0]) // self.stride[0] + 1,
                    (self.width - self.span[1]) // self.stride[1] + 1)

    @property
    def padded(self) -> bool:
        return any(self.padding)

    def pad(self, x: Any, value: float = 0.0) -> Any:
        if not self.padded:
            return x
        top, bottom, left, right = self.padding
        return xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)

    def unpad(self, x: Any) -> Any:
        top, bottom, left, right = self.padding
        return x[:, :, top : x.shape[2] - bottom, left : x.shape[3] - right]

    def offsets(self) -> list[tuple[int, int, tuple[slice, slice]]]:
        """For each kernel position (p, q): the slices of the padded input that it reads, one per output pixel."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.stride, self.dilation, self.out
        return [(p, q, (slice(p * dh, p * dh + sh * (oh - 1) + 1, sh), slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)))
                for p in range(kh) for q in range(kw)]

    def windows(self, x_padded: Any) -> Any:
        """A strided view (N, C, OH, OW, kh, kw) of every window; no data is copied."""
        view = xp.lib.stride_tricks.sliding_window_view(x_padded, self.span, axis=(2, 3))
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return view[:, :, ::sh, ::sw, ::dh, ::dw]


def _batched(layer: str, x: Tensor, dims: int = 4) -> tuple[Tensor, bool]:
    """Accept one unbatched image (C, H, W) as PyTorch does, by adding a batch axis that is removed later."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor, got {type(x).__name__}")
    if x.ndim == dims - 1:
        return x.unsqueeze(0), True
    if x.ndim != dims:
        raise ValueError(f"{layer}: expected input of shape (N, C, H, W) or (C, H, W), got {x.shape}")
    return x, False


# ---------------------------------------------------------------- convolution


class Conv2d(Function):
    """out[n, o] = b[o] + Σ_c W[o, c] ⋆ x[n, c] (cross-correlation, as in PyTorch), by im2col:

    cols = the windows of x as a (C·kh·kw, N·OH·OW) matrix, plus a row of ones when there is a bias;
    out₂ = [W₂ b] @ cols,  W₂ = W as (O, C·kh·kw);  [∂W₂ ∂b] = g₂ @ colsᵀ,  ∂cols = W₂ᵀ @ g₂,
    ∂x = col2im(∂cols): each kernel offset's rows of ∂cols added back onto the input pixels that offset read.

    The bias is a weight on a constant input of 1, so one product gives the output with the bias added,
    and one product gives ∂W and ∂b (the bias's gradient is the sum of g₂, a product with the row of ones).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any, bias: Any, geometry: Geometry) -> Any:
        n = x.shape[0]
        o, c, kh, kw = weight.shape
        oh, ow = geometry.out
        k = c * kh * kw
        cols = xp.empty((k + (bias is not None), oh * ow * n), dtype=xp.result_type(x, weight))
        # rows in (C, kh, kw) order to match weight.reshape(O, -1); columns in (OH, OW, N) order, the image
        # index fastest (see the layout note in the module docstring); one gather copies the windows in
        xp.copyto(cols[:k].reshape(c, kh, kw, oh, ow, n), geometry.windows(geometry.pad(x)).transpose(1, 4, 5, 2, 3, 0))
        w2 = weight.reshape(o, k)
        if bias is not None:
            cols[k] = 1
            w2 = xp.concatenate([w2, bias[:, None]], axis=1)
        out = xp.matmul(w2, cols)
        ctx.save_for_backward(cols, weight)
        ctx.geometry, ctx.x_shape = geometry, x.shape
        # shape (N, O, OH, OW), kept in the (O, OH, OW, N) memory order the product made: no transposing copy
        return out.reshape(o, oh, ow, n).transpose(3, 0, 1, 2)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        cols, weight = ctx.saved_tensors
        geometry = ctx.geometry
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        o, c, kh, kw = weight.shape
        k = c * kh * kw
        g2 = g.transpose(1, 2, 3, 0).reshape(o, -1)  # (O, OH·OW·N): a view when g is in the layout forward made
        grad_w = grad_b = grad_x = None
        if needs_w or needs_b:
            # (cols @ g₂ᵀ)ᵀ rather than g₂ @ colsᵀ: the same numbers, in the layout OpenBLAS multiplies fastest
            grad_wb = xp.matmul(cols, g2.T)
            grad_w = grad_wb[:k].T.reshape(weight.shape) if needs_w else None
            grad_b = grad_wb[k] if needs_b else None
        if needs_x:
            n = ctx.x_shape[0]
            oh, ow = geometry.out
            grad_cols = xp.matmul(weight.reshape(o, k).T, g2).reshape(c, kh, kw, oh, ow, n)
            # col2im, in (C, H, W, N) order: each offset's slice is rows of OW·N contiguous numbers
            grad_padded = xp.zeros((c, geometry.height, geometry.width, n), dtype=g.dtype)
            for p, q, (rows, columns) in geometry.offsets():
                grad_padded[:, rows, columns] += grad_cols[:, p, q]
            grad_x = geometry.unpad(grad_padded.transpose(3, 0, 1, 2))
        return grad_x, grad_w, grad_b, None


def _conv2d(layer: str, input: Tensor, weight: Tensor, bias: Tensor | None, stride: IntPair, padding: IntPair | str,
            dilation: IntPair, groups: int) -> Tensor:
    x, unbatched = _batched(layer, input)
    if groups != 1:
        raise ValueError(f"{layer}: groups={groups} is not supported (only groups=1)")
    if weight.ndim != 4:
        raise ValueError(f"{layer}: weight must have shape (out_channels, in_channels, kh, kw), got {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"{layer}: expected input with {weight.shape[1]} channels (N, {weight.shape[1]}, H, W), "
                         f"got {input.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{layer}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    geometry = Geometry(layer, x.shape, weight.shape[2:], stride, padding, dilation)
    out = Conv2d.apply(x, weight, bias, geometry)
    return out.squeeze(0) if unbatched else out


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) images with (O, C, kh, kw) kernels, as ``torch.nn.functional.conv2d``."""
    return _conv2d("conv2d", input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------- pooling


class MaxPool2d(Function):
    """out = the largest value in each window (padding counts as −∞);
    ∂x = g sent to the position that won (the first one, on a tie, as in PyTorch), summed where windows overlap.

    The forward remembers, per output, which kernel offset won (one byte each), not the input: the gradient
    then needs one pass per offset, and nothing has to be compared again.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, geometry: Geometry) -> Any:
        padded = geometry.pad(x, -xp.inf)
        # A running maximum over the kernel offsets, each offset a strided slice covering every window at once:
        # 3 vectorized passes for a 2×2 window, many times faster than a reduction over a short last axis.
        offsets = geometry.offsets()
        out = padded[(..., *offsets[0][2])].copy(order="K")  # "K": keep the input's memory order
        kind = xp.uint8 if len(offsets) < 256 else xp.int32
        winner = xp.zeros_like(out, dtype=kind)
        later, claim = xp.empty_like(out, dtype=bool), xp.empty_like(out, dtype=kind)
        for index, (_, _, slices) in enumerate(offsets[1:], start=1):
            candidate = padded[(..., *slices)]
            xp.greater(candidate, out, out=later)  # strictly: on a tie the earlier offset keeps the win
            # a later offset that beats the running maximum has the largest index so far, so the winner is
            # max(winner, later·index): plain arithmetic, much faster than a masked copy on a random mask
            xp.multiply(later, kind(index), out=claim)
            xp.maximum(winner, claim, out=winner)
            xp.maximum(out, candidate, out=out)
        ctx.save_for_backward(winner)
        ctx.geometry, ctx.x_dtype = geometry, x.dtype
        ctx.padded_shape, ctx.padded_strides = padded.shape, padded.strides
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (winner,) = ctx.saved_tensors
        geometry = ctx.geometry
        offsets = geometry.offsets()
        grad = _empty_like_layout(ctx.padded_shape, ctx.padded_strides, g.dtype)
        wins = xp.empty_like(winner, dtype=bool)
        (sh, sw), span, out = geometry.stride, geometry.span, geometry.out
        # windows that neither overlap nor leave a gap write each input pixel at most once: g·wins goes straight
        # in, and only the pixels no window reads (a last odd row or column) need zeros
        tiled = (sh, sw) == span and not geometry.padded
        if tiled:
            grad[:, :, sh * out[0]:] = 0
            grad[:, :, :, sw * out[1]:] = 0
        else:
            grad[...] = 0
        for index, (_, _, slices) in enumerate(offsets):
            xp.equal(winner, index, out=wins)
            if tiled:
                xp.multiply(g, wins, out=grad[(..., *slices)])
            else:
                grad[(..., *slices)] += g * wins
        return geometry.unpad(grad), None


def _empty_like_layout(shape: tuple[int, ...], strides: tuple[int, ...], dtype: Any) -> Any:
    """An uninitialised array of ``shape`` whose memory order follows ``strides`` (largest stride outermost)."""
    order = sorted(range(len(shape)), key=lambda axis: -strides[axis])
    return xp.empty([shape[axis] for axis in order], dtype=dtype).transpose(xp.argsort(order))


class AvgPool2d(Function):
    """out = (Σ of each window) / divisor (the window size, or only its non-padding pixels);
    ∂x = g / divisor added to every pixel of the window.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, geometry: Geometry, divisor: Any) -> Any:
        padded = geometry.pad(x)
        offsets = geometry.offsets()
        out = padded[(..., *offsets[0][2])].copy(order="K")
        for _, _, slices in offsets[1:]:
            out += padded[(..., *slices)]
        out /= divisor
        ctx.geometry, ctx.x_shape, ctx.divisor = geometry, x.shape, divisor
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        geometry = ctx.geometry
        n, c = ctx.x_shape[:2]
        share = g / ctx.divisor
        grad = xp.zeros((n, c, geometry.height, geometry.width), dtype=g.dtype)
        for _, _, slices in geometry.offsets():
            grad[(..., *slices)] += share
        return geometry.unpad(grad), None, None


def _check_pool_padding(geometry: Geometry) -> None:
    top, _, left, _ = geometry.padding
    if top > geometry.kernel[0] // 2 or left > geometry.kernel[1] // 2:
        raise ValueError(f"{geometry.layer}: padding {(top, left)} must be at most half the kernel "
                         f"{geometry.kernel}")


def _pool_input(layer: str, input: Tensor) -> tuple[Tensor, bool]:
    x, unbatched = _batched(layer, input)
    if x.shape[1] == 0:
        raise ValueError(f"{layer}: input {input.shape} has no channels")
    return x, unbatched


def _max_pool2d(layer: str, input: Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
                dilation: IntPair, ceil_mode: bool) -> Tensor:
    if ceil_mode:
        raise ValueError(f"{layer}: ceil_mode=True is not supported")
    x, unbatched = _pool_input(layer, input)
    geometry = Geometry(layer, x.shape, kernel_size, stride, padding, dilation)
    _check_pool_padding(geometry)
    out = MaxPool2d.apply(x, geometry)
    return out.squeeze(0) if unbatched else out


def max_pool2d(input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
               dilation: IntPair = 1, ceil_mode: bool = False) -> Tensor:
    """The largest value of each kernel_size window, moved by ``stride`` (default: the kernel size)."""
    return _max_pool2d("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)


def _avg_pool2d(layer: str, input: Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
                ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    if ceil_mode:
        raise ValueError(f"{layer}: ceil_mode=True is not supported")
    x, unbatched = _pool_input(layer, input)
    geometry = Geometry(layer, x.shape, kernel_size, stride, padding)
    _check_pool_padding(geometry)
    if divisor_override is not None:
        if divisor_override <= 0:
            raise ValueError(f"{layer}: divisor_override must be positive, not {divisor_override}")
        divisor: Any = divisor_override
    elif count_include_pad or not geometry.padded:
        divisor = geometry.kernel[0] * geometry.kernel[1]
    else:  # how many real (non-padding) pixels each window covers
        inside = geometry.pad(xp.ones((1, 1) + x.shape[2:], dtype=x.dtype))
        divisor = sum(inside[(..., *slices)] for _, _, slices in geometry.offsets())[0, 0]
    out = AvgPool2d.apply(x, geometry, divisor)
    return out.squeeze(0) if unbatched else out


def avg_pool2d(input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each kernel_size window, moved by ``stride`` (default: the kernel size)."""
    return _avg_pool2d("avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


def adaptive_pooling_matrix(size: int, out_size: int, dtype: Any) -> Any:
    """(out_size, size) matrix whose row i averages input positions ⌊i·size/out⌋ … ⌈(i+1)·size/out⌉ − 1,
    PyTorch's bins for adaptive average pooling."""
    matrix = xp.zeros((out_size, size), dtype=dtype)
    for i in range(out_size):  # one row per output position, not per pixel
        start, end = (i * size) // out_size, -(-((i + 1) * size) // out_size)
        matrix[i, start:end] = 1 / (end - start)
    return matrix


class AdaptiveAvgPool2d(Function):
    """out = Pₕ @ x @ P_wᵀ, with P the averaging matrices of the output bins;  ∂x = Pₕᵀ @ g @ P_w."""

    @staticmethod
    def forward(ctx: Context, x: Any, out_size: tuple[int, int]) -> Any:
        ctx.rows = adaptive_pooling_matrix(x.shape[2], out_size[0], x.dtype)
        ctx.columns = adaptive_pooling_matrix(x.shape[3], out_size[1], x.dtype)
        return xp.matmul(xp.matmul(ctx.rows, x), ctx.columns.T)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return xp.matmul(xp.matmul(ctx.rows.T, g), ctx.columns), None


def _adaptive_avg_pool2d(layer: str, input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    x, unbatched = _pool_input(layer, input)
    sizes = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(sizes) != 2:
        raise ValueError(f"{layer}: output_size must be an int or a pair, not {output_size!r}")
    out_size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(sizes))
    if min(out_size) < 1:
        raise ValueError(f"{layer}: output_size must be positive, not {output_size!r}")
    if min(x.shape[2:]) < 1:
        raise ValueError(f"{layer}: input {input.shape} has an empty image")
    out = AdaptiveAvgPool2d.apply(x, out_size)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a fixed output size, whatever the input size (bins as in PyTorch)."""
    return _adaptive_avg_pool2d("adaptive_avg_pool2d", input, output_size)


# ---------------------------------------------------------------- dropout


class Dropout(Function):
    """out = x·m / (1 − p), with m a random 0/1 mask that keeps each value with probability 1 − p;
    ∂x = g·m / (1 − p). The scaling keeps the expected value, so nothing changes at evaluation, where
    dropout is off."""

    @staticmethod
    def forward(ctx: Context, x: Any, p: float, generator: Generator) -> Any:
        if p == 1:
            scale = xp.zeros(x.shape, dtype=x.dtype)
        else:
            keep = generator.uniform(0.0, 1.0, x.shape, x.dtype) >= p
            scale = keep * xp.asarray(1 / (1 - p), dtype=x.dtype)
        ctx.scale = scale
        return x * scale

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        return g * ctx.scale, None, None


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator: Generator | None = None) -> Tensor:
    """Zero each value with probability ``p`` while training (seeded through ``generator``), scaling the rest."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be between 0 and 1, not {p}")
    if not training or p == 0:
        return input
    return Dropout.apply(input, p, get_generator(generator))


# ---------------------------------------------------------------- batch normalisation


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


def fan_in_bound(fan_in: int) -> float:
    """PyTorch's default init bound: kaiming_uniform(a=√5) gives ±√(6 / ((1 + 5)·fan_in)) = ±1/√fan_in."""
    return 1 / math.sqrt(fan_in) if fan_in else 0.0
