"""Layers for images: Conv2d, pooling, BatchNorm (``torch.nn``'s names), and the built-in ``cnn`` model.

The math lives in :mod:`sevensteps.conv`, :mod:`~sevensteps.pooling` and :mod:`~sevensteps.normalization`; these
Modules own the weights (PyTorch's initialisation), the train/eval switch, and a repr that names them in error
messages as PyTorch prints them.
"""

from __future__ import annotations

from typing import Any

from . import conv
from .backend import xp
from .nn import Dropout, Flatten, Linear, Module, Parameter, ReLU, Sequential
from .random import Generator, get_generator
from .tensor import Tensor

IntPair = conv.IntPair


def _show(value: Any) -> str:
    return str(tuple(value)) if isinstance(value, (tuple, list)) else str(value)


class Conv2d(Module):
    """2-D convolution of (N, in_channels, H, W) images with ``out_channels`` kernels of ``kernel_size``.

    Weights (out, in, kh, kw) and bias start as PyTorch's do: kaiming_uniform(a=√5), which is uniform in
    ±1/√fan_in with fan_in = in·kh·kw, the same rule as ``Linear``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, stride: IntPair = 1,
                 padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1, bias: bool = True,
                 generator: Generator | None = None, dtype: Any = None):
        super().__init__()
        name = f"Conv2d({in_channels}, {out_channels})"
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{name}: in_channels and out_channels must be positive")
        if groups != 1:
            raise ValueError(f"{name}: groups={groups} is not supported (only groups=1)")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = conv._pair(kernel_size, "kernel_size", name)
        self.stride = conv._pair(stride, "stride", name)
        self.padding = padding if isinstance(padding, str) else conv._pair(padding, "padding", name)
        self.dilation = conv._pair(dilation, "dilation", name)
        self.groups = groups
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"{name}: kernel_size and stride must be positive, got {self.kernel_size} and "
                             f"{self.stride}")
        rng = get_generator(generator)
        dtype = dtype or "float32"
        bound = conv.fan_in_bound(in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight = Parameter(rng.uniform(-bound, bound, (out_channels, in_channels, *self.kernel_size), dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, (out_channels,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return conv._conv2d(repr(self), x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                            self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"  # PyTorch prints padding=same unquoted
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        return text


class MaxPool2d(Module):
    """The largest value of each ``kernel_size`` window; windows move by ``stride`` (default: kernel_size)."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                 dilation: IntPair = 1, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        if ceil_mode:
            raise ValueError(f"{self!r}: ceil_mode=True is not supported")

    def forward(self, x: Tensor) -> Tensor:
        return conv._max_pool2d(repr(self), x, self.kernel_size, self.stride, self.padding, self.dilation,
                                self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)}, padding={_show(self.padding)}, "
                f"dilation={_show(self.dilation)}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """The mean of each ``kernel_size`` window; padding counts as zeros unless ``count_include_pad=False``."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        if ceil_mode:
            raise ValueError(f"{self!r}: ceil_mode=True is not supported")

    def forward(self, x: Tensor) -> Tensor:
        return conv._avg_pool2d(repr(self), x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)}, padding={_show(self.padding)}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to ``output_size`` whatever the input's size (``1`` gives global average pooling)."""

    def __init__(self, output_size: int | tuple[int | None, int | None]):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return conv._adaptive_avg_pool2d(repr(self), x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={_show(self.output_size)}"


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: learnable γ (weight, ones) and β (bias, zeros; ``bias=False`` drops it, as in
    PyTorch 2.13) per channel, and running
    statistics (plain tensors, not parameters) used in ``eval()``.

    ``momentum`` weighs each new batch in the running averages (None: a plain cumulative average), exactly as
    PyTorch; ``running_var`` averages the unbiased batch variance.
    """

    expected_ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be positive, not {num_features}")
        dtype = dtype or "float32"
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(xp.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(xp.zeros(num_features, dtype=dtype)) if affine and bias else None
        # buffers: saved in state_dict (a trained model keeps its statistics), never trained
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dtype)))
            self.num_batches_tracked = 0
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked = 0

    def forward(self, x: Tensor) -> Tensor:
        name = repr(self)
        if x.ndim not in self.expected_ranks:
            shapes = " or ".join({2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)"}[r] for r in self.expected_ranks)
            raise ValueError(f"{name}: expected input of shape {shapes}, got {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels (dim 1), got input {x.shape}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:
                momentum = 1.0 / self.num_batches_tracked
        # without running statistics, evaluation normalises with the batch's own, as PyTorch does
        use_batch = self.training or self.running_mean is None
        tracked = not self.training or self.track_running_stats
        return conv._batch_norm(name, x, self.running_mean if tracked else None,
                                self.running_var if tracked else None, self.weight, self.bias, use_batch,
                                momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, per channel C."""

    expected_ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C."""

    expected_ranks = (4,)


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: (N, 784) → (N, 1, 28, 28) with (1, (1, 28, 28))."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim
        size = 1
        for n in self.unflattened_size:
            size *= n
        if x.shape[dim] != size:
            raise ValueError(f"{self!r}: dim {self.dim} of input {x.shape} has {x.shape[dim]} values, "
                             f"expected {size} = {'×'.join(map(str, self.unflattened_size))}")
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class AsImages(Module):
    """Any batch of digits as (N, channels, height, width): accepts (N, 784), (N, 28, 28) or (N, 1, 28, 28)."""

    def __init__(self, channels: int = 1, height: int = 28, width: int = 28):
        super().__init__()
        self.channels, self.height, self.width = channels, height, width
        self.image_shape = (channels, height, width)

    def forward(self, x: Tensor) -> Tensor:
        c, h, w = self.image_shape
        accepted = {(c * h * w,), (h, w), (c, h, w)} if c == 1 else {(c * h * w,), (c, h, w)}
        if x.ndim < 2 or tuple(x.shape[1:]) not in accepted:
            shapes = ", ".join(f"(N, {', '.join(map(str, s))})" for s in sorted(accepted, key=len))
            raise ValueError(f"{self!r}: expected a batch of images of shape {shapes}, got {x.shape}")
        return x.reshape((x.shape[0],) + self.image_shape)

    def extra_repr(self) -> str:
        return "channels={}, height={}, width={}".format(*self.image_shape)


class RandomShift(Module):
    """While training, move each image by up to ``max_shift`` pixels in each direction (zeros fill the gap),
    a different seeded shift per image; in ``eval()`` pass images through. The same augmentation as
    torchvision's ``RandomCrop(size, padding=max_shift)``: a digit moved by a pixel or two is the same digit.
    It changes the data, so it belongs first in a model and passes no gradient back to its input.
    """

    def __init__(self, max_shift: int = 2, generator: Generator | None = None):
        super().__init__()
        if max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be >= 0, not {max_shift}")
        self.max_shift, self.generator = max_shift, generator

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.max_shift == 0:
            return x
        if x.ndim != 4:
            raise ValueError(f"{self!r}: expected images of shape (N, C, H, W), got {x.shape}")
        return Tensor(random_shift(x.data, self.max_shift, get_generator(self.generator)))

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}"


def random_shift(images: Any, max_shift: int, generator: Generator) -> Any:
    """(N, C, H, W) images, each moved by its own random (dy, dx) in [−max_shift, max_shift]², in one gather."""
    n, _, h, w = images.shape
    m = max_shift
    offsets = generator.uniform(0, 2 * m + 1, (2, n), "float64").astype(xp.int64)  # uniform over 0 … 2m
    padded = xp.pad(images, ((0, 0), (0, 0), (m, m), (m, m)))
    rows = (xp.arange(h)[None, :] + offsets[0][:, None])[:, None, :, None]  # (N, 1, H, 1)
    columns = (xp.arange(w)[None, :] + offsets[1][:, None])[:, None, None, :]  # (N, 1, 1, W)
    return padded[xp.arange(n)[:, None, None, None], xp.arange(images.shape[1])[None, :, None, None], rows, columns]


# ---------------------------------------------------------------- the built-in cnn model

def cnn(n_outputs: int, generator: Generator | None = None, max_shift: int = 2) -> Module:
    """Random shifts of up to ``max_shift`` pixels while training, two 3×3 convolution blocks with 2×2 max
    pooling, then a 128-unit classifier with dropout:

    (N, 1, 28, 28) → conv 32 → 26×26 → pool → 13×13 → conv 64 → 11×11 → pool → 5×5 → 1,600 → 128 → n_outputs.

    Each block pools before its ReLU: max and ReLU commute (max(relu(a)) = relu(max(a))), so the result is
    the familiar conv-ReLU-pool, with the ReLU run on a quarter of the values.
    Weights are drawn from ``generator`` in layer order; the shifts and dropout masks too, while training.
    """
    if n_outputs < 1:
        raise ValueError(f"cnn: n_outputs must be at least 1, not {n_outputs}")
    return Sequential(
        AsImages(1, 28, 28), RandomShift(max_shift, generator=generator),
        Conv2d(1, 32, 3, generator=generator), MaxPool2d(2), ReLU(),
        Conv2d(32, 64, 3, generator=generator), MaxPool2d(2), ReLU(),
        Flatten(),
        Linear(64 * 5 * 5, 128, generator=generator), ReLU(), Dropout(0.5, generator=generator),
        Linear(128, n_outputs, generator=generator),
    )
