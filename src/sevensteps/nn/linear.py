"""Identity and Linear (``torch.nn.modules.linear``)."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from ..backend import xp
from ..random import Generator, get_generator
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """y = x @ Wᵀ + b, with W of shape (out_features, in_features).

    PyTorch's default init: W and b uniform in ±1/√in_features, so that outputs start with a scale
    that does not grow with the layer's width.

    W has PyTorch's shape (out, in) but is stored column-major: then x @ Wᵀ and the gradient (xᵀ @ g)ᵀ
    run in the layouts BLAS handles fastest (measured in BENCHMARKS.md, issue 17), and the optimizer
    updates W and its gradient in one matching order.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 generator: Generator | None = None, dtype: Any = None, device: Any = None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        rng = get_generator(generator)
        dtype = dtype or "float32"
        self.weight = Parameter(xp.asfortranarray(rng.uniform(-bound, bound, (out_features, in_features), dtype)))
        if bias:
            self.bias = Parameter(rng.uniform(-bound, bound, (out_features,), dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
