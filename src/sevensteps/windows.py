"""Where a sliding window goes over a batch of images: the geometry that convolution and pooling share.

Images are NCHW arrays: (batch, channels, height, width). :class:`Geometry` checks a kernel, stride, padding
and dilation against an input once, with one-line errors that name the layer and the shapes, and gives each op
the strided slices and views it works with (no Python loop over images or pixels, only over kernel offsets).
"""

from __future__ import annotations

from typing import Any

from .backend import empty_in_layout, xp
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
        top, left = self.padding[0], self.padding[2]
        n, c, h, w = x.shape
        padded = empty_in_layout((n, c, self.height, self.width), x.strides, x.dtype)  # x's memory order
        padded[...] = value
        padded[:, :, top : top + h, left : left + w] = x
        return padded

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
