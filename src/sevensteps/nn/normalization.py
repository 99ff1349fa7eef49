"""LayerNorm (``torch.nn.modules.normalization``)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..backend import as_dtype, xp
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


class LayerNorm(Module):
    """(x − mean) / √(var + eps) over the last dims, then · weight + bias (ones and zeros at first)."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        dtype = as_dtype(dtype or "float32")
        if elementwise_affine:
            self.weight = Parameter(xp.ones(shape, dtype=dtype))
            if bias:
                self.bias = Parameter(xp.zeros(shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
