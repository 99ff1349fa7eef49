"""Convolution (``torch.nn.functional.conv2d``), and the home of the ops that come with it.

Images are NCHW arrays: (batch, channels, height, width). The op is a :class:`Function` with its forward and
its gradient side by side, vectorized over images and pixels; the only Python loop runs over the few offsets
of a kernel (9 for a 3×3 one). Pooling, dropout and batch normalisation live in their own modules
(:mod:`~sevensteps.pooling`, :mod:`~sevensteps.dropout`, :mod:`~sevensteps.normalization`) and are importable
from here too, as they always were.

How a convolution becomes one matrix product ("im2col"): every output pixel is the dot product of the kernel
with one window of the input. Laying the windows out as the columns of a matrix ``cols`` of shape
(C·kh·kw, N·OH·OW) turns the whole layer into ``W₂ @ cols`` with ``W₂`` the weight reshaped to (O, C·kh·kw).
The windows are read through a strided view of the input (no copying until the single gather into ``cols``).
The gradient runs the same way back: ``∂W₂ = g₂ @ colsᵀ`` and ``∂cols = W₂ᵀ @ g₂``; "col2im" then adds each
kernel offset's slice of ``∂cols`` back onto the input positions it was read from, one vectorized slice-add per
offset (never ``np.add.at``, which is many times slower).

Memory order: a batch of feature maps comes out of the product as (O, OH, OW, N), the image index fastest,
and stays in that order (the array is a transposed view with shape (N, O, OH, OW)). Pooling, ReLU and the
next convolution's window gather then run over contiguous rows of N·OW numbers instead of a few pixels at a
time, and the gradient arrives in the order the products want it. Any input order works; this one is fastest.
"""

from __future__ import annotations

import math
from typing import Any

from .autograd import Context, Function
from .backend import xp
from .tensor import Tensor
from .threads import matmul, parallel_for
from .windows import Geometry, IntPair, _batched, _pair  # noqa: F401  (_pair: used by layers.py)


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
        windows = geometry.windows(geometry.pad(x)).transpose(1, 4, 5, 2, 3, 0)
        image_cols = cols[:k].reshape(c, kh, kw, oh, ow, n)
        parallel_for(c, lambda channels: xp.copyto(image_cols[channels], windows[channels]), cols.size)
        w2 = weight.reshape(o, k)
        if bias is not None:
            cols[k] = 1
            w2 = xp.concatenate([w2, bias[:, None]], axis=1)
        out = matmul(w2, cols)
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
            grad_wb = matmul(cols, g2.T)
            grad_w = grad_wb[:k].T.reshape(weight.shape) if needs_w else None
            grad_b = grad_wb[k] if needs_b else None
        if needs_x:
            n = ctx.x_shape[0]
            oh, ow = geometry.out
            grad_cols = matmul(weight.reshape(o, k).T, g2).reshape(c, kh, kw, oh, ow, n)
            grad_padded = xp.empty((c, geometry.height, geometry.width, n), dtype=g.dtype)
            offsets = geometry.offsets()

            def col2im(channels: slice) -> None:
                """In (C, H, W, N) order each offset's slice is rows of OW·N contiguous numbers; channels are
                independent, so parts of them run on separate threads."""
                target = grad_padded[channels]
                target[...] = 0
                for p, q, (rows, columns) in offsets:
                    target[:, rows, columns] += grad_cols[channels, p, q]

            parallel_for(c, col2im, grad_cols.size)
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


def fan_in_bound(fan_in: int) -> float:
    """PyTorch's default init bound: kaiming_uniform(a=√5) gives ±√(6 / ((1 + 5)·fan_in)) = ±1/√fan_in."""
    return 1 / math.sqrt(fan_in) if fan_in else 0.0


# The ops that come with convolutions, importable from here as before the split.
from .dropout import Dropout, dropout  # noqa: E402, F401
from .normalization import BatchNorm, _batch_norm, batch_norm  # noqa: E402, F401
from .pooling import (  # noqa: E402, F401
    AdaptiveAvgPool2d,
    AvgPool2d,
    MaxPool2d,
    _adaptive_avg_pool2d,
    _avg_pool2d,
    _max_pool2d,
    adaptive_avg_pool2d,
    adaptive_pooling_matrix,
    avg_pool2d,
    max_pool2d,
)
