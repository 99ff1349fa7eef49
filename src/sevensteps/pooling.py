"""Pooling, as ``torch.nn.functional``: the largest or the mean value of each window, and adaptive averaging.

Each op is a :class:`Function` with its forward and gradient side by side; windows are strided slices of the
(padded) input, one per kernel offset, so the only Python loop runs over the offsets (4 for a 2×2 window).
Results keep the input's memory order, so pooling a convolution's output costs no transposing copy.
"""

from __future__ import annotations

from typing import Any

from .autograd import Context, Function, is_grad_enabled
from .backend import empty_in_layout, xp
from .tensor import Tensor
from .threads import parallel_for
from .windows import Geometry, IntPair, _batched


class MaxPool2d(Function):
    """out = the largest value in each window (padding counts as −∞);
    ∂x = g sent to the position that won (the first one, on a tie, as in PyTorch), summed where windows overlap.

    The forward remembers, per output, which kernel offset won (one byte each), not the input: the gradient
    then needs one pass per offset, and nothing has to be compared again.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, geometry: Geometry) -> Any:
        padded = geometry.pad(x, -xp.inf)
        offsets = geometry.offsets()
        # the result keeps the input's memory order, so pooling a convolution's output copies nothing around
        out = empty_in_layout((x.shape[0], x.shape[1], *geometry.out), padded.strides, padded.dtype)
        record = is_grad_enabled() and ctx.needs_input_grad[0]  # evaluation needs the maximum alone
        winner = xp.empty_like(out, dtype=xp.uint8 if len(offsets) < 256 else xp.int32) if record else None

        def pool(channels: slice) -> None:
            """A running maximum over the kernel offsets, each offset a strided slice that covers every window
            at once: 3 vectorized passes for a 2×2 window, many times faster than a reduction over a short
            last axis. Channels are independent, so parts of them run on separate threads."""
            source, best = padded[:, channels], out[:, channels]
            xp.copyto(best, source[(..., *offsets[0][2])])
            if winner is None:
                for _, _, slices in offsets[1:]:
                    xp.maximum(best, source[(..., *slices)], out=best)
                return
            won = winner[:, channels]
            won[...] = 0
            later, claim = xp.empty_like(best, dtype=bool), xp.empty_like(won)
            for index, (_, _, slices) in enumerate(offsets[1:], start=1):
                candidate = source[(..., *slices)]
                xp.greater(candidate, best, out=later)  # strictly: on a tie the earlier offset keeps the win
                # a later offset that beats the running maximum has the largest index so far, so the winner
                # is max(winner, later·index): plain arithmetic, much faster than a masked copy
                xp.multiply(later, won.dtype.type(index), out=claim)
                xp.maximum(won, claim, out=won)
                xp.maximum(best, candidate, out=best)

        parallel_for(x.shape[1], pool, padded.size)
        if winner is not None:
            ctx.save_for_backward(winner)
            ctx.geometry = geometry
            ctx.padded_shape, ctx.padded_strides = padded.shape, padded.strides
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        (winner,) = ctx.saved_tensors
        geometry = ctx.geometry
        offsets = geometry.offsets()
        grad = empty_in_layout(ctx.padded_shape, ctx.padded_strides, g.dtype)
        (sh, sw), span, out = geometry.stride, geometry.span, geometry.out
        # windows that neither overlap nor leave a gap (no dilation either: a dilated window skips pixels inside
        # its span) write each input pixel exactly once: g·wins goes straight in, and only the pixels no window
        # reads (a last odd row or column) need zeros
        tiled = (sh, sw) == span and geometry.dilation == (1, 1) and not geometry.padded

        def route(channels: slice) -> None:
            """Each offset's share of g, for a part of the channels (parts run on separate threads)."""
            target, won, g_part = grad[:, channels], winner[:, channels], g[:, channels]
            if tiled:
                target[:, :, sh * out[0]:] = 0
                target[:, :, :, sw * out[1]:] = 0
            else:
                target[...] = 0
            wins = xp.empty_like(won, dtype=bool)
            for index, (_, _, slices) in enumerate(offsets):
                xp.equal(won, index, out=wins)
                if tiled:
                    xp.multiply(g_part, wins, out=target[(..., *slices)])
                else:
                    target[(..., *slices)] += g_part * wins

        parallel_for(grad.shape[1], route, grad.size)
        return geometry.unpad(grad), None


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
